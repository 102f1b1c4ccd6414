//! Connect sessions and the browser side of OAuth: `POST /connect/sessions` (and reconnect),
//! the connect page, `GET /oauth/connect/:key` (redirect to Notion with a state cookie) and
//! `GET /oauth/callback` (an HTML result page that posts its outcome to the opener window).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ferry_engine::Engine;
use ferry_engine::oauth::{CallbackOutcome, NewConnectSession};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_body;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize, Default)]
pub struct SessionBody {
    end_user: Option<Value>,
    organization: Option<Value>,
    allowed_integrations: Option<Vec<String>>,
    tags: Option<Value>,
    connection_id: Option<String>,
    integration_id: Option<String>,
}

fn session_input(body: SessionBody, reconnect: bool) -> ApiResult<NewConnectSession> {
    if let Some(end_user) = &body.end_user
        && !end_user.get("id").is_some_and(Value::is_string)
    {
        return Err(ApiError::invalid(
            "invalid_body",
            "end_user.id must be a string",
        ));
    }
    let reconnect = if reconnect {
        let connection = body
            .connection_id
            .ok_or_else(|| ApiError::invalid("invalid_body", "connection_id is required"))?;
        let integration = body
            .integration_id
            .ok_or_else(|| ApiError::invalid("invalid_body", "integration_id is required"))?;
        Some((integration, connection))
    } else {
        None
    };
    Ok(NewConnectSession {
        end_user: body.end_user,
        organization: body.organization,
        allowed_integrations: body.allowed_integrations,
        tags: body.tags.unwrap_or_else(|| json!({})),
        reconnect,
    })
}

async fn create(
    engine: &Engine,
    env: &str,
    body: &Bytes,
    reconnect: bool,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = session_input(parse_body(body)?, reconnect)?;
    let session = engine.create_connect_session(env, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"data": {"token": session.token, "connect_link": session.connect_link, "expires_at": session.expires_at}}),
        ),
    ))
}

pub async fn create_session(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&engine, &env.id, &body, false).await
}

pub async fn create_reconnect_session(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&engine, &env.id, &body, true).await
}

fn session_token(headers: &HeaderMap, query: Option<&String>) -> Option<String> {
    query.cloned().or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
    })
}

/// `GET /connect/session`, with the session token: what the connect page shows.
pub async fn get_session(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let token = session_token(&headers, None).unwrap_or_default();
    let s = engine.connect_session(&token).await?;
    Ok(Json(
        json!({"data": {"end_user": s.end_user, "organization": s.organization, "allowed_integrations": s.allowed_integrations, "expires_at": s.expires_at}}),
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}a{{color:#2563eb}}</style></head><body><h1>{0}</h1>{1}</body></html>",
        escape(title),
        body
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

#[derive(Deserialize)]
pub struct ConnectQuery {
    session_token: Option<String>,
    connect_session_token: Option<String>,
}

/// The connect link: lists the integrations this session may connect.
pub async fn connect_page(State(engine): State<Engine>, Query(q): Query<ConnectQuery>) -> Response {
    let Some(token) = q.session_token.or(q.connect_session_token) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing session",
            "<p>This link has no session token.</p>",
        );
    };
    let session = match engine.connect_session(&token).await {
        Ok(s) => s,
        Err(e) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Link expired",
                &format!("<p>{}</p>", escape(&e.message)),
            );
        }
    };
    let keys = match &session.allowed_integrations {
        Some(keys) => keys.clone(),
        None => match engine
            .store
            .list_integrations(&session.environment_id)
            .await
        {
            Ok(list) => list.into_iter().map(|i| i.unique_key).collect(),
            Err(_) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error",
                    "<p>The integrations could not be listed.</p>",
                );
            }
        },
    };
    let links: String = keys
        .iter()
        .map(|k| {
            format!(
                "<li><a href=\"/oauth/connect/{0}?connect_session_token={1}\">Connect {0}</a></li>",
                escape(k),
                escape(&token)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Connect an account",
        &format!("<ul>{links}</ul>"),
    )
}

fn cookie_name(state: &str) -> String {
    format!("ferry_oauth_{}", state.replace('-', ""))
}

pub async fn oauth_connect(
    State(engine): State<Engine>,
    Path(key): Path<String>,
    Query(q): Query<ConnectQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = session_token(&headers, q.connect_session_token.as_ref()) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Missing session",
            "<p>Open this page through a connect link from your application.</p>",
        );
    };
    match engine.start_oauth(&token, &key).await {
        Ok(redirect) => {
            let secure = if engine.settings.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}=1; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=3600{secure}",
                cookie_name(&redirect.state)
            );
            (
                StatusCode::FOUND,
                [
                    (header::LOCATION, redirect.url),
                    (header::SET_COOKIE, cookie),
                    (header::CACHE_CONTROL, "no-store".into()),
                ],
            )
                .into_response()
        }
        Err(e) => page(
            crate::error::status_of(e.kind),
            "Cannot connect",
            &format!(
                "<p>{}</p><p><code>{}</code></p>",
                escape(&e.message),
                e.code
            ),
        ),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn has_cookie(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().split_once('=').is_some_and(|(k, _)| k == name))
}

pub async fn oauth_callback(
    State(engine): State<Engine>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "<p>The callback has no <code>state</code>.</p>",
        );
    };
    let cookie = cookie_name(&state);
    let outcome = match engine
        .finish_oauth(
            &state,
            has_cookie(&headers, &cookie),
            q.code.as_deref(),
            q.error.as_deref(),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => CallbackOutcome::Failed {
            provider_config_key: None,
            error_type: e.code.to_string(),
            message: e.message,
        },
    };
    let (status, title, message, text) = match &outcome {
        CallbackOutcome::Connected {
            provider_config_key,
            connection_id,
        } => (
            StatusCode::OK,
            "Connected",
            json!({"eventType": "AUTHORIZATION_SUCEEDED", "type": "connect", "data": {"providerConfigKey": provider_config_key, "connectionId": connection_id}}),
            "Your account is connected. You can close this window.".to_string(),
        ),
        CallbackOutcome::Failed {
            provider_config_key,
            error_type,
            message,
        } => (
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            json!({"eventType": "AUTHORIZATION_FAILED", "type": "error", "data": {"providerConfigKey": provider_config_key, "error": {"type": error_type, "message": message}}}),
            message.clone(),
        ),
    };
    // JSON inside a <script>: escape `<` so a value cannot close the tag.
    let payload = message.to_string().replace('<', "\\u003c");
    let body = format!(
        "<p>{}</p><script>if (window.opener) {{ window.opener.postMessage({payload}, '*'); }}</script>",
        escape(&text)
    );
    let mut response = page(status, title, &body);
    if let Ok(v) = format!("{cookie}=; Path=/oauth; Max-Age=0; HttpOnly; SameSite=Lax").parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
