//! Recording operations (authorizations, token refreshes, proxy calls) and their HTTP
//! exchanges, with secrets redacted from headers and bodies cut at the configured limit.

use chrono::Utc;
use ferry_store::operations::Operation;
use serde_json::{Value, json};

use crate::Engine;

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

/// A header map as a log shows it: a JSON object of names to values, secret values replaced
/// by `[redacted]`, values that are not visible ASCII left out.
pub struct LoggedHeaders<'a>(pub &'a http::HeaderMap);

impl serde::Serialize for LoggedHeaders<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.0 {
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

/// Body text for a proxy log: the raw text cut at `limit` bytes, without parsing it (Notion's
/// API bodies carry no credentials; token endpoint bodies go through [`body_for_log`]).
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
                let k = key.to_ascii_lowercase();
                if k.contains("token")
                    || k.contains("secret")
                    || k == "code_verifier"
                    || k == "password"
                {
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

/// A time-ordered (v7) UUID: new rows append to the index instead of scattering writes
/// across it, and ids made by one process sort in the order they were made.
fn operation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An operation being recorded; saved when it ends.
pub struct Recorder {
    pub op: Operation,
}

impl Recorder {
    pub fn start(
        environment_id: &str,
        kind: &str,
        integration_key: Option<&str>,
        connection_id: Option<&str>,
    ) -> Recorder {
        Recorder {
            op: Operation {
                id: operation_id(),
                environment_id: environment_id.to_string(),
                kind: kind.to_string(),
                status: "running".into(),
                integration_key: integration_key.map(str::to_string),
                connection_id: connection_id.map(str::to_string),
                message: None,
                exchanges: "[]".to_string(),
                started_at: ferry_store::now(),
                ended_at: None,
            },
        }
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

    pub fn finish(&mut self, success: bool, message: impl Into<Option<String>>) {
        self.op.status = if success { "success" } else { "failed" }.into();
        self.op.message = message.into();
        self.op.ended_at = Some(ferry_store::ts(Utc::now()));
    }
}

/// Proxy operations wait here and are written in batches, off the request path.
#[derive(Default)]
pub struct LogQueue {
    pending: std::sync::Mutex<Vec<ferry_store::operations::Operation>>,
    writing: tokio::sync::Mutex<()>,
}

/// More than this many unwritten operations means the database is far behind; further
/// ones are dropped (and counted in the server log) rather than growing memory without end.
const MAX_PENDING: usize = 100_000;

impl Engine {
    /// Queues a finished operation for the batch writer.
    pub fn queue_operation(&self, recorder: Recorder) {
        let mut pending = self
            .log_queue
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if pending.len() >= MAX_PENDING {
            tracing::warn!(operation = %recorder.op.id, "operation log queue is full; dropping a log entry");
            return;
        }
        pending.push(recorder.op);
    }

    /// Writes every queued operation now: one unit of the log writer, which tests call
    /// directly instead of waiting for its loop.
    pub async fn flush_logs(&self) -> usize {
        let _writing = self.log_queue.writing.lock().await;
        let batch = std::mem::take(
            &mut *self
                .log_queue
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if batch.is_empty() {
            return 0;
        }
        if let Err(e) = self.store.insert_operations(&batch).await {
            tracing::error!(error = %e, count = batch.len(), "could not write operation logs");
            return 0;
        }
        batch.len()
    }

    /// Saves an operation; a logging failure is reported but never fails the work itself.
    pub async fn save_operation(&self, recorder: &Recorder) {
        if let Err(e) = self.store.save_operation(&recorder.op).await {
            tracing::error!(error = %e, operation = %recorder.op.id, "could not save an operation log");
        }
    }
}
