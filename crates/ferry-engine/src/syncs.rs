//! Syncs: a schedule per (connection, sync, variant) in the database, runs taken by workers
//! of any process under a lease (so one schedule never runs twice at once, and a run whose
//! process died is taken again once its lease is over), and the change-tracked records the
//! runs keep, read through `GET /records`.
//!
//! A run hands its records to a [`SyncSink`] page by page. Each page is validated against its
//! model's JSON Schema, stored in one transaction together with the checkpoint that resumes
//! after it, and renews the lease; a run resumed after a crash therefore neither loses nor
//! doubles a record. A full sync's run that ends well marks deleted the records no run has
//! seen since the full run began; a failed run deletes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ferry_provider::{BoxFuture, SyncCall, SyncError, SyncSink, SyncSpec};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::client::ProviderClient;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::logs::OperationKind;
use crate::storage::{
    RecordCounts, RecordInput, RecordQuery, RecordRow, Store, SyncScheduleRecord,
};
use crate::time::ts;
use crate::webhooks::{Event, Trigger, Webhooks};

/// The longest a run may take (Nango's limit).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a run holds its schedule without saving a page: a live run renews it with every
/// page, so only a dead process's run outlives it.
const LEASE: Duration = Duration::from_secs(10 * 60);
/// The variant every schedule has; others are made with `POST /sync/{name}/variant/{variant}`.
pub const BASE_VARIANT: &str = "base";
/// The most records one `GET /records` page holds.
pub const MAX_RECORDS_PAGE: i64 = 10_000;

/// A sync named by a request, with its variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRef {
    pub name: String,
    pub variant: String,
}

/// What `GET /sync/status` shows of one schedule.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    pub id: String,
    pub connection_id: String,
    pub name: String,
    pub variant: String,
    /// `RUNNING`, `PAUSED`, `SUCCESS`, `ERROR`, or `STOPPED` before the first run.
    pub status: &'static str,
    /// `FULL` when the next run reads everything, else `INCREMENTAL`.
    pub kind: &'static str,
    pub finished_at: Option<String>,
    pub next_scheduled_at: Option<String>,
    pub frequency: String,
    pub latest_result: Value,
    pub latest_execution_status: Option<String>,
    pub latest_error: Option<String>,
    pub record_count: BTreeMap<String, i64>,
    pub checkpoint: Value,
}

/// A page of `GET /records`.
#[derive(Debug, Clone)]
pub struct RecordsPage {
    pub records: Vec<StoredRecord>,
    pub next_cursor: Option<String>,
}

/// A record as stored, with what `_nango_metadata` shows: the data stays the JSON text it
/// was stored as, so a page of records is written out without being parsed again.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub id: String,
    /// A JSON object's text; empty once pruned.
    pub data: String,
    pub first_seen_at: String,
    pub last_modified_at: String,
    pub last_action: String,
    pub deleted_at: Option<String>,
    pub pruned_at: Option<String>,
    pub cursor: String,
}

/// What `GET /records` asks, checked at the edge.
#[derive(Debug, Clone, Default)]
pub struct RecordsRequest {
    pub model: String,
    pub variant: Option<String>,
    pub modified_after: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: i64,
    /// `ADDED`, `UPDATED`, `DELETED`; empty for all.
    pub actions: Vec<String>,
    pub ids: Vec<String>,
}

#[derive(Clone)]
pub struct Syncs {
    store: Store,
    client: ProviderClient,
    webhooks: Webhooks,
}

impl Syncs {
    pub(crate) fn new(store: Store, client: ProviderClient, webhooks: Webhooks) -> Syncs {
        Syncs {
            store,
            client,
            webhooks,
        }
    }

    /// Gives every connection whose provider has syncs a schedule for each: the first unit
    /// of every worker round, so a new connection's syncs start without waiting.
    pub async fn schedule_new_connections(&self) -> EngineResult<usize> {
        let mut made = 0;
        for provider in crate::catalogue::catalogue() {
            let Some(catalogue) = provider.syncs else {
                continue;
            };
            let names: Vec<&str> = catalogue.syncs.iter().map(|s| s.name).collect();
            let missing = self
                .store
                .connections_without_schedules(provider.name, &names)
                .await?;
            for (environment, row, key, connection) in missing {
                let mut tx = self.store.begin().await?;
                for spec in catalogue.syncs {
                    let schedule =
                        new_schedule(&environment, &row, &key, &connection, spec, BASE_VARIANT);
                    tx.ensure_sync_schedule(&schedule).await?;
                }
                tx.commit().await?;
                made += 1;
            }
        }
        Ok(made)
    }

