//! Operation logs: every authorization, token refresh and provider call, with its HTTP
//! exchanges, secrets redacted (headers, token fields, query parameters) and bodies cut at
//! the configured limit.
//!
//! Provider calls queue their operation and a writer stores queued operations in batches,
//! woken as soon as one is queued: off the request path, yet seldom more than one batch
//! behind. An operation dropped before it finished (its caller went away, or panicked) is
//! queued as failed, so no call leaves no trace.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use crate::storage::{OperationFilter, OperationRecord, Store};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey, OperationId};
use crate::settings::Settings;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// What an operation was.
    OperationKind {
        Auth => "auth",
        TokenRefresh => "token_refresh",
        Proxy => "proxy",
        Action => "action",
        Sync => "sync",
    }
);

text_enum!(
    /// How an operation ended (or that it has not yet).
    OperationStatus {
        Running => "running",
        Success => "success",
        Failed => "failed",
        Expired => "expired",
    }
);

/// A recorded operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: OperationId,
    pub kind: OperationKind,
    pub status: OperationStatus,
    pub integration_key: Option<String>,
    pub connection_id: Option<String>,
    pub message: Option<String>,
    /// The HTTP exchanges as JSON array text.
    pub exchanges: String,
    pub started_at: String,
    pub ended_at: Option<String>,
}

impl Operation {
    fn from_record(r: OperationRecord) -> EngineResult<Operation> {
        let bad = |what: &str, value: &str| {
            EngineError::internal(
                format!("operation {} has an unknown {what}", r.id),
                format!("`{value}`"),
            )
        };
        Ok(Operation {
            kind: OperationKind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            status: OperationStatus::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            id: OperationId::from_stored(r.id),
            integration_key: r.integration_key,
            connection_id: r.connection_id,
            message: r.message,
            exchanges: r.exchanges,
            started_at: r.started_at,
            ended_at: r.ended_at,
        })
    }
}

/// Filters of `GET /logs`.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub connection_id: Option<String>,
    pub integration_key: Option<String>,
    pub kind: Option<OperationKind>,
    pub status: Option<OperationStatus>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Where a page of operations ended: the (started_at, id) of its last row, as opaque text.
fn encode_cursor(op: &OperationRecord) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", op.started_at, op.id))
}

fn decode_cursor(text: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (started_at, id) = text.split_once('|')?;
    crate::time::parse(started_at)?;
    Some((started_at.to_string(), id.to_string()))
}

/// A page of operations, newest first.
pub struct LogPage {
    pub operations: Vec<Operation>,
    pub next_cursor: Option<String>,
}

/// A time in the fixed-width UTC form Ferry stores and shows.
pub fn timestamp(t: DateTime<Utc>) -> String {
    crate::time::ts(t)
}

/// Header names whose values are never logged.
pub fn is_secret_header(name: &str) -> bool {
    let contains = |needle: &str| {
        name.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
    ]
    .iter()
    .any(|secret| name.eq_ignore_ascii_case(secret))
        || contains("token")
        || contains("secret")
        || contains("signature")
}

/// JSON field names whose values are never logged. (`code` is not among them: in answers it
/// is an error code; a token request's authorization code is redacted where it is sent.)
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("token")
        || name.contains("secret")
        || name.contains("password")
        || name.contains("signature")
        || name.contains("api_key")
        || name.contains("apikey")
        || matches!(
            name.as_str(),
            "code_verifier" | "key" | "auth" | "authorization"
        )
}

/// Query parameters whose values are never logged: the secret fields, and `code` (an OAuth
/// authorization code in a callback URL).
fn is_secret_query_parameter(name: &str) -> bool {
    is_secret_field(name) || name.eq_ignore_ascii_case("code")
}

/// `url` with the values of secret-looking query parameters (`access_token=…`) replaced by
/// `[redacted]`; everything else is kept as sent.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some((base, query)) = url.split_once('?') else {
        return Cow::Borrowed(url);
    };
    let mut changed = false;
    let parts: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|part| {
            let name = part.split('=').next().unwrap_or("");
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            if part.contains('=') && is_secret_query_parameter(&decoded) {
                changed = true;
                Cow::Owned(format!("{name}=[redacted]"))
            } else {
                Cow::Borrowed(part)
            }
        })
        .collect();
    if !changed {
        return Cow::Borrowed(url);
    }
    Cow::Owned(format!("{base}?{}", parts.join("&")))
}

/// A header map as a log shows it: a JSON object of names to values, secret values replaced
/// by `[redacted]`, values that are not visible ASCII left out.
pub struct LoggedHeaders<'a>(pub &'a http::HeaderMap);

