//! The contract between Ferry's engine and a provider crate (such as `ferry-notion`).
//!
//! A provider crate describes its provider with a [`ProviderEntry`] (OAuth endpoints, token
//! request style, API version header, default pace, what the `/providers` catalogue shows) and
//! writes its typed client on top of [`Transport`]. The engine implements `Transport` with its
//! paced, retried, refreshed and recorded client, so a typed client never deals with tokens,
//! rate limits or logs, and the engine names no provider in its code: a second provider is a
//! new entry and a new crate.

use std::future::Future;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

/// Everything the engine needs to know about one provider.
#[derive(Debug)]
pub struct ProviderEntry {
    /// The catalogue key (`provider` in an integration), such as `notion`.
    pub name: &'static str,
    pub display_name: &'static str,
    pub categories: &'static [&'static str],
    pub docs: &'static str,
    /// The logo, as SVG text, served at `/images/template-logos/<name>.svg`.
    pub logo_svg: &'static str,
    /// Where the API lives unless the operator or an integration says otherwise.
    pub default_base_url: &'static str,
    pub oauth: OAuth2Entry,
    /// The header that selects the provider's API version, when it has one.
    pub version_header: Option<VersionHeader>,
    /// The rate a connection is paced at unless its integration says otherwise.
    pub pace: Pace,
    /// Answers that mean "slow down": they hold the connection's pacer for their
    /// `Retry-After` and are retried.
    pub rate_limited_statuses: &'static [u16],
    /// How list endpoints page, as the `/providers` catalogue describes it.
    pub pagination: CursorPagination,
    /// Shown in the catalogue: how the provider's own webhooks are routed.
    pub webhook_routing_script: Option<&'static str>,
    pub webhook_user_defined_secret: bool,
    /// The pre-built actions, when the provider has some.
    pub actions: Option<&'static ActionCatalogue>,
    /// The pre-built syncs, when the provider has some.
    pub syncs: Option<&'static SyncCatalogue>,
}

/// An OAuth 2 authorization-code flow.
#[derive(Debug)]
pub struct OAuth2Entry {
    /// Relative to the base URL, e.g. `/v1/oauth/authorize`.
    pub authorization_path: &'static str,
    pub token_path: &'static str,
    /// Fixed parameters of the authorize redirect.
    pub authorization_params: &'static [(&'static str, &'static str)],
    pub token_request: TokenRequestStyle,
    /// Token-response fields copied into the connection's `connection_config`.
    pub token_response_metadata: &'static [&'static str],
    /// Who authorized, from the token response, so that the same person authorizing again
    /// updates their connection instead of creating a twin.
    pub identity: fn(&Value) -> Option<String>,
}

/// How the client id and secret and the body of a token request are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRequestStyle {
    /// HTTP Basic with the client id and secret, and a JSON body (Notion).
    BasicAuthJsonBody,
    /// The client id and secret in a form-encoded body (RFC 6749's default).
    FormBody,
}

/// A header that selects the API version, with the version sent when nobody chooses one.
#[derive(Debug)]
pub struct VersionHeader {
    pub name: &'static str,
    pub default: &'static str,
    /// Whether a configured value is one the provider accepts.
    pub is_valid: fn(&str) -> bool,
}

/// Requests per second and the burst allowed before the rate applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub rate: f64,
    pub burst: u32,
}

/// Cursor pagination as Nango's `providers.yaml` describes it.
#[derive(Debug)]
pub struct CursorPagination {
    pub cursor_path_in_response: &'static str,
    pub cursor_name_in_request: &'static str,
    pub limit_name_in_request: &'static str,
    pub response_path: &'static str,
}

/// One call to the provider's API, relative to its base URL. Authentication, the version
/// header, pacing and retries are the transport's business.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, e.g. `/v1/users?page_size=100`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Request {
        Request {
            method: Method::GET,
            path: path.into(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A request with a JSON body.
    pub fn json(method: Method, path: impl Into<String>, body: &Value) -> Request {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Request {
            method,
            path: path.into(),
            headers,
            body: Some(Bytes::from(body.to_string())),
        }
    }
}

/// The provider's final answer, after the transport's retries.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a call got no answer from the provider.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The connection cannot call at all (unknown, no usable token, refresh failed).
    #[error("{code}: {message}")]
    Connection { code: &'static str, message: String },
}

/// Sends calls to one connection's provider API. The engine's implementation paces, retries,
/// refreshes the token on 401 and records every exchange in the calling operation.
pub trait Transport: Send + Sync {
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;
}

impl<T: Transport> Transport for &T {
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        (**self).send(request)
    }
}

