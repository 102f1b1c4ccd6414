//! OAuth for public integrations: the authorize page (approves at once, or `?deny=1`),
//! the token endpoint (HTTP Basic, `redirect_uri` checks, single-use codes, refresh with
//! rotation), introspect and revoke.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use rand::RngExt;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Emulator;
use crate::error::NotionError;
use crate::model::{
    AuthorizationCode, Grant, Id, Integration, IntegrationKind, User, UserKind, Workspace,
};

const CODE_LIFETIME_MINUTES: i64 = 10;

pub fn random_token(prefix: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..40)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

/// A registered redirect URI matches exactly, or by prefix when it ends in `*`.
pub fn redirect_allowed(registered: &[String], uri: &str) -> bool {
    registered.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => uri.starts_with(prefix),
        None => r == uri,
    })
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (status, Html(body)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn redirect(to: String) -> Response {
    let body = format!(
        "<!doctype html><html><body><p>Redirecting to <a href=\"{0}\">{0}</a></p></body></html>",
        escape(&to)
    );
    let mut response = (StatusCode::FOUND, Html(body)).into_response();
    if let Ok(location) = to.parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if base.contains('?') {
        format!("{base}&{encoded}")
    } else {
        format!("{base}?{encoded}")
    }
}

/// `GET /v1/oauth/authorize`: the consent page, which approves at once.
pub async fn authorize(
    State(emulator): State<Arc<Emulator>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut ws = emulator.workspace();
    let Some(client_id) = query.get("client_id") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing client_id",
            "The authorization link has no client_id.",
        );
    };
    let Some((integration, registered)) = ws.integrations.iter().find_map(|i| match &i.kind {
        IntegrationKind::Public {
            client_id: c,
            redirect_uris,
            ..
        } if c == client_id => Some((i.id, redirect_uris.clone())),
        _ => None,
    }) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown integration",
            &format!("No public integration has client_id {}.", escape(client_id)),
        );
    };
    if query.get("response_type").map(String::as_str) != Some("code") {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "response_type must be `code`.",
        );
    }
    let sent_redirect = query.get("redirect_uri").cloned();
    let redirect_uri = match &sent_redirect {
        Some(uri) if redirect_allowed(&registered, uri) => uri.clone(),
        Some(uri) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect_uri",
                &format!("{} is not a redirect URI of this integration.", escape(uri)),
            );
        }
        None => match registered.as_slice() {
            [only] if !only.ends_with('*') => only.clone(),
            _ => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Missing redirect_uri",
                    "This integration has several redirect URIs; say which one.",
                );
            }
        },
    };
    let state = query.get("state").cloned().unwrap_or_default();
    if query.get("deny").is_some_and(|d| d == "1" || d == "true") {
        let mut pairs = vec![("error", "access_denied")];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        return redirect(with_query(&redirect_uri, &pairs));
    }
    let owner = match query.get("user").and_then(|u| crate::ids::parse(u)) {
        Some(id)
            if ws
                .user(id)
                .is_some_and(|u| matches!(u.kind, UserKind::Person { .. })) =>
        {
            id
        }
        Some(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Unknown user",
                "The `user` parameter names no person of this workspace.",
            );
        }
        None => match ws
            .users
            .iter()
            .find(|u| matches!(u.kind, UserKind::Person { .. }))
        {
            Some(u) => u.id,
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "No people",
                    "This workspace has no person who could authorize.",
                );
            }
        },
    };
    let pages: HashSet<Id> = match query.get("pages") {
        Some(list) => list
            .split(',')
            .filter_map(crate::ids::parse)
            .filter(|id| ws.kind_of(*id).is_some())
            .collect(),
        None => ws.roots.iter().copied().collect(),
    };
    let code = random_token("");
    ws.codes.insert(
        code.clone(),
        AuthorizationCode {
            integration,
            owner,
            redirect_uri: sent_redirect,
            pages,
            expires_at: Utc::now() + Duration::minutes(CODE_LIFETIME_MINUTES),
            used: false,
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state.as_str()));
    }
    redirect(with_query(&redirect_uri, &pairs))
}