impl serde::Serialize for LoggedHeaders<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SentHeaders {
            headers: self.0,
            authorization: false,
        }
        .serialize(serializer)
    }
}

/// Headers as [`LoggedHeaders`] shows them, with an `authorization` Ferry added itself (shown
/// `[redacted]`, so the map with the token need not be kept for the log).
pub struct SentHeaders<'a> {
    pub headers: &'a http::HeaderMap,
    pub authorization: bool,
}

impl serde::Serialize for SentHeaders<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        if self.authorization {
            map.serialize_entry("authorization", "[redacted]")?;
        }
        for (name, value) in self.headers {
            let Ok(value) = value.to_str() else { continue };
            let shown = if is_secret_header(name.as_str()) {
                "[redacted]"
            } else {
                value
            };
            map.serialize_entry(name.as_str(), shown)?;
        }
        map.end()
    }
}

/// Body text for a log: cut at `limit` bytes, with token-looking JSON fields redacted.
pub fn body_for_log(bytes: &[u8], limit: usize) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if let Ok(mut parsed) = serde_json::from_slice::<Value>(bytes) {
        redact_json(&mut parsed);
        let text = parsed.to_string();
        if text.len() <= limit {
            return parsed;
        }
        return json!({"truncated": true, "size": bytes.len(), "head": truncate(&text, limit)});
    }
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= limit {
        Value::String(text.into_owned())
    } else {
        json!({"truncated": true, "size": bytes.len(), "head": truncate(&text, limit)})
    }
}

/// Body text for a provider call's log: the raw text cut at `limit` bytes, not parsed (API
/// bodies carry no credentials; token endpoint bodies go through [`body_for_log`]).
pub fn text_for_log(bytes: &[u8], limit: usize) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(limit)]);
    if bytes.len() <= limit {
        Value::String(text.into_owned())
    } else {
        json!({"truncated": true, "size": bytes.len(), "head": text})
    }
}

fn truncate(text: &str, limit: usize) -> String {
    text[..text.floor_char_boundary(limit)].to_string()
}

fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_field(key) {
                    if v.is_string() {
                        *v = Value::String("[redacted]".into());
                    }
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Operations waiting for the batch writer.
#[derive(Default)]
pub(crate) struct LogQueue {
    pending: Mutex<Vec<OperationRecord>>,
    wake: tokio::sync::Notify,
    writing: tokio::sync::Mutex<()>,
    /// Woken when a batch leaves the queue, for calls waiting for room.
    room: tokio::sync::Notify,
    /// Operations dropped because the queue was past its hard limit, not yet reported.
    dropped: std::sync::atomic::AtomicU64,
}

/// How long the writer gathers operations after the first is queued, before writing them
/// in one unit of work.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(25);

/// Provider calls wait before they start while this many operations are unwritten (the
/// database is far behind): the log writer's pace then bounds the calls', so none goes
/// unlogged.
const MAX_PENDING: usize = 100_000;
/// Past this many, an operation is dropped (and counted in the server log) rather than
/// growing memory without end; only calls already past the wait can get here.
const HARD_LIMIT: usize = 2 * MAX_PENDING;

impl LogQueue {
    fn push(&self, op: OperationRecord) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= HARD_LIMIT {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        pending.push(op);
        drop(pending);
        self.wake.notify_one();
    }

    fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    async fn wait_for_room(&self) {
        if self.len() < MAX_PENDING {
            return;
        }
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.len() < MAX_PENDING {
                return;
            }
            room.await;
        }
    }
}

/// An operation being recorded. Finish it with [`Recorder::finish`] (queued for the batch
/// writer) or [`Logs::save`] (written now); dropped unfinished, it is queued as failed.
pub struct Recorder {
    op: OperationRecord,
    queue: Arc<LogQueue>,
    settled: bool,
}

impl Recorder {
    pub fn id(&self) -> OperationId {
        OperationId::from_stored(self.op.id.clone())
    }

    pub fn set_connection(&mut self, connection_id: &ConnectionId) {
        self.op.connection_id = Some(connection_id.to_string());
    }

    pub fn set_message(&mut self, message: impl Into<String>) {
        self.op.message = Some(message.into());
    }

    /// Appends one exchange, serialised now so the operation carries JSON text, not a tree.
    pub fn exchange(&mut self, exchange: &impl serde::Serialize) {
        let text = match serde_json::to_string(exchange) {
            Ok(text) => text,
            Err(e) => json!({"error": format!("exchange not recordable: {e}")}).to_string(),
        };
        self.op.exchanges.pop();
        if self.op.exchanges.len() > 1 {
            self.op.exchanges.push(',');
        }
        self.op.exchanges.push_str(&text);
        self.op.exchanges.push(']');
    }

