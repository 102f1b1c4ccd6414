//! Connections: import, list (with Nango's filters), get (with credentials and
//! `force_refresh`), patch, delete and metadata, plus the deprecated `/connection` routes
//! older SDKs still call.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use ferry_engine::connections::{ConnectionPatch, ImportConnection, ListConnections};
use ferry_engine::credentials::Credentials;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::path_id;
use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, QueryParams, required_header};
use crate::wire::{
    EndUserIn, HttpUrl, Tags, Text, Timestamp, WireConnectionId, WireIntegrationKey,
    connection_full, connection_list_item,
};

fn key_param(name: &str, value: Option<String>) -> ApiResult<IntegrationKey> {
    let value = value.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidQueryParams,
            format!("{name}: is required (the integration's unique_key)"),
        )
    })?;
    IntegrationKey::parse(&value)
        .map_err(|e| ApiError::new(ErrorCode::InvalidQueryParams, format!("{name}: {e}")))
}

fn connection_param(id: &str) -> ApiResult<ConnectionId> {
    path_id("connectionId", id, ConnectionId::parse)
}

pub(super) async fn list(
    State(engine): State<Engine>,
    Env(env): Env,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let short_text = |name: &str, v: String| -> ApiResult<String> {
        if v.chars().count() > 255 || v.chars().any(char::is_control) {
            return Err(ApiError::new(
                ErrorCode::InvalidQueryParams,
                format!("{name}: must be at most 255 characters of text"),
            ));
        }
        Ok(v)
    };
    let connection_id = query.take_parsed("connectionId", ConnectionId::parse)?;
    let search = query
        .take("search")
        .map(|v| short_text("search", v))
        .transpose()?;
    let end_user_id = query
        .take("endUserId")
        .map(|v| short_text("endUserId", v))
        .transpose()?;
    let end_user_organization_id = query
        .take("endUserOrganizationId")
        .map(|v| short_text("endUserOrganizationId", v))
        .transpose()?;
    let integration_keys = query
        .take("integrationId")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| {
                    IntegrationKey::parse(k).map_err(|e| {
                        ApiError::new(ErrorCode::InvalidQueryParams, format!("integrationId: {e}"))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    let tags = query
        .take_bracketed("tags")
        .into_iter()
        .map(|(k, v)| Ok((short_text("tags", k)?, short_text("tags", v)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    let limit = query.take_number("limit", 1, 2000)?.unwrap_or(100);
    let page = query.take_number("page", 0, 1_000_000)?.unwrap_or(0);
    query.finish()?;
    let connections = engine
        .connections()
        .list(
            &env.id,
            ListConnections {
                connection_id,
                search,
                end_user_id,
                end_user_organization_id,
                integration_keys,
                tags,
                limit,
                page,
            },
        )
        .await?;
    Ok(Json(json!({
        "connections": connections.iter().map(connection_list_item).collect::<Vec<_>>()
    })))
}

pub(super) async fn get(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let id = connection_param(&id)?;
    let key = key_param("provider_config_key", query.take("provider_config_key"))?;
    let force_refresh = query.take_flag("force_refresh")?;
    let include_refresh_token = query.take_flag("refresh_token")?;
    // GitHub Apps only; accepted so the SDK's call passes, and meaningless for OAuth 2.
    query.take_flag("refresh_github_app_jwt_token")?;
    query.finish()?;
    let (connection, credentials) = engine
        .connections()
        .get(&env.id, &key, &id, force_refresh)
        .await?;
    Ok(Json(connection_full(
        &connection,
        &credentials,
        include_refresh_token,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialsIn {
    #[serde(rename = "type")]
    kind: String,
    access_token: Text<8192>,
    #[serde(default)]
    refresh_token: Option<Text<8192>>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
    #[serde(default)]
    raw: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportBody {
    provider_config_key: WireIntegrationKey,
    #[serde(default)]
    connection_id: Option<WireConnectionId>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    connection_config: Option<Map<String, Value>>,
    #[serde(default)]
    end_user: Option<EndUserIn>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    webhook_url_override: Option<HttpUrl>,
    credentials: CredentialsIn,
}

fn oauth2_credentials(
    kind: &str,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<String>,
    raw: Option<Map<String, Value>>,
) -> ApiResult<Credentials> {
    if kind != "OAUTH2" {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!(
                "credentials.type `{kind}` does not match the provider's auth mode: use OAUTH2"
            ),
        ));
    }
    let raw = raw
        .map(Value::Object)
        .unwrap_or_else(|| json!({"access_token": access_token, "token_type": "bearer"}));
    Ok(Credentials::oauth2(
        access_token,
        refresh_token,
        expires_at,
        raw,
    ))
}

async fn import(
    engine: &Engine,
    env: &Env,
    input: ImportConnection,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (connection, credentials) = engine.connections().import(&env.0.id, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(connection_full(&connection, &credentials, true)),
    ))
}

pub(super) async fn create(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<ImportBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = body.credentials;
    let credentials = oauth2_credentials(
        &c.kind,
        c.access_token.0,
        c.refresh_token.map(|t| t.0),
        c.expires_at.map(|t| t.0),
        c.raw,
    )?;
    let input = ImportConnection {
        provider_config_key: body.provider_config_key.0,
        connection_id: body.connection_id.map(|c| c.0),
        credentials,
        connection_config: body.connection_config.unwrap_or_default(),
        metadata: body.metadata.unwrap_or_default(),
        end_user: body.end_user.map(EndUserIn::into_engine),
        tags: body.tags.map(|t| t.0).unwrap_or_default(),
        webhook_url_override: body.webhook_url_override.map(|u| u.0),
    };
    import(&engine, &env, input).await
}

/// The deprecated `POST /connection` body: the token fields at the top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LegacyImportBody {
    provider_config_key: WireIntegrationKey,
    #[serde(default)]
    connection_id: Option<WireConnectionId>,
    access_token: Text<8192>,
    #[serde(default)]
    refresh_token: Option<Text<8192>>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
    #[serde(default)]
    expires_in: Option<u32>,
    #[serde(default)]
    no_expiration: Option<bool>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    connection_config: Option<Map<String, Value>>,
}

pub(super) async fn create_legacy(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<LegacyImportBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let expires_at = body.expires_at.map(|t| t.0).or_else(|| {
        body.expires_in
            .filter(|_| body.no_expiration != Some(true))
            .map(|s| {
                ferry_engine::logs::timestamp(
                    chrono::Utc::now() + chrono::Duration::seconds(i64::from(s)),
                )
            })
    });
    let credentials = oauth2_credentials(
        "OAUTH2",
        body.access_token.0,
        body.refresh_token.map(|t| t.0),
        expires_at,
        None,
    )?;
    let input = ImportConnection {
        provider_config_key: body.provider_config_key.0,
        connection_id: body.connection_id.map(|c| c.0),
        credentials,
        connection_config: body.connection_config.unwrap_or_default(),
        metadata: body.metadata.unwrap_or_default(),
        end_user: None,
        tags: BTreeMap::new(),
        webhook_url_override: None,
    };
    import(&engine, &env, input).await
}

/// A field that may be sent as `null` to clear it: absent → `None`, `null` → `Some(None)`.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    end_user: Option<Option<EndUserIn>>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default, deserialize_with = "nullable")]
    webhook_url_override: Option<Option<HttpUrl>>,
}

/// `PATCH /connections/:id` → `{success: true}`, as Nango answers.
pub(super) async fn patch(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    mut query: QueryParams,
    extract::Json(body): extract::Json<PatchBody>,
) -> ApiResult<Json<Value>> {
    let id = connection_param(&id)?;
    let key = key_param("provider_config_key", query.take("provider_config_key"))?;
    query.finish()?;
    let patch = ConnectionPatch {
        end_user: body.end_user.map(|u| u.map(EndUserIn::into_engine)),
        tags: body.tags.map(|t| t.0),
        webhook_url_override: body.webhook_url_override.map(|u| u.map(|u| u.0)),
    };
    engine
        .connections()
        .patch(&env.id, &key, &id, patch)
        .await?;
    Ok(Json(json!({ "success": true })))
}

pub(super) async fn delete(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
    mut query: QueryParams,
) -> ApiResult<Json<Value>> {
    let id = connection_param(&id)?;
    let key = key_param("provider_config_key", query.take("provider_config_key"))?;
    query.finish()?;
    engine.connections().delete(&env.id, &key, &id).await?;
    Ok(Json(json!({ "success": true })))
}

/// `connection_id` of a metadata body: one id or a list, answered back the same way.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(WireConnectionId),
    Many(Vec<WireConnectionId>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MetadataBody {
    connection_id: OneOrMany,
    provider_config_key: WireIntegrationKey,
    metadata: Map<String, Value>,
}

async fn metadata(engine: &Engine, env: &Env, body: MetadataBody, merge: bool) -> ApiResult<Value> {
    let (ids, echoed) = match body.connection_id {
        OneOrMany::One(id) => (vec![id.0.clone()], json!(id.0.as_str())),
        OneOrMany::Many(ids) => {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(ApiError::new(
                    ErrorCode::InvalidBody,
                    "The body is not valid: connection_id: give 1 to 1000 connection ids",
                ));
            }
            let echoed = json!(ids.iter().map(|i| i.0.as_str()).collect::<Vec<_>>());
            (ids.into_iter().map(|i| i.0).collect(), echoed)
        }
    };
    let key = body.provider_config_key.0;
    engine
        .connections()
        .set_metadata(&env.0.id, &key, &ids, &body.metadata, merge)
        .await?;
    Ok(
        json!({"connection_id": echoed, "provider_config_key": key.as_str(), "metadata": body.metadata}),
    )
}

pub(super) async fn replace_metadata(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<MetadataBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(metadata(&engine, &env, body, false).await?),
    ))
}

pub(super) async fn merge_metadata(
    State(engine): State<Engine>,
    env: Env,
    extract::Json(body): extract::Json<MetadataBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(metadata(&engine, &env, body, true).await?))
}

/// The deprecated per-connection metadata routes: the integration in a header, the body
/// the metadata itself.
async fn legacy_metadata(
    engine: &Engine,
    env: &Env,
    id: &str,
    headers: &HeaderMap,
    metadata: Map<String, Value>,
    merge: bool,
) -> ApiResult<()> {
    let id = connection_param(id)?;
    let key =
        IntegrationKey::parse(&required_header(headers, "Provider-Config-Key")?).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidHeaders,
                format!("Provider-Config-Key: {e}"),
            )
        })?;
    engine
        .connections()
        .set_metadata(&env.0.id, &key, &[id], &metadata, merge)
        .await?;
    Ok(())
}

pub(super) async fn replace_metadata_legacy(
    State(engine): State<Engine>,
    env: Env,
    Path(id): Path<String>,
    headers: HeaderMap,
    extract::Json(metadata): extract::Json<Map<String, Value>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    legacy_metadata(&engine, &env, &id, &headers, metadata, false).await?;
    Ok((StatusCode::CREATED, Json(json!({}))))
}

pub(super) async fn merge_metadata_legacy(
    State(engine): State<Engine>,
    env: Env,
    Path(id): Path<String>,
    headers: HeaderMap,
    extract::Json(metadata): extract::Json<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    legacy_metadata(&engine, &env, &id, &headers, metadata, true).await?;
    Ok(Json(json!({})))
}
