//! What can go wrong calling Notion, with Notion's own code and message kept.

use ferry_provider::{Response, TransportError};
use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error)]
pub enum NotionError {
    /// Notion answered with an error (after the transport's retries).
    #[error("Notion answered {status} {code}: {message}")]
    Api {
        status: u16,
        /// Notion's code (`object_not_found`, `validation_error`, …), or `http_<status>` when
        /// the body was not Notion's error shape (an HTML page from its edge, say).
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The call got no answer.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A successful answer that is not the shape the endpoint documents.
    #[error("Notion's answer to {endpoint} could not be read: {message}")]
    Decode { endpoint: String, message: String },
    /// An id that cannot be part of a Notion URL; nothing was sent.
    #[error("`{id}` is not a valid Notion {what} id")]
    InvalidId { what: &'static str, id: String },
}

impl NotionError {
    /// Notion's error code, when Notion answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            NotionError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Reads an error answer: Notion's `{object:"error", code, message}`, the OAuth style
    /// `{error, error_description}`, or anything else (kept short and printable).
    pub(crate) fn from_response(response: &Response) -> NotionError {
        let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_string);
        let code = text("code").or_else(|| text("error"));
        let message = text("message").or_else(|| text("error_description"));
        let request_id = text("request_id").or_else(|| {
            response
                .headers
                .get("x-notion-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
        match code {
            Some(code) => NotionError::Api {
                status: response.status,
                code: printable(&code, 100),
                message: printable(&message.unwrap_or_default(), 2000),
                request_id,
            },
            None => NotionError::Api {
                status: response.status,
                code: format!("http_{}", response.status),
                message: printable(&String::from_utf8_lossy(&response.body), 300),
                request_id,
            },
        }
    }
}

/// Upstream text cut to `limit` characters, without control characters.
fn printable(text: &str, limit: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn error_bodies_of_every_kind() {
        let e = NotionError::from_response(&answer(
            404,
            r#"{"object":"error","status":404,"code":"object_not_found","message":"Could not find page","request_id":"r1"}"#,
        ));
        assert_eq!(e.code(), Some("object_not_found"));
        assert!(e.to_string().contains("Could not find page"));
        let e = NotionError::from_response(&answer(
            400,
            r#"{"error":"invalid_grant","error_description":"bad code"}"#,
        ));
        assert_eq!(e.code(), Some("invalid_grant"));
        let e = NotionError::from_response(&answer(502, "<html>\n<b>Bad gateway</b></html>"));
        assert_eq!(e.code(), Some("http_502"));
        assert!(!e.to_string().contains('\n'));
    }
}
