//! Connections: importing tokens, reading them (refreshing when asked or when Notion says a
//! token is no longer valid), patching, deleting and metadata.

use std::time::Instant;

use base64::Engine as _;
use ferry_store::connections::{Connection, ConnectionFilter, ConnectionRow};
use ferry_store::integrations::Integration;
use serde_json::{Value, json};

use crate::credentials::Credentials;
use crate::logs::{LoggedHeaders, Recorder, body_for_log};
use crate::{Engine, EngineError, EngineResult, ErrorKind, providers};

/// `POST /connections`: an existing token to import.
#[derive(Debug, Clone)]
pub struct ImportConnection {
    pub provider_config_key: String,
    pub connection_id: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<String>,
    pub raw: Value,
    pub connection_config: Value,
    pub metadata: Value,
    pub end_user: Option<Value>,
    pub tags: Value,
}

fn unknown_connection(key: &str, id: &str) -> EngineError {
    EngineError::not_found(
        "unknown_connection",
        format!("There is no connection `{id}` for integration `{key}` in this environment."),
    )
}

impl Engine {
    pub async fn import_connection(
        &self,
        environment_id: &str,
        input: ImportConnection,
    ) -> EngineResult<ConnectionRow> {
        let integration = self
            .integration(environment_id, &input.provider_config_key)
            .await?;
        if input.access_token.trim().is_empty() {
            return Err(EngineError::invalid(
                "invalid_body",
                "credentials.access_token must not be empty",
            ));
        }
        let connection_id = input
            .connection_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if connection_id.is_empty() || connection_id.len() > 255 {
            return Err(EngineError::invalid(
                "invalid_body",
                "connection_id must be 1–255 characters",
            ));
        }
        let credentials = Credentials::oauth2(
            input.access_token,
            input.refresh_token,
            input.expires_at,
            input.raw,
        );
        let row = Connection {
            id: String::new(),
            environment_id: environment_id.to_string(),
            integration_id: integration.id.clone(),
            connection_id: connection_id.clone(),
            credentials_enc: self.seal_credentials(&credentials),
            connection_config: input.connection_config,
            metadata: input.metadata,
            end_user: input.end_user,
            tags: input.tags,
            auth_identity: None,
            created_at: String::new(),
            updated_at: String::new(),
            last_fetched_at: None,
        };
        self.store.upsert_connection(&row).await?;
        self.connection_row(environment_id, &integration.unique_key, &connection_id)
            .await
    }

    pub async fn connection_row(
        &self,
        environment_id: &str,
        key: &str,
        id: &str,
    ) -> EngineResult<ConnectionRow> {
        if key.is_empty() {
            return Err(EngineError::invalid(
                "missing_provider_config_key",
                "provider_config_key is required",
            ));
        }
        self.store
            .connection(environment_id, key, id)
            .await?
            .ok_or_else(|| unknown_connection(key, id))
    }

    /// A connection with its opened credentials; `force_refresh` refreshes first when the
    /// connection has a refresh token.
    pub async fn connection_with_credentials(
        &self,
        environment_id: &str,
        key: &str,
        id: &str,
        force_refresh: bool,
    ) -> EngineResult<(ConnectionRow, Credentials)> {
        let row = self.connection_row(environment_id, key, id).await?;
        let mut credentials = self.open_credentials(&row.connection.credentials_enc)?;
        if force_refresh && credentials.refresh_token.is_some() {
            credentials = self.refresh(&row, Some(&credentials.access_token)).await?;
        }
        self.store.touch_connection(&row.connection.id).await?;
        Ok((row, credentials))
    }

    pub async fn list_connections(
        &self,
        environment_id: &str,
        filter: &ConnectionFilter,
    ) -> EngineResult<Vec<ConnectionRow>> {
        Ok(self.store.list_connections(environment_id, filter).await?)
    }

    pub async fn patch_connection(
        &self,
        environment_id: &str,
        key: &str,
        id: &str,
        end_user: Option<Option<Value>>,
        tags: Option<Value>,
    ) -> EngineResult<ConnectionRow> {
        let row = self.connection_row(environment_id, key, id).await?;
        let c = &row.connection;
        let end_user = end_user.unwrap_or_else(|| c.end_user.clone());
        let tags = tags.unwrap_or_else(|| c.tags.clone());
        self.store
            .update_connection_fields(&c.id, end_user.as_ref(), &tags, &c.metadata)
            .await?;
        self.forget_cached_connection(environment_id, key, id);
        self.connection_row(environment_id, key, id).await
    }

