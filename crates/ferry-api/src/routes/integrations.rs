//! Integrations CRUD with Nango's bodies and shapes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use ferry_engine::Engine;
use ferry_engine::integrations::IntegrationInput;
use ferry_store::integrations::Integration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_body;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(rename = "type")]
    kind: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    scopes: Option<String>,
    webhook_secret: Option<String>,
}

#[derive(Deserialize)]
pub struct Body {
    provider: Option<String>,
    unique_key: Option<String>,
    display_name: Option<String>,
    forward_webhooks: Option<bool>,
    credentials: Option<Credentials>,
    integration_config: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    custom: Option<Value>,
}

fn input(body: Body) -> ApiResult<IntegrationInput> {
    let mut input = IntegrationInput {
        provider: body.provider,
        unique_key: body.unique_key,
        display_name: body.display_name,
        config: body.integration_config,
        forward_webhooks: body.forward_webhooks,
        ..Default::default()
    };
    if let Some(c) = body.credentials {
        if c.kind != "OAUTH2" {
            return Err(ApiError::invalid(
                "invalid_body",
                format!(
                    "credentials.type `{}` is not supported for Notion; use OAUTH2",
                    c.kind
                ),
            ));
        }
        let _ = c.scopes;
        input.client_id = c.client_id;
        input.client_secret = c.client_secret;
        input.webhook_secret = c.webhook_secret;
    }
    Ok(input)
}

pub fn shape(
    engine: &Engine,
    i: &Integration,
    include_credentials: bool,
    include_webhook: bool,
) -> ApiResult<Value> {
    let mut out = json!({
        "unique_key": i.unique_key,
        "provider": i.provider,
        "display_name": i.display_name,
        "logo": format!("{}/images/template-logos/{}.svg", engine.settings.public_url, i.provider),
        "forward_webhooks": i.forward_webhooks,
        "integration_config": i.config,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    });
    if include_webhook {
        out["webhook_url"] = json!(format!(
            "{}/webhook/{}/{}",
            engine.settings.public_url, i.environment_id, i.unique_key
        ));
    }
    if include_credentials {
        let open = |sealed: &Option<String>| -> ApiResult<Option<String>> {
            Ok(sealed
                .as_deref()
                .map(|s| engine.cipher.open(s))
                .transpose()
                .map_err(ferry_engine::EngineError::from)?)
        };
        out["credentials"] = json!({
            "type": "OAUTH2",
            "client_id": i.client_id,
            "client_secret": open(&i.client_secret_enc)?,
            "scopes": "",
            "webhook_secret": open(&i.webhook_secret_enc)?,
        });
    }
    Ok(out)
}

pub async fn list(State(engine): State<Engine>, Env(env): Env) -> ApiResult<Json<Value>> {
    let list = engine
        .store
        .list_integrations(&env.id)
        .await
        .map_err(ferry_engine::EngineError::from)?;
    let data = list
        .iter()
        .map(|i| shape(&engine, i, false, false))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({"data": data})))
}

pub async fn create(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let integration = engine
        .create_integration(&env.id, input(parse_body(&body)?)?)
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({"data": shape(&engine, &integration, false, false)?})),
    ))
}

pub async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let includes: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "include" || k == "include[]")
        .flat_map(|(_, v)| v.split(','))
        .collect();
    let integration = engine.integration(&env.id, &key).await?;
    Ok(Json(
        json!({"data": shape(&engine, &integration, includes.contains(&"credentials"), includes.contains(&"webhook"))?}),
    ))
}

pub async fn update(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let integration = engine
        .update_integration(&env.id, &key, input(parse_body(&body)?)?)
        .await?;
    Ok(Json(
        json!({"data": shape(&engine, &integration, false, false)?}),
    ))
}

pub async fn delete(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    engine.delete_integration(&env.id, &key).await?;
    Ok(Json(json!({"success": true})))
}
