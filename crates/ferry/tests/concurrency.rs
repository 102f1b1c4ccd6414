//! Every write route under 50 callers at once, on SQLite and PostgreSQL: no 5xx, and no
//! update lost (each outcome is counted against what must have happened).

mod support;

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use support::{ACCOUNT_KEY, Backend, Harness, KEY, at_once};

const CALLERS: usize = 50;

backend_tests!(
    integrations_at_once,
    connections_at_once,
    metadata_merges_lose_nothing,
    connect_sessions_and_callbacks_at_once,
    environments_and_keys_at_once,
    proxy_calls_at_once,
);

/// How many answers had each status; panics on any 5xx.
fn tally(statuses: impl IntoIterator<Item = u16>) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for status in statuses {
        assert!(status < 500, "a caller got {status}");
        *counts.entry(status).or_default() += 1;
    }
    counts
}

async fn integrations_at_once(backend: Backend) {
    let h = Harness::start(backend).await;
    let created = at_once(CALLERS, |i| {
        h.api(
            Method::POST,
            "/integrations",
            Some(json!({"provider": "notion", "unique_key": format!("n{i}")})),
        )
    })
    .await;
    assert_eq!(
        tally(created.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)]),
        "{backend:?}"
    );
    assert_eq!(
        h.ok(Method::GET, "/integrations", None).await["data"]
            .as_array()
            .unwrap()
            .len(),
        CALLERS
    );
    let same = at_once(CALLERS, |_| {
        h.api(
            Method::POST,
            "/integrations",
            Some(json!({"provider": "notion", "unique_key": "same"})),
        )
    })
    .await;
    assert_eq!(
        tally(same.iter().map(|r| r.0)),
        HashMap::from([(200, 1), (409, CALLERS - 1)])
    );
    // Patches of different fields at once all stay.
    let patched = at_once(CALLERS, |i| {
        let body = if i % 2 == 0 {
            json!({"display_name": format!("name {i}")})
        } else {
            json!({"forward_webhooks": false})
        };
        h.api(Method::PATCH, "/integrations/same", Some(body))
    })
    .await;
    assert_eq!(
        tally(patched.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)])
    );
    let same = h.ok(Method::GET, "/integrations/same", None).await;
    assert_eq!(same["data"]["forward_webhooks"], false);
    assert!(
        same["data"]["display_name"]
            .as_str()
            .unwrap()
            .starts_with("name ")
    );
    let deleted = at_once(CALLERS, |_| {
        h.api(Method::DELETE, "/integrations/same", None)
    })
    .await;
    assert_eq!(
        tally(deleted.iter().map(|r| r.0)),
        HashMap::from([(200, 1), (404, CALLERS - 1)])
    );
}

