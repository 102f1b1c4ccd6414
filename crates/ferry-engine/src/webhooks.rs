//! Webhooks to the app, in Nango's shapes: an environment's settings (primary and secondary
//! URL, which events), an outbox of deliveries written in the unit of work of the change they
//! report, and workers of any process that send them signed (`X-Nango-Hmac-Sha256`, and
//! Nango's older `X-Nango-Signature`), retrying network errors, 5xx and 429 (after their
//! `Retry-After`) with exponential backoff and jitter until the environment's retry window
//! closes. Every attempt is kept on the delivery.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::crypto::Cipher;
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::EnvironmentId;
use crate::storage::{StorageTx, Store, WebhookDeliveryRecord};
use crate::time::ts;

/// The longest one attempt may take (Nango's timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a taken delivery is held: past the timeout, so only a dead process's is retaken.
const LEASE: Duration = Duration::from_secs(60);
/// The first retry's wait; each further one doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// An environment's webhook settings (Nango's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    pub primary_url: Option<String>,
    pub secondary_url: Option<String>,
    /// A connection made (OAuth or import).
    pub on_auth_creation: bool,
    /// A connection's token could not be refreshed.
    pub on_auth_refresh_error: bool,
    /// A sync run failed.
    pub on_sync_error: bool,
    /// A sync run that changed nothing still reports.
    pub on_sync_completion_always: bool,
    /// An asynchronous action ended.
    pub on_async_action_completion: bool,
    /// How long a delivery is retried, in hours (1–168).
    pub retry_window_hours: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            primary_url: None,
            secondary_url: None,
            on_auth_creation: true,
            on_auth_refresh_error: true,
            on_sync_error: true,
            on_sync_completion_always: false,
            on_async_action_completion: true,
            retry_window_hours: 24,
        }
    }
}

impl WebhookSettings {
    /// Checks what an app sent, naming the field that is wrong.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, url) in [
            ("primary_url", &self.primary_url),
            ("secondary_url", &self.secondary_url),
        ] {
            if let Some(url) = url {
                check_url(url).map_err(|e| (field, e))?;
            }
        }
        if !(1..=168).contains(&self.retry_window_hours) {
            return Err((
                "retry_window_hours",
                "must be a whole number of hours from 1 to 168".into(),
            ));
        }
        Ok(())
    }
}

/// A URL the app receives webhooks at: http or https, at most 2,048 characters.
pub fn check_url(text: &str) -> Result<(), String> {
    let parsed = url::Url::parse(text).map_err(|_| format!("`{text}` is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an http or https URL".into());
    }
    if text.len() > 2048 {
        return Err("must be at most 2,048 characters".into());
    }
    Ok(())
}

/// Which setting turns a kind of webhook on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    SyncSuccess { changed: bool },
    SyncError,
    AsyncAction,
    AuthCreation,
    AuthRefreshError,
}

impl Trigger {
    fn wanted(self, s: &WebhookSettings) -> bool {
        match self {
            Trigger::SyncSuccess { changed } => changed || s.on_sync_completion_always,
            Trigger::SyncError => s.on_sync_error,
            Trigger::AsyncAction => s.on_async_action_completion,
            Trigger::AuthCreation => s.on_auth_creation,
            Trigger::AuthRefreshError => s.on_auth_refresh_error,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Trigger::SyncSuccess { .. } | Trigger::SyncError => "sync",
            Trigger::AsyncAction => "async_action",
            Trigger::AuthCreation | Trigger::AuthRefreshError => "auth",
        }
    }
}

/// Something to tell the app about, on one connection.
pub(crate) struct Event<'a> {
    pub environment: &'a str,
    pub integration_key: &'a str,
    pub connection_id: &'a str,
    /// The connection's own URL, which replaces the environment's.
    pub connection_override: Option<&'a str>,
    pub trigger: Trigger,
    pub body: &'a Value,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub kind: String,
    pub integration_key: Option<String>,
    pub connection_id: Option<String>,
    pub url: String,
    pub body: Value,
    pub status: String,
    pub attempts: Value,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub ended_at: Option<String>,
}

#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    cipher: Cipher,
    http: reqwest::Client,
}

