//! Connections: importing tokens, reading them (refreshing when asked or when the provider
//! says a token is no longer valid), patching, deleting and metadata.
//!
//! Refreshes of one connection are serialised within a process by a lock and across
//! processes by a lease row, because providers such as Notion rotate refresh tokens: a second
//! concurrent refresh would fail and lock the end user out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::crypto::Cipher;
use crate::storage::Store;
use crate::storage::{
    ConnectionChanges, ConnectionFilter, ConnectionRecord, EndUserColumns, NewConnection,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cache::{HOT_ENTRIES, HotCache};
use crate::credentials::Credentials;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::integrations::{Integration, Integrations};
use crate::logs::{Logs, OperationKind, OperationStatus};
use crate::syncs::schedule::{BASE_VARIANT, new_schedule};
use crate::tokens::{self, TOKEN_REQUEST_TIMEOUT, Tokens};
use crate::webhooks::{Event, Trigger, Webhooks};

/// The person a connection belongs to, as the app describes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndUser {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl EndUser {
    pub(crate) fn columns_for_store(&self) -> EndUserColumns {
        EndUserColumns {
            value: serde_json::to_value(self).unwrap_or(Value::Null),
            id: self.id.clone(),
            organization_id: self.organization.as_ref().map(|o| o.id.clone()),
            search_terms: [&self.email, &self.display_name]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
        }
    }
}

/// A connection as the engine shows it; its credentials stay sealed until asked for.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The integer id Nango's API shows.
    pub number: i64,
    pub connection_id: ConnectionId,
    pub provider_config_key: IntegrationKey,
    pub provider: String,
    /// `None` also for an end user stored by an older Ferry in another shape.
    pub end_user: Option<EndUser>,
    pub tags: BTreeMap<String, String>,
    pub metadata: Value,
    pub connection_config: Value,
    pub webhook_url_override: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_fetched_at: Option<String>,
    pub(crate) row_id: String,
    pub(crate) environment_id: EnvironmentId,
    pub(crate) integration_id: String,
    pub(crate) credentials_enc: String,
}

impl Connection {
    fn from_record(r: ConnectionRecord) -> Connection {
        Connection {
            number: r.number,
            connection_id: ConnectionId::from_stored(r.connection_id),
            provider_config_key: IntegrationKey::from_stored(r.provider_config_key),
            provider: r.provider,
            end_user: r.end_user.and_then(|v| serde_json::from_value(v).ok()),
            tags: r.tags,
            metadata: r.metadata,
            connection_config: r.connection_config,
            webhook_url_override: r.webhook_url_override,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_fetched_at: r.last_fetched_at,
            row_id: r.id,
            environment_id: EnvironmentId::from_stored(r.environment_id),
            integration_id: r.integration_id,
            credentials_enc: r.credentials_enc,
        }
    }
}

/// `POST /connections`: an existing token to import.
#[derive(Debug, Clone)]
pub struct ImportConnection {
    pub provider_config_key: IntegrationKey,
    pub connection_id: Option<ConnectionId>,
    pub credentials: Credentials,
    pub connection_config: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub end_user: Option<EndUser>,
    pub tags: BTreeMap<String, String>,
    pub webhook_url_override: Option<String>,
}

/// Filters of `GET /connections`.
#[derive(Debug, Default, Clone)]
pub struct ListConnections {
    pub connection_id: Option<ConnectionId>,
    pub search: Option<String>,
    pub end_user_id: Option<String>,
    pub end_user_organization_id: Option<String>,
    pub integration_keys: Vec<IntegrationKey>,
    pub tags: Vec<(String, String)>,
    pub limit: u32,
    pub page: u32,
}

/// `PATCH /connections/:id`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionPatch {
    pub end_user: Option<Option<EndUser>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub webhook_url_override: Option<Option<String>>,
}

