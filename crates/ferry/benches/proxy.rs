//! Ferry's proxy against a direct call, measured in one run on this machine:
//!
//! 1. added latency (median, p99) of sequential `GET /v1/users/me` through the proxy;
//! 2. throughput through the proxy as a share of direct throughput (32 connections), beside
//!    the same share for a bare forwarder (axum + reqwest, nothing else): the floor any proxy
//!    built on these crates pays here, where the load generator, the emulator and the proxy
//!    share the same cores and the emulator answers in microseconds;
//! 3. the same ratio when the emulator answers after 20 ms, nearer Notion's own latency;
//! 4. 200 proxy calls fired at once against the emulator's default limit (3 requests/s,
//!    burst 10): how many 429s reach the caller, and the time taken against the bound the
//!    limit sets, (200 − 10) / 3 s.
//!
//! Limits are off (emulator and pacer) for 1–3, so they measure Ferry, not the pacer.
//! Run with `cargo bench -p ferry --bench proxy`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferry_engine::connections::ImportConnection;
use ferry_engine::credentials::Credentials;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::integrations::NewIntegration;
use ferry_engine::providers::IntegrationConfig;
use ferry_engine::{Cipher, Engine, Settings};
use serde_json::json;

// The allocator the `ferry` binary ships with, so Ferry is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "bench-secret-key-0123456789";

