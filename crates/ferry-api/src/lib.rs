//! Ferry's HTTP edge: Nango-compatible routes (providers, integrations, connections, connect
//! sessions, OAuth, proxy, logs, environments and their keys), key authentication, request
//! parsing, wire shapes, and the mapping of engine error codes to statuses.
//!
//! This is the only crate that knows HTTP status codes and Ferry's wire shapes; it depends on
//! the engine alone, never on the store.

pub mod auth;
pub mod error;
mod extract;
mod routes;
mod wire;

use axum::Router;
use axum::extract::Request;
use ferry_engine::Engine;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use crate::error::{ApiError, status_of};

/// The whole API as one router over an engine.
pub fn router(engine: Engine) -> Router {
    routes::router()
        .with_state(engine)
        .layer(CatchPanicLayer::custom(error::panic_response))
        // Spans show the path only: query strings can carry connect-session tokens.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
}

/// Serves the API on `listener` until `shutdown` resolves, then lets calls in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
