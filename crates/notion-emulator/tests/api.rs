//! Behaviour of the emulated API that clients trip on: errors and their codes, path-style
//! validation messages, pagination, filters and sorts, the 10,000-result cap, version
//! differences, sharing, the rate limit, injected faults and the admin API.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, TOKEN, V2025};

#[tokio::test]
async fn errors_have_notions_codes() {
    let emu = Emu::start().await;
    let auth = format!("Bearer {TOKEN}");
    let (status, headers, body) = emu
        .raw(Method::GET, "/v1/users", &[("authorization", &auth)], None)
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "missing_version")
    );
    assert!(headers.contains_key("x-notion-request-id"));

    let (status, code, message) = emu
        .error("2021-01-01", Method::GET, "/v1/users", None)
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    assert!(message.contains("Notion-Version"), "{message}");

    let (status, _, body) = emu
        .raw(Method::GET, "/v1/users", &[("notion-version", V2025)], None)
        .await;
    assert_eq!(
        (
            status,
            serde_json::from_slice::<Value>(&body).unwrap()["code"].clone()
        ),
        (401, json!("unauthorized"))
    );
    let (status, code) = {
        let (s, b) = emu
            .call_as("ntn_wrong", V2025, Method::GET, "/v1/users", None)
            .await;
        (s, b["code"].clone())
    };
    assert_eq!((status, code), (401, json!("unauthorized")));

    assert_eq!(
        emu.error(V2025, Method::GET, "/v1/nothing/here", None)
            .await
            .1,
        "invalid_request_url"
    );
    assert_eq!(
        emu.error(V2025, Method::DELETE, "/v1/users", None).await.1,
        "invalid_request_url"
    );
    let (status, code, message) = emu
        .error(V2025, Method::GET, "/v1/pages/not-an-id", None)
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    assert!(message.contains("path.page_id"), "{message}");
    let (status, code, message) = emu
        .error(
            V2025,
            Method::GET,
            "/v1/pages/00000000-0000-4000-8000-00000000beef",
            None,
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));
    assert!(message.contains("shared with your integration"));
    // Ids work without dashes too.
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let page = emu
        .get(V2025, &format!("/v1/pages/{}", handbook.replace('-', "")))
        .await;
    assert_eq!(page["id"], handbook);
}

