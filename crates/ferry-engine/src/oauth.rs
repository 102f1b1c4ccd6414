//! Connect sessions and the OAuth flow: a single-use `state` stored server side with a PKCE
//! (S256) verifier, the authorize redirect, and the callback that exchanges the code, keeps
//! the raw token response and creates or updates the connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::crypto::{Cipher, sha256_hex};
use crate::storage::NewConnection;
use crate::storage::Store;
use crate::storage::{ConnectSessionRecord, OAuthSessionRecord};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use rand::RngExt;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::connections::{Connection, Connections, EndUser, Organization};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::integrations::{Integration, Integrations};
use crate::logs::{Logs, OperationKind, OperationStatus, Recorder};
use crate::providers;
use crate::settings::Settings;
use crate::tokens::{self, Tokens};

pub const CONNECT_SESSION_PREFIX: &str = "nango_connect_session_";
const CONNECT_SESSION_MINUTES: i64 = 30;
const OAUTH_SESSION_MINUTES: i64 = 60;

/// `POST /connect/sessions` (or `/reconnect`).
#[derive(Debug, Default, Clone)]
pub struct NewConnectSession {
    pub end_user: Option<EndUser>,
    pub organization: Option<Organization>,
    pub allowed_integrations: Option<Vec<IntegrationKey>>,
    pub tags: BTreeMap<String, String>,
    /// For reconnect sessions: the connection to authorize again.
    pub reconnect: Option<(IntegrationKey, ConnectionId)>,
}

pub struct CreatedSession {
    pub token: String,
    pub connect_link: String,
    pub expires_at: String,
}

/// A live connect session, as the connect page sees it.
#[derive(Debug, Clone)]
pub struct ConnectSession {
    pub environment: EnvironmentId,
    pub end_user: Option<EndUser>,
    pub organization: Option<Organization>,
    pub allowed_integrations: Option<Vec<String>>,
    pub tags: BTreeMap<String, String>,
    pub reconnecting: bool,
    pub expires_at: String,
}

/// Where the browser goes to authorize, and the `state` its cookie ties the callback to.
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
        code: ErrorCode,
        message: String,
    },
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn invalid_session() -> EngineError {
    EngineError::new(
        ErrorCode::InvalidConnectSessionToken,
        "The connect session token is invalid or has expired; create a new session.",
    )
}

#[derive(Clone)]
pub struct Connect {
    pub(crate) store: Store,
    pub(crate) cipher: Cipher,
    pub(crate) settings: Arc<Settings>,
    pub(crate) integrations: Integrations,
    pub(crate) connections: Connections,
    pub(crate) tokens: Tokens,
    pub(crate) logs: Logs,
}

