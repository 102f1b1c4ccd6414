//! Short-lived sessions: connect sessions (a token handed to an end user's browser, stored
//! hashed) and OAuth sessions (the single-use `state` with its PKCE verifier).

use serde_json::Value;
use sqlx::Row as _;

use crate::{Store, StoreResult, json_col, now, sha256_hex};

#[derive(Debug, Clone)]
pub struct ConnectSession {
    pub environment_id: String,
    pub end_user: Option<Value>,
    pub organization: Option<Value>,
    pub allowed_integrations: Option<Vec<String>>,
    pub tags: Value,
    /// The connection (row id) a reconnect session re-authorizes.
    pub reconnect_connection: Option<String>,
    pub expires_at: String,
}

#[derive(Debug, Clone)]
pub struct OAuthSession {
    pub state: String,
    pub environment_id: String,
    pub integration_id: String,
    pub connect_session_hash: Option<String>,
    pub connection_id: Option<String>,
    pub code_verifier: String,
    pub redirect_uri: String,
    pub operation_id: String,
    pub expires_at: String,
}

impl Store {
    pub async fn create_connect_session(&self, token: &str, s: &ConnectSession) -> StoreResult<()> {
        sqlx::query(self.sql(
            "INSERT INTO connect_sessions (token_hash, environment_id, end_user, organization, allowed_integrations, tags, reconnect_connection, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(sha256_hex(token))
        .bind(&s.environment_id)
        .bind(s.end_user.as_ref().map(Value::to_string))
        .bind(s.organization.as_ref().map(Value::to_string))
        .bind(s.allowed_integrations.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
        .bind(s.tags.to_string())
        .bind(&s.reconnect_connection)
        .bind(&s.expires_at)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A live (unexpired) connect session by its token's hash.
    pub async fn connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        let row = sqlx::query(self.sql(
            "SELECT environment_id, end_user, organization, allowed_integrations, tags, reconnect_connection, expires_at FROM connect_sessions WHERE token_hash = ? AND expires_at > ?",
        ))
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let opt_json = |col: &str| -> StoreResult<Option<Value>> {
            row.try_get::<Option<String>, _>(col)?
                .as_deref()
                .map(json_col)
                .transpose()
        };
        let allowed = opt_json("allowed_integrations")?
            .map(|v| serde_json::from_value(v).unwrap_or_default());
        Ok(Some(ConnectSession {
            environment_id: row.try_get("environment_id")?,
            end_user: opt_json("end_user")?,
            organization: opt_json("organization")?,
            allowed_integrations: allowed,
            tags: json_col(&row.try_get::<String, _>("tags")?)?,
            reconnect_connection: row.try_get("reconnect_connection")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    pub async fn create_oauth_session(&self, s: &OAuthSession) -> StoreResult<()> {
        sqlx::query(self.sql(
            "INSERT INTO oauth_sessions (state, environment_id, integration_id, connect_session_hash, connection_id, code_verifier, redirect_uri, operation_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&s.state)
        .bind(&s.environment_id)
        .bind(&s.integration_id)
        .bind(&s.connect_session_hash)
        .bind(&s.connection_id)
        .bind(&s.code_verifier)
        .bind(&s.redirect_uri)
        .bind(&s.operation_id)
        .bind(&s.expires_at)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the OAuth session for `state` exactly once: a second take (or a concurrent one)
    /// finds nothing. Expired sessions are not returned.
    pub async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(self.sql(
            "SELECT state, environment_id, integration_id, connect_session_hash, connection_id, code_verifier, redirect_uri, operation_id, expires_at FROM oauth_sessions WHERE state = ?",
        ))
        .bind(state)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let deleted = sqlx::query(self.sql("DELETE FROM oauth_sessions WHERE state = ?"))
            .bind(state)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if deleted.rows_affected() != 1 {
            return Ok(None);
        }
        let session = OAuthSession {
            state: row.try_get("state")?,
            environment_id: row.try_get("environment_id")?,
            integration_id: row.try_get("integration_id")?,
            connect_session_hash: row.try_get("connect_session_hash")?,
            connection_id: row.try_get("connection_id")?,
            code_verifier: row.try_get("code_verifier")?,
            redirect_uri: row.try_get("redirect_uri")?,
            operation_id: row.try_get("operation_id")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((session.expires_at > now()).then_some(session))
    }

    /// Deletes expired sessions; returns how many.
    pub async fn prune_sessions(&self) -> StoreResult<u64> {
        let now = now();
        let a = sqlx::query(self.sql("DELETE FROM connect_sessions WHERE expires_at <= ?"))
            .bind(&now)
            .execute(&self.pool)
            .await?;
        let b = sqlx::query(self.sql("DELETE FROM oauth_sessions WHERE expires_at <= ?"))
            .bind(&now)
            .execute(&self.pool)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
