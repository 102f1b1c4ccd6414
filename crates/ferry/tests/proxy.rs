//! The proxy on SQLite and PostgreSQL: Nango's header contract, retries under faults, a
//! `Base-Url-Override` that must keep the provider's origin, untrusted upstream answers, and
//! the operation logs it leaves (secrets redacted, filters, pages, retention).

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness, KEY};

backend_tests!(
    the_proxy_with_headers_and_faults,
    base_url_override_keeps_the_origin,
    untrusted_upstream_answers,
    logs_filter_page_redact_and_expire,
);

async fn proxy(
    h: &Harness,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut all = vec![("Connection-Id", "demo"), ("Provider-Config-Key", "notion")];
    all.extend_from_slice(headers);
    h.request(method, &format!("/proxy{path}"), Some(KEY), &all, body)
        .await
}

fn code(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["error"]["code"].clone()
}

async fn last_proxy_log(h: &Harness) -> Value {
    h.ok(Method::GET, "/logs?type=proxy&limit=1", None).await["data"][0].clone()
}

async fn the_proxy_with_headers_and_faults(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("demo").await;

    let (status, _, body) = proxy(&h, Method::GET, "/v1/users?page_size=2", &[], None).await;
    assert_eq!(status, 200, "{body}");
    let users: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(users["results"].as_array().unwrap().len(), 2);
    // A call answered at its first attempt is logged slim: no headers, no body kept.
    let log = last_proxy_log(&h).await;
    let exchange = &log["exchanges"][0];
    assert_eq!(exchange["status"], 200, "{log}");
    assert_eq!(exchange["method"], "GET");
    assert!(
        exchange["url"]
            .as_str()
            .unwrap()
            .ends_with("/v1/users?page_size=2")
    );
    for field in ["request_headers", "response_headers", "response_body"] {
        assert!(exchange.get(field).is_none(), "{field} in {log}");
    }
    // The integration's default version is 2025-09-03; the caller can override it.
    let (_, _, body) = proxy(
        &h,
        Method::POST,
        "/v1/search",
        &[],
        Some(json!({"page_size": 1})),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["type"],
        "page_or_data_source"
    );
    let (_, _, body) = proxy(
        &h,
        Method::POST,
        "/v1/search",
        &[("Nango-Proxy-Notion-Version", "2022-06-28")],
        Some(json!({"page_size": 1})),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["type"],
        "page_or_database"
    );
    // Empty optional headers, as @nangohq/node sends them, mean absent.
    let (status, _, _) = proxy(
        &h,
        Method::GET,
        "/v1/users/me",
        &[("Base-Url-Override", ""), ("Nango-Activity-Log-Id", "")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Notion's own errors pass through untouched.
    let (status, _, body) = proxy(
        &h,
        Method::GET,
        "/v1/pages/00000000-0000-4000-8000-00000000beef",
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "object_not_found"
    );

    // Header contract errors name the header.
    let (status, _, body) = h
        .request(
            Method::GET,
            "/proxy/v1/users",
            Some(KEY),
            &[("Provider-Config-Key", "notion")],
            None,
        )
        .await;
    assert_eq!((status, code(&body)), (400, json!("missing_headers")));
    assert!(body.contains("Connection-Id"));
    let (status, _, _) = h
        .request(
            Method::GET,
            "/proxy/v1/users",
            Some(KEY),
            &[
                ("Provider-Config-Key", "notion"),
                ("Connection-Id", "nobody"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 404);
    for (header, value) in [("Retries", "many"), ("Retries", "11"), ("Retry-On", "5xx")] {
        let (status, _, body) = proxy(&h, Method::GET, "/v1/users", &[(header, value)], None).await;
        assert_eq!(
            (status, code(&body)),
            (400, json!("invalid_headers")),
            "{header}: {value}"
        );
        assert!(body.contains(header), "{body}");
    }
    for (header, value) in [
        ("Connection-Id", "<script>"),
        ("Provider-Config-Key", "a/b"),
    ] {
        let mut headers = vec![("Connection-Id", "demo"), ("Provider-Config-Key", "notion")];
        headers.retain(|(name, _)| *name != header);
        headers.push((header, value));
        let (status, _, body) = h
            .request(Method::GET, "/proxy/v1/users", Some(KEY), &headers, None)
            .await;
        assert_eq!(
            (status, code(&body)),
            (400, json!("invalid_headers")),
            "{header}: {value}"
        );
        assert!(body.contains(header), "{body}");
    }

    // A 429 with Retry-After: waited out and retried; the caller sees 200.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "status": 429, "retry_after": 1, "count": 1}),
    )
    .await;
    let (status, _, _) = proxy(&h, Method::GET, "/v1/users/me", &[], None).await;
    assert_eq!(status, 200);
    let log = last_proxy_log(&h).await;
    let attempts = log["exchanges"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (
            attempts[0]["status"].as_u64(),
            attempts[1]["status"].as_u64()
        ),
        (Some(429), Some(200))
    );
    assert!(attempts[1]["waited_ms"].as_u64().unwrap() >= 950, "{log}");
    // A retried call keeps every attempt whole, secrets redacted.
    for attempt in attempts {
        assert_eq!(attempt["request_headers"]["authorization"], "[redacted]");
        assert_eq!(attempt["request_headers"]["notion-version"], "2025-09-03");
        assert!(attempt["response_headers"].is_object(), "{log}");
    }

    // 503s: retried for GET when asked, never for POST.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/users", "status": 503, "count": 2}),
    )
    .await;
    let (status, _, _) = proxy(&h, Method::GET, "/v1/users", &[("Retries", "2")], None).await;
    assert_eq!(status, 200);
    let statuses: Vec<u64> = last_proxy_log(&h).await["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": "/v1/search", "status": 503, "count": 1}),
    )
    .await;
    let (status, _, _) = proxy(
        &h,
        Method::POST,
        "/v1/search",
        &[("Retries", "3")],
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(
        last_proxy_log(&h).await["exchanges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Retry-On makes any listed status retryable.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": "/v1/search", "status": 409, "count": 1}),
    )
    .await;
    let (status, _, _) = proxy(
        &h,
        Method::POST,
        "/v1/search",
        &[("Retries", "1"), ("Retry-On", "409")],
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);

    // A dropped connection, retried; then not retried, and answered as unreachable.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "drop_connection": true, "count": 1}),
    )
    .await;
    let (status, _, _) = proxy(&h, Method::GET, "/v1/users/me", &[("Retries", "1")], None).await;
    assert_eq!(status, 200);
    let log = last_proxy_log(&h).await;
    assert!(log["exchanges"][0]["error"].is_string(), "{log}");
    assert_eq!(log["exchanges"][1]["status"], 200);
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "drop_connection": true, "count": 1}),
    )
    .await;
    let (status, _, body) = proxy(&h, Method::GET, "/v1/users/me", &[], None).await;
    assert_eq!(
        (status, code(&body)),
        (502, json!("proxy_upstream_unreachable"))
    );
}