/// The public integration named by an HTTP Basic header, if the secret matches.
fn client(ws: &Workspace, headers: &HeaderMap) -> Result<Integration, NotionError> {
    let invalid = || {
        NotionError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid client credentials: check the client id and secret sent with HTTP Basic auth.",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(invalid)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(invalid)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    ws.integrations
        .iter()
        .find(|i| matches!(&i.kind, IntegrationKind::Public { client_id, client_secret, .. }
            if client_id == id && bool::from(subtle::ConstantTimeEq::ct_eq(client_secret.as_bytes(), secret.as_bytes()))))
        .cloned()
        .ok_or_else(invalid)
}

/// Token endpoint bodies are JSON; form-encoded bodies are accepted too.
fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, NotionError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(bytes).map_err(|_| NotionError::invalid_json())?;
        return Ok(Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ));
    }
    crate::validate::parse_body(bytes)
}

fn json_ok(value: Value) -> Response {
    crate::http::json_response(&value)
}

fn token_response(ws: &Workspace, access_token: &str, grant: &Grant) -> Value {
    let owner = grant.owner.and_then(|o| ws.user(o)).map(|u| match &u.kind {
        UserKind::Person { email } => json!({"type": "user", "user": {
            "object": "user", "id": u.id, "name": u.name, "avatar_url": u.avatar_url, "type": "person", "person": {"email": email}
        }}),
        UserKind::Bot { .. } => json!({"type": "workspace", "workspace": true}),
    });
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "refresh_token": grant.refresh_token,
        "bot_id": grant.bot,
        "workspace_id": ws.id,
        "workspace_name": ws.name,
        "workspace_icon": ws.icon,
        "owner": owner.unwrap_or(json!({"type": "workspace", "workspace": true})),
        "duplicated_template_id": null,
        "request_id": Uuid::new_v4(),
    })
}

/// `POST /v1/oauth/token`: exchange a code, or refresh (rotating both tokens).
pub async fn token(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&emulator, &headers, &body) {
        Ok(value) => json_ok(value),
        Err(e) => e.into_response(),
    }
}

