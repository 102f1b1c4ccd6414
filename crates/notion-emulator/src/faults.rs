//! Injected faults: per-route error answers, slow answers, dropped connections and the
//! HTML 502 pages that Notion's edge sends under load.

use std::sync::Mutex;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default = "Uuid::new_v4")]
    pub id: Uuid,
    /// Only this method (any when absent).
    pub method: Option<String>,
    /// An exact path, a route template (`/v1/pages/{page_id}`) or a prefix ending in `*`.
    pub path: Option<String>,
    /// Answer with this status and Notion error body.
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// Answer an HTML page instead of JSON (as Notion's edge does for 502).
    #[serde(default)]
    pub html: bool,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop_connection: bool,
    /// Delay before answering (or before the real handler runs, when no status is given).
    pub delay_ms: Option<u64>,
    pub retry_after: Option<u64>,
    /// How many more requests this rule hits; unlimited when absent.
    pub count: Option<u32>,
    /// Matching requests let through before the rule starts hitting (e.g. `1`: the second
    /// page of a list fails, not the first).
    #[serde(default)]
    pub after: u32,
    /// Chance (0–1) that a matching request is hit.
    pub probability: Option<f64>,
    /// How many requests this rule has hit so far.
    #[serde(default)]
    pub hits: u32,
}

/// The error codes Notion answers with; injected faults must use one of them.
pub const KNOWN_CODES: &[&str] = &[
    "invalid_json",
    "invalid_request_url",
    "invalid_request",
    "invalid_grant",
    "validation_error",
    "missing_version",
    "unauthorized",
    "restricted_resource",
    "object_not_found",
    "conflict_error",
    "rate_limited",
    "internal_server_error",
    "service_unavailable",
    "database_connection_unavailable",
    "gateway_timeout",
    "service_overload",
];

pub fn known_code(code: &str) -> Option<&'static str> {
    KNOWN_CODES.iter().copied().find(|c| *c == code)
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

fn path_matches(pattern: &str, path: &str, template: Option<&str>) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        return path.starts_with(prefix);
    }
    pattern == path || Some(pattern) == template
}

impl Faults {
    pub fn add(&self, rule: FaultRule) -> FaultRule {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.push(rule.clone());
        rule
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn remove(&self, id: Option<Uuid>) -> usize {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let before = rules.len();
        match id {
            Some(id) => rules.retain(|r| r.id != id),
            None => rules.clear(),
        }
        before - rules.len()
    }

    /// The first rule that hits this request, counted as used.
    pub fn hit(&self, method: &str, path: &str, template: Option<&str>) -> Option<FaultRule> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut rng = rand::rng();
        for rule in rules.iter_mut() {
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if rule
                .path
                .as_deref()
                .is_some_and(|p| !path_matches(p, path, template))
            {
                continue;
            }
            if rule.count == Some(0) {
                continue;
            }
            if rule.after > 0 {
                rule.after -= 1;
                continue;
            }
            if let Some(p) = rule.probability
                && rng.random::<f64>() >= p
            {
                continue;
            }
            if let Some(c) = rule.count.as_mut() {
                *c -= 1;
            }
            rule.hits += 1;
            return Some(rule.clone());
        }
        None
    }
}