impl Webhooks {
    pub(crate) fn new(store: Store, cipher: Cipher) -> EngineResult<Webhooks> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::internal("building the webhook HTTP client", e))?;
        Ok(Webhooks {
            store,
            cipher,
            http,
        })
    }

    async fn environment(
        &self,
        environment: &str,
    ) -> EngineResult<crate::storage::EnvironmentRecord> {
        self.store.environment(environment).await?.ok_or_else(|| {
            EngineError::new(
                ErrorCode::UnknownEnvironment,
                format!("no environment `{environment}`"),
            )
        })
    }

    pub async fn settings(&self, environment: &EnvironmentId) -> EngineResult<WebhookSettings> {
        let record = self.environment(environment.as_str()).await?;
        settings_of(record.webhook_settings.as_deref())
    }

    /// Changes the settings with `change` in one unit of work (so concurrent changes of
    /// different fields all hold), checks them and returns them.
    pub async fn update_settings(
        &self,
        environment: &EnvironmentId,
        change: impl FnOnce(&mut WebhookSettings) -> EngineResult<()>,
    ) -> EngineResult<WebhookSettings> {
        let mut tx = self.store.begin().await?;
        let Some(stored) = tx.webhook_settings_for_update(environment.as_str()).await? else {
            return Err(EngineError::new(
                ErrorCode::UnknownEnvironment,
                format!("no environment `{environment}`"),
            ));
        };
        let mut settings = settings_of(stored.as_deref())?;
        change(&mut settings)?;
        settings.check().map_err(|(field, e)| {
            EngineError::new(ErrorCode::InvalidBody, format!("{field}: {e}"))
        })?;
        let text = serde_json::to_string(&settings)
            .map_err(|e| EngineError::internal("writing webhook settings", e))?;
        tx.set_webhook_settings(environment.as_str(), &text).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// The environment's settings, read before a unit of work that may add deliveries (a
    /// unit of work reads nothing outside itself).
    pub(crate) async fn settings_for(&self, environment: &str) -> EngineResult<WebhookSettings> {
        let record = self.environment(environment).await?;
        settings_of(record.webhook_settings.as_deref())
    }

    /// Adds to `tx` the deliveries an event makes: to the connection's own URL when it has
    /// one, else to the primary and secondary URLs; none when `settings` turn it off.
    pub(crate) async fn enqueue(
        tx: &mut Box<dyn StorageTx>,
        settings: &WebhookSettings,
        event: Event<'_>,
    ) -> EngineResult<usize> {
        let Event {
            environment,
            integration_key,
            connection_id,
            connection_override,
            trigger,
            body,
        } = event;
        if !trigger.wanted(settings) {
            return Ok(0);
        }
        let urls: Vec<&str> = match connection_override {
            Some(url) => vec![url],
            None => [&settings.primary_url, &settings.secondary_url]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        };
        let now = Utc::now();
        let deadline = now + chrono::Duration::hours(i64::from(settings.retry_window_hours));
        // Serialized once with sorted keys: the bytes signed are the bytes sent.
        let body = serde_json::to_string(body)
            .map_err(|e| EngineError::internal("writing a webhook body", e))?;
        for url in &urls {
            let delivery = WebhookDeliveryRecord {
                id: uuid::Uuid::now_v7().to_string(),
                environment_id: environment.to_string(),
                kind: trigger.kind().to_string(),
                integration_key: Some(integration_key.to_string()),
                connection_id: Some(connection_id.to_string()),
                url: url.to_string(),
                body: body.clone(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: ts(now),
                deadline: ts(deadline),
                attempt_log: "[]".into(),
                created_at: ts(now),
                ended_at: None,
            };
            tx.insert_webhook_delivery(&delivery).await?;
        }
        Ok(urls.len())
    }

    /// Sends the delivery due first, if any: one unit of a worker, which tests call directly.
    /// Returns whether there was one.
    pub async fn deliver_next(&self) -> EngineResult<bool> {
        let now = Utc::now();
        let lease_until = now + chrono::Duration::from_std(LEASE).expect("a short lease");
        let mut tx = self.store.begin().await?;
        let claimed = tx
            .claim_webhook_delivery(&ts(now), &ts(lease_until))
            .await?;
        tx.commit().await?;
        let Some(delivery) = claimed else {
            return Ok(false);
        };
        let attempt = delivery.attempts + 1;
        let started = Utc::now();
        let outcome = self.attempt(&delivery).await;
        let update = after_attempt(&delivery, attempt, started, outcome);
        let mut tx = self.store.begin().await?;
        let written = tx.finish_webhook_delivery(attempt, &update).await?;
        tx.commit().await?;
        if !written {
            tracing::warn!(delivery = %delivery.id, attempt, "a webhook attempt ended after its lease");
        }
        Ok(true)
    }

    async fn attempt(&self, delivery: &WebhookDeliveryRecord) -> Attempt {
        let key = match self.signing_key(&delivery.environment_id).await {
            Ok(key) => key,
            Err(e) => {
                return Attempt::Final {
                    status: None,
                    error: Some(e),
                };
            }
        };
        let body = delivery.body.as_bytes();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        let hmac = hex::encode(mac.finalize().into_bytes());
        let mut legacy = Sha256::new();
        legacy.update(key.as_bytes());
        legacy.update(body);
        let legacy = hex::encode(legacy.finalize());
        let sent = self
            .http
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Nango-Hmac-Sha256", hmac)
            .header("X-Nango-Signature", legacy)
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Err(e) => Attempt::Retry {
                status: None,
                error: Some(describe(e)),
                retry_after: None,
            },
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                match status {
                    200..=299 => Attempt::Delivered { status },
                    429 | 500..=599 => Attempt::Retry {
                        status: Some(status),
                        error: None,
                        retry_after,
                    },
                    _ => Attempt::Final {
                        status: Some(status),
                        error: Some(format!(
                            "the app answered {status}; only 5xx and 429 are retried"
                        )),
                    },
                }
            }
        }
    }

    async fn signing_key(&self, environment: &str) -> Result<String, String> {
        let record = self
            .environment(environment)
            .await
            .map_err(|e| e.message().to_string())?;
        let sealed = record.webhook_signing_key_enc.ok_or_else(|| {
            "the environment has no webhook signing key; POST /environment/webhook-signing-key/rotate makes one".to_string()
        })?;
        self.cipher.open(&sealed).map_err(|_| {
            "the webhook signing key cannot be opened with this encryption key".to_string()
        })
    }

    /// Deletes the deliveries that ended more than `retention_days` ago (housekeeping).
    pub async fn prune_now(&self, retention_days: u32) -> EngineResult<u64> {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(retention_days));
        let mut tx = self.store.begin().await?;
        let pruned = tx.prune_webhook_deliveries(&ts(cutoff)).await?;
        tx.commit().await?;
        Ok(pruned)
    }

    /// An environment's deliveries, newest first.
    pub async fn deliveries(
        &self,
        environment: &EnvironmentId,
        status: Option<&str>,
        limit: i64,
    ) -> EngineResult<Vec<Delivery>> {
        let rows = self
            .store
            .webhook_deliveries(environment.as_str(), status, limit)
            .await?;
        Ok(rows.into_iter().map(delivery_of).collect())
    }

    pub async fn delivery(
        &self,
        environment: &EnvironmentId,
        id: &str,
    ) -> EngineResult<Option<Delivery>> {
        Ok(self
            .store
            .webhook_delivery(environment.as_str(), id)
            .await?
            .map(delivery_of))
    }
}

