//! Actions triggered with `X-Async: true` on both backends: queued durably, run by a worker
//! unit, polled with `GET /action/:id`, retried, put back by a stopping worker, taken again
//! after a dead worker's lease, and 50 at once drained by two engines, each run once.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::actions::{HEADERS, find, ok, setup};
use support::{Backend, Harness, at_once};

backend_tests!(async_actions_run_once_and_keep_their_result);

async fn trigger_async(
    h: &Harness,
    action: &str,
    input: Value,
    extra: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut headers = HEADERS.to_vec();
    if !extra.iter().any(|(name, _)| *name == "X-Async") {
        headers.push(("X-Async", "true"));
    }
    headers.extend_from_slice(extra);
    let (status, response_headers, text) = h
        .request(
            Method::POST,
            "/action/trigger",
            Some(support::KEY),
            &headers,
            Some(json!({"action_name": action, "input": input})),
        )
        .await;
    let location = response_headers
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        location,
    )
}

async fn poll(h: &Harness, status_url: &str) -> (u16, Value) {
    let (status, _, text) = h
        .request(Method::GET, status_url, Some(support::KEY), &[], None)
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs every due async action; returns how many ran.
async fn drain(engine: &ferry_engine::Engine) -> usize {
    let mut ran = 0;
    while engine.async_actions().run_next().await.unwrap() {
        ran += 1;
    }
    ran
}

/// `X-Async: true`: queued durably, run by a worker unit, polled with `GET /action/:id`
/// (404 until it ends, as Nango answers), failures kept with their code, retries when the
/// provider may recover, a stopping worker putting its run back, a dead worker's run taken
/// again once its lease is over, and 50 queued at once each run exactly once, by two
/// processes draining together.
async fn async_actions_run_once_and_keep_their_result(backend: Backend) {
    let h = setup(backend).await;
    let tasks = find(&h, "data_source", "Tasks").await;
    let tasks_db = tasks["parent"]["database_id"].as_str().unwrap().to_string();

    let (status, body, location) =
        trigger_async(&h, "fetch-database", json!({"databaseId": tasks_db}), &[]).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let status_url = body["statusUrl"].as_str().unwrap().to_string();
    assert_eq!(status_url, format!("/action/{id}"));
    assert_eq!(location.as_deref(), Some(status_url.as_str()));
    let (status, waiting) = poll(&h, &status_url).await;
    assert_eq!(
        (status, waiting["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(drain(&h.engine).await, 1);
    let (status, output) = poll(&h, &status_url).await;
    assert_eq!(status, 200, "{output}");
    assert_eq!(output["entries"].as_array().unwrap().len(), 24);

    // Failures keep their code: Notion's refusal, and a wrong input found when it runs.
    let (_, missing, _) = trigger_async(
        &h,
        "retrieve-page",
        json!({"page_id": "00000000000000000000000000000000"}),
        &[("X-Max-Retries", "3")],
    )
    .await;
    let (_, wrong, _) = trigger_async(&h, "retrieve-page", json!({"page_id": 7}), &[]).await;
    assert_eq!(drain(&h.engine).await, 2);
    let (status, body) = poll(&h, missing["statusUrl"].as_str().unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["payload"]["code"], "object_not_found");
    let (status, body) = poll(&h, wrong["statusUrl"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_action_input"))
    );
    assert_eq!(body["error"]["payload"]["field"], "page_id");

    // What the trigger can check is refused at once.
    let (status, body, _) = trigger_async(&h, "no-such-action", json!({}), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_action"))
    );
    for (header, value) in [
        ("X-Max-Retries", "6"),
        ("X-Max-Retries", "-1"),
        ("X-Async", "yes"),
    ] {
        let (status, body, _) =
            trigger_async(&h, "get-bot-user", json!({}), &[(header, value)]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_headers")),
            "{header}: {value}"
        );
    }
    h.fails(
        Method::GET,
        "/action/not-a-uuid",
        None,
        400,
        "invalid_uri_params",
    )
    .await;
    h.fails(
        Method::GET,
        "/action/6b1d5a0e-8d0a-4c39-9b39-3f1f8f6a5e11",
        None,
        404,
        "not_found",
    )
    .await;

    // A 5xx that outlasts the client's own retries: retried later, as X-Max-Retries allows.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/users/me", "status": 503, "code": "service_unavailable", "count": 4}),
    )
    .await;
    let (_, flaky, _) =
        trigger_async(&h, "get-bot-user", json!({}), &[("X-Max-Retries", "1")]).await;
    let flaky_url = flaky["statusUrl"].as_str().unwrap();
    assert_eq!(drain(&h.engine).await, 1);
    assert_eq!(poll(&h, flaky_url).await.0, 404, "waiting for its retry");
    assert_eq!(drain(&h.engine).await, 0, "the retry is not due yet");
    h.db_texts("UPDATE async_actions SET run_after = '2000-01-01T00:00:00.000000Z' WHERE status = 'pending' RETURNING id").await;
    assert_eq!(drain(&h.engine).await, 1);
    let (status, bot) = poll(&h, flaky_url).await;
    assert_eq!((status, bot["type"].as_str()), (200, Some("bot")), "{bot}");

    // A worker that stops puts its run back uncounted; a dead worker's run is taken again
    // when its lease is over, and fails once its retries are spent.
    let (_, stopped, _) = trigger_async(&h, "get-bot-user", json!({}), &[]).await;
    assert!(
        h.engine
            .async_actions()
            .run_next_unless(std::future::ready(()))
            .await
            .unwrap()
    );
    assert_eq!(
        h.db_texts(&format!(
            "SELECT status || ':' || CAST(attempts AS TEXT) FROM async_actions WHERE id = '{}'",
            stopped["id"].as_str().unwrap()
        ))
        .await,
        ["pending:0"]
    );
    assert_eq!(drain(&h.engine).await, 1);
    assert_eq!(
        poll(&h, stopped["statusUrl"].as_str().unwrap()).await.0,
        200
    );
    let (_, died, _) = trigger_async(&h, "get-bot-user", json!({}), &[]).await;
    let died_id = died["id"].as_str().unwrap();
    h.db_texts(&format!("UPDATE async_actions SET status = 'running', attempts = 1, run_after = '2000-01-01T00:00:00.000000Z' WHERE id = '{died_id}' RETURNING id")).await;
    assert_eq!(drain(&h.engine).await, 1);
    let (status, body) = poll(&h, died["statusUrl"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("action_interrupted")),
        "{body}"
    );

    // 50 at once, drained by two processes together: each runs exactly once.
    let before = ok(&h, "fetch-database", json!({"databaseId": tasks_db})).await["entries"]
        .as_array()
        .unwrap()
        .len();
    let queued = at_once(50, |i| {
        let h = &h;
        let tasks_db = tasks_db.clone();
        async move {
            trigger_async(
                h,
                "create-database-row",
                json!({"databaseId": tasks_db, "properties": {"Name": format!("Queued {i}")}}),
                &[],
            )
            .await
        }
    })
    .await;
    let mut urls = std::collections::BTreeSet::new();
    for (status, body, _) in &queued {
        assert_eq!(*status, 202, "{body}");
        urls.insert(body["statusUrl"].as_str().unwrap().to_string());
    }
    assert_eq!(urls.len(), 50);
    let second = h.second_engine().await;
    let (a, b) = tokio::join!(drain(&h.engine), drain(&second));
    assert_eq!(a + b, 50);
    for url in &urls {
        let (status, body) = poll(&h, url).await;
        assert_eq!(
            (status, body["success"].as_bool()),
            (200, Some(true)),
            "{body}"
        );
    }
    let after = ok(&h, "fetch-database", json!({"databaseId": tasks_db})).await;
    assert_eq!(after["entries"].as_array().unwrap().len(), before + 50);
}
