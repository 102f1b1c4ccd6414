//! The provider client: the one road to a provider for every caller (the proxy, the typed
//! clients of actions and syncs, later user functions). For one call on one connection it
//! waits for the connection's pacer, sends with the connection's token and the integration's
//! default version header, classifies the answer, holds the pacer for `Retry-After` and
//! retries rate limits, retries network errors and 5xx as asked (idempotent methods only),
//! refreshes the token once on 401, and records every attempt in the caller's operation.
//!
//! Everything that comes back from the provider is untrusted: headers are parsed without
//! panicking (`Retry-After: 1e400`), bodies read into memory are capped.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_provider::{ProviderEntry, Request, Response, Transport, TransportError};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

use crate::connections::{Connection, Connections};
use crate::credentials::Credentials;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::integrations::{Integration, Integrations};
use crate::logs::{LoggedHeaders, Logs, OperationKind, Recorder, redact_url, text_for_log};
use crate::pacer::{Pacer, Pacers};
use crate::providers::{self, Endpoints};
use crate::settings::Settings;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A body streamed to or from a provider.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A request body: empty, held in memory (so a retry can send it again), or streamed once.
pub enum CallBody {
    Empty,
    Buffered(Bytes),
    Stream(BodyStream),
}

/// A response body: held in memory, or streamed from the provider.
pub enum ResponseBody {
    Buffered(Bytes),
    Stream(BodyStream),
}

/// The provider's answer, with the headers that may be passed on.
pub struct CallResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: ResponseBody,
}

/// One call to a connection's provider.
pub(crate) struct Call {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers to send besides authorization and the default version header.
    pub headers: HeaderMap,
    pub body: CallBody,
    /// Further attempts for network errors, 5xx (idempotent methods) and `retry_on`.
    pub retries: u32,
    pub retry_on: Vec<u16>,
}

/// Rate-limit answers (429, 529) are retried at least this many times, whatever `retries` says.
pub const RATE_LIMIT_RETRIES: u32 = 5;
/// The longest wait a `Retry-After` can impose.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// The largest answer a typed client reads into memory.
const MAX_TYPED_RESPONSE: usize = 64 * 1024 * 1024;
/// Further attempts a typed client's calls get on network errors and 5xx.
const TYPED_CLIENT_RETRIES: u32 = 3;

/// Headers that describe one hop and are never passed on.
pub const HOP_BY_HOP: &[&str] = &[
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

/// A connection ready to be called: its credentials, integration, endpoints and pacer.
pub(crate) struct ResolvedConnection {
    pub entry: Arc<(Connection, Credentials)>,
    pub integration: Arc<Integration>,
    pub endpoints: Endpoints,
    pub pacer: Arc<Pacer>,
}

impl ResolvedConnection {
    pub fn provider(&self) -> &'static ProviderEntry {
        self.integration.provider
    }
}

