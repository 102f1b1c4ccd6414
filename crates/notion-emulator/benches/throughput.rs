//! Emulator throughput with limits off, so later benchmarks know it is not their bottleneck.
//!
//! Run with `cargo bench -p notion-emulator --bench throughput`. Client and server share
//! this machine's cores, so the figures are a floor for the server alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use notion_emulator::{Config, start};
use serde_json::json;

const CONCURRENCY: usize = 32;
const DURATION: Duration = Duration::from_secs(5);

async fn measure(
    name: &str,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let make = Arc::new(make);
    // Warm up connections.
    for _ in 0..CONCURRENCY {
        make(&client).send().await.unwrap().bytes().await.unwrap();
    }
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, make, done, failed) =
                (client.clone(), make.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    match make(&client).send().await {
                        Ok(r) if r.status().is_success() => {
                            r.bytes().await.unwrap();
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = done.load(Ordering::Relaxed) as f64 / elapsed;
    println!(
        "{name:<40} {rate:>10.0} requests/s  ({} ok, {} failed, {CONCURRENCY} connections, {elapsed:.1} s)",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    rate
}

#[tokio::main]
async fn main() {
    let running = start(
        Config {
            rate_limit: 0.0,
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = running.base_url();
    let http = reqwest::Client::new();
    let found: serde_json::Value = http
        .post(format!("{base}/v1/search"))
        .bearer_auth("ntn_emulator_demo")
        .header("notion-version", "2025-09-03")
        .json(&json!({"query": "Tasks", "filter": {"property": "object", "value": "data_source"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tasks = found["results"][0]["id"].as_str().unwrap().to_string();
    println!(
        "notion-emulator throughput, limits off, on {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let users_url = format!("{base}/v1/users");
    let users = measure("GET /v1/users (4 users)", move |c| {
        c.get(&users_url)
            .bearer_auth("ntn_emulator_demo")
            .header("notion-version", "2025-09-03")
    })
    .await;
    let query_url = format!("{base}/v1/data_sources/{tasks}/query");
    let query = measure("POST data source query (10 of 24 rows)", move |c| {
        c.post(&query_url)
            .bearer_auth("ntn_emulator_demo")
            .header("notion-version", "2025-09-03")
            .json(&json!({"page_size": 10, "filter": {"property": "Done", "checkbox": {"equals": false}}}))
    })
    .await;
    println!(
        "goal: well over 10000 requests/s -> users {:.1}x, query {:.1}x of 10000",
        users / 10_000.0,
        query / 10_000.0
    );
    running.shutdown().await;
}
