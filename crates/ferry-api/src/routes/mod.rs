//! The route table. Each resource module reads its requests into engine calls and shapes
//! the answers.

mod actions;
mod assets;
mod connect;
mod connections;
mod environments;
mod integrations;
mod logs;
mod providers;
mod proxy;
mod syncs;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use ferry_engine::{Engine, ErrorCode};

use crate::error::ApiError;
use crate::extract::MAX_JSON_BODY;

pub fn router() -> Router<Engine> {
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"result": "ok"})) }),
        )
        .route("/images/template-logos/{file}", get(assets::logo))
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
        // Deprecated routes that older SDK versions still call.
        .route(
            "/connection",
            get(connections::list).post(connections::create_legacy),
        )
        .route(
            "/connection/metadata",
            post(connections::replace_metadata).patch(connections::merge_metadata),
        )
        .route(
            "/connection/{id}",
            get(connections::get).delete(connections::delete),
        )
        .route(
            "/connection/{id}/metadata",
            post(connections::replace_metadata_legacy).patch(connections::merge_metadata_legacy),
        )
        .route("/connect/sessions", post(connect::create_session))
        .route(
            "/connect/sessions/reconnect",
            post(connect::create_reconnect_session),
        )
        .route(
            "/connect/session",
            get(connect::get_session).delete(connect::delete_session),
        )
        .route("/connect", get(connect::connect_page))
        .route("/oauth/connect/{key}", get(connect::oauth_connect))
        .route("/oauth/callback", get(connect::oauth_callback))
        .route(
            "/environments",
            get(environments::list).post(environments::create),
        )
        .route(
            "/environments/{id}",
            axum::routing::delete(environments::delete),
        )
        .route(
            "/environments/{id}/api-keys",
            get(environments::list_keys).post(environments::create_key),
        )
        .route(
            "/environments/{id}/api-keys/{key_id}",
            get(environments::get_key).delete(environments::delete_key),
        )
        .route(
            "/environment-variables",
            get(environments::variables).post(environments::set_variables),
        )
        .route(
            "/environment/webhook-signing-key/rotate",
            post(environments::rotate_webhook_signing_key),
        )
        .route("/proxy/{*path}", any(proxy::proxy))
        .route("/action/trigger", post(actions::trigger))
        .route("/action/{id}", get(actions::async_result))
        .route("/files/{token}", get(actions::file_link))
        .route(
            "/v1/{*path}",
            get(actions::by_endpoint).post(actions::by_endpoint),
        )
        .route("/scripts/config", get(actions::scripts_config))
        .route("/sync/trigger", post(syncs::trigger))
        .route("/sync/start", post(syncs::start))
        .route("/sync/pause", post(syncs::pause))
        .route("/sync/status", get(syncs::status))
        .route(
            "/sync/update-connection-frequency",
            axum::routing::put(syncs::update_frequency),
        )
        .route(
            "/sync/{name}/variant/{variant}",
            post(syncs::add_variant).delete(syncs::remove_variant),
        )
        .route(
            "/environment/webhook-settings",
            get(webhooks::get_settings).patch(webhooks::patch_settings),
        )
        .route("/webhooks/deliveries", get(webhooks::list_deliveries))
        .route("/webhooks/deliveries/{id}", get(webhooks::get_delivery))
        .route("/records", get(syncs::records))
        .route("/records/prune", axum::routing::patch(syncs::prune))
        // @nangohq/node asks for `/records/?…`.
        .route("/records/", get(syncs::records))
        .route("/logs", get(logs::list))
        .route("/logs/{id}", get(logs::get))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .fallback(|| async {
            ApiError::new(
                ErrorCode::UnknownRoute,
                "There is no such route; see the API reference in docs/api.md.",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "This route does not answer this method; see docs/api.md.",
            )
        })
}

/// A path segment as an id of type `T`, or `invalid_uri_params` naming the segment.
pub fn path_id<T, E: std::fmt::Display>(
    name: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(value).map_err(|e| ApiError::new(ErrorCode::InvalidUriParams, format!("{name}: {e}")))
}
