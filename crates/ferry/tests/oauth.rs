//! Notion OAuth through Ferry against the real emulator, on SQLite and PostgreSQL: the
//! whole dance and its failures, token refresh on 401, and reconnect sessions.

mod support;

use ferry_engine::ids::{ConnectionId, IntegrationKey};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness, KEY};

backend_tests!(
    the_oauth_dance_against_the_emulator,
    a_401_refreshes_once_and_retries,
    two_processes_refresh_a_token_once,
    a_reconnect_session_reauthorizes_its_connection,
    connect_sessions_and_abandoned_authorizations,
);

fn assert_page(status: u16, page: &str, want_status: u16, want: &str) {
    assert_eq!(status, want_status, "{page}");
    assert!(page.contains(want), "expected `{want}` in {page}");
}

async fn the_oauth_dance_against_the_emulator(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;

    // The authorize URL carries the state and PKCE.
    let token = h.connect_session("alice").await;
    let (status, headers, _) = h
        .request(
            Method::GET,
            &format!("/oauth/connect/notion?connect_session_token={token}"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(status, 302);
    let location = headers["location"].to_str().unwrap();
    for part in [
        "response_type=code",
        "owner=user",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "client_id=emulator-client-id",
    ] {
        assert!(location.contains(part), "{part} in {location}");
    }
    assert!(headers["set-cookie"].to_str().unwrap().contains("HttpOnly"));

    // The good path.
    let (status, page) = h.oauth(&token, "", true).await;
    assert_page(status, &page, 200, "AUTHORIZATION_SUCEEDED");
    let list = h
        .ok(Method::GET, "/connections?endUserId=alice", None)
        .await;
    assert_eq!(
        list["connections"].as_array().unwrap().len(),
        1,
        "{backend:?}"
    );
    let id = list["connections"][0]["connection_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(page.contains(&id));
    let conn = h
        .ok(
            Method::GET,
            &format!("/connections/{id}?provider_config_key=notion&refresh_token=true"),
            None,
        )
        .await;
    assert_eq!(conn["connection_config"]["workspace_name"], "Acme Inc.");
    assert!(conn["connection_config"]["workspace_id"].is_string());
    assert!(conn["connection_config"]["bot_id"].is_string());
    assert_eq!(conn["connection_config"]["owner"]["type"], "user");
    assert_eq!(conn["credentials"]["raw"]["token_type"], "bearer");
    let access = conn["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The token works through the proxy.
    let (status, _, _) = h
        .request(
            Method::GET,
            "/proxy/v1/users/me",
            Some(KEY),
            &[("Connection-Id", &id), ("Provider-Config-Key", "notion")],
            None,
        )
        .await;
    assert_eq!(status, 200);

    // The same person again updates the same connection.
    let again = h.connect_session("alice").await;
    let (status, _) = h.oauth(&again, "", true).await;
    assert_eq!(status, 200);
    assert_eq!(
        h.ok(Method::GET, "/connections", None).await["connections"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // force_refresh rotates the token (the emulator issues refresh tokens).
    let refreshed = h
        .ok(
            Method::GET,
            &format!("/connections/{id}?provider_config_key=notion&force_refresh=true"),
            None,
        )
        .await;
    assert_ne!(refreshed["credentials"]["access_token"], access.as_str());
    let logs = h.ok(Method::GET, "/logs?type=token_refresh", None).await;
    assert_eq!(logs["data"][0]["status"], "success");
    assert_eq!(
        logs["data"][0]["exchanges"][0]["request_headers"]["authorization"],
        "[redacted]"
    );

    // Denied: a clear page, a failed auth log, no connection.
    let denied = h.connect_session("bob").await;
    let (status, page) = h.oauth(&denied, "&deny=1", true).await;
    assert_page(status, &page, 400, "denied");
    // Missing state cookie.
    let no_cookie = h.connect_session("bob").await;
    let (status, page) = h.oauth(&no_cookie, "", false).await;
    assert_page(status, &page, 400, "state_cookie_mismatch");
    assert_eq!(
        h.ok(Method::GET, "/connections?endUserId=bob", None).await["connections"],
        json!([])
    );

    // A reused callback (the state is single-use) and a forged state.
    let reuse = h.connect_session("carol").await;
    let (_, headers, _) = h
        .request(
            Method::GET,
            &format!("/oauth/connect/notion?connect_session_token={reuse}"),
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
    let first = h
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = h
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 400);
    assert!(second.text().await.unwrap().contains("invalid_state"));
    let forged = h
        .http
        .get(format!(
            "{}/oauth/callback?code=abc&state=00000000-0000-4000-8000-000000000000",
            h.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let (status, _, _) = h
        .request(
            Method::GET,
            "/oauth/connect/notion?connect_session_token=nango_connect_session_bogus",
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(status, 401);

    // A wrong client secret fails at the token exchange, and the exchange is logged.
    h.ok(Method::PATCH, "/integrations/notion", Some(json!({"credentials": {"type": "OAUTH2", "client_id": "emulator-client-id", "client_secret": "wrong"}}))).await;
    let wrong = h.connect_session("dave").await;
    let (status, page) = h.oauth(&wrong, "", true).await;
    assert_page(status, &page, 502, "token_request_failed");
    let failed = h
        .ok(Method::GET, "/logs?type=auth&status=failed", None)
        .await;
    let failures: Vec<&Value> = failed["data"].as_array().unwrap().iter().collect();
    // Denied, missing cookie and wrong secret; a reused or forged state has no session to fail.
    assert_eq!(failures.len(), 3, "{failed}");
    let exchange = failures
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("401"))
        .unwrap();
    assert_eq!(exchange["exchanges"][0]["status"], 401);
    assert_eq!(
        exchange["exchanges"][0]["request_body"]["code"],
        "[redacted]"
    );
    assert_eq!(
        exchange["exchanges"][0]["response_body"]["code"], "unauthorized",
        "Notion's error code stays readable"
    );
    assert_eq!(
        h.ok(Method::GET, "/connections?endUserId=dave", None).await["connections"],
        json!([])
    );
}

async fn a_401_refreshes_once_and_retries(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let id = h.connect_with_oauth("erin").await;
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "status": 401, "count": 1}),
    )
    .await;
    let (status, _, _) = h
        .request(
            Method::GET,
            "/proxy/v1/users/me",
            Some(KEY),
            &[("Connection-Id", &id), ("Provider-Config-Key", "notion")],
            None,
        )
        .await;
    assert_eq!(status, 200, "{backend:?}");
    let refresh = h.ok(Method::GET, "/logs?type=token_refresh", None).await;
    assert_eq!(refresh["data"].as_array().unwrap().len(), 1);
    assert_eq!(refresh["data"][0]["connection_id"], id.as_str());
}

async fn two_processes_refresh_a_token_once(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let id = h.connect_with_oauth("erin").await;
    let env_id = h.dev().await.id;
    let key = IntegrationKey::parse("notion").unwrap();
    let connection = ConnectionId::parse(&id).unwrap();
    // Slow token answers keep both refreshes in flight at once without the lease.
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/oauth/token", "delay_ms": 300, "count": 2}),
    )
    .await;
    let other = h.second_engine().await;
    let (a, b) = tokio::join!(
        h.engine.connections().get(&env_id, &key, &connection, true),
        other.connections().get(&env_id, &key, &connection, true),
    );
    let (a, b) = (a.expect("first refresh").1, b.expect("second refresh").1);
    // The emulator rotates refresh tokens, so a second refresh would have failed.
    assert_eq!(a.access_token, b.access_token, "{backend:?}");
    let refreshes = h.ok(Method::GET, "/logs?type=token_refresh", None).await;
    assert_eq!(
        refreshes["data"].as_array().unwrap().len(),
        1,
        "{refreshes}"
    );
    assert_eq!(refreshes["data"][0]["status"], "success");
    other.close().await;
}

async fn a_reconnect_session_reauthorizes_its_connection(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let id = h.connect_with_oauth("frank").await;
    let (status, bad) = h
        .api(
            Method::POST,
            "/connect/sessions/reconnect",
            Some(json!({"connection_id": "nobody", "integration_id": "notion"})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (404, Some("unknown_connection")),
        "{backend:?}"
    );
    let session = h
        .ok(
            Method::POST,
            "/connect/sessions/reconnect",
            Some(json!({"connection_id": id, "integration_id": "notion"})),
        )
        .await;
    let reconnect = session["data"]["token"].as_str().unwrap().to_string();
    // Another Notion user authorizes through the reconnect link: the same connection is updated.
    let (status, page) = h
        .oauth(
            &reconnect,
            "&user=a0000000-0000-4000-8000-000000000003",
            true,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let all = h.ok(Method::GET, "/connections", None).await;
    assert_eq!(all["connections"].as_array().unwrap().len(), 1);
    let conn = h
        .ok(
            Method::GET,
            &format!("/connections/{id}?provider_config_key=notion"),
            None,
        )
        .await;
    assert_eq!(
        conn["connection_config"]["owner"]["user"]["id"],
        "a0000000-0000-4000-8000-000000000003"
    );
}

async fn connect_sessions_and_abandoned_authorizations(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    // A body is required, and checked field by field.
    h.fails(Method::POST, "/connect/sessions", None, 400, "invalid_body")
        .await;
    for (body, field) in [
        (json!({"end_user": {"id": 42}}), "end_user.id"),
        (
            json!({"allowed_integrations": ["."]}),
            "allowed_integrations",
        ),
        (json!({"tags": {"a": []}}), "tags"),
        (json!({"overrides": {}}), "overrides"),
    ] {
        let message = h
            .fails(
                Method::POST,
                "/connect/sessions",
                Some(body),
                400,
                "invalid_body",
            )
            .await;
        assert!(message.contains(field), "{field}: {message}");
    }
    h.fails(
        Method::POST,
        "/connect/sessions",
        Some(json!({"allowed_integrations": ["missing"]})),
        404,
        "unknown_provider_config",
    )
    .await;
    let token = h.connect_session("grace").await;
    // GET /connect/session answers Nango's camelCase shape.
    let (status, _, body) = h
        .request(Method::GET, "/connect/session", Some(&token), &[], None)
        .await;
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["data"]["endUser"]["id"], "grace");
    assert_eq!(session["data"]["endUser"]["email"], "grace@example.com");
    assert_eq!(session["data"]["allowed_integrations"], json!(["notion"]));
    assert!(session["data"]["connectUISettings"]["theme"].is_object());
    // The connect page names the integration by its display name.
    let (status, _, page) = h
        .request(
            Method::GET,
            &format!("/connect?session_token={token}"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Connect Notion<"), "{page}");
    // An authorization started and never finished is marked expired once its state expires.
    let (status, _, _) = h
        .request(
            Method::GET,
            &format!("/oauth/connect/notion?connect_session_token={token}"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(status, 302);
    assert_eq!(
        h.ok(Method::GET, "/logs?type=auth&status=running", None)
            .await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.db.url).await.unwrap();
    sqlx::query("UPDATE oauth_sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    h.engine.logs().prune_now().await.unwrap();
    let expired = h
        .ok(Method::GET, "/logs?type=auth&status=expired", None)
        .await;
    assert_eq!(expired["data"].as_array().unwrap().len(), 1, "{expired}");
    assert!(expired["data"][0]["ended_at"].is_string());
    // DELETE /connect/session ends it at once.
    let (status, _, _) = h
        .request(Method::DELETE, "/connect/session", Some(&token), &[], None)
        .await;
    assert_eq!(status, 204);
    let (status, _, body) = h
        .request(Method::GET, "/connect/session", Some(&token), &[], None)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = h
        .request(Method::DELETE, "/connect/session", Some(&token), &[], None)
        .await;
    assert_eq!(status, 401);
}
