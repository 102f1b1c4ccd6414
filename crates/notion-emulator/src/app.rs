//! The whole emulator as one router: the Notion API (`/v1`, OAuth included) behind the gate,
//! and the admin API (`/_emulator`).

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::NotionError;
use crate::{Emulator, admin, api, http, oauth};

pub fn router(emulator: Arc<Emulator>) -> Router {
    let oauth = Router::new()
        .route("/v1/oauth/authorize", get(oauth::authorize))
        .route("/v1/oauth/token", post(oauth::token))
        .route("/v1/oauth/introspect", post(oauth::introspect))
        .route("/v1/oauth/revoke", post(oauth::revoke));
    let notion = api::router(emulator.clone())
        .merge(oauth)
        .method_not_allowed_fallback(unknown_route)
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(emulator.clone(), http::gate));
    Router::new()
        .merge(notion)
        .merge(admin::router(emulator.clone()))
        .with_state(emulator)
}

async fn unknown_route() -> Response {
    NotionError::invalid_request_url().into_response()
}
