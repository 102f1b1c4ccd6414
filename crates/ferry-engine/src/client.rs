//! The provider client: the one road to a provider for every caller (the proxy, the typed
//! clients of actions and syncs, later user functions). For one call on one connection it
//! waits for the connection's pacer, sends with the connection's token and the integration's
//! default version header, classifies the answer, holds the pacer for `Retry-After` and
//! retries rate limits, retries network errors and 5xx as asked (idempotent methods only),
//! refreshes the token once on 401, and records every attempt in the caller's operation.
//!
//! Everything that comes back from the provider is untrusted: headers are parsed without
//! panicking (`Retry-After: 1e400`), bodies read into memory are capped.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_provider::{ProviderEntry, Request, Response, Transport, TransportError};
use futures_util::{Stream, TryStreamExt as _};
use http::{HeaderMap, HeaderName, Method, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Empty, Full, StreamBody};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::connections::{CallTarget, Connections};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::integrations::{IntegrationTarget, Integrations};
use crate::logs::{Logs, OperationKind, Recorder, SentHeaders, redact_url, text_for_log};
use crate::pacer::{MAX_RETRY_WAIT, Pacer, Pacers};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A request body streamed to a provider.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;
/// A response body streamed from a provider, frame by frame as it arrives.
pub type ProviderBody = UnsyncBoxBody<Bytes, BoxError>;

/// A request body: empty, held in memory (so a retry can send it again), or streamed once.
pub enum CallBody {
    Empty,
    Buffered(Bytes),
    Stream(BodyStream),
}

/// A response body: held in memory, or streamed from the provider.
pub enum ResponseBody {
    Buffered(Bytes),
    Streamed(ProviderBody),
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
/// The largest answer a typed client reads into memory.
const MAX_TYPED_RESPONSE: usize = 64 * 1024 * 1024;
/// Further attempts a typed client's calls get on network errors and 5xx.
const TYPED_CLIENT_RETRIES: u32 = 3;
/// Idle connections kept open to one provider host, ready for the next call.
const IDLE_CONNECTIONS_PER_HOST: usize = 128;

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

type OutgoingBody = UnsyncBoxBody<Bytes, BoxError>;
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, OutgoingBody>;

/// The HTTP client under every provider call: hyper's pooled client, used directly because
/// the proxy measured a third less CPU per call with it than through reqwest; TLS by rustls
/// with the platform's roots (as reqwest verifies), HTTP/2 when the provider offers it.
pub(crate) fn http_client() -> EngineResult<HttpClient> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let tls = rustls::ClientConfig::builder()
        .with_platform_verifier()
        .map_err(|e| EngineError::internal("loading the platform's TLS roots", e))?
        .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
        .build(connector))
}

/// A connection ready to be called: its credentials, integration, endpoints and pacer, all
/// from the hot caches.
pub(crate) struct ResolvedConnection {
    pub target: Arc<CallTarget>,
    pub integration: Arc<IntegrationTarget>,
    pub pacer: Arc<Pacer>,
}

impl ResolvedConnection {
    pub fn provider(&self) -> &'static ProviderEntry {
        self.integration.integration.provider
    }

    pub fn base_url(&self) -> &str {
        &self.integration.endpoints.base_url
    }
}