/// What a bad request must get back.
enum Expect {
    /// This status and Notion error code.
    Code(u16, &'static str),
    /// A `validation_error` with exactly this message.
    Message(&'static str),
    /// A `validation_error` whose message contains this.
    Mentions(&'static str),
}

#[tokio::test]
async fn bad_bodies_get_validation_errors_and_never_crash() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let children = format!("/v1/blocks/{handbook}/children");
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("notion-version", V2025)];
    let json = |value: Value| value.to_string().into_bytes();
    let too_many: Vec<Value> = (0..101).map(|_| json!({"divider": {}})).collect();
    let cases: Vec<(Method, &str, Vec<u8>, Expect)> = vec![
        (
            Method::PATCH,
            &children,
            b"{\"children\": [".to_vec(),
            Expect::Code(400, "invalid_json"),
        ),
        (
            Method::POST,
            "/v1/search",
            ("[".repeat(100_000) + &"]".repeat(100_000)).into_bytes(),
            Expect::Code(400, "invalid_json"),
        ),
        (
            Method::POST,
            "/v1/search",
            format!("{{\"query\": \"{}\"}}", "x".repeat(2_000_000)).into_bytes(),
            Expect::Code(413, ""),
        ),
        (
            Method::PATCH,
            &children,
            json(json!({"children": [
                {"paragraph": {"rich_text": [{"text": {"content": "ok"}}]}},
                {"paragraph": {"rich_text": [{"text": {"content": "y".repeat(2345)}}]}},
            ]})),
            Expect::Message(
                "body failed validation: body.children[1].paragraph.rich_text[0].text.content.length should be ≤ `2000`, instead was `2345`.",
            ),
        ),
        (
            Method::PATCH,
            &children,
            json(json!({"children": [{"paragraph": {"rich_text": 3}}]})),
            Expect::Message(
                "body failed validation: body.children[0].paragraph.rich_text should be an array, instead was `3`.",
            ),
        ),
        (
            Method::PATCH,
            &children,
            json(json!({})),
            Expect::Message(
                "body failed validation: body.children should be defined, instead was `undefined`.",
            ),
        ),
        (
            Method::PATCH,
            &children,
            json(json!({"children": too_many})),
            Expect::Mentions("body.children.length should be ≤ `100`"),
        ),
        (
            Method::PATCH,
            &children,
            json(
                json!({"children": [{"toggle": {"rich_text": [], "children": [{"toggle": {"rich_text": [], "children": [{"toggle": {"rich_text": [], "children": [{"divider": {}}]}}]}}]}}]}),
            ),
            Expect::Mentions(
                "body.children[0].toggle.children[0].toggle.children[0].toggle.children",
            ),
        ),
        (
            Method::PATCH,
            &children,
            json(json!({"children": [{"child_page": {"title": "x"}}]})),
            Expect::Mentions("can be created"),
        ),
        (
            Method::POST,
            "/v1/pages",
            json(
                json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": 5}}]}}}),
            ),
            Expect::Code(400, "validation_error"),
        ),
        (
            Method::POST,
            "/v1/pages",
            json(json!([1, 2, 3])),
            Expect::Code(400, "validation_error"),
        ),
    ];
    for (method, path, body, expect) in cases {
        let (status, _, answer) = emu.raw(method.clone(), path, &headers, Some(body)).await;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let message = answer["message"].as_str().unwrap_or_default();
        match expect {
            Expect::Code(want, code) => {
                assert_eq!(status, want, "{method} {path}: {answer}");
                if !code.is_empty() {
                    assert_eq!(answer["code"], code, "{method} {path}");
                }
            }
            Expect::Message(want) => {
                assert_eq!(
                    (status, answer["code"].as_str()),
                    (400, Some("validation_error"))
                );
                assert_eq!(message, want);
            }
            Expect::Mentions(part) => {
                assert_eq!(
                    (status, answer["code"].as_str()),
                    (400, Some("validation_error"))
                );
                assert!(message.contains(part), "{message}");
            }
        }
    }
    // Still serving.
    emu.get(V2025, "/v1/users/me").await;
}

#[tokio::test]
async fn lists_page_with_opaque_cursors() {
    let emu = Emu::start().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?page_size=1&start_cursor={c}"),
            None => "/v1/users?page_size=1".to_string(),
        };
        let page = emu.get(V2025, &path).await;
        assert_eq!(page["type"], "user");
        assert_eq!(page["user"], json!({}));
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].clone()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_string);
        assert_eq!(page["has_more"], cursor.is_some());
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "three people and the caller's bot");
    for bad in [
        "/v1/users?page_size=0",
        "/v1/users?page_size=101",
        "/v1/users?page_size=abc",
        "/v1/users?start_cursor=bogus",
    ] {
        assert_eq!(
            emu.error(V2025, Method::GET, bad, None).await.1,
            "validation_error",
            "{bad}"
        );
    }
    // A cursor of one list is refused by another.
    let users = emu.get(V2025, "/v1/users?page_size=1").await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let path = format!(
        "/v1/blocks/{handbook}/children?start_cursor={}",
        users["next_cursor"].as_str().unwrap()
    );
    assert_eq!(
        emu.error(V2025, Method::GET, &path, None).await.1,
        "validation_error"
    );
}

