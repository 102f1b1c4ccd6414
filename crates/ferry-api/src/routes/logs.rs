//! `GET /logs` and `GET /logs/:id`: operations with their HTTP exchanges.

use axum::Json;
use axum::extract::{Path, Query, State};
use ferry_engine::{Engine, EngineError};
use ferry_store::operations::{Operation, OperationFilter, encode_cursor};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};

fn shape(op: &Operation) -> Value {
    json!({
        "id": op.id,
        "type": op.kind,
        "status": op.status,
        "integration_id": op.integration_key,
        "connection_id": op.connection_id,
        "message": op.message,
        "started_at": op.started_at,
        "ended_at": op.ended_at,
        "exchanges": serde_json::from_str::<Value>(&op.exchanges).unwrap_or(Value::Null),
    })
}

#[derive(Deserialize)]
pub struct LogQuery {
    connection_id: Option<String>,
    integration_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
    after: Option<String>,
    before: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn check_time(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value
        .map(|v| {
            ferry_store::parse_ts(&v).map(ferry_store::ts).map_err(|_| {
                ApiError::invalid(
                    "invalid_query_params",
                    format!("{name} must be an RFC 3339 time such as 2026-11-28T10:00:00Z"),
                )
            })
        })
        .transpose()
}

pub async fn list(
    State(engine): State<Engine>,
    Env(env): Env,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    engine.flush_logs().await;
    if let Some(kind) = &q.kind
        && !["auth", "token_refresh", "proxy"].contains(&kind.as_str())
    {
        return Err(ApiError::invalid(
            "invalid_query_params",
            "type must be one of auth, token_refresh, proxy",
        ));
    }
    if let Some(status) = &q.status
        && !["running", "success", "failed"].contains(&status.as_str())
    {
        return Err(ApiError::invalid(
            "invalid_query_params",
            "status must be one of running, success, failed",
        ));
    }
    let limit = match &q.limit {
        None => 100,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_query_params",
                    "limit must be a whole number from 1 to 1000",
                )
            })?,
    };
    let filter = OperationFilter {
        connection_id: q.connection_id,
        integration_key: q.integration_id,
        kind: q.kind,
        status: q.status,
        after: check_time("after", q.after)?,
        before: check_time("before", q.before)?,
        cursor: q.cursor,
        limit: limit + 1,
    };
    let mut ops = engine
        .store
        .list_operations(&env.id, &filter)
        .await
        .map_err(EngineError::from)?
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_query_params",
                "cursor is not a cursor from a previous page",
            )
        })?;
    let next_cursor = if ops.len() as i64 > limit {
        ops.truncate(limit as usize);
        ops.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(
        json!({"data": ops.iter().map(shape).collect::<Vec<_>>(), "next_cursor": next_cursor}),
    ))
}

pub async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engine.flush_logs().await;
    let op = engine
        .store
        .operation(&env.id, &id)
        .await
        .map_err(EngineError::from)?
        .ok_or_else(|| {
            EngineError::not_found("unknown_log", format!("There is no operation `{id}`."))
        })?;
    Ok(Json(json!({"data": shape(&op)})))
}