#[derive(Clone)]
pub struct ProviderClient {
    http: HttpClient,
    connections: Connections,
    integrations: Integrations,
    pacers: Arc<Pacers>,
    log_body_limit: usize,
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

/// Drops the headers that are not passed on: hop-by-hop ones and CORS headers (Ferry's
/// callers are servers; the provider's CORS answer is not theirs).
fn keep_passed_on(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
}

fn outgoing(body: &CallBody) -> Option<OutgoingBody> {
    match body {
        CallBody::Empty => Some(Empty::new().map_err(|never| match never {}).boxed_unsync()),
        CallBody::Buffered(bytes) => Some(
            Full::new(bytes.clone())
                .map_err(|never| match never {})
                .boxed_unsync(),
        ),
        CallBody::Stream(_) => None,
    }
}

/// One attempt as the operation log shows it. Durations run until the answer's head (or its
/// kept body).
#[derive(serde::Serialize)]
struct Exchange<'a> {
    attempt: u32,
    method: &'a str,
    url: &'a str,
    waited_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_headers: Option<SentHeaders<'a>>,
    request_body: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_headers: Option<SentHeaders<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ProviderClient {
    pub(crate) fn new(
        http: HttpClient,
        connections: Connections,
        integrations: Integrations,
        pacers: Pacers,
        log_body_limit: usize,
        logs: Logs,
    ) -> ProviderClient {
        ProviderClient {
            http,
            connections,
            integrations,
            pacers: Arc::new(pacers),
            log_body_limit,
            logs,
        }
    }

    /// The connection with everything needed to call it, from the hot caches.
    pub(crate) async fn resolve(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
    ) -> EngineResult<ResolvedConnection> {
        let integration = self.integrations.target(environment, key).await?;
        let target = self
            .connections
            .call_target(environment, &integration.integration, id)
            .await?;
        let pace = integration.endpoints.pace;
        let pacer = self
            .pacers
            .for_connection(&target.row_id, pace.rate, pace.burst);
        Ok(ResolvedConnection {
            target,
            integration,
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
        let mut headers = call.headers;
        if let Some((name, value)) = &connection.integration.version_header
            && !headers.contains_key(name)
        {
            headers.insert(name.clone(), value.clone());
        }
        let caller_sets_auth = headers.contains_key(http::header::AUTHORIZATION);
        let uri: Uri = call.url.parse().map_err(|_| {
            EngineError::new(
                ErrorCode::InvalidUriParams,
                format!(
                    "`{}` is not a URL that can be called",
                    redact_url(&call.url)
                ),
            )
        })?;
        let limit = self.log_body_limit;
        let logged_url = redact_url(&call.url).into_owned();
        let (replayable, mut stream_body) = match call.body {
            CallBody::Stream(stream) => (None, Some(stream)),
            replayable => (Some(replayable), None),
        };
        let logged_request_body = match &replayable {
            Some(CallBody::Buffered(bytes)) => text_for_log(bytes, limit),
            Some(_) => Value::Null,
            None => json!("[streamed]"),
        };
        let mut target: Arc<CallTarget> = connection.target.clone();
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
                sent_headers.insert(http::header::AUTHORIZATION, target.authorization.clone());
            }
            let body = match (replayable.as_ref().and_then(outgoing), stream_body.take()) {
                (Some(body), _) => body,
                (None, Some(stream)) => {
                    StreamBody::new(stream.map_ok(hyper::body::Frame::data)).boxed_unsync()
                }
                (None, None) => unreachable!("a streamed body is only sent once"),
            };
            let mut request = http::Request::new(body);
            *request.method_mut() = call.method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = sent_headers;
            let started = Instant::now();
            let sent = self.http.request(request).await;
            let mut exchange = Exchange {
                attempt,
                method: call.method.as_str(),
                url: &logged_url,
                waited_ms: (pending_wait + paced).as_millis() as u64,
                request_headers: Some(SentHeaders {
                    headers: &headers,
                    authorization: !caller_sets_auth,
                }),
                request_body: logged_request_body.clone(),
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
                    let reason = describe(&e);
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
            let (parts, incoming) = response.into_parts();
            let status = parts.status.as_u16();
            let mut headers_out = parts.headers;
            keep_passed_on(&mut headers_out);
            let wait = retry_after(&headers_out);
            let rate_limited = provider.rate_limited_statuses.contains(&status);
            if rate_limited {
                connection
                    .pacer
                    .hold(wait.unwrap_or(Duration::from_secs(1)))
                    .await;
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
                && target.credentials.refresh_token.is_some();
            let content_length = hyper::body::Body::size_hint(&incoming).exact();
            if retry || refresh {
                let bytes = read_capped(incoming, limit).await;
                exchange.status = Some(status);
                exchange.response_headers = Some(SentHeaders {
                    headers: &headers_out,
                    authorization: false,
                });
                exchange.duration_ms = started.elapsed().as_millis() as u64;
                exchange.response_body = Some(text_for_log(&bytes, limit));
                lock(recorder).exchange(&exchange);
                if refresh {
                    refreshed = true;
                    target = self
                        .connections
                        .refresh_target(&target, &connection.integration.integration)
                        .await?;
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
            exchange.status = Some(status);
            // Failed answers are kept for the log when small; successful ones stream.
            let keep = status >= 400 && content_length.is_some_and(|n| n as usize <= limit);
            let body = if keep {
                let bytes = read_capped(incoming, limit).await;
                exchange.response_body = Some(text_for_log(&bytes, limit));
                ResponseBody::Buffered(Bytes::from(bytes))
            } else {
                if status >= 400 || attempt > 1 {
                    let size =
                        content_length.map_or("streamed".to_string(), |n| format!("{n} bytes"));
                    exchange.response_body = Some(json!(format!("[{size}, not kept]")));
                }
                ResponseBody::Streamed(incoming.map_err(|e| Box::new(e) as BoxError).boxed_unsync())
            };
            exchange.duration_ms = started.elapsed().as_millis() as u64;
            if attempt == 1 && status < 400 {
                // The common case is logged slim: what was called and how it went.
                exchange.request_headers = None;
            } else {
                exchange.response_headers = Some(SentHeaders {
                    headers: &headers_out,
                    authorization: false,
                });
            }
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
        self.logs.wait_for_room().await;
        let recorder = self.logs.recorder(environment, kind, Some(key), Some(id));
        Ok(ConnectionTransport {
            client: self.clone(),
            connection,
            recorder: Mutex::new(recorder),
        })
    }
}

/// An error and its causes, on one line (hyper's own text stops at "client error (Connect)").
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
async fn read_capped(mut body: hyper::body::Incoming, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
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
    pub fn provider(&self) -> &'static ProviderEntry {
        self.connection.provider()
    }

    /// The version header value the integration calls with, when the provider has one.
    pub fn api_version(&self) -> Option<&str> {
        self.connection.integration.endpoints.api_version.as_deref()
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
            url: format!("{}{path}", self.connection.base_url()),
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
            ResponseBody::Streamed(mut body) => {
                let mut out = Vec::new();
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| TransportError::Unreachable(e.to_string()))?;
                    let Ok(chunk) = frame.into_data() else {
                        continue;
                    };
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
        headers.insert("retry-after", http::HeaderValue::from_str(value).unwrap());
        headers
    }

    /// https URLs are called over TLS (hyper's client alone would refuse or speak plain
    /// HTTP): the server side sees a TLS handshake record first.
    #[tokio::test]
    async fn https_calls_start_a_tls_handshake() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 3];
            socket.read_exact(&mut first).await.unwrap();
            first
        });
        let client = http_client().unwrap();
        let mut request = http::Request::new(outgoing(&CallBody::Empty).unwrap());
        *request.uri_mut() = format!("https://127.0.0.1:{port}/v1/users/me")
            .parse()
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), client.request(request)).await;
        assert!(matches!(answer, Ok(Err(_))), "the handshake cannot finish");
        // 0x16: a handshake record; 0x03: TLS.
        assert_eq!(&server.await.unwrap()[..2], &[0x16, 0x03]);
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