async fn connections_at_once(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let import = |id: String| {
        let h = &h;
        async move {
            h.api(
                Method::POST,
                "/connections",
                Some(json!({"provider_config_key": "notion", "connection_id": id, "credentials": {"type": "OAUTH2", "access_token": "ntn_emulator_demo"}, "end_user": {"id": "u"}, "tags": {"plan": "pro"}})),
            )
            .await
        }
    };
    let created = at_once(CALLERS, |i| import(format!("c{i}"))).await;
    assert_eq!(
        tally(created.iter().map(|r| r.0)),
        HashMap::from([(201, CALLERS)]),
        "{backend:?}"
    );
    let numbers: std::collections::HashSet<i64> = created
        .iter()
        .map(|r| r.1["id"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers.len(), CALLERS, "every connection has its own id");
    let same = at_once(CALLERS, |_| import("same".into())).await;
    assert_eq!(
        tally(same.iter().map(|r| r.0)),
        HashMap::from([(201, CALLERS)])
    );
    assert_eq!(
        h.ok(Method::GET, "/connections?connectionId=same", None)
            .await["connections"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let patched = at_once(CALLERS, |i| {
        h.api(
            Method::PATCH,
            "/connections/same?provider_config_key=notion",
            Some(json!({"tags": {"n": i.to_string()}})),
        )
    })
    .await;
    assert_eq!(
        tally(patched.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)])
    );
    assert_eq!(
        h.ok(Method::GET, "/connections?tags[plan]=pro", None).await["connections"]
            .as_array()
            .unwrap()
            .len(),
        CALLERS
    );
    let deleted = at_once(CALLERS, |_| {
        h.api(
            Method::DELETE,
            "/connections/same?provider_config_key=notion",
            None,
        )
    })
    .await;
    assert_eq!(
        tally(deleted.iter().map(|r| r.0)),
        HashMap::from([(200, 1), (404, CALLERS - 1)])
    );
}

async fn metadata_merges_lose_nothing(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("m").await;
    let merged = at_once(CALLERS, |i| {
        h.api(
            Method::PATCH,
            "/connections/metadata",
            Some(json!({"connection_id": "m", "provider_config_key": "notion", "metadata": {format!("k{i}"): i}})),
        )
    })
    .await;
    assert_eq!(
        tally(merged.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)]),
        "{backend:?}"
    );
    let metadata = h
        .ok(
            Method::GET,
            "/connections/m?provider_config_key=notion",
            None,
        )
        .await["metadata"]
        .clone();
    assert_eq!(
        metadata.as_object().unwrap().len(),
        CALLERS,
        "every key stayed: {metadata}"
    );
    let replaced = at_once(CALLERS, |i| {
        h.api(
            Method::POST,
            "/connections/metadata",
            Some(json!({"connection_id": ["m"], "provider_config_key": "notion", "metadata": {"only": i}})),
        )
    })
    .await;
    assert_eq!(
        tally(replaced.iter().map(|r| r.0)),
        HashMap::from([(201, CALLERS)])
    );
    let metadata = h
        .ok(
            Method::GET,
            "/connections/m?provider_config_key=notion",
            None,
        )
        .await["metadata"]
        .clone();
    assert_eq!(
        metadata.as_object().unwrap().len(),
        1,
        "a replace leaves one whole value: {metadata}"
    );
}

async fn connect_sessions_and_callbacks_at_once(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let sessions = at_once(CALLERS, |i| {
        h.api(
            Method::POST,
            "/connect/sessions",
            Some(json!({"end_user": {"id": format!("u{i}")}})),
        )
    })
    .await;
    assert_eq!(
        tally(sessions.iter().map(|r| r.0)),
        HashMap::from([(201, CALLERS)]),
        "{backend:?}"
    );
    let id = h.connect_with_oauth("owner").await;
    let reconnects = at_once(CALLERS, |_| {
        h.api(
            Method::POST,
            "/connect/sessions/reconnect",
            Some(json!({"connection_id": id, "integration_id": "notion"})),
        )
    })
    .await;
    assert_eq!(
        tally(reconnects.iter().map(|r| r.0)),
        HashMap::from([(201, CALLERS)])
    );
    // One callback URL followed 50 times at once: the state is taken once.
    let token = h.connect_session("racer").await;
    let (_, headers, _) = h
        .request(
            Method::GET,
            &format!("/oauth/connect/notion?connect_session_token={token}"),
            None,
            &[],
            None,
        )
        .await;
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let at_notion = h
        .http
        .get(headers["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = at_notion.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let callbacks = at_once(CALLERS, |_| {
        let request = h.http.get(&callback).header("cookie", &cookie);
        async move { request.send().await.unwrap().status().as_u16() }
    })
    .await;
    assert_eq!(
        tally(callbacks),
        HashMap::from([(200, 1), (400, CALLERS - 1)])
    );
    let h = &h;
    let ended = at_once(CALLERS, |_| {
        let t = token.clone();
        async move {
            h.request(Method::DELETE, "/connect/session", Some(&t), &[], None)
                .await
                .0
        }
    })
    .await;
    assert_eq!(tally(ended), HashMap::from([(204, 1), (401, CALLERS - 1)]));
}

