//! What the sync tests share: running due syncs as a worker would, the sync and records
//! routes, and reading what the emulator shows through the proxy.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::actions::HEADERS;
use super::{Harness, KEY};

/// Runs every due sync to its end, as a worker would.
pub async fn run_due(engine: &ferry_engine::Engine) -> usize {
    let mut runs = 0;
    while engine.syncs().run_next().await.unwrap() {
        runs += 1;
    }
    runs
}

pub async fn get(h: &Harness, path: &str) -> (u16, Value) {
    let (status, _, text) = h
        .request(Method::GET, path, Some(KEY), &HEADERS, None)
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn send(h: &Harness, method: Method, path: &str, body: Value) -> (u16, Value) {
    let (status, _, text) = h.request(method, path, Some(KEY), &[], Some(body)).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every record of `model`, page by page through the cursor.
pub async fn all_records(h: &Harness, model: &str, extra: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/records?model={model}&limit=7{extra}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(h, &path).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    out
}

pub fn ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of every result of a Notion list called by POST through Ferry's proxy, page by
/// page.
pub async fn listed_ids(h: &Harness, path: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"page_size": 100});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let (status, _, text) = h
            .request(Method::POST, path, Some(KEY), &HEADERS, Some(body))
            .await;
        assert_eq!(status, 200, "{text}");
        let page: Value = serde_json::from_str(&text).unwrap();
        for r in page["results"].as_array().unwrap() {
            found.insert(r["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    found
}

/// What the emulator's search shows the demo token: the ids of every page and data source.
pub async fn searchable(h: &Harness) -> BTreeSet<String> {
    listed_ids(h, "/proxy/v1/search").await
}

/// Stops sharing the Contacts database (a root of the demo token's grant) with the
/// integration; returns the ids search no longer shows.
pub async fn unshare_contacts(h: &Harness, content: &[Value]) -> BTreeSet<String> {
    let before = searchable(h).await;
    let people = content
        .iter()
        .find(|r| r["title"] == "People" && r["object_type"] == "data_source")
        .unwrap();
    h.emulator_admin(
        Method::DELETE,
        "/_emulator/share",
        json!({"token": "ntn_emulator_demo", "object_ids": [people["parent_id"]]}),
    )
    .await;
    let gone: BTreeSet<String> = before.difference(&searchable(h).await).cloned().collect();
    assert!(gone.len() > 2, "the data sources and their rows: {gone:?}");
    gone
}

pub async fn trigger(h: &Harness, syncs: Value, opts: Value) {
    let (status, body) = send(
        h,
        Method::POST,
        "/sync/trigger",
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": syncs, "opts": opts}),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"success": true})));
}

pub async fn status_of(h: &Harness, sync: &str) -> Value {
    let (status, body) = get(
        h,
        &format!("/sync/status?provider_config_key=notion&connection_id=acme&syncs={sync}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["syncs"][0].clone()
}
