//! The proxy: a caller's request to `/proxy/*` sent to Notion with the connection's token,
//! through the connection's pacer, with `Retry-After` honoured and retries as asked.
//!
//! Request bodies up to [`REPLAYABLE_BODY`] are held so a retry can resend them; larger or
//! unsized bodies stream through and are sent once. Response bodies stream back; only small
//! ones are also kept for the operation log.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{Value, json};

use crate::credentials::Credentials;
use crate::logs::{LoggedHeaders, Recorder, text_for_log};
use crate::{Engine, EngineError, EngineResult, ErrorKind, providers};

/// Request bodies up to this size are kept so they can be sent again on a retry.
pub const REPLAYABLE_BODY: usize = 1024 * 1024;
/// Rate-limit answers (429, 529) are retried at least this many times, whatever `Retries` says.
pub const RATE_LIMIT_RETRIES: u32 = 5;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

pub enum RequestBody {
    Empty,
    Buffered(Bytes),
    Stream(reqwest::Body),
}

pub struct ProxyRequest {
    pub environment_id: String,
    pub method: Method,
    /// What followed `/proxy`, with its query string, e.g. `/v1/users?page_size=10`.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: RequestBody,
}

pub enum ResponseBody {
    Buffered(Bytes),
    Stream(reqwest::Response),
}

pub struct ProxyResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: ResponseBody,
}

/// One attempt of a proxy call as its operation log shows it. Response headers are those
/// passed on to the caller; durations run until the answer's head (or its kept body).
#[derive(serde::Serialize)]
struct ProxyExchange<'a> {
    attempt: u32,
    method: &'a str,
    url: &'a str,
    waited_ms: u64,
    request_headers: LoggedHeaders<'a>,
    request_body: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_headers: Option<LoggedHeaders<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Headers that describe one hop and are not passed on (requests also drop their length,
/// which the client recomputes).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn missing(name: &str) -> EngineError {
    EngineError::invalid(
        "missing_headers",
        format!("The `{name}` header is required."),
    )
}

/// Parsed `Retries` and `Retry-On`.
struct RetryPolicy {
    retries: u32,
    retry_on: Vec<u16>,
}

fn retry_policy(headers: &HeaderMap) -> EngineResult<RetryPolicy> {
    let retries = match header(headers, "retries") {
        Some(v) => v.parse::<u32>().ok().filter(|r| *r <= 10).ok_or_else(|| {
            EngineError::invalid(
                "invalid_headers",
                "Retries must be a whole number from 0 to 10.",
            )
        })?,
        None => 0,
    };
    let retry_on = match header(headers, "retry-on") {
        Some(v) => v
            .split(',')
            .map(|s| {
                s.trim().parse::<u16>().map_err(|_| {
                    EngineError::invalid(
                        "invalid_headers",
                        "Retry-On must be a comma-separated list of status codes.",
                    )
                })
            })
            .collect::<EngineResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(RetryPolicy { retries, retry_on })
}

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// `Retry-After` as whole seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)).min(MAX_RETRY_WAIT));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&value).ok()?;
    let wait = (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    Some(wait.min(MAX_RETRY_WAIT))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(8))).min(Duration::from_secs(10))
}

