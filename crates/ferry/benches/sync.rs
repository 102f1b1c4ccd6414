//! The `data-source-entries` sync against the emulator at Notion's documented pace
//! (3 requests a second, bursts of 10), in one run:
//!
//! - a full sync of a 20,000-row data source: wall time against the bound the rate limit
//!   sets (pages of 100 ÷ 3 per second), requests made and 429s met;
//! - an incremental run after 10 edits: the requests it takes;
//! - the sync's peak memory on 2,000 and on 20,000 rows (a streaming sync's is the same):
//!   the growth of the process's resident memory during the run, emulator included;
//! - reading all 20,000 records through `GET /records` (pages of 1,000) against reading the
//!   same rows from the emulator with its limits off (pages of 100, Notion's largest); both
//!   read alike, each row's id kept and the rest skipped.
//!
//!   cargo bench -p ferry --bench sync
//!
//! It runs on SQLite, then again on PostgreSQL when `FERRY_TEST_DATABASE_URL` names a server
//! (a fresh database is made there and dropped).
//!
//! `FERRY_BENCH_ROWS` (default 20000) sets the large data source's size.

use std::time::{Duration, Instant};

mod support;

use serde_json::{Value, json};
use support::{Ferry, SECRET_KEY};

const TOKEN: &str = "ntn_emulator_demo";
const RATE: f64 = 3.0;
const ADA: &str = "a0000000-0000-4000-8000-000000000001";

/// Resets the process's peak resident memory (Linux: `5` in `/proc/self/clear_refs`) and
/// returns what is resident now, in bytes.
fn reset_peak_memory() -> usize {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    memory_field("VmRSS:")
}

/// The peak resident memory since the last reset, in bytes.
fn peak_memory() -> usize {
    memory_field("VmHWM:")
}

