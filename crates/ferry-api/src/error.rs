//! Engine errors → HTTP: status codes and Nango's `{"error":{"code","message"}}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_engine::{EngineError, ErrorKind};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError(pub EngineError);

impl ApiError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError(EngineError::invalid(code, message))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError(e)
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.0.code, "message": self.0.message}});
        (status_of(self.0.kind), axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