#[derive(Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
    connections: Connections,
    integrations: Integrations,
    pacers: Arc<Pacers>,
    settings: Arc<Settings>,
    logs: Logs,
}

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_RETRY_WAIT`]; `None` when
/// absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        if secs >= MAX_RETRY_WAIT.as_secs_f64() {
            return Some(MAX_RETRY_WAIT);
        }
        return Some(Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    Some(wait.min(MAX_RETRY_WAIT))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(8))).min(Duration::from_secs(10))
}

fn passed_on(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n.starts_with("access-control-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// One attempt as the operation log shows it. Durations run until the answer's head (or its
/// kept body).
#[derive(serde::Serialize)]
struct Exchange<'a> {
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

impl ProviderClient {
    pub(crate) fn new(
        http: reqwest::Client,
        connections: Connections,
        integrations: Integrations,
        settings: Arc<Settings>,
        logs: Logs,
    ) -> ProviderClient {
        ProviderClient {
            http,
            connections,
            integrations,
            pacers: Arc::default(),
            settings,
            logs,
        }
    }

    /// The connection with everything needed to call it, from the hot-path caches.
    pub(crate) async fn resolve(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
    ) -> EngineResult<ResolvedConnection> {
        let entry = self.connections.cached(environment, key, id).await?;
        let integration = self.integrations.cached(environment, key).await?;
        let endpoints =
            providers::endpoints(&self.settings, integration.provider, &integration.config);
        let pacer =
            self.pacers
                .for_connection(&entry.0.row_id, endpoints.pace.rate, endpoints.pace.burst);
        Ok(ResolvedConnection {
            entry,
            integration,
            endpoints,
            pacer,
        })
    }

    /// Sends `call`, retrying as its policy and the provider's answers say; records every
    /// attempt in `recorder`.
    pub(crate) async fn send(
        &self,
        connection: &ResolvedConnection,
        call: Call,
        recorder: &Mutex<Recorder>,
    ) -> EngineResult<CallResponse> {
        let provider = connection.provider();
        let mut credentials: Cow<'_, Credentials> = Cow::Borrowed(&connection.entry.1);
        let mut headers = call.headers;
        if let (Some(version), Some(default)) =
            (&provider.version_header, &connection.endpoints.api_version)
            && !headers.contains_key(version.name)
            && let Ok(value) = HeaderValue::from_str(default)
        {
            headers.insert(version.name, value);
        }
        let caller_sets_auth = headers.contains_key(http::header::AUTHORIZATION);
        let limit = self.settings.log_body_limit;
        let logged_url = redact_url(&call.url).into_owned();
        let (replayable, mut stream_body) = match call.body {
            CallBody::Empty => (Some(Bytes::new()), None),
            CallBody::Buffered(b) => (Some(b), None),
            CallBody::Stream(s) => (None, Some(s)),
        };
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let mut pending_wait = Duration::ZERO;
        loop {
            attempt += 1;
            if !pending_wait.is_zero() {
                tokio::time::sleep(pending_wait).await;
            }
            let paced = connection.pacer.acquire().await;
            let mut sent_headers = headers.clone();
            if !caller_sets_auth {
                let bearer = HeaderValue::from_str(&format!("Bearer {}", credentials.access_token))
                    .map_err(|e| {
                        EngineError::internal("the stored token is not a header value", e)
                    })?;
                sent_headers.insert(http::header::AUTHORIZATION, bearer);
            }
            let mut builder = self
                .http
                .request(call.method.clone(), &call.url)
                .headers(sent_headers.clone());
            let request_body = match (&replayable, stream_body.take()) {
                (Some(bytes), _) => {
                    if !bytes.is_empty() {
                        builder = builder.body(bytes.clone());
                    }
                    text_for_log(bytes, limit)
                }
                (None, Some(stream)) => {
                    builder = builder.body(reqwest::Body::wrap_stream(stream));
                    json!("[streamed]")
                }
                (None, None) => unreachable!("a streamed body is only sent once"),
            };
            let started = Instant::now();
            let sent = builder.send().await;
            let mut exchange = Exchange {
                attempt,
                method: call.method.as_str(),
                url: &logged_url,
                waited_ms: (pending_wait + paced).as_millis() as u64,
                request_headers: LoggedHeaders(&sent_headers),
                request_body,
                status: None,
                duration_ms: started.elapsed().as_millis() as u64,
                response_headers: None,
                response_body: None,
                error: None,
            };
            let can_resend = replayable.is_some();
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    let reason = describe(&e.without_url());
                    exchange.error = Some(reason.clone());
                    lock(recorder).exchange(&exchange);
                    if can_resend && idempotent(&call.method) && attempt <= call.retries {
                        pending_wait = backoff(attempt);
                        continue;
                    }
                    return Err(EngineError::new(
                        ErrorCode::ProxyUpstreamUnreachable,
                        format!("{} could not be reached: {reason}", provider.display_name),
                    ));
                }
            };
            let status = response.status().as_u16();
            let headers_out = passed_on(response.headers());
            exchange.status = Some(status);
            exchange.response_headers = Some(LoggedHeaders(&headers_out));
            let wait = retry_after(response.headers());
            let rate_limited = provider.rate_limited_statuses.contains(&status);
            if rate_limited {
                connection
                    .pacer
                    .hold(wait.unwrap_or(Duration::from_secs(1)));
            }
            let retry = can_resend
                && ((rate_limited && attempt <= call.retries.max(RATE_LIMIT_RETRIES))
                    || (attempt <= call.retries
                        && (call.retry_on.contains(&status)
                            || (status >= 500 && !rate_limited && idempotent(&call.method)))));
            let refresh = status == 401
                && !refreshed
                && can_resend
                && !caller_sets_auth
                && credentials.refresh_token.is_some();
            if retry || refresh {
                let bytes = read_capped(response, limit).await;
                exchange.duration_ms = started.elapsed().as_millis() as u64;
                exchange.response_body = Some(text_for_log(&bytes, limit));
                lock(recorder).exchange(&exchange);
                if refresh {
                    refreshed = true;
                    let renewed = self
                        .connections
                        .refresh(&connection.entry.0, Some(&credentials.access_token))
                        .await?;
                    credentials = Cow::Owned(renewed);
                    pending_wait = Duration::ZERO;
                } else {
                    // The pacer already waits out a rate limit's Retry-After.
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
                let bytes = read_capped(response, limit).await;
                exchange.response_body = Some(text_for_log(&bytes, limit));
                ResponseBody::Buffered(Bytes::from(bytes))
            } else {
                let size = response
                    .content_length()
                    .map_or("streamed".to_string(), |n| format!("{n} bytes"));
                exchange.response_body = Some(json!(format!("[{size}, not kept]")));
                ResponseBody::Stream(Box::pin(
                    response.bytes_stream().map_err(|e| Box::new(e) as BoxError),
                ))
            };
            exchange.duration_ms = started.elapsed().as_millis() as u64;
            lock(recorder).exchange(&exchange);
            return Ok(CallResponse {
                status,
                headers: headers_out,
                body,
            });
        }
    }

    /// A transport for a typed provider client, calling one connection and recording every
    /// call under one operation of `kind`. End it with [`ConnectionTransport::finish`].
    pub async fn transport(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
        kind: OperationKind,
    ) -> EngineResult<ConnectionTransport> {
        let connection = self.resolve(environment, key, id).await?;
        let recorder = self.logs.recorder(environment, kind, Some(key), Some(id));
        Ok(ConnectionTransport {
            client: self.clone(),
            connection,
            recorder: Mutex::new(recorder),
        })
    }
}

/// An error and its causes, on one line (reqwest's own text stops at "error sending request").
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn lock(recorder: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    recorder.lock().unwrap_or_else(|e| e.into_inner())
}

/// The body, up to `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// A connection's [`Transport`]: the provider client under a typed client.
pub struct ConnectionTransport {
    client: ProviderClient,
    connection: ResolvedConnection,
    recorder: Mutex<Recorder>,
}

