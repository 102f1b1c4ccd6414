//! `GET /logs` and `GET /logs/:id`: operations with their HTTP exchanges.

use axum::Json;
use axum::extract::{Path, State};
use ferry_engine::ids::OperationId;
use ferry_engine::logs::{LogFilter, Operation, OperationKind, OperationStatus};
use ferry_engine::{Engine, ErrorCode};
use serde_json::{Value, json};

use super::path_id;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;

fn shape(op: &Operation) -> Value {
    json!({
        "id": op.id.as_str(),
        "type": op.kind.as_str(),
        "status": op.status.as_str(),
        "integration_id": op.integration_key,
        "connection_id": op.connection_id,
        "message": op.message,
        "started_at": op.started_at,
        "ended_at": op.ended_at,
        "exchanges": serde_json::from_str::<Value>(&op.exchanges).unwrap_or(Value::Null),
    })
}

fn one_of<T: Copy>(
    name: &str,
    value: &str,
    all: &[T],
    text: fn(T) -> &'static str,
) -> ApiResult<T> {
    all.iter()
        .copied()
        .find(|v| text(*v) == value)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| text(*v)).collect();
            ApiError::new(
                ErrorCode::InvalidQueryParams,
                format!("{name}: must be one of {}", names.join(", ")),
            )
        })
}

fn time(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| "must be an RFC 3339 time such as 2026-11-28T10:00:00Z".to_string())
}

pub(super) async fn list(
    State(engine): State<Engine>,
    Env(env): Env,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let kind = query
        .take("type")
        .map(|v| one_of("type", &v, OperationKind::ALL, OperationKind::as_str))
        .transpose()?;
    let status = query
        .take("status")
        .map(|v| one_of("status", &v, OperationStatus::ALL, OperationStatus::as_str))
        .transpose()?;
    let filter = LogFilter {
        connection_id: query.take("connection_id"),
        integration_key: query.take("integration_id"),
        kind,
        status,
        after: query.take_parsed("after", time)?,
        before: query.take_parsed("before", time)?,
        cursor: query.take("cursor"),
        limit: query.take_number("limit", 1, 1000)?.unwrap_or(100),
    };
    query.finish()?;
    let page = engine.logs().list(&env.id, filter).await?;
    Ok(Json(json!({
        "data": page.operations.iter().map(shape).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

pub(super) async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id("id", &id, OperationId::parse)?;
    let op = engine.logs().get(&env.id, &id).await?;
    Ok(Json(json!({ "data": shape(&op) })))
}
