//! The route table, and helpers shared by the resource modules.

mod connect;
mod connections;
mod integrations;
mod logs;
mod providers;
mod proxy;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{any, get, post};
use ferry_engine::Engine;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

pub fn router() -> Router<Engine> {
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"result": "ok"})) }),
        )
        .route("/providers", get(providers::list))
        .route("/providers/{provider}", get(providers::get))
        .route(
            "/integrations",
            get(integrations::list).post(integrations::create),
        )
        .route(
            "/integrations/{key}",
            get(integrations::get)
                .patch(integrations::update)
                .delete(integrations::delete),
        )
        .route(
            "/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/connections/metadata",
            post(connections::replace_metadata).patch(connections::merge_metadata),
        )
        .route(
            "/connections/{id}",
            get(connections::get)
                .patch(connections::patch)
                .delete(connections::delete),
        )
        .route("/connect/sessions", post(connect::create_session))
        .route(
            "/connect/sessions/reconnect",
            post(connect::create_reconnect_session),
        )
        .route("/connect/session", get(connect::get_session))
        .route("/connect", get(connect::connect_page))
        .route("/oauth/connect/{key}", get(connect::oauth_connect))
        .route("/oauth/callback", get(connect::oauth_callback))
        .route("/proxy/{*path}", any(proxy::proxy))
        .route("/logs", get(logs::list))
        .route("/logs/{id}", get(logs::get))
        .fallback(|| async {
            ApiError::invalid(
                "unknown_route",
                "There is no such route; see the API reference in docs/api.md.",
            )
            .into_not_found()
        })
}

/// Parses a JSON body into `T`, answering `invalid_body` with serde's reason.
pub fn parse_body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    let text = if bytes.is_empty() {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|e| {
        ApiError::invalid(
            "invalid_body",
            format!("The request body is not valid: {e}"),
        )
    })
}

impl ApiError {
    fn into_not_found(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut e = self;
        e.0.kind = ferry_engine::ErrorKind::NotFound;
        e.into_response()
    }
}
