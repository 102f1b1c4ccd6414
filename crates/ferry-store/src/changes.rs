//! The change feed: which rows the engine caches (connections' credentials, integrations, API
//! keys, environments) changed, in any process sharing the database, as they commit.
//!
//! Database triggers report every such change, so no write path (nor `ferry
//! rotate-encryption-key`, nor a person with `psql`) can forget to. On PostgreSQL they
//! `NOTIFY` and each process `LISTEN`s; a lost listening connection is reported as "anything
//! may have changed". On SQLite, where writers take turns, they append to `cache_changes` and
//! each process reads on from the last row it saw; rows are pruned after a while, and a reader
//! that finds rows gone it never saw is told the same.

use std::time::Duration;

use async_trait::async_trait;
use ferry_engine::storage::{CachedRowChange, ChangeFeed, StorageError, StorageResult};
use serde_json::Value;
use sqlx::Row as _;

use crate::{Backend, Store, StoreError, StoreResult};

const CHANNEL: &str = "ferry_changes";
/// How often a SQLite process looks for other processes' changes.
const SQLITE_POLL: Duration = Duration::from_millis(200);
/// How long SQLite keeps a change row for readers that are behind.
const SQLITE_KEEP: Duration = Duration::from_secs(600);

/// The columns of a connection that its cached entry is made of.
const CONNECTION_COLUMNS: &str = "credentials_enc, connection_id, integration_id, environment_id";

const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS cache_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        integration_id TEXT,
        connection_id TEXT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_connection_insert AFTER INSERT ON connections
     BEGIN INSERT INTO cache_changes (kind, integration_id, connection_id)
           VALUES ('connection', NEW.integration_id, NEW.connection_id); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_connection_update
     AFTER UPDATE OF credentials_enc, connection_id, integration_id, environment_id ON connections
     BEGIN INSERT INTO cache_changes (kind, integration_id, connection_id)
           VALUES ('connection', OLD.integration_id, OLD.connection_id); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_connection_delete AFTER DELETE ON connections
     BEGIN INSERT INTO cache_changes (kind, integration_id, connection_id)
           VALUES ('connection', OLD.integration_id, OLD.connection_id); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_integration_update AFTER UPDATE ON integrations
     BEGIN INSERT INTO cache_changes (kind) VALUES ('integration'); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_integration_delete AFTER DELETE ON integrations
     BEGIN INSERT INTO cache_changes (kind) VALUES ('integration'); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_api_key_update AFTER UPDATE ON api_keys
     BEGIN INSERT INTO cache_changes (kind) VALUES ('api_key'); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_api_key_delete AFTER DELETE ON api_keys
     BEGIN INSERT INTO cache_changes (kind) VALUES ('api_key'); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_environment_update AFTER UPDATE ON environments
     BEGIN INSERT INTO cache_changes (kind) VALUES ('environment'); END",
    "CREATE TRIGGER IF NOT EXISTS cache_changes_environment_delete AFTER DELETE ON environments
     BEGIN INSERT INTO cache_changes (kind) VALUES ('environment'); END",
];

const POSTGRES_FUNCTION: &str =
    "CREATE OR REPLACE FUNCTION ferry_notify_change() RETURNS trigger AS $$
DECLARE
    changed RECORD;
BEGIN
    IF TG_OP = 'INSERT' THEN changed := NEW; ELSE changed := OLD; END IF;
    IF TG_TABLE_NAME = 'connections' THEN
        PERFORM pg_notify('ferry_changes', json_build_object(
            'kind', 'connection',
            'integration_id', changed.integration_id,
            'connection_id', changed.connection_id)::text);
    ELSIF TG_TABLE_NAME = 'integrations' THEN
        PERFORM pg_notify('ferry_changes', '{\"kind\":\"integration\"}');
    ELSIF TG_TABLE_NAME = 'api_keys' THEN
        PERFORM pg_notify('ferry_changes', '{\"kind\":\"api_key\"}');
    ELSE
        PERFORM pg_notify('ferry_changes', '{\"kind\":\"environment\"}');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql";

/// (trigger, table, events) for PostgreSQL.
fn postgres_triggers() -> [(&'static str, &'static str, String); 4] {
    [
        (
            "ferry_changes_connections",
            "connections",
            format!("INSERT OR DELETE OR UPDATE OF {CONNECTION_COLUMNS}"),
        ),
        (
            "ferry_changes_integrations",
            "integrations",
            "UPDATE OR DELETE".into(),
        ),
        (
            "ferry_changes_api_keys",
            "api_keys",
            "UPDATE OR DELETE".into(),
        ),
        (
            "ferry_changes_environments",
            "environments",
            "UPDATE OR DELETE".into(),
        ),
    ]
}

