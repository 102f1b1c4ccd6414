//! Pacing across processes: two servers on one PostgreSQL, each proxying calls to one
//! connection and running its syncs at the same moment, together keep the emulator's
//! 3 requests/s, so it never answers 429. (SQLite is one process, which paces alone; its
//! pacer is tested in `proxy.rs`.)

mod support;

use std::time::Instant;

use reqwest::Method;
use serde_json::json;
use support::syncs::run_due;
use support::{Backend, Harness, KEY, postgres_url};

const CALLS_PER_SERVER: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_keep_one_connections_rate_together() {
    if postgres_url().is_none() {
        eprintln!("skipped: FERRY_TEST_DATABASE_URL is not set (pacing is shared on PostgreSQL)");
        return;
    }
    // The emulator at Notion's documented limit: 3 requests/s with a burst of 10.
    let h = Harness::start_with(Backend::Postgres, notion_emulator::Config::default(), &[]).await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("acme").await;
    let second = h.second_server().await;
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;

    let http = h.http.clone();
    let proxied = |base: String| {
        let http = http.clone();
        async move {
            let calls = (0..CALLS_PER_SERVER).map(|_| {
                http.get(format!("{base}/proxy/v1/users/me"))
                    .bearer_auth(KEY)
                    .header("Connection-Id", "acme")
                    .header("Provider-Config-Key", "notion")
                    .send()
            });
            futures_util::future::join_all(calls)
                .await
                .into_iter()
                .map(|r| r.expect("Ferry answers").status().as_u16())
                .collect::<Vec<_>>()
        }
    };
    let started = Instant::now();
    let (first_statuses, second_statuses, first_runs, second_runs) = tokio::join!(
        proxied(h.base.clone()),
        proxied(second.base.clone()),
        run_due(&h.engine),
        run_due(&second.engine),
    );
    let took = started.elapsed();

    assert!(
        first_statuses
            .iter()
            .chain(&second_statuses)
            .all(|s| *s == 200)
    );
    assert_eq!(
        first_runs + second_runs,
        2,
        "users and content-metadata ran once each"
    );
    let counts = h
        .emulator_admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    let total = counts["total"].as_u64().unwrap();
    assert!(total as usize >= 2 * CALLS_PER_SERVER + 2, "{counts}");
    assert_eq!(counts["rate_limited"], 0, "no call met a 429: {counts}");
    eprintln!("{total} requests in {took:?}");
}