    pub async fn delete_connection(
        &self,
        environment_id: &str,
        key: &str,
        id: &str,
    ) -> EngineResult<()> {
        let row = self.connection_row(environment_id, key, id).await?;
        self.store.delete_connection(&row.connection.id).await?;
        self.forget_cached_connection(environment_id, key, id);
        Ok(())
    }

    /// Replaces (`merge = false`) or shallow-merges metadata on each named connection.
    pub async fn set_metadata(
        &self,
        environment_id: &str,
        key: &str,
        ids: &[String],
        metadata: &Value,
        merge: bool,
    ) -> EngineResult<()> {
        let Some(new) = metadata.as_object() else {
            return Err(EngineError::invalid(
                "invalid_body",
                "metadata must be an object",
            ));
        };
        let mut rows = Vec::new();
        for id in ids {
            rows.push(self.connection_row(environment_id, key, id).await?);
        }
        for row in rows {
            let c = &row.connection;
            let value = if merge {
                let mut current = c.metadata.as_object().cloned().unwrap_or_default();
                current.extend(new.clone());
                Value::Object(current)
            } else {
                metadata.clone()
            };
            self.store
                .update_connection_fields(&c.id, c.end_user.as_ref(), &c.tags, &value)
                .await?;
            self.forget_cached_connection(environment_id, key, &c.connection_id);
        }
        Ok(())
    }

    /// Refreshes a connection's token. Refreshes of one connection are serialised, within
    /// this process by a lock and across processes by a lease row in the database; a caller
    /// that waited finds the token already renewed (it differs from `seen_access_token`)
    /// and uses it instead of refreshing twice.
    pub async fn refresh(
        &self,
        row: &ConnectionRow,
        seen_access_token: Option<&str>,
    ) -> EngineResult<Credentials> {
        let lock = self.refresh_lock(&row.connection.id);
        let _guard = lock.lock().await;
        let lease = self.take_refresh_lease(&row.connection.id).await?;
        let outcome = self.refresh_holding_lease(row, seen_access_token).await;
        // An unreleased lease (the database just failed) ends by itself at its expiry.
        let _ = self
            .store
            .release_refresh_lease(&row.connection.id, &lease)
            .await;
        outcome
    }