fn settings_of(text: Option<&str>) -> EngineResult<WebhookSettings> {
    match text {
        None => Ok(WebhookSettings::default()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| EngineError::internal("reading stored webhook settings", e)),
    }
}

fn delivery_of(r: WebhookDeliveryRecord) -> Delivery {
    Delivery {
        body: serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone())),
        attempts: serde_json::from_str(&r.attempt_log).unwrap_or(Value::Array(Vec::new())),
        next_attempt_at: (r.status == "pending").then_some(r.next_attempt_at),
        id: r.id,
        kind: r.kind,
        integration_key: r.integration_key,
        connection_id: r.connection_id,
        url: r.url,
        status: r.status,
        created_at: r.created_at,
        ended_at: r.ended_at,
    }
}

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    Delivered {
        status: u16,
    },
    /// Worth another attempt: no answer, a 5xx or a 429.
    Retry {
        status: Option<u16>,
        error: Option<String>,
        retry_after: Option<Duration>,
    },
    Final {
        status: Option<u16>,
        error: Option<String>,
    },
}

/// The wait before attempt `attempt + 1`: 3 s doubling to 10 minutes, ±25 % so that many
/// deliveries to one app do not come back at once.
fn backoff(attempt: i64) -> Duration {
    let doublings = (attempt - 1).clamp(0, 16) as u32;
    let base = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF);
    let jitter: f64 = rand::rng().random_range(0.75..1.25);
    base.mul_f64(jitter)
}

