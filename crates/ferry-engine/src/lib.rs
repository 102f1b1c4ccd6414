//! Ferry's domain and work, as services: [`Environments`] (keys, environments, variables),
//! [`Integrations`], [`Connections`] and [`Connect`] (connect sessions and OAuth), the
//! [`ProviderClient`] (the one road to a provider: pace, send, classify, retry or refresh,
//! record), the [`Proxy`] on top of it, [`Actions`] and [`AsyncActions`], and [`Logs`].
//!
//! The engine knows nothing of HTTP status codes or Ferry's wire shapes (that is
//! `ferry-api`): its errors carry an [`ErrorCode`], and its types are its own, never store
//! rows. Secrets are opened only here. No provider is named outside [`providers`], and no
//! database: storage is a port ([`storage`]) that `ferry-store` implements.

pub mod actions;
pub mod async_actions;
mod cache;
mod catalogue;
pub mod client;
pub mod connections;
pub mod credentials;
pub mod crypto;
pub mod environments;
pub mod error;
pub mod ids;
pub mod integrations;
pub mod logs;
pub mod oauth;
mod pacer;
pub mod providers;
pub mod proxy;
pub mod settings;
pub mod storage;
pub mod syncs;
pub mod time;
mod tokens;
pub mod webhooks;

use std::sync::Arc;

use crate::storage::{CachedRowChange, ChangeFeed};

pub use crate::crypto::Cipher;

pub use crate::actions::Actions;
pub use crate::async_actions::AsyncActions;
pub use crate::client::ProviderClient;
pub use crate::connections::Connections;
pub use crate::environments::{Environments, GeneratedKeys};
pub use crate::error::{EngineError, EngineResult, ErrorCode};
pub use crate::integrations::Integrations;
pub use crate::logs::Logs;
pub use crate::oauth::Connect;
pub use crate::proxy::Proxy;
pub use crate::settings::Settings;
pub use crate::syncs::Syncs;
pub use crate::webhooks::Webhooks;

/// Keeps this process's hot caches true to what every process sharing the database commits.
pub struct CacheWatcher {
    engine: Engine,
    feed: Box<dyn ChangeFeed>,
}

impl CacheWatcher {
    /// Waits for the next committed changes and forgets the cached entries they touch: one
    /// unit of the watcher loop, which tests call directly. Returns how many changes came. On
    /// an error every cache is emptied, since changes may have been missed.
    pub async fn apply_next(&mut self) -> EngineResult<usize> {
        match self.feed.next().await {
            Ok(changes) => {
                for change in &changes {
                    self.engine.forget_changed(change);
                }
                Ok(changes.len())
            }
            Err(e) => {
                self.engine.forget_changed(&CachedRowChange::Everything);
                Err(e.into())
            }
        }
    }
}

/// Every service, shared by every request and background task; cloning is cheap.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Services>,
}

struct Services {
    settings: Arc<Settings>,
    store: storage::Store,
    environments: Environments,
    integrations: Integrations,
    connections: Connections,
    connect: Connect,
    client: ProviderClient,
    proxy: Proxy,
    actions: Actions,
    async_actions: AsyncActions,
    syncs: Syncs,
    webhooks: Webhooks,
    logs: Logs,
}

