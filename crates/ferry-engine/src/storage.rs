//! The storage port: what the engine needs kept, as traits over its own record types. The
//! `ferry-store` crate implements them on SQLite and PostgreSQL; the binary opens a store and
//! hands it to [`crate::Engine::start`]. So the engine (and the API above it) knows no SQL
//! and depends on no database crate.
//!
//! Reads go through [`Storage`]; every write goes through a [`StorageTx`], a unit of work
//! that commits whole or not at all (dropping it rolls back). Secrets arrive here already
//! sealed (`*_enc` fields); times are fixed-width RFC 3339 UTC text, so they sort.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

/// A storage failure. Its cause is for the operator's log; the engine answers `internal_error`.
#[derive(Debug)]
pub struct StorageError(Box<dyn std::error::Error + Send + Sync>);

impl StorageError {
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StorageError {
        StorageError(cause.into())
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// The storage every service shares.
pub type Store = std::sync::Arc<dyn Storage>;

#[derive(Debug, Clone)]
pub struct EnvironmentRecord {
    pub id: String,
    /// The integer id Nango's API shows.
    pub number: i64,
    pub name: String,
    pub is_production: bool,
    pub webhook_url: Option<String>,
    pub webhook_signing_key_enc: Option<String>,
    pub variables_enc: Option<String>,
    /// JSON text of the webhook settings, when set.
    pub webhook_settings: Option<String>,
    pub created_at: String,
}

/// An API key as stored: never the key itself.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: String,
    /// `None` for an account key.
    pub environment_id: Option<String>,
    pub display_name: String,
    pub secret_hash: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct IntegrationRecord {
    pub id: String,
    pub environment_id: String,
    pub unique_key: String,
    pub provider: String,
    pub display_name: String,
    pub client_id: Option<String>,
    pub client_secret_enc: Option<String>,
    pub webhook_secret_enc: Option<String>,
    /// OAuth scopes as Nango keeps them: a comma-separated list.
    pub scopes: Option<String>,
    pub config: Value,
    pub forward_webhooks: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored connection, with its integration's key and provider.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: String,
    /// The integer id Nango's API shows.
    pub number: i64,
    pub environment_id: String,
    pub integration_id: String,
    pub connection_id: String,
    pub credentials_enc: String,
    pub connection_config: Value,
    pub metadata: Value,
    pub end_user: Option<Value>,
    pub tags: BTreeMap<String, String>,
    pub webhook_url_override: Option<String>,
    /// Who authorized (provider workspace and user), so re-authorizing updates this row.
    pub auth_identity: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_fetched_at: Option<String>,
    pub provider_config_key: String,
    pub provider: String,
}

/// A connection to insert, or to write over the one with the same integration and id.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub environment_id: String,
    pub integration_id: String,
    pub connection_id: String,
    pub credentials_enc: String,
    pub connection_config: Value,
    pub metadata: Value,
    pub end_user: Option<EndUserColumns>,
    pub tags: BTreeMap<String, String>,
    /// What `tags[key]=value` filters match: see [`ConnectionChanges::filter_tags`].
    pub filter_tags: BTreeMap<String, String>,
    pub webhook_url_override: Option<String>,
    pub auth_identity: Option<String>,
}

/// An end user as stored: the whole object, and the fields filters and search read.
#[derive(Debug, Clone)]
pub struct EndUserColumns {
    pub value: Value,
    pub id: String,
    pub organization_id: Option<String>,
    /// Further text `search` should find (email, display name).
    pub search_terms: Vec<String>,
}

/// Filters of a connection list; every one compares exactly except `search`.
#[derive(Debug, Default, Clone)]
pub struct ConnectionFilter {
    pub connection_id: Option<String>,
    /// Part of a connection id or of an end user's id, email or name, any case; `%` and `_`
    /// are literal.
    pub search: Option<String>,
    pub end_user_id: Option<String>,
    pub end_user_organization_id: Option<String>,
    pub integration_keys: Vec<String>,
    /// Filter-tag (key, value) pairs that must all be present.
    pub tags: Vec<(String, String)>,
    pub limit: i64,
    pub offset: i64,
}

/// Changes to a connection; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ConnectionChanges {
    pub end_user: Option<Option<EndUserColumns>>,
    pub tags: Option<BTreeMap<String, String>>,
    /// The rows `tags[key]=value` filters match (the engine derives them from the tags and
    /// the end user); replaced whole when given.
    pub filter_tags: Option<BTreeMap<String, String>>,
    pub webhook_url_override: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub struct ConnectSessionRecord {
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
pub struct OAuthSessionRecord {
    pub state: String,
    pub environment_id: String,
    pub integration_id: String,
    pub connect_session_hash: Option<String>,
    pub code_verifier: String,
    pub redirect_uri: String,
    /// The `auth` operation this authorization is recorded under.
    pub operation_id: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct OperationRecord {
    pub id: String,
    pub environment_id: String,
    /// The operation kind, as text (`auth`, `token_refresh`, `proxy`, …).
    pub kind: String,
    /// `running`, `success`, `failed` or `expired`.
    pub status: String,
    pub integration_key: Option<String>,
    pub connection_id: Option<String>,
    pub message: Option<String>,
    /// The HTTP exchanges as JSON array text: written as recorded and parsed only when read.
    pub exchanges: String,
    pub started_at: String,
    pub ended_at: Option<String>,
}

/// An asynchronous action run: its request, its state and, once ended, its result.
#[derive(Debug, Clone, Default)]
pub struct AsyncActionRecord {
    /// A UUID, which the caller polls with.
    pub id: String,
    pub environment_id: String,
    pub integration_key: String,
    pub connection_id: String,
    pub action_name: String,
    /// The input, as JSON text.
    pub input: String,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// Attempts started so far.
    pub attempts: i64,
    /// Further attempts allowed after a failure worth retrying.
    pub max_retries: i64,
    /// JSON text: the output on success, `{code, message, payload}` on failure.
    pub result: Option<String>,
    /// Pending: when it is due. Running: when its lease ends.
    pub run_after: String,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// A webhook to the app, from the outbox; see migration `0007_webhooks.sql`.
#[derive(Debug, Clone, Default)]
pub struct WebhookDeliveryRecord {
    pub id: String,
    pub environment_id: String,
    /// `sync`, `async_action` or `auth`.
    pub kind: String,
    pub integration_key: Option<String>,
    pub connection_id: Option<String>,
    pub url: String,
    /// The JSON text signed and sent, byte for byte.
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub deadline: String,
    /// JSON array text, one object per attempt.
    pub attempt_log: String,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// A reservation of `span_us` of a connection's shared budget, whose burst tolerance is
/// `tolerance_us`.
#[derive(Debug, Clone)]
pub struct PaceReservation {
    pub connection_row: String,
    pub span_us: i64,
    pub tolerance_us: i64,
}

/// A change the control routes make to a schedule: each writes only its own fields, in one
/// statement, so concurrent requests (and a run going on) lose none of each other's changes.
#[derive(Debug, Clone, Copy)]
pub enum SyncControl<'a> {
    /// Due at `now`; with `reset`, the run is full and the checkpoint and last sync date go.
    Trigger {
        now: &'a str,
        reset: bool,
    },
    Pause,
    /// Unpaused and due at `now`.
    Start {
        now: &'a str,
    },
    /// The connection's own frequency, or the sync's again with `None`.
    Frequency(Option<&'a str>),
}

/// A sync's schedule on one connection; see migration `0006_syncs.sql` for the fields' rules.
#[derive(Debug, Clone, Default)]
pub struct SyncScheduleRecord {
    pub id: String,
    pub environment_id: String,
    /// The connection's row id.
    pub connection_row: String,
    pub integration_key: String,
    pub connection_id: String,
    pub sync_name: String,
    /// `base` unless a variant was made.
    pub variant: String,
    pub paused: bool,
    /// The connection's own frequency, when it has one.
    pub frequency: Option<String>,
    pub next_run_at: String,
    /// The next run is full: the first one, or after a reset.
    pub full_run: bool,
    /// The lease of the run in progress.
    pub running_until: Option<String>,
    /// Runs started; while one runs, its number.
    pub runs: i64,
    /// JSON text the running sync saved to resume from.
    pub checkpoint: Option<String>,
    pub deletes_from: Option<i64>,
    pub last_sync_date: Option<String>,
    /// When the last full run that ended well started.
    pub last_full_at: Option<String>,
    /// `SUCCESS` or `ERROR`.
    pub last_status: Option<String>,
    /// JSON text: `{Model: {added, updated, deleted}}`.
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

/// A record to store: its id, its JSON text and that text's hash.
#[derive(Debug, Clone)]
pub struct RecordInput {
    pub external_id: String,
    pub data: String,
    pub data_hash: String,
}

/// What storing a batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A stored record.
#[derive(Debug, Clone, Default)]
pub struct RecordRow {
    pub external_id: String,
    pub data: String,
    pub first_seen_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
    pub pruned_at: Option<String>,
    /// `ADDED`, `UPDATED` or `DELETED`.
    pub last_action: String,
}

/// Which records `GET /records` reads, oldest change first.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub connection_row: String,
    pub model: String,
    /// Only changes at or after this time.
    pub modified_after: Option<String>,
    /// Strictly after this `(updated_at, external_id)`.
    pub after: Option<(String, String)>,
    /// Only these `last_action`s; empty for all.
    pub actions: Vec<String>,
    /// Only these ids; empty for all.
    pub ids: Vec<String>,
    pub limit: i64,
}

#[derive(Debug, Default, Clone)]
pub struct OperationFilter {
    pub connection_id: Option<String>,
    pub integration_key: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// Continue after this (started_at, id): newest first, so strictly older.
    pub after_row: Option<(String, String)>,
    pub limit: i64,
}

/// A row the engine keeps in its hot caches changed, in this process or another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedRowChange {
    /// A connection's credentials or identity changed, or it was created or deleted.
    Connection {
        integration_id: String,
        connection_id: String,
    },
    Integration,
    ApiKey,
    Environment,
    /// Changes may have been missed (a lost connection, a reader far behind): forget all.
    Everything,
}

/// Changes to cached rows as they commit, in commit order.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next changes. An error means changes may have been missed.
    async fn next(&mut self) -> StorageResult<Vec<CachedRowChange>>;
}

/// Reads, and the start of units of work.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Begins a unit of work. Never begin a second one while holding one, and read through
    /// it, not through `Storage`, while holding it (an in-memory SQLite has one connection).
    async fn begin(&self) -> StorageResult<Box<dyn StorageTx>>;
    /// Closes the store, waiting for connections in use to come back.
    async fn close(&self);
    /// A feed of the changes to cached rows committed from now on, by any process.
    async fn watch_changes(&self) -> StorageResult<Box<dyn ChangeFeed>>;

    async fn environment_by_name(&self, name: &str) -> StorageResult<Option<EnvironmentRecord>>;
    async fn environment(&self, id: &str) -> StorageResult<Option<EnvironmentRecord>>;
    /// Every environment, oldest first; only the one named `name` when given.
    async fn list_environments(&self, name: Option<&str>) -> StorageResult<Vec<EnvironmentRecord>>;
    /// The key whose SHA-256 is `secret_hash`, with its environment (none for account keys).
    async fn api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> StorageResult<Option<(ApiKeyRecord, Option<EnvironmentRecord>)>>;
    /// An environment's keys (`None`: the account keys), oldest first.
    async fn api_keys(&self, environment_id: Option<&str>) -> StorageResult<Vec<ApiKeyRecord>>;

    async fn list_integrations(
        &self,
        environment_id: &str,
    ) -> StorageResult<Vec<IntegrationRecord>>;
    async fn integration(
        &self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<Option<IntegrationRecord>>;
    async fn integration_by_id(&self, id: &str) -> StorageResult<Option<IntegrationRecord>>;

    async fn connection(
        &self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StorageResult<Option<ConnectionRecord>>;
    async fn connection_by_row_id(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<ConnectionRecord>>;
    /// The connection a person authorized before for this integration, if any.
    async fn connection_by_identity(
        &self,
        integration_id: &str,
        identity: &str,
    ) -> StorageResult<Option<ConnectionRecord>>;
    /// Newest first.
    async fn list_connections(
        &self,
        environment_id: &str,
        filter: &ConnectionFilter,
    ) -> StorageResult<Vec<ConnectionRecord>>;

    /// A live (unexpired) connect session by its token's hash.
    async fn connect_session(
        &self,
        token_hash: &str,
    ) -> StorageResult<Option<ConnectSessionRecord>>;

    async fn operation(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<OperationRecord>>;
    async fn async_action(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<AsyncActionRecord>>;
    /// The schedules of an environment's integration, of one connection when given.
    async fn sync_schedules(
        &self,
        environment_id: &str,
        integration_key: &str,
        connection_id: Option<&str>,
    ) -> StorageResult<Vec<SyncScheduleRecord>>;
    /// Live (not deleted) records per model of a connection.
    async fn record_counts(&self, connection_row: &str) -> StorageResult<Vec<(String, i64)>>;
    async fn records(&self, query: &RecordQuery) -> StorageResult<Vec<RecordRow>>;
    /// Connections that lack a schedule for one of `syncs` (their provider's sync names):
    /// `(environment, connection row, integration key, connection id)`.
    async fn connections_without_schedules(
        &self,
        provider: &str,
        syncs: &[&str],
    ) -> StorageResult<Vec<(String, String, String, String)>>;
    /// An environment's webhook deliveries, newest first; of one status when given.
    async fn webhook_deliveries(
        &self,
        environment_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<WebhookDeliveryRecord>>;
    async fn webhook_delivery(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<WebhookDeliveryRecord>>;
    /// Newest first.
    async fn list_operations(
        &self,
        environment_id: &str,
        filter: &OperationFilter,
    ) -> StorageResult<Vec<OperationRecord>>;

    /// Whether pacing is kept in the store and shared by every process on it (PostgreSQL);
    /// otherwise each process paces alone.
    fn shares_pacing(&self) -> bool;
    /// Reserves each request's span of its connection's budget, in one statement; answers,
    /// in order, in how many microseconds each request's first call may go (negative: at
    /// once). Requests for one connection get consecutive spans.
    async fn reserve_paces(&self, requests: &[PaceReservation]) -> StorageResult<Vec<i64>>;
    /// Holds a connection closed for `wait_us` in every process.
    async fn hold_pace(
        &self,
        connection_row: &str,
        wait_us: i64,
        tolerance_us: i64,
    ) -> StorageResult<()>;
}

/// A unit of work: every write in it commits together, or none does.
#[async_trait]
pub trait StorageTx: Send {
    async fn commit(self: Box<Self>) -> StorageResult<()>;

    /// Creates an environment; `Ok(None)` when the name is taken (then drop this unit).
    async fn create_environment(
        &mut self,
        name: &str,
        is_production: bool,
    ) -> StorageResult<Option<EnvironmentRecord>>;
    /// Deletes an environment and everything in it. False when there was none.
    async fn delete_environment(&mut self, id: &str) -> StorageResult<bool>;
    async fn create_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        secret: &str,
    ) -> StorageResult<ApiKeyRecord>;
    /// Makes `secret` the key named `display_name` of the environment (or the account).
    async fn set_named_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        secret: &str,
    ) -> StorageResult<bool>;
    /// Deletes one key. False when there was none.
    async fn delete_api_key(
        &mut self,
        environment_id: Option<&str>,
        id: &str,
    ) -> StorageResult<bool>;
    async fn set_environment_variables(&mut self, id: &str, sealed: &str) -> StorageResult<()>;
    async fn set_webhook_signing_key(&mut self, id: &str, sealed: &str) -> StorageResult<()>;

    /// Inserts a new integration; `Ok(None)` when the key is taken (then drop this unit).
    async fn create_integration(
        &mut self,
        new: IntegrationRecord,
    ) -> StorageResult<Option<IntegrationRecord>>;
    /// The integration, locked until this unit of work ends.
    async fn integration_for_update(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<Option<IntegrationRecord>>;
    /// Writes every mutable field; `Ok(false)` when a renamed key is taken (then drop this unit).
    async fn update_integration(&mut self, integration: &IntegrationRecord) -> StorageResult<bool>;
    /// Deletes an integration with its connections and sessions. False when there was none.
    async fn delete_integration(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<bool>;

    /// Inserts the connection, or writes over the one with the same integration and
    /// connection id (keeping its row id, number and creation time). Returns the row id.
    async fn upsert_connection(&mut self, connection: &NewConnection) -> StorageResult<String>;
    /// The connection's row id and metadata, locked until this unit of work ends.
    async fn connection_metadata_for_update(
        &mut self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StorageResult<Option<(String, Value)>>;
    async fn set_connection_metadata(&mut self, id: &str, metadata: &Value) -> StorageResult<()>;
    async fn update_connection(
        &mut self,
        id: &str,
        connection_id: &str,
        changes: &ConnectionChanges,
    ) -> StorageResult<()>;
    async fn update_credentials(&mut self, id: &str, credentials_enc: &str) -> StorageResult<()>;
    /// Takes the refresh lease until `until` when no live lease is held (none, or one that
    /// ended before `now`). True when this caller now holds it.
    async fn take_refresh_lease(&mut self, id: &str, now: &str, until: &str)
    -> StorageResult<bool>;
    /// Ends a lease taken with `take_refresh_lease`, unless another holder took it over.
    async fn release_refresh_lease(&mut self, id: &str, until: &str) -> StorageResult<()>;
    /// Records that the connection's credentials were read at `at`.
    async fn touch_connection(&mut self, id: &str, at: &str) -> StorageResult<()>;
    /// Deletes the connection and its tags. False when there was none.
    async fn delete_connection(&mut self, id: &str) -> StorageResult<bool>;

    async fn create_connect_session(
        &mut self,
        token_hash: &str,
        session: &ConnectSessionRecord,
    ) -> StorageResult<()>;
    /// Ends a connect session. False when there was none.
    async fn delete_connect_session(&mut self, token_hash: &str) -> StorageResult<bool>;
    async fn create_oauth_session(&mut self, session: &OAuthSessionRecord) -> StorageResult<()>;
    /// Takes the OAuth session for `state` exactly once; expired sessions are not returned.
    async fn take_oauth_session(
        &mut self,
        state: &str,
    ) -> StorageResult<Option<OAuthSessionRecord>>;
    /// Deletes expired sessions, first marking the `auth` operations of abandoned
    /// authorizations `expired`. Returns how many sessions were deleted.
    async fn prune_sessions(&mut self) -> StorageResult<u64>;

    async fn insert_operations(&mut self, ops: &[OperationRecord]) -> StorageResult<()>;
    /// Records an operation, or replaces the one with the same id.
    async fn save_operation(&mut self, op: &OperationRecord) -> StorageResult<()>;
    /// Deletes operations that started before `cutoff`; returns how many.
    async fn prune_operations(&mut self, cutoff: &str) -> StorageResult<u64>;
    /// Deletes what the change feed no longer needs; returns how many rows.
    async fn prune_changes(&mut self) -> StorageResult<u64>;

    async fn insert_async_action(&mut self, run: &AsyncActionRecord) -> StorageResult<()>;
    /// Takes the run due first (pending and due at `now`, or running with its lease over):
    /// marks it running until `lease_until` and counts the attempt. Returns it as it was.
    /// Two processes never take the same run at once.
    async fn claim_async_action(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<AsyncActionRecord>>;
    /// Writes `update`'s status, result, due time, end and attempts over the run, if attempt
    /// `attempt` still holds it. False when a later attempt took it over.
    async fn finish_async_action(
        &mut self,
        id: &str,
        attempt: i64,
        update: &AsyncActionRecord,
    ) -> StorageResult<bool>;
    /// Deletes the results of runs that ended before `cutoff`; returns how many.
    async fn prune_async_actions(&mut self, cutoff: &str) -> StorageResult<u64>;

    /// The environment's webhook settings text, locked until the unit of work ends; `None`
    /// when there is no such environment, `Some(None)` when none are set.
    async fn webhook_settings_for_update(
        &mut self,
        environment_id: &str,
    ) -> StorageResult<Option<Option<String>>>;
    async fn set_webhook_settings(
        &mut self,
        environment_id: &str,
        settings: &str,
    ) -> StorageResult<()>;
    async fn insert_webhook_delivery(
        &mut self,
        delivery: &WebhookDeliveryRecord,
    ) -> StorageResult<()>;
    /// Takes the pending delivery due first, leases it until `lease_until` and counts the
    /// attempt. Returns it as it was before.
    async fn claim_webhook_delivery(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<WebhookDeliveryRecord>>;
    /// Deletes the deliveries that ended (delivered or given up) before `cutoff`.
    async fn prune_webhook_deliveries(&mut self, cutoff: &str) -> StorageResult<u64>;
    /// Writes how attempt `attempt` went; false when the delivery was taken again since.
    async fn finish_webhook_delivery(
        &mut self,
        attempt: i64,
        delivery: &WebhookDeliveryRecord,
    ) -> StorageResult<bool>;

    /// Adds the schedule unless the connection has one for that sync and variant.
    async fn ensure_sync_schedule(&mut self, schedule: &SyncScheduleRecord) -> StorageResult<()>;
    async fn delete_sync_schedule(&mut self, id: &str) -> StorageResult<bool>;
    /// Takes the schedule due first (not paused, due, no live lease): counts a run, leases
    /// it until `lease_until` and sets `deletes_from` to this run unless an unfinished run
    /// set it. Returns it as it is after.
    async fn claim_sync_schedule(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<SyncScheduleRecord>>;
    /// Renews run `run`'s lease and keeps its checkpoint; false when the run lost it.
    async fn keep_sync_run(
        &mut self,
        id: &str,
        run: i64,
        lease_until: &str,
        checkpoint: Option<&str>,
    ) -> StorageResult<bool>;
    /// Gives up run `run`'s lease (its process is stopping): the schedule can be taken again
    /// at once and resumed from the checkpoint kept last.
    async fn release_sync_run(&mut self, id: &str, run: i64) -> StorageResult<()>;
    /// Stores a batch under `model` for run `run`: new records are added, changed or deleted
    /// ones updated, unchanged ones only marked as seen.
    async fn upsert_records(
        &mut self,
        connection_row: &str,
        model: &str,
        sync_name: &str,
        run: i64,
        now: &str,
        records: &[RecordInput],
    ) -> StorageResult<RecordCounts>;
    /// Marks deleted the live records of `model` last seen before run `before_run`.
    async fn delete_unseen_records(
        &mut self,
        connection_row: &str,
        model: &str,
        before_run: i64,
        now: &str,
    ) -> StorageResult<u64>;
    /// Empties the data of up to `limit` live records of `model` at or before `until`
    /// (`updated_at`, id), keeping their metadata; returns how many, and whether more are left.
    async fn prune_records(
        &mut self,
        connection_row: &str,
        model: &str,
        until: (&str, &str),
        now: &str,
        limit: i64,
    ) -> StorageResult<(u64, bool)>;
    /// Deletes the records of `model` outright (`emptyCache`).
    async fn empty_records(&mut self, connection_row: &str, model: &str) -> StorageResult<u64>;
    /// Writes how run `run` ended; false when the run had lost its lease. When the schedule
    /// was triggered, started or given a frequency while the run went on (its `next_run_at`
    /// is no longer `claimed_next_run_at`), that request's next run, and a reset's cleared
    /// checkpoint, are kept.
    async fn finish_sync_run(
        &mut self,
        run: i64,
        claimed_next_run_at: &str,
        schedule: &SyncScheduleRecord,
    ) -> StorageResult<bool>;
    /// Applies a control route's change to schedule `id`.
    async fn control_sync_schedule(
        &mut self,
        id: &str,
        control: SyncControl<'_>,
    ) -> StorageResult<()>;
}