/// What `tags[key]=value` filters match: the tags with keys lower-cased (the SDK lower-cases
/// them), and the end user's email and display name as `end_user_email` and
/// `end_user_display_name` (what the SDK sends for `email` and `displayName`).
pub(crate) fn filter_tags(
    tags: &BTreeMap<String, String>,
    end_user: Option<&EndUser>,
) -> BTreeMap<String, String> {
    let mut filter: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    if let Some(user) = end_user {
        for (tag, value) in [
            ("end_user_email", &user.email),
            ("end_user_display_name", &user.display_name),
        ] {
            if let Some(value) = value {
                filter
                    .entry(tag.to_string())
                    .or_insert_with(|| value.clone());
            }
        }
    }
    filter
}

/// How long a refresh may hold its lease: longer than the token request's timeout.
const REFRESH_LEASE: Duration = Duration::from_secs(45);

pub(crate) fn unknown_connection(key: &IntegrationKey, id: &ConnectionId) -> EngineError {
    EngineError::new(
        ErrorCode::UnknownConnection,
        format!("There is no connection `{id}` for integration `{key}` in this environment."),
    )
}

#[derive(Clone)]
pub struct Connections {
    store: Store,
    cipher: Cipher,
    integrations: Integrations,
    tokens: Tokens,
    logs: Logs,
    webhooks: Webhooks,
    /// Connections with their opened credentials, for hot paths.
    targets: Arc<HotCache<CallTarget>>,
    /// Refreshes in progress in this process, one lock per connection row; a lock goes when
    /// its last waiter is done.
    refresh_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// What a call on a connection needs, kept hot: its row, its opened credentials and the
/// `Authorization` value made from them.
pub(crate) struct CallTarget {
    pub row_id: String,
    pub environment_id: EnvironmentId,
    pub integration_key: IntegrationKey,
    pub connection_id: ConnectionId,
    pub credentials: Credentials,
    pub authorization: http::HeaderValue,
}

impl CallTarget {
    fn new(
        connection: &Connection,
        integration_key: &IntegrationKey,
        credentials: Credentials,
    ) -> EngineResult<CallTarget> {
        Ok(CallTarget {
            row_id: connection.row_id.clone(),
            environment_id: connection.environment_id.clone(),
            integration_key: integration_key.clone(),
            connection_id: connection.connection_id.clone(),
            authorization: Self::new_authorization(&credentials)?,
            credentials,
        })
    }

    fn new_authorization(credentials: &Credentials) -> EngineResult<http::HeaderValue> {
        let mut value =
            http::HeaderValue::from_str(&format!("Bearer {}", credentials.access_token))
                .map_err(|e| EngineError::internal("the stored token is not a header value", e))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The connection a refresh is for.
pub(crate) struct RefreshTarget<'a> {
    pub environment: &'a EnvironmentId,
    pub row_id: &'a str,
    pub key: &'a IntegrationKey,
    pub id: &'a ConnectionId,
}

impl<'a> From<&'a Connection> for RefreshTarget<'a> {
    fn from(c: &'a Connection) -> Self {
        RefreshTarget {
            environment: &c.environment_id,
            row_id: &c.row_id,
            key: &c.provider_config_key,
            id: &c.connection_id,
        }
    }
}

fn target_key(integration_row_id: &str, connection_id: &str) -> String {
    format!("{integration_row_id}\u{0}{connection_id}")
}

impl Connections {
    pub(crate) fn new(
        store: Store,
        cipher: Cipher,
        integrations: Integrations,
        tokens: Tokens,
        logs: Logs,
        webhooks: Webhooks,
    ) -> Connections {
        Connections {
            store,
            cipher,
            integrations,
            tokens,
            logs,
            webhooks,
            targets: Arc::new(HotCache::new(HOT_ENTRIES)),
            refresh_locks: Arc::default(),
        }
    }

