//! What the action tests share: an engine with the demo connection paced out of the way, and
//! triggering an action by name.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Backend, Harness, KEY};

pub const CONNECTION: &str = "acme";

pub async fn setup(backend: Backend) -> Harness {
    let h = Harness::start(backend).await;
    // Paced fast: the emulator here has no rate limit, and 50 writers must not wait minutes.
    h.ok(
        Method::POST,
        "/integrations",
        Some(json!({
            "provider": "notion", "unique_key": "notion",
            "credentials": {"type": "OAUTH2", "client_id": "emulator-client-id", "client_secret": "emulator-client-secret"},
            "integration_config": {"rate_limit": 1000, "burst": 1000},
        })),
    )
    .await;
    h.import_demo_connection(CONNECTION).await;
    h
}

pub const HEADERS: [(&str, &str); 2] = [
    ("Connection-Id", CONNECTION),
    ("Provider-Config-Key", "notion"),
];

pub async fn trigger(h: &Harness, action: &str, input: Value) -> (u16, Value) {
    let (status, _, text) = h
        .request(
            Method::POST,
            "/action/trigger",
            Some(KEY),
            &HEADERS,
            Some(json!({"action_name": action, "input": input})),
        )
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn ok(h: &Harness, action: &str, input: Value) -> Value {
    let (status, body) = trigger(h, action, input).await;
    assert_eq!(status, 200, "{action} ({:?}): {body}", h.backend);
    body
}

/// The id of the search result titled `title`.
pub async fn find(h: &Harness, object: &str, title: &str) -> Value {
    let (status, _, text) = h
        .request(
            Method::POST,
            "/proxy/v1/search",
            Some(KEY),
            &HEADERS,
            Some(json!({"query": title, "filter": {"property": "object", "value": object}})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let found: Value = serde_json::from_str(&text).unwrap();
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            let title_of = |v: &Value| v[0]["plain_text"].as_str().map(str::to_string);
            title_of(&r["title"]).or_else(|| title_of(&r["properties"]["title"]["title"]))
                == Some(title.to_string())
        })
        .unwrap_or_else(|| panic!("no {object} titled {title}"))
        .clone()
}
