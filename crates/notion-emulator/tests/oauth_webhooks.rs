//! The OAuth dance for public integrations and the webhook sender, end to end over HTTP.

mod support;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use support::{Emu, Receiver, V2025, WebhookSchemas};

const CLIENT: &str = "emulator-client-id";
const SECRET: &str = "emulator-client-secret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Follows the authorize page and returns the query of the redirect it answers.
async fn authorize(emu: &Emu, extra: &str) -> String {
    let path = format!(
        "/v1/oauth/authorize?client_id={CLIENT}&response_type=code&owner=user&redirect_uri={REDIRECT}&state=xyz{extra}"
    );
    let (status, headers, _) = emu.raw(Method::GET, &path, &[], None).await;
    assert_eq!(status, 302);
    let location = headers["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    location.split_once('?').unwrap().1.to_string()
}

fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
}

async fn token_call(emu: &Emu, auth: &str, body: Value) -> (u16, Value) {
    let (status, _, bytes) = emu
        .raw(
            Method::POST,
            "/v1/oauth/token",
            &[("authorization", auth)],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_oauth_dance() {
    let emu = Emu::start().await;
    let auth = basic(CLIENT, SECRET);

    let denied = authorize(&emu, "&deny=1").await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&denied, "state").as_deref(), Some("xyz"));

    let (status, _, _) = emu
        .raw(
            Method::GET,
            "/v1/oauth/authorize?client_id=nobody&response_type=code",
            &[],
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = emu.raw(Method::GET, &format!("/v1/oauth/authorize?client_id={CLIENT}&response_type=code&redirect_uri=https://evil.example/cb"), &[], None).await;
    assert_eq!(
        status, 400,
        "an unregistered redirect URI is refused without redirecting"
    );

    // A wrong client secret.
    let query = authorize(&emu, "").await;
    let code = param(&query, "code").unwrap();
    let (status, body) = token_call(
        &emu,
        &basic(CLIENT, "wrong"),
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (401, "unauthorized")
    );
    // A mismatched redirect_uri burns the code.
    let (status, body) = token_call(&emu, &auth, json!({"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:9/other"})).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_grant")
    );
    let (status, body) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_grant")
    );

    // The good path, only picking the handbook.
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let query = authorize(
        &emu,
        &format!("&pages={handbook}&user=a0000000-0000-4000-8000-000000000002"),
    )
    .await;
    let code = param(&query, "code").unwrap();
    let (status, token) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(
        token["owner"]["user"]["id"],
        "a0000000-0000-4000-8000-000000000002"
    );
    assert_eq!(token["workspace_name"], "Acme Inc.");
    let access = token["access_token"].as_str().unwrap().to_string();
    let (status, reused) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(
        (status, reused["code"].as_str().unwrap()),
        (400, "invalid_grant")
    );

    // The token sees only what was picked.
    assert_eq!(
        emu.call_as(
            &access,
            V2025,
            Method::GET,
            &format!("/v1/pages/{handbook}"),
            None
        )
        .await
        .0,
        200
    );
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    assert_eq!(
        emu.call_as(
            &access,
            V2025,
            Method::GET,
            &format!("/v1/data_sources/{tasks}"),
            None
        )
        .await
        .0,
        404
    );
    let me = emu
        .call_as(&access, V2025, Method::GET, "/v1/users/me", None)
        .await
        .1;
    assert_eq!(me["id"], token["bot_id"]);
    assert_eq!(
        me["bot"]["owner"]["user"]["id"],
        "a0000000-0000-4000-8000-000000000002"
    );

    // The same person authorizing again gets the same token.
    let again = param(
        &authorize(&emu, "&user=a0000000-0000-4000-8000-000000000002").await,
        "code",
    )
    .unwrap();
    let (_, second) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "authorization_code", "code": again, "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(second["access_token"], access);
    assert_eq!(
        emu.call_as(
            &access,
            V2025,
            Method::GET,
            &format!("/v1/data_sources/{tasks}"),
            None
        )
        .await
        .0,
        200,
        "the new pick shares everything"
    );

    // Refresh rotates both tokens; the old ones stop working.
    let refresh = second["refresh_token"].as_str().unwrap().to_string();
    let (status, rotated) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "refresh_token", "refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["access_token"], access);
    assert_ne!(rotated["refresh_token"], refresh);
    assert_eq!(
        emu.call_as(&access, V2025, Method::GET, "/v1/users/me", None)
            .await
            .0,
        401
    );
    let new_access = rotated["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        emu.call_as(&new_access, V2025, Method::GET, "/v1/users/me", None)
            .await
            .0,
        200
    );
    let (status, body) = token_call(
        &emu,
        &auth,
        json!({"grant_type": "refresh_token", "refresh_token": refresh}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_grant")
    );

    // Introspect and revoke.
    let post = |path: &'static str, token: String| {
        let auth = auth.clone();
        let emu = &emu;
        async move {
            let (status, _, bytes) = emu
                .raw(
                    Method::POST,
                    path,
                    &[("authorization", &auth)],
                    Some(serde_json::to_vec(&json!({"token": token})).unwrap()),
                )
                .await;
            assert_eq!(status, 200);
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    assert_eq!(
        post("/v1/oauth/introspect", new_access.clone()).await["active"],
        true
    );
    post("/v1/oauth/revoke", new_access.clone()).await;
    assert_eq!(
        post("/v1/oauth/introspect", new_access.clone()).await["active"],
        false
    );
    assert_eq!(
        emu.call_as(&new_access, V2025, Method::GET, "/v1/users/me", None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn webhooks_are_verified_signed_aggregated_and_retried() {
    let emu = Emu::start().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let sub = emu
        .admin(Method::POST, "/_emulator/webhooks", json!({"integration_id": "c0000000-0000-4000-8000-000000000001", "url": url, "aggregation_ms": 60_000, "retry_base_ms": 10}))
        .await;
    let sub_id = sub["id"].as_str().unwrap().to_string();
    emu.admin(Method::POST, "/_emulator/webhooks/deliver", json!({}))
        .await;
    let handshake = receiver.events();
    assert_eq!(handshake.len(), 1);
    let token = handshake[0].1["verification_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("secret_"));

    // Nothing flows before verification.
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"icon": {"emoji": "📚"}}),
    )
    .await;
    emu.admin(
        Method::POST,
        "/_emulator/webhooks/deliver",
        json!({"force": true}),
    )
    .await;
    assert_eq!(receiver.events().len(), 1);
    let (status, _, _) = emu
        .raw(
            Method::POST,
            &format!("/_emulator/webhooks/{sub_id}/verify"),
            &[],
            Some(br#"{"verification_token":"secret_wrong"}"#.to_vec()),
        )
        .await;
    assert_eq!(status, 400);
    emu.admin(
        Method::POST,
        &format!("/_emulator/webhooks/{sub_id}/verify"),
        json!({"verification_token": token}),
    )
    .await;

    // A property change, a person's two edits of the same page, and a new page.
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"properties": {"title": {"title": [{"text": {"content": "Acme Handbook v2"}}]}}}),
    )
    .await;
    let person = "a0000000-0000-4000-8000-000000000003";
    for text in ["first", "second"] {
        emu.admin(
            Method::PATCH,
            &format!("/_emulator/people/{person}/blocks/{handbook}/children"),
            json!({"children": [{"paragraph": {"rich_text": [{"text": {"content": text}}]}}]}),
        )
        .await;
    }
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/blocks/{handbook}/children"),
        json!({"children": [{"divider": {}}]}),
    )
    .await;
    emu.send(V2025, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": "New"}}]}}})).await;
    emu.send(
        V2025,
        Method::POST,
        "/v1/comments",
        json!({"parent": {"page_id": handbook}, "rich_text": [{"text": {"content": "Hi"}}]}),
    )
    .await;
    // Due events (not the aggregated one, which waits for its window) go out now.
    emu.admin(Method::POST, "/_emulator/webhooks/deliver", json!({}))
        .await;
    let kinds: Vec<String> = receiver.events()[1..]
        .iter()
        .map(|(_, v, _)| v["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["page.properties_updated", "page.created", "comment.created"]
    );
    emu.admin(
        Method::POST,
        "/_emulator/webhooks/deliver",
        json!({"force": true}),
    )
    .await;
    let events = receiver.events();
    let content: Vec<&Value> = events
        .iter()
        .map(|(_, v, _)| v)
        .filter(|v| v["type"] == "page.content_updated")
        .collect();
    assert_eq!(content.len(), 1, "edits of one page are aggregated");
    assert_eq!(
        content[0]["data"]["updated_blocks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let authors: Vec<&str> = content[0]["authors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["person", "bot"]);

    // Every event is signed over its exact bytes and matches the SDK's payload types.
    let schemas = WebhookSchemas::load();
    for (headers, value, raw) in &events[1..] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes()).unwrap();
        mac.update(raw);
        let expected = format!(
            "sha256={}",
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        assert_eq!(headers["x-notion-signature"].to_str().unwrap(), expected);
        assert_eq!(value["subscription_id"], sub_id.as_str());
        let errors = schemas.errors(value);
        assert!(errors.is_empty(), "{errors:?}\n{value}");
    }

    // A failing receiver is retried with attempt_number counting up, up to 8 attempts.
    *receiver.fail_next.lock().unwrap() = 2;
    let before = receiver.events().len();
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"is_locked": true}),
    )
    .await;
    for _ in 0..3 {
        emu.admin(
            Method::POST,
            "/_emulator/webhooks/deliver",
            json!({"force": true}),
        )
        .await;
    }
    let attempts: Vec<u64> = receiver.events()[before..]
        .iter()
        .map(|(_, v, _)| v["attempt_number"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    *receiver.fail_next.lock().unwrap() = 100;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"is_locked": false}),
    )
    .await;
    for _ in 0..10 {
        emu.admin(
            Method::POST,
            "/_emulator/webhooks/deliver",
            json!({"force": true}),
        )
        .await;
    }
    let deliveries = emu
        .admin(Method::GET, "/_emulator/webhooks/deliveries", json!({}))
        .await;
    let unlocked = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "page.unlocked")
        .unwrap();
    assert_eq!(
        (unlocked["attempts"].as_u64(), unlocked["state"].as_str()),
        (Some(8), Some("failed"))
    );
}