impl Engine {
    /// The base URL a call goes to: the integration's Notion base, or an allowed override.
    fn upstream_base(&self, api_base: &str, override_url: Option<String>) -> EngineResult<String> {
        let Some(raw) = override_url else {
            return Ok(api_base.to_string());
        };
        let parsed = url::Url::parse(&raw).map_err(|_| {
            EngineError::invalid(
                "invalid_base_url_override",
                format!("Base-Url-Override `{raw}` is not a URL."),
            )
        })?;
        let provider_host = url::Url::parse(api_base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_lowercase));
        let host = parsed.host_str().map(str::to_lowercase).unwrap_or_default();
        let allowed = Some(&host) == provider_host.as_ref()
            || self.settings.proxy_allowed_hosts.contains(&host);
        if !matches!(parsed.scheme(), "http" | "https") || !allowed {
            return Err(EngineError::new(
                ErrorKind::Forbidden,
                "base_url_override_not_allowed",
                format!(
                    "Base-Url-Override may only name the provider's host or a host in FERRY_PROXY_ALLOWED_HOSTS, not `{host}`."
                ),
            ));
        }
        Ok(raw.trim_end_matches('/').to_string())
    }

    pub async fn proxy(&self, request: ProxyRequest) -> EngineResult<ProxyResponse> {
        let connection_id =
            header(&request.headers, "connection-id").ok_or_else(|| missing("Connection-Id"))?;
        let key = header(&request.headers, "provider-config-key")
            .ok_or_else(|| missing("Provider-Config-Key"))?;
        let policy = retry_policy(&request.headers)?;
        let cached = self
            .cached_connection(&request.environment_id, &key, &connection_id)
            .await?;
        let row = &cached.0;
        let mut credentials = std::borrow::Cow::Borrowed(&cached.1);
        let integration = self
            .cached_integration(&request.environment_id, &key)
            .await?;
        let endpoints = providers::notion_endpoints(&self.settings, &integration.config);
        let base = self.upstream_base(
            &endpoints.api_base,
            header(&request.headers, "base-url-override"),
        )?;
        let path = request
            .path_and_query
            .strip_prefix(&base)
            .unwrap_or(&request.path_and_query);
        let url = format!(
            "{base}{}{path}",
            if path.starts_with('/') { "" } else { "/" }
        );
        let pacer = self
            .pacers
            .for_connection(&row.connection.id, endpoints.rate, endpoints.burst);

        let mut upstream_headers = reqwest::header::HeaderMap::new();
        upstream_headers.insert(
            "notion-version",
            HeaderValue::from_str(&endpoints.version).map_err(|_| {
                EngineError::invalid(
                    "invalid_integration_config",
                    "notion_version is not a valid header value",
                )
            })?,
        );
        for name in ["content-type", "accept", "accept-encoding"] {
            if let Some(v) = request.headers.get(name) {
                upstream_headers.insert(HeaderName::from_static(name), v.clone());
            }
        }
        for (name, value) in &request.headers {
            if let Some(stripped) = name.as_str().strip_prefix("nango-proxy-") {
                if HOP_BY_HOP.contains(&stripped) || stripped == "content-length" {
                    continue;
                }
                if let Ok(n) = HeaderName::from_bytes(stripped.as_bytes()) {
                    upstream_headers.insert(n, value.clone());
                }
            }
        }
        let caller_sets_auth = upstream_headers.contains_key("authorization");

        let mut recorder = Recorder::start(
            &request.environment_id,
            "proxy",
            Some(&key),
            Some(&connection_id),
        );
        recorder.op.message = Some(format!("{} {url}", request.method));
        let limit = self.settings.log_body_limit;
        let (replayable, mut stream_body) = match request.body {
            RequestBody::Empty => (Some(Bytes::new()), None),
            RequestBody::Buffered(b) => (Some(b), None),
            RequestBody::Stream(s) => (None, Some(s)),
        };
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let mut pending_wait = Duration::ZERO;
        loop {
            attempt += 1;
            if !pending_wait.is_zero() {
                tokio::time::sleep(pending_wait).await;
            }
            let paced = pacer.acquire().await;
            let mut headers = upstream_headers.clone();
            if !caller_sets_auth {
                let bearer = HeaderValue::from_str(&format!("Bearer {}", credentials.access_token))
                    .map_err(|_| {
                        EngineError::new(
                            ErrorKind::Internal,
                            "server_error",
                            "stored token is not a valid header value",
                        )
                    })?;
                headers.insert("authorization", bearer);
            }
            let mut builder = self
                .http
                .request(request.method.clone(), &url)
                .headers(headers.clone());
            let request_body = match (&replayable, stream_body.take()) {
                (Some(bytes), _) => {
                    if !bytes.is_empty() {
                        builder = builder.body(bytes.clone());
                    }
                    text_for_log(bytes, limit)
                }
                (None, Some(stream)) => {
                    builder = builder.body(stream);
                    json!("[streamed]")
                }
                (None, None) => unreachable!("a streamed body is only sent once"),
            };
            let started = Instant::now();
            let sent = builder.send().await;
            let mut exchange = ProxyExchange {
                attempt,
                method: request.method.as_str(),
                url: &url,
                waited_ms: (pending_wait + paced).as_millis() as u64,
                request_headers: LoggedHeaders(&headers),
                request_body,
                status: None,
                duration_ms: started.elapsed().as_millis() as u64,
                response_headers: None,
                response_body: None,
                error: None,
            };
            let can_resend = replayable.is_some();
            match sent {
                Err(e) => {
                    exchange.error = Some(e.to_string());
                    recorder.exchange(&exchange);
                    if can_resend && idempotent(&request.method) && attempt <= policy.retries {
                        pending_wait = backoff(attempt);
                        continue;
                    }
                    recorder.finish(false, Some(format!("{} {url}: {e}", request.method)));
                    self.queue_operation(recorder);
                    return Err(EngineError::new(
                        ErrorKind::Upstream,
                        "proxy_upstream_unreachable",
                        format!("Notion could not be reached: {e}"),
                    ));
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let passed_on = response_headers(response.headers());
                    exchange.status = Some(status);
                    exchange.response_headers = Some(LoggedHeaders(&passed_on));
                    let wait = retry_after(response.headers());
                    let rate_limited = status == 429 || status == 529;
                    if rate_limited {
                        pacer.hold(wait.unwrap_or(Duration::from_secs(1)));
                    }
                    let retry = can_resend
                        && ((rate_limited && attempt <= policy.retries.max(RATE_LIMIT_RETRIES))
                            || (attempt <= policy.retries
                                && (policy.retry_on.contains(&status)
                                    || (status >= 500
                                        && !rate_limited
                                        && idempotent(&request.method)))));
                    let refresh = status == 401
                        && !refreshed
                        && can_resend
                        && !caller_sets_auth
                        && credentials.refresh_token.is_some();
                    if retry || refresh {
                        let bytes = response.bytes().await.unwrap_or_default();
                        exchange.duration_ms = started.elapsed().as_millis() as u64;
                        exchange.response_body = Some(text_for_log(&bytes, limit));
                        recorder.exchange(&exchange);
                        if refresh {
                            refreshed = true;
                            credentials = std::borrow::Cow::Owned(
                                self.refresh(row, Some(&credentials.access_token)).await?,
                            );
                            self.forget_cached_connection(
                                &request.environment_id,
                                &key,
                                &connection_id,
                            );
                            pending_wait = Duration::ZERO;
                        } else {
                            pending_wait = if rate_limited {
                                Duration::ZERO
                            } else {
                                wait.unwrap_or_else(|| backoff(attempt))
                            };
                        }
                        continue;
                    }
                    // Failed answers are kept for the log when small; successful ones stream.
                    let keep = status >= 400
                        && response
                            .content_length()
                            .is_some_and(|n| n as usize <= limit);
                    let body = if keep {
                        let bytes = response.bytes().await.unwrap_or_default();
                        exchange.response_body = Some(text_for_log(&bytes, limit));
                        ResponseBody::Buffered(bytes)
                    } else {
                        let size = response
                            .content_length()
                            .map_or("streamed".to_string(), |n| format!("{n} bytes"));
                        exchange.response_body = Some(json!(format!("[{size}, not kept]")));
                        ResponseBody::Stream(response)
                    };
                    exchange.duration_ms = started.elapsed().as_millis() as u64;
                    recorder.exchange(&exchange);
                    recorder.finish(
                        (200..400).contains(&status),
                        Some(format!("{} {url} → {status}", request.method)),
                    );
                    self.queue_operation(recorder);
                    return Ok(ProxyResponse {
                        status,
                        headers: passed_on,
                        body,
                    });
                }
            }
        }
    }

    /// The connection and its credentials, from a short-lived cache so a hot proxy path
    /// does not read and decrypt them on every call.
    async fn cached_connection(
        &self,
        environment_id: &str,
        key: &str,
        id: &str,
    ) -> EngineResult<std::sync::Arc<(ferry_store::connections::ConnectionRow, Credentials)>> {
        let cache_key = format!("{environment_id}\u{0}{key}\u{0}{id}");
        if let Some(hit) = self.connection_cache.get(&cache_key) {
            return Ok(hit);
        }
        let row = self.connection_row(environment_id, key, id).await?;
        let credentials = self.open_credentials(&row.connection.credentials_enc)?;
        let entry = std::sync::Arc::new((row, credentials));
        self.connection_cache.put(cache_key, entry.clone());
        Ok(entry)
    }

    pub fn forget_cached_connection(&self, environment_id: &str, key: &str, id: &str) {
        self.connection_cache
            .remove(&format!("{environment_id}\u{0}{key}\u{0}{id}"));
    }
}

fn response_headers(upstream: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n.starts_with("access-control-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}
