//! Operation logs: every authorization, token refresh and provider call with its HTTP
//! exchanges, queryable by connection, integration, type, status and time, and kept for a set
//! number of days.

use sqlx::Row as _;

use ferry_engine::storage::{OperationFilter, OperationRecord};

use std::borrow::Cow;

use crate::{Backend, Store, StoreError, StoreResult, Tx, bind_all};

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

/// One operation row as the insert's JSON carries it.
#[derive(serde::Serialize)]
struct Row<'a> {
    id: Cow<'a, str>,
    environment_id: Cow<'a, str>,
    kind: Cow<'a, str>,
    status: Cow<'a, str>,
    integration_key: Option<Cow<'a, str>>,
    connection_id: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    exchanges: Cow<'a, str>,
    started_at: Cow<'a, str>,
    ended_at: Option<Cow<'a, str>>,
}

/// Text without NUL characters, which PostgreSQL text cannot hold (each becomes U+FFFD).
fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

impl<'a> From<&'a OperationRecord> for Row<'a> {
    fn from(op: &'a OperationRecord) -> Self {
        let optional = |text: &'a Option<String>| text.as_deref().map(storable);
        Row {
            id: storable(&op.id),
            environment_id: storable(&op.environment_id),
            kind: storable(&op.kind),
            status: storable(&op.status),
            integration_key: optional(&op.integration_key),
            connection_id: optional(&op.connection_id),
            message: optional(&op.message),
            exchanges: storable(&op.exchanges),
            started_at: storable(&op.started_at),
            ended_at: optional(&op.ended_at),
        }
    }
}

/// PostgreSQL takes a chunk of rows as one JSON array bound to one parameter and unpacked
/// by `json_to_recordset`: one round trip per chunk whatever its size. (The writer shares the
/// runtime with busy request tasks and each await waits its turn: a statement per hundred
/// rows left it far behind under load.)
const POSTGRES_ROWS_PER_STATEMENT: usize = 5_000;
/// SQLite binds rows as `VALUES` (cheaper there than unpacking JSON), in statements of these
/// sizes, largest first, so a few statement shapes stay prepared (10,000 parameters at most,
/// under SQLite's 32,766).
const SQLITE_STATEMENT_SIZES: [usize; 4] = [1000, 100, 10, 1];

impl Tx {
    /// Inserts `ops` in as few statements as the backend allows.
    pub async fn insert_operations(&mut self, ops: &[OperationRecord]) -> StoreResult<()> {
        match self.backend {
            Backend::Postgres => {
                for chunk in ops.chunks(POSTGRES_ROWS_PER_STATEMENT) {
                    let rows: Vec<Row<'_>> = chunk.iter().map(Row::from).collect();
                    let json = serde_json::to_string(&rows)
                        .map_err(|e| StoreError::Malformed(format!("an operation as JSON: {e}")))?;
                    sqlx::query(
                        "INSERT INTO operations (id, environment_id, kind, status, integration_key, connection_id, message, exchanges, started_at, ended_at) \
                         SELECT id, environment_id, kind, status, integration_key, connection_id, message, exchanges, started_at, ended_at \
                         FROM json_to_recordset($1::json) AS r(id TEXT, environment_id TEXT, kind TEXT, status TEXT, integration_key TEXT, connection_id TEXT, message TEXT, exchanges TEXT, started_at TEXT, ended_at TEXT)",
                    )
                    .bind(json)
                    .execute(self.conn())
                    .await?;
                }
            }
            Backend::Sqlite => {
                let mut rest = ops;
                for size in SQLITE_STATEMENT_SIZES {
                    while rest.len() >= size {
                        let (chunk, after) = rest.split_at(size);
                        self.insert_values(chunk).await?;
                        rest = after;
                    }
                }
            }
        }
        Ok(())
    }

    async fn insert_values(&mut self, chunk: &[OperationRecord]) -> StoreResult<()> {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = self.sql(&format!("INSERT INTO operations ({COLUMNS}) VALUES {rows}"));
        let rows: Vec<Row<'_>> = chunk.iter().map(Row::from).collect();
        let mut query = sqlx::query(sql);
        for row in &rows {
            query = query
                .bind(&*row.id)
                .bind(&*row.environment_id)
                .bind(&*row.kind)
                .bind(&*row.status)
                .bind(row.integration_key.as_deref())
                .bind(row.connection_id.as_deref())
                .bind(row.message.as_deref())
                .bind(&*row.exchanges)
                .bind(&*row.started_at)
                .bind(row.ended_at.as_deref());
        }
        query.execute(self.conn()).await?;
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
