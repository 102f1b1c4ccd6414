//! The engine's storage port, implemented by delegating to the queries of each table group.

use async_trait::async_trait;
use ferry_engine::storage::{
    ApiKeyRecord, AsyncActionRecord, ChangeFeed, ConnectSessionRecord, ConnectionChanges,
    ConnectionFilter, ConnectionRecord, EnvironmentRecord, IntegrationRecord, NewConnection,
    OAuthSessionRecord, OperationFilter, OperationRecord, PaceReservation, RecordCounts,
    RecordInput, RecordQuery, RecordRow, Storage, StorageError, StorageResult, StorageTx,
    SyncControl, SyncScheduleRecord, WebhookDeliveryRecord,
};
use serde_json::Value;

use crate::{Store, StoreError, Tx};

impl From<StoreError> for StorageError {
    fn from(e: StoreError) -> Self {
        StorageError::new(e)
    }
}

#[async_trait]
impl Storage for Store {
    async fn begin(&self) -> StorageResult<Box<dyn StorageTx>> {
        Ok(Box::new(Store::begin(self).await?))
    }
    async fn close(&self) {
        Store::close(self).await
    }
    async fn watch_changes(&self) -> StorageResult<Box<dyn ChangeFeed>> {
        Ok(Store::watch_changes(self).await?)
    }
    fn shares_pacing(&self) -> bool {
        Store::shares_pacing(self)
    }
    async fn reserve_paces(&self, requests: &[PaceReservation]) -> StorageResult<Vec<i64>> {
        Ok(Store::reserve_paces(self, requests).await?)
    }
    async fn hold_pace(
        &self,
        connection_row: &str,
        wait_us: i64,
        tolerance_us: i64,
    ) -> StorageResult<()> {
        Ok(Store::hold_pace(self, connection_row, wait_us, tolerance_us).await?)
    }
    async fn environment_by_name(&self, name: &str) -> StorageResult<Option<EnvironmentRecord>> {
        Ok(Store::environment_by_name(self, name).await?)
    }
    async fn environment(&self, id: &str) -> StorageResult<Option<EnvironmentRecord>> {
        Ok(Store::environment(self, id).await?)
    }
    async fn list_environments(&self, name: Option<&str>) -> StorageResult<Vec<EnvironmentRecord>> {
        Ok(Store::list_environments(self, name).await?)
    }
    async fn api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> StorageResult<Option<(ApiKeyRecord, Option<EnvironmentRecord>)>> {
        Ok(Store::api_key_by_hash(self, secret_hash).await?)
    }
    async fn api_keys(&self, environment_id: Option<&str>) -> StorageResult<Vec<ApiKeyRecord>> {
        Ok(Store::api_keys(self, environment_id).await?)
    }
    async fn list_integrations(
        &self,
        environment_id: &str,
    ) -> StorageResult<Vec<IntegrationRecord>> {
        Ok(Store::list_integrations(self, environment_id).await?)
    }
    async fn integration(
        &self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<Option<IntegrationRecord>> {
        Ok(Store::integration(self, environment_id, unique_key).await?)
    }
    async fn integration_by_id(&self, id: &str) -> StorageResult<Option<IntegrationRecord>> {
        Ok(Store::integration_by_id(self, id).await?)
    }
    async fn connection(
        &self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StorageResult<Option<ConnectionRecord>> {
        Ok(Store::connection(self, environment_id, provider_config_key, connection_id).await?)
    }
    async fn connection_by_row_id(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<ConnectionRecord>> {
        Ok(Store::connection_by_row_id(self, environment_id, id).await?)
    }
    async fn connection_by_identity(
        &self,
        integration_id: &str,
        identity: &str,
    ) -> StorageResult<Option<ConnectionRecord>> {
        Ok(Store::connection_by_identity(self, integration_id, identity).await?)
    }
    async fn list_connections(
        &self,
        environment_id: &str,
        filter: &ConnectionFilter,
    ) -> StorageResult<Vec<ConnectionRecord>> {
        Ok(Store::list_connections(self, environment_id, filter).await?)
    }
    async fn connect_session(
        &self,
        token_hash: &str,
    ) -> StorageResult<Option<ConnectSessionRecord>> {
        Ok(Store::connect_session(self, token_hash).await?)
    }
    async fn operation(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<OperationRecord>> {
        Ok(Store::operation(self, environment_id, id).await?)
    }
    async fn async_action(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<AsyncActionRecord>> {
        Ok(Store::async_action(self, environment_id, id).await?)
    }
    async fn list_operations(
        &self,
        environment_id: &str,
        filter: &OperationFilter,
    ) -> StorageResult<Vec<OperationRecord>> {
        Ok(Store::list_operations(self, environment_id, filter).await?)
    }
    async fn sync_schedules(
        &self,
        environment_id: &str,
        integration_key: &str,
        connection_id: Option<&str>,
    ) -> StorageResult<Vec<SyncScheduleRecord>> {
        Ok(Store::sync_schedules(self, environment_id, integration_key, connection_id).await?)
    }
    async fn record_counts(&self, connection_row: &str) -> StorageResult<Vec<(String, i64)>> {
        Ok(Store::record_counts(self, connection_row).await?)
    }
    async fn records(&self, query: &RecordQuery) -> StorageResult<Vec<RecordRow>> {
        Ok(Store::records(self, query).await?)
    }
    async fn webhook_deliveries(
        &self,
        environment_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<WebhookDeliveryRecord>> {
        Ok(Store::webhook_deliveries(self, environment_id, status, limit).await?)
    }
    async fn webhook_delivery(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StorageResult<Option<WebhookDeliveryRecord>> {
        Ok(Store::webhook_delivery(self, environment_id, id).await?)
    }
    async fn connections_without_schedules(
        &self,
        provider: &str,
        syncs: &[&str],
    ) -> StorageResult<Vec<(String, String, String, String)>> {
        Ok(Store::connections_without_schedules(self, provider, syncs).await?)
    }
}

#[async_trait]
impl StorageTx for Tx {
    async fn commit(self: Box<Self>) -> StorageResult<()> {
        Ok(Tx::commit(*self).await?)
    }
    async fn create_environment(
        &mut self,
        name: &str,
        is_production: bool,
    ) -> StorageResult<Option<EnvironmentRecord>> {
        Ok(Tx::create_environment(self, name, is_production).await?)
    }
    async fn delete_environment(&mut self, id: &str) -> StorageResult<bool> {
        Ok(Tx::delete_environment(self, id).await?)
    }
    async fn create_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        secret_hash: &str,
    ) -> StorageResult<ApiKeyRecord> {
        Ok(Tx::create_api_key(self, environment_id, display_name, secret_hash).await?)
    }
    async fn set_named_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        secret_hash: &str,
    ) -> StorageResult<bool> {
        Ok(Tx::set_named_api_key(self, environment_id, display_name, secret_hash).await?)
    }
    async fn delete_api_key(
        &mut self,
        environment_id: Option<&str>,
        id: &str,
    ) -> StorageResult<bool> {
        Ok(Tx::delete_api_key(self, environment_id, id).await?)
    }
    async fn set_environment_variables(&mut self, id: &str, sealed: &str) -> StorageResult<()> {
        Ok(Tx::set_environment_variables(self, id, sealed).await?)
    }
    async fn set_webhook_signing_key(&mut self, id: &str, sealed: &str) -> StorageResult<()> {
        Ok(Tx::set_webhook_signing_key(self, id, sealed).await?)
    }
    async fn create_integration(
        &mut self,
        new: IntegrationRecord,
    ) -> StorageResult<Option<IntegrationRecord>> {
        Ok(Tx::create_integration(self, new).await?)
    }
    async fn integration_for_update(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<Option<IntegrationRecord>> {
        Ok(Tx::integration_for_update(self, environment_id, unique_key).await?)
    }
    async fn update_integration(&mut self, integration: &IntegrationRecord) -> StorageResult<bool> {
        Ok(Tx::update_integration(self, integration).await?)
    }
    async fn delete_integration(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StorageResult<bool> {
        Ok(Tx::delete_integration(self, environment_id, unique_key).await?)
    }
    async fn upsert_connection(&mut self, connection: &NewConnection) -> StorageResult<String> {
        Ok(Tx::upsert_connection(self, connection).await?)
    }
    async fn connection_metadata_for_update(
        &mut self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StorageResult<Option<(String, Value)>> {
        Ok(Tx::connection_metadata_for_update(
            self,
            environment_id,
            provider_config_key,
            connection_id,
        )
        .await?)
    }
    async fn set_connection_metadata(&mut self, id: &str, metadata: &Value) -> StorageResult<()> {
        Ok(Tx::set_connection_metadata(self, id, metadata).await?)
    }
    async fn update_connection(
        &mut self,
        id: &str,
        connection_id: &str,
        changes: &ConnectionChanges,
    ) -> StorageResult<()> {
        Ok(Tx::update_connection(self, id, connection_id, changes).await?)
    }
    async fn update_credentials(&mut self, id: &str, credentials_enc: &str) -> StorageResult<()> {
        Ok(Tx::update_credentials(self, id, credentials_enc).await?)
    }
    async fn take_refresh_lease(
        &mut self,
        id: &str,
        now: &str,
        until: &str,
    ) -> StorageResult<bool> {
        Ok(Tx::take_refresh_lease(self, id, now, until).await?)
    }
    async fn release_refresh_lease(&mut self, id: &str, until: &str) -> StorageResult<()> {
        Ok(Tx::release_refresh_lease(self, id, until).await?)
    }
    async fn touch_connection(&mut self, id: &str, at: &str) -> StorageResult<()> {
        Ok(Tx::touch_connection(self, id, at).await?)
    }
    async fn delete_connection(&mut self, id: &str) -> StorageResult<bool> {
        Ok(Tx::delete_connection(self, id).await?)
    }
    async fn create_connect_session(
        &mut self,
        token_hash: &str,
        session: &ConnectSessionRecord,
    ) -> StorageResult<()> {
        Ok(Tx::create_connect_session(self, token_hash, session).await?)
    }
    async fn delete_connect_session(&mut self, token_hash: &str) -> StorageResult<bool> {
        Ok(Tx::delete_connect_session(self, token_hash).await?)
    }
    async fn create_oauth_session(&mut self, session: &OAuthSessionRecord) -> StorageResult<()> {
        Ok(Tx::create_oauth_session(self, session).await?)
    }
    async fn take_oauth_session(
        &mut self,
        state: &str,
    ) -> StorageResult<Option<OAuthSessionRecord>> {
        Ok(Tx::take_oauth_session(self, state).await?)
    }
    async fn prune_changes(&mut self) -> StorageResult<u64> {
        Ok(Tx::prune_changes(self).await?)
    }
    async fn prune_sessions(&mut self) -> StorageResult<u64> {
        Ok(Tx::prune_sessions(self).await?)
    }
    async fn insert_operations(&mut self, ops: &[OperationRecord]) -> StorageResult<()> {
        Ok(Tx::insert_operations(self, ops).await?)
    }
    async fn save_operation(&mut self, op: &OperationRecord) -> StorageResult<()> {
        Ok(Tx::save_operation(self, op).await?)
    }
    async fn prune_operations(&mut self, cutoff: &str) -> StorageResult<u64> {
        Ok(Tx::prune_operations(self, cutoff).await?)
    }
    async fn insert_async_action(&mut self, run: &AsyncActionRecord) -> StorageResult<()> {
        Ok(Tx::insert_async_action(self, run).await?)
    }
    async fn claim_async_action(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<AsyncActionRecord>> {
        Ok(Tx::claim_async_action(self, now, lease_until).await?)
    }
    async fn finish_async_action(
        &mut self,
        id: &str,
        attempt: i64,
        update: &AsyncActionRecord,
    ) -> StorageResult<bool> {
        Ok(Tx::finish_async_action(self, id, attempt, update).await?)
    }
    async fn prune_async_actions(&mut self, cutoff: &str) -> StorageResult<u64> {
        Ok(Tx::prune_async_actions(self, cutoff).await?)
    }
    async fn webhook_settings_for_update(
        &mut self,
        environment_id: &str,
    ) -> StorageResult<Option<Option<String>>> {
        Ok(Tx::webhook_settings_for_update(self, environment_id).await?)
    }
    async fn set_webhook_settings(
        &mut self,
        environment_id: &str,
        settings: &str,
    ) -> StorageResult<()> {
        Ok(Tx::set_webhook_settings(self, environment_id, settings).await?)
    }
    async fn insert_webhook_delivery(
        &mut self,
        delivery: &WebhookDeliveryRecord,
    ) -> StorageResult<()> {
        Ok(Tx::insert_webhook_delivery(self, delivery).await?)
    }
    async fn claim_webhook_delivery(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<WebhookDeliveryRecord>> {
        Ok(Tx::claim_webhook_delivery(self, now, lease_until).await?)
    }
    async fn prune_webhook_deliveries(&mut self, cutoff: &str) -> StorageResult<u64> {
        Ok(Tx::prune_webhook_deliveries(self, cutoff).await?)
    }
    async fn finish_webhook_delivery(
        &mut self,
        attempt: i64,
        delivery: &WebhookDeliveryRecord,
    ) -> StorageResult<bool> {
        Ok(Tx::finish_webhook_delivery(self, attempt, delivery).await?)
    }
    async fn ensure_sync_schedule(&mut self, schedule: &SyncScheduleRecord) -> StorageResult<()> {
        Ok(Tx::ensure_sync_schedule(self, schedule).await?)
    }
    async fn delete_sync_schedule(&mut self, id: &str) -> StorageResult<bool> {
        Ok(Tx::delete_sync_schedule(self, id).await?)
    }
    async fn claim_sync_schedule(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StorageResult<Option<SyncScheduleRecord>> {
        Ok(Tx::claim_sync_schedule(self, now, lease_until).await?)
    }
    async fn keep_sync_run(
        &mut self,
        id: &str,
        run: i64,
        lease_until: &str,
        checkpoint: Option<&str>,
    ) -> StorageResult<bool> {
        Ok(Tx::keep_sync_run(self, id, run, lease_until, checkpoint).await?)
    }
    async fn release_sync_run(&mut self, id: &str, run: i64) -> StorageResult<()> {
        Ok(Tx::release_sync_run(self, id, run).await?)
    }
    async fn upsert_records(
        &mut self,
        connection_row: &str,
        model: &str,
        sync_name: &str,
        run: i64,
        now: &str,
        records: &[RecordInput],
    ) -> StorageResult<RecordCounts> {
        Ok(Tx::upsert_records(self, connection_row, model, sync_name, run, now, records).await?)
    }
    async fn delete_unseen_records(
        &mut self,
        connection_row: &str,
        model: &str,
        before_run: i64,
        now: &str,
    ) -> StorageResult<u64> {
        Ok(Tx::delete_unseen_records(self, connection_row, model, before_run, now).await?)
    }
    async fn prune_records(
        &mut self,
        connection_row: &str,
        model: &str,
        until: (&str, &str),
        now: &str,
        limit: i64,
    ) -> StorageResult<(u64, bool)> {
        Ok(Tx::prune_records(self, connection_row, model, until, now, limit).await?)
    }
    async fn empty_records(&mut self, connection_row: &str, model: &str) -> StorageResult<u64> {
        Ok(Tx::empty_records(self, connection_row, model).await?)
    }
    async fn finish_sync_run(
        &mut self,
        run: i64,
        claimed_next_run_at: &str,
        schedule: &SyncScheduleRecord,
    ) -> StorageResult<bool> {
        Ok(Tx::finish_sync_run(self, run, claimed_next_run_at, schedule).await?)
    }
    async fn control_sync_schedule(
        &mut self,
        id: &str,
        control: SyncControl<'_>,
    ) -> StorageResult<()> {
        Ok(Tx::control_sync_schedule(self, id, control).await?)
    }
}
