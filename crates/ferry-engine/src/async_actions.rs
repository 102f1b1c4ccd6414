//! Actions triggered with `X-Async: true`: queued in the database so none is lost when a
//! process dies, run by workers of any process (one run at a time, each leased), retried when
//! the failure may pass, and kept with their result for `GET /action/:id`.
//!
//! A run is at least once: a process that dies mid-run leaves the lease to run out, and the
//! run is taken again (as long as its retries allow).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::actions::Actions;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::settings::Settings;
use crate::storage::{AsyncActionRecord, Store};
use crate::time::ts;
use crate::webhooks::{Event, Trigger, Webhooks};

/// The longest a run may take; Nango's limit for an action is the same.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long a taken run is held: past the timeout, so only a dead process's run is retaken.
const LEASE: Duration = Duration::from_secs(16 * 60);
/// The most retries `X-Max-Retries` may ask for.
pub const MAX_RETRIES: u8 = 5;

/// What a poll of a run finds.
#[derive(Debug)]
pub enum AsyncOutcome {
    /// Queued or running.
    Waiting,
    Done(Value),
    Failed(EngineError),
}

#[derive(Clone)]
pub struct AsyncActions {
    store: Store,
    actions: Actions,
    settings: Arc<Settings>,
    webhooks: Webhooks,
    queued: Arc<tokio::sync::Notify>,
}

impl AsyncActions {
    pub(crate) fn new(
        store: Store,
        actions: Actions,
        settings: Arc<Settings>,
        webhooks: Webhooks,
    ) -> AsyncActions {
        AsyncActions {
            store,
            actions,
            settings,
            webhooks,
            queued: Arc::default(),
        }
    }

    /// Queues action `name` on a connection and returns the run's id. The action and the
    /// connection's integration are checked now, so a typo fails the trigger, not the run.
    pub async fn enqueue(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        name: &str,
        input: Value,
        max_retries: u8,
    ) -> EngineResult<String> {
        let actions = self.actions.of_integration(environment, key).await?;
        if !actions.iter().any(|a| a.name == name) {
            return Err(EngineError::new(
                ErrorCode::UnknownAction,
                format!(
                    "`{}` has no action named `{name}`; GET /scripts/config lists the actions",
                    key.as_str()
                ),
            ));
        }
        let now = ts(Utc::now());
        let run = AsyncActionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            environment_id: environment.as_str().to_string(),
            integration_key: key.as_str().to_string(),
            connection_id: connection.as_str().to_string(),
            action_name: name.to_string(),
            input: input.to_string(),
            status: "pending".into(),
            attempts: 0,
            max_retries: i64::from(max_retries.min(MAX_RETRIES)),
            result: None,
            run_after: now.clone(),
            created_at: now,
            ended_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_async_action(&run).await?;
        tx.commit().await?;
        self.queued.notify_one();
        Ok(run.id)
    }

    /// Where run `id` of the environment stands; `None` when there is no such run.
    pub async fn outcome(
        &self,
        environment: &EnvironmentId,
        id: &str,
    ) -> EngineResult<Option<AsyncOutcome>> {
        let Some(run) = self.store.async_action(environment.as_str(), id).await? else {
            return Ok(None);
        };
        let result = || -> EngineResult<Value> {
            let text = run.result.as_deref().unwrap_or("null");
            serde_json::from_str(text)
                .map_err(|e| EngineError::internal("reading an async action's stored result", e))
        };
        Ok(Some(match run.status.as_str() {
            "success" => AsyncOutcome::Done(result()?),
            "failed" => AsyncOutcome::Failed(stored_error(&result()?)),
            _ => AsyncOutcome::Waiting,
        }))
    }

    /// Resolves when a run was queued in this process (workers also poll, for other
    /// processes' runs and retries that come due).
    pub async fn queued(&self) {
        self.queued.notified().await
    }

    /// Runs the run due first, if any: one unit of a worker, which tests call directly.
    /// Returns whether there was one.
    pub async fn run_next(&self) -> EngineResult<bool> {
        self.run_next_unless(std::future::pending()).await
    }

    /// As [`Self::run_next`], but when `stop` resolves first the run is put back, due now,
    /// without counting the attempt, for this or another process to take.
    pub async fn run_next_unless(&self, stop: impl Future<Output = ()>) -> EngineResult<bool> {
        let now = Utc::now();
        let lease_until = now + chrono::Duration::from_std(LEASE).expect("a short lease");
        let mut tx = self.store.begin().await?;
        let claimed = tx.claim_async_action(&ts(now), &ts(lease_until)).await?;
        tx.commit().await?;
        let Some(run) = claimed else {
            return Ok(false);
        };
        let attempt = run.attempts + 1;
        let update = if run.status == "running" && attempt > run.max_retries + 1 {
            // Its process died mid-run and the retries are used up.
            Some(failed(
                &run,
                attempt,
                &EngineError::new(
                    ErrorCode::ActionInterrupted,
                    format!(
                        "the action stopped with the process running it, {} times",
                        run.attempts
                    ),
                ),
            ))
        } else {
            tokio::select! {
                biased;
                () = stop => None,
                ended = self.run_once(&run) => Some(self.after(&run, attempt, ended)),
            }
        };
        let update = update.unwrap_or_else(|| AsyncActionRecord {
            status: "pending".into(),
            attempts: run.attempts,
            run_after: ts(Utc::now()),
            ..run.clone()
        });
        // The `async_action` webhook goes out with the run's end, in the same unit of work;
        // what it needs is read first.
        let webhook = if matches!(update.status.as_str(), "success" | "failed") {
            let override_url = self
                .store
                .connection(
                    &run.environment_id,
                    &run.integration_key,
                    &run.connection_id,
                )
                .await?
                .and_then(|c| c.webhook_url_override);
            let settings = self.webhooks.settings_for(&run.environment_id).await?;
            Some((override_url, settings))
        } else {
            None
        };
        let mut tx = self.store.begin().await?;
        let written = tx.finish_async_action(&run.id, attempt, &update).await?;
        if written && let Some((override_url, settings)) = webhook {
            let body = json!({
                "from": "nango",
                "type": "async_action",
                "connectionId": run.connection_id,
                "providerConfigKey": run.integration_key,
                "payload": {"id": run.id, "statusUrl": format!("/action/{}", run.id)},
            });
            let event = Event {
                environment: &run.environment_id,
                integration_key: &run.integration_key,
                connection_id: &run.connection_id,
                connection_override: override_url.as_deref(),
                trigger: Trigger::AsyncAction,
                body: &body,
            };
            Webhooks::enqueue(&mut tx, &settings, event).await?;
        }
        tx.commit().await?;
        if !written {
            tracing::warn!(run = %run.id, attempt, "an async action's attempt ended after its lease; a later attempt's result stands");
        }
        Ok(true)
    }

