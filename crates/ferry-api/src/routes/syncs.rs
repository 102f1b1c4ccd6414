//! Syncs and their records, in Nango's shapes: `POST /sync/trigger|start|pause`,
//! `GET /sync/status`, `PUT /sync/update-connection-frequency`,
//! `POST|DELETE /sync/{name}/variant/{variant}` and `GET /records`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::syncs::{
    BASE_VARIANT, MAX_RECORDS_PAGE, PruneRequest, RecordsPage, RecordsRequest, SyncRef, SyncStatus,
};
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, QueryParams, connection_headers, header};

fn invalid_body(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, format!("{field}: {message}"))
}

fn invalid_query(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidQueryParams, format!("{field}: {message}"))
}

/// A sync or variant name: what Nango allows in a script name.
fn checked_name(field: &str, text: &str) -> ApiResult<String> {
    let ok = !text.is_empty()
        && text.len() <= 255
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(text.to_string())
    } else {
        Err(invalid_body(
            field,
            "must be 1 to 255 letters, digits, `-`, `_` or `.`",
        ))
    }
}

/// `name` or `name::variant`.
fn sync_ref(field: &str, text: &str) -> ApiResult<SyncRef> {
    let (name, variant) = text.split_once("::").unwrap_or((text, BASE_VARIANT));
    Ok(SyncRef {
        name: checked_name(field, name)?,
        variant: checked_name(field, variant)?,
    })
}

/// `syncs` of a body: names (`name` or `name::variant`) or `{name, variant}` objects.
fn sync_refs(value: &Option<Value>) -> ApiResult<Vec<SyncRef>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(invalid_body("syncs", "must be an array of sync names"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("syncs[{i}]");
            match item {
                Value::String(text) => sync_ref(&field, text),
                Value::Object(map) => {
                    let name = map.get("name").and_then(Value::as_str).ok_or_else(|| {
                        invalid_body(&format!("{field}.name"), "is required (a string)")
                    })?;
                    let variant = match map.get("variant") {
                        None | Some(Value::Null) => BASE_VARIANT,
                        Some(Value::String(v)) => v,
                        Some(_) => {
                            return Err(invalid_body(
                                &format!("{field}.variant"),
                                "must be a string",
                            ));
                        }
                    };
                    Ok(SyncRef {
                        name: checked_name(&format!("{field}.name"), name)?,
                        variant: checked_name(&format!("{field}.variant"), variant)?,
                    })
                }
                _ => Err(invalid_body(
                    &field,
                    "must be a sync name or {name, variant}",
                )),
            }
        })
        .collect()
}

