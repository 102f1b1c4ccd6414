//! The admin API under `/_emulator/` (not part of Notion's API): reset and export the
//! workspace, create integrations and share objects, inject faults, change limits, act as a
//! person editing in Notion, generate large data sources, read request counts, manage
//! webhook subscriptions, and serve the Notion-hosted files that responses link to.
//!
//! It has no authentication: the emulator is a local test tool and must not be exposed.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::faults::FaultRule;
use crate::http::{Caller, json_response};
use crate::model::{Grant, Id, Integration, IntegrationKind, Page, Parent, Stamps, User, UserKind};
use crate::validate as v;
use crate::version::ApiVersion;
use crate::webhooks::NewSubscription;
use crate::{Emulator, Seed, ids, oauth};

type Shared = State<Arc<Emulator>>;

pub fn router(emulator: Arc<Emulator>) -> Router<Arc<Emulator>> {
    let _ = emulator;
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/export", get(export))
        .route("/_emulator/settings", get(get_settings).post(set_settings))
        .route(
            "/_emulator/integrations",
            get(list_integrations).post(create_integration),
        )
        .route("/_emulator/share", post(share).delete(unshare))
        .route(
            "/_emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_emulator/faults/{id}", delete(remove_fault))
        .route(
            "/_emulator/requests",
            get(request_counts).delete(reset_counts),
        )
        .route(
            "/_emulator/people/{user_id}/pages",
            post(person_create_page),
        )
        .route(
            "/_emulator/people/{user_id}/pages/{page_id}",
            patch(person_update_page),
        )
        .route(
            "/_emulator/people/{user_id}/blocks/{block_id}",
            patch(person_update_block).delete(person_delete_block),
        )
        .route(
            "/_emulator/people/{user_id}/blocks/{block_id}/children",
            patch(person_append),
        )
        .route("/_emulator/people/{user_id}/comments", post(person_comment))
        .route("/_emulator/data_sources/{id}/generate", post(generate_rows))
        .route("/_emulator/webhooks", get(list_webhooks).post(subscribe))
        .route("/_emulator/webhooks/deliveries", get(list_deliveries))
        .route("/_emulator/webhooks/deliver", post(deliver_now))
        .route("/_emulator/webhooks/{id}", delete(unsubscribe))
        .route("/_emulator/webhooks/{id}/verify", post(verify))
        .route("/_emulator/files/{name}", get(hosted_file))
        .route("/_emulator/files/{upload}/{name}", get(uploaded_file))
        .route("/_emulator/file_uploads/{id}/expire", post(expire_upload))
        .route("/_emulator/file_uploads/import", post(import_uploads))
        .route(
            "/_emulator/meeting_notes/{id}/status",
            post(meeting_note_status),
        )
}

fn answer(result: ApiResult<Value>) -> Response {
    match result {
        Ok(v) => json_response(&v),
        Err(e) => e.into_response(),
    }
}

fn body_map(bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    let value = v::parse_body(bytes)?;
    Ok(v::object(Some(&value), "body")?.clone())
}

fn version_of(headers: &HeaderMap) -> ApiResult<ApiVersion> {
    match headers.get("notion-version").and_then(|h| h.to_str().ok()) {
        None => Ok(ApiVersion::V2025_09_03),
        some => ApiVersion::parse_header(some),
    }
}

fn person(emulator: &Emulator, headers: &HeaderMap, user: &str) -> ApiResult<Caller> {
    let id = ids::parse_path(user, "user_id")?;
    let ws = emulator.workspace();
    match ws.user(id) {
        Some(User {
            kind: UserKind::Person { .. },
            ..
        }) => Ok(Caller::person(version_of(headers)?, id)),
        _ => Err(NotionError::not_found("user", id)),
    }
}

async fn reset(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let seed = match body.get("seed") {
            Some(s) => v::string(Some(s), "body.seed")?
                .parse::<Seed>()
                .unwrap_or(Seed::Empty),
            None => emulator
                .seed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        };
        let fresh = seed
            .build()
            .map_err(|e| NotionError::validation(format!("The seed could not be loaded: {e}")))?;
        *emulator.workspace() = fresh;
        *emulator.seed.lock().unwrap_or_else(|e| e.into_inner()) = seed;
        emulator.faults.remove(None);
        emulator.limiter.reset();
        emulator.webhooks.clear();
        emulator
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(json!({"ok": true}))
    })())
}

