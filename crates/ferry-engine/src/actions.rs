//! Pre-built actions: looked up in the connection's provider entry, run over the connection's
//! paced and recorded transport, and recorded as one `action` operation each, whatever the
//! action calls. Also the lasting file links actions write: sealed tokens that name a
//! connection's block, answered with the file's current URL.

use std::sync::Arc;

use ferry_provider::{ActionCall, ActionError, ActionSpec, ProviderEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::ProviderClient;
use chrono::{DateTime, Utc};

use crate::crypto::Cipher;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::integrations::Integrations;
use crate::logs::OperationKind;

/// A pre-built action of a provider.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub provider: &'static str,
    pub spec: &'static ActionSpec,
}

#[derive(Clone)]
pub struct Actions {
    client: ProviderClient,
    integrations: Integrations,
    /// Seals the file links actions write, so a link names its file without showing it.
    cipher: Cipher,
    public_url: Arc<str>,
    /// Fresh file URLs by opened link, with when to stop serving them.
    fresh_files: moka::sync::Cache<String, (String, DateTime<Utc>)>,
}

/// Fresh file URLs one process keeps.
const FRESH_FILES: u64 = 100_000;

/// What a file link holds, sealed: whose file it is.
#[derive(Serialize, Deserialize)]
struct FileLinkTarget {
    environment: String,
    integration: String,
    connection: String,
    block: String,
}

impl Actions {
    pub(crate) fn new(
        client: ProviderClient,
        integrations: Integrations,
        cipher: Cipher,
        public_url: &str,
    ) -> Actions {
        Actions {
            client,
            integrations,
            cipher,
            public_url: public_url.into(),
            fresh_files: moka::sync::Cache::builder()
                .max_capacity(FRESH_FILES)
                // No URL outlives Notion's hour, whatever its expiry says.
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
        }
    }

    /// Every action of every provider in the catalogue.
    pub fn catalogue(&self) -> Vec<ActionInfo> {
        crate::catalogue::catalogue()
            .iter()
            .flat_map(|provider| {
                of_provider(provider).iter().map(|spec| ActionInfo {
                    provider: provider.name,
                    spec,
                })
            })
            .collect()
    }

    /// The actions of the integration `key`'s provider.
    pub async fn of_integration(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
    ) -> EngineResult<&'static [ActionSpec]> {
        let integration = self.integrations.get(environment, key).await?;
        Ok(of_provider(integration.provider))
    }

    /// The action with `name` on the integration at `endpoint` (`GET /databases/single`).
    pub async fn by_endpoint(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        method: &str,
        path: &str,
    ) -> EngineResult<Option<&'static ActionSpec>> {
        let actions = self.of_integration(environment, key).await?;
        Ok(actions
            .iter()
            .find(|a| a.endpoint.is_some_and(|(m, p)| m == method && p == path)))
    }

    /// Runs action `name` on a connection with `input` and returns its output.
    pub async fn trigger(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        name: &str,
        input: Value,
    ) -> EngineResult<Value> {
        let transport = self
            .client
            .transport(environment, key, connection, OperationKind::Action)
            .await?;
        let provider = transport.provider();
        let Some(catalogue) = provider
            .actions
            .filter(|c| (c.actions)().iter().any(|a| a.name == name))
        else {
            let message = format!(
                "{} has no action named `{name}`; GET /scripts/config lists the actions",
                provider.display_name
            );
            transport.finish(false, format!("{name}: {message}"));
            return Err(EngineError::new(ErrorCode::UnknownAction, message));
        };
        let file_link = |block: &str| {
            let target = FileLinkTarget {
                environment: environment.as_str().to_string(),
                integration: key.as_str().to_string(),
                connection: connection.as_str().to_string(),
                block: block.to_string(),
            };
            let token = self
                .cipher
                .seal_for_url(&serde_json::to_string(&target).expect("plain strings serialize"));
            format!("{}/files/{token}", self.public_url)
        };
        let call = ActionCall {
            name,
            input,
            api_version: transport.api_version(),
            file_link: &file_link,
        };
        let result = (catalogue.run)(&transport, call).await;
        match result {
            Ok(output) => {
                transport.finish(true, format!("{name}: done"));
                Ok(output)
            }
            Err(e) => {
                let error = engine_error(e);
                transport.finish(false, format!("{name}: {}", error.message()));
                Err(error)
            }
        }
    }
}