async fn environments_and_keys_at_once(backend: Backend) {
    let h = Harness::start(backend).await;
    let created = at_once(CALLERS, |i| {
        h.call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": format!("e{i}")})),
        )
    })
    .await;
    assert_eq!(
        tally(created.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)]),
        "{backend:?}"
    );
    let same = at_once(CALLERS, |_| {
        h.call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": "same"})),
        )
    })
    .await;
    assert_eq!(
        tally(same.iter().map(|r| r.0)),
        HashMap::from([(200, 1), (409, CALLERS - 1)])
    );
    let uuid = same.iter().find(|r| r.0 == 200).unwrap().1["data"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let keys_path = format!("/environments/{uuid}/api-keys");
    let keys = at_once(CALLERS, |i| {
        h.call(
            ACCOUNT_KEY,
            Method::POST,
            &keys_path,
            Some(json!({"display_name": format!("k{i}")})),
        )
    })
    .await;
    assert_eq!(
        tally(keys.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)])
    );
    assert_eq!(
        h.call(ACCOUNT_KEY, Method::GET, &keys_path, None).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        CALLERS
    );
    let key_id = keys[0].1["data"]["id"].as_str().unwrap().to_string();
    let key_path = format!("{keys_path}/{key_id}");
    let deleted = at_once(CALLERS, |_| {
        h.call(ACCOUNT_KEY, Method::DELETE, &key_path, None)
    })
    .await;
    assert_eq!(
        tally(deleted.iter().map(|r| r.0)),
        HashMap::from([(200, 1), (404, CALLERS - 1)])
    );
    let variables = at_once(CALLERS, |i| {
        h.call(
            KEY,
            Method::POST,
            "/environment-variables",
            Some(json!({"variables": [{"name": "N", "value": i.to_string()}]})),
        )
    })
    .await;
    assert_eq!(
        tally(variables.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)])
    );
    assert_eq!(
        h.ok(Method::GET, "/environment-variables", None)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let rotated = at_once(CALLERS, |_| {
        h.call(
            KEY,
            Method::POST,
            "/environment/webhook-signing-key/rotate",
            None,
        )
    })
    .await;
    assert_eq!(
        tally(rotated.iter().map(|r| r.0)),
        HashMap::from([(200, CALLERS)])
    );
    let environment_path = format!("/environments/{uuid}");
    let dropped = at_once(CALLERS, |_| {
        h.call(ACCOUNT_KEY, Method::DELETE, &environment_path, None)
    })
    .await;
    assert_eq!(
        tally(dropped.iter().map(|r| r.0)),
        HashMap::from([(204, 1), (404, CALLERS - 1)])
    );
}

async fn proxy_calls_at_once(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("demo").await;
    let page = h
        .request(
            Method::POST,
            "/proxy/v1/search",
            Some(KEY),
            &[("Connection-Id", "demo"), ("Provider-Config-Key", "notion")],
            Some(json!({"filter": {"property": "object", "value": "page"}, "page_size": 1})),
        )
        .await;
    let page_id = serde_json::from_str::<Value>(&page.2).unwrap()["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let h = &h;
    let calls = at_once(CALLERS, |i| {
        let page_id = page_id.clone();
        async move {
            h.request(
                Method::POST,
                "/proxy/v1/comments",
                Some(KEY),
                &[("Connection-Id", "demo"), ("Provider-Config-Key", "notion")],
                Some(json!({"parent": {"page_id": page_id}, "rich_text": [{"text": {"content": format!("comment {i}")}}]})),
            )
            .await
            .0
        }
    })
    .await;
    assert_eq!(tally(calls), HashMap::from([(200, CALLERS)]), "{backend:?}");
    let logged = h.all_logs("type=proxy&limit=1000").await;
    assert_eq!(logged.len(), CALLERS + 1, "every call is logged");
}
