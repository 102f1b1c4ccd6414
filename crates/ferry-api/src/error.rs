//! Engine errors → HTTP: the one table of error codes and their statuses, and Nango's
//! `{"error":{"code","message"}}` body. A 500 says `internal_error` with an error id; the
//! whole error chain is in Ferry's log under that id, and no internal detail reaches the
//! caller.

use std::any::Any;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::{EngineError, ErrorCode};
use serde_json::json;

/// The status each error code answers with. The match is exhaustive, so a new code cannot
/// be added without a status; `docs/api.md` lists the same table (a test compares them).
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidBody
        | InvalidQueryParams
        | InvalidUriParams
        | InvalidHeaders
        | MissingHeaders
        | InvalidProvider
        | InvalidBaseUrlOverride
        | MissingClientCredentials
        | CannotDeleteProdEnvironment
        | AccessDenied
        | AuthorizationFailed
        | MissingCode
        | StateCookieMismatch
        | InvalidState
        | InvalidActionInput => StatusCode::BAD_REQUEST,
        UnknownAccount | InvalidConnectSessionToken => StatusCode::UNAUTHORIZED,
        Forbidden | BaseUrlOverrideNotAllowed | IntegrationNotAllowed => StatusCode::FORBIDDEN,
        UnknownRoute
        | UnknownProvider
        | UnknownProviderConfig
        | UnknownConnection
        | UnknownEnvironment
        | UnknownApiKey
        | UnknownLog
        | UnknownAction
        | UnknownSync
        | UnknownWebhookDelivery
        | UnknownFileLink
        | NotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        DuplicateIntegration | DuplicateEnvironment => StatusCode::CONFLICT,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ProxyUpstreamUnreachable | TokenRequestFailed | ConnectionRefreshFailed | ProviderError => {
            StatusCode::BAD_GATEWAY
        }
        ActionInterrupted => StatusCode::SERVICE_UNAVAILABLE,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Debug)]
pub struct ApiError(pub EngineError);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(EngineError::new(code, message))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError(e)
    }
}

/// Logs an internal failure under a new error id and returns the id.
fn log_internal(chain: &str) -> String {
    let error_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(error_id = %error_id, error = %chain, "internal error");
    error_id
}

fn internal_response(error_id: &str) -> Response {
    let body = json!({"error": {
        "code": ErrorCode::InternalError.as_str(),
        "message": format!("Ferry failed while handling this call. Its operator can find the cause in Ferry's log under error id {error_id}."),
    }});
    let mut response = (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(error_id) {
        response.headers_mut().insert("x-ferry-error-id", value);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        if code == ErrorCode::InternalError {
            return internal_response(&log_internal(&self.0.chain()));
        }
        let mut body = json!({"error": {"code": code.as_str(), "message": self.0.message()}});
        if let Some(payload) = self.0.payload() {
            body["error"]["payload"] = payload.clone();
        }
        (status_of(code), axum::Json(body)).into_response()
    }
}

/// The answer to a handler that panicked: an `internal_error` like any other, logged.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    internal_response(&log_internal(&format!(
        "a request handler panicked: {detail}"
    )))
}

pub type ApiResult<T> = Result<T, ApiError>;