async fn export(State(emulator): Shared) -> Response {
    let ws = emulator.workspace().clone();
    answer(serde_json::to_value(&ws).map_err(|e| NotionError::invalid_request(e.to_string())))
}

fn settings_json(emulator: &Emulator) -> Value {
    let s = emulator.settings();
    json!({"rate_limit": s.limits.rate, "burst": s.limits.burst, "latency_ms": s.latency.as_millis() as u64, "max_body_bytes": s.max_body_bytes, "markdown_record_limit": s.markdown_record_limit, "query_result_limit": s.query_result_limit, "max_file_upload_bytes": s.max_file_upload_bytes})
}

async fn get_settings(State(emulator): Shared) -> Response {
    json_response(&settings_json(&emulator))
}

async fn set_settings(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let rate = body
            .get("rate_limit")
            .map(|r| v::number(Some(r), "body.rate_limit"))
            .transpose()?;
        let burst = body
            .get("burst")
            .map(|b| v::number(Some(b), "body.burst"))
            .transpose()?;
        let latency = body
            .get("latency_ms")
            .map(|l| v::number(Some(l), "body.latency_ms"))
            .transpose()?;
        let record_limit = body
            .get("markdown_record_limit")
            .map(|l| v::number(Some(l), "body.markdown_record_limit"))
            .transpose()?;
        let query_limit = body
            .get("query_result_limit")
            .map(|l| v::number(Some(l), "body.query_result_limit"))
            .transpose()?;
        let upload_limit = body
            .get("max_file_upload_bytes")
            .map(|l| v::number(Some(l), "body.max_file_upload_bytes"))
            .transpose()?;
        if upload_limit.is_some_and(|l| l < 1.0) {
            return Err(NotionError::validation(
                "body.max_file_upload_bytes should be at least 1.",
            ));
        }
        if rate.is_some_and(|r| r < 0.0)
            || burst.is_some_and(|b| b < 1.0)
            || latency.is_some_and(|l| l < 0.0)
            || record_limit.is_some_and(|l| l < 1.0)
            || query_limit.is_some_and(|l| l < 1.0)
        {
            return Err(NotionError::validation(
                "rate_limit and latency_ms must be ≥ 0; burst, markdown_record_limit and query_result_limit ≥ 1.",
            ));
        }
        emulator.update_settings(|s| {
            if let Some(r) = rate {
                s.limits.rate = r;
            }
            if let Some(b) = burst {
                s.limits.burst = b as u32;
            }
            if let Some(l) = latency {
                s.latency = std::time::Duration::from_millis(l as u64);
            }
            if let Some(l) = record_limit {
                s.markdown_record_limit = l as usize;
            }
            if let Some(l) = query_limit {
                s.query_result_limit = l as usize;
            }
            if let Some(l) = upload_limit {
                s.max_file_upload_bytes = l as u64;
            }
        });
        emulator.limiter.reset();
        Ok(settings_json(&emulator))
    })())
}

fn integration_json(ws: &crate::model::Workspace, i: &Integration) -> Value {
    let mut out = json!({"id": i.id, "name": i.name, "user_emails": i.user_emails});
    match &i.kind {
        IntegrationKind::Internal { token } => {
            out["type"] = json!("internal");
            out["token"] = json!(token);
            out["bot_id"] = json!(i.bot);
            out["shared"] = json!(
                ws.grants
                    .get(token)
                    .map(|g| g.shared.iter().collect::<Vec<_>>())
                    .unwrap_or_default()
            );
        }
        IntegrationKind::Public {
            client_id,
            client_secret,
            redirect_uris,
        } => {
            out["type"] = json!("public");
            out["client_id"] = json!(client_id);
            out["client_secret"] = json!(client_secret);
            out["redirect_uris"] = json!(redirect_uris);
        }
    }
    out
}

async fn list_integrations(State(emulator): Shared) -> Response {
    let ws = emulator.workspace();
    json_response(
        &json!({"integrations": ws.integrations.iter().map(|i| integration_json(&ws, i)).collect::<Vec<_>>()}),
    )
}

