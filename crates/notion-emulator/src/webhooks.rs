//! Integration webhooks (Notion → subscriber): subscriptions made through the admin API,
//! the `verification_token` handshake, signed events for changes, aggregation of
//! `page.content_updated`, optional shuffled order, and retries up to 8 attempts.
//!
//! Events are queued durably in memory before they are sent; [`Webhooks::deliver_due`] is
//! the "do one unit now" step that the background sender loop and tests both call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::Emulator;
use crate::model::{Id, Parent, Workspace};
use crate::version::ApiVersion;

pub const MAX_ATTEMPTS: u32 = 8;

/// A change that subscribers may hear about.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub entity_id: Id,
    pub entity_type: &'static str,
    pub data: Value,
    pub author: Id,
    /// The object whose sharing decides who hears of this (comments: their page).
    pub visible_through: Id,
    /// Only this integration hears of it (file uploads belong to the one that made them).
    pub only_integration: Option<Id>,
}

impl Event {
    pub fn new(
        kind: &'static str,
        entity_type: &'static str,
        entity_id: Id,
        author: Id,
        data: Value,
    ) -> Self {
        Self {
            kind,
            entity_id,
            entity_type,
            data,
            author,
            visible_through: entity_id,
            only_integration: None,
        }
    }

    /// An event about something only `integration` can see.
    pub fn for_integration(mut self, integration: Id) -> Self {
        self.only_integration = Some(integration);
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: Uuid,
    pub integration: Id,
    pub url: String,
    /// Selected event types; all when `None`.
    pub event_types: Option<Vec<String>>,
    pub api_version: &'static str,
    #[serde(skip)]
    pub verification_token: String,
    pub verified: bool,
    pub aggregation_ms: u64,
    pub shuffle: bool,
    pub retry_base_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub event_id: Uuid,
    pub subscription: Uuid,
    pub kind: String,
    pub entity_id: Option<Id>,
    pub attempts: u32,
    /// pending, delivered or failed.
    pub state: &'static str,
    pub last_status: Option<u16>,
    #[serde(skip)]
    payload: Value,
    #[serde(skip)]
    due: Instant,
    #[serde(skip)]
    handshake: bool,
}

#[derive(Default)]
struct Inner {
    subscriptions: Vec<Subscription>,
    deliveries: Vec<Delivery>,
}

#[derive(Default)]
pub struct Webhooks {
    inner: Mutex<Inner>,
    /// One delivery round at a time, so "deliver now" also waits for a round in flight.
    round: tokio::sync::Mutex<()>,
    client: std::sync::OnceLock<reqwest::Client>,
}

pub struct NewSubscription {
    pub integration: Id,
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub api_version: ApiVersion,
    pub aggregation_ms: u64,
    pub shuffle: bool,
    pub retry_base_ms: u64,
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("hmac takes any key length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

impl Webhooks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a subscription and queues its handshake; events flow once it is verified.
    pub fn subscribe(&self, new: NewSubscription) -> Subscription {
        let token = format!("secret_{}", Uuid::new_v4().simple());
        let subscription = Subscription {
            id: Uuid::new_v4(),
            integration: new.integration,
            url: new.url,
            event_types: new.event_types,
            api_version: new.api_version.as_str(),
            verification_token: token.clone(),
            verified: false,
            aggregation_ms: new.aggregation_ms,
            shuffle: new.shuffle,
            retry_base_ms: new.retry_base_ms,
        };
        let mut inner = self.lock();
        inner.deliveries.push(Delivery {
            event_id: Uuid::new_v4(),
            subscription: subscription.id,
            kind: "verification".into(),
            entity_id: None,
            attempts: 0,
            state: "pending",
            last_status: None,
            payload: json!({"verification_token": token}),
            due: Instant::now(),
            handshake: true,
        });
        inner.subscriptions.push(subscription.clone());
        subscription
    }

    /// Marks a subscription verified when given its token, as pressing "Verify" does.
    pub fn verify(&self, id: Uuid, token: &str) -> Result<Subscription, &'static str> {
        let mut inner = self.lock();
        let sub = inner
            .subscriptions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or("no such subscription")?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            sub.verification_token.as_bytes(),
            token.as_bytes(),
        )) {
            return Err("the verification token does not match");
        }
        sub.verified = true;
        Ok(sub.clone())
    }

    pub fn unsubscribe(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.subscriptions.len();
        inner.subscriptions.retain(|s| s.id != id);
        inner.deliveries.retain(|d| d.subscription != id);
        before != inner.subscriptions.len()
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.lock().subscriptions.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Queues `events` for every verified subscription whose integration can see them.
    pub fn emit(&self, ws: &Workspace, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let subscriptions = inner.subscriptions.clone();
        for event in events {
            for sub in subscriptions.iter().filter(|s| s.verified) {
                if sub
                    .event_types
                    .as_ref()
                    .is_some_and(|types| !types.iter().any(|t| t == event.kind))
                {
                    continue;
                }
                let visible = match event.only_integration {
                    Some(integration) => integration == sub.integration,
                    None => ws
                        .grants
                        .values()
                        .filter(|g| g.integration == sub.integration)
                        .any(|g| ws.is_shared(&g.shared, event.visible_through)),
                };
                if !visible {
                    continue;
                }
                let author_type = if ws
                    .user(event.author)
                    .is_some_and(|u| matches!(u.kind, crate::model::UserKind::Bot { .. }))
                {
                    "bot"
                } else {
                    "person"
                };
                let author = json!({"id": event.author, "type": author_type});
                if event.kind == "page.content_updated" {
                    let open = inner.deliveries.iter_mut().find(|d| {
                        d.subscription == sub.id
                            && d.kind == event.kind
                            && d.entity_id == Some(event.entity_id)
                            && d.attempts == 0
                            && d.state == "pending"
                    });
                    if let Some(open) = open {
                        let authors = open.payload["authors"]
                            .as_array_mut()
                            .expect("authors is an array");
                        if !authors.contains(&author) {
                            authors.push(author);
                        }
                        let blocks = open.payload["data"]["updated_blocks"]
                            .as_array_mut()
                            .expect("updated_blocks is an array");
                        for block in event.data["updated_blocks"]
                            .as_array()
                            .into_iter()
                            .flatten()
                        {
                            if !blocks.contains(block) {
                                blocks.push(block.clone());
                            }
                        }
                        open.payload["timestamp"] = json!(crate::render::timestamp(Utc::now()));
                        continue;
                    }
                }
                let event_id = Uuid::new_v4();
                let mut payload = json!({
                    "id": event_id,
                    "timestamp": crate::render::timestamp(Utc::now()),
                    "workspace_id": ws.id,
                    "workspace_name": ws.name,
                    "subscription_id": sub.id,
                    "integration_id": sub.integration,
                    "type": event.kind,
                    "authors": [author],
                    "attempt_number": 1,
                    "api_version": sub.api_version,
                    "entity": {"id": event.entity_id, "type": event.entity_type},
                    "data": event.data,
                });
                // Some events (file uploads but a failed import) carry no `data` at all.
                if event.data.is_null()
                    && let Some(map) = payload.as_object_mut()
                {
                    map.remove("data");
                }
                let wait = if event.kind == "page.content_updated" {
                    sub.aggregation_ms
                } else {
                    0
                };
                inner.deliveries.push(Delivery {
                    event_id,
                    subscription: sub.id,
                    kind: event.kind.to_string(),
                    entity_id: Some(event.entity_id),
                    attempts: 0,
                    state: "pending",
                    last_status: None,
                    payload,
                    due: Instant::now() + Duration::from_millis(wait),
                    handshake: false,
                });
            }
        }
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a reqwest client builds")
        })
    }

    /// Sends every delivery that is due (or, with `force`, every pending one at once) and
    /// returns how many were attempted.
    pub async fn deliver_due(&self, force: bool) -> usize {
        let _round = self.round.lock().await;
        let now = Instant::now();
        let (mut batch, shuffle) = {
            let mut inner = self.lock();
            let subs = inner.subscriptions.clone();
            let mut shuffle = false;
            let batch: Vec<(Uuid, String, String, u64, Vec<u8>)> = inner
                .deliveries
                .iter_mut()
                .filter(|d| d.state == "pending" && (force || d.due <= now))
                .filter_map(|d| {
                    let sub = subs.iter().find(|s| s.id == d.subscription)?;
                    shuffle |= sub.shuffle;
                    d.attempts += 1;
                    if !d.handshake {
                        d.payload["attempt_number"] = json!(d.attempts);
                    }
                    // Far in the future while in flight, so a concurrent call does not resend it.
                    d.due = now + Duration::from_secs(3600);
                    let body = serde_json::to_vec(&d.payload).unwrap_or_default();
                    Some((
                        d.event_id,
                        sub.url.clone(),
                        sub.verification_token.clone(),
                        sub.retry_base_ms,
                        body,
                    ))
                })
                .collect();
            (batch, shuffle)
        };
        if shuffle {
            batch.shuffle(&mut rand::rng());
        }
        let attempted = batch.len();
        for (event_id, url, secret, retry_base, body) in batch {
            let result = self
                .client()
                .post(&url)
                .header("content-type", "application/json")
                .header("x-notion-signature", sign(&secret, &body))
                .header("user-agent", "notion-api")
                .body(body)
                .send()
                .await;
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            let mut inner = self.lock();
            let Some(delivery) = inner.deliveries.iter_mut().find(|d| d.event_id == event_id)
            else {
                continue;
            };
            delivery.last_status = status;
            if status.is_some_and(|s| (200..300).contains(&s)) {
                delivery.state = "delivered";
            } else if delivery.attempts >= MAX_ATTEMPTS || delivery.handshake {
                delivery.state = "failed";
            } else {
                let backoff = retry_base.saturating_mul(1 << (delivery.attempts - 1).min(16));
                delivery.due = Instant::now() + Duration::from_millis(backoff);
            }
        }
        attempted
    }
}

/// Runs the sender until `stop` fires: a tick every 50 ms sends what is due.
pub fn spawn_sender(emulator: Arc<Emulator>, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = tick.tick() => { emulator.webhooks.deliver_due(false).await; }
                _ = stop.changed() => break,
            }
        }
    });
}

/// The `data.parent` of an event about an object under `parent`.
pub(crate) fn event_parent(ws: &Workspace, parent: Parent) -> Value {
    match parent {
        Parent::Workspace => json!({"id": ws.id, "type": "space"}),
        Parent::Page { id } => json!({"id": id, "type": "page"}),
        Parent::Block { id } => json!({"id": id, "type": "block"}),
        Parent::DataSource { id, database } => {
            json!({"id": database, "type": "database", "data_source_id": id})
        }
    }
}
