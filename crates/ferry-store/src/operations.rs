//! Operation logs: every authorization, token refresh and provider call with its HTTP
//! exchanges, queryable by connection, integration, type, status and time, and kept for a set
//! number of days.

use sqlx::Row as _;

use ferry_engine::storage::{OperationFilter, OperationRecord};

use crate::{Store, StoreResult, Tx, bind_all};

const COLUMNS: &str = "id, environment_id, kind, status, integration_key, connection_id, message, exchanges, started_at, ended_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<OperationRecord> {
    Ok(OperationRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        integration_key: row.try_get("integration_key")?,
        connection_id: row.try_get("connection_id")?,
        message: row.try_get("message")?,
        exchanges: row.try_get("exchanges")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl Store {
    pub async fn operation(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM operations WHERE environment_id = ? AND id = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first.
    pub async fn list_operations(
        &self,
        environment_id: &str,
        f: &OperationFilter,
    ) -> StoreResult<Vec<OperationRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM operations WHERE environment_id = ?");
        let mut binds = vec![environment_id.to_string()];
        for (column, value) in [
            ("connection_id", &f.connection_id),
            ("integration_key", &f.integration_key),
            ("kind", &f.kind),
            ("status", &f.status),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                binds.push(v.clone());
            }
        }
        if let Some(after) = &f.after {
            sql.push_str(" AND started_at >= ?");
            binds.push(after.clone());
        }
        if let Some(before) = &f.before {
            sql.push_str(" AND started_at < ?");
            binds.push(before.clone());
        }
        if let Some((started_at, id)) = &f.after_row {
            sql.push_str(" AND (started_at < ? OR (started_at = ? AND id < ?))");
            binds.extend([started_at.clone(), started_at.clone(), id.clone()]);
        }
        sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
        let rows = bind_all(sqlx::query(self.sql(&sql)), &binds)
            .bind(f.limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }
}

impl Tx {
    /// Inserts `ops`, up to 100 rows per statement (1,000 bind parameters: under SQLite's and
    /// PostgreSQL's limits).
    pub async fn insert_operations(&mut self, ops: &[OperationRecord]) -> StoreResult<()> {
        const ROWS_PER_STATEMENT: usize = 100;
        for chunk in ops.chunks(ROWS_PER_STATEMENT) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = self.sql(&format!("INSERT INTO operations ({COLUMNS}) VALUES {rows}"));
            let mut query = sqlx::query(sql);
            for op in chunk {
                query = query
                    .bind(&op.id)
                    .bind(&op.environment_id)
                    .bind(&op.kind)
                    .bind(&op.status)
                    .bind(&op.integration_key)
                    .bind(&op.connection_id)
                    .bind(&op.message)
                    .bind(&op.exchanges)
                    .bind(&op.started_at)
                    .bind(&op.ended_at);
            }
            query.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Records an operation, or replaces it when it was recorded before (same id).
    pub async fn save_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        let sql = self.sql("DELETE FROM operations WHERE id = ?");
        sqlx::query(sql).bind(&op.id).execute(self.conn()).await?;
        self.insert_operations(std::slice::from_ref(op)).await
    }

    /// Deletes operations that started before `cutoff`; returns how many.
    pub async fn prune_operations(&mut self, cutoff: &str) -> StoreResult<u64> {
        let sql = self.sql("DELETE FROM operations WHERE started_at < ?");
        let done = sqlx::query(sql).bind(cutoff).execute(self.conn()).await?;
        Ok(done.rows_affected())
    }
}
