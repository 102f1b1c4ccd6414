//! Integrations: an environment's provider configurations, with the OAuth client secret and
//! webhook secret sealed at rest and Ferry's per-integration settings (endpoint overrides,
//! API version, pace).

use std::sync::Arc;

use crate::crypto::Cipher;
use crate::storage::IntegrationRecord;
use crate::storage::Store;
use ferry_provider::ProviderEntry;

use crate::cache::{HOT_ENTRIES, HotCache};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{EnvironmentId, IntegrationKey};
use crate::providers::{self, Endpoints, IntegrationConfig};
use crate::settings::Settings;

/// An integration as the engine shows it. Secrets stay sealed; see [`Integrations::credentials`].
#[derive(Debug, Clone)]
pub struct Integration {
    pub unique_key: IntegrationKey,
    pub provider: &'static ProviderEntry,
    pub display_name: String,
    /// OAuth scopes, a comma-separated list as Nango keeps them.
    pub scopes: Option<String>,
    pub config: IntegrationConfig,
    pub forward_webhooks: bool,
    pub created_at: String,
    pub updated_at: String,
    pub(crate) id: String,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret_enc: Option<String>,
    pub(crate) webhook_secret_enc: Option<String>,
}

impl Integration {
    fn from_record(r: IntegrationRecord) -> EngineResult<Integration> {
        let provider = providers::entry(&r.provider).ok_or_else(|| {
            EngineError::internal(
                format!(
                    "integration {} names a provider this Ferry does not have",
                    r.unique_key
                ),
                format!("`{}`", r.provider),
            )
        })?;
        let config = serde_json::from_value(r.config)
            .map_err(|e| EngineError::internal("reading an integration's settings", e))?;
        Ok(Integration {
            unique_key: IntegrationKey::from_stored(r.unique_key),
            provider,
            display_name: r.display_name,
            scopes: r.scopes,
            config,
            forward_webhooks: r.forward_webhooks,
            created_at: r.created_at,
            updated_at: r.updated_at,
            id: r.id,
            client_id: r.client_id,
            client_secret_enc: r.client_secret_enc,
            webhook_secret_enc: r.webhook_secret_enc,
        })
    }
}

/// An OAuth client: what `credentials` of an integration hold.
#[derive(Debug, Clone, Default)]
pub struct OAuthClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<String>,
    pub webhook_secret: Option<String>,
}

/// `POST /integrations`.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub provider: String,
    pub unique_key: IntegrationKey,
    pub display_name: Option<String>,
    pub forward_webhooks: Option<bool>,
    pub credentials: Option<OAuthClient>,
    pub config: Option<IntegrationConfig>,
}

/// `PATCH /integrations/:key`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationChanges {
    pub unique_key: Option<IntegrationKey>,
    pub display_name: Option<String>,
    pub forward_webhooks: Option<bool>,
    pub credentials: Option<OAuthClient>,
    pub config: Option<IntegrationConfig>,
}

#[derive(Clone)]
pub struct Integrations {
    store: Store,
    cipher: Cipher,
    settings: Arc<Settings>,
    /// Integrations with their endpoints resolved, for hot paths.
    targets: Arc<HotCache<IntegrationTarget>>,
}

/// An integration as calls need it: its endpoints resolved from the provider's entry, the
/// operator's settings and its own, and its default version header ready to send.
pub(crate) struct IntegrationTarget {
    pub integration: Integration,
    pub endpoints: Endpoints,
    pub version_header: Option<(http::HeaderName, http::HeaderValue)>,
}

impl IntegrationTarget {
    fn new(integration: Integration, settings: &Settings) -> IntegrationTarget {
        let endpoints = providers::endpoints(settings, integration.provider, &integration.config);
        let version_header = integration
            .provider
            .version_header
            .as_ref()
            .zip(endpoints.api_version.as_deref())
            .and_then(|(header, value)| {
                Some((
                    http::HeaderName::from_bytes(header.name.as_bytes()).ok()?,
                    http::HeaderValue::from_str(value).ok()?,
                ))
            });
        IntegrationTarget {
            integration,
            endpoints,
            version_header,
        }
    }
}

pub(crate) fn unknown_integration(key: &IntegrationKey) -> EngineError {
    EngineError::new(
        ErrorCode::UnknownProviderConfig,
        format!("There is no integration with unique_key `{key}` in this environment."),
    )
}

fn duplicate(key: &IntegrationKey) -> EngineError {
    EngineError::new(
        ErrorCode::DuplicateIntegration,
        format!("An integration with unique_key `{key}` already exists."),
    )
}

impl Integrations {
    pub(crate) fn new(store: Store, cipher: Cipher, settings: Arc<Settings>) -> Integrations {
        Integrations {
            store,
            cipher,
            settings,
            targets: Arc::new(HotCache::new(HOT_ENTRIES)),
        }
    }

    pub async fn create(
        &self,
        environment: &EnvironmentId,
        new: NewIntegration,
    ) -> EngineResult<Integration> {
        let provider = providers::entry(&new.provider).ok_or_else(|| {
            EngineError::new(
                ErrorCode::InvalidProvider,
                format!("Unknown provider `{}`; see GET /providers.", new.provider),
            )
        })?;
        let config = new.config.unwrap_or_default();
        config.check_for(provider)?;
        let credentials = new.credentials.unwrap_or_default();
        let record = IntegrationRecord {
            id: String::new(),
            environment_id: environment.to_string(),
            unique_key: new.unique_key.to_string(),
            provider: provider.name.to_string(),
            display_name: new
                .display_name
                .unwrap_or_else(|| provider.display_name.to_string()),
            client_id: credentials.client_id,
            client_secret_enc: credentials.client_secret.map(|s| self.cipher.seal(&s)),
            webhook_secret_enc: credentials.webhook_secret.map(|s| self.cipher.seal(&s)),
            scopes: credentials.scopes,
            config: serde_json::to_value(&config)
                .map_err(|e| EngineError::internal("writing integration settings", e))?,
            forward_webhooks: new.forward_webhooks.unwrap_or(true),
            created_at: String::new(),
            updated_at: String::new(),
        };
        let mut tx = self.store.begin().await?;
        let Some(created) = tx.create_integration(record).await? else {
            return Err(duplicate(&new.unique_key));
        };
        tx.commit().await?;
        Integration::from_record(created)
    }