async fn base_url_override_keeps_the_origin(backend: Backend) {
    let allowed = "http://127.0.0.1:9";
    let h = Harness::start_with(
        backend,
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        &[("FERRY_PROXY_ALLOWED_ORIGINS", allowed)],
    )
    .await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("demo").await;
    let emulator = url::Url::parse(&h.emulator.base_url()).unwrap();
    let port = emulator.port().unwrap();
    let (status, _, _) = proxy(
        &h,
        Method::GET,
        "/v1/users/me",
        &[("Base-Url-Override", &h.emulator.base_url())],
        None,
    )
    .await;
    assert_eq!(status, 200, "the provider's own origin is allowed");
    for refused in [
        "https://evil.example.com".to_string(),
        // The provider's host on another port, or another scheme, would receive the token.
        format!("http://127.0.0.1:{}", port + 1),
        format!("https://127.0.0.1:{port}"),
        "http://127.0.0.1:10".to_string(),
    ] {
        let (status, _, body) = proxy(
            &h,
            Method::GET,
            "/v1/users/me",
            &[("Base-Url-Override", &refused)],
            None,
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (403, json!("base_url_override_not_allowed")),
            "{refused}"
        );
    }
    for bad in ["not a url", "ftp://127.0.0.1/"] {
        let (status, _, body) = proxy(
            &h,
            Method::GET,
            "/v1/users/me",
            &[("Base-Url-Override", bad)],
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // An allowed origin is reached (nothing listens there: unreachable, not refused).
    let (status, _, body) = proxy(
        &h,
        Method::GET,
        "/v1/users/me",
        &[("Base-Url-Override", allowed)],
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (502, json!("proxy_upstream_unreachable"))
    );
}

/// A provider that answers with what Ferry must not trust: absurd `Retry-After` values and
/// an HTML body, once with a NUL character (PostgreSQL text cannot hold a raw one).
async fn hostile_upstream() -> String {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::any(|uri: axum::http::Uri| async move {
            let mut headers = HeaderMap::new();
            let retry_after = match uri.path() {
                "/inf" => "inf",
                "/huge" => "1e400",
                "/long" => "99999999999999999999999999",
                "/negative" => "-5",
                _ => "soon",
            };
            headers.insert("retry-after", retry_after.parse().unwrap());
            headers.insert("content-type", "text/html".parse().unwrap());
            let body = match uri.path() {
                "/nul" => "<html><b>down</b>\u{0}</html>",
                _ => "<html><b>down</b></html>",
            };
            (StatusCode::SERVICE_UNAVAILABLE, headers, body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn untrusted_upstream_answers(backend: Backend) {
    let hostile = hostile_upstream().await;
    let h = Harness::start_with(
        backend,
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        &[("FERRY_PROXY_ALLOWED_ORIGINS", &hostile)],
    )
    .await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("demo").await;
    for path in ["/inf", "/huge", "/long", "/negative", "/soon", "/nul"] {
        let (status, _, body) = proxy(
            &h,
            Method::GET,
            path,
            &[("Base-Url-Override", &hostile)],
            None,
        )
        .await;
        assert_eq!(
            status, 503,
            "{path}: the answer passes through, nothing panics"
        );
        assert!(body.contains("down"));
    }
    let logs = h.ok(Method::GET, "/logs?type=proxy&limit=10", None).await;
    assert_eq!(
        logs["data"].as_array().unwrap().len(),
        6,
        "every call is logged"
    );
    assert_eq!(
        logs["data"][0]["exchanges"][0]["response_body"], "<html><b>down</b>\u{0}</html>",
        "a NUL in an answer is kept, escaped, and does not stop the log writer"
    );
}

async fn logs_filter_page_redact_and_expire(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("demo").await;
    h.import_demo_connection("other").await;
    for _ in 0..5 {
        proxy(&h, Method::GET, "/v1/users/me", &[], None).await;
    }
    h.request(
        Method::GET,
        "/proxy/v1/users/me",
        Some(KEY),
        &[
            ("Connection-Id", "other"),
            ("Provider-Config-Key", "notion"),
        ],
        None,
    )
    .await;
    let demo = h
        .ok(Method::GET, "/logs?connection_id=demo&type=proxy", None)
        .await;
    assert_eq!(demo["data"].as_array().unwrap().len(), 5);
    let mut seen: Vec<String> = h
        .all_logs("limit=2")
        .await
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), 6);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "no operation twice");
    let one = &h.ok(Method::GET, "/logs?limit=1", None).await["data"][0];
    assert_eq!(
        h.ok(
            Method::GET,
            &format!("/logs/{}", one["id"].as_str().unwrap()),
            None
        )
        .await["data"]["id"],
        one["id"]
    );
    for bad in [
        "/logs?type=bogus",
        "/logs?after=yesterday",
        "/logs?cursor=%%%",
        "/logs?limit=0",
        "/logs?colour=blue",
    ] {
        h.fails(Method::GET, bad, None, 400, "invalid_query_params")
            .await;
    }
    h.fails(
        Method::GET,
        "/logs/not-an-id",
        None,
        400,
        "invalid_uri_params",
    )
    .await;
    h.fails(
        Method::GET,
        "/logs/0190a0b0-0000-7000-8000-000000000001",
        None,
        404,
        "unknown_log",
    )
    .await;
    assert_eq!(
        h.ok(Method::GET, "/logs?after=2999-01-01T00:00:00Z", None)
            .await["data"],
        json!([])
    );

    // Secret query parameters never reach the log.
    proxy(
        &h,
        Method::GET,
        "/v1/users/me?access_token=hunter2&page_size=1",
        &[],
        None,
    )
    .await;
    let logged = last_proxy_log(&h).await.to_string();
    assert!(!logged.contains("hunter2"), "{logged}");
    assert!(
        logged.contains("access_token=[redacted]&page_size=1"),
        "{logged}"
    );

    // Retention: an operation older than the retention window is pruned.
    let env = h.dev().await;
    let old = h.engine.logs().recorder(
        &env.id,
        ferry_engine::logs::OperationKind::Proxy,
        None,
        None,
    );
    let old_id = old.id();
    old.finish(true, None);
    h.engine.logs().flush_now().await;
    // Backdate it past the window, as time would.
    let sql = format!(
        "UPDATE operations SET started_at = '2000-01-01T00:00:00.000Z' WHERE id = '{old_id}'"
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.db.url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(h.engine.logs().prune_now().await.unwrap() >= 1);
    h.fails(
        Method::GET,
        &format!("/logs/{old_id}"),
        None,
        404,
        "unknown_log",
    )
    .await;
    assert_eq!(h.all_logs("limit=100").await.len(), 7);

    // A batch larger than one INSERT statement is written whole, in time order.
    for i in 0..250 {
        let mut op = h.engine.logs().recorder(
            &env.id,
            ferry_engine::logs::OperationKind::Proxy,
            None,
            None,
        );
        op.set_message(format!("call {i}"));
        op.finish(true, None);
    }
    assert_eq!(h.engine.logs().flush_now().await, 250);
    let messages: Vec<Value> = h
        .all_logs("type=proxy&limit=100")
        .await
        .into_iter()
        .filter(|o| {
            o["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("call "))
        })
        .map(|o| o["message"].clone())
        .collect();
    assert_eq!(messages.len(), 250);
    assert_eq!(messages[0], "call 249", "newest first");
    assert_eq!(messages[249], "call 0");
}