#[tokio::test]
async fn responses_carry_notions_quirks() {
    let emu = Emu::start().await;
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    let rows = emu
        .send(
            V2025,
            Method::POST,
            &format!("/v1/data_sources/{tasks}/query"),
            json!({"filter": {"property": "Name", "title": {"starts_with": "Task 01"}}}),
        )
        .await;
    let row = &rows["results"][0];
    assert!(
        row["last_edited_time"]
            .as_str()
            .unwrap()
            .ends_with(":00.000Z")
    );
    assert!(row["created_time"].as_str().unwrap().ends_with(":00.000Z"));
    assert_eq!(
        row["properties"]["Project"]["relation"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    assert_eq!(
        row["properties"]["Notes"]["rich_text"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    let row_id = row["id"].as_str().unwrap();
    let relation_id = row["properties"]["Project"]["id"].as_str().unwrap();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => {
                format!("/v1/pages/{row_id}/properties/{relation_id}?start_cursor={c}&page_size=7")
            }
            None => format!("/v1/pages/{row_id}/properties/{relation_id}?page_size=7"),
        };
        let page = emu.get(V2025, &path).await;
        assert_eq!(page["property_item"]["type"], "relation");
        all.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["relation"]["id"].clone()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
        assert!(
            page["property_item"]["next_url"]
                .as_str()
                .unwrap()
                .contains("start_cursor=")
        );
    }
    assert_eq!(all.len(), 30);
    assert_eq!(row["properties"]["Project count"]["rollup"]["number"], 30.0);
    assert_eq!(
        row["properties"]["Estimate (formula)"]["formula"]["number"],
        1.0
    );
    assert!(row["properties"]["ID"]["unique_id"]["prefix"] == "TASK");

    // Notion-hosted files: signed URLs that expire an hour from now.
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let blocks = emu
        .get(V2025, &format!("/v1/blocks/{handbook}/children"))
        .await;
    let hosted = blocks["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "image" && b["image"]["type"] == "file")
        .expect("a hosted image");
    let expiry = chrono::DateTime::parse_from_rfc3339(
        hosted["image"]["file"]["expiry_time"].as_str().unwrap(),
    )
    .unwrap();
    let ahead = expiry
        .signed_duration_since(chrono::Utc::now())
        .num_minutes();
    assert!((58..=60).contains(&ahead), "{ahead} minutes");
    let url = hosted["image"]["file"]["url"].as_str().unwrap();
    assert_eq!(emu.http.get(url).send().await.unwrap().status(), 200);
    let expired = url.split("expires=").next().unwrap().to_string() + "expires=1";
    assert_eq!(emu.http.get(expired).send().await.unwrap().status(), 403);

    // A person editing in Notion moves the timestamps and the editor.
    let row2 = rows["results"][0]["id"].as_str().unwrap();
    let edited = emu
        .admin(
            Method::PATCH,
            &format!("/_emulator/people/a0000000-0000-4000-8000-000000000003/pages/{row2}"),
            json!({"properties": {"Done": {"checkbox": true}}}),
        )
        .await;
    assert_eq!(
        edited["last_edited_by"]["id"],
        "a0000000-0000-4000-8000-000000000003"
    );
}

#[tokio::test]
async fn objects_not_shared_are_not_found() {
    let emu = Emu::start().await;
    let integration = emu
        .admin(
            Method::POST,
            "/_emulator/integrations",
            json!({"type": "internal", "name": "Narrow", "token": "ntn_narrow"}),
        )
        .await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let (status, body) = emu
        .call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/pages/{handbook}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (404, "object_not_found")
    );
    let search = emu
        .call_as(
            "ntn_narrow",
            V2025,
            Method::POST,
            "/v1/search",
            Some(json!({})),
        )
        .await
        .1;
    assert_eq!(search["results"].as_array().unwrap().len(), 0);
    emu.admin(
        Method::POST,
        "/_emulator/share",
        json!({"integration_id": integration["id"], "object_ids": [handbook]}),
    )
    .await;
    let (status, _) = emu
        .call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/pages/{handbook}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Descendants are visible through the shared parent; unrelated roots are not.
    let children = emu
        .call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/blocks/{handbook}/children"),
            None,
        )
        .await
        .1;
    let engineering = children["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "child_page")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        emu.call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/pages/{engineering}"),
            None
        )
        .await
        .0,
        200
    );
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    assert_eq!(
        emu.call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/data_sources/{tasks}"),
            None
        )
        .await
        .0,
        404
    );
    emu.admin(
        Method::DELETE,
        "/_emulator/share",
        json!({"token": "ntn_narrow", "object_ids": [handbook]}),
    )
    .await;
    assert_eq!(
        emu.call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/pages/{handbook}"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let emu = Emu::start_with(notion_emulator::Config {
        rate_limit: 3.0,
        burst: 10,
        ..Default::default()
    })
    .await;
    let mut limited = 0;
    let mut retry_after = None;
    for _ in 0..15 {
        let auth = format!("Bearer {TOKEN}");
        let (status, headers, body) = emu
            .raw(
                Method::GET,
                "/v1/users/me",
                &[("authorization", &auth), ("notion-version", V2025)],
                None,
            )
            .await;
        if status == 429 {
            limited += 1;
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap()["code"],
                "rate_limited"
            );
            retry_after = headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
    }
    assert!(limited >= 4, "{limited} of 15 were limited");
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another token has its own bucket.
    emu.admin(
        Method::POST,
        "/_emulator/integrations",
        json!({"type": "internal", "token": "ntn_other"}),
    )
    .await;
    assert_eq!(
        emu.call_as("ntn_other", V2025, Method::GET, "/v1/users/me", None)
            .await
            .0,
        200
    );
    // Limits can be turned off at run time.
    emu.admin(
        Method::POST,
        "/_emulator/settings",
        json!({"rate_limit": 0}),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(
            emu.call(V2025, Method::GET, "/v1/users/me", None).await.0,
            200
        );
    }
}

