//! Notion's error model: the JSON error body, its codes and their HTTP statuses.
//!
//! Every failure an API handler can produce is a [`NotionError`]; it renders exactly as
//! Notion's `{"object":"error",...}` body so that SDKs recognise the `code`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered in Notion's wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct NotionError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub additional_data: Option<Value>,
    pub retry_after: Option<u64>,
}

impl NotionError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            additional_data: None,
            retry_after: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_error", message)
    }

    /// A body-validation failure in Notion's path style.
    pub fn body_validation(message: impl AsRef<str>) -> Self {
        Self::validation(format!("body failed validation: {}", message.as_ref()))
    }

    pub fn invalid_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Error parsing JSON body.",
        )
    }

    pub fn invalid_request_url() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_url",
            "Invalid request URL.",
        )
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn missing_version() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API token is invalid.",
        )
    }

    pub fn restricted() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "restricted_resource",
            "API token does not have access to this resource.",
        )
    }

    /// `kind` is the object noun Notion uses in the message: page, block, database, ...
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "object_not_found",
            format!(
                "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
        );
        error.additional_data = Some(json!({ "rate_limit_reason": "integration_rate_limit" }));
        error.retry_after = Some(retry_after_secs);
        error
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict_error", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "validation_error",
            format!("Request body too large: the limit is {} KB.", limit / 1000),
        )
    }

    pub fn invalid_grant(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", message)
    }

    /// The default error code Notion uses for a given HTTP status, for injected faults.
    pub fn default_code_for(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "validation_error",
            401 => "unauthorized",
            403 => "restricted_resource",
            404 => "object_not_found",
            409 => "conflict_error",
            429 => "rate_limited",
            503 => "service_unavailable",
            504 => "gateway_timeout",
            529 => "service_overload",
            _ => "internal_server_error",
        }
    }

    pub fn body(&self, request_id: &str) -> Value {
        let mut body = json!({
            "object": "error",
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(data) = &self.additional_data {
            body["additional_data"] = data.clone();
        }
        body
    }
}

impl std::fmt::Display for NotionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for NotionError {}

impl IntoResponse for NotionError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut response = (self.status, axum::Json(self.body(&request_id))).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-notion-request-id", value);
        }
        if let Some(secs) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, NotionError>;
