//! Connect sessions and the Notion OAuth flow: a single-use `state` stored server side with a
//! PKCE (S256) verifier, the authorize redirect, and the callback that exchanges the code,
//! keeps the raw token response and creates or updates the connection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use ferry_store::connections::Connection;
use ferry_store::sessions::{ConnectSession, OAuthSession};
use ferry_store::sha256_hex;
use rand::RngExt;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::connections::credentials_from_token_response;
use crate::logs::Recorder;
use crate::{Engine, EngineError, EngineResult, ErrorKind, providers};

pub const CONNECT_SESSION_PREFIX: &str = "nango_connect_session_";
const CONNECT_SESSION_MINUTES: i64 = 30;
const OAUTH_SESSION_MINUTES: i64 = 60;

/// `POST /connect/sessions` (or `/reconnect`).
#[derive(Debug, Default, Clone)]
pub struct NewConnectSession {
    pub end_user: Option<Value>,
    pub organization: Option<Value>,
    pub allowed_integrations: Option<Vec<String>>,
    pub tags: Value,
    /// For reconnect sessions: the connection to re-authorize.
    pub reconnect: Option<(String, String)>,
}

pub struct CreatedSession {
    pub token: String,
    pub connect_link: String,
    pub expires_at: String,
}

/// Where the browser goes to authorize, and the cookie that ties the callback to it.
pub struct AuthorizeRedirect {
    pub url: String,
    pub state: String,
}