    /// Imports a token as a connection (or writes over the connection with the same id).
    pub async fn import(
        &self,
        environment: &EnvironmentId,
        input: ImportConnection,
    ) -> EngineResult<(Connection, Credentials)> {
        let integration = self
            .integrations
            .get(environment, &input.provider_config_key)
            .await?;
        let connection_id = input.connection_id.unwrap_or_else(ConnectionId::generate);
        let row = NewConnection {
            environment_id: environment.to_string(),
            integration_id: integration.id.clone(),
            connection_id: connection_id.to_string(),
            credentials_enc: input.credentials.seal(&self.cipher),
            connection_config: Value::Object(input.connection_config),
            metadata: Value::Object(input.metadata),
            end_user: input.end_user.as_ref().map(EndUser::columns_for_store),
            filter_tags: filter_tags(&input.tags, input.end_user.as_ref()),
            tags: input.tags,
            webhook_url_override: input.webhook_url_override,
            auth_identity: None,
        };
        self.write_connection(&row).await?;
        self.forget(&integration.id, connection_id.as_str());
        let connection = self
            .find(environment, &input.provider_config_key, &connection_id)
            .await?;
        Ok((connection, input.credentials))
    }

    /// Writes a connection with a schedule for each of its provider's syncs, and the `auth`
    /// webhook that reports it (`creation`, or `override` when it replaces one with the same
    /// id), in one unit of work.
    pub(crate) async fn write_connection(&self, row: &NewConnection) -> EngineResult<String> {
        let settings = self.webhooks.settings_for(&row.environment_id).await?;
        let environment = self
            .store
            .environment(&row.environment_id)
            .await?
            .map(|e| e.name)
            .unwrap_or_default();
        let integration = self.integrations.by_row_id(&row.integration_id).await?;
        let (key, provider) = integration
            .as_ref()
            .map(|i| (i.unique_key.as_str().to_string(), i.provider.name))
            .unwrap_or_default();
        let syncs = integration
            .as_ref()
            .and_then(|i| i.provider.syncs)
            .map_or(&[][..], |c| c.syncs);
        let existed = self
            .store
            .connection(&row.environment_id, &key, &row.connection_id)
            .await?
            .is_some();
        let end_user = row
            .end_user
            .as_ref()
            .and_then(|e| serde_json::from_value::<EndUser>(e.value.clone()).ok());
        let body = json!({
            "from": "nango",
            "type": "auth",
            "connectionId": row.connection_id,
            "authMode": "OAUTH2",
            "providerConfigKey": key,
            "provider": provider,
            "environment": environment,
            "operation": if existed { "override" } else { "creation" },
            "success": true,
            "tags": row.tags,
            "endUser": end_user.map(|u| json!({
                "endUserId": u.id,
                "organizationId": u.organization.map(|o| o.id),
                "endUserEmail": u.email,
                "tags": u.tags,
            })),
        });
        let mut tx = self.store.begin().await?;
        let id = tx.upsert_connection(row).await?;
        // The provider's syncs come with the connection (a connection made again keeps its).
        for spec in syncs {
            let schedule = new_schedule(
                &row.environment_id,
                &id,
                &key,
                &row.connection_id,
                spec,
                BASE_VARIANT,
            );
            tx.ensure_sync_schedule(&schedule).await?;
        }
        let event = Event {
            environment: &row.environment_id,
            integration_key: &key,
            connection_id: &row.connection_id,
            connection_override: row.webhook_url_override.as_deref(),
            trigger: Trigger::AuthCreation,
            body: &body,
        };
        Webhooks::enqueue(&mut tx, &settings, event).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The `auth` webhook of a refresh that failed (`on_auth_refresh_error`).
    async fn report_refresh_failure(&self, connection: &Connection, error: &EngineError) {
        let reported = async {
            let settings = self
                .webhooks
                .settings_for(connection.environment_id.as_str())
                .await?;
            let environment = self
                .store
                .environment(connection.environment_id.as_str())
                .await?
                .map(|e| e.name)
                .unwrap_or_default();
            let body = json!({
                "from": "nango",
                "type": "auth",
                "connectionId": connection.connection_id.as_str(),
                "authMode": "OAUTH2",
                "providerConfigKey": connection.provider_config_key.as_str(),
                "provider": connection.provider,
                "environment": environment,
                "operation": "refresh",
                "success": false,
                "error": {"type": error.code().as_str(), "description": error.message()},
                "tags": connection.tags,
            });
            let mut tx = self.store.begin().await?;
            let event = Event {
                environment: connection.environment_id.as_str(),
                integration_key: connection.provider_config_key.as_str(),
                connection_id: connection.connection_id.as_str(),
                connection_override: connection.webhook_url_override.as_deref(),
                trigger: Trigger::AuthRefreshError,
                body: &body,
            };
            Webhooks::enqueue(&mut tx, &settings, event).await?;
            tx.commit().await?;
            EngineResult::Ok(())
        };
        if let Err(e) = reported.await {
            tracing::error!(error = %e.chain(), "queueing the webhook of a failed refresh failed");
        }
    }

    pub async fn list(
        &self,
        environment: &EnvironmentId,
        filter: ListConnections,
    ) -> EngineResult<Vec<Connection>> {
        let limit = i64::from(filter.limit.clamp(1, 2000));
        let records = self
            .store
            .list_connections(
                environment.as_str(),
                &ConnectionFilter {
                    connection_id: filter.connection_id.map(|c| c.to_string()),
                    search: filter.search,
                    end_user_id: filter.end_user_id,
                    end_user_organization_id: filter.end_user_organization_id,
                    integration_keys: filter
                        .integration_keys
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    tags: filter
                        .tags
                        .into_iter()
                        .map(|(k, v)| (k.to_lowercase(), v))
                        .collect(),
                    limit,
                    offset: i64::from(filter.page) * limit,
                },
            )
            .await?;
        Ok(records.into_iter().map(Connection::from_record).collect())
    }

    pub(crate) async fn find(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
    ) -> EngineResult<Connection> {
        self.store
            .connection(environment.as_str(), key.as_str(), id.as_str())
            .await?
            .map(Connection::from_record)
            .ok_or_else(|| unknown_connection(key, id))
    }

    pub(crate) async fn find_by_row_id(
        &self,
        environment: &EnvironmentId,
        row_id: &str,
    ) -> EngineResult<Option<Connection>> {
        Ok(self
            .store
            .connection_by_row_id(environment.as_str(), row_id)
            .await?
            .map(Connection::from_record))
    }

    pub(crate) async fn find_by_identity(
        &self,
        integration_id: &str,
        identity: &str,
    ) -> EngineResult<Option<Connection>> {
        Ok(self
            .store
            .connection_by_identity(integration_id, identity)
            .await?
            .map(Connection::from_record))
    }

    /// A connection with its opened credentials; `force_refresh` refreshes first when the
    /// connection has a refresh token.
    pub async fn get(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
        force_refresh: bool,
    ) -> EngineResult<(Connection, Credentials)> {
        let mut connection = self.find(environment, key, id).await?;
        let mut credentials = Credentials::open(&self.cipher, &connection.credentials_enc)?;
        if force_refresh && credentials.refresh_token.is_some() {
            credentials = self
                .refresh(&(&connection).into(), Some(&credentials.access_token))
                .await?;
        }
        let now = crate::time::now();
        let mut tx = self.store.begin().await?;
        tx.touch_connection(&connection.row_id, &now).await?;
        tx.commit().await?;
        connection.last_fetched_at = Some(now);
        Ok((connection, credentials))
    }

    /// The connection as calls need it, from the hot cache.
    pub(crate) async fn call_target(
        &self,
        environment: &EnvironmentId,
        integration: &Integration,
        id: &ConnectionId,
    ) -> EngineResult<Arc<CallTarget>> {
        let key = target_key(&integration.id, id.as_str());
        if let Some(hit) = self.targets.get(&key) {
            return Ok(hit);
        }
        let ticket = self.targets.ticket(&key);
        let connection = self.find(environment, &integration.unique_key, id).await?;
        let credentials = Credentials::open(&self.cipher, &connection.credentials_enc)?;
        let target = Arc::new(CallTarget::new(
            &connection,
            &integration.unique_key,
            credentials,
        )?);
        self.targets.fill(ticket, key, target.clone());
        Ok(target)
    }

    /// Drops the connection's hot entry: it changed or went.
    pub(crate) fn forget(&self, integration_row_id: &str, connection_id: &str) {
        self.targets
            .invalidate(&target_key(integration_row_id, connection_id));
    }

    /// Drops every connection's hot entry.
    pub(crate) fn forget_all(&self) {
        self.targets.invalidate_all();
    }

    /// Refreshes the token a call was made with (the provider answered 401), or takes the
    /// one another caller renewed meanwhile; returns the target to call again with.
    pub(crate) async fn refresh_target(
        &self,
        target: &CallTarget,
        integration: &Integration,
    ) -> EngineResult<Arc<CallTarget>> {
        let credentials = self
            .refresh(
                &RefreshTarget {
                    environment: &target.environment_id,
                    row_id: &target.row_id,
                    key: &target.integration_key,
                    id: &target.connection_id,
                },
                Some(&target.credentials.access_token),
            )
            .await?;
        // The hot entry may hold the token refused; the next call reads the renewed one.
        self.forget(&integration.id, target.connection_id.as_str());
        Ok(Arc::new(CallTarget {
            authorization: CallTarget::new_authorization(&credentials)?,
            credentials,
            row_id: target.row_id.clone(),
            environment_id: target.environment_id.clone(),
            integration_key: target.integration_key.clone(),
            connection_id: target.connection_id.clone(),
        }))
    }

    pub async fn patch(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
        patch: ConnectionPatch,
    ) -> EngineResult<()> {
        let connection = self.find(environment, key, id).await?;
        let filter = (patch.tags.is_some() || patch.end_user.is_some()).then(|| {
            let tags = patch.tags.as_ref().unwrap_or(&connection.tags);
            let end_user = match &patch.end_user {
                Some(new) => new.as_ref(),
                None => connection.end_user.as_ref(),
            };
            filter_tags(tags, end_user)
        });
        let changes = ConnectionChanges {
            end_user: patch
                .end_user
                .map(|u| u.as_ref().map(EndUser::columns_for_store)),
            tags: patch.tags,
            filter_tags: filter,
            webhook_url_override: patch.webhook_url_override,
        };
        let mut tx = self.store.begin().await?;
        tx.update_connection(&connection.row_id, id.as_str(), &changes)
            .await?;
        tx.commit().await?;
        // Nothing patched here is in the hot entry (tags, end user, webhook URL).
        Ok(())
    }

    pub async fn delete(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        id: &ConnectionId,
    ) -> EngineResult<()> {
        let connection = self.find(environment, key, id).await?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_connection(&connection.row_id).await? {
            return Err(unknown_connection(key, id));
        }
        tx.commit().await?;
        self.forget(&connection.integration_id, id.as_str());
        Ok(())
    }

    /// Replaces (`merge = false`) or shallow-merges metadata on each named connection, all
    /// in one unit of work that reads what it writes: concurrent merges all keep their keys,
    /// and one unknown id changes nothing.
    pub async fn set_metadata(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        ids: &[ConnectionId],
        metadata: &Map<String, Value>,
        merge: bool,
    ) -> EngineResult<()> {
        let mut tx = self.store.begin().await?;
        for id in ids {
            let (row_id, current) = tx
                .connection_metadata_for_update(environment.as_str(), key.as_str(), id.as_str())
                .await?
                .ok_or_else(|| unknown_connection(key, id))?;
            let value = if merge {
                let mut merged = current.as_object().cloned().unwrap_or_default();
                merged.extend(metadata.clone());
                Value::Object(merged)
            } else {
                Value::Object(metadata.clone())
            };
            tx.set_connection_metadata(&row_id, &value).await?;
        }
        tx.commit().await?;
        // Metadata is not in the hot entry: nothing to forget.
        Ok(())
    }

    /// Refreshes a connection's token. A caller that waited for another refresh finds the
    /// token already renewed (it differs from `seen_access_token`) and uses it.
    pub(crate) async fn refresh(
        &self,
        connection: &RefreshTarget<'_>,
        seen_access_token: Option<&str>,
    ) -> EngineResult<Credentials> {
        let lock = {
            let mut locks = self.refresh_locks.lock().unwrap_or_else(|e| e.into_inner());
            locks
                .entry(connection.row_id.to_string())
                .or_default()
                .clone()
        };
        let outcome = self
            .refresh_under_lock(&lock, connection, seen_access_token)
            .await;
        let mut locks = self.refresh_locks.lock().unwrap_or_else(|e| e.into_inner());
        // The map's and ours: nobody else waits, so the lock can go.
        if Arc::strong_count(&lock) <= 2 {
            locks.remove(connection.row_id);
        }
        outcome
    }

    async fn refresh_under_lock(
        &self,
        lock: &tokio::sync::Mutex<()>,
        connection: &RefreshTarget<'_>,
        seen_access_token: Option<&str>,
    ) -> EngineResult<Credentials> {
        let _guard = lock.lock().await;
        let lease = self.take_refresh_lease(connection.row_id).await?;
        let outcome = self
            .refresh_holding_lease(connection, seen_access_token)
            .await;
        // An unreleased lease (the database just failed) ends by itself at its expiry.
        let released = async {
            let mut tx = self.store.begin().await?;
            tx.release_refresh_lease(connection.row_id, &lease).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = released {
            tracing::warn!(error = %EngineError::from(e).chain(), "could not release a refresh lease; it expires by itself");
        }
        outcome
    }

    /// Waits until this process holds the connection's refresh lease; returns its expiry,
    /// which identifies it. A holder that died leaves a lease that expires by itself.
    async fn take_refresh_lease(&self, row_id: &str) -> EngineResult<String> {
        let deadline = tokio::time::Instant::now() + REFRESH_LEASE + TOKEN_REQUEST_TIMEOUT;
        loop {
            let now = chrono::Utc::now();
            let until = crate::time::ts(now + REFRESH_LEASE);
            let mut tx = self.store.begin().await?;
            let taken = tx
                .take_refresh_lease(row_id, &crate::time::ts(now), &until)
                .await?;
            tx.commit().await?;
            if taken {
                return Ok(until);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(EngineError::internal(
                    "waiting for another process's token refresh",
                    "its lease did not end",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        connection: &RefreshTarget<'_>,
        seen_access_token: Option<&str>,
    ) -> EngineResult<Credentials> {
        let fresh = self
            .find_by_row_id(connection.environment, connection.row_id)
            .await?
            .ok_or_else(|| unknown_connection(connection.key, connection.id))?;
        let current = Credentials::open(&self.cipher, &fresh.credentials_enc)?;
        if seen_access_token.is_some_and(|seen| seen != current.access_token) {
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(EngineError::new(
                ErrorCode::ConnectionRefreshFailed,
                "This connection has no refresh token; the end user must authorize again.",
            ));
        };
        let integration = self
            .integrations
            .by_row_id(&fresh.integration_id)
            .await?
            .ok_or_else(|| unknown_connection(&fresh.provider_config_key, &fresh.connection_id))?;
        let mut recorder = self.logs.recorder(
            &fresh.environment_id,
            OperationKind::TokenRefresh,
            Some(&integration.unique_key),
            Some(&fresh.connection_id),
        );
        let mut grant = Map::new();
        grant.insert("grant_type".into(), json!("refresh_token"));
        grant.insert("refresh_token".into(), json!(refresh_token));
        let outcome = match self
            .tokens
            .request(&integration, grant, &mut recorder)
            .await
        {
            Ok(response) => tokens::credentials_from_token_response(response, Some(refresh_token)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(credentials) => {
                let mut tx = self.store.begin().await?;
                tx.update_credentials(&fresh.row_id, &credentials.seal(&self.cipher))
                    .await?;
                tx.commit().await?;
                self.forget(&fresh.integration_id, fresh.connection_id.as_str());
                self.logs
                    .save(
                        recorder,
                        OperationStatus::Success,
                        Some("token refreshed".to_string()),
                    )
                    .await;
                Ok(credentials)
            }
            Err(e) => {
                self.logs
                    .save(
                        recorder,
                        OperationStatus::Failed,
                        Some(e.message().to_string()),
                    )
                    .await;
                if matches!(
                    e.code(),
                    ErrorCode::TokenRequestFailed | ErrorCode::ConnectionRefreshFailed
                ) {
                    self.report_refresh_failure(&fresh, &e).await;
                }
                Err(e)
            }
        }
    }
}
