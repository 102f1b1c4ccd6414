//! Connect sessions and the browser side of OAuth: `POST /connect/sessions` (and reconnect),
//! `GET|DELETE /connect/session`, the connect page, `GET /oauth/connect/:key` (redirect to the
//! provider with a state cookie) and `GET /oauth/callback` (an HTML result page that posts
//! its outcome to the opener window).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ferry_engine::connections::EndUser;
use ferry_engine::ids::IntegrationKey;
use ferry_engine::oauth::{CallbackOutcome, ConnectSession, NewConnectSession};
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::auth::{Env, SessionToken};
use crate::error::{ApiError, ApiResult, status_of};
use crate::extract::{self, QueryParams};
use crate::wire::{
    EndUserIn, OrganizationIn, Tags, WireConnectionId, WireIntegrationKey, end_user_json,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionBody {
    #[serde(default)]
    end_user: Option<EndUserIn>,
    #[serde(default)]
    organization: Option<OrganizationIn>,
    #[serde(default)]
    allowed_integrations: Option<Vec<WireIntegrationKey>>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    integrations_config_defaults: Option<IgnoredAny>,
    #[serde(default)]
    overrides: Option<IgnoredAny>,
    #[serde(default)]
    webhook_url_override: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReconnectBody {
    connection_id: WireConnectionId,
    integration_id: WireIntegrationKey,
    #[serde(default)]
    end_user: Option<EndUserIn>,
    #[serde(default)]
    organization: Option<OrganizationIn>,
    #[serde(default)]
    integrations_config_defaults: Option<IgnoredAny>,
    #[serde(default)]
    overrides: Option<IgnoredAny>,
}

fn unsupported(field: &str, present: bool) -> ApiResult<()> {
    if present {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!("{field} is not supported by Ferry's connect sessions; leave it out"),
        ));
    }
    Ok(())
}

async fn created(
    engine: &Engine,
    env: &Env,
    input: NewConnectSession,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let session = engine.connect().create_session(&env.0.id, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"data": {"token": session.token, "connect_link": session.connect_link, "expires_at": session.expires_at}}),
        ),
    ))
}

pub(super) async fn create_session(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<SessionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    unsupported(
        "integrations_config_defaults",
        body.integrations_config_defaults.is_some(),
    )?;
    unsupported("overrides", body.overrides.is_some())?;
    unsupported("webhook_url_override", body.webhook_url_override.is_some())?;
    let input = NewConnectSession {
        end_user: body.end_user.map(EndUserIn::into_engine),
        organization: body.organization.map(OrganizationIn::into_engine),
        allowed_integrations: body
            .allowed_integrations
            .map(|keys| keys.into_iter().map(|k| k.0).collect()),
        tags: body.tags.map(|t| t.0).unwrap_or_default(),
        reconnect: None,
    };
    created(&engine, &env, input).await
}

pub(super) async fn create_reconnect_session(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<ReconnectBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    unsupported(
        "integrations_config_defaults",
        body.integrations_config_defaults.is_some(),
    )?;
    unsupported("overrides", body.overrides.is_some())?;
    let input = NewConnectSession {
        end_user: body.end_user.map(EndUserIn::into_engine),
        organization: body.organization.map(OrganizationIn::into_engine),
        allowed_integrations: None,
        tags: Default::default(),
        reconnect: Some((body.integration_id.0, body.connection_id.0)),
    };
    created(&engine, &env, input).await
}

fn session_json(session: &ConnectSession) -> Value {
    let mut data = json!({
        "endUser": session.end_user.as_ref().map(|u: &EndUser| {
            let mut user = end_user_json(u);
            if user["organization"].is_null()
                && let Some(org) = &session.organization
            {
                user["organization"] = json!({"id": org.id, "display_name": org.display_name});
            }
            user
        }),
        "connectUISettings": {
            "showWatermark": false,
            "defaultTheme": "system",
            "theme": {"light": {"primary": "#00B2E3"}, "dark": {"primary": "#00B2E3"}},
        },
    });
    if let Some(allowed) = &session.allowed_integrations {
        data["allowed_integrations"] = json!(allowed);
    }
    if session.reconnecting {
        data["isReconnecting"] = json!(true);
    }
    data
}