    async fn run_once(&self, run: &AsyncActionRecord) -> EngineResult<Value> {
        let environment = EnvironmentId::from_stored(run.environment_id.clone());
        let key = IntegrationKey::from_stored(run.integration_key.clone());
        let connection = ConnectionId::from_stored(run.connection_id.clone());
        let input = serde_json::from_str(&run.input)
            .map_err(|e| EngineError::internal("reading an async action's stored input", e))?;
        let trigger =
            self.actions
                .trigger(&environment, &key, &connection, &run.action_name, input);
        match tokio::time::timeout(RUN_TIMEOUT, trigger).await {
            Ok(ended) => ended,
            Err(_) => Err(EngineError::new(
                ErrorCode::ActionInterrupted,
                format!(
                    "the action ran longer than {} minutes and was stopped",
                    RUN_TIMEOUT.as_secs() / 60
                ),
            )),
        }
    }

    /// The run's state after attempt `attempt` ended with `ended`.
    fn after(
        &self,
        run: &AsyncActionRecord,
        attempt: i64,
        ended: EngineResult<Value>,
    ) -> AsyncActionRecord {
        match ended {
            Ok(output) => AsyncActionRecord {
                status: "success".into(),
                attempts: attempt,
                result: Some(output.to_string()),
                ended_at: Some(ts(Utc::now())),
                ..run.clone()
            },
            Err(e) if may_pass(&e) && attempt <= run.max_retries => {
                // 2, 4, 8, 16, 32 seconds: a provider's hiccup or outage has time to pass.
                let wait = chrono::Duration::seconds(2_i64.pow(attempt.clamp(1, 5) as u32));
                AsyncActionRecord {
                    status: "pending".into(),
                    attempts: attempt,
                    run_after: ts(Utc::now() + wait),
                    ..run.clone()
                }
            }
            Err(e) => {
                if e.code() == ErrorCode::InternalError {
                    tracing::error!(run = %run.id, error = %e.chain(), "an async action failed");
                }
                failed(run, attempt, &e)
            }
        }
    }

    /// Deletes results of runs that ended before the log retention: housekeeping's unit.
    pub async fn prune_now(&self) -> EngineResult<u64> {
        let cutoff =
            Utc::now() - chrono::Duration::days(i64::from(self.settings.log_retention_days));
        let mut tx = self.store.begin().await?;
        let pruned = tx.prune_async_actions(&ts(cutoff)).await?;
        tx.commit().await?;
        Ok(pruned)
    }
}

fn failed(run: &AsyncActionRecord, attempt: i64, error: &EngineError) -> AsyncActionRecord {
    AsyncActionRecord {
        status: "failed".into(),
        attempts: attempt,
        result: Some(
            json!({"code": error.code().as_str(), "message": error.message(), "payload": error.payload()})
                .to_string(),
        ),
        ended_at: Some(ts(Utc::now())),
        ..run.clone()
    }
}

/// Failures a later attempt may not meet: the provider unreachable, or answering 429 or 5xx
/// (after the client's own retries).
fn may_pass(e: &EngineError) -> bool {
    match e.code() {
        ErrorCode::ProxyUpstreamUnreachable => true,
        ErrorCode::ProviderError => e
            .payload()
            .and_then(|p| p["status"].as_u64())
            .is_some_and(|s| s == 429 || s >= 500),
        _ => false,
    }
}

/// A stored `{code, message, payload}` as the error it was.
fn stored_error(stored: &Value) -> EngineError {
    let code = stored["code"]
        .as_str()
        .and_then(|c| ErrorCode::ALL.iter().copied().find(|k| k.as_str() == c))
        .unwrap_or(ErrorCode::InternalError);
    let message = stored["message"].as_str().unwrap_or("the action failed");
    let error = EngineError::new(code, message);
    match &stored["payload"] {
        Value::Null => error,
        payload => error.with_payload(payload.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_errors_come_back_whole() {
        let error = EngineError::new(ErrorCode::ProviderError, "Notion answered 404")
            .with_payload(json!({"status": 404, "code": "object_not_found"}));
        let run = AsyncActionRecord::default();
        let stored: Value = serde_json::from_str(&failed(&run, 1, &error).result.unwrap()).unwrap();
        let back = stored_error(&stored);
        assert_eq!(back.code(), ErrorCode::ProviderError);
        assert_eq!(back.message(), "Notion answered 404");
        assert_eq!(back.payload(), error.payload());
        assert!(!may_pass(&back));
        let busy =
            EngineError::new(ErrorCode::ProviderError, "busy").with_payload(json!({"status": 503}));
        assert!(may_pass(&busy));
    }
}