fn exchange(emulator: &Emulator, headers: &HeaderMap, body: &[u8]) -> Result<Value, NotionError> {
    let mut ws = emulator.workspace();
    let integration = client(&ws, headers)?;
    let body = parse_body(headers, body)?;
    let body = crate::validate::object(Some(&body), "body")?;
    let grant_type = crate::validate::one_of(
        body.get("grant_type"),
        "body.grant_type",
        &["authorization_code", "refresh_token"],
    )?;
    if grant_type == "refresh_token" {
        let refresh = crate::validate::string(body.get("refresh_token"), "body.refresh_token")?;
        let old_access = ws.refresh_tokens.get(refresh).cloned().ok_or_else(|| {
            NotionError::invalid_grant(
                "Invalid refresh token: it has been used, revoked or never existed.",
            )
        })?;
        let mut grant = ws.grants.get(&old_access).cloned().ok_or_else(|| {
            NotionError::invalid_grant("Invalid refresh token: its access token was revoked.")
        })?;
        if grant.integration != integration.id {
            return Err(NotionError::invalid_grant(
                "Invalid refresh token: it belongs to another integration.",
            ));
        }
        ws.refresh_tokens.remove(refresh);
        ws.grants.remove(&old_access);
        let access = random_token("ntn_");
        let new_refresh = random_token("nrt_");
        grant.refresh_token = Some(new_refresh.clone());
        grant.issued_at = Utc::now();
        ws.refresh_tokens.insert(new_refresh, access.clone());
        ws.grants.insert(access.clone(), grant.clone());
        return Ok(token_response(&ws, &access, &grant));
    }
    let code_text = crate::validate::string(body.get("code"), "body.code")?.to_string();
    let redirect_uri =
        crate::validate::optional_string(body.get("redirect_uri"), "body.redirect_uri")?
            .map(str::to_string);
    let code = ws
        .codes
        .get_mut(&code_text)
        .ok_or_else(|| NotionError::invalid_grant("Invalid code: this code is not valid."))?;
    if code.used {
        return Err(NotionError::invalid_grant(
            "Invalid code: this code has been revoked.",
        ));
    }
    if code.integration != integration.id {
        return Err(NotionError::invalid_grant(
            "Invalid code: this code was issued to another integration.",
        ));
    }
    if code.expires_at < Utc::now() {
        return Err(NotionError::invalid_grant(
            "Invalid code: this code has expired.",
        ));
    }
    let registered = match &integration.kind {
        IntegrationKind::Public { redirect_uris, .. } => redirect_uris.clone(),
        IntegrationKind::Internal { .. } => Vec::new(),
    };
    let redirect_ok = match (&code.redirect_uri, &redirect_uri) {
        (Some(sent), Some(given)) => sent == given,
        (Some(_), None) => false,
        (None, Some(given)) => registered.len() == 1 && registered[0] == *given,
        (None, None) => registered.len() == 1,
    };
    // A failed exchange still burns the code, as a leaked code must not be retried.
    code.used = true;
    if !redirect_ok {
        return Err(NotionError::invalid_grant(
            "Invalid redirect_uri: it does not match the one used to authorize.",
        ));
    }
    let code = code.clone();
    // The same person authorizing again gets the same token.
    let existing = ws
        .grants
        .iter()
        .find(|(_, g)| g.integration == integration.id && g.owner == Some(code.owner))
        .map(|(t, _)| t.clone());
    let (access, grant) = match existing {
        Some(access) => {
            let grant = ws.grants.get_mut(&access).expect("found above");
            grant.shared = code.pages.clone();
            (access.clone(), grant.clone())
        }
        None => {
            let bot = Uuid::new_v4();
            ws.users.push(User {
                id: bot,
                name: Some(integration.name.clone()),
                avatar_url: None,
                kind: UserKind::Bot {
                    integration: integration.id,
                    owner: Some(code.owner),
                },
            });
            let access = random_token("ntn_");
            let refresh = random_token("nrt_");
            let grant = Grant {
                integration: integration.id,
                bot,
                owner: Some(code.owner),
                shared: code.pages.clone(),
                refresh_token: Some(refresh.clone()),
                issued_at: Utc::now(),
            };
            ws.refresh_tokens.insert(refresh, access.clone());
            ws.grants.insert(access.clone(), grant.clone());
            (access, grant)
        }
    };
    Ok(token_response(&ws, &access, &grant))
}

fn token_field(headers: &HeaderMap, body: &[u8]) -> Result<String, NotionError> {
    let body = parse_body(headers, body)?;
    let body = crate::validate::object(Some(&body), "body")?;
    Ok(crate::validate::string(body.get("token"), "body.token")?.to_string())
}

/// `POST /v1/oauth/introspect`.
pub async fn introspect(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let ws = emulator.workspace();
        let integration = client(&ws, &headers)?;
        let token = token_field(&headers, &body)?;
        Ok::<_, NotionError>(
            match ws
                .grants
                .get(&token)
                .filter(|g| g.integration == integration.id)
            {
                Some(grant) => {
                    json!({"active": true, "scope": "read_content update_content insert_content", "iat": grant.issued_at.timestamp(), "request_id": Uuid::new_v4()})
                }
                None => json!({"active": false, "request_id": Uuid::new_v4()}),
            },
        )
    })();
    match result {
        Ok(v) => json_ok(v),
        Err(e) => e.into_response(),
    }
}

/// `POST /v1/oauth/revoke`: the token stops working at once.
pub async fn revoke(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let mut ws = emulator.workspace();
        let integration = client(&ws, &headers)?;
        let token = token_field(&headers, &body)?;
        if ws
            .grants
            .get(&token)
            .is_some_and(|g| g.integration == integration.id)
        {
            ws.grants.remove(&token);
            ws.refresh_tokens.retain(|_, access| *access != token);
        }
        Ok::<_, NotionError>(json!({"request_id": Uuid::new_v4()}))
    })();
    match result {
        Ok(v) => json_ok(v),
        Err(e) => e.into_response(),
    }
}