/// `GET /connect/session`, with the session token: what a connect UI shows.
pub(super) async fn get_session(
    State(engine): State<Engine>,
    SessionToken(token): SessionToken,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    query.finish()?;
    let session = engine.connect().session(&token).await?;
    Ok(Json(json!({ "data": session_json(&session) })))
}

/// `DELETE /connect/session`: ends the session at once.
pub(super) async fn delete_session(
    State(engine): State<Engine>,
    SessionToken(token): SessionToken,
) -> ApiResult<StatusCode> {
    engine.connect().delete_session(&token).await?;
    Ok(StatusCode::NO_CONTENT)
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
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}a{{color:#2563eb}}li{{margin:.5rem 0}}img{{width:1.2rem;vertical-align:middle;margin-right:.4rem}}</style></head><body><h1>{0}</h1>{1}</body></html>",
        escape(title),
        body
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn session_token(query: &mut QueryParams, headers: &HeaderMap) -> Option<String> {
    query
        .take("connect_session_token")
        .or_else(|| query.take("session_token"))
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        })
}

/// The connect link: the integrations this session may connect, by their display names.
pub(super) async fn connect_page(
    State(engine): State<Engine>,
    mut query: QueryParams,
    headers: HeaderMap,
) -> Response {
    let Some(token) = session_token(&mut query, &headers) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing session",
            "<p>This link has no session token. Ask the application for a new link.</p>",
        );
    };
    let session = match engine.connect().session(&token).await {
        Ok(s) => s,
        Err(e) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Link expired",
                &format!("<p>{}</p>", escape(e.message())),
            );
        }
    };
    let integrations = match engine.connect().integrations_for(&session).await {
        Ok(list) => list,
        Err(e) => return ApiError(e).into_response(),
    };
    if integrations.is_empty() {
        return page(
            StatusCode::OK,
            "Nothing to connect",
            "<p>This application has no integration to connect yet.</p>",
        );
    }
    let links: String = integrations
        .iter()
        .map(|i| {
            format!(
                "<li><a href=\"/oauth/connect/{key}?connect_session_token={token}\"><img src=\"/images/template-logos/{provider}.svg\" alt=\"\">Connect {name}</a></li>",
                key = escape(i.unique_key.as_str()),
                token = escape(&token),
                provider = escape(i.provider.name),
                name = escape(&i.display_name),
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

pub(super) async fn oauth_connect(
    State(engine): State<Engine>,
    Path(key): Path<String>,
    mut query: QueryParams,
    headers: HeaderMap,
) -> Response {
    let Some(token) = session_token(&mut query, &headers) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Missing session",
            "<p>Open this page through a connect link from your application.</p>",
        );
    };
    let started = match IntegrationKey::parse(&key) {
        Ok(key) => engine.connect().start_oauth(&token, &key).await,
        Err(e) => Err(ferry_engine::EngineError::new(
            ErrorCode::InvalidUriParams,
            e.to_string(),
        )),
    };
    match started {
        Ok(redirect) => {
            let secure = if engine.settings().public_url.starts_with("https://") {
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
        Err(e) if e.code() == ErrorCode::InternalError => ApiError(e).into_response(),
        Err(e) => page(
            status_of(e.code()),
            "Cannot connect",
            &format!(
                "<p>{}</p><p><code>{}</code></p>",
                escape(e.message()),
                e.code()
            ),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
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

pub(super) async fn oauth_callback(
    State(engine): State<Engine>,
    axum::extract::Query(q): axum::extract::Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(state) = q.state.filter(|s| !s.is_empty() && s.len() <= 100) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "<p>The callback has no <code>state</code>.</p>",
        );
    };
    let cookie = cookie_name(&state);
    let outcome = match engine
        .connect()
        .finish_oauth(
            &state,
            has_cookie(&headers, &cookie),
            q.code.as_deref(),
            q.error.as_deref(),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => return ApiError(e).into_response(),
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
            code,
            message,
        } => (
            status_of(*code),
            "Authorization failed",
            json!({"eventType": "AUTHORIZATION_FAILED", "type": "error", "data": {"providerConfigKey": provider_config_key, "error": {"type": code.as_str(), "message": message}}}),
            format!("{message} ({code})"),
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