fn memory_field(name: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rows: usize = std::env::var("FERRY_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("## SQLite");
    runtime.block_on(run(rows, None));
    if let Ok(postgres) = std::env::var("FERRY_TEST_DATABASE_URL") {
        println!();
        println!("## PostgreSQL");
        runtime.block_on(run(rows, Some(&postgres)));
    }
}

async fn run(rows: usize, postgres: Option<&str>) {
    let emulator = notion_emulator::start(
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = emulator.base_url();
    let emu = Emu {
        http: reqwest::Client::new(),
        base: base.clone(),
    };
    let small_rows = rows / 10;
    println!(
        "seeding two data sources of {small_rows} and {rows} rows (rate limit off while seeding)…"
    );
    let small = emu.data_source("Small", small_rows).await;
    let large = emu.data_source("Large", rows).await;
    let ferry = match postgres {
        Some(admin) => Ferry::start_on(&base, Some(admin)).await,
        None => Ferry::start(&base).await,
    };
    ferry.connection("small", &small).await;
    ferry.connection("large", &large).await;
    emu.settings(json!({"rate_limit": RATE, "burst": 10})).await;

    // Full runs, each alone; memory above what was resident when it began.
    let mut results = Vec::new();
    for (connection, count) in [("small", small_rows), ("large", rows)] {
        // Both connections use the demo token, which the emulator limits as one (Ferry paces
        // each connection on its own): the run before must not leave it spent.
        tokio::time::sleep(Duration::from_secs(4)).await;
        emu.reset_counts().await;
        let before = reset_peak_memory();
        ferry.trigger(connection).await;
        let started = Instant::now();
        assert!(ferry.engine.syncs().run_next().await.unwrap());
        let wall = started.elapsed();
        let peak = peak_memory().saturating_sub(before);
        let (requests, limited) = emu.counts().await;
        let status = ferry.status(connection).await;
        assert_eq!(status["status"], "SUCCESS", "{status}");
        assert_eq!(status["recordCount"]["DataSourceEntry"], count, "{status}");
        results.push((connection, count, requests, limited, wall, peak));
    }

    // An incremental run after 10 edits (made with the limit off, so the bench's own calls do
    // not spend the connection's budget).
    emu.settings(json!({"rate_limit": 0})).await;
    for row in emu.first_rows(&large, 10).await {
        emu.edit(&row).await;
    }
    emu.settings(json!({"rate_limit": RATE, "burst": 10})).await;
    emu.reset_counts().await;
    ferry.trigger("large").await;
    assert!(ferry.engine.syncs().run_next().await.unwrap());
    let (incremental_requests, incremental_limited) = emu.counts().await;
    let status = ferry.status("large").await;
    let updated = status["latestResult"]["DataSourceEntry"]["updated"].clone();

    // Reading every record: from Ferry's cache, and from the emulator with its limits off.
    emu.settings(json!({"rate_limit": 0})).await;
    let started = Instant::now();
    let cached = ferry.all_records("large").await;
    let from_cache = started.elapsed();
    let started = Instant::now();
    let queried = emu.all_rows(&large).await;
    let from_notion = started.elapsed();
    assert_eq!(cached, queried, "the cache holds the data source's rows");

    println!();
    println!(
        "| full run | rows | requests | 429s | wall | bound (pages ÷ 3/s) | wall ÷ bound | peak memory |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (connection, count, requests, limited, wall, peak) in &results {
        let pages = (*count as f64 / 100.0).ceil();
        let bound = Duration::from_secs_f64(pages / RATE);
        println!(
            "| {connection} | {count} | {requests} | {limited} | {:.1} s | {:.1} s | {:.3} | {:.1} MB |",
            wall.as_secs_f64(),
            bound.as_secs_f64(),
            wall.as_secs_f64() / bound.as_secs_f64(),
            *peak as f64 / 1e6,
        );
    }
    let (_, _, large_requests, large_limited, large_wall, large_peak) = results[1];
    let (_, _, _, _, _, small_peak) = results[0];
    let bound = (rows as f64 / 100.0).ceil() / RATE;
    println!();
    println!(
        "incremental run after 10 edits: {incremental_requests} requests, {incremental_limited} × 429, {updated} records updated (goal: 1 to 2 requests)"
    );
    println!(
        "GET /records, {} records in pages of 1,000: {:.2} s; the same rows from the emulator with its limits off, pages of 100: {:.2} s; ratio {:.1} (goal ≥ 10)",
        cached,
        from_cache.as_secs_f64(),
        from_notion.as_secs_f64(),
        from_notion.as_secs_f64() / from_cache.as_secs_f64(),
    );
    println!(
        "full sync of {rows} rows: wall ÷ bound {:.3} (goal ≤ 1.10), {large_requests} requests, {large_limited} × 429 (goal 0); peak memory {:.1} MB at {rows} rows against {:.1} MB at {small_rows}",
        large_wall.as_secs_f64() / bound,
        large_peak as f64 / 1e6,
        small_peak as f64 / 1e6,
    );
    ferry.stop().await;
}

// Both sides are read the same way: each row's id (and what paging needs), the rest of
// each row skipped unparsed.
#[derive(serde::Deserialize)]
struct RecordsPage {
    records: Vec<IdOnly>,
    next_cursor: Option<String>,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(serde::Deserialize)]
struct QueryPage {
    results: Vec<QueryRow>,
    has_more: bool,
    next_cursor: Option<String>,
    request_status: Option<RequestStatus>,
}

#[derive(serde::Deserialize)]
struct QueryRow {
    id: String,
    created_time: String,
}

#[derive(serde::Deserialize)]
struct RequestStatus {
    #[serde(rename = "type")]
    kind: String,
}

/// The emulator: its public API with the demo token, and its admin API.
struct Emu {
    http: reqwest::Client,
    base: String,
}

impl Emu {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        support::emulator_call(&self.http, &self.base, method, path, body).await
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "admin {path}");
        response.json().await.unwrap_or(Value::Null)
    }

    async fn settings(&self, body: Value) {
        self.admin(reqwest::Method::POST, "/_emulator/settings", body)
            .await;
    }

    async fn reset_counts(&self) {
        self.admin(reqwest::Method::DELETE, "/_emulator/requests", json!({}))
            .await;
    }

    /// Requests since the last reset, and how many the rate limiter refused.
    async fn counts(&self) -> (u64, u64) {
        let counts = self
            .admin(reqwest::Method::GET, "/_emulator/requests", json!({}))
            .await;
        (
            counts["total"].as_u64().unwrap_or(0),
            counts["rate_limited"].as_u64().unwrap_or(0),
        )
    }

    /// A new database under the handbook with `rows` generated rows; its data source's id.
    async fn data_source(&self, title: &str, rows: usize) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/v1/search",
                Some(json!({"query": "Acme Handbook", "filter": {"property": "object", "value": "page"}})),
            )
            .await;
        let handbook = found["results"][0]["id"].as_str().unwrap().to_string();
        let database = self
            .call(
                reqwest::Method::POST,
                "/v1/databases",
                Some(json!({
                    "parent": {"page_id": handbook},
                    "title": [{"text": {"content": title}}],
                    "initial_data_source": {"properties": {"Name": {"title": {}}}},
                })),
            )
            .await;
        let source = database["data_sources"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut left = rows;
        while left > 0 {
            let count = left.min(5_000);
            self.admin(
                reqwest::Method::POST,
                &format!("/_emulator/data_sources/{source}/generate"),
                json!({"count": count}),
            )
            .await;
            left -= count;
        }
        source
    }

    async fn first_rows(&self, source: &str, n: usize) -> Vec<String> {
        let page = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/data_sources/{source}/query"),
                Some(json!({"page_size": n})),
            )
            .await;
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// A person renames a row in Notion.
    async fn edit(&self, row: &str) {
        self.admin(
            reqwest::Method::PATCH,
            &format!("/_emulator/people/{ADA}/pages/{row}"),
            json!({"properties": {"Name": {"title": [{"text": {"content": "Edited"}}]}}}),
        )
        .await;
    }

    /// Every row of a data source, past the 10,000-row cap (split on creation time); how
    /// many distinct rows.
    async fn all_rows(&self, source: &str) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let mut cursor: Option<String> = None;
            let mut last_created = None;
            let capped = loop {
                let mut body = json!({"page_size": 100, "sorts": [{"timestamp": "created_time", "direction": "ascending"}]});
                if let Some(after) = &after {
                    body["filter"] = json!({"timestamp": "created_time", "created_time": {"on_or_after": after}});
                }
                if let Some(c) = &cursor {
                    body["start_cursor"] = json!(c);
                }
                let page: QueryPage = self
                    .http
                    .post(format!("{}/v1/data_sources/{source}/query", self.base))
                    .bearer_auth(TOKEN)
                    .header("Notion-Version", "2025-09-03")
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for row in page.results {
                    last_created = Some(row.created_time);
                    seen.insert(row.id);
                }
                match page.next_cursor {
                    Some(next) if page.has_more => cursor = Some(next),
                    _ => break page.request_status.is_some_and(|s| s.kind == "incomplete"),
                }
            };
            if !capped {
                return seen.len();
            }
            after = last_created;
        }
    }
}