async fn create_integration(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let kind = v::one_of(body.get("type"), "body.type", &["internal", "public"])?;
        let name = v::optional_string(body.get("name"), "body.name")?
            .unwrap_or("Test integration")
            .to_string();
        let user_emails =
            v::optional_bool(body.get("user_emails"), "body.user_emails")?.unwrap_or(true);
        let mut ws = emulator.workspace();
        let id = Uuid::new_v4();
        let integration = if kind == "internal" {
            let token = v::optional_string(body.get("token"), "body.token")?
                .map(str::to_string)
                .unwrap_or_else(|| oauth::random_token("ntn_"));
            if ws.grants.contains_key(&token) {
                return Err(NotionError::validation("That token is already in use."));
            }
            let bot = Uuid::new_v4();
            ws.users.push(User {
                id: bot,
                name: Some(name.clone()),
                avatar_url: None,
                kind: UserKind::Bot {
                    integration: id,
                    owner: None,
                },
            });
            ws.grants.insert(
                token.clone(),
                Grant {
                    integration: id,
                    bot,
                    owner: None,
                    shared: HashSet::new(),
                    refresh_token: None,
                    issued_at: Utc::now(),
                },
            );
            Integration {
                id,
                name,
                kind: IntegrationKind::Internal { token },
                bot: Some(bot),
                user_emails,
            }
        } else {
            let client_id = v::optional_string(body.get("client_id"), "body.client_id")?
                .map(str::to_string)
                .unwrap_or_else(|| Uuid::new_v4().to_string());
            let client_secret =
                v::optional_string(body.get("client_secret"), "body.client_secret")?
                    .map(str::to_string)
                    .unwrap_or_else(|| oauth::random_token("secret_"));
            let uris = v::array(
                v::required(&body, "redirect_uris", "body")?.into(),
                "body.redirect_uris",
                100,
            )?
            .iter()
            .enumerate()
            .map(|(i, u)| {
                v::string(Some(u), &v::index("body.redirect_uris", i)).map(str::to_string)
            })
            .collect::<ApiResult<Vec<_>>>()?;
            if ws.integrations.iter().any(|i| matches!(&i.kind, IntegrationKind::Public { client_id: c, .. } if *c == client_id)) {
                return Err(NotionError::validation("That client_id is already in use."));
            }
            Integration {
                id,
                name,
                kind: IntegrationKind::Public {
                    client_id,
                    client_secret,
                    redirect_uris: uris,
                },
                bot: None,
                user_emails,
            }
        };
        let out = integration_json(&ws, &integration);
        ws.integrations.push(integration);
        Ok(out)
    })())
}

/// The grants a share call changes: one token's, or every grant of an integration.
fn share_targets(
    ws: &crate::model::Workspace,
    body: &Map<String, Value>,
) -> ApiResult<(Vec<String>, Vec<Id>)> {
    let tokens: Vec<String> = if let Some(token) = body.get("token") {
        let token = v::string(Some(token), "body.token")?;
        if !ws.grants.contains_key(token) {
            return Err(NotionError::not_found("token", "(given)"));
        }
        vec![token.to_string()]
    } else {
        let integration = v::id(body.get("integration_id"), "body.integration_id")?;
        ws.grants
            .iter()
            .filter(|(_, g)| g.integration == integration)
            .map(|(t, _)| t.clone())
            .collect()
    };
    let objects = v::array(
        v::required(body, "object_ids", "body")?.into(),
        "body.object_ids",
        1000,
    )?
    .iter()
    .enumerate()
    .map(|(i, o)| v::id(Some(o), &v::index("body.object_ids", i)))
    .collect::<ApiResult<Vec<_>>>()?;
    for id in &objects {
        if ws.kind_of(*id).is_none() {
            return Err(NotionError::not_found("object", id));
        }
    }
    Ok((tokens, objects))
}

async fn share(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let (tokens, objects) = share_targets(&ws, &body)?;
        for token in &tokens {
            if let Some(g) = ws.grants.get_mut(token) {
                g.shared.extend(objects.iter().copied());
            }
        }
        Ok(json!({"grants": tokens.len(), "shared": objects}))
    })())
}

