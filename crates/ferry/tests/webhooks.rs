//! Webhooks to the app on both backends: sync results and async actions reported to the
//! primary and secondary URLs (or the connection's own), signed as Nango signs, retried
//! through an app that fails its first answers, every attempt kept; nothing sent when the
//! settings say so; and the settings' bad input refused by field, with 50 writers at once.

mod support;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::actions::{HEADERS, setup};
use support::{Backend, Harness, KEY, at_once};

backend_tests!(
    webhooks_report_syncs_and_async_actions,
    auth_webhooks_report_connections,
    webhook_settings_refuse_bad_input
);

/// One request the app received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// An answer the app gives: its status and `Retry-After`.
type Answer = (u16, Option<&'static str>);

/// A small app that keeps what it receives and answers from `script` first (then 200).
#[derive(Clone, Default)]
struct App {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<Answer>>>,
}

impl App {
    async fn start(script: Vec<Answer>) -> (App, String) {
        let app = App {
            script: Arc::new(Mutex::new(script)),
            ..App::default()
        };
        let state = app.clone();
        let router = axum::Router::new().route(
            "/{*path}",
            axum::routing::post(
                move |axum::extract::Path(path): axum::extract::Path<String>,
                      headers: HeaderMap,
                      body: Bytes| {
                    let state = state.clone();
                    async move {
                        state.received.lock().unwrap().push(Received {
                            path,
                            headers,
                            body,
                        });
                        let next = {
                            let mut script = state.script.lock().unwrap();
                            (!script.is_empty()).then(|| script.remove(0))
                        };
                        let (status, retry_after) = next.unwrap_or((200, None));
                        let mut answer =
                            axum::response::Response::new(axum::body::Body::from("ok"));
                        *answer.status_mut() = StatusCode::from_u16(status).unwrap();
                        if let Some(after) = retry_after {
                            answer
                                .headers_mut()
                                .insert("retry-after", after.parse().unwrap());
                        }
                        answer
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (app, base)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn api(h: &Harness, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, _, text) = h.request(method, path, Some(KEY), &[], body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Queues `list-users` with `X-Async: true` and runs it, as a worker would; its answer.
async fn list_users_async(h: &Harness) -> Value {
    let (status, _, text) = h
        .request(
            Method::POST,
            "/action/trigger",
            Some(KEY),
            &[
                ("Connection-Id", "acme"),
                ("Provider-Config-Key", "notion"),
                ("X-Async", "true"),
            ],
            Some(json!({"action_name": "list-users", "input": {}})),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert!(h.engine.async_actions().run_next().await.unwrap());
    serde_json::from_str(&text).unwrap()
}

async fn run_syncs(h: &Harness) {
    while h.engine.syncs().run_next().await.unwrap() {}
}

/// Sends every delivery that is due, then makes the waiting ones due (as their backoff
/// would) until none is left pending.
async fn deliver_all(h: &Harness) {
    for _ in 0..10 {
        while h.engine.webhooks().deliver_next().await.unwrap() {}
        let waiting = h
            .db_texts("UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE status = 'pending' RETURNING id")
            .await;
        if waiting.is_empty() {
            return;
        }
    }
    panic!("deliveries still pending after ten rounds");
}

/// Checks both of Nango's signatures of a received body.
fn assert_signed(received: &Received, key: &str) {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&received.body);
    assert_eq!(
        received.headers["x-nango-hmac-sha256"].to_str().unwrap(),
        hex::encode(mac.finalize().into_bytes())
    );
    let mut legacy = Sha256::new();
    legacy.update(key.as_bytes());
    legacy.update(&received.body);
    assert_eq!(
        received.headers["x-nango-signature"].to_str().unwrap(),
        hex::encode(legacy.finalize())
    );
    assert_eq!(received.headers["content-type"], "application/json");
}

fn bodies(received: &[Received], path: &str) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.path == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn webhooks_report_syncs_and_async_actions(backend: Backend) {
    // The app fails its first answers: a 500, then a 429 that asks for a second's wait.
    let (app, base) = App::start(vec![(500, None), (429, Some("1"))]).await;
    let h = setup(backend).await;
    let (_, rotated) = api(
        &h,
        Method::POST,
        "/environment/webhook-signing-key/rotate",
        None,
    )
    .await;
    let key = rotated["data"]["webhook_signing_key"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, settings) = api(
        &h,
        Method::PATCH,
        "/environment/webhook-settings",
        Some(json!({"primary_url": format!("{base}/hook"), "secondary_url": format!("{base}/second")})),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["data"]["on_sync_completion_always"], false);

    // The first runs: users (one model) and content-metadata (one model), to both URLs.
    run_syncs(&h).await;
    let (_, pending) = api(&h, Method::GET, "/webhooks/deliveries?status=pending", None).await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 4, "{pending}");
    deliver_all(&h).await;
    let received = app.received();
    assert_eq!(
        received.len(),
        6,
        "four deliveries, two of them retried once"
    );
    for r in &received {
        assert_signed(r, &key);
    }
    let hooks = bodies(&received, "hook");
    let users = hooks
        .iter()
        .find(|b| b["syncName"] == "users")
        .unwrap()
        .clone();
    assert_eq!(users["from"], "nango");
    assert_eq!(users["type"], "sync");
    assert_eq!(users["connectionId"], "acme");
    assert_eq!(users["providerConfigKey"], "notion");
    assert_eq!(users["model"], "User");
    assert_eq!(users["syncVariant"], "base");
    assert_eq!(users["syncType"], "INITIAL");
    assert_eq!(users["success"], true);
    assert_eq!(
        users["responseResults"],
        json!({"added": 4, "updated": 0, "deleted": 0})
    );
    // `modifiedAfter` reads the run's records back.
    let modified_after = users["modifiedAfter"].as_str().unwrap();
    let (status, _, text) = h
        .request(
            Method::GET,
            &format!("/records?model=User&modified_after={modified_after}"),
            Some(KEY),
            &HEADERS,
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let records: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(records["records"].as_array().unwrap().len(), 4);
    let names = |path: &str| -> std::collections::BTreeSet<String> {
        bodies(&received, path)
            .iter()
            .map(|b| b["syncName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("second"), names("hook"));
    assert_eq!(names("hook").len(), 2);
    // Every attempt is kept on the delivery.
    let (_, delivered) = api(
        &h,
        Method::GET,
        "/webhooks/deliveries?status=delivered",
        None,
    )
    .await;
    let delivered = delivered["data"].as_array().unwrap().clone();
    assert_eq!(delivered.len(), 4);
    let statuses: Vec<Vec<Value>> = delivered
        .iter()
        .map(|d| {
            d["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["status"].clone())
                .collect()
        })
        .collect();
    assert!(
        statuses.contains(&vec![json!(500), json!(200)]),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&vec![json!(429), json!(200)]),
        "{statuses:?}"
    );
    let one = delivered[0]["id"].as_str().unwrap();
    let (status, single) = api(
        &h,
        Method::GET,
        &format!("/webhooks/deliveries/{one}"),
        None,
    )
    .await;
    assert_eq!((status, single["data"]["id"].as_str()), (200, Some(one)));

    // A run that changes nothing says nothing (on_sync_completion_always is off).
    let trigger =
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users"]});
    api(&h, Method::POST, "/sync/trigger", Some(trigger.clone())).await;
    run_syncs(&h).await;
    let (_, pending) = api(&h, Method::GET, "/webhooks/deliveries?status=pending", None).await;
    assert_eq!(pending["data"], json!([]));

    // The connection's own URL replaces both; a failed run and an async action report.
    let (status, _) = api(
        &h,
        Method::PATCH,
        "/connections/acme?provider_config_key=notion",
        Some(json!({"webhook_url_override": format!("{base}/own")})),
    )
    .await;
    assert_eq!(status, 200);
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/users", "status": 400, "code": "validation_error", "count": 1}),
    )
    .await;
    api(&h, Method::POST, "/sync/trigger", Some(trigger)).await;
    run_syncs(&h).await;
    let queued = list_users_async(&h).await;
    deliver_all(&h).await;
    let own = bodies(&app.received(), "own");
    assert_eq!(own.len(), 2, "{own:?}");
    let failure = own.iter().find(|b| b["type"] == "sync").unwrap();
    assert_eq!(failure["success"], false);
    assert!(
        failure["error"]["description"]
            .as_str()
            .unwrap()
            .contains("validation_error")
    );
    assert!(failure["failedAt"].is_string() && failure["startedAt"].is_string());
    let done = own.iter().find(|b| b["type"] == "async_action").unwrap();
    assert_eq!(
        done["payload"],
        json!({"id": queued["id"], "statusUrl": queued["statusUrl"]})
    );
    assert_eq!(
        bodies(&app.received(), "hook").len(),
        hooks.len(),
        "the primary URL got nothing more"
    );

    // An app that refuses (4xx other than 429) is not asked again.
    let (refusing, refusing_base) = App::start(vec![(400, None)]).await;
    api(
        &h,
        Method::PATCH,
        "/connections/acme?provider_config_key=notion",
        Some(json!({"webhook_url_override": format!("{refusing_base}/refuses")})),
    )
    .await;
    list_users_async(&h).await;
    deliver_all(&h).await;
    assert_eq!(refusing.received().len(), 1);
    let (_, failed) = api(&h, Method::GET, "/webhooks/deliveries?status=failed", None).await;
    let failed = failed["data"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"][0]["status"], 400);

    // Turned off, nothing is queued.
    api(
        &h,
        Method::PATCH,
        "/environment/webhook-settings",
        Some(json!({"on_async_action_completion": false})),
    )
    .await;
    list_users_async(&h).await;
    let (_, pending) = api(&h, Method::GET, "/webhooks/deliveries?status=pending", None).await;
    assert_eq!(pending["data"], json!([]));
    // Housekeeping deletes the deliveries that ended before the retention window, and only
    // those: with no window, every ended one.
    let (_, all) = api(&h, Method::GET, "/webhooks/deliveries", None).await;
    let ended = all["data"].as_array().unwrap().len() as u64;
    assert!(ended > 0);
    assert_eq!(h.engine.webhooks().prune_now(30).await.unwrap(), 0);
    assert_eq!(h.engine.webhooks().prune_now(0).await.unwrap(), ended);
    let (_, all) = api(&h, Method::GET, "/webhooks/deliveries", None).await;
    assert_eq!(all["data"], json!([]));
}

/// A connection made, made again, and a refresh that failed, each reported as Nango's `auth`.
async fn auth_webhooks_report_connections(backend: Backend) {
    let (app, base) = App::start(Vec::new()).await;
    let h = setup(backend).await;
    api(
        &h,
        Method::PATCH,
        "/environment/webhook-settings",
        Some(json!({"primary_url": format!("{base}/auth")})),
    )
    .await;
    let import = json!({
        "provider_config_key": "notion", "connection_id": "second",
        "credentials": {"type": "OAUTH2", "access_token": "ntn_emulator_demo", "refresh_token": "not-a-refresh-token"},
        "end_user": {"id": "u-9", "email": "nine@app.example", "organization": {"id": "org-1"}},
        "tags": {"plan": "pro"},
    });
    for _ in 0..2 {
        let (status, body) = api(&h, Method::POST, "/connections", Some(import.clone())).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = api(
        &h,
        Method::GET,
        "/connections/second?provider_config_key=notion&force_refresh=true",
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("token_request_failed"))
    );
    deliver_all(&h).await;
    let received = bodies(&app.received(), "auth");
    let operations: Vec<&str> = received
        .iter()
        .map(|b| b["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["creation", "override", "refresh"]);
    let created = &received[0];
    assert_eq!(created["type"], "auth");
    assert_eq!(created["success"], true);
    assert_eq!(created["connectionId"], "second");
    assert_eq!(created["providerConfigKey"], "notion");
    assert_eq!(created["provider"], "notion");
    assert_eq!(created["authMode"], "OAUTH2");
    assert_eq!(created["environment"], "dev");
    assert_eq!(created["tags"]["plan"], "pro");
    assert_eq!(
        created["endUser"],
        json!({"endUserId": "u-9", "organizationId": "org-1", "endUserEmail": "nine@app.example", "tags": {}})
    );
    let refresh = &received[2];
    assert_eq!(refresh["success"], false);
    assert_eq!(refresh["error"]["type"], "token_request_failed");
}

async fn webhook_settings_refuse_bad_input(backend: Backend) {
    let h = setup(backend).await;
    for (body, field) in [
        (
            json!({"primary_url": "ftp://app.example/hook"}),
            "primary_url",
        ),
        (json!({"primary_url": "not a url"}), "primary_url"),
        (json!({"secondary_url": 5}), "secondary_url"),
        (json!({"on_sync_error": "yes"}), "on_sync_error"),
        (json!({"retry_window_hours": 0}), "retry_window_hours"),
        (json!({"retry_window_hours": 500}), "retry_window_hours"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, answer) = api(
            &h,
            Method::PATCH,
            "/environment/webhook-settings",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_body");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    for (path, code) in [
        ("/webhooks/deliveries?status=lost", "invalid_query_params"),
        ("/webhooks/deliveries?limit=0", "invalid_query_params"),
        ("/webhooks/deliveries/not-an-id", "invalid_uri_params"),
        (
            "/webhooks/deliveries/00000000-0000-4000-8000-000000000000",
            "unknown_webhook_delivery",
        ),
    ] {
        let (_, answer) = api(&h, Method::GET, path, None).await;
        assert_eq!(answer["error"]["code"], code, "{path}: {answer}");
    }
    // 50 writers at once, half changing the URL and half the retry window: no 5xx, and
    // no update lost (both fields hold a writer's value, not the default).
    let h = &h;
    let statuses = at_once(50, |i| async move {
        let body = if i % 2 == 0 {
            json!({"primary_url": format!("https://app{i}.example/hook")})
        } else {
            json!({"retry_window_hours": 100 + i})
        };
        api(
            h,
            Method::PATCH,
            "/environment/webhook-settings",
            Some(body),
        )
        .await
        .0
    })
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, settings) = api(h, Method::GET, "/environment/webhook-settings", None).await;
    assert!(
        settings["data"]["primary_url"]
            .as_str()
            .unwrap()
            .starts_with("https://app"),
        "{settings}"
    );
    assert!(
        settings["data"]["retry_window_hours"].as_u64().unwrap() > 100,
        "{settings}"
    );
}