    pub async fn list(&self, environment: &EnvironmentId) -> EngineResult<Vec<Integration>> {
        self.store
            .list_integrations(environment.as_str())
            .await?
            .into_iter()
            .map(Integration::from_record)
            .collect()
    }

    pub async fn get(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
    ) -> EngineResult<Integration> {
        let record = self
            .store
            .integration(environment.as_str(), key.as_str())
            .await?
            .ok_or_else(|| unknown_integration(key))?;
        Integration::from_record(record)
    }

    /// The integration with its endpoints, from the hot cache.
    pub(crate) async fn target(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
    ) -> EngineResult<Arc<IntegrationTarget>> {
        let cache_key = format!("{environment}\u{0}{key}");
        if let Some(hit) = self.targets.get(&cache_key) {
            return Ok(hit);
        }
        let ticket = self.targets.ticket(&cache_key);
        let target = Arc::new(IntegrationTarget::new(
            self.get(environment, key).await?,
            &self.settings,
        ));
        self.targets.fill(ticket, cache_key, target.clone());
        Ok(target)
    }

    pub(crate) async fn by_row_id(&self, id: &str) -> EngineResult<Option<Integration>> {
        self.store
            .integration_by_id(id)
            .await?
            .map(Integration::from_record)
            .transpose()
    }

    /// Applies `changes` in one unit of work, so concurrent changes to different fields
    /// all stay.
    pub async fn update(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        changes: IntegrationChanges,
    ) -> EngineResult<Integration> {
        let mut tx = self.store.begin().await?;
        let mut record = tx
            .integration_for_update(environment.as_str(), key.as_str())
            .await?
            .ok_or_else(|| unknown_integration(key))?;
        let provider = providers::entry(&record.provider).ok_or_else(|| {
            EngineError::internal(
                "updating an integration",
                format!("unknown provider `{}`", record.provider),
            )
        })?;
        if let Some(new_key) = &changes.unique_key {
            record.unique_key = new_key.to_string();
        }
        if let Some(name) = changes.display_name {
            record.display_name = name;
        }
        if let Some(forward) = changes.forward_webhooks {
            record.forward_webhooks = forward;
        }
        if let Some(c) = changes.credentials {
            if let Some(id) = c.client_id {
                record.client_id = Some(id);
            }
            if let Some(secret) = c.client_secret {
                record.client_secret_enc = Some(self.cipher.seal(&secret));
            }
            if let Some(secret) = c.webhook_secret {
                record.webhook_secret_enc = Some(self.cipher.seal(&secret));
            }
            if let Some(scopes) = c.scopes {
                record.scopes = Some(scopes);
            }
        }
        if let Some(config) = changes.config {
            config.check_for(provider)?;
            record.config = serde_json::to_value(&config)
                .map_err(|e| EngineError::internal("writing integration settings", e))?;
        }
        if !tx.update_integration(&record).await? {
            return Err(duplicate(&IntegrationKey::from_stored(record.unique_key)));
        }
        tx.commit().await?;
        self.forget_cached();
        Integration::from_record(record)
    }

    /// Deletes the integration with its connections.
    pub async fn delete(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
    ) -> EngineResult<()> {
        let mut tx = self.store.begin().await?;
        if !tx
            .delete_integration(environment.as_str(), key.as_str())
            .await?
        {
            return Err(unknown_integration(key));
        }
        tx.commit().await?;
        self.forget_cached();
        Ok(())
    }

    /// The integration's OAuth client, opened: for `include=credentials`.
    pub fn credentials(&self, integration: &Integration) -> EngineResult<OAuthClient> {
        let open = |sealed: &Option<String>| -> EngineResult<Option<String>> {
            Ok(sealed.as_deref().map(|s| self.cipher.open(s)).transpose()?)
        };
        Ok(OAuthClient {
            client_id: integration.client_id.clone(),
            client_secret: open(&integration.client_secret_enc)?,
            scopes: integration.scopes.clone(),
            webhook_secret: open(&integration.webhook_secret_enc)?,
        })
    }

    /// The OAuth client id and secret, opened, for a token request.
    pub(crate) fn client_id_and_secret(
        &self,
        integration: &Integration,
    ) -> EngineResult<(String, String)> {
        let missing = || {
            EngineError::new(
                ErrorCode::MissingClientCredentials,
                format!(
                    "Integration `{0}` has no OAuth client id and secret; set them with PATCH /integrations/{0}.",
                    integration.unique_key
                ),
            )
        };
        let id = integration.client_id.clone().ok_or_else(missing)?;
        let secret = integration
            .client_secret_enc
            .as_deref()
            .ok_or_else(missing)?;
        Ok((id, self.cipher.open(secret)?))
    }

    /// Drops every cached integration: one changed (its key, its settings) or went. Its
    /// connections' cached entries stay: they hold no integration setting, and are keyed by
    /// the integration's row, which a deleted integration's key never finds again.
    pub(crate) fn forget_cached(&self) {
        self.targets.invalidate_all();
    }
}
