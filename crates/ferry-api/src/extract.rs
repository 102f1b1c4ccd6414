//! Reading requests at the edge: JSON bodies (size-capped, required where Nango requires
//! them, errors naming the field), query strings (unknown parameters refused) and headers
//! (empty means absent; non-ASCII is refused with the header's name).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ferry_engine::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// The largest JSON body a route accepts.
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// A required JSON body, parsed into `T`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "This route needs a JSON body.",
            ));
        }
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON with the path of the failing field in the message.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("The body is not valid: {inner}")
        } else {
            format!("The body is not valid: {path}: {inner}")
        };
        ApiError::new(ErrorCode::InvalidBody, message)
    })
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The body is larger than {MAX_JSON_BODY} bytes."),
        )
    } else {
        ApiError::new(
            ErrorCode::InvalidBody,
            format!("The body could not be read: {}", rejection.body_text()),
        )
    }
}

/// The query string's parameters, taken one by one; [`QueryParams::finish`] refuses any
/// left over, so a misspelt parameter is an error rather than silently ignored.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidQueryParams,
                "The query string is malformed.",
            )
        })?;
        Ok(QueryParams { pairs })
    }
}

fn invalid_param(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidQueryParams, format!("{name}: {message}"))
}

impl QueryParams {
    /// The last value of `name` (empty means absent).
    pub fn take(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.pairs.retain(|(k, v)| {
            if k == name {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        found.filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k == name {
                found.push(v.clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// Every `prefix[key]=value`, as (key, value).
    pub fn take_bracketed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        self.pairs.retain(|(k, v)| {
            let key = k
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.strip_suffix(']'));
            match key {
                Some(key) => {
                    found.push((key.to_string(), v.clone()));
                    false
                }
                None => true,
            }
        });
        found
    }

    pub fn take_flag(&mut self, name: &str) -> ApiResult<bool> {
        match self.take(name).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(_) => Err(invalid_param(name, "must be true or false")),
        }
    }

    pub fn take_number(&mut self, name: &str, min: u32, max: u32) -> ApiResult<Option<u32>> {
        self.take(name)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        invalid_param(name, format!("must be a whole number from {min} to {max}"))
                    })
            })
            .transpose()
    }

    /// Parses a value with `parse`, naming the parameter in its error.
    pub fn take_parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> ApiResult<Option<T>> {
        self.take(name)
            .map(|v| parse(&v).map_err(|e| invalid_param(name, e)))
            .transpose()
    }

    /// Refuses parameters nobody took.
    pub fn finish(self) -> ApiResult<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((name, _)) => Err(invalid_param(name, "is not a parameter of this route")),
        }
    }
}

/// A header's value: `None` when absent or empty; an error naming it when it is not text.
pub fn header(headers: &HeaderMap, name: &str) -> ApiResult<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidHeaders,
                    format!("The `{name}` header must be visible ASCII text."),
                )
            })?;
            let text = text.trim();
            Ok((!text.is_empty()).then(|| text.to_string()))
        }
    }
}

/// A header that must be present.
pub fn required_header(headers: &HeaderMap, name: &str) -> ApiResult<String> {
    header(headers, name)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingHeaders,
            format!("The `{name}` header is required."),
        )
    })
}

/// A header value refused, with the header named.
pub fn invalid_header(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidHeaders, format!("{name}: {message}"))
}

/// The connection a call names through Nango's `Connection-Id` and `Provider-Config-Key`.
pub fn connection_headers(
    headers: &HeaderMap,
) -> ApiResult<(
    ferry_engine::ids::IntegrationKey,
    ferry_engine::ids::ConnectionId,
)> {
    let connection =
        ferry_engine::ids::ConnectionId::parse(&required_header(headers, "Connection-Id")?)
            .map_err(|e| invalid_header("Connection-Id", e))?;
    let key =
        ferry_engine::ids::IntegrationKey::parse(&required_header(headers, "Provider-Config-Key")?)
            .map_err(|e| invalid_header("Provider-Config-Key", e))?;
    Ok((key, connection))
}
