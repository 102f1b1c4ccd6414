//! Integrations: validation and secret handling around the store's integration rows.

use ferry_store::integrations::Integration;
use serde_json::Value;

use crate::{Engine, EngineError, EngineResult, ErrorKind, providers};

/// What `POST /integrations` and `PATCH /integrations/:key` may set.
#[derive(Debug, Default, Clone)]
pub struct IntegrationInput {
    pub provider: Option<String>,
    pub unique_key: Option<String>,
    pub display_name: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub webhook_secret: Option<String>,
    pub config: Option<Value>,
    pub forward_webhooks: Option<bool>,
}

fn check_key(key: &str) -> EngineResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 255
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid(
            "invalid_body",
            format!("unique_key `{key}` must be 1–255 letters, digits, `-`, `_` or `.`"),
        ))
    }
}

fn check_config(config: &Value) -> EngineResult<()> {
    let Some(map) = config.as_object() else {
        return Err(EngineError::invalid(
            "invalid_body",
            "integration_config must be an object",
        ));
    };
    for key in ["notion_base_url", "authorization_url", "token_url"] {
        if let Some(v) = map.get(key) {
            let ok = v
                .as_str()
                .and_then(|s| url::Url::parse(s).ok())
                .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(EngineError::invalid(
                    "invalid_body",
                    format!("integration_config.{key} must be an http(s) URL"),
                ));
            }
        }
    }
    if let Some(v) = map.get("notion_version")
        && v.as_str().is_none_or(|s| s.len() != 10)
    {
        return Err(EngineError::invalid(
            "invalid_body",
            "integration_config.notion_version must be a date such as 2025-09-03",
        ));
    }
    if let Some(v) = map.get("rate_limit")
        && !v.as_f64().is_some_and(|r| r > 0.0 && r <= 100_000.0)
    {
        return Err(EngineError::invalid(
            "invalid_body",
            "integration_config.rate_limit must be a number of requests per second above 0",
        ));
    }
    if let Some(v) = map.get("burst")
        && !v.as_u64().is_some_and(|b| (1..=100_000).contains(&b))
    {
        return Err(EngineError::invalid(
            "invalid_body",
            "integration_config.burst must be a whole number from 1",
        ));
    }
    Ok(())
}

impl Engine {
    pub async fn create_integration(
        &self,
        environment_id: &str,
        input: IntegrationInput,
    ) -> EngineResult<Integration> {
        let provider = input
            .provider
            .ok_or_else(|| EngineError::invalid("invalid_body", "provider is required"))?;
        if providers::provider(&self.settings, &provider).is_none() {
            return Err(EngineError::invalid(
                "invalid_provider",
                format!("Unknown provider `{provider}`; see GET /providers."),
            ));
        }
        let unique_key = input
            .unique_key
            .ok_or_else(|| EngineError::invalid("invalid_body", "unique_key is required"))?;
        check_key(&unique_key)?;
        let config = input.config.unwrap_or_else(|| serde_json::json!({}));
        check_config(&config)?;
        let row = Integration {
            id: String::new(),
            environment_id: environment_id.to_string(),
            display_name: input.display_name.unwrap_or_else(|| "Notion".into()),
            provider,
            unique_key: unique_key.clone(),
            client_id: input.client_id,
            client_secret_enc: input.client_secret.map(|s| self.cipher.seal(&s)),
            webhook_secret_enc: input.webhook_secret.map(|s| self.cipher.seal(&s)),
            config,
            forward_webhooks: input.forward_webhooks.unwrap_or(true),
            created_at: String::new(),
            updated_at: String::new(),
        };
        self.store.create_integration(row).await?.ok_or_else(|| {
            EngineError::new(
                ErrorKind::Conflict,
                "duplicate_integration",
                format!("An integration with unique_key `{unique_key}` already exists."),
            )
        })
    }

    pub async fn integration(&self, environment_id: &str, key: &str) -> EngineResult<Integration> {
        self.store
            .integration(environment_id, key)
            .await?
            .ok_or_else(|| {
                EngineError::not_found(
                    "unknown_provider_config",
                    format!("There is no integration with unique_key `{key}` in this environment."),
                )
            })
    }

    /// Like [`Engine::integration`], from a short-lived cache: for the proxy's hot path.
    pub(crate) async fn cached_integration(
        &self,
        environment_id: &str,
        key: &str,
    ) -> EngineResult<std::sync::Arc<Integration>> {
        let cache_key = format!("{environment_id}\u{0}{key}");
        if let Some(hit) = self.integration_cache.get(&cache_key) {
            return Ok(hit);
        }
        let integration = std::sync::Arc::new(self.integration(environment_id, key).await?);
        self.integration_cache.put(cache_key, integration.clone());
        Ok(integration)
    }

    pub async fn update_integration(
        &self,
        environment_id: &str,
        key: &str,
        input: IntegrationInput,
    ) -> EngineResult<Integration> {
        let mut row = self.integration(environment_id, key).await?;
        if input.provider.as_deref().is_some_and(|p| p != row.provider) {
            return Err(EngineError::invalid(
                "invalid_body",
                "an integration's provider cannot change",
            ));
        }
        if let Some(k) = input.unique_key {
            check_key(&k)?;
            row.unique_key = k;
        }
        if let Some(name) = input.display_name {
            row.display_name = name;
        }
        if let Some(id) = input.client_id {
            row.client_id = Some(id);
        }
        if let Some(secret) = input.client_secret {
            row.client_secret_enc = Some(self.cipher.seal(&secret));
        }
        if let Some(secret) = input.webhook_secret {
            row.webhook_secret_enc = Some(self.cipher.seal(&secret));
        }
        if let Some(config) = input.config {
            check_config(&config)?;
            row.config = config;
        }
        if let Some(forward) = input.forward_webhooks {
            row.forward_webhooks = forward;
        }
        self.integration_cache.clear();
        if !self.store.update_integration(&row).await? {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                "duplicate_integration",
                format!(
                    "An integration with unique_key `{}` already exists.",
                    row.unique_key
                ),
            ));
        }
        self.integration(environment_id, &row.unique_key).await
    }

    pub async fn delete_integration(&self, environment_id: &str, key: &str) -> EngineResult<()> {
        self.integration_cache.clear();
        self.connection_cache.clear();
        if self.store.delete_integration(environment_id, key).await? {
            Ok(())
        } else {
            Err(EngineError::not_found(
                "unknown_provider_config",
                format!("There is no integration with unique_key `{key}` in this environment."),
            ))
        }
    }

    /// The integration's OAuth client id and secret, opened for use.
    pub(crate) fn client_credentials(
        &self,
        integration: &Integration,
    ) -> EngineResult<(String, String)> {
        let missing = || {
            EngineError::invalid(
                "missing_client_credentials",
                format!(
                    "Integration `{}` has no OAuth client id and secret; set them with PATCH /integrations/{}.",
                    integration.unique_key, integration.unique_key
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
}