impl Engine {
    /// Starts the engine on an opened (and migrated) store, and makes sure the `dev`
    /// environment and the keys the settings name exist. Returns the engine and the keys
    /// generated now (to print once).
    pub async fn start(
        settings: Settings,
        cipher: Cipher,
        store: storage::Store,
    ) -> EngineResult<(Engine, GeneratedKeys)> {
        // reqwest uses rustls without a built-in provider; make sure one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| EngineError::internal("building the HTTP client", e))?;
        let settings = Arc::new(settings);
        let logs = Logs::new(store.clone(), settings.clone());
        let environments = Environments::new(store.clone(), cipher.clone(), settings.clone());
        let integrations = Integrations::new(store.clone(), cipher.clone(), settings.clone());
        let tokens = tokens::Tokens {
            http: token_http,
            integrations: integrations.clone(),
            settings: settings.clone(),
        };
        let webhooks = Webhooks::new(store.clone(), cipher.clone())?;
        let connections = Connections::new(
            store.clone(),
            cipher.clone(),
            integrations.clone(),
            tokens.clone(),
            logs.clone(),
            webhooks.clone(),
        );
        let connect = Connect {
            store: store.clone(),
            cipher: cipher.clone(),
            settings: settings.clone(),
            integrations: integrations.clone(),
            connections: connections.clone(),
            tokens,
            logs: logs.clone(),
        };
        let client = ProviderClient::new(
            client::http_client()?,
            connections.clone(),
            integrations.clone(),
            pacer::Pacers::on(&store),
            settings.log_body_limit,
            logs.clone(),
        );
        let proxy = Proxy::new(client.clone(), logs.clone(), settings.clone());
        let actions = Actions::new(
            client.clone(),
            integrations.clone(),
            cipher.clone(),
            &settings.public_url,
        );
        let async_actions = AsyncActions::new(
            store.clone(),
            actions.clone(),
            settings.clone(),
            webhooks.clone(),
        );
        let syncs = Syncs::new(store.clone(), client.clone(), webhooks.clone());
        syncs.schedule_new_connections().await?;
        let generated = environments.ensure_configured_keys().await?;
        let engine = Engine {
            inner: Arc::new(Services {
                settings,
                store,
                environments,
                integrations,
                connections,
                connect,
                client,
                proxy,
                actions,
                async_actions,
                syncs,
                webhooks,
                logs,
            }),
        };
        Ok((engine, generated))
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
    pub fn environments(&self) -> &Environments {
        &self.inner.environments
    }
    pub fn integrations(&self) -> &Integrations {
        &self.inner.integrations
    }
    pub fn connections(&self) -> &Connections {
        &self.inner.connections
    }
    pub fn connect(&self) -> &Connect {
        &self.inner.connect
    }
    pub fn client(&self) -> &ProviderClient {
        &self.inner.client
    }
    pub fn proxy(&self) -> &Proxy {
        &self.inner.proxy
    }
    pub fn actions(&self) -> &Actions {
        &self.inner.actions
    }
    pub fn async_actions(&self) -> &AsyncActions {
        &self.inner.async_actions
    }
    pub fn syncs(&self) -> &Syncs {
        &self.inner.syncs
    }
    pub fn webhooks(&self) -> &Webhooks {
        &self.inner.webhooks
    }
    pub fn logs(&self) -> &Logs {
        &self.inner.logs
    }

    /// Starts following the changes any process commits to what the hot caches hold; what
    /// was cached before is forgotten, since the feed did not see its changes.
    pub async fn watch_changes(&self) -> EngineResult<CacheWatcher> {
        let feed = self.inner.store.watch_changes().await?;
        self.forget_changed(&CachedRowChange::Everything);
        Ok(CacheWatcher {
            engine: self.clone(),
            feed,
        })
    }

    /// Empties every hot cache: for when changes cannot be followed.
    pub fn forget_all_cached(&self) {
        self.forget_changed(&CachedRowChange::Everything);
    }

    fn forget_changed(&self, change: &CachedRowChange) {
        match change {
            CachedRowChange::Connection {
                integration_id,
                connection_id,
            } => self.connections().forget(integration_id, connection_id),
            CachedRowChange::Integration => self.integrations().forget_cached(),
            CachedRowChange::ApiKey | CachedRowChange::Environment => {
                self.environments().forget_keys()
            }
            CachedRowChange::Everything => {
                self.environments().forget_keys();
                self.integrations().forget_cached();
                self.connections().forget_all();
            }
        }
    }

    /// Closes the database pool (after a stop's last writes).
    pub async fn close(&self) {
        self.inner.store.close().await;
    }
}