async fn unshare(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let (tokens, objects) = share_targets(&ws, &body)?;
        for token in &tokens {
            if let Some(g) = ws.grants.get_mut(token) {
                for id in &objects {
                    g.shared.remove(id);
                }
            }
        }
        Ok(json!({"grants": tokens.len(), "unshared": objects}))
    })())
}

async fn list_faults(State(emulator): Shared) -> Response {
    json_response(&json!({"faults": emulator.faults.list()}))
}

async fn add_fault(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let value = v::parse_body(&body)?;
        let rule: FaultRule = serde_json::from_value(value)
            .map_err(|e| NotionError::validation(format!("body failed validation: {e}")))?;
        if let Some(code) = &rule.code
            && crate::faults::known_code(code).is_none()
        {
            return Err(NotionError::validation(format!(
                "body.code should be one of Notion's error codes, instead was `{code}`."
            )));
        }
        if rule.status.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(NotionError::validation(
                "body.status should be an HTTP status between 100 and 599.",
            ));
        }
        if rule.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(NotionError::validation(
                "body.probability should be between 0 and 1.",
            ));
        }
        if rule.status.is_none() && !rule.drop_connection && rule.delay_ms.is_none() {
            return Err(NotionError::validation(
                "A fault needs at least one of `status`, `drop_connection` or `delay_ms`.",
            ));
        }
        Ok(serde_json::to_value(emulator.faults.add(rule)).unwrap_or_default())
    })())
}

async fn clear_faults(State(emulator): Shared) -> Response {
    json_response(&json!({"removed": emulator.faults.remove(None)}))
}

async fn remove_fault(State(emulator): Shared, Path(id): Path<String>) -> Response {
    answer(
        ids::parse_path(&id, "id").map(|id| json!({"removed": emulator.faults.remove(Some(id))})),
    )
}

async fn request_counts(State(emulator): Shared) -> Response {
    let counts = emulator
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let total: u64 = counts.values().sum();
    let rate_limited = emulator
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    json_response(&json!({"total": total, "rate_limited": rate_limited, "routes": counts}))
}

async fn reset_counts(State(emulator): Shared) -> Response {
    emulator
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    emulator
        .rate_limited
        .store(0, std::sync::atomic::Ordering::Relaxed);
    json_response(&json!({"ok": true}))
}

async fn person_create_page(
    State(emulator): Shared,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let (id, events) = crate::api::pages_create(&mut ws, &caller, &body)?;
        emulator.webhooks.emit(&ws, events);
        Ok(crate::render::page(
            &ws,
            &caller.ctx(&emulator),
            &ws.pages[&id],
            None,
        ))
    })())
}

async fn person_update_page(
    State(emulator): Shared,
    headers: HeaderMap,
    Path((user, page)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let id = ids::parse_path(&page, "page_id")?;
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let events = crate::api::update_page(&mut ws, &caller, id, &body)?;
        emulator.webhooks.emit(&ws, events);
        Ok(crate::render::page(
            &ws,
            &caller.ctx(&emulator),
            &ws.pages[&id],
            None,
        ))
    })())
}

async fn person_update_block(
    State(emulator): Shared,
    headers: HeaderMap,
    Path((user, block)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let id = ids::parse_path(&block, "block_id")?;
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let events = crate::api::update_block(&mut ws, &caller, id, &body)?;
        emulator.webhooks.emit(&ws, events);
        Ok(crate::render::child(&ws, &caller.ctx(&emulator), id).unwrap_or_default())
    })())
}

async fn person_delete_block(
    State(emulator): Shared,
    headers: HeaderMap,
    Path((user, block)): Path<(String, String)>,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let id = ids::parse_path(&block, "block_id")?;
        let mut ws = emulator.workspace();
        let events = crate::api::delete_block(&mut ws, &caller, id)?;
        emulator.webhooks.emit(&ws, events);
        Ok(crate::render::child(&ws, &caller.ctx(&emulator), id).unwrap_or_default())
    })())
}

async fn person_append(
    State(emulator): Shared,
    headers: HeaderMap,
    Path((user, block)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let id = ids::parse_path(&block, "block_id")?;
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let (new_ids, events) = crate::api::blocks_append(&mut ws, &caller, id, &body)?;
        emulator.webhooks.emit(&ws, events);
        let ctx = caller.ctx(&emulator);
        let results = new_ids
            .iter()
            .filter_map(|c| crate::render::child(&ws, &ctx, *c))
            .collect();
        Ok(crate::pagination::envelope("block", results, None))
    })())
}

