//! Operation logs: every authorization, token refresh and proxy call with its HTTP exchanges,
//! queryable by connection, integration, type, status and time, and kept for a set number
//! of days.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row as _;

use crate::{Store, StoreResult};

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub environment_id: String,
    /// `auth`, `token_refresh` or `proxy`.
    pub kind: String,
    /// `running`, `success` or `failed`.
    pub status: String,
    pub integration_key: Option<String>,
    pub connection_id: Option<String>,
    pub message: Option<String>,
    /// The HTTP exchanges as JSON array text: written as recorded and parsed only when read.
    pub exchanges: String,
    pub started_at: String,
    pub ended_at: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct OperationFilter {
    pub connection_id: Option<String>,
    pub integration_key: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub cursor: Option<String>,
    pub limit: i64,
}

const COLUMNS: &str = "id, environment_id, kind, status, integration_key, connection_id, message, exchanges, started_at, ended_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<Operation> {
    Ok(Operation {
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

/// An opaque page cursor: the (started_at, id) of the last row shown.
pub fn encode_cursor(op: &Operation) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", op.started_at, op.id))
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (a, b) = text.split_once('|')?;
    Some((a.to_string(), b.to_string()))
}

impl Store {
    /// Inserts `ops`, up to 100 rows per statement (1,000 bind parameters: under SQLite's and
    /// PostgreSQL's limits).
    async fn insert_rows(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        ops: &[Operation],
    ) -> StoreResult<()> {
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
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Records an operation, or replaces it when it was recorded before (same id).
    pub async fn save_operation(&self, op: &Operation) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql("DELETE FROM operations WHERE id = ?"))
            .bind(&op.id)
            .execute(&mut *tx)
            .await?;
        self.insert_rows(&mut tx, std::slice::from_ref(op)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts a batch of new operations in one transaction.
    pub async fn insert_operations(&self, ops: &[Operation]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        self.insert_rows(&mut tx, ops).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn operation(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<Operation>> {
        let row = sqlx::query(self.sql(&format!(
            "SELECT {COLUMNS} FROM operations WHERE environment_id = ? AND id = ?"
        )))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first. `Err` of a bad cursor comes back as `Ok(None)`.
    pub async fn list_operations(
        &self,
        environment_id: &str,
        f: &OperationFilter,
    ) -> StoreResult<Option<Vec<Operation>>> {
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
        if let Some(cursor) = &f.cursor {
            let Some((started, id)) = decode_cursor(cursor) else {
                return Ok(None);
            };
            sql.push_str(" AND (started_at < ? OR (started_at = ? AND id < ?))");
            binds.extend([started.clone(), started, id]);
        }
        sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
        let sql = self.sql(&sql);
        let mut query = sqlx::query(sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(f.limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(from_row)
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    /// Deletes operations that started before `cutoff`; returns how many.
    pub async fn prune_operations(&self, cutoff: &str) -> StoreResult<u64> {
        let done = sqlx::query(self.sql("DELETE FROM operations WHERE started_at < ?"))
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