/// The integration and (optional) connection, from the body or else the headers.
fn scope(
    headers: &HeaderMap,
    key: Option<String>,
    connection: Option<String>,
) -> ApiResult<(IntegrationKey, Option<ConnectionId>)> {
    let key = match key.or(header(headers, "Provider-Config-Key")?) {
        Some(key) => {
            IntegrationKey::parse(&key).map_err(|e| invalid_body("provider_config_key", e))?
        }
        None => {
            return Err(invalid_body(
                "provider_config_key",
                "is required (or the Provider-Config-Key header)",
            ));
        }
    };
    let connection = connection
        .or(header(headers, "Connection-Id")?)
        .map(|c| ConnectionId::parse(&c).map_err(|e| invalid_body("connection_id", e)))
        .transpose()?;
    Ok((key, connection))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerOptions {
    #[serde(default)]
    reset: bool,
    #[serde(default, rename = "emptyCache")]
    empty_cache: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerBody {
    provider_config_key: Option<String>,
    connection_id: Option<String>,
    syncs: Option<Value>,
    #[serde(default)]
    opts: Option<TriggerOptions>,
    /// Older SDKs: `incremental`, `full_refresh` or `full_refresh_and_clear_cache`.
    sync_mode: Option<String>,
    /// Older SDKs: a full run.
    full_resync: Option<bool>,
}

/// `POST /sync/trigger`: the syncs run now (`reset`: a full run; `emptyCache`: records
/// deleted first).
pub(super) async fn trigger(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    Json(body): Json<TriggerBody>,
) -> ApiResult<axum::Json<Value>> {
    let (key, connection) = scope(&headers, body.provider_config_key, body.connection_id)?;
    let syncs = sync_refs(&body.syncs)?;
    let opts = body.opts.unwrap_or_default();
    let (mut reset, mut empty_cache) = (opts.reset, opts.empty_cache);
    match body.sync_mode.as_deref() {
        None | Some("incremental") => {}
        Some("full_refresh") => reset = true,
        Some("full_refresh_and_clear_cache") => {
            reset = true;
            empty_cache = true;
        }
        Some(_) => {
            return Err(invalid_body(
                "sync_mode",
                "must be incremental, full_refresh or full_refresh_and_clear_cache",
            ));
        }
    }
    reset |= body.full_resync.unwrap_or(false);
    engine
        .syncs()
        .trigger(
            &env.id,
            &key,
            connection.as_ref(),
            &syncs,
            reset,
            empty_cache,
        )
        .await?;
    Ok(axum::Json(json!({"success": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ControlBody {
    provider_config_key: Option<String>,
    connection_id: Option<String>,
    syncs: Option<Value>,
}

/// `POST /sync/start`: unpaused, and run now.
pub(super) async fn start(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    Json(body): Json<ControlBody>,
) -> ApiResult<axum::Json<Value>> {
    control(engine, env, headers, body, false).await
}

/// `POST /sync/pause`.
pub(super) async fn pause(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    Json(body): Json<ControlBody>,
) -> ApiResult<axum::Json<Value>> {
    control(engine, env, headers, body, true).await
}

async fn control(
    engine: Engine,
    env: std::sync::Arc<ferry_engine::environments::Environment>,
    headers: HeaderMap,
    body: ControlBody,
    paused: bool,
) -> ApiResult<axum::Json<Value>> {
    let (key, connection) = scope(&headers, body.provider_config_key, body.connection_id)?;
    let syncs = sync_refs(&body.syncs)?;
    engine
        .syncs()
        .set_paused(&env.id, &key, connection.as_ref(), &syncs, paused)
        .await?;
    Ok(axum::Json(json!({"success": true})))
}

fn status_json(s: SyncStatus) -> Value {
    json!({
        "id": s.id,
        "connection_id": s.connection_id,
        "name": s.name,
        "variant": s.variant,
        "status": s.status,
        "type": s.kind,
        "finishedAt": s.finished_at,
        "nextScheduledSyncAt": s.next_scheduled_at,
        "frequency": s.frequency,
        "latestResult": s.latest_result,
        "latestExecutionStatus": s.latest_execution_status,
        "latestError": s.latest_error,
        "recordCount": s.record_count,
        "checkpoint": s.checkpoint,
    })
}

/// `GET /sync/status?provider_config_key&syncs=a,b::variant|*&connection_id`.
pub(super) async fn status(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    mut query: QueryParams,
) -> ApiResult<axum::Json<Value>> {
    let key = query.take("provider_config_key");
    let connection = query.take("connection_id");
    let names = query
        .take("syncs")
        .ok_or_else(|| invalid_query("syncs", "is required: names separated by commas, or *"))?;
    query.finish()?;
    let (key, connection) = scope(&headers, key, connection)
        .map_err(|e| ApiError::new(ErrorCode::InvalidQueryParams, e.0.message().to_string()))?;
    let syncs = if names.trim() == "*" {
        Vec::new()
    } else {
        names
            .split(',')
            .map(|n| sync_ref("syncs", n.trim()))
            .collect::<ApiResult<Vec<_>>>()
            .map_err(|e| ApiError::new(ErrorCode::InvalidQueryParams, e.0.message().to_string()))?
    };
    let found = engine
        .syncs()
        .status(&env.id, &key, connection.as_ref(), &syncs)
        .await?;
    Ok(axum::Json(
        json!({"syncs": found.into_iter().map(status_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FrequencyBody {
    provider_config_key: String,
    connection_id: String,
    sync_name: String,
    sync_variant: Option<String>,
    frequency: Option<String>,
}

/// `PUT /sync/update-connection-frequency`: `frequency: null` goes back to the sync's own.
pub(super) async fn update_frequency(
    State(engine): State<Engine>,
    Env(env): Env,
    Json(body): Json<FrequencyBody>,
) -> ApiResult<axum::Json<Value>> {
    let key = IntegrationKey::parse(&body.provider_config_key)
        .map_err(|e| invalid_body("provider_config_key", e))?;
    let connection =
        ConnectionId::parse(&body.connection_id).map_err(|e| invalid_body("connection_id", e))?;
    let sync = SyncRef {
        name: checked_name("sync_name", &body.sync_name)?,
        variant: checked_name(
            "sync_variant",
            body.sync_variant.as_deref().unwrap_or(BASE_VARIANT),
        )?,
    };
    let frequency = engine
        .syncs()
        .set_frequency(&env.id, &key, &connection, &sync, body.frequency.as_deref())
        .await?;
    Ok(axum::Json(json!({"frequency": frequency})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariantBody {
    provider_config_key: String,
    connection_id: String,
}

fn variant_target(
    name: &str,
    variant: &str,
    body: &VariantBody,
) -> ApiResult<(IntegrationKey, ConnectionId, String, String)> {
    let invalid_uri = |field: &str, e: ApiError| {
        ApiError::new(
            ErrorCode::InvalidUriParams,
            format!("{field}: {}", e.0.message()),
        )
    };
    let name = checked_name("name", name).map_err(|e| invalid_uri("name", e))?;
    let variant = checked_name("variant", variant).map_err(|e| invalid_uri("variant", e))?;
    if variant == BASE_VARIANT {
        return Err(ApiError::new(
            ErrorCode::InvalidUriParams,
            "variant: `base` is every sync's own; name another",
        ));
    }
    let key = IntegrationKey::parse(&body.provider_config_key)
        .map_err(|e| invalid_body("provider_config_key", e))?;
    let connection =
        ConnectionId::parse(&body.connection_id).map_err(|e| invalid_body("connection_id", e))?;
    Ok((key, connection, name, variant))
}

/// `POST /sync/{name}/variant/{variant}`.
pub(super) async fn add_variant(
    State(engine): State<Engine>,
    Env(env): Env,
    Path((name, variant)): Path<(String, String)>,
    Json(body): Json<VariantBody>,
) -> ApiResult<axum::Json<Value>> {
    let (key, connection, name, variant) = variant_target(&name, &variant, &body)?;
    engine
        .syncs()
        .add_variant(&env.id, &key, &connection, &name, &variant)
        .await?;
    Ok(axum::Json(
        json!({"id": format!("{name}::{variant}"), "name": name, "variant": variant}),
    ))
}

/// `DELETE /sync/{name}/variant/{variant}`: the variant and its records.
pub(super) async fn remove_variant(
    State(engine): State<Engine>,
    Env(env): Env,
    Path((name, variant)): Path<(String, String)>,
    Json(body): Json<VariantBody>,
) -> ApiResult<axum::Json<Value>> {
    let (key, connection, name, variant) = variant_target(&name, &variant, &body)?;
    engine
        .syncs()
        .remove_variant(&env.id, &key, &connection, &name, &variant)
        .await?;
    Ok(axum::Json(json!({"success": true})))
}

/// `GET /records` with `Connection-Id` and `Provider-Config-Key`.
pub(super) async fn records(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let (key, connection) = connection_headers(&headers)?;
    let model = query
        .take("model")
        .ok_or_else(|| invalid_query("model", "is required"))?;
    if model.len() > 255 {
        return Err(invalid_query("model", "must be at most 255 characters"));
    }
    let variant = query
        .take("variant")
        .map(|v| {
            checked_name("variant", &v).map_err(|_| {
                invalid_query(
                    "variant",
                    "must be 1 to 255 letters, digits, `-`, `_` or `.`",
                )
            })
        })
        .transpose()?;
    let modified_after = query
        .take("modified_after")
        .or_else(|| query.take("delta"))
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    invalid_query(
                        "modified_after",
                        "must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z",
                    )
                })
        })
        .transpose()?;
    let limit = query
        .take_number("limit", 1, MAX_RECORDS_PAGE as u32)?
        .map_or(100, i64::from);
    let mut actions = Vec::new();
    if let Some(filter) = query.take("filter") {
        for part in filter.split(',') {
            let action = match part.trim().to_ascii_lowercase().as_str() {
                "added" => "ADDED",
                "updated" => "UPDATED",
                "deleted" => "DELETED",
                _ => {
                    return Err(invalid_query(
                        "filter",
                        "must be added, updated or deleted, or two of them joined by a comma",
                    ));
                }
            };
            if !actions.contains(&action.to_string()) {
                actions.push(action.to_string());
            }
        }
    }
    let cursor = query.take("cursor");
    let mut ids = query.take_all("ids");
    ids.extend(query.take_all("ids[]"));
    if ids.len() > 100 {
        return Err(invalid_query("ids", "at most 100"));
    }
    if ids.iter().any(|id| id.is_empty() || id.len() > 255) {
        return Err(invalid_query("ids", "each must be 1 to 255 characters"));
    }
    query.finish()?;
    let request = RecordsRequest {
        model,
        variant,
        modified_after,
        cursor,
        limit,
        actions,
        ids,
    };
    let page = engine
        .syncs()
        .records(&env.id, &key, &connection, &request)
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        records_body(&page),
    )
        .into_response())
}

/// `{records, next_cursor}`, each record its stored JSON with `_nango_metadata` put in
/// front: written as text, since the stored data is already a JSON object's text and parsing
/// a thousand of them again would cost more than the rest of the request.
fn records_body(page: &RecordsPage) -> String {
    let size: usize = page.records.iter().map(|r| r.data.len() + 320).sum();
    let mut out = String::with_capacity(size + 64);
    out.push_str("{\"records\":[");
    for (i, record) in page.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let metadata = json!({
            "first_seen_at": record.first_seen_at,
            "last_modified_at": record.last_modified_at,
            "last_action": record.last_action,
            "deleted_at": record.deleted_at,
            "pruned_at": record.pruned_at,
            "cursor": record.cursor,
        });
        out.push_str("{\"_nango_metadata\":");
        out.push_str(&metadata.to_string());
        // The stored text is a JSON object's; a pruned record keeps only its id.
        match record.data.strip_prefix('{') {
            Some(rest) if record.pruned_at.is_none() => {
                if !rest.trim_start().starts_with('}') {
                    out.push(',');
                }
                out.push_str(rest);
            }
            _ => {
                out.push_str(",\"id\":");
                out.push_str(&Value::String(record.id.clone()).to_string());
                out.push('}');
            }
        }
    }
    out.push_str("],\"next_cursor\":");
    out.push_str(&json!(page.next_cursor).to_string());
    out.push('}');
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PruneBody {
    model: String,
    variant: Option<String>,
    until_cursor: String,
    limit: Option<u32>,
}

/// `PATCH /records/prune` with `Connection-Id` and `Provider-Config-Key`: the data of the
/// records up to `until_cursor` is emptied, their metadata kept; a later run stores them again.
pub(super) async fn prune(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    Json(body): Json<PruneBody>,
) -> ApiResult<axum::Json<Value>> {
    let (key, connection) = connection_headers(&headers)?;
    if body.model.is_empty() || body.model.len() > 255 {
        return Err(invalid_body("model", "must be 1 to 255 characters"));
    }
    let variant = body
        .variant
        .as_deref()
        .map(|v| checked_name("variant", v))
        .transpose()?;
    let limit = match body.limit {
        None => MAX_RECORDS_PAGE,
        Some(n) if (1..=MAX_RECORDS_PAGE as u32).contains(&n) => i64::from(n),
        Some(_) => {
            return Err(invalid_body(
                "limit",
                "must be a whole number from 1 to 10000",
            ));
        }
    };
    let request = PruneRequest {
        model: body.model,
        variant,
        until_cursor: body.until_cursor,
        limit,
    };
    let (count, has_more) = engine
        .syncs()
        .prune_records(&env.id, &key, &connection, &request)
        .await?;
    Ok(axum::Json(json!({"count": count, "has_more": has_more})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_names_take_an_optional_variant() {
        assert_eq!(
            sync_ref("syncs", "users").unwrap(),
            SyncRef {
                name: "users".into(),
                variant: "base".into()
            }
        );
        assert_eq!(
            sync_ref("syncs", "users::eu").unwrap(),
            SyncRef {
                name: "users".into(),
                variant: "eu".into()
            }
        );
        assert!(sync_ref("syncs", "us ers").is_err());
        assert!(sync_ref("syncs", "users::").is_err());
        let refs = sync_refs(&Some(
            json!(["users", {"name": "content-metadata", "variant": "b"}]),
        ))
        .unwrap();
        assert_eq!(refs[1].variant, "b");
        assert!(sync_refs(&Some(json!([1]))).is_err());
    }

    #[test]
    fn records_are_written_whole_around_their_stored_text() {
        let record = |id: &str, data: &str| ferry_engine::syncs::StoredRecord {
            id: id.into(),
            data: data.into(),
            first_seen_at: "t0".into(),
            last_modified_at: "t1".into(),
            last_action: "ADDED".into(),
            deleted_at: None,
            pruned_at: None,
            cursor: "c".into(),
        };
        let page = RecordsPage {
            records: vec![
                record("a", r#"{"id":"a","name":"Ada \"A\""}"#),
                record("b", "{}"),
                record("c\"", ""),
            ],
            next_cursor: Some("n".into()),
        };
        let body: Value = serde_json::from_str(&records_body(&page)).unwrap();
        assert_eq!(body["records"][0]["name"], "Ada \"A\"");
        assert_eq!(
            body["records"][0]["_nango_metadata"]["last_action"],
            "ADDED"
        );
        assert_eq!(body["records"][1].as_object().unwrap().len(), 1);
        assert_eq!(body["records"][2]["id"], "c\"");
        assert_eq!(body["next_cursor"], "n");
        let empty = RecordsPage {
            records: Vec::new(),
            next_cursor: None,
        };
        assert_eq!(records_body(&empty), r#"{"records":[],"next_cursor":null}"#);
    }
}