impl ConnectionTransport {
    /// The version header value the integration calls with, when the provider has one.
    pub fn api_version(&self) -> Option<&str> {
        self.connection.endpoints.api_version.as_deref()
    }

    /// Ends the operation the calls were recorded under.
    pub fn finish(self, success: bool, message: impl Into<Option<String>>) {
        let recorder = self
            .recorder
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        recorder.finish(success, message);
    }

    pub fn operation_id(&self) -> crate::ids::OperationId {
        lock(&self.recorder).id()
    }
}

impl Transport for ConnectionTransport {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let path = if request.path.starts_with('/') {
            request.path
        } else {
            format!("/{}", request.path)
        };
        let call = Call {
            method: request.method,
            url: format!("{}{path}", self.connection.endpoints.base_url),
            headers: request.headers,
            body: request.body.map_or(CallBody::Empty, CallBody::Buffered),
            retries: TYPED_CLIENT_RETRIES,
            retry_on: Vec::new(),
        };
        let answer = self
            .client
            .send(&self.connection, call, &self.recorder)
            .await
            .map_err(|e| match e.code() {
                ErrorCode::ProxyUpstreamUnreachable => {
                    TransportError::Unreachable(e.message().to_string())
                }
                code => TransportError::Connection {
                    code: code.as_str(),
                    message: e.message().to_string(),
                },
            })?;
        let body = match answer.body {
            ResponseBody::Buffered(bytes) => bytes,
            ResponseBody::Stream(mut stream) => {
                let mut out = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| TransportError::Unreachable(e.to_string()))?;
                    if out.len() + chunk.len() > MAX_TYPED_RESPONSE {
                        return Err(TransportError::Unreachable(format!(
                            "the answer is larger than {MAX_TYPED_RESPONSE} bytes"
                        )));
                    }
                    out.extend_from_slice(&chunk);
                }
                Bytes::from(out)
            }
        };
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_never_panics_and_is_capped() {
        for (value, want) in [
            ("2", Some(Duration::from_secs(2))),
            ("0.5", Some(Duration::from_millis(500))),
            ("inf", Some(MAX_RETRY_WAIT)),
            ("1e400", Some(MAX_RETRY_WAIT)),
            ("99999999999999999999999", Some(MAX_RETRY_WAIT)),
            ("-3", None),
            ("NaN", None),
            ("soon", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(Duration::ZERO)),
        ] {
            assert_eq!(retry_after(&with_retry_after(value)), want, "{value}");
        }
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