#[tokio::test]
async fn webhooks_respect_sharing_and_event_selection() {
    let emu = Emu::start().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let integration = emu
        .admin(
            Method::POST,
            "/_emulator/integrations",
            json!({"type": "internal", "token": "ntn_hooks"}),
        )
        .await;
    let sub = emu
        .admin(Method::POST, "/_emulator/webhooks", json!({"integration_id": integration["id"], "url": url, "event_types": ["page.created"], "shuffle": true}))
        .await;
    emu.admin(Method::POST, "/_emulator/webhooks/deliver", json!({}))
        .await;
    let token = receiver.events()[0].1["verification_token"]
        .as_str()
        .unwrap()
        .to_string();
    emu.admin(
        Method::POST,
        &format!("/_emulator/webhooks/{}/verify", sub["id"].as_str().unwrap()),
        json!({"verification_token": token}),
    )
    .await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    emu.admin(
        Method::POST,
        "/_emulator/share",
        json!({"token": "ntn_hooks", "object_ids": [handbook]}),
    )
    .await;
    for i in 0..5 {
        emu.send(V2025, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": format!("Shared {i}")}}]}}})).await;
    }
    emu.send(V2025, Method::POST, "/v1/pages", json!({"parent": {"data_source_id": tasks}, "properties": {"Name": {"title": [{"text": {"content": "Not shared"}}]}}})).await;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{handbook}"),
        json!({"icon": {"emoji": "📚"}}),
    )
    .await;
    emu.admin(
        Method::POST,
        "/_emulator/webhooks/deliver",
        json!({"force": true}),
    )
    .await;
    let events: Vec<Value> = receiver.events()[1..]
        .iter()
        .map(|(_, v, _)| v.clone())
        .collect();
    assert_eq!(
        events.len(),
        5,
        "only page.created under shared pages: {events:?}"
    );
    assert!(events.iter().all(|e| e["type"] == "page.created"));
}
