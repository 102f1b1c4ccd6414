//! The HTTP surface under `/v1`: routing, and the gate every request passes (request
//! counting, latency, injected faults, body limits, `Notion-Version`, bearer auth and the
//! per-token rate limit) before a resource handler sees it.

mod blocks;
mod comments;
mod data_sources;
mod databases;
pub mod file_uploads;
pub mod meeting_notes;
mod page_markdown;
mod pages;
pub(crate) mod schema;
mod search;
mod users;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use serde_json::Value;

use crate::Emulator;
use crate::error::ApiResult;
use crate::http::{Caller, authenticate, h, hs};
use crate::model::{Id, Workspace};

pub(crate) use blocks::{append_children as blocks_append, delete_block, update_block};
pub(crate) use comments::create_comment as comments_create;
pub(crate) use databases::create_database_in;
pub(crate) use pages::{create_page as pages_create, update_page};

/// Seed helper: a database with its first data source.
pub(crate) fn databases_create(
    ws: &mut Workspace,
    caller: &Caller,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<(Id, Id)> {
    create_database_in(ws, caller, body).map(|(db, ds, _)| (db, ds))
}

/// Seed helper: a further data source with `properties` in a database.
pub(crate) fn data_sources_create(
    ws: &mut Workspace,
    caller: &Caller,
    database: Id,
    properties: Value,
    title: &str,
) -> Id {
    let body = serde_json::json!({"parent": {"database_id": database}, "properties": properties, "title": [{"text": {"content": title}}]});
    let body = body.as_object().cloned().unwrap_or_default();
    data_sources::create_data_source_in(ws, caller, &body)
        .expect("the demo seed is valid")
        .0
}

/// The `/v1` resource routes, behind authentication.
pub fn router(emulator: Arc<Emulator>) -> Router<Arc<Emulator>> {
    Router::new()
        .route("/v1/users", get(h(users::list)))
        .route("/v1/users/me", get(h(users::me)))
        .route("/v1/users/{user_id}", get(h(users::retrieve)))
        .route("/v1/custom_emojis", get(h(users::custom_emojis)))
        .route("/v1/search", post(h(search::search)))
        .route("/v1/databases", post(h(databases::create_database)))
        .route(
            "/v1/databases/{database_id}",
            get(h(databases::retrieve_database)).patch(h(databases::update_database)),
        )
        .route(
            "/v1/databases/{database_id}/query",
            post(h(databases::query_database)),
        )
        .route(
            "/v1/data_sources",
            post(h(data_sources::create_data_source)),
        )
        .route(
            "/v1/data_sources/{data_source_id}",
            get(h(data_sources::retrieve_data_source)).patch(h(data_sources::update_data_source)),
        )
        .route(
            "/v1/data_sources/{data_source_id}/query",
            post(h(data_sources::query_data_source)),
        )
        .route(
            "/v1/data_sources/{data_source_id}/templates",
            get(h(data_sources::list_templates)),
        )
        .route("/v1/pages", post(hs(pages::create)))
        .route(
            "/v1/pages/{page_id}",
            get(h(pages::retrieve)).patch(h(pages::update)),
        )
        .route(
            "/v1/pages/{page_id}/properties/{property_id}",
            get(h(pages::property_item)),
        )
        .route("/v1/pages/{page_id}/move", post(h(pages::move_page)))
        .route(
            "/v1/pages/{page_id}/markdown",
            get(h(pages::markdown)).patch(hs(page_markdown::update)),
        )
        .route(
            "/v1/async_tasks/{task_id}",
            get(h(page_markdown::retrieve_task)),
        )
        .route("/v1/blocks/meeting_notes", post(h(meeting_notes::create)))
        .route(
            "/v1/blocks/meeting_notes/query",
            post(h(meeting_notes::query)),
        )
        .route(
            "/v1/blocks/{block_id}",
            get(h(blocks::retrieve))
                .patch(h(blocks::update))
                .delete(h(blocks::delete)),
        )
        .route(
            "/v1/blocks/{block_id}/children",
            get(h(blocks::list_children)).patch(h(blocks::append)),
        )
        .route(
            "/v1/comments",
            get(h(comments::list)).post(h(comments::create)),
        )
        .route(
            "/v1/comments/{comment_id}",
            get(h(comments::retrieve))
                .patch(h(comments::update))
                .delete(h(comments::delete)),
        )
        .route(
            "/v1/file_uploads",
            get(h(file_uploads::list)).post(h(file_uploads::create)),
        )
        .route(
            "/v1/file_uploads/{file_upload_id}",
            get(h(file_uploads::retrieve)),
        )
        .route(
            crate::uploads::SEND_ROUTE,
            post(file_uploads::send).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/file_uploads/{file_upload_id}/complete",
            post(h(file_uploads::complete)),
        )
        .route("/v1/views", get(h(views::list)).post(h(views::create)))
        .route(
            "/v1/views/{view_id}",
            get(h(views::retrieve))
                .patch(h(views::update))
                .delete(h(views::delete)),
        )
        .route("/v1/views/{view_id}/queries", post(h(views::create_query)))
        .route(
            "/v1/views/{view_id}/queries/{query_id}",
            get(h(views::query_results)).delete(h(views::delete_query)),
        )
        .route_layer(middleware::from_fn_with_state(
            emulator.clone(),
            file_uploads::attach_named_uploads,
        ))
        .route_layer(middleware::from_fn_with_state(emulator, authenticate))
}