    /// Waits until this process holds the connection's refresh lease; returns its expiry,
    /// which identifies it. A holder that died leaves a lease that expires by itself.
    async fn take_refresh_lease(&self, connection_row_id: &str) -> EngineResult<String> {
        loop {
            let now = chrono::Utc::now();
            let until = ferry_store::ts(now + REFRESH_LEASE);
            if self
                .store
                .take_refresh_lease(connection_row_id, &ferry_store::ts(now), &until)
                .await?
            {
                return Ok(until);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        row: &ConnectionRow,
        seen_access_token: Option<&str>,
    ) -> EngineResult<Credentials> {
        let fresh = self
            .store
            .connection(
                &row.connection.environment_id,
                &row.provider_config_key,
                &row.connection.connection_id,
            )
            .await?
            .ok_or_else(|| {
                unknown_connection(&row.provider_config_key, &row.connection.connection_id)
            })?;
        let current = self.open_credentials(&fresh.connection.credentials_enc)?;
        if seen_access_token.is_some_and(|seen| seen != current.access_token) {
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(EngineError::new(
                ErrorKind::Upstream,
                "connection_refresh_failed",
                "This connection has no refresh token; the user must authorize again.",
            ));
        };
        let integration = self
            .store
            .integration_by_id(&fresh.connection.integration_id)
            .await?
            .ok_or_else(|| {
                unknown_connection(&row.provider_config_key, &row.connection.connection_id)
            })?;
        let mut recorder = Recorder::start(
            &fresh.connection.environment_id,
            "token_refresh",
            Some(&integration.unique_key),
            Some(&fresh.connection.connection_id),
        );
        let result = self
            .token_request(
                &integration,
                json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
                &mut recorder,
            )
            .await;
        let outcome = match result {
            Ok(response) => {
                let refreshed = credentials_from_token_response(response, Some(refresh_token));
                match refreshed {
                    Ok(credentials) => {
                        self.store
                            .update_credentials(
                                &fresh.connection.id,
                                &self.seal_credentials(&credentials),
                            )
                            .await?;
                        self.forget_cached_connection(
                            &fresh.connection.environment_id,
                            &fresh.provider_config_key,
                            &fresh.connection.connection_id,
                        );
                        recorder.finish(true, Some("token refreshed".to_string()));
                        Ok(credentials)
                    }
                    Err(e) => {
                        recorder.finish(false, Some(e.message.clone()));
                        Err(e)
                    }
                }
            }
            Err(e) => {
                recorder.finish(false, Some(e.message.clone()));
                Err(e)
            }
        };
        self.save_operation(&recorder).await;
        outcome
    }

    /// POSTs to the integration's token endpoint as Notion wants it: HTTP Basic with the
    /// client id and secret, and a JSON body. The exchange is recorded (secrets redacted).
    pub(crate) async fn token_request(
        &self,
        integration: &Integration,
        body: Value,
        recorder: &mut Recorder,
    ) -> EngineResult<Value> {
        let (client_id, client_secret) = self.client_credentials(integration)?;
        let endpoints = providers::notion_endpoints(&self.settings, &integration.config);
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{client_id}:{client_secret}"));
        let started = Instant::now();
        let sent = self
            .http
            .post(&endpoints.token_url)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/json")
            .header("notion-version", &endpoints.version)
            .body(body.to_string())
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await;
        let limit = self.settings.log_body_limit;
        // The authorization code is a one-time secret; other secrets are redacted by name.
        let mut logged = body.clone();
        if logged.get("code").is_some() {
            logged["code"] = json!("[redacted]");
        }
        let mut exchange = json!({
            "method": "POST",
            "url": endpoints.token_url,
            "attempt": 1,
            "request_headers": {"authorization": "[redacted]", "content-type": "application/json"},
            "request_body": body_for_log(logged.to_string().as_bytes(), limit),
        });
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                exchange["error"] = json!(e.to_string());
                exchange["duration_ms"] = json!(started.elapsed().as_millis() as u64);
                recorder.exchange(&exchange);
                return Err(EngineError::new(
                    ErrorKind::Upstream,
                    "token_request_failed",
                    format!("Could not reach the token endpoint: {e}"),
                ));
            }
        };
        let status = response.status().as_u16();
        let headers =
            serde_json::to_value(LoggedHeaders(response.headers())).unwrap_or(Value::Null);
        let bytes = response.bytes().await.unwrap_or_default();
        exchange["status"] = json!(status);
        exchange["duration_ms"] = json!(started.elapsed().as_millis() as u64);
        exchange["response_headers"] = headers;
        exchange["response_body"] = body_for_log(&bytes, limit);
        recorder.exchange(&exchange);
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let code = parsed
                .get("code")
                .or_else(|| parsed.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let detail = parsed
                .get("message")
                .or_else(|| parsed.get("error_description"))
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(EngineError::new(
                ErrorKind::Upstream,
                "token_request_failed",
                format!("Notion's token endpoint answered {status} {code}: {detail}"),
            ));
        }
        Ok(parsed)
    }
}

/// How long a refresh may hold its lease: longer than the token request's timeout.
const REFRESH_LEASE: chrono::Duration = chrono::Duration::seconds(45);

/// Credentials from a token response; `previous_refresh` is kept when none is returned.
pub(crate) fn credentials_from_token_response(
    response: Value,
    previous_refresh: Option<String>,
) -> EngineResult<Credentials> {
    let access = response
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            EngineError::new(
                ErrorKind::Upstream,
                "token_request_failed",
                "The token response has no access_token.",
            )
        })?;
    let refresh = response
        .get("refresh_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(previous_refresh);
    let expires_at = response
        .get("expires_in")
        .and_then(Value::as_i64)
        .map(|s| ferry_store::ts(chrono::Utc::now() + chrono::Duration::seconds(s)));
    Ok(Credentials::oauth2(
        access.to_string(),
        refresh,
        expires_at,
        response,
    ))
}
