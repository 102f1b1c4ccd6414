//! Webhooks to the app: the environment's settings (`GET|PATCH /environment/webhook-settings`,
//! a Ferry extension: Nango sets them in its dashboard) and the deliveries with every attempt
//! (`GET /webhooks/deliveries`, `GET /webhooks/deliveries/{id}`).

use axum::extract::{Path, State};
use ferry_engine::webhooks::{Delivery, WebhookSettings};
use ferry_engine::{Engine, EngineError, ErrorCode};
use serde_json::{Map, Value, json};

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, QueryParams};

fn settings_json(settings: &WebhookSettings) -> ApiResult<Value> {
    serde_json::to_value(settings)
        .map_err(|e| ApiError(EngineError::internal("writing webhook settings", e)))
}

pub(super) async fn get_settings(
    State(engine): State<Engine>,
    Env(env): Env,
) -> ApiResult<axum::Json<Value>> {
    let settings = engine.webhooks().settings(&env.id).await?;
    Ok(axum::Json(json!({"data": settings_json(&settings)?})))
}

/// `PATCH /environment/webhook-settings`: the fields given replace those stored.
pub(super) async fn patch_settings(
    State(engine): State<Engine>,
    Env(env): Env,
    Json(patch): Json<Map<String, Value>>,
) -> ApiResult<axum::Json<Value>> {
    // Each field's type is checked before anything is read, naming the field.
    for (name, value) in &patch {
        let fits = match name.as_str() {
            "primary_url" | "secondary_url" => value.is_string() || value.is_null(),
            "retry_window_hours" => value.as_u64().is_some_and(|h| h <= u64::from(u32::MAX)),
            "on_auth_creation"
            | "on_auth_refresh_error"
            | "on_sync_error"
            | "on_sync_completion_always"
            | "on_async_action_completion" => value.is_boolean(),
            _ => {
                return Err(invalid_setting(
                    name,
                    "is not a webhook setting (primary_url, secondary_url, on_auth_creation, on_auth_refresh_error, on_sync_error, on_sync_completion_always, on_async_action_completion, retry_window_hours)",
                ));
            }
        };
        if !fits {
            return Err(invalid_setting(
                name,
                match name.as_str() {
                    "primary_url" | "secondary_url" => "must be a URL or null",
                    "retry_window_hours" => "must be a whole number of hours from 1 to 168",
                    _ => "must be true or false",
                },
            ));
        }
    }
    let settings = engine
        .webhooks()
        .update_settings(&env.id, |settings| {
            let mut merged = serde_json::to_value(&*settings)
                .map_err(|e| EngineError::internal("writing webhook settings", e))?;
            let fields = merged.as_object_mut().expect("settings are an object");
            for (name, value) in patch {
                let value = match value {
                    Value::String(url) if url.is_empty() => Value::Null,
                    other => other,
                };
                fields.insert(name, value);
            }
            *settings = serde_json::from_value(merged)
                .map_err(|e| EngineError::new(ErrorCode::InvalidBody, e.to_string()))?;
            Ok(())
        })
        .await?;
    Ok(axum::Json(json!({"data": settings_json(&settings)?})))
}

fn invalid_setting(name: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, format!("{name}: {message}"))
}

fn delivery_json(d: Delivery) -> Value {
    json!({
        "id": d.id,
        "type": d.kind,
        "provider_config_key": d.integration_key,
        "connection_id": d.connection_id,
        "url": d.url,
        "body": d.body,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "created_at": d.created_at,
        "ended_at": d.ended_at,
    })
}

/// `GET /webhooks/deliveries?status=pending|delivered|failed&limit=(1–1000, 100)`, newest first.
pub(super) async fn list_deliveries(
    State(engine): State<Engine>,
    Env(env): Env,
    mut query: QueryParams,
) -> ApiResult<axum::Json<Value>> {
    let status = query.take_parsed("status", |s| match s {
        "pending" | "delivered" | "failed" => Ok(s.to_string()),
        _ => Err("must be pending, delivered or failed"),
    })?;
    let limit = query.take_number("limit", 1, 1000)?.map_or(100, i64::from);
    query.finish()?;
    let found = engine
        .webhooks()
        .deliveries(&env.id, status.as_deref(), limit)
        .await?;
    Ok(axum::Json(
        json!({"data": found.into_iter().map(delivery_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_delivery(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidUriParams,
                "id: must be a delivery id (a UUID)",
            )
        })?
        .to_string();
    match engine.webhooks().delivery(&env.id, &id).await? {
        Some(d) => Ok(axum::Json(json!({"data": delivery_json(d)}))),
        None => Err(ApiError::new(
            ErrorCode::UnknownWebhookDelivery,
            format!("no webhook delivery `{id}` in this environment"),
        )),
    }
}
