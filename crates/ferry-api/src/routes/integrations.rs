//! Integrations CRUD with Nango's bodies and shapes. Ferry's own settings
//! (`integration_config`) are accepted in bodies and shown with `include=integration_config`.

use axum::Json;
use axum::extract::{Path, State};
use ferry_engine::ids::IntegrationKey;
use ferry_engine::integrations::{Integration, IntegrationChanges, NewIntegration, OAuthClient};
use ferry_engine::providers::IntegrationConfig;
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use super::path_id;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, QueryParams};
use crate::wire::{Text, WireIntegrationKey};

/// OAuth scopes as Nango takes them: a comma-separated list of `[0-9a-zA-Z:/_.-]` words.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct Scopes(String);

impl TryFrom<String> for Scopes {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let ok = value.split(',').all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/_.-".contains(c))
        });
        if ok && value.len() <= 2048 {
            Ok(Scopes(value))
        } else {
            Err("must be a comma-separated list of scopes such as `read,write`".into())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialsIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_id: Option<Text<255>>,
    #[serde(default)]
    client_secret: Option<Text<4096>>,
    #[serde(default)]
    scopes: Option<Scopes>,
    #[serde(default)]
    webhook_secret: Option<Text<255>>,
}

impl CredentialsIn {
    fn into_engine(self, creating: bool) -> ApiResult<OAuthClient> {
        if self.kind != "OAUTH2" {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!(
                    "credentials.type `{}` does not match the provider's auth mode: use OAUTH2",
                    self.kind
                ),
            ));
        }
        if creating && (self.client_id.is_none() || self.client_secret.is_none()) {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "credentials.client_id and credentials.client_secret are required",
            ));
        }
        Ok(OAuthClient {
            client_id: self.client_id.map(|t| t.0),
            client_secret: self.client_secret.map(|t| t.0),
            scopes: self.scopes.map(|s| s.0),
            webhook_secret: self.webhook_secret.map(|t| t.0),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    provider: Text<255>,
    unique_key: WireIntegrationKey,
    #[serde(default)]
    display_name: Option<Text<255>>,
    #[serde(default)]
    forward_webhooks: Option<bool>,
    #[serde(default)]
    credentials: Option<CredentialsIn>,
    #[serde(default)]
    integration_config: Option<Map<String, Value>>,
    #[serde(default)]
    custom: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBody {
    #[serde(default)]
    unique_key: Option<WireIntegrationKey>,
    #[serde(default)]
    display_name: Option<Text<255>>,
    #[serde(default)]
    forward_webhooks: Option<bool>,
    #[serde(default)]
    credentials: Option<CredentialsIn>,
    #[serde(default)]
    integration_config: Option<Map<String, Value>>,
    #[serde(default)]
    custom: Option<IgnoredAny>,
}

fn refuse_custom(custom: &Option<IgnoredAny>) -> ApiResult<()> {
    if custom.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "custom is not supported: put the webhook secret in credentials.webhook_secret and Ferry's settings in integration_config",
        ));
    }
    Ok(())
}

fn config(map: Option<Map<String, Value>>) -> ApiResult<Option<IntegrationConfig>> {
    map.map(|m| {
        IntegrationConfig::from_request(&m).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidBody,
                format!("The body is not valid: {e}"),
            )
        })
    })
    .transpose()
}

/// What `GET /integrations/:key` was asked to include.
#[derive(Default)]
pub(super) struct Include {
    webhook: bool,
    credentials: bool,
    config: bool,
}

fn shape(engine: &Engine, i: &Integration, include: &Include) -> ApiResult<Value> {
    let mut out = json!({
        "unique_key": i.unique_key.as_str(),
        "provider": i.provider.name,
        "display_name": i.display_name,
        "logo": format!("{}/images/template-logos/{}.svg", engine.settings().public_url, i.provider.name),
        "forward_webhooks": i.forward_webhooks,
        "missing_fields": [],
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    });
    if include.webhook {
        // Ferry does not take providers' webhooks yet, so there is no URL to give.
        out["webhook_url"] = Value::Null;
    }
    if include.credentials {
        let c = engine.integrations().credentials(i)?;
        out["credentials"] = json!({
            "type": "OAUTH2",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "scopes": c.scopes.filter(|s| !s.is_empty()),
            "webhook_secret": c.webhook_secret,
        });
    }
    if include.config {
        out["integration_config"] = serde_json::to_value(&i.config).unwrap_or(Value::Null);
    }
    Ok(out)
}

fn key_param(key: &str) -> ApiResult<IntegrationKey> {
    path_id("uniqueKey", key, IntegrationKey::parse)
}

pub(super) async fn list(State(engine): State<Engine>, Env(env): Env) -> ApiResult<Json<Value>> {
    let data = engine
        .integrations()
        .list(&env.id)
        .await?
        .iter()
        .map(|i| shape(&engine, i, &Include::default()))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "data": data })))
}

pub(super) async fn create(
    State(engine): State<Engine>,
    Env(env): Env,
    extract::Json(body): extract::Json<CreateBody>,
) -> ApiResult<Json<Value>> {
    refuse_custom(&body.custom)?;
    let new = NewIntegration {
        provider: body.provider.0,
        unique_key: body.unique_key.0,
        display_name: body.display_name.map(|t| t.0),
        forward_webhooks: body.forward_webhooks,
        credentials: body.credentials.map(|c| c.into_engine(true)).transpose()?,
        config: config(body.integration_config)?,
    };
    let integration = engine.integrations().create(&env.id, new).await?;
    Ok(Json(
        json!({ "data": shape(&engine, &integration, &Include::default())? }),
    ))
}

pub(super) async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let key = key_param(&key)?;
    let mut include = Include::default();
    let values = [query.take_all("include"), query.take_all("include[]")].concat();
    query.finish()?;
    for value in values.iter().flat_map(|v| v.split(',')) {
        match value {
            "webhook" => include.webhook = true,
            "credentials" => include.credentials = true,
            "integration_config" => include.config = true,
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidQueryParams,
                    format!(
                        "include: `{other}` is not one of webhook, credentials, integration_config"
                    ),
                ));
            }
        }
    }
    let integration = engine.integrations().get(&env.id, &key).await?;
    Ok(Json(
        json!({ "data": shape(&engine, &integration, &include)? }),
    ))
}

pub(super) async fn update(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
    extract::Json(body): extract::Json<UpdateBody>,
) -> ApiResult<Json<Value>> {
    let key = key_param(&key)?;
    refuse_custom(&body.custom)?;
    let changes = IntegrationChanges {
        unique_key: body.unique_key.map(|k| k.0),
        display_name: body.display_name.map(|t| t.0),
        forward_webhooks: body.forward_webhooks,
        credentials: body.credentials.map(|c| c.into_engine(false)).transpose()?,
        config: config(body.integration_config)?,
    };
    let integration = engine.integrations().update(&env.id, &key, changes).await?;
    Ok(Json(
        json!({ "data": shape(&engine, &integration, &Include::default())? }),
    ))
}

pub(super) async fn delete(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = key_param(&key)?;
    engine.integrations().delete(&env.id, &key).await?;
    Ok(Json(json!({ "success": true })))
}