struct Ferry {
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Ferry {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_ferry(notion_base: &str, pacer: Option<(f64, u32)>) -> Ferry {
    let dir = std::env::temp_dir().join(format!("ferry-bench-{}", unique_suffix()));
    let url = format!("sqlite://{}/ferry.db", dir.display());
    let key = Cipher::generate_key();
    let settings = Settings::load_from(None, |name| match name {
        "FERRY_DATABASE_URL" => Some(url.clone()),
        "FERRY_NOTION_BASE_URL" => Some(notion_base.to_string()),
        "FERRY_SECRET_KEY" => Some(KEY.to_string()),
        "FERRY_ENCRYPTION_KEY" => Some(key.clone()),
        _ => None,
    })
    .unwrap();
    let store = ferry_store::Store::connect(settings.database_url.expose())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (engine, _) = Engine::start(
        settings,
        Cipher::from_base64(&key).unwrap(),
        std::sync::Arc::new(store),
    )
    .await
    .unwrap();
    let env = engine.environments().by_name("dev").await.unwrap().unwrap();
    let config = match pacer {
        Some((rate, burst)) => IntegrationConfig {
            rate_limit: Some(rate),
            burst: Some(burst),
            ..Default::default()
        },
        None => IntegrationConfig::default(),
    };
    let notion = IntegrationKey::parse("notion").unwrap();
    engine
        .integrations()
        .create(
            &env.id,
            NewIntegration {
                provider: "notion".into(),
                unique_key: notion.clone(),
                display_name: None,
                forward_webhooks: None,
                credentials: None,
                config: Some(config),
            },
        )
        .await
        .unwrap();
    engine
        .connections()
        .import(
            &env.id,
            ImportConnection {
                provider_config_key: notion,
                connection_id: Some(ConnectionId::parse("bench").unwrap()),
                credentials: Credentials::oauth2("ntn_emulator_demo".into(), None, None, json!({})),
                connection_config: Default::default(),
                metadata: Default::default(),
                end_user: None,
                tags: Default::default(),
                webhook_url_override: None,
            },
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let writer = engine.clone();
    tokio::spawn(async move {
        loop {
            writer.logs().queued().await;
            writer.logs().flush_now().await;
        }
    });
    tokio::spawn(ferry_api::serve(listener, engine, std::future::pending()));
    Ferry { base, dir }
}

fn unique_suffix() -> String {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, Ordering::Relaxed)
    )
}

fn direct(client: &reqwest::Client, emulator: &str) -> reqwest::RequestBuilder {
    client
        .get(format!("{emulator}/v1/users/me"))
        .bearer_auth("ntn_emulator_demo")
        .header("notion-version", "2025-09-03")
}

fn proxied(client: &reqwest::Client, ferry: &str) -> reqwest::RequestBuilder {
    client
        .get(format!("{ferry}/proxy/v1/users/me"))
        .bearer_auth(KEY)
        .header("connection-id", "bench")
        .header("provider-config-key", "notion")
}

fn bare(client: &reqwest::Client, forwarder: &str) -> reqwest::RequestBuilder {
    client.get(format!("{forwarder}/proxy/v1/users/me"))
}

/// The least a forwarding hop costs with axum and reqwest: no keys, connections, pacing,
/// retries or logs. Ferry's share of direct throughput is read against this one's.
async fn start_bare_forwarder(upstream: String) -> String {
    async fn forward(
        axum::extract::State((client, upstream)): axum::extract::State<(reqwest::Client, String)>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        let path = request.uri().path().trim_start_matches("/proxy");
        let answer = client
            .get(format!("{upstream}{path}"))
            .bearer_auth("ntn_emulator_demo")
            .header("notion-version", "2025-09-03")
            .send()
            .await
            .unwrap();
        let mut response = axum::response::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            response = response.header(name, value);
        }
        response
            .body(axum::body::Body::from_stream(answer.bytes_stream()))
            .unwrap()
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((client, upstream));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latencies(make: impl Fn() -> reqwest::RequestBuilder, n: usize) -> Vec<Duration> {
    for _ in 0..200 {
        make().send().await.unwrap().bytes().await.unwrap();
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = make().send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.bytes().await.unwrap();
        out.push(started.elapsed());
    }
    out.sort();
    out
}

async fn throughput(
    make: Arc<dyn Fn() -> reqwest::RequestBuilder + Send + Sync>,
    seconds: u64,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (make, done) = (make.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if let Ok(r) = make().send().await
                        && r.status().is_success()
                        && r.bytes().await.is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // 1 and 2: limits off everywhere.
    let emulator = notion_emulator::start(
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let emu = emulator.base_url();
    let ferry = start_ferry(&emu, Some((100_000.0, 100_000))).await;
    let n = 3000;
    let d = latencies(|| direct(&client, &emu), n).await;
    let p = latencies(|| proxied(&client, &ferry.base), n).await;
    let (dm, d99, pm, p99) = (
        percentile(&d, 0.5),
        percentile(&d, 0.99),
        percentile(&p, 0.5),
        percentile(&p, 0.99),
    );
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    println!("latency, {n} sequential GET /v1/users/me:");
    println!("  direct  median {:.3} ms  p99 {:.3} ms", ms(dm), ms(d99));
    println!("  proxy   median {:.3} ms  p99 {:.3} ms", ms(pm), ms(p99));
    println!(
        "  added   median {:.3} ms  p99 {:.3} ms   (goal: < 0.3 ms at the median)",
        ms(pm) - ms(dm),
        ms(p99) - ms(d99)
    );
    let rate = |make: fn(&reqwest::Client, &str) -> reqwest::RequestBuilder, base: &str| {
        let (client, base) = (client.clone(), base.to_string());
        throughput(Arc::new(move || make(&client, &base)), 5)
    };
    let forwarder = start_bare_forwarder(emu.clone()).await;
    let direct_rate = rate(direct, &emu).await;
    let bare_rate = rate(bare, &forwarder).await;
    let proxy_rate = rate(proxied, &ferry.base).await;
    println!("throughput, 32 connections, 5 s each, emulator answering at once:");
    println!("  direct {direct_rate:.0} req/s");
    println!(
        "  bare forwarder {bare_rate:.0} req/s, ratio {:.2}   (the floor on shared cores)",
        bare_rate / direct_rate
    );
    println!(
        "  Ferry {proxy_rate:.0} req/s, ratio {:.2}   (goal: ≥ 0.70); {:.2} of the bare forwarder",
        proxy_rate / direct_rate,
        proxy_rate / bare_rate
    );
    emulator.shutdown().await;

    // 3: the same with a 20 ms answer, nearer what Notion takes.
    let slow = notion_emulator::start(
        notion_emulator::Config {
            rate_limit: 0.0,
            latency: Duration::from_millis(20),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let slow_base = slow.base_url();
    let slow_ferry = start_ferry(&slow_base, Some((100_000.0, 100_000))).await;
    let direct_rate = rate(direct, &slow_base).await;
    let proxy_rate = rate(proxied, &slow_ferry.base).await;
    println!("throughput, 32 connections, 5 s each, emulator answering after 20 ms:");
    println!(
        "  direct {direct_rate:.0} req/s, Ferry {proxy_rate:.0} req/s, ratio {:.2}   (goal: ≥ 0.70)",
        proxy_rate / direct_rate
    );
    slow.shutdown().await;

    // 4: Notion's default limit on the emulator, the integration's default pacer in Ferry.
    let limited = notion_emulator::start(
        notion_emulator::Config::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let ferry = start_ferry(&limited.base_url(), None).await;
    let calls = 200;
    let started = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let (client, base) = (client.clone(), ferry.base.clone());
            tokio::spawn(async move {
                proxied(&client, &base)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let bound = (calls as f64 - 10.0) / 3.0;
    let limited_count = statuses.iter().filter(|s| **s == 429).count();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    println!("rate limit: {calls} proxy calls at once against 3 req/s, burst 10:");
    println!("  {ok} answered 200, {limited_count} answered 429 to the caller (goal: 0)");
    println!(
        "  took {elapsed:.1} s; the limit's bound is {bound:.1} s; ratio {:.3}   (goal: within 10%)",
        elapsed / bound
    );
    limited.shutdown().await;
}