async fn person_comment(
    State(emulator): Shared,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let caller = person(&emulator, &headers, &user)?;
        let body = body_map(&body)?;
        let mut ws = emulator.workspace();
        let (index, events) = crate::api::comments_create(&mut ws, &caller, &body)?;
        emulator.webhooks.emit(&ws, events);
        Ok(crate::render::comment(
            &caller.ctx(&emulator),
            &ws.comments[index],
        ))
    })())
}

/// Adds N rows with predictable values; creation times are a minute apart (Notion reports
/// them to the minute), oldest first, so `created_time` windows can split a large query.
async fn generate_rows(State(emulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer((|| {
        let id = ids::parse_path(&id, "id")?;
        let body = body_map(&body)?;
        let count = v::number(body.get("count"), "body.count")?;
        if !(1.0..=200_000.0).contains(&count) {
            return Err(NotionError::validation(
                "body.count should be between 1 and 200000.",
            ));
        }
        let count = count as usize;
        let prefix = v::optional_string(body.get("title_prefix"), "body.title_prefix")?
            .unwrap_or("Row")
            .to_string();
        let mut ws = emulator.workspace();
        let ds = ws
            .data_sources
            .get(&id)
            .ok_or_else(|| NotionError::not_found("data source", id))?
            .clone();
        let author = ws
            .users
            .iter()
            .find(|u| matches!(u.kind, UserKind::Person { .. }))
            .map(|u| u.id)
            .unwrap_or_default();
        let now = Utc::now();
        let title = ds
            .title_property()
            .map(|p| p.id.clone())
            .unwrap_or_else(|| "title".into());
        let number = ds
            .properties
            .iter()
            .find(|p| p.kind == "number")
            .map(|p| p.id.clone());
        let checkbox = ds
            .properties
            .iter()
            .find(|p| p.kind == "checkbox")
            .map(|p| p.id.clone());
        let mut ids_out = Vec::with_capacity(count);
        for i in 0..count {
            let row = Uuid::new_v4();
            let created = now - Duration::minutes((count - i) as i64);
            let mut properties = std::collections::BTreeMap::new();
            properties.insert(
                title.clone(),
                json!([crate::richtext::text(&format!("{prefix} {}", i + 1))]),
            );
            if let Some(n) = &number {
                properties.insert(n.clone(), json!(i + 1));
            }
            if let Some(c) = &checkbox {
                properties.insert(c.clone(), json!(i % 2 == 0));
            }
            ws.pages.insert(
                row,
                Page {
                    id: row,
                    parent: Parent::DataSource {
                        id,
                        database: ds.database,
                    },
                    stamps: Stamps {
                        created_time: created,
                        created_by: author,
                        last_edited_time: created,
                        last_edited_by: author,
                    },
                    in_trash: false,
                    is_locked: false,
                    icon: None,
                    cover: None,
                    properties,
                    children: Vec::new(),
                    is_template: false,
                },
            );
            ids_out.push(row);
        }
        let ds_mut = ws.data_sources.get_mut(&id).expect("found above");
        ds_mut.rows.extend(ids_out.iter().copied());
        Ok(
            json!({"created": count, "data_source_id": id, "first_id": ids_out.first(), "last_id": ids_out.last()}),
        )
    })())
}

async fn list_webhooks(State(emulator): Shared) -> Response {
    json_response(&json!({"subscriptions": emulator.webhooks.subscriptions()}))
}

async fn subscribe(State(emulator): Shared, body: Bytes) -> Response {
    answer((|| {
        let body = body_map(&body)?;
        let integration = v::id(body.get("integration_id"), "body.integration_id")?;
        if emulator.workspace().integration(integration).is_none() {
            return Err(NotionError::not_found("integration", integration));
        }
        let url = v::string(body.get("url"), "body.url")?.to_string();
        let event_types = match body.get("event_types") {
            None | Some(Value::Null) => None,
            Some(list) => Some(
                v::array(Some(list), "body.event_types", 100)?
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        v::string(Some(t), &v::index("body.event_types", i)).map(str::to_string)
                    })
                    .collect::<ApiResult<Vec<_>>>()?,
            ),
        };
        let api_version = ApiVersion::parse_header(Some(
            v::optional_string(body.get("api_version"), "body.api_version")?
                .unwrap_or("2025-09-03"),
        ))?;
        let number = |key: &str, default: u64| -> ApiResult<u64> {
            Ok(body
                .get(key)
                .map(|n| v::number(Some(n), &format!("body.{key}")))
                .transpose()?
                .map_or(default, |n| n.max(0.0) as u64))
        };
        let sub = emulator.webhooks.subscribe(NewSubscription {
            integration,
            url,
            event_types,
            api_version,
            aggregation_ms: number("aggregation_ms", 1000)?,
            shuffle: v::optional_bool(body.get("shuffle"), "body.shuffle")?.unwrap_or(false),
            retry_base_ms: number("retry_base_ms", 1000)?,
        });
        Ok(serde_json::to_value(sub).unwrap_or_default())
    })())
}