/// What this bench asks of Ferry, over its API.
impl Ferry {
    /// A connection whose `data-source-entries` reads `source`; the syncs that start by
    /// themselves are paused, so only the measured runs call the emulator.
    async fn connection(&self, id: &str, source: &str) {
        self.send(
            reqwest::Method::POST,
            "/connections",
            None,
            json!({"provider_config_key": "notion", "connection_id": id,
                   "credentials": {"type": "OAUTH2", "access_token": TOKEN},
                   "metadata": {"data_source_id": source}}),
        )
        .await;
        self.send(
            reqwest::Method::POST,
            "/sync/pause",
            None,
            json!({"provider_config_key": "notion", "connection_id": id, "syncs": ["users", "content-metadata"]}),
        )
        .await;
    }

    async fn trigger(&self, connection: &str) {
        self.send(
            reqwest::Method::POST,
            "/sync/start",
            None,
            json!({"provider_config_key": "notion", "connection_id": connection, "syncs": ["data-source-entries"]}),
        )
        .await;
    }

    async fn status(&self, connection: &str) -> Value {
        let response = self
            .http
            .get(format!(
                "{}/sync/status?provider_config_key=notion&connection_id={connection}&syncs=data-source-entries",
                self.base
            ))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        let value: Value = response.json().await.unwrap();
        value["syncs"][0].clone()
    }

    /// Every record of the connection through `GET /records`, 1,000 a page; how many.
    async fn all_records(&self, connection: &str) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/records?model=DataSourceEntry&limit=1000", self.base);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: RecordsPage = self
                .http
                .get(url)
                .bearer_auth(SECRET_KEY)
                .header("Connection-Id", connection)
                .header("Provider-Config-Key", "notion")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            seen.extend(page.records.into_iter().map(|r| r.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return seen.len(),
            }
        }
    }
}
