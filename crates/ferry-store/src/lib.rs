//! Ferry's persistence: one code path over SQLite (the default, a file) and PostgreSQL
//! (several processes), migrations for both, and encryption of secrets at rest.
//!
//! Queries are written once with `?` placeholders and only portable column types (TEXT and
//! BIGINT); [`Store::sql`] rewrites placeholders for PostgreSQL. Secrets are sealed
//! with [`Cipher`] before they reach a query and opened only by the engine when used.

pub mod connections;
pub mod crypto;
pub mod environments;
pub mod integrations;
pub mod operations;
pub mod sessions;

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use crate::crypto::Cipher;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Key(String),
    #[error(
        "a stored secret could not be decrypted: is FERRY_ENCRYPTION_KEY the key it was written with?"
    )]
    Decrypt,
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool on the configured database.
#[derive(Debug, Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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
            return Err(StoreError::Key(format!(
                "FERRY_DATABASE_URL must start with sqlite:// or postgres://, got `{url}`"
            )));
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite && !url.contains(":memory:") {
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
        let pool_size = if backend == Backend::Sqlite && url.contains(":memory:") {
            1
        } else {
            8
        };
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size)
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers and one writer work at once; wait instead of failing when busy.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&pool)
                .await?;
        }
        Ok(Store { pool, backend })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The query text for this backend: `?` placeholders become `$1, $2, …` on PostgreSQL.
    pub fn sql(&self, text: &str) -> sqlx::AssertSqlSafe<String> {
        if self.backend == Backend::Sqlite {
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
}

/// The fixed-width text form of a timestamp in the database.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| StoreError::Malformed(format!("timestamp `{s}`")))
}

pub fn now() -> String {
    ts(Utc::now())
}

pub(crate) fn json_col(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Malformed(format!("JSON column: {e}")))
}

/// Lowercase hex SHA-256, used to store keys and tokens that only need to be recognised.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_hex_matches_the_fips_180_example() {
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