    /// Ends the operation and queues it for the batch writer.
    pub fn finish(mut self, success: bool, message: impl Into<Option<String>>) {
        let status = if success {
            OperationStatus::Success
        } else {
            OperationStatus::Failed
        };
        let record = self.settle(status, message.into());
        self.queue.push(record);
    }

    fn settle(&mut self, status: OperationStatus, message: Option<String>) -> OperationRecord {
        self.settled = true;
        self.op.status = status.as_str().to_string();
        if message.is_some() {
            self.op.message = message;
        }
        if status != OperationStatus::Running {
            self.op.ended_at = Some(crate::time::now());
        }
        // Every caller of `settle` is done with the recorder: the record leaves as it is.
        std::mem::take(&mut self.op)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.settled {
            let record = self.settle(
                OperationStatus::Failed,
                Some("the call was abandoned before it finished (the caller went away, or Ferry failed)".into()),
            );
            self.queue.push(record);
        }
    }
}

/// The operation log service.
#[derive(Clone)]
pub struct Logs {
    store: Store,
    settings: Arc<Settings>,
    queue: Arc<LogQueue>,
}

impl Logs {
    pub(crate) fn new(store: Store, settings: Arc<Settings>) -> Logs {
        Logs {
            store,
            settings,
            queue: Arc::default(),
        }
    }

    /// Waits while the log writer is far behind (see [`MAX_PENDING`]); provider calls whose
    /// operation is queued call it before they start.
    pub async fn wait_for_room(&self) {
        self.queue.wait_for_room().await;
    }

    /// Starts recording an operation.
    pub fn recorder(
        &self,
        environment: &EnvironmentId,
        kind: OperationKind,
        integration_key: Option<&IntegrationKey>,
        connection_id: Option<&ConnectionId>,
    ) -> Recorder {
        Recorder {
            op: OperationRecord {
                id: OperationId::new().to_string(),
                environment_id: environment.to_string(),
                kind: kind.as_str().to_string(),
                status: OperationStatus::Running.as_str().to_string(),
                integration_key: integration_key.map(ToString::to_string),
                connection_id: connection_id.map(ToString::to_string),
                message: None,
                exchanges: "[]".to_string(),
                started_at: crate::time::now(),
                ended_at: None,
            },
            queue: self.queue.clone(),
            settled: false,
        }
    }

    /// Writes the operation now with `status` (`Running` keeps it open, to be saved again
    /// under the same id when it ends). A logging failure is reported, never returned: it
    /// must not fail the work it records.
    pub async fn save(
        &self,
        mut recorder: Recorder,
        status: OperationStatus,
        message: impl Into<Option<String>>,
    ) {
        let record = recorder.settle(status, message.into());
        let saved = async {
            let mut tx = self.store.begin().await?;
            tx.save_operation(&record).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = saved {
            tracing::error!(error = %EngineError::from(e).chain(), operation = %record.id, "could not save an operation log; queued it instead");
            self.queue.push(record);
        }
    }

    /// A recorder that continues an operation saved earlier as running.
    pub(crate) fn resume(&self, recorder: &mut Recorder, id: &str) {
        recorder.op.id = id.to_string();
    }

    /// Writes every queued operation now: one unit of the log writer, which tests call
    /// directly instead of waiting for it. Returns how many were written.
    pub async fn flush_now(&self) -> usize {
        let _writing = self.queue.writing.lock().await;
        let batch =
            std::mem::take(&mut *self.queue.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let dropped = self
            .queue
            .dropped
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "operation logs were dropped: more than {HARD_LIMIT} were waiting to be written"
            );
        }
        if batch.is_empty() {
            return 0;
        }
        let written = async {
            let mut tx = self.store.begin().await?;
            tx.insert_operations(&batch).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => {
                self.queue.room.notify_waiters();
                batch.len()
            }
            Err(e) => {
                tracing::error!(error = %EngineError::from(e).chain(), count = batch.len(), "could not write operation logs; they are kept for the next try");
                let mut pending = self.queue.pending.lock().unwrap_or_else(|e| e.into_inner());
                let newer = std::mem::replace(&mut *pending, batch);
                pending.extend(newer);
                0
            }
        }
    }

    /// Resolves when an operation has been queued since the last call (for the writer loop).
    pub async fn queued(&self) {
        self.queue.wake.notified().await;
    }

