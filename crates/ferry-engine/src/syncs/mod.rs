//! Syncs: a schedule per (connection, sync, variant) in the database, runs taken by workers
//! of any process under a lease (so one schedule never runs twice at once, and a run whose
//! process died is taken again once its lease is over), and the change-tracked records the
//! runs keep, read through `GET /records`.
//!
//! This module owns the schedules and the control routes' work; `run` runs them and stores
//! what they read, and `records` reads the records back.

mod records;
mod run;
pub(crate) mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use ferry_provider::SyncSpec;
use serde_json::Value;

use crate::client::ProviderClient;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::storage::{Store, SyncControl, SyncScheduleRecord};
use crate::time::ts;
use crate::webhooks::Webhooks;

pub use self::records::{
    MAX_RECORDS_PAGE, PruneRequest, RecordsPage, RecordsRequest, StoredRecord,
};
pub use self::run::{FULL_RUN_EVERY, RUN_TIMEOUT};
pub use self::schedule::BASE_VARIANT;
use self::schedule::new_schedule;

/// A sync named by a request, with its variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRef {
    pub name: String,
    pub variant: String,
}

/// The schedules a control request names, with the integration's syncs.
struct Targets {
    catalogue: Option<&'static ferry_provider::SyncCatalogue>,
    schedules: Vec<SyncScheduleRecord>,
}

impl Targets {
    fn spec(&self, name: &str) -> Option<&'static SyncSpec> {
        self.catalogue?.syncs.iter().find(|s| s.name == name)
    }
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

    /// Gives every connection whose provider has syncs a schedule for each it lacks. A
    /// connection gets its schedules when it is written; this catches up the connections an
    /// older Ferry made, once at start.
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
    /// (`[]` for every one), with the integration's syncs. A name the provider lacks, or a
    /// variant not made, is an error that lists what exists.
    async fn targets(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: Option<&ConnectionId>,
        syncs: &[SyncRef],
    ) -> EngineResult<Targets> {
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
        Ok(Targets {
            catalogue,
            schedules: chosen,
        })
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
        let now = ts(Utc::now());
        let mut tx = self.store.begin().await?;
        for schedule in &targets.schedules {
            if empty_cache && let Some(spec) = targets.spec(&schedule.sync_name) {
                for model in spec.models {
                    tx.empty_records(
                        &schedule.connection_row,
                        &model_key(model.name, &schedule.variant),
                    )
                    .await?;
                }
            }
            let control = SyncControl::Trigger {
                now: &now,
                reset: reset || empty_cache,
            };
            tx.control_sync_schedule(&schedule.id, control).await?;
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
        let control = if paused {
            SyncControl::Pause
        } else {
            SyncControl::Start { now: &now }
        };
        for schedule in &targets.schedules {
            tx.control_sync_schedule(&schedule.id, control).await?;
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
        let Some(spec) = targets.spec(&sync.name) else {
            return Err(EngineError::new(
                ErrorCode::UnknownSync,
                format!("no sync `{}`", sync.name),
            ));
        };
        let mut tx = self.store.begin().await?;
        for schedule in &targets.schedules {
            tx.control_sync_schedule(&schedule.id, SyncControl::Frequency(frequency))
                .await?;
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
        let Some(spec) = targets.spec(name) else {
            return Err(EngineError::new(
                ErrorCode::UnknownSync,
                format!("no sync `{name}`"),
            ));
        };
        let mut tx = self.store.begin().await?;
        for base in targets.schedules {
            let schedule = new_schedule(
                &base.environment_id,
                &base.connection_row,
                &base.integration_key,
                &base.connection_id,
                spec,
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
        let spec = targets.spec(name);
        let mut tx = self.store.begin().await?;
        for schedule in targets.schedules {
            if let Some(spec) = spec {
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
        for schedule in &targets.schedules {
            if !counts.contains_key(&schedule.connection_row) {
                let found = self.store.record_counts(&schedule.connection_row).await?;
                counts.insert(schedule.connection_row.clone(), found);
            }
            let spec = targets.spec(&schedule.sync_name);
            let models: Vec<String> = spec
                .map(|s| {
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
                .or_else(|| spec.map(|s| s.frequency.to_string()))
                .unwrap_or_default();
            out.push(SyncStatus {
                id: schedule.id.clone(),
                connection_id: schedule.connection_id.clone(),
                name: schedule.sync_name.clone(),
                variant: schedule.variant.clone(),
                status,
                kind: if schedule.full_run || spec.is_some_and(|s| !s.incremental) {
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
}
