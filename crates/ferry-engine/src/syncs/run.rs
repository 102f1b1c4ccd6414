//! Running a schedule: taking it under a lease, giving the sync's code a sink that validates
//! each page against its model's JSON Schema and stores it in one unit of work with the
//! checkpoint that resumes after it (renewing the lease), and ending the run: a full run that
//! ended well marks deleted what no run has seen since it began, a failed run deletes nothing
//! and keeps its checkpoint, and the run's webhooks go out in the same unit of work.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_provider::{BoxFuture, SyncCall, SyncError, SyncSink, SyncSpec};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::records::record_ts;
use super::{Syncs, frequency_of, model_key};
use crate::error::EngineResult;
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::logs::OperationKind;
use crate::storage::{RecordCounts, RecordInput, Store, SyncScheduleRecord};
use crate::time::ts;
use crate::webhooks::{Event, Trigger, Webhooks};

/// The longest a run may take (Nango's limit).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a run holds its schedule without saving a page: a live run renews it with every
/// page, so only a dead process's run outlives it.
const LEASE: Duration = Duration::from_secs(10 * 60);

impl Syncs {
    /// Runs the schedule due first, if any: one unit of a worker, which tests call directly.
    /// Returns whether there was one.
    pub async fn run_next(&self) -> EngineResult<bool> {
        self.run_next_unless(std::future::pending()).await
    }

    /// [`Syncs::run_next`], cut short when `stop` completes (the process is stopping): what
    /// the run stored stays, and its lease is given up so that a process takes the schedule
    /// again at once and resumes it from its checkpoint, instead of after the lease.
    pub async fn run_next_unless(&self, stop: impl Future<Output = ()>) -> EngineResult<bool> {
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
        let (id, run) = (schedule.id.clone(), schedule.runs);
        tokio::select! {
            biased;
            () = stop => {
                let mut tx = self.store.begin().await?;
                tx.release_sync_run(&id, run).await?;
                tx.commit().await?;
            }
            ran = self.run(schedule, started) => ran?,
        }
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
                // A full run's generation goes on in the run that resumes it; an incremental
                // run's must not: the next full run would count as seen what it did not see.
                deletes_from: if full { schedule.deletes_from } else { None },
                last_status: Some("ERROR".into()),
                last_error: Some(message),
                last_result: sink.map(|s| Value::Object(s.results()).to_string()),
                finished_at: Some(ts(now)),
                ..schedule.clone()
            },
        };
        let written = tx
            .finish_sync_run(schedule.runs, &schedule.next_run_at, &update)
            .await?;
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
