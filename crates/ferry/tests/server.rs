//! Ferry's server against the real Notion emulator, on SQLite and PostgreSQL: keys and
//! environments, providers, integrations, connections, the OAuth dance and its failures,
//! the proxy under faults, and operation logs.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness, KEY, backends};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_environments() {
    for backend in backends() {
        let h = Harness::start(backend).await;
        let (status, _, body) = h
            .request(Method::GET, "/integrations", None, &[], None)
            .await;
        assert_eq!(status, 401, "{backend:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
            "unknown_account"
        );
        let (status, _, _) = h
            .request(
                Method::GET,
                "/integrations",
                Some("not-the-key-at-all"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 401);
        // The key is stored hashed, never in clear.
        let stored: Vec<String> = sqlx::query_scalar("SELECT secret_key_hash FROM environments")
            .fetch_all(&h.engine.store.pool)
            .await
            .unwrap();
        assert!(stored.iter().all(|s| s != KEY && s.len() == 64));

        // A second environment's key sees only its own data.
        h.engine
            .store
            .create_environment("prod", "prod-secret-key-0123456789")
            .await
            .unwrap();
        h.notion_integration("emulator-client-secret").await;
        let (status, _, body) = h
            .request(
                Method::GET,
                "/integrations",
                Some("prod-secret-key-0123456789"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["data"],
            json!([])
        );
        let (status, _, _) = h
            .request(
                Method::GET,
                "/integrations/notion",
                Some("prod-secret-key-0123456789"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 404);
        h.import_demo_connection("c1").await;
        let (status, _, _) = h
            .request(
                Method::GET,
                "/connections/c1?provider_config_key=notion",
                Some("prod-secret-key-0123456789"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _, _) = h
            .request(
                Method::GET,
                "/proxy/v1/users/me",
                Some("prod-secret-key-0123456789"),
                &[("Connection-Id", "c1"), ("Provider-Config-Key", "notion")],
                None,
            )
            .await;
        assert_eq!(status, 404);
        h.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_and_integrations() {
    for backend in backends() {
        let h = Harness::start(backend).await;
        let providers = h.ok(Method::GET, "/providers", None).await;
        let notion = &providers["data"][0];
        assert_eq!(notion["name"], "notion");
        assert_eq!(
            notion["authorization_url"],
            format!("{}/v1/oauth/authorize", h.emulator.base_url())
        );
        assert_eq!(notion["authorization_method"], "header");
        assert_eq!(notion["body_format"], "json");
        assert_eq!(
            h.ok(Method::GET, "/providers/notion", None).await["data"]["proxy"]["base_url"],
            h.emulator.base_url()
        );
        assert_eq!(h.api(Method::GET, "/providers/slack", None).await.0, 404);

        h.notion_integration("emulator-client-secret").await;
        let (status, dup) = h
            .api(
                Method::POST,
                "/integrations",
                Some(json!({"provider": "notion", "unique_key": "notion"})),
            )
            .await;
        assert_eq!(
            (status, dup["error"]["code"].as_str()),
            (409, Some("duplicate_integration")),
            "{backend:?}"
        );
        let (status, bad) = h
            .api(
                Method::POST,
                "/integrations",
                Some(json!({"provider": "nope", "unique_key": "x"})),
            )
            .await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("invalid_provider"))
        );
        let (status, bad) = h
            .api(
                Method::POST,
                "/integrations",
                Some(json!({"provider": "notion", "unique_key": "bad key!"})),
            )
            .await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("invalid_body"))
        );
        let (status, bad) = h.api(Method::POST, "/integrations", Some(json!({"provider": "notion", "unique_key": "n2", "integration_config": {"rate_limit": -1}}))).await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("invalid_body"))
        );
        let (status, bad) = h
            .api(Method::POST, "/integrations", Some(json!({"provider": 3})))
            .await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("invalid_body"))
        );

        let list = h.ok(Method::GET, "/integrations", None).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert!(list["data"][0].get("credentials").is_none());
        let with = h
            .ok(
                Method::GET,
                "/integrations/notion?include=credentials&include=webhook",
                None,
            )
            .await;
        assert_eq!(
            with["data"]["credentials"]["client_secret"],
            "emulator-client-secret"
        );
        assert!(
            with["data"]["webhook_url"]
                .as_str()
                .unwrap()
                .contains("/webhook/")
        );
        // The client secret is encrypted at rest.
        let sealed: String = sqlx::query_scalar("SELECT client_secret_enc FROM integrations")
            .fetch_one(&h.engine.store.pool)
            .await
            .unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("emulator-client-secret"));

        let updated = h.ok(Method::PATCH, "/integrations/notion", Some(json!({"display_name": "Notion (work)", "integration_config": {"notion_version": "2022-06-28"}}))).await;
        assert_eq!(updated["data"]["display_name"], "Notion (work)");
        assert_eq!(
            updated["data"]["integration_config"]["notion_version"],
            "2022-06-28"
        );
        h.ok(Method::DELETE, "/integrations/notion", None).await;
        assert_eq!(
            h.api(Method::GET, "/integrations/notion", None).await.0,
            404
        );
        assert_eq!(
            h.api(Method::DELETE, "/integrations/notion", None).await.0,
            404
        );
        h.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_crud_and_metadata() {
    for backend in backends() {
        let h = Harness::start(backend).await;
        h.notion_integration("emulator-client-secret").await;
        for (id, user) in [("a", "alice"), ("b", "bob"), ("c", "alice")] {
            h.ok(Method::POST, "/connections", Some(json!({
                "provider_config_key": "notion",
                "connection_id": id,
                "credentials": {"type": "OAUTH2", "access_token": format!("ntn_token_{id}"), "refresh_token": format!("nrt_{id}")},
                "end_user": {"id": user},
                "metadata": {"n": 1},
            })))
            .await;
        }
        let (status, bad) = h.api(Method::POST, "/connections", Some(json!({"provider_config_key": "missing", "credentials": {"type": "OAUTH2", "access_token": "x"}}))).await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (404, Some("unknown_provider_config")),
            "{backend:?}"
        );
        let (status, _) = h
            .api(
                Method::POST,
                "/connections",
                Some(json!({"provider_config_key": "notion"})),
            )
            .await;
        assert_eq!(status, 400);

        let all = h.ok(Method::GET, "/connections", None).await;
        assert_eq!(all["connections"].as_array().unwrap().len(), 3);
        let alice = h
            .ok(Method::GET, "/connections?endUserId=alice", None)
            .await;
        assert_eq!(alice["connections"].as_array().unwrap().len(), 2);
        let one = h
            .ok(
                Method::GET,
                "/connections?connectionId=b&integrationId=notion",
                None,
            )
            .await;
        assert_eq!(one["connections"][0]["connection_id"], "b");
        let paged = h.ok(Method::GET, "/connections?limit=2&page=1", None).await;
        assert_eq!(paged["connections"].as_array().unwrap().len(), 1);
        assert_eq!(
            h.ok(Method::GET, "/connections?search=B", None).await["connections"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            h.api(Method::GET, "/connections?limit=0", None).await.0,
            400
        );

        let full = h
            .ok(
                Method::GET,
                "/connections/a?provider_config_key=notion",
                None,
            )
            .await;
        assert_eq!(full["credentials"]["access_token"], "ntn_token_a");
        assert!(
            full["credentials"].get("refresh_token").is_none(),
            "hidden unless asked"
        );
        let with_refresh = h
            .ok(
                Method::GET,
                "/connections/a?provider_config_key=notion&refresh_token=true",
                None,
            )
            .await;
        assert_eq!(with_refresh["credentials"]["refresh_token"], "nrt_a");
        assert_eq!(
            h.api(
                Method::GET,
                "/connections/zzz?provider_config_key=notion",
                None
            )
            .await
            .1["error"]["code"],
            "unknown_connection"
        );
        assert_eq!(
            h.api(Method::GET, "/connections/a", None).await.1["error"]["code"],
            "missing_provider_config_key"
        );
        let sealed: Vec<String> = sqlx::query_scalar("SELECT credentials_enc FROM connections")
            .fetch_all(&h.engine.store.pool)
            .await
            .unwrap();
        assert!(
            sealed
                .iter()
                .all(|s| s.starts_with("v1:") && !s.contains("ntn_token"))
        );

        let patched = h
            .ok(
                Method::PATCH,
                "/connections/a?provider_config_key=notion",
                Some(json!({"end_user": {"id": "carol"}, "tags": {"plan": "pro"}})),
            )
            .await;
        assert_eq!(patched["end_user"]["id"], "carol");
        assert_eq!(patched["tags"]["plan"], "pro");

        h.ok(Method::POST, "/connections/metadata", Some(json!({"connection_id": ["a", "b"], "provider_config_key": "notion", "metadata": {"x": 1}}))).await;
        h.ok(Method::PATCH, "/connections/metadata", Some(json!({"connection_id": "a", "provider_config_key": "notion", "metadata": {"y": 2}}))).await;
        assert_eq!(
            h.ok(
                Method::GET,
                "/connections/a?provider_config_key=notion",
                None
            )
            .await["metadata"],
            json!({"x": 1, "y": 2})
        );
        assert_eq!(
            h.ok(
                Method::GET,
                "/connections/b?provider_config_key=notion",
                None
            )
            .await["metadata"],
            json!({"x": 1})
        );
        let (status, _) = h.api(Method::POST, "/connections/metadata", Some(json!({"connection_id": "nope", "provider_config_key": "notion", "metadata": {}}))).await;
        assert_eq!(status, 404);

        h.ok(
            Method::DELETE,
            "/connections/c?provider_config_key=notion",
            None,
        )
        .await;
        assert_eq!(
            h.api(
                Method::GET,
                "/connections/c?provider_config_key=notion",
                None
            )
            .await
            .0,
            404
        );
        h.finish().await;
    }
}

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

