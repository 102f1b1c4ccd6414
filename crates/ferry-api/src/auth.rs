//! Who is calling: `Authorization: Bearer <key>`. An environment key acts in its
//! environment and reaches only that environment's data; an account key manages
//! environments and their keys. Each route asks for the one it needs.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ferry_engine::environments::{Caller, Environment};
use ferry_engine::{Engine, ErrorCode};

use crate::error::ApiError;

fn bearer(parts: &Parts) -> &str {
    parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default()
}

/// The environment of the calling environment key.
pub struct Env(pub std::sync::Arc<Environment>);

impl FromRequestParts<Engine> for Env {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
        match engine.environments().authenticate(bearer(parts)).await? {
            Caller::Environment(environment) => Ok(Env(environment)),
            Caller::Account => Err(ApiError::new(
                ErrorCode::Forbidden,
                "This is an account key; calls in an environment need one of the environment's keys.",
            )),
        }
    }
}

/// A call made with an account key.
pub struct Account;

impl FromRequestParts<Engine> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
        match engine.environments().authenticate(bearer(parts)).await? {
            Caller::Account => Ok(Account),
            Caller::Environment(_) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "Insufficient scope: managing environments needs an account key (FERRY_ACCOUNT_KEY), not an environment key.",
            )),
        }
    }
}

/// The bearer token of a connect session (`nango_connect_session_…`).
pub struct SessionToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = bearer(parts);
        if token.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidConnectSessionToken,
                "Send the connect session token as `Authorization: Bearer nango_connect_session_…`.",
            ));
        }
        Ok(SessionToken(token.to_string()))
    }
}