/// The end of a callback: what the result page tells the opener window.
#[derive(Debug, Clone)]
pub enum CallbackOutcome {
    Connected {
        provider_config_key: String,
        connection_id: String,
    },
    Failed {
        provider_config_key: Option<String>,
        error_type: String,
        message: String,
    },
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

impl Engine {
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.settings.public_url)
    }

    pub async fn create_connect_session(
        &self,
        environment_id: &str,
        new: NewConnectSession,
    ) -> EngineResult<CreatedSession> {
        if let Some(allowed) = &new.allowed_integrations {
            for key in allowed {
                self.integration(environment_id, key).await?;
            }
        }
        let reconnect_connection = match &new.reconnect {
            Some((integration, connection_id)) => Some(
                self.connection_row(environment_id, integration, connection_id)
                    .await?
                    .connection
                    .id,
            ),
            None => None,
        };
        let token = format!("{CONNECT_SESSION_PREFIX}{}", random_hex(32));
        let expires_at = ferry_store::ts(Utc::now() + Duration::minutes(CONNECT_SESSION_MINUTES));
        let allowed = match &new.reconnect {
            Some((integration, _)) => Some(vec![integration.clone()]),
            None => new.allowed_integrations.clone(),
        };
        self.store
            .create_connect_session(
                &token,
                &ConnectSession {
                    environment_id: environment_id.to_string(),
                    end_user: new.end_user,
                    organization: new.organization,
                    allowed_integrations: allowed,
                    tags: new.tags,
                    reconnect_connection,
                    expires_at: expires_at.clone(),
                },
            )
            .await?;
        let connect_link = format!("{}/connect?session_token={token}", self.settings.public_url);
        Ok(CreatedSession {
            token,
            connect_link,
            expires_at,
        })
    }

    pub async fn connect_session(&self, token: &str) -> EngineResult<ConnectSession> {
        self.store
            .connect_session(&sha256_hex(token))
            .await?
            .ok_or_else(|| {
                EngineError::new(
                    ErrorKind::Unauthorized,
                    "invalid_connect_session_token",
                    "The connect session token is invalid or has expired; create a new session.",
                )
            })
    }

    /// Starts an authorization: stores the single-use state with its PKCE verifier and
    /// returns the provider URL to send the browser to.
    pub async fn start_oauth(
        &self,
        session_token: &str,
        key: &str,
    ) -> EngineResult<AuthorizeRedirect> {
        let session = self.connect_session(session_token).await?;
        if session
            .allowed_integrations
            .as_ref()
            .is_some_and(|a| !a.iter().any(|k| k == key))
        {
            return Err(EngineError::new(
                ErrorKind::Forbidden,
                "integration_not_allowed",
                format!("This connect session does not allow integration `{key}`."),
            ));
        }
        let integration = self.integration(&session.environment_id, key).await?;
        let (client_id, _) = self.client_credentials(&integration)?;
        let endpoints = providers::notion_endpoints(&self.settings, &integration.config);
        let state = uuid::Uuid::new_v4().to_string();
        let verifier = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let redirect_uri = self.callback_url();
        let mut recorder = Recorder::start(&session.environment_id, "auth", Some(key), None);
        recorder.op.message = Some("authorization started".into());
        self.save_operation(&recorder).await;
        self.store
            .create_oauth_session(&OAuthSession {
                state: state.clone(),
                environment_id: session.environment_id.clone(),
                integration_id: integration.id.clone(),
                connect_session_hash: Some(sha256_hex(session_token)),
                connection_id: None,
                code_verifier: verifier.clone(),
                redirect_uri: redirect_uri.clone(),
                operation_id: recorder.op.id.clone(),
                expires_at: ferry_store::ts(Utc::now() + Duration::minutes(OAUTH_SESSION_MINUTES)),
            })
            .await?;
        let mut url = url::Url::parse(&endpoints.authorize_url).map_err(|e| {
            EngineError::invalid(
                "invalid_integration_config",
                format!("authorization URL: {e}"),
            )
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", &client_id)
            .append_pair("response_type", "code")
            .append_pair("owner", "user")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", &state)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(AuthorizeRedirect {
            url: url.to_string(),
            state,
        })
    }

    /// Finishes an authorization. Every failure after the state is found is recorded as a
    /// failed `auth` operation, and no connection is made or changed.
    pub async fn finish_oauth(
        &self,
        state: &str,
        cookie_matches: bool,
        code: Option<&str>,
        error: Option<&str>,
    ) -> EngineResult<CallbackOutcome> {
        let Some(session) = self.store.take_oauth_session(state).await? else {
            return Ok(CallbackOutcome::Failed {
                provider_config_key: None,
                error_type: "invalid_state".into(),
                message: "This authorization link is invalid, expired or already used. Start again from your application.".into(),
            });
        };
        let integration = self
            .store
            .integration_by_id(&session.integration_id)
            .await?;
        let key = integration.as_ref().map(|i| i.unique_key.clone());
        let mut recorder = Recorder::start(&session.environment_id, "auth", key.as_deref(), None);
        recorder.op.id = session.operation_id.clone();
        let outcome = self
            .complete(
                &session,
                integration,
                cookie_matches,
                code,
                error,
                &mut recorder,
            )
            .await;
        let result = match outcome {
            Ok((key, connection_id)) => {
                recorder.op.connection_id = Some(connection_id.clone());
                recorder.finish(true, Some("connection authorized".to_string()));
                CallbackOutcome::Connected {
                    provider_config_key: key,
                    connection_id,
                }
            }
            Err(e) => {
                recorder.finish(false, Some(e.message.clone()));
                CallbackOutcome::Failed {
                    provider_config_key: key,
                    error_type: e.code.to_string(),
                    message: e.message,
                }
            }
        };
        self.save_operation(&recorder).await;
        Ok(result)
    }

    async fn complete(
        &self,
        session: &OAuthSession,
        integration: Option<ferry_store::integrations::Integration>,
        cookie_matches: bool,
        code: Option<&str>,
        error: Option<&str>,
        recorder: &mut Recorder,
    ) -> EngineResult<(String, String)> {
        let integration = integration.ok_or_else(|| {
            EngineError::not_found(
                "unknown_provider_config",
                "The integration was deleted during the authorization.",
            )
        })?;
        if !cookie_matches {
            return Err(EngineError::invalid(
                "state_cookie_mismatch",
                "The authorization did not come back to the browser that started it (state cookie missing).",
            ));
        }
        if let Some(error) = error {
            let message = if error == "access_denied" {
                "The user denied access.".to_string()
            } else {
                format!("Notion answered `{error}`.")
            };
            return Err(EngineError::invalid(
                if error == "access_denied" {
                    "access_denied"
                } else {
                    "authorization_failed"
                },
                message,
            ));
        }
        let code = code.filter(|c| !c.is_empty()).ok_or_else(|| {
            EngineError::invalid("missing_code", "The callback has no authorization code.")
        })?;
        let body = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": session.redirect_uri, "code_verifier": session.code_verifier});
        let response = self.token_request(&integration, body, recorder).await?;
        let credentials = credentials_from_token_response(response.clone(), None)?;
        let mut config = serde_json::Map::new();
        for field in [
            "workspace_id",
            "workspace_name",
            "workspace_icon",
            "bot_id",
            "owner",
            "duplicated_template_id",
        ] {
            if let Some(v) = response.get(field).filter(|v| !v.is_null()) {
                config.insert(field.to_string(), v.clone());
            }
        }
        let owner_id = response.pointer("/owner/user/id").and_then(Value::as_str);
        let workspace = response
            .get("workspace_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let identity = owner_id.map(|o| format!("{workspace}:{o}")).or_else(|| {
            response
                .get("bot_id")
                .and_then(Value::as_str)
                .map(|b| format!("{workspace}:bot:{b}"))
        });
        let connect = match &session.connect_session_hash {
            Some(hash) => self.store.connect_session(hash).await?,
            None => None,
        };
        // Reconnect sessions name their connection; otherwise the same person authorizing
        // again updates their connection instead of creating a twin.
        let existing = match connect
            .as_ref()
            .and_then(|c| c.reconnect_connection.clone())
        {
            Some(row_id) => {
                self.store
                    .connection_by_row_id(&session.environment_id, &row_id)
                    .await?
            }
            None => match &identity {
                Some(identity) => {
                    self.store
                        .connection_by_identity(&integration.id, identity)
                        .await?
                }
                None => None,
            },
        };
        let (connection_id, metadata, tags, end_user) = match &existing {
            Some(row) => (
                row.connection.connection_id.clone(),
                row.connection.metadata.clone(),
                row.connection.tags.clone(),
                connect
                    .as_ref()
                    .and_then(|c| c.end_user.clone())
                    .or_else(|| row.connection.end_user.clone()),
            ),
            None => (
                uuid::Uuid::new_v4().to_string(),
                json!({}),
                connect
                    .as_ref()
                    .map(|c| c.tags.clone())
                    .unwrap_or_else(|| json!({})),
                connect.as_ref().and_then(|c| c.end_user.clone()),
            ),
        };
        let row = Connection {
            id: String::new(),
            environment_id: session.environment_id.clone(),
            integration_id: integration.id.clone(),
            connection_id: connection_id.clone(),
            credentials_enc: self.seal_credentials(&credentials),
            connection_config: Value::Object(config),
            metadata,
            end_user,
            tags,
            auth_identity: identity,
            created_at: String::new(),
            updated_at: String::new(),
            last_fetched_at: None,
        };
        self.store.upsert_connection(&row).await?;
        Ok((integration.unique_key.clone(), connection_id))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_matches_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            super::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
