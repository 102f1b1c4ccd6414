//! Requests to a provider's OAuth token endpoint (exchanging a code, refreshing a token), in
//! the style the provider's entry names, recorded in the calling operation with secrets
//! redacted.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use ferry_provider::TokenRequestStyle;
use serde_json::{Map, Value, json};

use crate::credentials::Credentials;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::integrations::{Integration, Integrations};
use crate::logs::{LoggedHeaders, Recorder, body_for_log};
use crate::providers;
use crate::settings::Settings;

/// A token request may take this long; the refresh lease outlives it.
pub(crate) const TOKEN_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest token response read.
const MAX_TOKEN_RESPONSE: usize = 256 * 1024;

#[derive(Clone)]
pub(crate) struct Tokens {
    pub(crate) http: reqwest::Client,
    pub(crate) integrations: Integrations,
    pub(crate) settings: Arc<Settings>,
}

impl Tokens {
    /// POSTs `grant` (the grant fields) to the integration's token endpoint with its client
    /// id and secret. The exchange is recorded; a non-2xx answer is an error that keeps the
    /// provider's code and message.
    pub(crate) async fn request(
        &self,
        integration: &Integration,
        grant: Map<String, Value>,
        recorder: &mut Recorder,
    ) -> EngineResult<Value> {
        let (client_id, client_secret) = self.integrations.client_id_and_secret(integration)?;
        let provider = integration.provider;
        let endpoints = providers::endpoints(&self.settings, provider, &integration.config);
        let mut request = self
            .http
            .post(&endpoints.token_url)
            .timeout(TOKEN_REQUEST_TIMEOUT);
        if let (Some(header), Some(version)) = (&provider.version_header, &endpoints.api_version) {
            request = request.header(header.name, version);
        }
        let (request, logged_body) = match provider.oauth.token_request {
            TokenRequestStyle::BasicAuthJsonBody => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{client_id}:{client_secret}"));
                let body = Value::Object(grant.clone());
                (
                    request
                        .header("authorization", format!("Basic {basic}"))
                        .header("content-type", "application/json")
                        .body(body.to_string()),
                    body,
                )
            }
            TokenRequestStyle::FormBody => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &grant {
                    form.append_pair(k, v.as_str().unwrap_or(&v.to_string()));
                }
                form.append_pair("client_id", &client_id);
                form.append_pair("client_secret", &client_secret);
                let mut logged = Value::Object(grant.clone());
                logged["client_id"] = json!(client_id);
                (
                    request
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.finish()),
                    logged,
                )
            }
        };
        // The authorization code is a one-time secret.
        let mut logged_body = logged_body;
        if logged_body.get("code").is_some() {
            logged_body["code"] = json!("[redacted]");
        }
        let started = Instant::now();
        let sent = request.send().await;
        let limit = self.settings.log_body_limit;
        let mut exchange = json!({
            "method": "POST",
            "url": endpoints.token_url,
            "attempt": 1,
            "request_headers": {"authorization": "[redacted]"},
            "request_body": body_for_log(logged_body.to_string().as_bytes(), limit),
        });
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                exchange["error"] = json!(e.to_string());
                exchange["duration_ms"] = json!(started.elapsed().as_millis() as u64);
                recorder.exchange(&exchange);
                return Err(EngineError::new(
                    ErrorCode::TokenRequestFailed,
                    format!("Could not reach the token endpoint: {e}"),
                ));
            }
        };
        let status = response.status().as_u16();
        exchange["status"] = json!(status);
        exchange["response_headers"] =
            serde_json::to_value(LoggedHeaders(response.headers())).unwrap_or(Value::Null);
        let bytes = read_limited(response, MAX_TOKEN_RESPONSE).await;
        exchange["duration_ms"] = json!(started.elapsed().as_millis() as u64);
        exchange["response_body"] = body_for_log(&bytes, limit);
        recorder.exchange(&exchange);
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(short);
            let code = text("code")
                .or_else(|| text("error"))
                .unwrap_or_else(|| "unknown".into());
            let detail = text("message")
                .or_else(|| text("error_description"))
                .unwrap_or_default();
            return Err(EngineError::new(
                ErrorCode::TokenRequestFailed,
                format!("The token endpoint answered {status} {code}: {detail}"),
            ));
        }
        Ok(parsed)
    }
}

/// Upstream text for a message: short and printable.
fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// The body, up to `limit` bytes (a longer one is cut: it is not a token response).
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            out.truncate(limit);
            break;
        }
    }
    out
}

/// Credentials from a token response; `previous_refresh` is kept when none is returned.
/// The response is untrusted: a missing token or a wild `expires_in` is an error or ignored,
/// never a panic.
pub(crate) fn credentials_from_token_response(
    response: Value,
    previous_refresh: Option<String>,
) -> EngineResult<Credentials> {
    let access = response
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 8192)
        .ok_or_else(|| {
            EngineError::new(
                ErrorCode::TokenRequestFailed,
                "The token response has no access_token.",
            )
        })?;
    let refresh = response
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or(previous_refresh);
    let expires_at = response
        .get("expires_in")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0)
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .map(crate::time::ts);
    Ok(Credentials::oauth2(
        access.to_string(),
        refresh,
        expires_at,
        response,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_are_read_defensively() {
        let c = credentials_from_token_response(
            json!({"access_token": "a", "expires_in": i64::MAX}),
            Some("r".into()),
        )
        .unwrap();
        assert_eq!(c.refresh_token.as_deref(), Some("r"));
        assert_eq!(c.expires_at, None, "an impossible expiry is ignored");
        let c = credentials_from_token_response(
            json!({"access_token": "a", "refresh_token": "r2", "expires_in": 3600}),
            Some("r".into()),
        )
        .unwrap();
        assert_eq!(c.refresh_token.as_deref(), Some("r2"));
        assert!(c.expires_at.is_some());
        assert!(credentials_from_token_response(json!({"access_token": ""}), None).is_err());
        assert!(credentials_from_token_response(json!("nope"), None).is_err());
    }
}