async fn last_proxy_log(h: &Harness) -> Value {
    h.ok(Method::GET, "/logs?type=proxy&limit=1", None).await["data"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_with_headers_and_faults() {
    for backend in backends() {
        let h = Harness::start(backend).await;
        h.notion_integration("emulator-client-secret").await;
        h.import_demo_connection("demo").await;

        let (status, _, body) = proxy(&h, Method::GET, "/v1/users?page_size=2", &[], None).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let users: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(users["results"].as_array().unwrap().len(), 2);
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
        // A write with a body.
        let (status, _, body) = proxy(&h, Method::POST, "/v1/comments", &[], Some(json!({"parent": {"page_id": "00000000-0000-4000-8000-00000000beef"}, "rich_text": []}))).await;
        assert_eq!(status, 404, "{body}");

        // Header contract errors.
        let (status, _, body) = h
            .request(
                Method::GET,
                "/proxy/v1/users",
                Some(KEY),
                &[("Provider-Config-Key", "notion")],
                None,
            )
            .await;
        assert_eq!(
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap()["error"]["code"].clone()
            ),
            (400, json!("missing_headers"))
        );
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
        let (status, _, body) = proxy(
            &h,
            Method::GET,
            "/v1/users",
            &[("Base-Url-Override", "https://evil.example.com")],
            None,
        )
        .await;
        assert_eq!(
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap()["error"]["code"].clone()
            ),
            (403, json!("base_url_override_not_allowed"))
        );
        let (status, _, _) = proxy(
            &h,
            Method::GET,
            "/v1/users/me",
            &[("Base-Url-Override", &h.emulator.base_url())],
            None,
        )
        .await;
        assert_eq!(status, 200, "the provider's own host is allowed");
        let (status, _, _) =
            proxy(&h, Method::GET, "/v1/users", &[("Retries", "many")], None).await;
        assert_eq!(status, 400);

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
        assert_eq!(
            attempts[0]["request_headers"]["authorization"],
            "[redacted]"
        );

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

        // A dropped connection, retried.
        h.emulator_admin(
            Method::POST,
            "/_emulator/faults",
            json!({"path": "/v1/users/me", "drop_connection": true, "count": 1}),
        )
        .await;
        let (status, _, _) =
            proxy(&h, Method::GET, "/v1/users/me", &[("Retries", "1")], None).await;
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
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap()["error"]["code"].clone()
            ),
            (502, json!("proxy_upstream_unreachable"))
        );
        h.finish().await;
    }
}