async fn verify(State(emulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer((|| {
        let id = ids::parse_path(&id, "id")?;
        let body = body_map(&body)?;
        let token = v::string(body.get("verification_token"), "body.verification_token")?;
        emulator
            .webhooks
            .verify(id, token)
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .map_err(NotionError::validation)
    })())
}

async fn unsubscribe(State(emulator): Shared, Path(id): Path<String>) -> Response {
    answer(
        ids::parse_path(&id, "id").map(|id| json!({"removed": emulator.webhooks.unsubscribe(id)})),
    )
}

async fn list_deliveries(State(emulator): Shared) -> Response {
    json_response(&json!({"deliveries": emulator.webhooks.deliveries()}))
}

/// Sends what is due now; `{"force": true}` also sends events still in their aggregation
/// window or waiting for a retry.
async fn deliver_now(State(emulator): Shared, body: Bytes) -> Response {
    let force = body_map(&body)
        .ok()
        .and_then(|b| b.get("force").and_then(Value::as_bool))
        .unwrap_or(false);
    let attempted = emulator.webhooks.deliver_due(force).await;
    json_response(&json!({"attempted": attempted}))
}

/// Moves a meeting note's processing on, as Notion's transcription and summary would.
async fn meeting_note_status(
    State(emulator): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let id = crate::ids::parse_path(&id, "id")?;
        let body = body_map(&body)?;
        crate::api::meeting_notes::set_status(&emulator, id, &body)
    })())
}

/// Runs the pending URL imports now rather than in the background.
async fn import_uploads(State(emulator): Shared) -> Response {
    let imported = crate::api::file_uploads::import_pending(&emulator).await;
    json_response(&json!({"imported": imported}))
}

/// Ends a file upload's hour now, as if it had passed.
async fn expire_upload(State(emulator): Shared, Path(id): Path<String>) -> Response {
    answer(
        crate::ids::parse_path(&id, "id")
            .and_then(|id| crate::api::file_uploads::expire_now(&emulator, id)),
    )
}

/// Whether a signed URL's `expires` has passed; S3's answer when it has.
fn expired_link(query: &std::collections::HashMap<String, String>) -> Option<Response> {
    let expires = query
        .get("expires")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    if Utc::now().timestamp() <= expires {
        return None;
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
    Some(
        (
            StatusCode::FORBIDDEN,
            [("content-type", "application/xml")],
            body,
        )
            .into_response(),
    )
}

/// A Notion-hosted file; its signed URL stops working at `expires`, as S3's does.
async fn hosted_file(
    Path(name): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(expired) = expired_link(&query) {
        return expired;
    }
    (
        StatusCode::OK,
        [("content-type", "application/octet-stream")],
        format!("Contents of {name}, served by the Notion emulator.\n"),
    )
        .into_response()
}

/// A file sent through the File Upload API, with its bytes and content type.
async fn uploaded_file(
    State(emulator): Shared,
    Path((upload, _name)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(expired) = expired_link(&query) {
        return expired;
    }
    let content = crate::ids::parse(&upload)
        .and_then(|id| crate::api::file_uploads::content_of(&emulator.workspace(), id));
    match content {
        Some((bytes, content_type)) => (
            StatusCode::OK,
            [("content-type", content_type)],
            Bytes::copy_from_slice(&bytes),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        )
            .into_response(),
    }
}
