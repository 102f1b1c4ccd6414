//! Ferry's persistence: one code path over SQLite (the default, a file) and PostgreSQL
//! (several processes), and migrations for both.
//!
//! Queries are written once with `?` placeholders and only portable column types (TEXT and
//! BIGINT); [`Store::sql`] rewrites placeholders for PostgreSQL. Reads go through [`Store`];
//! every write goes through a [`Tx`], a unit of work that commits whole or not at all. On
//! SQLite a `Tx` also takes the process's write gate and begins `IMMEDIATE`, so writers queue
//! instead of failing with "database is locked". It implements the engine's storage port
//! (`ferry_engine::storage`); secrets reach it already sealed by the engine.

mod adapter;
pub mod async_actions;
mod backfill;
mod changes;
pub mod connections;
pub mod environments;
pub mod integrations;
pub mod operations;
mod pacing;
pub mod sessions;
pub mod syncs;
pub mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    #[error("could not create the database folder")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The placeholder for a JSON value bound as text: PostgreSQL keeps it as `jsonb`.
    pub(crate) fn json_param(self) -> &'static str {
        match self {
            Backend::Sqlite => "?",
            Backend::Postgres => "?::jsonb",
        }
    }

    /// A JSON column as a select-list item read back as text.
    pub(crate) fn json_as_text(self, column: &str) -> String {
        match self {
            Backend::Sqlite => column.to_string(),
            Backend::Postgres => format!("{column}::text AS {column}"),
        }
    }
}

/// A pool on the configured database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// For the change feed's own connection (PostgreSQL `LISTEN`).
    url: DatabaseUrl,
    /// SQLite allows one writer at a time; writers of this process wait here, in order.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A database URL, which may hold a password: never shown.
#[derive(Clone)]
struct DatabaseUrl(Arc<str>);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[database URL]")
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a SQLite connection waits for another process's write before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://…`); a SQLite
    /// file is created with its folder.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Config(
                "FERRY_DATABASE_URL must start with sqlite:// or postgres://".into(),
            ));
        };
        let mut url = url.to_string();
        let memory = url.contains(":memory:");
        if backend == Backend::Sqlite && !memory {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool_size = if backend == Backend::Sqlite && memory {
            1
        } else {
            8
        };
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size)
            // Pragmas hold per connection, so every connection of the pool gets them.
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
                            "PRAGMA foreign_keys = ON".to_string(),
                        ] {
                            sqlx::query(sqlx::AssertSqlSafe(pragma))
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite && !memory {
            // WAL lets readers work beside the one writer; the mode is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store {
            pool,
            backend,
            url: DatabaseUrl(url.into()),
            write_gate: (backend == Backend::Sqlite).then(Arc::default),
        })
    }

    /// Applies migrations, then the one-time data moves that follow them, then (again) the
    /// change feed's triggers.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        syncs::keep_records_as_jsonb(self).await?;
        backfill::run(self).await?;
        pacing::install(self).await?;
        changes::install(self).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a unit of work. On SQLite it waits for this process's other writers and takes
    /// the database's write lock at once (`BEGIN IMMEDIATE`), so it never fails half way
    /// with "database is locked"; never begin a second one while holding one.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            _gate: gate,
            backend: self.backend,
        })
    }

    /// The query text for this backend: `?` placeholders become `$1, $2, …` on PostgreSQL.
    pub fn sql(&self, text: &str) -> sqlx::AssertSqlSafe<String> {
        sql_for(self.backend, text)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn url(&self) -> &str {
        &self.url.0
    }
}

fn sql_for(backend: Backend, text: &str) -> sqlx::AssertSqlSafe<String> {
    if backend == Backend::Sqlite {
        return sqlx::AssertSqlSafe(text.to_string());
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    sqlx::AssertSqlSafe(out)
}

/// A unit of work: every write in it commits together, or none does (dropping it rolls back).
pub struct Tx {
    // Declared before the gate so the transaction ends before the gate opens.
    tx: sqlx::Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub(crate) fn sql(&self, text: &str) -> sqlx::AssertSqlSafe<String> {
        sql_for(self.backend, text)
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// ` FOR UPDATE` on PostgreSQL, where a read that is written back must lock its rows;
    /// SQLite's `BEGIN IMMEDIATE` already keeps other writers out.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Takes the next number of a sequence (Nango-style integer ids).
    pub(crate) async fn next_number(&mut self, sequence: &str) -> StoreResult<i64> {
        let sql = self.sql(
            "UPDATE sequences SET last_value = last_value + 1 WHERE name = ? RETURNING last_value",
        );
        Ok(sqlx::query_scalar(sql)
            .bind(sequence)
            .fetch_one(self.conn())
            .await?)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// Binds each of `values` in order.
pub(crate) fn bind_all<'q>(mut query: AnyQuery<'q>, values: &'q [String]) -> AnyQuery<'q> {
    for v in values {
        query = query.bind(v);
    }
    query
}

pub(crate) fn json_col(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Malformed(format!("JSON column: {e}")))
}

/// `text` as a `LIKE` pattern that matches it anywhere, with `%`, `_` and `\` taken
/// literally (use with `ESCAPE '\'`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(super::contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn placeholders_for_postgres() {
        assert_eq!(
            super::sql_for(super::Backend::Postgres, "a = ? AND b = ?").0,
            "a = $1 AND b = $2"
        );
    }
}
