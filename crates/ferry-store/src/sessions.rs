//! Short-lived sessions: connect sessions (a token handed to an end user's browser, stored
//! hashed) and OAuth sessions (the single-use `state` with its PKCE verifier).

use serde_json::Value;
use sqlx::Row as _;

use ferry_engine::storage::{ConnectSessionRecord, OAuthSessionRecord};
use ferry_engine::time::now;

use crate::{Store, StoreResult, Tx, json_col};

impl Store {
    /// A live (unexpired) connect session by its token's hash.
    pub async fn connect_session(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<ConnectSessionRecord>> {
        let sql = self.sql(
            "SELECT environment_id, end_user, organization, allowed_integrations, tags, reconnect_connection, expires_at FROM connect_sessions WHERE token_hash = ? AND expires_at > ?",
        );
        let row = sqlx::query(sql)
            .bind(token_hash)
            .bind(now())
            .fetch_optional(self.pool())
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
        Ok(Some(ConnectSessionRecord {
            environment_id: row.try_get("environment_id")?,
            end_user: opt_json("end_user")?,
            organization: opt_json("organization")?,
            allowed_integrations: allowed,
            tags: json_col(&row.try_get::<String, _>("tags")?)?,
            reconnect_connection: row.try_get("reconnect_connection")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}

impl Tx {
    pub async fn create_connect_session(
        &mut self,
        token_hash: &str,
        s: &ConnectSessionRecord,
    ) -> StoreResult<()> {
        let sql = self.sql(
            "INSERT INTO connect_sessions (token_hash, environment_id, end_user, organization, allowed_integrations, tags, reconnect_connection, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        sqlx::query(sql)
            .bind(token_hash)
            .bind(&s.environment_id)
            .bind(s.end_user.as_ref().map(Value::to_string))
            .bind(s.organization.as_ref().map(Value::to_string))
            .bind(
                s.allowed_integrations
                    .as_ref()
                    .map(|a| serde_json::to_string(a).unwrap_or_default()),
            )
            .bind(s.tags.to_string())
            .bind(&s.reconnect_connection)
            .bind(&s.expires_at)
            .bind(now())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Ends a connect session at once. False when there was none.
    pub async fn delete_connect_session(&mut self, token_hash: &str) -> StoreResult<bool> {
        let sql = self.sql("DELETE FROM connect_sessions WHERE token_hash = ?");
        let done = sqlx::query(sql)
            .bind(token_hash)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn create_oauth_session(&mut self, s: &OAuthSessionRecord) -> StoreResult<()> {
        let sql = self.sql(
            "INSERT INTO oauth_sessions (state, environment_id, integration_id, connect_session_hash, code_verifier, redirect_uri, operation_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        sqlx::query(sql)
            .bind(&s.state)
            .bind(&s.environment_id)
            .bind(&s.integration_id)
            .bind(&s.connect_session_hash)
            .bind(&s.code_verifier)
            .bind(&s.redirect_uri)
            .bind(&s.operation_id)
            .bind(&s.expires_at)
            .bind(now())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Takes the OAuth session for `state` exactly once: a second take (or a concurrent one)
    /// finds nothing. Expired sessions are not returned.
    pub async fn take_oauth_session(
        &mut self,
        state: &str,
    ) -> StoreResult<Option<OAuthSessionRecord>> {
        let sql = self.sql(
            "SELECT state, environment_id, integration_id, connect_session_hash, code_verifier, redirect_uri, operation_id, expires_at FROM oauth_sessions WHERE state = ?",
        );
        let row = sqlx::query(sql)
            .bind(state)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sql = self.sql("DELETE FROM oauth_sessions WHERE state = ?");
        let deleted = sqlx::query(sql).bind(state).execute(self.conn()).await?;
        if deleted.rows_affected() != 1 {
            return Ok(None);
        }
        let session = OAuthSessionRecord {
            state: row.try_get("state")?,
            environment_id: row.try_get("environment_id")?,
            integration_id: row.try_get("integration_id")?,
            connect_session_hash: row.try_get("connect_session_hash")?,
            code_verifier: row.try_get("code_verifier")?,
            redirect_uri: row.try_get("redirect_uri")?,
            operation_id: row.try_get("operation_id")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((session.expires_at > now()).then_some(session))
    }

    /// Deletes expired sessions, first marking the `auth` operations of abandoned
    /// authorizations `expired`. Returns how many sessions were deleted.
    pub async fn prune_sessions(&mut self) -> StoreResult<u64> {
        let now = now();
        let sql = self.sql(
            "UPDATE operations SET status = 'expired', ended_at = ?, message = 'the authorization was abandoned: its session expired' \
             WHERE status = 'running' AND id IN (SELECT operation_id FROM oauth_sessions WHERE expires_at <= ?)",
        );
        sqlx::query(sql)
            .bind(&now)
            .bind(&now)
            .execute(self.conn())
            .await?;
        let sql = self.sql("DELETE FROM connect_sessions WHERE expires_at <= ?");
        let a = sqlx::query(sql).bind(&now).execute(self.conn()).await?;
        let sql = self.sql("DELETE FROM oauth_sessions WHERE expires_at <= ?");
        let b = sqlx::query(sql).bind(&now).execute(self.conn()).await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