/// A boxed future, for calls through `dyn` (actions are looked up by name at run time).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Transport`] behind a reference that can be a trait object.
pub trait DynTransport: Send + Sync {
    fn send_boxed(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
}

impl<T: Transport> DynTransport for T {
    fn send_boxed(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.send(request))
    }
}

/// A `dyn DynTransport` used as a [`Transport`] by a typed client.
#[derive(Clone, Copy)]
pub struct SharedTransport<'a>(pub &'a dyn DynTransport);

impl Transport for SharedTransport<'_> {
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        self.0.send_boxed(request)
    }
}

/// A pre-built action as the catalogue (`GET /scripts/config`) shows it.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Where Nango's catalogue exposes it: method and path under `/v1`, when it does.
    pub endpoint: Option<(&'static str, &'static str)>,
    pub input: InputSchema,
    /// The output's JSON Schema.
    pub output: fn() -> Value,
}

/// What an action takes: a JSON Schema built by code, or a list of fields (for actions
/// declared as data, whose runner checks the same list).
#[derive(Debug, Clone, Copy)]
pub enum InputSchema {
    Built(fn() -> Value),
    Fields(&'static [InputField]),
}

impl InputSchema {
    /// The input as a JSON Schema object.
    pub fn json(&self) -> Value {
        match self {
            InputSchema::Built(build) => build(),
            InputSchema::Fields(fields) => {
                let properties: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|f| {
                        let mut schema = f.kind.json();
                        schema["description"] = Value::String(f.description.to_string());
                        (f.name.to_string(), schema)
                    })
                    .collect();
                let required: Vec<&str> = fields
                    .iter()
                    .filter(|f| f.required)
                    .map(|f| f.name)
                    .collect();
                serde_json::json!({
                    "type": "object",
                    "required": required,
                    "properties": properties,
                    "additionalProperties": false,
                })
            }
        }
    }
}

/// One field of an action's input.
#[derive(Debug, Clone, Copy)]
pub struct InputField {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub description: &'static str,
}

/// The kinds of value an input field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A provider object's id.
    Id,
    /// A non-empty string.
    Text,
    /// A whole number in `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    Boolean,
    Object,
    Array,
}

impl FieldKind {
    fn json(self) -> Value {
        match self {
            FieldKind::Id | FieldKind::Text => {
                serde_json::json!({"type": "string", "minLength": 1})
            }
            FieldKind::Integer { min, max } => {
                serde_json::json!({"type": "integer", "minimum": min, "maximum": max})
            }
            FieldKind::Boolean => serde_json::json!({"type": "boolean"}),
            FieldKind::Object => serde_json::json!({"type": "object"}),
            FieldKind::Array => serde_json::json!({"type": "array"}),
        }
    }
}

/// One run of an action.
pub struct ActionCall<'a> {
    pub name: &'a str,
    pub input: Value,
    /// The API version the connection's integration calls with, if it sets one.
    pub api_version: Option<&'a str>,
    /// Ferry's lasting link to the file a block holds (the provider's own links expire).
    pub file_link: &'a FileLink<'a>,
}

/// Gives the URL at which Ferry serves a fresh link to the file of block `id`.
pub type FileLink<'a> = dyn Fn(&str) -> String + Send + Sync + 'a;

/// Reads the current URL of the file block `id` holds, over `transport`, with the API
/// version the connection uses.
pub type FreshFileUrl = for<'a> fn(
    &'a dyn DynTransport,
    &'a str,
    Option<&'a str>,
) -> BoxFuture<'a, Result<FreshFile, ActionError>>;

/// A file's current URL, and when it stops working (RFC 3339) if the provider says.
#[derive(Debug, Clone)]
pub struct FreshFile {
    pub url: String,
    pub expiry_time: Option<String>,
}

