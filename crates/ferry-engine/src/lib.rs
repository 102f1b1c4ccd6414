//! Ferry's domain and work: environments and keys, integrations and the provider catalogue,
//! connections and their credentials, the Notion OAuth flow, the proxy with per-connection
//! pacing and retries, and operation logs.
//!
//! It knows nothing of HTTP status codes or Ferry's wire shapes (that is `ferry-api`); its
//! errors carry a [`ErrorKind`] and a stable `code` that the edge maps.

pub mod cache;
pub mod connections;
pub mod credentials;
pub mod integrations;
pub mod keys;
pub mod logs;
pub mod oauth;
pub mod pacer;
pub mod providers;
pub mod proxy;
pub mod settings;

use std::sync::Arc;

use ferry_store::{Cipher, Store, StoreError};

pub use crate::settings::Settings;

/// What kind of failure an error is; `ferry-api` turns it into a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    Upstream,
    Internal,
}

/// A failure with a stable code (Nango's where Nango has one) and a message a person can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EngineError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
}

impl EngineError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        match e {
            StoreError::Decrypt => {
                EngineError::new(ErrorKind::Internal, "decryption_failed", e.to_string())
            }
            _ => EngineError::new(
                ErrorKind::Internal,
                "server_error",
                "An internal error occurred; see the server log.",
            ),
        }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;

/// Everything the work needs, shared by every request and background task.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub cipher: Cipher,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    pub pacers: Arc<pacer::Pacers>,
    // Values are shared (`Arc`) so a cache hit copies a pointer, not rows and JSON.
    pub(crate) connection_cache: Arc<
        cache::TtlCache<
            Arc<(
                ferry_store::connections::ConnectionRow,
                credentials::Credentials,
            )>,
        >,
    >,
    pub(crate) key_cache: Arc<cache::TtlCache<ferry_store::environments::Environment>>,
    pub(crate) integration_cache: Arc<cache::TtlCache<Arc<ferry_store::integrations::Integration>>>,
    pub(crate) log_queue: Arc<logs::LogQueue>,
    refresh_locks:
        Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Engine {
    pub fn new(store: Store, cipher: Cipher, settings: Settings) -> EngineResult<Engine> {
        // reqwest uses rustls without a built-in provider; make sure one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| {
                EngineError::new(
                    ErrorKind::Internal,
                    "server_error",
                    format!("HTTP client: {e}"),
                )
            })?;
        Ok(Engine {
            store,
            cipher,
            settings: Arc::new(settings),
            http,
            pacers: Arc::new(pacer::Pacers::default()),
            connection_cache: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(5))),
            key_cache: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(5))),
            integration_cache: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(5))),
            log_queue: Arc::new(logs::LogQueue::default()),
            refresh_locks: Arc::default(),
        })
    }

    /// Connects to the configured database, applies migrations, and makes sure the `dev`
    /// environment exists. Returns the engine and the `dev` key when one was generated now.
    pub async fn open(
        settings: Settings,
        cipher: Cipher,
    ) -> EngineResult<(Engine, Option<String>)> {
        let unavailable = |e: StoreError| {
            EngineError::new(
                ErrorKind::Internal,
                "database_unavailable",
                format!("FERRY_DATABASE_URL: {e}"),
            )
        };
        let store = Store::connect(&settings.database_url)
            .await
            .map_err(unavailable)?;
        store.migrate().await.map_err(unavailable)?;
        let engine = Engine::new(store, cipher, settings)?;
        let generated = engine.ensure_dev_environment().await?;
        Ok((engine, generated))
    }

    /// The lock that serialises token refreshes of one connection.
    pub(crate) fn refresh_lock(&self, connection_row_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks
            .entry(connection_row_id.to_string())
            .or_default()
            .clone()
    }

    /// Deletes operation logs past their retention and expired sessions: one unit of the
    /// housekeeping loop, which tests call directly.
    pub async fn prune_now(&self) -> EngineResult<u64> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::days(i64::from(self.settings.log_retention_days));
        let logs = self
            .store
            .prune_operations(&ferry_store::ts(cutoff))
            .await?;
        let sessions = self.store.prune_sessions().await?;
        Ok(logs + sessions)
    }
}