#[tokio::test]
async fn injected_faults_and_request_counts() {
    let emu = Emu::start().await;
    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/users", "status": 503, "count": 2}),
    )
    .await;
    assert_eq!(
        emu.call(V2025, Method::GET, "/v1/users", None).await.1["code"],
        "service_unavailable"
    );
    assert_eq!(emu.call(V2025, Method::GET, "/v1/users", None).await.0, 503);
    assert_eq!(emu.call(V2025, Method::GET, "/v1/users", None).await.0, 200);

    // `after`: the first matching request passes, the second fails, then the rule is spent.
    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/users", "status": 400, "code": "validation_error", "after": 1, "count": 1}),
    )
    .await;
    let statuses = [
        emu.call(V2025, Method::GET, "/v1/users", None).await.0,
        emu.call(V2025, Method::GET, "/v1/users", None).await.0,
        emu.call(V2025, Method::GET, "/v1/users", None).await.0,
    ];
    assert_eq!(statuses, [200, 400, 200]);

    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/{user_id}", "status": 502, "html": true, "count": 1}),
    )
    .await;
    let auth = format!("Bearer {TOKEN}");
    let (status, headers, body) = emu
        .raw(
            Method::GET,
            "/v1/users/a0000000-0000-4000-8000-000000000001",
            &[("authorization", &auth), ("notion-version", V2025)],
            None,
        )
        .await;
    assert_eq!(status, 502);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&body).contains("<html>"));

    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/search", "status": 429, "retry_after": 2, "count": 1}),
    )
    .await;
    let (status, headers, _) = emu
        .raw(
            Method::POST,
            "/v1/search",
            &[("authorization", &auth), ("notion-version", V2025)],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (429, "2")
    );

    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "drop_connection": true, "count": 1}),
    )
    .await;
    let dropped = emu
        .http
        .get(format!("{}/v1/users/me", emu.base))
        .header("authorization", &auth)
        .header("notion-version", V2025)
        .send()
        .await;
    assert!(dropped.is_err(), "the connection was dropped: {dropped:?}");
    assert_eq!(
        emu.call(V2025, Method::GET, "/v1/users/me", None).await.0,
        200
    );

    emu.admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "delay_ms": 300, "count": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        emu.call(V2025, Method::GET, "/v1/users/me", None).await.0,
        200
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    let (status, _, _) = emu
        .raw(
            Method::POST,
            "/_emulator/faults",
            &[],
            Some(br#"{"status": 500, "code": "made_up"}"#.to_vec()),
        )
        .await;
    assert_eq!(status, 400);

    let counts = emu
        .admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    assert_eq!(counts["routes"]["GET /v1/users"], 6);
    assert_eq!(counts["routes"]["GET /v1/users/me"], 3);
    emu.admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    assert_eq!(
        emu.admin(Method::GET, "/_emulator/requests", json!({}))
            .await["total"],
        0
    );

    // Reset brings the seed back.
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"in_trash": true}),
    )
    .await;
    emu.admin(Method::POST, "/_emulator/reset", json!({})).await;
    let fresh = emu.find(V2025, "Acme Handbook", "page").await;
    assert_eq!(
        emu.get(V2025, &format!("/v1/pages/{fresh}")).await["in_trash"],
        false
    );
    emu.admin(Method::POST, "/_emulator/reset", json!({"seed": "empty"}))
        .await;
    let empty = emu.send(V2025, Method::POST, "/v1/search", json!({})).await;
    assert_eq!(empty["results"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_exported_workspace_seeds_a_new_emulator() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"properties": {"title": {"title": [{"text": {"content": "Exported handbook"}}]}}}),
    )
    .await;
    let exported = emu.admin(Method::GET, "/_emulator/export", json!({})).await;
    let path = std::env::temp_dir().join(format!("emulator-export-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&exported).unwrap()).unwrap();

    let copy = Emu::start_with(notion_emulator::Config {
        rate_limit: 0.0,
        seed: notion_emulator::Seed::File(path.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        copy.find(V2025, "Exported handbook", "page").await,
        handbook
    );
    // Reset goes back to the file, not to the demo.
    copy.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"in_trash": true}),
    )
    .await;
    copy.admin(Method::POST, "/_emulator/reset", json!({}))
        .await;
    assert_eq!(
        copy.get(V2025, &format!("/v1/pages/{handbook}")).await["in_trash"],
        false
    );
    let _ = std::fs::remove_file(&path);

    let missing = notion_emulator::start(
        notion_emulator::Config {
            seed: notion_emulator::Seed::File("/nonexistent/seed.json".into()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    assert!(missing.is_err(), "a missing seed file stops the start");
}