impl Connect {
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.settings.public_url)
    }

    pub async fn create_session(
        &self,
        environment: &EnvironmentId,
        new: NewConnectSession,
    ) -> EngineResult<CreatedSession> {
        if let Some(allowed) = &new.allowed_integrations {
            for key in allowed {
                self.integrations.get(environment, key).await?;
            }
        }
        let reconnect_connection = match &new.reconnect {
            Some((key, id)) => Some(self.connections.find(environment, key, id).await?.row_id),
            None => None,
        };
        let token = format!("{CONNECT_SESSION_PREFIX}{}", random_hex(32));
        let expires_at = crate::time::ts(Utc::now() + Duration::minutes(CONNECT_SESSION_MINUTES));
        let allowed = match &new.reconnect {
            Some((key, _)) => Some(vec![key.to_string()]),
            None => new
                .allowed_integrations
                .map(|keys| keys.iter().map(ToString::to_string).collect()),
        };
        let record = ConnectSessionRecord {
            environment_id: environment.to_string(),
            end_user: new
                .end_user
                .map(|u| serde_json::to_value(u).unwrap_or(Value::Null)),
            organization: new
                .organization
                .map(|o| serde_json::to_value(o).unwrap_or(Value::Null)),
            allowed_integrations: allowed,
            tags: serde_json::to_value(&new.tags).unwrap_or_else(|_| json!({})),
            reconnect_connection,
            expires_at: expires_at.clone(),
        };
        let mut tx = self.store.begin().await?;
        tx.create_connect_session(&sha256_hex(&token), &record)
            .await?;
        tx.commit().await?;
        let connect_link = format!("{}/connect?session_token={token}", self.settings.public_url);
        Ok(CreatedSession {
            token,
            connect_link,
            expires_at,
        })
    }

    pub async fn session(&self, token: &str) -> EngineResult<ConnectSession> {
        let record = self
            .store
            .connect_session(&sha256_hex(token))
            .await?
            .ok_or_else(invalid_session)?;
        Ok(ConnectSession {
            environment: EnvironmentId::from_stored(record.environment_id),
            end_user: record.end_user.and_then(|v| serde_json::from_value(v).ok()),
            organization: record
                .organization
                .and_then(|v| serde_json::from_value(v).ok()),
            allowed_integrations: record.allowed_integrations,
            tags: serde_json::from_value(record.tags).unwrap_or_default(),
            reconnecting: record.reconnect_connection.is_some(),
            expires_at: record.expires_at,
        })
    }

    /// Ends a connect session now.
    pub async fn delete_session(&self, token: &str) -> EngineResult<()> {
        let mut tx = self.store.begin().await?;
        if !tx.delete_connect_session(&sha256_hex(token)).await? {
            return Err(invalid_session());
        }
        tx.commit().await.map_err(EngineError::from)
    }

    /// The integrations a session may connect, for the connect page.
    pub async fn integrations_for(
        &self,
        session: &ConnectSession,
    ) -> EngineResult<Vec<Integration>> {
        let all = self.integrations.list(&session.environment).await?;
        Ok(match &session.allowed_integrations {
            Some(allowed) => all
                .into_iter()
                .filter(|i| allowed.iter().any(|k| k == i.unique_key.as_str()))
                .collect(),
            None => all,
        })
    }

    /// Starts an authorization: stores the single-use state with its PKCE verifier and
    /// returns the provider URL to send the browser to.
    pub async fn start_oauth(
        &self,
        session_token: &str,
        key: &IntegrationKey,
    ) -> EngineResult<AuthorizeRedirect> {
        let session = self.session(session_token).await?;
        if session
            .allowed_integrations
            .as_ref()
            .is_some_and(|a| !a.iter().any(|k| k == key.as_str()))
        {
            return Err(EngineError::new(
                ErrorCode::IntegrationNotAllowed,
                format!("This connect session does not allow integration `{key}`."),
            ));
        }
        let integration = self.integrations.get(&session.environment, key).await?;
        let (client_id, _) = self.integrations.client_id_and_secret(&integration)?;
        let provider = integration.provider;
        let endpoints = providers::endpoints(&self.settings, provider, &integration.config);
        let state = uuid::Uuid::new_v4().to_string();
        let verifier = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let redirect_uri = self.callback_url();
        let mut url = url::Url::parse(&endpoints.authorize_url)
            .map_err(|e| EngineError::internal("reading the authorization URL", e))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &client_id);
            for (name, value) in provider.oauth.authorization_params {
                query.append_pair(name, value);
            }
            if let Some(scopes) = integration.scopes.as_deref().filter(|s| !s.is_empty()) {
                query.append_pair("scope", &scopes.replace(',', " "));
            }
            query
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce_challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
        }
        let recorder =
            self.logs
                .recorder(&session.environment, OperationKind::Auth, Some(key), None);
        let operation_id = recorder.id();
        self.logs
            .save(
                recorder,
                OperationStatus::Running,
                Some("authorization started".to_string()),
            )
            .await;
        let mut tx = self.store.begin().await?;
        tx.create_oauth_session(&OAuthSessionRecord {
            state: state.clone(),
            environment_id: session.environment.to_string(),
            integration_id: integration.id.clone(),
            connect_session_hash: Some(sha256_hex(session_token)),
            code_verifier: verifier,
            redirect_uri,
            operation_id: operation_id.to_string(),
            expires_at: crate::time::ts(Utc::now() + Duration::minutes(OAUTH_SESSION_MINUTES)),
        })
        .await?;
        tx.commit().await?;
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
        let mut tx = self.store.begin().await?;
        let session = tx.take_oauth_session(state).await?;
        tx.commit().await?;
        let Some(session) = session else {
            return Ok(CallbackOutcome::Failed {
                provider_config_key: None,
                code: ErrorCode::InvalidState,
                message: "This authorization link is invalid, expired or already used. Start again from your application.".into(),
            });
        };
        let integration = self.integrations.by_row_id(&session.integration_id).await?;
        let environment = EnvironmentId::from_stored(session.environment_id.clone());
        let key = integration.as_ref().map(|i| i.unique_key.clone());
        let mut recorder =
            self.logs
                .recorder(&environment, OperationKind::Auth, key.as_ref(), None);
        self.logs.resume(&mut recorder, &session.operation_id);
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
        match outcome {
            Ok(connection) => {
                recorder.set_connection(&connection.connection_id);
                self.logs
                    .save(
                        recorder,
                        OperationStatus::Success,
                        Some("connection authorized".to_string()),
                    )
                    .await;
                Ok(CallbackOutcome::Connected {
                    provider_config_key: connection.provider_config_key.to_string(),
                    connection_id: connection.connection_id.to_string(),
                })
            }
            Err(e) => {
                self.logs
                    .save(
                        recorder,
                        OperationStatus::Failed,
                        Some(e.message().to_string()),
                    )
                    .await;
                if e.code() == ErrorCode::InternalError {
                    return Err(e);
                }
                Ok(CallbackOutcome::Failed {
                    provider_config_key: key.map(|k| k.to_string()),
                    code: e.code(),
                    message: e.message().to_string(),
                })
            }
        }
    }

    async fn complete(
        &self,
        session: &OAuthSessionRecord,
        integration: Option<Integration>,
        cookie_matches: bool,
        code: Option<&str>,
        error: Option<&str>,
        recorder: &mut Recorder,
    ) -> EngineResult<Connection> {
        let integration = integration.ok_or_else(|| {
            EngineError::new(
                ErrorCode::UnknownProviderConfig,
                "The integration was deleted during the authorization.",
            )
        })?;
        if !cookie_matches {
            return Err(EngineError::new(
                ErrorCode::StateCookieMismatch,
                "The authorization did not come back to the browser that started it (state cookie missing).",
            ));
        }
        if let Some(error) = error {
            return Err(if error == "access_denied" {
                EngineError::new(ErrorCode::AccessDenied, "The user denied access.")
            } else {
                let shown: String = error
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(100)
                    .collect();
                EngineError::new(
                    ErrorCode::AuthorizationFailed,
                    format!("{} answered `{shown}`.", integration.provider.display_name),
                )
            });
        }
        let code = code.filter(|c| !c.is_empty()).ok_or_else(|| {
            EngineError::new(
                ErrorCode::MissingCode,
                "The callback has no authorization code.",
            )
        })?;
        let mut grant = Map::new();
        grant.insert("grant_type".into(), json!("authorization_code"));
        grant.insert("code".into(), json!(code));
        grant.insert("redirect_uri".into(), json!(session.redirect_uri));
        grant.insert("code_verifier".into(), json!(session.code_verifier));
        let response = self.tokens.request(&integration, grant, recorder).await?;
        let credentials = tokens::credentials_from_token_response(response.clone(), None)?;
        let oauth = &integration.provider.oauth;
        let mut config = Map::new();
        for field in oauth.token_response_metadata {
            if let Some(v) = response.get(*field).filter(|v| !v.is_null()) {
                config.insert(field.to_string(), v.clone());
            }
        }
        let identity = (oauth.identity)(&response);
        let environment = EnvironmentId::from_stored(session.environment_id.clone());
        let connect = match &session.connect_session_hash {
            Some(hash) => self.store.connect_session(hash).await?,
            None => None,
        };
        // Reconnect sessions name their connection; otherwise the same person authorizing
        // again updates their connection instead of creating a twin.
        let existing = match connect
            .as_ref()
            .and_then(|c| c.reconnect_connection.as_deref())
        {
            Some(row_id) => {
                self.connections
                    .find_by_row_id(&environment, row_id)
                    .await?
            }
            None => match &identity {
                Some(identity) => {
                    self.connections
                        .find_by_identity(&integration.id, identity)
                        .await?
                }
                None => None,
            },
        };
        let session_end_user: Option<EndUser> = connect
            .as_ref()
            .and_then(|c| c.end_user.clone())
            .and_then(|v| serde_json::from_value(v).ok());
        let session_tags: BTreeMap<String, String> = connect
            .as_ref()
            .and_then(|c| serde_json::from_value(c.tags.clone()).ok())
            .unwrap_or_default();
        let (connection_id, metadata, tags, end_user, webhook_url_override) = match existing {
            Some(row) => (
                row.connection_id,
                row.metadata,
                row.tags,
                session_end_user.or(row.end_user),
                row.webhook_url_override,
            ),
            None => (
                ConnectionId::generate(),
                json!({}),
                session_tags,
                session_end_user,
                None,
            ),
        };
        let new = NewConnection {
            environment_id: environment.to_string(),
            integration_id: integration.id.clone(),
            connection_id: connection_id.to_string(),
            credentials_enc: credentials.seal(&self.cipher),
            connection_config: Value::Object(config),
            metadata,
            end_user: end_user.as_ref().map(|u| u.columns_for_store()),
            filter_tags: crate::connections::filter_tags(&tags, end_user.as_ref()),
            tags,
            webhook_url_override,
            auth_identity: identity,
        };
        self.connections.write_connection(&new).await?;
        self.connections
            .forget(&integration.id, connection_id.as_str());
        self.connections
            .find(&environment, &integration.unique_key, &connection_id)
            .await
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