/// Installs the triggers (again: each statement is idempotent), after the migrations.
pub(crate) async fn install(store: &Store) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    match store.backend() {
        Backend::Sqlite => {
            for statement in SQLITE_TRIGGERS {
                sqlx::query(*statement).execute(tx.conn()).await?;
            }
        }
        Backend::Postgres => {
            sqlx::query(POSTGRES_FUNCTION).execute(tx.conn()).await?;
            for (name, table, events) in postgres_triggers() {
                for statement in [
                    format!("DROP TRIGGER IF EXISTS {name} ON {table}"),
                    format!(
                        "CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW EXECUTE FUNCTION ferry_notify_change()"
                    ),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(tx.conn())
                        .await?;
                }
            }
        }
    }
    tx.commit().await
}

fn change(
    kind: &str,
    integration_id: Option<String>,
    connection_id: Option<String>,
) -> CachedRowChange {
    match (kind, integration_id, connection_id) {
        ("connection", Some(integration_id), Some(connection_id)) => CachedRowChange::Connection {
            integration_id,
            connection_id,
        },
        ("integration", _, _) => CachedRowChange::Integration,
        ("api_key", _, _) => CachedRowChange::ApiKey,
        ("environment", _, _) => CachedRowChange::Environment,
        // A row this version does not know: forget everything rather than guess.
        _ => CachedRowChange::Everything,
    }
}

impl Store {
    /// A feed of changes committed from now on.
    pub async fn watch_changes(&self) -> StoreResult<Box<dyn ChangeFeed>> {
        match self.backend() {
            Backend::Sqlite => {
                let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM cache_changes")
                    .fetch_one(self.pool())
                    .await?;
                Ok(Box::new(SqliteFeed {
                    store: self.clone(),
                    last: last.unwrap_or(0),
                }))
            }
            Backend::Postgres => {
                let mut listener = sqlx::postgres::PgListener::connect(self.url()).await?;
                listener.listen(CHANNEL).await?;
                Ok(Box::new(PostgresFeed { listener }))
            }
        }
    }
}

impl crate::Tx {
    /// Deletes SQLite change rows older than [`SQLITE_KEEP`]; returns how many.
    pub async fn prune_changes(&mut self) -> StoreResult<u64> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        // SQLite's date modifier for "that long ago".
        let ago = format!("-{} seconds", SQLITE_KEEP.as_secs());
        let done = sqlx::query(
            "DELETE FROM cache_changes WHERE at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
        )
        .bind(ago)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }
}

struct SqliteFeed {
    store: Store,
    last: i64,
}

#[async_trait]
impl ChangeFeed for SqliteFeed {
    async fn next(&mut self) -> StorageResult<Vec<CachedRowChange>> {
        loop {
            let rows = sqlx::query(
                "SELECT seq, kind, integration_id, connection_id FROM cache_changes WHERE seq > ? ORDER BY seq LIMIT 1000",
            )
            .bind(self.last)
            .fetch_all(self.store.pool())
            .await
            .map_err(StoreError::from)?;
            if rows.is_empty() {
                tokio::time::sleep(SQLITE_POLL).await;
                continue;
            }
            let mut changes = Vec::with_capacity(rows.len());
            for row in rows {
                let seq: i64 = row.try_get("seq").map_err(StoreError::from)?;
                if seq != self.last + 1 {
                    // Rows between were pruned before this reader saw them.
                    changes.push(CachedRowChange::Everything);
                }
                self.last = seq;
                let kind: String = row.try_get("kind").map_err(StoreError::from)?;
                changes.push(change(
                    &kind,
                    row.try_get("integration_id").map_err(StoreError::from)?,
                    row.try_get("connection_id").map_err(StoreError::from)?,
                ));
            }
            return Ok(changes);
        }
    }
}

struct PostgresFeed {
    listener: sqlx::postgres::PgListener,
}

#[async_trait]
impl ChangeFeed for PostgresFeed {
    async fn next(&mut self) -> StorageResult<Vec<CachedRowChange>> {
        let first = self
            .listener
            .try_recv()
            .await
            .map_err(|e| StorageError::new(StoreError::from(e)))?;
        let Some(first) = first else {
            // The listening connection was lost (it reconnects on the next call): whatever
            // was notified meanwhile is gone.
            return Ok(vec![CachedRowChange::Everything]);
        };
        let mut changes = vec![parse(first.payload())];
        while let Some(more) = self.listener.next_buffered() {
            changes.push(parse(more.payload()));
        }
        Ok(changes)
    }
}

fn parse(payload: &str) -> CachedRowChange {
    let Ok(value) = serde_json::from_str::<Value>(payload) else {
        return CachedRowChange::Everything;
    };
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    change(
        &text("kind").unwrap_or_default(),
        text("integration_id"),
        text("connection_id"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_read_and_unknown_ones_mean_everything() {
        assert_eq!(
            parse(r#"{"kind":"connection","integration_id":"i","connection_id":"c d"}"#),
            CachedRowChange::Connection {
                integration_id: "i".into(),
                connection_id: "c d".into()
            }
        );
        assert_eq!(parse(r#"{"kind":"api_key"}"#), CachedRowChange::ApiKey);
        assert_eq!(parse(r#"{"kind":"sync"}"#), CachedRowChange::Everything);
        assert_eq!(parse("not json"), CachedRowChange::Everything);
    }
}
