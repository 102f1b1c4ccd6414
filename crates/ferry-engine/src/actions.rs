//! Pre-built actions: looked up in the connection's provider entry, run over the connection's
//! paced and recorded transport, and recorded as one `action` operation each, whatever the
//! action calls.

use ferry_provider::{ActionCall, ActionError, ActionSpec, ProviderEntry};
use serde_json::{Value, json};

use crate::client::ProviderClient;
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
}

impl Actions {
    pub(crate) fn new(client: ProviderClient, integrations: Integrations) -> Actions {
        Actions {
            client,
            integrations,
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
        let call = ActionCall {
            name,
            input,
            api_version: transport.api_version(),
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
