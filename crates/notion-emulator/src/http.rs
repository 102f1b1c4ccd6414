//! The request plumbing every Notion route shares: who is calling ([`Caller`]), one parsed
//! request ([`Req`]), the adapter from plain handlers to axum, JSON answers with Notion's
//! request id, and the two middlewares: the gate (counting, latency, injected faults, body
//! limit) and authentication (`Notion-Version`, bearer token, rate limit).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

use crate::error::{ApiResult, NotionError};
use crate::model::{Id, Workspace};
use crate::render::Ctx;
use crate::version::ApiVersion;
use crate::{Emulator, ids, validate};

/// Closes the request's connection without an answer (a dropped-connection fault); the
/// server puts one in each request.
#[derive(Clone)]
pub struct ConnectionKill(pub Arc<Notify>);

/// Who is calling and how: the token's view of the workspace, or a person (admin edits).
#[derive(Debug, Clone)]
pub struct Caller {
    pub version: ApiVersion,
    /// The bearer token; `None` for a person acting through the admin API.
    pub token: Option<String>,
    /// The bot (or person) that authors changes.
    pub actor: Id,
    pub integration: Option<Id>,
    pub user_emails: bool,
}

impl Caller {
    pub fn person(version: ApiVersion, user: Id) -> Self {
        Self {
            version,
            token: None,
            actor: user,
            integration: None,
            user_emails: true,
        }
    }

    pub fn can_see(&self, ws: &Workspace, id: Id) -> bool {
        match &self.token {
            None => true,
            Some(token) => ws
                .grants
                .get(token)
                .is_some_and(|g| ws.is_shared(&g.shared, id)),
        }
    }

    pub fn ctx(&self, emulator: &Emulator) -> Ctx {
        Ctx {
            version: self.version,
            base_url: emulator.base_url.clone(),
            now: chrono::Utc::now(),
            user_emails: self.user_emails,
            bot: Some(self.actor),
            max_file_upload_bytes: emulator.settings().max_file_upload_bytes,
        }
    }
}

/// One parsed request, as resource handlers take it.
pub struct Req {
    pub params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
}

impl Req {
    pub fn param(&self, name: &str) -> ApiResult<Id> {
        ids::parse_path(
            self.params
                .get(name)
                .map(String::as_str)
                .unwrap_or_default(),
            name,
        )
    }

    pub fn raw_param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn query_map(&self) -> HashMap<String, String> {
        self.query.iter().cloned().collect()
    }

    pub fn query_all(&self, key: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn body(&self) -> ApiResult<&serde_json::Map<String, Value>> {
        validate::object(Some(&self.body), "body")
    }
}

pub type Handler = fn(&Emulator, &Caller, &Req) -> ApiResult<Value>;
/// A handler whose success is not always `200` (`202` for an accepted async task).
pub type StatusHandler = fn(&Emulator, &Caller, &Req) -> ApiResult<(StatusCode, Value)>;

/// One parsed request with its caller: path ids, query pairs and JSON body.
pub struct Parsed {
    caller: Caller,
    req: Req,
}

impl axum::extract::FromRequest<Arc<Emulator>> for Parsed {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &Arc<Emulator>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| NotionError::unauthorized().into_response())?;
        let params = <RawPathParams as axum::extract::FromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        )
        .await
        .map_err(|_| NotionError::invalid_request_url().into_response())?;
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = match parts.uri.query() {
            Some(q) => serde_urlencoded::from_str(q)
                .map_err(|_| NotionError::invalid_request_url().into_response())?,
            None => Vec::new(),
        };
        // The gate already capped the body's size.
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| NotionError::invalid_json().into_response())?;
        let body = if parts.method == Method::GET || parts.method == Method::DELETE {
            Value::Null
        } else {
            validate::parse_body(&bytes).map_err(IntoResponse::into_response)?
        };
        Ok(Parsed {
            caller,
            req: Req {
                params,
                query,
                body,
            },
        })
    }
}

/// Adapts a plain handler into an axum one.
pub(crate) fn h(
    handler: Handler,
) -> impl Fn(State<Arc<Emulator>>, Parsed) -> std::future::Ready<Response> + Clone + Send + Sync + 'static
{
    move |State(emulator), parsed| {
        std::future::ready(match handler(&emulator, &parsed.caller, &parsed.req) {
            Ok(value) => json_response(&value),
            Err(e) => e.into_response(),
        })
    }
}