    /// Runs the schedule due first, if any: one unit of a worker, which tests call directly.
    /// Returns whether there was one.
    pub async fn run_next(&self) -> EngineResult<bool> {
        self.schedule_new_connections().await?;
        let started = Utc::now();
        let lease_until = started + chrono::Duration::from_std(LEASE).expect("a short lease");
        let mut tx = self.store.begin().await?;
        let claimed = tx
            .claim_sync_schedule(&ts(started), &ts(lease_until))
            .await?;
        tx.commit().await?;
        let Some(schedule) = claimed else {
            return Ok(false);
        };
        self.run(schedule, started).await?;
        Ok(true)
    }

    async fn run(&self, schedule: SyncScheduleRecord, started: DateTime<Utc>) -> EngineResult<()> {
        let environment = EnvironmentId::from_stored(schedule.environment_id.clone());
        let key = IntegrationKey::from_stored(schedule.integration_key.clone());
        let connection_id = ConnectionId::from_stored(schedule.connection_id.clone());
        let Some((spec, run_sync)) = self
            .spec_of(&environment, &key, &schedule.sync_name)
            .await?
        else {
            let message = format!(
                "the provider has no sync named `{}` any more",
                schedule.sync_name
            );
            return self
                .finish(&schedule, started, RunContext::default(), Err(message))
                .await;
        };
        let Some(connection) = self
            .store
            .connection(environment.as_str(), key.as_str(), connection_id.as_str())
            .await?
        else {
            // Deleted while due: its schedule went with it.
            return Ok(());
        };
        let full = run_is_full(&schedule, &spec, started);
        let transport = match self
            .client
            .transport(&environment, &key, &connection_id, OperationKind::Sync)
            .await
        {
            Ok(transport) => transport,
            Err(e) => {
                let context = RunContext {
                    spec: Some(&spec),
                    connection: Some(&connection),
                    sink: None,
                    full,
                };
                return self
                    .finish(&schedule, started, context, Err(e.message().to_string()))
                    .await;
            }
        };
        let sink = RunSink::new(self.store.clone(), &schedule, &spec);
        let checkpoint = schedule
            .checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let call = SyncCall {
            name: spec.name,
            api_version: transport.api_version(),
            metadata: &connection.metadata,
            checkpoint,
            last_sync_date: if full {
                None
            } else {
                schedule.last_sync_date.as_deref()
            },
            sink: &sink,
        };
        let ended = match tokio::time::timeout(RUN_TIMEOUT, run_sync(&transport, call)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "the run took longer than {} hours and was stopped",
                RUN_TIMEOUT.as_secs() / 3600
            )),
        };
        let summary = sink.summary();
        let rejected = sink.rejected();
        let message = match &ended {
            Ok(()) => format!("{}: {summary}{rejected}", spec.name),
            Err(e) => format!("{}: failed: {e} ({summary}){rejected}", spec.name),
        };
        transport.finish(ended.is_ok(), message);
        let context = RunContext {
            spec: Some(&spec),
            connection: Some(&connection),
            sink: Some(&sink),
            full,
        };
        let outcome = self
            .finish(&schedule, started, context, ended.clone())
            .await;
        if let Err(e) = &ended {
            tracing::warn!(sync = spec.name, connection = %connection_id, error = %e, "a sync run failed");
        }
        outcome
    }

    /// Writes how a run ended: on success the deletions of a full sync, the next run, the
    /// results and the webhooks that report them, in one unit of work; on failure the error
    /// (keeping the checkpoint) and its webhook.
    async fn finish(
        &self,
        schedule: &SyncScheduleRecord,
        started: DateTime<Utc>,
        context: RunContext<'_>,
        ended: Result<(), String>,
    ) -> EngineResult<()> {
        let RunContext {
            spec,
            connection,
            sink,
            full,
        } = context;
        let now = Utc::now();
        let frequency = spec
            .map(|s| frequency_of(schedule, s))
            .transpose()?
            .unwrap_or(Duration::from_secs(24 * 60 * 60));
        let every = chrono::Duration::from_std(frequency).expect("frequencies are at most 31 days");
        let webhook_settings = self.webhooks.settings_for(&schedule.environment_id).await?;
        let mut tx = self.store.begin().await?;
        let update = match ended {
            Ok(()) => {
                let mut results = sink.map(RunSink::results).unwrap_or_default();
                if let Some(spec) = spec.filter(|s| s.track_deletes && full)
                    && let Some(from) = schedule.deletes_from
                {
                    for model in spec.models {
                        let stored = model_key(model.name, &schedule.variant);
                        let deleted = tx
                            .delete_unseen_records(
                                &schedule.connection_row,
                                &stored,
                                from,
                                &record_ts(now),
                            )
                            .await?;
                        results
                            .entry(model.name.to_string())
                            .or_insert_with(|| json!({"added": 0, "updated": 0, "deleted": 0}))["deleted"] =
                            json!(deleted);
                    }
                }
                SyncScheduleRecord {
                    next_run_at: ts((started + every).max(now)),
                    full_run: false,
                    checkpoint: None,
                    deletes_from: None,
                    last_sync_date: Some(ts(started)),
                    last_full_at: if full {
                        Some(ts(started))
                    } else {
                        schedule.last_full_at.clone()
                    },
                    last_status: Some("SUCCESS".into()),
                    last_result: Some(Value::Object(results).to_string()),
                    last_error: None,
                    finished_at: Some(ts(now)),
                    ..schedule.clone()
                }
            }
            Err(message) => SyncScheduleRecord {
                next_run_at: ts(now + every),
                // The checkpoint its last stored page saved: the next run resumes there.
                checkpoint: sink
                    .and_then(RunSink::latest_checkpoint)
                    .unwrap_or_else(|| schedule.checkpoint.clone()),
                last_status: Some("ERROR".into()),
                last_error: Some(message),
                last_result: sink.map(|s| Value::Object(s.results()).to_string()),
                finished_at: Some(ts(now)),
                ..schedule.clone()
            },
        };
        let written = tx.finish_sync_run(schedule.runs, &update).await?;
        if written && let (Some(spec), Some(connection)) = (spec, connection) {
            let run = FinishedRun {
                schedule,
                started,
                spec,
                connection,
                update: &update,
            };
            enqueue_webhooks(&mut tx, &webhook_settings, run).await?;
        }
        tx.commit().await?;
        if !written {
            tracing::warn!(schedule = %schedule.id, run = schedule.runs, "a sync run ended after its lease; a later run's state stands");
        }
        Ok(())
    }

    async fn spec_of(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        name: &str,
    ) -> EngineResult<Option<(SyncSpec, ferry_provider::RunSync)>> {
        let Some(catalogue) = self.catalogue_of(environment, key).await? else {
            return Ok(None);
        };
        Ok(catalogue
            .syncs
            .iter()
            .find(|s| s.name == name)
            .map(|s| (*s, catalogue.run)))
    }

    async fn catalogue_of(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
    ) -> EngineResult<Option<&'static ferry_provider::SyncCatalogue>> {
        let integration = self
            .store
            .integration(environment.as_str(), key.as_str())
            .await?
            .ok_or_else(|| {
                EngineError::new(
                    ErrorCode::UnknownProviderConfig,
                    format!("no integration `{key}` in this environment"),
                )
            })?;
        Ok(crate::catalogue::entry(&integration.provider).and_then(|p| p.syncs))
    }

    /// The schedules a control request names: of one connection or all, of the named syncs
    /// (`[]` for every one). A name the provider lacks, or a variant not made, is an error
    /// that lists what exists.
    async fn targets(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: Option<&ConnectionId>,
        syncs: &[SyncRef],
    ) -> EngineResult<Vec<SyncScheduleRecord>> {
        self.schedule_new_connections().await?;
        let catalogue = self.catalogue_of(environment, key).await?;
        let known: Vec<&str> = catalogue
            .map(|c| c.syncs.iter().map(|s| s.name).collect())
            .unwrap_or_default();
        for sync in syncs {
            if !known.contains(&sync.name.as_str()) {
                return Err(EngineError::new(
                    ErrorCode::UnknownSync,
                    format!(
                        "`{key}` has no sync named `{}`; its syncs: {}",
                        sync.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        if let Some(connection) = connection
            && self
                .store
                .connection(environment.as_str(), key.as_str(), connection.as_str())
                .await?
                .is_none()
        {
            return Err(EngineError::new(
                ErrorCode::UnknownConnection,
                format!("no connection `{connection}` for `{key}`"),
            ));
        }
        let all = self
            .store
            .sync_schedules(
                environment.as_str(),
                key.as_str(),
                connection.map(|c| c.as_str()),
            )
            .await?;
        let mut chosen = Vec::new();
        for schedule in all {
            if syncs.is_empty()
                || syncs
                    .iter()
                    .any(|s| s.name == schedule.sync_name && s.variant == schedule.variant)
            {
                chosen.push(schedule);
            }
        }
        for sync in syncs {
            if connection.is_some()
                && !chosen
                    .iter()
                    .any(|s| s.sync_name == sync.name && s.variant == sync.variant)
            {
                return Err(EngineError::new(
                    ErrorCode::UnknownSync,
                    format!(
                        "`{}` has no variant `{}` on this connection",
                        sync.name, sync.variant
                    ),
                ));
            }
        }
        Ok(chosen)
    }

    /// `POST /sync/trigger`: the named schedules run now; `reset` makes the run full (last
    /// sync date and checkpoint forgotten), `empty_cache` deletes their records first.
    pub async fn trigger(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: Option<&ConnectionId>,
        syncs: &[SyncRef],
        reset: bool,
        empty_cache: bool,
    ) -> EngineResult<()> {
        let targets = self.targets(environment, key, connection, syncs).await?;
        let mut specs = HashMap::new();
        for schedule in &targets {
            if let Some((spec, _)) = self.spec_of(environment, key, &schedule.sync_name).await? {
                specs.insert(schedule.sync_name.clone(), spec);
            }
        }
        let now = ts(Utc::now());
        let mut tx = self.store.begin().await?;
        for schedule in targets {
            if empty_cache && let Some(spec) = specs.get(&schedule.sync_name) {
                for model in spec.models {
                    tx.empty_records(
                        &schedule.connection_row,
                        &model_key(model.name, &schedule.variant),
                    )
                    .await?;
                }
            }
            let reset = reset || empty_cache;
            let update = SyncScheduleRecord {
                next_run_at: now.clone(),
                full_run: schedule.full_run || reset,
                checkpoint: if reset {
                    None
                } else {
                    schedule.checkpoint.clone()
                },
                last_sync_date: if reset {
                    None
                } else {
                    schedule.last_sync_date.clone()
                },
                ..schedule
            };
            tx.control_sync_schedule(&update).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /sync/pause` and `POST /sync/start` (which also runs the syncs now).
    pub async fn set_paused(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: Option<&ConnectionId>,
        syncs: &[SyncRef],
        paused: bool,
    ) -> EngineResult<()> {
        let targets = self.targets(environment, key, connection, syncs).await?;
        let now = ts(Utc::now());
        let mut tx = self.store.begin().await?;
        for schedule in targets {
            let update = SyncScheduleRecord {
                paused,
                next_run_at: if paused {
                    schedule.next_run_at.clone()
                } else {
                    now.clone()
                },
                ..schedule
            };
            tx.control_sync_schedule(&update).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `PUT /sync/update-connection-frequency`: the connection's own frequency for one sync,
    /// or back to the sync's with `None`. Returns the frequency that now holds.
    pub async fn set_frequency(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        sync: &SyncRef,
        frequency: Option<&str>,
    ) -> EngineResult<String> {
        if let Some(text) = frequency {
            parse_frequency(text)
                .map_err(|e| EngineError::new(ErrorCode::InvalidBody, format!("frequency: {e}")))?;
        }
        let targets = self
            .targets(
                environment,
                key,
                Some(connection),
                std::slice::from_ref(sync),
            )
            .await?;
        let Some((spec, _)) = self.spec_of(environment, key, &sync.name).await? else {
            return Err(EngineError::new(
                ErrorCode::UnknownSync,
                format!("no sync `{}`", sync.name),
            ));
        };
        let mut tx = self.store.begin().await?;
        for schedule in targets {
            let update = SyncScheduleRecord {
                frequency: frequency.map(str::to_string),
                ..schedule
            };
            tx.control_sync_schedule(&update).await?;
        }
        tx.commit().await?;
        Ok(frequency.unwrap_or(spec.frequency).to_string())
    }

    /// `POST /sync/{name}/variant/{variant}`: a further schedule of the sync on a connection,
    /// whose records are kept apart (`Model::variant`).
    pub async fn add_variant(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        name: &str,
        variant: &str,
    ) -> EngineResult<()> {
        let base = SyncRef {
            name: name.to_string(),
            variant: BASE_VARIANT.to_string(),
        };
        let targets = self
            .targets(
                environment,
                key,
                Some(connection),
                std::slice::from_ref(&base),
            )
            .await?;
        let Some((spec, _)) = self.spec_of(environment, key, name).await? else {
            return Err(EngineError::new(
                ErrorCode::UnknownSync,
                format!("no sync `{name}`"),
            ));
        };
        let mut tx = self.store.begin().await?;
        for base in targets {
            let schedule = new_schedule(
                &base.environment_id,
                &base.connection_row,
                &base.integration_key,
                &base.connection_id,
                &spec,
                variant,
            );
            tx.ensure_sync_schedule(&schedule).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `DELETE /sync/{name}/variant/{variant}`: the variant's schedule and its records go.
    pub async fn remove_variant(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        name: &str,
        variant: &str,
    ) -> EngineResult<()> {
        let sync = SyncRef {
            name: name.to_string(),
            variant: variant.to_string(),
        };
        let targets = self
            .targets(
                environment,
                key,
                Some(connection),
                std::slice::from_ref(&sync),
            )
            .await?;
        let spec = self.spec_of(environment, key, name).await?;
        let mut tx = self.store.begin().await?;
        for schedule in targets {
            if let Some((spec, _)) = &spec {
                for model in spec.models {
                    tx.empty_records(&schedule.connection_row, &model_key(model.name, variant))
                        .await?;
                }
            }
            tx.delete_sync_schedule(&schedule.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `GET /sync/status`.
    pub async fn status(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: Option<&ConnectionId>,
        syncs: &[SyncRef],
    ) -> EngineResult<Vec<SyncStatus>> {
        let targets = self.targets(environment, key, connection, syncs).await?;
        let now = ts(Utc::now());
        let mut counts: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        let mut out = Vec::new();
        for schedule in targets {
            if !counts.contains_key(&schedule.connection_row) {
                let found = self.store.record_counts(&schedule.connection_row).await?;
                counts.insert(schedule.connection_row.clone(), found);
            }
            let spec = self.spec_of(environment, key, &schedule.sync_name).await?;
            let models: Vec<String> = spec
                .map(|(s, _)| {
                    s.models
                        .iter()
                        .map(|m| model_key(m.name, &schedule.variant))
                        .collect()
                })
                .unwrap_or_default();
            let record_count = counts[&schedule.connection_row]
                .iter()
                .filter(|(model, _)| models.contains(model))
                .cloned()
                .collect();
            let running = schedule
                .running_until
                .as_deref()
                .is_some_and(|until| until > now.as_str());
            let status = if running {
                "RUNNING"
            } else if schedule.paused {
                "PAUSED"
            } else {
                match schedule.last_status.as_deref() {
                    Some("SUCCESS") => "SUCCESS",
                    Some(_) => "ERROR",
                    None => "STOPPED",
                }
            };
            let frequency = schedule
                .frequency
                .clone()
                .or_else(|| spec.map(|(s, _)| s.frequency.to_string()))
                .unwrap_or_default();
            out.push(SyncStatus {
                id: schedule.id.clone(),
                connection_id: schedule.connection_id.clone(),
                name: schedule.sync_name.clone(),
                variant: schedule.variant.clone(),
                status,
                kind: if schedule.full_run || spec.is_some_and(|(s, _)| !s.incremental) {
                    "FULL"
                } else {
                    "INCREMENTAL"
                },
                finished_at: schedule.finished_at.clone(),
                next_scheduled_at: (!schedule.paused).then(|| schedule.next_run_at.clone()),
                frequency,
                latest_result: schedule
                    .last_result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or(Value::Null),
                latest_execution_status: schedule.last_status.clone(),
                latest_error: schedule.last_error.clone(),
                record_count,
                checkpoint: schedule
                    .checkpoint
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or(Value::Null),
            });
        }
        Ok(out)
    }

    /// `PATCH /records/prune`: empties the data of a connection's records of one model up to
    /// a cursor (`GET /records` gave it), keeping their metadata. Returns how many, and
    /// whether more are left before the cursor.
    pub async fn prune_records(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        request: &PruneRequest,
    ) -> EngineResult<(u64, bool)> {
        let Some(found) = self
            .store
            .connection(environment.as_str(), key.as_str(), connection.as_str())
            .await?
        else {
            return Err(EngineError::new(
                ErrorCode::UnknownConnection,
                format!("no connection `{connection}` for `{key}`"),
            ));
        };
        let (at, id) = decode_cursor(&request.until_cursor)
            .map_err(|e| EngineError::new(ErrorCode::InvalidBody, format!("until_cursor: {e}")))?;
        let model = model_key(
            &request.model,
            request.variant.as_deref().unwrap_or(BASE_VARIANT),
        );
        let mut tx = self.store.begin().await?;
        let pruned = tx
            .prune_records(
                &found.id,
                &model,
                (&at, &id),
                &record_ts(Utc::now()),
                request.limit,
            )
            .await?;
        tx.commit().await?;
        Ok(pruned)
    }

    /// `GET /records`: a connection's records of one model, oldest change first.
    pub async fn records(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        request: &RecordsRequest,
    ) -> EngineResult<RecordsPage> {
        let Some(found) = self
            .store
            .connection(environment.as_str(), key.as_str(), connection.as_str())
            .await?
        else {
            return Err(EngineError::new(
                ErrorCode::UnknownConnection,
                format!("no connection `{connection}` for `{key}`"),
            ));
        };
        let after = request
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()
            .map_err(|e| EngineError::new(ErrorCode::InvalidQueryParams, format!("cursor: {e}")))?;
        let query = RecordQuery {
            connection_row: found.id,
            model: model_key(
                &request.model,
                request.variant.as_deref().unwrap_or(BASE_VARIANT),
            ),
            modified_after: request.modified_after.map(record_ts),
            after,
            actions: request.actions.clone(),
            ids: request.ids.clone(),
            limit: request.limit,
        };
        let rows = self.store.records(&query).await?;
        let next_cursor = (rows.len() as i64 == request.limit && request.limit > 0)
            .then(|| {
                rows.last()
                    .map(|r| encode_cursor(&r.updated_at, &r.external_id))
            })
            .flatten();
        let records = rows.into_iter().map(stored_record).collect();
        Ok(RecordsPage {
            records,
            next_cursor,
        })
    }
}

/// What a run's end needs besides the schedule: absent when the run never started.
#[derive(Default)]
struct RunContext<'a> {
    spec: Option<&'a SyncSpec>,
    connection: Option<&'a crate::storage::ConnectionRecord>,
    sink: Option<&'a RunSink>,
    /// The run read everything (so, ending well, it may delete).
    full: bool,
}

/// How often an incremental sync still reads everything, to find what was deleted.
pub const FULL_RUN_EVERY: chrono::Duration = chrono::Duration::hours(24);

/// Whether a run reads everything: every run of a sync that is not incremental; of an
/// incremental one the first, one after a reset, and one when the last full run is a day old.
fn run_is_full(schedule: &SyncScheduleRecord, spec: &SyncSpec, started: DateTime<Utc>) -> bool {
    let full_is_old = schedule
        .last_full_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| started - t.with_timezone(&Utc) >= FULL_RUN_EVERY);
    !spec.incremental || schedule.full_run || schedule.last_sync_date.is_none() || full_is_old
}

/// A run that ended, as its webhooks need it.
struct FinishedRun<'a> {
    schedule: &'a SyncScheduleRecord,
    started: DateTime<Utc>,
    spec: &'a SyncSpec,
    connection: &'a crate::storage::ConnectionRecord,
    /// The schedule as the run left it.
    update: &'a SyncScheduleRecord,
}

/// The sync webhooks of a finished run: one per model on success (when something changed,
/// or always if the settings say so), one on failure.
async fn enqueue_webhooks(
    tx: &mut Box<dyn crate::storage::StorageTx>,
    settings: &crate::webhooks::WebhookSettings,
    run: FinishedRun<'_>,
) -> EngineResult<()> {
    let FinishedRun {
        schedule,
        started,
        spec,
        connection,
        update,
    } = run;
    let base = json!({
        "from": "nango",
        "type": "sync",
        "connectionId": schedule.connection_id,
        "providerConfigKey": schedule.integration_key,
        "syncName": schedule.sync_name,
        "syncVariant": schedule.variant,
        "syncType": if schedule.full_run { "INITIAL" } else { "INCREMENTAL" },
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body
    };
    let results: Value = update
        .last_result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let mut bodies = Vec::new();
    if update.last_status.as_deref() == Some("SUCCESS") {
        for model in spec.models {
            let counts = results
                .get(model.name)
                .cloned()
                .unwrap_or_else(|| json!({"added": 0, "updated": 0, "deleted": 0}));
            let changed = ["added", "updated", "deleted"]
                .iter()
                .any(|k| counts[k].as_u64().unwrap_or(0) > 0);
            bodies.push((
                Trigger::SyncSuccess { changed },
                with(json!({
                    "model": model_key(model.name, &schedule.variant),
                    "success": true,
                    "modifiedAfter": ts(started),
                    "queryTimeStamp": ts(started),
                    "responseResults": counts,
                })),
            ));
        }
    } else {
        bodies.push((
            Trigger::SyncError,
            with(json!({
                "model": spec.models.first().map(|m| model_key(m.name, &schedule.variant)),
                "success": false,
                "error": {"type": "sync_error", "description": update.last_error},
                "startedAt": ts(started),
                "failedAt": update.finished_at,
            })),
        ));
    }
    for (trigger, body) in bodies {
        let event = Event {
            environment: &schedule.environment_id,
            integration_key: &schedule.integration_key,
            connection_id: &schedule.connection_id,
            connection_override: connection.webhook_url_override.as_deref(),
            trigger,
            body: &body,
        };
        Webhooks::enqueue(tx, settings, event).await?;
    }
    Ok(())
}

/// What `PATCH /records/prune` asks.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    pub model: String,
    pub variant: Option<String>,
    pub until_cursor: String,
    pub limit: i64,
}

/// A new schedule: due now, full, paused unless the sync starts by itself.
fn new_schedule(
    environment: &str,
    connection_row: &str,
    key: &str,
    connection: &str,
    spec: &SyncSpec,
    variant: &str,
) -> SyncScheduleRecord {
    let now = ts(Utc::now());
    SyncScheduleRecord {
        id: uuid::Uuid::new_v4().to_string(),
        environment_id: environment.to_string(),
        connection_row: connection_row.to_string(),
        integration_key: key.to_string(),
        connection_id: connection.to_string(),
        sync_name: spec.name.to_string(),
        variant: variant.to_string(),
        paused: !spec.auto_start,
        next_run_at: now.clone(),
        full_run: true,
        created_at: now,
        ..SyncScheduleRecord::default()
    }
}

/// The records' model name: `Model`, or `Model::variant` for a variant.
pub fn model_key(model: &str, variant: &str) -> String {
    if variant == BASE_VARIANT {
        model.to_string()
    } else {
        format!("{model}::{variant}")
    }
}

fn frequency_of(schedule: &SyncScheduleRecord, spec: &SyncSpec) -> EngineResult<Duration> {
    let text = schedule.frequency.as_deref().unwrap_or(spec.frequency);
    parse_frequency(text)
        .map_err(|e| EngineError::internal(format!("the frequency of sync `{}`", spec.name), e))
}

/// Nango's frequency text: `every hour|day|week|month|half hour|quarter hour|half day`, or
/// `every <n> <unit>` (`every 30 minutes`, `every 2h`, `every 1d`); from 30 seconds to 31 days.
pub fn parse_frequency(text: &str) -> Result<Duration, String> {
    let wrong =
        || format!("`{text}` is not a frequency such as `every hour` or `every 30 minutes`");
    let rest = text.trim().strip_prefix("every ").ok_or_else(wrong)?.trim();
    let named = match rest {
        "minute" => Some(60),
        "quarter hour" => Some(15 * 60),
        "half hour" => Some(30 * 60),
        "hour" => Some(3600),
        "half day" => Some(12 * 3600),
        "day" => Some(86_400),
        "week" => Some(7 * 86_400),
        "month" => Some(30 * 86_400),
        _ => None,
    };
    let seconds = match named {
        Some(seconds) => seconds,
        None => {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            let count: u64 = rest[..digits].parse().map_err(|_| wrong())?;
            let unit = rest[digits..].trim();
            let size = match unit {
                "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 7 * 86_400,
                _ => return Err(wrong()),
            };
            count.checked_mul(size).ok_or_else(wrong)?
        }
    };
    if !(30..=31 * 86_400).contains(&seconds) {
        return Err(format!("`{text}` is outside 30 seconds to 31 days"));
    }
    Ok(Duration::from_secs(seconds))
}

/// Record times: microseconds, fixed width, so they sort and seldom tie.
fn record_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn encode_cursor(updated_at: &str, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{updated_at}||{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(String, String), String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| "not a cursor this server gave".to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not a cursor this server gave".to_string())?;
    let (at, id) = text
        .split_once("||")
        .ok_or_else(|| "not a cursor this server gave".to_string())?;
    Ok((at.to_string(), id.to_string()))
}

fn stored_record(row: RecordRow) -> StoredRecord {
    StoredRecord {
        cursor: encode_cursor(&row.updated_at, &row.external_id),
        id: row.external_id,
        data: row.data,
        first_seen_at: row.first_seen_at,
        last_modified_at: row.updated_at,
        last_action: row.last_action,
        deleted_at: row.deleted_at,
        pruned_at: row.pruned_at,
    }
}

/// Where one run's pages go: validated, stored with their checkpoint, counted.
struct RunSink {
    store: Store,
    schedule_id: String,
    run: i64,
    connection_row: String,
    sync_name: String,
    variant: String,
    validators: HashMap<&'static str, jsonschema::Validator>,
    counts: Mutex<BTreeMap<String, RecordCounts>>,
    rejected: Mutex<Vec<String>>,
    /// The checkpoint stored with the last page; `None` until a page is stored.
    checkpoint: Mutex<Option<Option<String>>>,
}

/// Rejected records named in a run's log, at most.
const REJECTIONS_SHOWN: usize = 20;

impl RunSink {
    fn new(store: Store, schedule: &SyncScheduleRecord, spec: &SyncSpec) -> RunSink {
        let validators = spec
            .models
            .iter()
            .filter_map(|m| match jsonschema::validator_for(&(m.schema)()) {
                Ok(v) => Some((m.name, v)),
                Err(e) => {
                    tracing::error!(model = m.name, error = %e, "a model's schema does not compile");
                    None
                }
            })
            .collect();
        RunSink {
            store,
            schedule_id: schedule.id.clone(),
            run: schedule.runs,
            connection_row: schedule.connection_row.clone(),
            sync_name: schedule.sync_name.clone(),
            variant: schedule.variant.clone(),
            validators,
            counts: Mutex::default(),
            rejected: Mutex::default(),
            checkpoint: Mutex::default(),
        }
    }

    fn latest_checkpoint(&self) -> Option<Option<String>> {
        self.checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn summary(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.is_empty() {
            return "no records".into();
        }
        counts
            .iter()
            .map(|(model, c)| {
                format!(
                    "{model}: {} added, {} updated, {} unchanged",
                    c.added, c.updated, c.unchanged
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn rejected(&self) -> String {
        let rejected = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        if rejected.is_empty() {
            return String::new();
        }
        let shown: Vec<&str> = rejected
            .iter()
            .take(REJECTIONS_SHOWN)
            .map(String::as_str)
            .collect();
        format!(
            "; {} records rejected: {}",
            rejected.len(),
            shown.join("; ")
        )
    }

    fn results(&self) -> serde_json::Map<String, Value> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|(model, c)| {
                (
                    model.clone(),
                    json!({"added": c.added, "updated": c.updated, "deleted": 0}),
                )
            })
            .collect()
    }

    fn reject(&self, model: &str, id: &str, reason: String) {
        tracing::warn!(model, id, reason = %reason, "a sync record was rejected");
        self.rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{model} `{id}`: {reason}"));
    }

    /// The batch's records that may be stored, each once.
    fn checked(&self, model: &str, records: Vec<Value>) -> Result<Vec<RecordInput>, SyncError> {
        let validator = self
            .validators
            .get(model)
            .ok_or_else(|| SyncError::Invalid(format!("the sync declares no model `{model}`")))?;
        let mut seen = HashSet::new();
        let mut inputs = Vec::with_capacity(records.len());
        for record in records {
            let id = match record.get("id") {
                Some(Value::String(id)) if !id.is_empty() && id.len() <= 255 => id.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => {
                    self.reject(
                        model,
                        &other.to_string(),
                        "`id` must be a string of 1 to 255 characters or a number".into(),
                    );
                    continue;
                }
                None => {
                    self.reject(model, "?", "the record has no `id`".into());
                    continue;
                }
            };
            if let Some(error) = validator.iter_errors(&record).next() {
                self.reject(
                    model,
                    &id,
                    format!("{error} at `{}`", error.instance_path()),
                );
                continue;
            }
            if !seen.insert(id.clone()) {
                self.reject(
                    model,
                    &id,
                    "the same id came twice in one batch; the first is kept".into(),
                );
                continue;
            }
            let data = record.to_string();
            let data_hash = hex::encode(sha2::Sha256::digest(data.as_bytes()));
            inputs.push(RecordInput {
                external_id: id,
                data,
                data_hash,
            });
        }
        Ok(inputs)
    }

    async fn store_batch(
        &self,
        model: &str,
        records: Vec<Value>,
        checkpoint: Option<Value>,
    ) -> Result<(), SyncError> {
        let inputs = self.checked(model, records)?;
        let store_error = |e: crate::storage::StorageError| SyncError::Store(e.to_string());
        let now = Utc::now();
        let lease_until = now + chrono::Duration::from_std(LEASE).expect("a short lease");
        let checkpoint = checkpoint.map(|c| c.to_string());
        let mut tx = self.store.begin().await.map_err(store_error)?;
        let counts = tx
            .upsert_records(
                &self.connection_row,
                &model_key(model, &self.variant),
                &self.sync_name,
                self.run,
                &record_ts(now),
                &inputs,
            )
            .await
            .map_err(store_error)?;
        let kept = tx
            .keep_sync_run(
                &self.schedule_id,
                self.run,
                &ts(lease_until),
                checkpoint.as_deref(),
            )
            .await
            .map_err(store_error)?;
        if !kept {
            // Dropping the unit of work rolls the batch back.
            return Err(SyncError::Store(
                "the run's lease ran out and another run took the schedule; this one stops".into(),
            ));
        }
        tx.commit().await.map_err(store_error)?;
        *self.checkpoint.lock().unwrap_or_else(|e| e.into_inner()) = Some(checkpoint);
        let mut all = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let total = all.entry(model.to_string()).or_default();
        total.added += counts.added;
        total.updated += counts.updated;
        total.unchanged += counts.unchanged;
        Ok(())
    }
}

impl SyncSink for RunSink {
    fn save<'a>(
        &'a self,
        model: &'a str,
        records: Vec<Value>,
        checkpoint: Option<Value>,
    ) -> BoxFuture<'a, Result<(), SyncError>> {
        Box::pin(self.store_batch(model, records, checkpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_read_as_nango_writes_them() {
        assert_eq!(parse_frequency("every hour"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_frequency("every day"),
            Ok(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_frequency("every 30 minutes"),
            Ok(Duration::from_secs(1800))
        );
        assert_eq!(parse_frequency("every 2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(
            parse_frequency("every half hour"),
            Ok(Duration::from_secs(1800))
        );
        assert!(parse_frequency("every 10 seconds").is_err());
        assert!(parse_frequency("every 40 days").is_err());
        assert!(parse_frequency("hourly").is_err());
        assert!(parse_frequency("every 5 parsecs").is_err());
    }

    #[test]
    fn cursors_come_back_as_they_went() {
        let cursor = encode_cursor("2026-11-30T05:00:00.000001Z", "abc||def");
        assert_eq!(
            decode_cursor(&cursor),
            Ok(("2026-11-30T05:00:00.000001Z".into(), "abc||def".into()))
        );
        assert!(decode_cursor("not base64!").is_err());
    }
}
