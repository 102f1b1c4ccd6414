//! Ferry's HTTP edge: Nango-compatible routes (providers, integrations, connections, connect
//! sessions, OAuth, proxy, logs), secret-key authentication, wire shapes, and the mapping of
//! engine errors to status codes and `{"error":{"code","message"}}` bodies.
//!
//! This is the only crate that knows HTTP status codes and Ferry's wire shapes.

pub mod auth;
pub mod error;
mod routes;

use axum::Router;
use ferry_engine::Engine;

pub use crate::error::ApiError;

/// The whole API as one router over an engine.
pub fn router(engine: Engine) -> Router {
    routes::router()
        .with_state(engine)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