/// Every operation `GET /logs?{query}` lists, following `next_cursor` page by page.
async fn all_logs(h: &Harness, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/logs?{query}&cursor={c}"),
            None => format!("/logs?{query}"),
        };
        let page = h.ok(Method::GET, &path, None).await;
        all.extend(page["data"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filter_page_and_expire() {
    for backend in backends() {
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
        assert_eq!(demo["data"].as_array().unwrap().len(), 5, "{backend:?}");
        let mut seen: Vec<String> = all_logs(&h, "limit=2")
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
        assert_eq!(h.api(Method::GET, "/logs?type=bogus", None).await.0, 400);
        assert_eq!(
            h.api(Method::GET, "/logs?after=yesterday", None).await.0,
            400
        );
        assert_eq!(h.api(Method::GET, "/logs?cursor=%%%", None).await.0, 400);
        let future = h
            .ok(Method::GET, "/logs?after=2999-01-01T00:00:00Z", None)
            .await;
        assert_eq!(future["data"], json!([]));

        // Retention: an operation older than the retention window is pruned.
        let mut old = ferry_engine::logs::Recorder::start(
            &h.engine
                .store
                .environment_by_name("dev")
                .await
                .unwrap()
                .unwrap()
                .id,
            "proxy",
            Some("notion"),
            Some("demo"),
        );
        old.op.started_at = ferry_store::ts(chrono::Utc::now() - chrono::Duration::days(45));
        old.finish(true, None);
        h.engine.save_operation(&old).await;
        assert_eq!(
            h.ok(Method::GET, "/logs?connection_id=demo", None).await["data"]
                .as_array()
                .unwrap()
                .len(),
            6
        );
        assert!(h.engine.prune_now().await.unwrap() >= 1);
        assert_eq!(
            h.ok(Method::GET, "/logs?connection_id=demo", None).await["data"]
                .as_array()
                .unwrap()
                .len(),
            5
        );

        // A batch larger than one INSERT statement is written whole, in time order.
        let env_id = h.dev_environment_id().await;
        for i in 0..250 {
            let mut op =
                ferry_engine::logs::Recorder::start(&env_id, "proxy", Some("notion"), Some("bulk"));
            op.finish(true, Some(format!("call {i}")));
            h.engine.queue_operation(op);
        }
        assert_eq!(h.engine.flush_logs().await, 250);
        let messages: Vec<Value> = all_logs(&h, "connection_id=bulk&limit=100")
            .await
            .into_iter()
            .map(|o| o["message"].clone())
            .collect();
        assert_eq!(messages.len(), 250, "{backend:?}");
        assert_eq!(messages[0], "call 249", "newest first");
        assert_eq!(messages[249], "call 0");
        h.finish().await;
    }
}

#[test]
fn backends_cover_postgres_when_configured() {
    let list = backends();
    assert_eq!(list[0], Backend::Sqlite);
    assert_eq!(
        list.contains(&Backend::Postgres),
        std::env::var("FERRY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
    );
}
