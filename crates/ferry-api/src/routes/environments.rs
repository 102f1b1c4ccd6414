//! Environments and their API keys (account key), environment variables and the webhook
//! signing key (environment key).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_engine::environments::{ApiKey, Environment, EnvironmentVariable};
use ferry_engine::ids::{ApiKeyId, EnvironmentId, EnvironmentName};
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::path_id;
use crate::auth::{Account, Env};
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, QueryParams};
use crate::wire::Text;

fn environment_json(e: &Environment) -> Value {
    json!({"id": e.number, "uuid": e.id.as_str(), "name": e.name, "is_production": e.is_production})
}

fn key_json(k: &ApiKey, secret: Option<&str>) -> Value {
    let mut out = json!({
        "id": k.id.as_str(),
        "display_name": k.display_name,
        "scopes": ["environment:*"],
        "created_at": k.created_at,
    });
    if let Some(secret) = secret {
        out["secret"] = json!(secret);
    }
    out
}

fn environment_param(id: &str) -> ApiResult<EnvironmentId> {
    path_id("environmentUuid", id, EnvironmentId::parse)
}

pub(super) async fn list(
    State(engine): State<Engine>,
    _account: Account,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let name = query.take_parsed("name", EnvironmentName::parse)?;
    query.finish()?;
    let list = engine.environments().list(name.as_ref()).await?;
    Ok(Json(
        json!({"data": list.iter().map(environment_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
pub(super) struct WireEnvironmentName(EnvironmentName);

impl TryFrom<String> for WireEnvironmentName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        EnvironmentName::parse(&value)
            .map(WireEnvironmentName)
            .map_err(|e| e.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    name: WireEnvironmentName,
    #[serde(default)]
    is_production: Option<bool>,
}

pub(super) async fn create(
    State(engine): State<Engine>,
    _account: Account,
    extract::Json(body): extract::Json<CreateBody>,
) -> ApiResult<Json<Value>> {
    let is_production = body.is_production.unwrap_or(body.name.0.as_str() == "prod");
    let environment = engine
        .environments()
        .create(&body.name.0, is_production)
        .await?;
    Ok(Json(
        json!({"data": {"id": environment.number, "uuid": environment.id.as_str(), "name": environment.name}}),
    ))
}

pub(super) async fn delete(
    State(engine): State<Engine>,
    _account: Account,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine
        .environments()
        .delete(&environment_param(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_keys(
    State(engine): State<Engine>,
    _account: Account,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let keys = engine.environments().keys(&environment_param(&id)?).await?;
    Ok(Json(
        json!({"data": keys.iter().map(|k| key_json(k, None)).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyBody {
    display_name: Text<255>,
}

pub(super) async fn create_key(
    State(engine): State<Engine>,
    _account: Account,
    Path(id): Path<String>,
    extract::Json(body): extract::Json<KeyBody>,
) -> ApiResult<Json<Value>> {
    if body.display_name.0.starts_with("FERRY_") {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "The body is not valid: display_name: names starting with FERRY_ are kept for the keys Ferry's settings manage",
        ));
    }
    let created = engine
        .environments()
        .create_key(&environment_param(&id)?, &body.display_name.0)
        .await?;
    Ok(Json(
        json!({"data": key_json(&created.key, Some(&created.secret))}),
    ))
}

fn key_param(id: &str) -> ApiResult<ApiKeyId> {
    path_id("keyId", id, ApiKeyId::parse)
}

pub(super) async fn get_key(
    State(engine): State<Engine>,
    _account: Account,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let key = engine
        .environments()
        .key(&environment_param(&id)?, &key_param(&key_id)?)
        .await?;
    Ok(Json(json!({"data": key_json(&key, None)})))
}

pub(super) async fn delete_key(
    State(engine): State<Engine>,
    _account: Account,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    engine
        .environments()
        .delete_key(&environment_param(&id)?, &key_param(&key_id)?)
        .await?;
    Ok(Json(json!({"success": true})))
}

/// `GET /environment-variables` → `[{name, value}]`.
pub(super) async fn variables(
    State(engine): State<Engine>,
    Env(env): Env,
) -> ApiResult<Json<Value>> {
    let variables = engine.environments().variables(&env.id).await?;
    Ok(Json(json!(
        variables
            .iter()
            .map(|v| json!({"name": v.name, "value": v.value}))
            .collect::<Vec<_>>()
    )))
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
pub(super) struct VariableName(String);

impl TryFrom<String> for VariableName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let ok = !value.is_empty()
            && value.len() <= 255
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(VariableName(value))
        } else {
            Err(format!("`{value}` must be 1 to 255 letters, digits or `_`"))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariableIn {
    name: VariableName,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariablesBody {
    variables: Vec<VariableIn>,
}

/// `POST /environment-variables` (a Ferry extension; Nango sets them in its dashboard):
/// replaces the environment's variables.
pub(super) async fn set_variables(
    State(engine): State<Engine>,
    Env(env): Env,
    extract::Json(body): extract::Json<VariablesBody>,
) -> ApiResult<Json<Value>> {
    if body.variables.len() > 1000 {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "The body is not valid: variables: at most 1000",
        ));
    }
    let mut names = std::collections::HashSet::new();
    let variables: Vec<EnvironmentVariable> = body
        .variables
        .into_iter()
        .map(|v| EnvironmentVariable {
            name: v.name.0,
            value: v.value,
        })
        .collect();
    for v in &variables {
        if !names.insert(v.name.as_str()) {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!(
                    "The body is not valid: variables: `{}` is given twice",
                    v.name
                ),
            ));
        }
    }
    engine
        .environments()
        .set_variables(&env.id, &variables)
        .await?;
    Ok(Json(json!({"success": true})))
}

pub(super) async fn rotate_webhook_signing_key(
    State(engine): State<Engine>,
    Env(env): Env,
) -> ApiResult<Json<Value>> {
    let key = engine
        .environments()
        .rotate_webhook_signing_key(&env.id)
        .await?;
    Ok(Json(json!({"data": {"webhook_signing_key": key}})))
}