/// Why an action failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    #[error("no action is named `{0}`")]
    Unknown(String),
    /// The input is wrong; `field` names where (`properties.Status`, `pageId`).
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    /// The provider refused the call: its status, code and message, kept.
    #[error("{provider} answered {status} {code}: {message}")]
    Provider {
        provider: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// No answer, or the connection cannot call.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The provider answered in a shape the action cannot read.
    #[error("{0}")]
    Unreadable(String),
}

/// Runs the action `call.name` over `transport`.
pub type RunAction =
    for<'a> fn(&'a dyn DynTransport, ActionCall<'a>) -> BoxFuture<'a, Result<Value, ActionError>>;

/// A provider's pre-built actions.
#[derive(Debug)]
pub struct ActionCatalogue {
    /// Every action, in the order the catalogue lists them.
    pub actions: fn() -> &'static [ActionSpec],
    pub run: RunAction,
    /// For the links [`ActionCall::file_link`] gives: a file's current URL.
    pub fresh_file_url: FreshFileUrl,
}

/// One pre-built sync: what it keeps and how often it runs unless told otherwise.
#[derive(Debug, Clone, Copy)]
pub struct SyncSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Nango's frequency text, such as `every day` or `every 30 minutes`.
    pub frequency: &'static str,
    /// Whether a new connection's schedule starts running without being started.
    pub auto_start: bool,
    /// A full run that ends well marks deleted what it did not see.
    pub track_deletes: bool,
    /// Runs after the first read only what changed since the last successful run
    /// ([`SyncCall::last_sync_date`]); the runner still makes a run full after a reset and
    /// once a day, to find what was deleted. A sync that is not incremental reads
    /// everything every run.
    pub incremental: bool,
    /// Nango's catalogue path for the records (`GET /v1/users`), shown in the catalogue.
    pub endpoint: &'static str,
    /// The models it writes, one record shape each.
    pub models: &'static [ModelSpec],
}

/// A model a sync writes: its name and its records' JSON Schema.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub name: &'static str,
    pub schema: fn() -> Value,
}

/// One run of a sync, as the runner gives it to the sync's code.
pub struct SyncCall<'a> {
    pub name: &'a str,
    /// The API version the connection's integration calls with, if it sets one.
    pub api_version: Option<&'a str>,
    /// The connection's metadata (which databases, which data sources, …).
    pub metadata: &'a Value,
    /// Where an earlier run that did not finish stopped, as it saved it.
    pub checkpoint: Option<Value>,
    /// When the last successful run started (RFC 3339); `None` on a full run.
    pub last_sync_date: Option<&'a str>,
    /// Where the run sends what it reads.
    pub sink: &'a dyn SyncSink,
}

/// The runner's side of a sync run: records are stored batch by batch as they come, so a run
/// that stops keeps what it saved and goes on from its last checkpoint.
pub trait SyncSink: Send + Sync {
    /// Stores a batch of `model` records (each an object with a string `id`), together with
    /// the checkpoint that resumes the run after them, in one transaction.
    fn save<'a>(
        &'a self,
        model: &'a str,
        records: Vec<Value>,
        checkpoint: Option<Value>,
    ) -> BoxFuture<'a, Result<(), SyncError>>;
}

/// Why a sync run failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// The provider refused a call: its status, code and message, kept.
    #[error("{provider} answered {status} {code}: {message}")]
    Provider {
        provider: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// No answer, or the connection cannot call.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The provider answered in a shape the sync cannot read, or the connection's metadata
    /// asks for something the sync cannot do.
    #[error("{0}")]
    Invalid(String),
    /// The records could not be stored; the run stops so nothing is lost silently.
    #[error("storing records: {0}")]
    Store(String),
}

/// Runs the sync `call.name` over `transport`.
pub type RunSync =
    for<'a> fn(&'a dyn DynTransport, SyncCall<'a>) -> BoxFuture<'a, Result<(), SyncError>>;

/// A provider's pre-built syncs.
#[derive(Debug)]
pub struct SyncCatalogue {
    pub syncs: &'static [SyncSpec],
    pub run: RunSync,
}
