//! `GET /providers` and `GET /providers/:provider`: the provider catalogue.

use axum::Json;
use axum::extract::{Path, State};
use ferry_engine::{Engine, EngineError, providers};
use serde_json::{Value, json};

use crate::auth::Env;
use crate::error::ApiResult;

pub async fn list(State(engine): State<Engine>, _env: Env) -> Json<Value> {
    Json(json!({"data": providers::catalogue(&engine.settings)}))
}

pub async fn get(
    State(engine): State<Engine>,
    _env: Env,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let entry = providers::provider(&engine.settings, &name).ok_or_else(|| {
        EngineError::not_found("unknown_provider", format!("Unknown provider `{name}`."))
    })?;
    Ok(Json(json!({"data": entry})))
}
