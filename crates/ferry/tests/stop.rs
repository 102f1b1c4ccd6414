//! The `ferry serve` process itself: on SIGTERM (how service managers and container runtimes
//! stop it) it exits cleanly and writes the operation logs still queued in memory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ferry_engine::storage::OperationFilter;
use ferry_store::Store;
use serde_json::json;

const KEY: &str = "stop-test-secret-key-0123456789";

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_keeps_queued_logs() {
    let emulator = notion_emulator::start(
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ferry-stop-{}", std::process::id()));
    let database = format!("sqlite://{}/ferry.db", dir.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("serve")
        .env("FERRY_LISTEN", "127.0.0.1:0")
        .env("FERRY_DATABASE_URL", &database)
        .env("FERRY_NOTION_BASE_URL", emulator.base_url())
        .env("FERRY_SECRET_KEY", KEY)
        .env("FERRY_ENCRYPTION_KEY", ferry_engine::Cipher::generate_key())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the ferry binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("a ready line").unwrap();
        if let Some(addr) = line.strip_prefix("ferry listening on ") {
            break addr.to_string();
        }
    };

    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    assert!(
        post(
            "/integrations",
            json!({"provider": "notion", "unique_key": "notion"})
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );
    assert!(post("/connections", json!({"provider_config_key": "notion", "connection_id": "c", "credentials": {"type": "OAUTH2", "access_token": "ntn_emulator_demo"}})).await.unwrap().status().is_success());
    let calls = 20;
    for _ in 0..calls {
        let answer = http
            .get(format!("{base}/proxy/v1/users/me"))
            .bearer_auth(KEY)
            .header("connection-id", "c")
            .header("provider-config-key", "notion")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferry did not stop within 30 s of SIGTERM");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "ferry exited with {status} on SIGTERM");

    let store = Store::connect(&database).await.unwrap();
    let env = store.environment_by_name("dev").await.unwrap().unwrap();
    let logged = store
        .list_operations(
            &env.id,
            &OperationFilter {
                kind: Some("proxy".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), calls, "every proxy call's log was written");
    store.close().await;
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