    pub async fn list(
        &self,
        environment: &EnvironmentId,
        filter: LogFilter,
    ) -> EngineResult<LogPage> {
        self.flush_now().await;
        let cursor = filter
            .cursor
            .as_deref()
            .map(|c| {
                decode_cursor(c).ok_or_else(|| {
                    EngineError::new(
                        ErrorCode::InvalidQueryParams,
                        "cursor is not a `next_cursor` from a previous page",
                    )
                })
            })
            .transpose()?;
        let limit = i64::from(filter.limit.clamp(1, 1000));
        let mut records = self
            .store
            .list_operations(
                environment.as_str(),
                &OperationFilter {
                    connection_id: filter.connection_id,
                    integration_key: filter.integration_key,
                    kind: filter.kind.map(|k| k.as_str().to_string()),
                    status: filter.status.map(|s| s.as_str().to_string()),
                    after: filter.after.map(crate::time::ts),
                    before: filter.before.map(crate::time::ts),
                    after_row: cursor,
                    limit: limit + 1,
                },
            )
            .await?;
        let next_cursor = if records.len() as i64 > limit {
            records.truncate(limit as usize);
            records.last().map(encode_cursor)
        } else {
            None
        };
        Ok(LogPage {
            operations: records
                .into_iter()
                .map(Operation::from_record)
                .collect::<EngineResult<_>>()?,
            next_cursor,
        })
    }

    pub async fn get(
        &self,
        environment: &EnvironmentId,
        id: &OperationId,
    ) -> EngineResult<Operation> {
        self.flush_now().await;
        let record = self
            .store
            .operation(environment.as_str(), id.as_str())
            .await?
            .ok_or_else(|| {
                EngineError::new(
                    ErrorCode::UnknownLog,
                    format!("There is no operation `{id}`."),
                )
            })?;
        Operation::from_record(record)
    }

    /// Deletes operation logs past their retention, marks abandoned authorizations expired,
    /// deletes expired sessions and old change-feed rows: one unit of the housekeeping loop, which tests call
    /// directly. Returns how many rows went.
    pub async fn prune_now(&self) -> EngineResult<u64> {
        let cutoff =
            Utc::now() - chrono::Duration::days(i64::from(self.settings.log_retention_days));
        let mut tx = self.store.begin().await?;
        let logs = tx.prune_operations(&crate::time::ts(cutoff)).await?;
        let sessions = tx.prune_sessions().await?;
        let changes = tx.prune_changes().await?;
        tx.commit().await?;
        Ok(logs + sessions + changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_parameters_are_redacted() {
        assert_eq!(
            redact_url("https://x/v1/a?access_token=abc&page_size=2&client%5Fsecret=s&code=c"),
            "https://x/v1/a?access_token=[redacted]&page_size=2&client%5Fsecret=[redacted]&code=[redacted]"
        );
        assert!(matches!(
            redact_url("https://x/v1/a?page_size=2"),
            Cow::Borrowed(_)
        ));
        assert_eq!(redact_url("https://x/v1/a"), "https://x/v1/a");
    }

    #[test]
    fn json_bodies_lose_their_secrets() {
        let body = br#"{"grant_type":"refresh_token","refresh_token":"r","nested":{"access_token":"a","name":"n"}}"#;
        let logged = body_for_log(body, 10_000);
        assert_eq!(logged["refresh_token"], "[redacted]");
        assert_eq!(logged["nested"]["access_token"], "[redacted]");
        assert_eq!(logged["nested"]["name"], "n");
    }

    #[tokio::test]
    async fn calls_wait_while_the_writer_is_far_behind_and_nothing_is_dropped() {
        let queue = Arc::new(LogQueue::default());
        for _ in 0..MAX_PENDING {
            queue.push(OperationRecord::default());
        }
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.wait_for_room().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no room: the call waits");
        // The writer takes a batch.
        queue.pending.lock().unwrap().clear();
        queue.room.notify_waiters();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("room again: the call goes on")
            .unwrap();
        assert_eq!(queue.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    #[test]
    fn an_abandoned_recorder_queues_a_failed_operation() {
        let queue = Arc::new(LogQueue::default());
        let recorder = Recorder {
            op: OperationRecord {
                id: "op".into(),
                environment_id: "env".into(),
                kind: "proxy".into(),
                status: "running".into(),
                integration_key: None,
                connection_id: None,
                message: None,
                exchanges: "[]".into(),
                started_at: crate::time::now(),
                ended_at: None,
            },
            queue: queue.clone(),
            settled: false,
        };
        drop(recorder);
        let pending = queue.pending.lock().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].status, "failed");
        assert!(pending[0].ended_at.is_some());
    }
}