impl Actions {
    /// The current URL of the file a link written by an action points at: the link is
    /// opened, the connection checked, and the URL served from this process's cache while it
    /// has over a minute to live; else the connection's provider is asked for the block again
    /// (recorded as an `action` operation named `file-link`), so a link followed often does
    /// not spend the connection's pace.
    pub async fn fresh_file_url(&self, token: &str) -> EngineResult<String> {
        let unknown = || {
            EngineError::new(
                ErrorCode::UnknownFileLink,
                "This file link is not one Ferry made, or was cut short.",
            )
        };
        let opened = self.cipher.open_from_url(token).map_err(|_| unknown())?;
        let target: FileLinkTarget = serde_json::from_str(&opened).map_err(|_| unknown())?;
        let environment = EnvironmentId::from_stored(target.environment);
        let key = IntegrationKey::from_stored(target.integration);
        let connection = ConnectionId::from_stored(target.connection);
        // A deleted connection's links stop at once, cached URL or not.
        self.client.resolve(&environment, &key, &connection).await?;
        if let Some((url, good_until)) = self.fresh_files.get(&opened)
            && good_until > Utc::now() + chrono::Duration::minutes(1)
        {
            return Ok(url);
        }
        let transport = self
            .client
            .transport(&environment, &key, &connection, OperationKind::Action)
            .await?;
        let Some(catalogue) = transport.provider().actions else {
            transport.finish(false, "file-link: the provider has no actions".to_string());
            return Err(unknown());
        };
        match (catalogue.fresh_file_url)(&transport, &target.block, transport.api_version()).await {
            Ok(file) => {
                transport.finish(true, "file-link: done".to_string());
                // Until shortly before the provider's expiry; ten minutes when it gives none.
                let good_until = file
                    .expiry_time
                    .as_deref()
                    .and_then(crate::time::parse)
                    .map(|t| t - chrono::Duration::minutes(5))
                    .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(10));
                self.fresh_files
                    .insert(opened, (file.url.clone(), good_until));
                Ok(file.url)
            }
            Err(e) => {
                let error = engine_error(e);
                transport.finish(false, format!("file-link: {}", error.message()));
                Err(error)
            }
        }
    }
}

/// A provider's pre-built actions (none when it has no catalogue).
pub fn of_provider(provider: &'static ProviderEntry) -> &'static [ActionSpec] {
    provider.actions.map_or(&[], |c| (c.actions)())
}

fn engine_error(e: ActionError) -> EngineError {
    match e {
        ActionError::Unknown(name) => EngineError::new(
            ErrorCode::UnknownAction,
            format!("no action is named `{name}`"),
        ),
        ActionError::InvalidInput { field, message } => EngineError::new(
            ErrorCode::InvalidActionInput,
            format!("input.{field}: {message}"),
        )
        .with_payload(json!({"field": field})),
        ActionError::Provider {
            provider,
            status,
            code,
            message,
        } => EngineError::new(
            ErrorCode::ProviderError,
            format!("{provider} answered {status} {code}: {message}"),
        )
        .with_payload(json!({"status": status, "code": code, "message": message})),
        ActionError::Transport(ferry_provider::TransportError::Unreachable(message)) => {
            EngineError::new(ErrorCode::ProxyUpstreamUnreachable, message)
        }
        ActionError::Transport(ferry_provider::TransportError::Connection { code, message }) => {
            let code = ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == code)
                .unwrap_or(ErrorCode::ProviderError);
            EngineError::new(code, message)
        }
        ActionError::Unreadable(message) => EngineError::new(ErrorCode::ProviderError, message),
    }
}
