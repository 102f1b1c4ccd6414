//! Engine errors: a stable [`ErrorCode`] (Nango's where Nango has one) and a message a person
//! can act on. The edge (`ferry-api`) maps each code to an HTTP status; the engine knows none.

use std::fmt;

macro_rules! error_codes {
    ($($variant:ident => $code:literal: $meaning:literal,)*) => {
        /// Every error code Ferry answers with. `docs/api.md` lists each one with its status
        /// and meaning; a test keeps the two the same.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// What the code means, as `docs/api.md` says it.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidBody => "invalid_body": "The body is not JSON, or a field is missing or wrong; the message names the field.",
    InvalidQueryParams => "invalid_query_params": "A query parameter is missing or wrong; the message names it.",
    InvalidUriParams => "invalid_uri_params": "A part of the path (an id or key) is malformed.",
    InvalidHeaders => "invalid_headers": "A header value is malformed; the message names the header.",
    MissingHeaders => "missing_headers": "A required header (`Connection-Id`, `Provider-Config-Key`) is missing.",
    InvalidProvider => "invalid_provider": "The provider is not in the catalogue (`GET /providers`).",
    InvalidBaseUrlOverride => "invalid_base_url_override": "`Base-Url-Override` is not an http(s) URL.",
    MissingClientCredentials => "missing_client_credentials": "The integration has no OAuth client id and secret to start an authorization with.",
    CannotDeleteProdEnvironment => "cannot_delete_prod_environment": "A production environment cannot be deleted.",
    AccessDenied => "access_denied": "OAuth callback: the user denied access.",
    AuthorizationFailed => "authorization_failed": "OAuth callback: the provider answered with an error.",
    MissingCode => "missing_code": "OAuth callback: no authorization code came back.",
    StateCookieMismatch => "state_cookie_mismatch": "OAuth callback: the browser that finished the authorization is not the one that started it.",
    InvalidState => "invalid_state": "OAuth callback: the `state` is unknown, expired or already used.",
    UnknownAccount => "unknown_account": "The secret key is missing or not a key of this Ferry.",
    InvalidConnectSessionToken => "invalid_connect_session_token": "The connect session token is invalid or has expired.",
    Forbidden => "forbidden": "The key cannot do this: environment keys act in their environment, account keys manage environments.",
    BaseUrlOverrideNotAllowed => "base_url_override_not_allowed": "`Base-Url-Override` names an origin that is neither the provider's nor in `FERRY_PROXY_ALLOWED_ORIGINS`.",
    IntegrationNotAllowed => "integration_not_allowed": "The connect session does not allow this integration.",
    UnknownRoute => "unknown_route": "No route has this path.",
    UnknownProvider => "unknown_provider": "No provider has this name.",
    UnknownProviderConfig => "unknown_provider_config": "No integration has this `unique_key` in the environment.",
    UnknownConnection => "unknown_connection": "No connection has this id for the integration in the environment.",
    UnknownEnvironment => "unknown_environment": "No environment has this id.",
    UnknownApiKey => "unknown_api_key": "The environment has no API key with this id.",
    UnknownLog => "unknown_log": "No operation has this id in the environment.",
    MethodNotAllowed => "method_not_allowed": "The route exists but not with this method.",
    DuplicateIntegration => "duplicate_integration": "An integration with this `unique_key` already exists in the environment.",
    DuplicateEnvironment => "duplicate_environment": "An environment with this name already exists.",
    PayloadTooLarge => "payload_too_large": "The body is larger than the route accepts.",
    ProxyUpstreamUnreachable => "proxy_upstream_unreachable": "The provider could not be reached (after any retries asked for).",
    TokenRequestFailed => "token_request_failed": "The provider's token endpoint refused the code or the refresh token, or could not be reached.",
    ConnectionRefreshFailed => "connection_refresh_failed": "The connection's token cannot be refreshed; the end user must authorize again.",
    UnknownAction => "unknown_action": "The connection's provider has no pre-built action with this name (`GET /scripts/config` lists them).",
    InvalidActionInput => "invalid_action_input": "The action's input is wrong; the message names the field (`properties.Status`) and what it takes.",
    ProviderError => "provider_error": "The provider refused a call the action made; `payload` keeps its status, code and message.",
    UnknownSync => "unknown_sync": "The integration's provider has no sync with this name, or the connection has no such variant of it; the message lists the syncs.",
    UnknownWebhookDelivery => "unknown_webhook_delivery": "No webhook delivery has this id in the environment.",
    UnknownFileLink => "unknown_file_link": "A `/files/` link that Ferry did not make, or that was cut short.",
    NotFound => "not_found": "No asynchronous action run has this id in the environment, or it has not ended yet (Nango answers the same: poll again).",
    ActionInterrupted => "action_interrupted": "An asynchronous action ran past its 15-minute limit, or stopped with the process running it more often than its retries allow.",
    InternalError => "internal_error": "Ferry failed; the message and the `x-ferry-error-id` header carry an error id under which Ferry's log holds the cause.",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure with a stable code and a message a person can act on. For
/// [`ErrorCode::InternalError`] the message and source are for the operator's log only.
#[derive(Debug)]
pub struct EngineError {
    code: ErrorCode,
    message: String,
    source: Option<Source>,
    payload: Option<serde_json::Value>,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> EngineError {
        EngineError {
            code,
            message: message.into(),
            source: None,
            payload: None,
        }
    }

    /// Details for the caller beside the message (a provider's own error, say).
    pub fn with_payload(mut self, payload: serde_json::Value) -> EngineError {
        self.payload = Some(payload);
        self
    }

    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.payload.as_ref()
    }

    /// An internal failure: `context` says what Ferry was doing, `source` why it failed.
    pub fn internal(context: impl Into<String>, source: impl Into<Source>) -> EngineError {
        EngineError {
            code: ErrorCode::InternalError,
            message: context.into(),
            source: Some(source.into()),
            payload: None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message and every cause below it, for the operator's log.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|s| s as _);
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl From<crate::storage::StorageError> for EngineError {
    fn from(e: crate::storage::StorageError) -> Self {
        EngineError::internal("the database failed", e)
    }
}

impl From<crate::crypto::CryptoError> for EngineError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        EngineError::internal("a stored secret could not be opened", e)
    }
}

pub type EngineResult<T> = Result<T, EngineError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }

    #[test]
    fn the_chain_holds_every_cause() {
        let io = std::io::Error::other("disk full");
        let e = EngineError::internal("writing a log", io);
        assert_eq!(e.chain(), "writing a log: disk full");
        assert_eq!(e.code(), ErrorCode::InternalError);
    }
}