fn after_attempt(
    delivery: &WebhookDeliveryRecord,
    attempt: i64,
    started: DateTime<Utc>,
    outcome: Attempt,
) -> WebhookDeliveryRecord {
    let now = Utc::now();
    let duration_ms = (now - started).num_milliseconds().max(0);
    let (status, error) = match &outcome {
        Attempt::Delivered { status } => (Some(*status), None),
        Attempt::Retry { status, error, .. } | Attempt::Final { status, error } => {
            (*status, error.clone())
        }
    };
    let mut log: Vec<Value> = serde_json::from_str(&delivery.attempt_log).unwrap_or_default();
    log.push(json!({"attempt": attempt, "at": ts(started), "status": status, "error": error, "duration_ms": duration_ms}));
    let attempt_log = Value::Array(log).to_string();
    let ended = |state: &str| WebhookDeliveryRecord {
        status: state.to_string(),
        attempts: attempt,
        attempt_log: attempt_log.clone(),
        ended_at: Some(ts(now)),
        ..delivery.clone()
    };
    match outcome {
        Attempt::Delivered { .. } => ended("delivered"),
        Attempt::Final { .. } => ended("failed"),
        Attempt::Retry { retry_after, .. } => {
            let wait = retry_after.unwrap_or_else(|| backoff(attempt));
            let next = now + chrono::Duration::from_std(wait).expect("waits are short");
            if ts(next) > delivery.deadline {
                ended("failed")
            } else {
                WebhookDeliveryRecord {
                    status: "pending".into(),
                    attempts: attempt,
                    next_attempt_at: ts(next),
                    attempt_log,
                    ..delivery.clone()
                }
            }
        }
    }
}

/// An error and its causes on one line, without the URL's query (it may carry a token).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut next = std::error::Error::source(&e);
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_three_seconds_to_ten_minutes_with_jitter() {
        for (attempt, base) in [(1, 3.0), (2, 6.0), (3, 12.0), (12, 600.0), (40, 600.0)] {
            let wait = backoff(attempt).as_secs_f64();
            assert!(
                (base * 0.75..=base * 1.25).contains(&wait),
                "{attempt}: {wait}"
            );
        }
    }

    #[test]
    fn a_retry_past_the_deadline_fails_the_delivery() {
        let delivery = WebhookDeliveryRecord {
            status: "pending".into(),
            attempt_log: "[]".into(),
            deadline: ts(Utc::now() + chrono::Duration::seconds(1)),
            ..WebhookDeliveryRecord::default()
        };
        let retry = |after: u64| Attempt::Retry {
            status: Some(503),
            error: None,
            retry_after: Some(Duration::from_secs(after)),
        };
        assert_eq!(
            after_attempt(&delivery, 1, Utc::now(), retry(60)).status,
            "failed"
        );
        let later = WebhookDeliveryRecord {
            deadline: ts(Utc::now() + chrono::Duration::hours(1)),
            ..delivery
        };
        let next = after_attempt(&later, 1, Utc::now(), retry(60));
        assert_eq!(next.status, "pending");
        let log: Value = serde_json::from_str(&next.attempt_log).unwrap();
        assert_eq!(log[0]["status"], 503);
    }

    #[test]
    fn settings_are_checked_by_field() {
        let mut settings = WebhookSettings {
            primary_url: Some("ftp://app.example/hook".into()),
            ..WebhookSettings::default()
        };
        assert_eq!(settings.check().unwrap_err().0, "primary_url");
        settings.primary_url = Some("https://app.example/hook".into());
        settings.retry_window_hours = 0;
        assert_eq!(settings.check().unwrap_err().0, "retry_window_hours");
        settings.retry_window_hours = 24;
        assert!(settings.check().is_ok());
    }
}
