//! Secret-key authentication: `Authorization: Bearer <key>` names the environment a call
//! acts in; a key of one environment can never reach another's data.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ferry_engine::Engine;
use ferry_store::environments::Environment;

use crate::error::ApiError;

/// The environment of the calling key.
pub struct Env(pub Environment);

impl FromRequestParts<Engine> for Env {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or_default();
        Ok(Env(engine.authenticate(key).await?))
    }
}