/// Adapts a handler that chooses its success status into an axum one.
pub(crate) fn hs(
    handler: StatusHandler,
) -> impl Fn(State<Arc<Emulator>>, Parsed) -> std::future::Ready<Response> + Clone + Send + Sync + 'static
{
    move |State(emulator), parsed| {
        std::future::ready(match handler(&emulator, &parsed.caller, &parsed.req) {
            Ok((status, value)) => {
                let mut response = json_response(&value);
                *response.status_mut() = status;
                response
            }
            Err(e) => e.into_response(),
        })
    }
}

pub fn json_response(value: &Value) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = (StatusCode::OK, axum::Json(value)).into_response();
    if let Ok(v) = request_id.parse() {
        response.headers_mut().insert("x-notion-request-id", v);
    }
    response
}

fn route_key(request: &Request) -> (String, Option<String>) {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let shown = template
        .clone()
        .unwrap_or_else(|| request.uri().path().to_string());
    (format!("{} {shown}", request.method()), template)
}

/// Counting, latency, faults and the body limit: applied to every Notion route.
pub(crate) async fn gate(
    State(emulator): State<Arc<Emulator>>,
    request: Request,
    next: Next,
) -> Response {
    let (key, template) = route_key(&request);
    emulator.count(key);
    let settings = emulator.settings();
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    if let Some(rule) = emulator.faults.hit(&method, &path, template.as_deref()) {
        if let Some(ms) = rule.delay_ms {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if rule.drop_connection {
            if let Some(kill) = request.extensions().get::<ConnectionKill>() {
                kill.0.notify_one();
            }
            std::future::pending::<()>().await;
        }
        if let Some(status) = rule.status {
            return fault_response(&rule, status);
        }
    }
    // A file part is bigger than any JSON body Notion takes.
    let limit = if template.as_deref() == Some(crate::uploads::SEND_ROUTE) {
        crate::uploads::SEND_BODY_LIMIT
    } else {
        settings.max_body_bytes
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return NotionError::payload_too_large(limit).into_response();
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return NotionError::payload_too_large(limit).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn fault_response(rule: &crate::faults::FaultRule, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if rule.html {
        let page = format!(
            "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
            status
        );
        let mut response = (status, Html(page)).into_response();
        if let Ok(ray) = "8f1c2d3e4a5b6c7d-SJC".parse() {
            response.headers_mut().insert("cf-ray", ray);
        }
        return response;
    }
    let code = rule
        .code
        .as_deref()
        .and_then(crate::faults::known_code)
        .unwrap_or_else(|| NotionError::default_code_for(status));
    let message = rule
        .message
        .clone()
        .unwrap_or_else(|| format!("Injected fault: {code}."));
    let mut error = NotionError::new(status, code, message);
    error.retry_after = rule
        .retry_after
        .or(matches!(status.as_u16(), 429 | 529).then_some(1));
    error.into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// `Notion-Version`, bearer token and rate limit for the API routes.
pub(crate) async fn authenticate(
    State(emulator): State<Arc<Emulator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let version = match ApiVersion::parse_header(
        request
            .headers()
            .get("notion-version")
            .and_then(|v| v.to_str().ok()),
    ) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Some(token) = bearer(request.headers()) else {
        return NotionError::unauthorized().into_response();
    };
    let caller = {
        let ws = emulator.workspace();
        let Some(grant) = ws.grants.get(&token) else {
            return NotionError::unauthorized().into_response();
        };
        let user_emails = ws
            .integration(grant.integration)
            .is_some_and(|i| i.user_emails);
        Caller {
            version,
            token: Some(token.clone()),
            actor: grant.bot,
            integration: Some(grant.integration),
            user_emails,
        }
    };
    if let Err(wait) = emulator.limiter.acquire(&token, emulator.settings().limits) {
        emulator
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return NotionError::rate_limited(wait).into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Rejects `archived` (2026-03-11 wants `in_trash`) and reads the trash flag of a body.
pub fn trash_flag(
    caller: &Caller,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<Option<bool>> {
    if caller.version.uses_2026_names() && body.contains_key("archived") {
        return Err(NotionError::body_validation(
            "body.archived should be not present, instead was `".to_string()
                + &validate::describe(body.get("archived"))
                + "`. Use `in_trash` from Notion-Version 2026-03-11 on.",
        ));
    }
    let trash = validate::optional_bool(body.get("in_trash"), "body.in_trash")?;
    let archived = validate::optional_bool(body.get("archived"), "body.archived")?;
    Ok(trash.or(archived))
}
