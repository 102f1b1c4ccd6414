//! `GET /providers` and `GET /providers/:provider`: the catalogue, in the shape of Nango's
//! `providers.yaml`, with URLs as this Ferry calls them.

use axum::Json;
use axum::extract::{Path, State};
use ferry_engine::{Engine, ErrorCode, providers};
use ferry_provider::{ProviderEntry, TokenRequestStyle};
use serde_json::{Map, Value, json};

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};

fn entry_json(engine: &Engine, p: &ProviderEntry) -> Value {
    let base = engine
        .settings()
        .provider_base_url(p.name)
        .unwrap_or(p.default_base_url);
    let params: Map<String, Value> = p
        .oauth
        .authorization_params
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let (authorization_method, body_format) = match p.oauth.token_request {
        TokenRequestStyle::BasicAuthJsonBody => ("header", "json"),
        TokenRequestStyle::FormBody => ("body", "form"),
    };
    let mut headers = Map::new();
    if let Some(v) = &p.version_header {
        headers.insert(v.name.to_string(), json!(v.default));
    }
    json!({
        "name": p.name,
        "display_name": p.display_name,
        "categories": p.categories,
        "auth_mode": "OAUTH2",
        "authorization_url": format!("{base}{}", p.oauth.authorization_path),
        "token_url": format!("{base}{}", p.oauth.token_path),
        "authorization_params": params,
        "authorization_method": authorization_method,
        "body_format": body_format,
        "webhook_routing_script": p.webhook_routing_script,
        "webhook_user_defined_secret": p.webhook_user_defined_secret,
        "token_response_metadata": p.oauth.token_response_metadata,
        "proxy": {
            "retry": {"after": ["retry-after"]},
            "base_url": base,
            "headers": headers,
            "paginate": {
                "type": "cursor",
                "cursor_path_in_response": p.pagination.cursor_path_in_response,
                "cursor_name_in_request": p.pagination.cursor_name_in_request,
                "limit_name_in_request": p.pagination.limit_name_in_request,
                "response_path": p.pagination.response_path,
            },
        },
        "docs": p.docs,
    })
}

pub(super) async fn list(State(engine): State<Engine>, _env: Env) -> Json<Value> {
    let data: Vec<Value> = providers::catalogue()
        .iter()
        .map(|p| entry_json(&engine, p))
        .collect();
    Json(json!({ "data": data }))
}

pub(super) async fn get(
    State(engine): State<Engine>,
    _env: Env,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let entry = providers::entry(&name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownProvider,
            format!("Unknown provider `{name}`."),
        )
    })?;
    Ok(Json(json!({ "data": entry_json(&engine, entry) })))
}
