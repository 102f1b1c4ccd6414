//! Connections: import, list, get (with credentials and `force_refresh`), patch, delete, and
//! metadata replace and merge, with Nango's bodies and shapes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use ferry_engine::Engine;
use ferry_engine::connections::ImportConnection;
use ferry_engine::credentials::Credentials;
use ferry_store::connections::{ConnectionFilter, ConnectionRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_body;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};

fn list_item(r: &ConnectionRow) -> Value {
    let c = &r.connection;
    json!({
        "id": c.id,
        "connection_id": c.connection_id,
        "provider_config_key": r.provider_config_key,
        "provider": r.provider,
        "errors": [],
        "end_user": c.end_user,
        "tags": c.tags,
        "metadata": c.metadata,
        "created": c.created_at,
    })
}

fn full(
    r: &ConnectionRow,
    credentials: Option<&Credentials>,
    include_refresh_token: bool,
) -> Value {
    let c = &r.connection;
    let credentials = credentials.map(|cr| {
        let mut value = serde_json::to_value(cr).unwrap_or_default();
        if !include_refresh_token && let Some(map) = value.as_object_mut() {
            map.remove("refresh_token");
        }
        value
    });
    let mut out = list_item(r);
    if let Some(map) = out.as_object_mut() {
        map.remove("created");
        map.insert("connection_config".into(), c.connection_config.clone());
        map.insert("created_at".into(), json!(c.created_at));
        map.insert("updated_at".into(), json!(c.updated_at));
        map.insert("last_fetched_at".into(), json!(c.last_fetched_at));
        map.insert("credentials".into(), credentials.unwrap_or(json!({})));
    }
    out
}

pub async fn list(
    State(engine): State<Engine>,
    Env(env): Env,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|_| {
        ApiError::invalid("invalid_query_params", "The query string is malformed.")
    })?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let number = |k: &str, default: i64, max: i64| -> ApiResult<i64> {
        match get(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_query_params",
                        format!("{k} must be a whole number from 1 to {max}"),
                    )
                }),
        }
    };
    let limit = number("limit", 100, 2000)?;
    let page = get("page")
        .map(|p| {
            p.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::invalid("invalid_query_params", "page must be a whole number from 0")
            })
        })
        .transpose()?
        .unwrap_or(0);
    let filter = ConnectionFilter {
        connection_id: get("connectionId"),
        search: get("search"),
        end_user_id: get("endUserId"),
        integration_keys: get("integrationId")
            .map(|v| {
                v.split(',')
                    .map(str::to_string)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        limit,
        offset: page * limit,
    };
    let rows = engine.list_connections(&env.id, &filter).await?;
    Ok(Json(
        json!({"connections": rows.iter().map(list_item).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct GetQuery {
    provider_config_key: Option<String>,
    force_refresh: Option<String>,
    refresh_token: Option<String>,
}

fn flag(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v == "true" || v == "1")
}

pub async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    Query(q): Query<GetQuery>,
) -> ApiResult<Json<Value>> {
    let key = q.provider_config_key.clone().unwrap_or_default();
    let (row, credentials) = engine
        .connection_with_credentials(&env.id, &key, &id, flag(&q.force_refresh))
        .await?;
    Ok(Json(full(&row, Some(&credentials), flag(&q.refresh_token))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCredentials {
    #[serde(rename = "type")]
    kind: String,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<String>,
    raw: Option<Value>,
}

#[derive(Deserialize)]
pub struct ImportBody {
    provider_config_key: String,
    connection_id: Option<String>,
    metadata: Option<Value>,
    connection_config: Option<Value>,
    end_user: Option<Value>,
    tags: Option<Value>,
    credentials: ImportCredentials,
}

fn object_or_empty(v: Option<Value>, name: &str) -> ApiResult<Value> {
    match v {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(ApiError::invalid(
            "invalid_body",
            format!("{name} must be an object"),
        )),
    }
}

pub async fn create(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body: ImportBody = parse_body(&body)?;
    if body.credentials.kind != "OAUTH2" {
        return Err(ApiError::invalid(
            "invalid_body",
            format!(
                "credentials.type `{}` is not supported for Notion; use OAUTH2",
                body.credentials.kind
            ),
        ));
    }
    let token = body.credentials.access_token.clone();
    let input = ImportConnection {
        provider_config_key: body.provider_config_key,
        connection_id: body.connection_id,
        raw: body
            .credentials
            .raw
            .unwrap_or_else(|| json!({"access_token": token, "token_type": "bearer"})),
        access_token: body.credentials.access_token,
        refresh_token: body.credentials.refresh_token,
        expires_at: body.credentials.expires_at,
        connection_config: object_or_empty(body.connection_config, "connection_config")?,
        metadata: object_or_empty(body.metadata, "metadata")?,
        end_user: body.end_user.filter(|v| !v.is_null()),
        tags: object_or_empty(body.tags, "tags")?,
    };
    let row = engine.import_connection(&env.id, input).await?;
    Ok((StatusCode::CREATED, Json(full(&row, None, false))))
}

#[derive(Deserialize)]
pub struct KeyQuery {
    provider_config_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, with = "double_option")]
    end_user: Option<Option<Value>>,
    tags: Option<Value>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<serde_json::Value>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

pub async fn patch(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: PatchBody = parse_body(&body)?;
    let tags = body
        .tags
        .map(|t| object_or_empty(Some(t), "tags"))
        .transpose()?;
    let row = engine
        .patch_connection(
            &env.id,
            q.provider_config_key.as_deref().unwrap_or_default(),
            &id,
            body.end_user,
            tags,
        )
        .await?;
    Ok(Json(full(&row, None, false)))
}

pub async fn delete(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> ApiResult<Json<Value>> {
    engine
        .delete_connection(
            &env.id,
            q.provider_config_key.as_deref().unwrap_or_default(),
            &id,
        )
        .await?;
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
pub struct MetadataBody {
    connection_id: Value,
    provider_config_key: String,
    metadata: Value,
}

async fn metadata(engine: &Engine, env: &str, body: &Bytes, merge: bool) -> ApiResult<Value> {
    let parsed: MetadataBody = parse_body(body)?;
    let ids: Vec<String> = match &parsed.connection_id {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_body",
                    "connection_id must be a string or an array of strings",
                )
            })?,
        _ => {
            return Err(ApiError::invalid(
                "invalid_body",
                "connection_id must be a string or an array of strings",
            ));
        }
    };
    engine
        .set_metadata(
            env,
            &parsed.provider_config_key,
            &ids,
            &parsed.metadata,
            merge,
        )
        .await?;
    Ok(
        json!({"connection_id": parsed.connection_id, "provider_config_key": parsed.provider_config_key, "metadata": parsed.metadata}),
    )
}

pub async fn replace_metadata(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(metadata(&engine, &env.id, &body, false).await?),
    ))
}

pub async fn merge_metadata(
    State(engine): State<Engine>,
    Env(env): Env,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(metadata(&engine, &env.id, &body, true).await?))
}
