//! Keys, environments and their isolation, providers and integrations, through the API, on
//! SQLite and PostgreSQL.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{ACCOUNT_KEY, Backend, Harness, KEY};

backend_tests!(
    keys_and_environments,
    environment_keys_rotate_with_an_overlap,
    environment_settings,
    providers_and_integrations,
);

async fn keys_and_environments(backend: Backend) {
    let h = Harness::start(backend).await;
    let (status, _, body) = h
        .request(Method::GET, "/integrations", None, &[], None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "unknown_account"
    );
    assert_eq!(
        h.call("not-the-key-at-all", Method::GET, "/integrations", None)
            .await
            .0,
        401
    );
    // Keys are stored hashed, never in clear.
    let stored = h.db_texts("SELECT secret_hash FROM api_keys").await;
    assert_eq!(stored.len(), 2, "the dev key and the account key");
    assert!(
        stored
            .iter()
            .all(|s| s != KEY && s != ACCOUNT_KEY && s.len() == 64)
    );

    // Environment keys act in their environment; account keys manage environments.
    let (status, body) = h.call(KEY, Method::GET, "/environments", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = h
        .call(ACCOUNT_KEY, Method::GET, "/integrations", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    let (status, created) = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": "staging"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let staging = created["data"]["uuid"].as_str().unwrap().to_string();
    assert!(created["data"]["id"].is_i64());
    let (status, dup) = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": "staging"})),
        )
        .await;
    assert_eq!(
        (status, dup["error"]["code"].as_str()),
        (409, Some("duplicate_environment"))
    );
    let (status, bad) = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": "no spaces"})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
    assert!(bad["error"]["message"].as_str().unwrap().contains("name"));
    let listed = h
        .call(ACCOUNT_KEY, Method::GET, "/environments?name=staging", None)
        .await
        .1;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["is_production"], false);

    let (status, key) = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            &format!("/environments/{staging}/api-keys"),
            Some(json!({"display_name": "ci"})),
        )
        .await;
    assert_eq!(status, 200, "{key}");
    let staging_key = key["data"]["secret"].as_str().unwrap().to_string();
    assert_eq!(key["data"]["scopes"], json!(["environment:*"]));

    // A second environment's key sees only its own data, both ways.
    h.notion_integration("emulator-client-secret").await;
    h.import_demo_connection("c1").await;
    let (status, list) = h
        .call(&staging_key, Method::GET, "/integrations", None)
        .await;
    assert_eq!((status, list["data"].clone()), (200, json!([])));
    for path in [
        "/integrations/notion",
        "/connections/c1?provider_config_key=notion",
    ] {
        assert_eq!(
            h.call(&staging_key, Method::GET, path, None).await.0,
            404,
            "{path}"
        );
    }
    assert_eq!(
        h.call(&staging_key, Method::GET, "/connections", None)
            .await
            .1["connections"],
        json!([])
    );
    let (status, _, _) = h
        .request(
            Method::GET,
            "/proxy/v1/users/me",
            Some(&staging_key),
            &[("Connection-Id", "c1"), ("Provider-Config-Key", "notion")],
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = h
        .call(
            &staging_key,
            Method::POST,
            "/integrations",
            Some(json!({"provider": "notion", "unique_key": "notion"})),
        )
        .await;
    assert_eq!(status, 200, "the same key may exist in another environment");
    assert_eq!(
        h.ok(Method::GET, "/integrations", None).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.call(&staging_key, Method::GET, "/logs", None).await.1["data"],
        json!([])
    );

    // Deleting the environment deletes its data and its keys.
    let (status, _) = h
        .call(
            ACCOUNT_KEY,
            Method::DELETE,
            &format!("/environments/{staging}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        h.call(&staging_key, Method::GET, "/integrations", None)
            .await
            .0,
        401
    );
    assert_eq!(
        h.call(
            ACCOUNT_KEY,
            Method::DELETE,
            &format!("/environments/{staging}"),
            None
        )
        .await
        .1["error"]["code"],
        "unknown_environment"
    );
    // Production environments are kept.
    let prod = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            "/environments",
            Some(json!({"name": "prod"})),
        )
        .await
        .1["data"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, refused) = h
        .call(
            ACCOUNT_KEY,
            Method::DELETE,
            &format!("/environments/{prod}"),
            None,
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("cannot_delete_prod_environment"))
    );
    assert_eq!(
        h.call(
            ACCOUNT_KEY,
            Method::DELETE,
            "/environments/not-a-uuid",
            None
        )
        .await
        .1["error"]["code"],
        "invalid_uri_params"
    );
}

async fn environment_keys_rotate_with_an_overlap(backend: Backend) {
    let h = Harness::start(backend).await;
    let dev = h.dev().await.id.to_string();
    let keys_path = format!("/environments/{dev}/api-keys");
    let new = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            &keys_path,
            Some(json!({"display_name": "rotated"})),
        )
        .await
        .1;
    let new_key = new["data"]["secret"].as_str().unwrap().to_string();
    let new_id = new["data"]["id"].as_str().unwrap().to_string();
    // Both keys work during the overlap.
    assert_eq!(h.call(KEY, Method::GET, "/integrations", None).await.0, 200);
    assert_eq!(
        h.call(&new_key, Method::GET, "/integrations", None).await.0,
        200
    );
    let listed = h.call(ACCOUNT_KEY, Method::GET, &keys_path, None).await.1;
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["FERRY_SECRET_KEY", "rotated"]);
    assert!(
        listed["data"][0].get("secret").is_none(),
        "secrets are shown once"
    );
    assert_eq!(
        h.call(
            ACCOUNT_KEY,
            Method::GET,
            &format!("{keys_path}/{new_id}"),
            None
        )
        .await
        .1["data"]["display_name"],
        "rotated"
    );
    // The old key goes; the new one stays.
    let old_id = listed["data"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = h
        .call(
            ACCOUNT_KEY,
            Method::DELETE,
            &format!("{keys_path}/{old_id}"),
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!({"success": true})));
    assert_eq!(h.call(KEY, Method::GET, "/integrations", None).await.0, 401);
    assert_eq!(
        h.call(&new_key, Method::GET, "/integrations", None).await.0,
        200
    );
    assert_eq!(
        h.call(
            ACCOUNT_KEY,
            Method::DELETE,
            &format!("{keys_path}/{old_id}"),
            None
        )
        .await
        .1["error"]["code"],
        "unknown_api_key"
    );
    let (status, reserved) = h
        .call(
            ACCOUNT_KEY,
            Method::POST,
            &keys_path,
            Some(json!({"display_name": "FERRY_SECRET_KEY"})),
        )
        .await;
    assert_eq!(
        (status, reserved["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
}

async fn environment_settings(backend: Backend) {
    let h = Harness::start(backend).await;
    assert_eq!(
        h.ok(Method::GET, "/environment-variables", None).await,
        json!([])
    );
    h.ok(
        Method::POST,
        "/environment-variables",
        Some(json!({"variables": [{"name": "API_TOKEN", "value": "s3cret"}, {"name": "REGION", "value": "eu"}]})),
    )
    .await;
    assert_eq!(
        h.ok(Method::GET, "/environment-variables", None).await,
        json!([{"name": "API_TOKEN", "value": "s3cret"}, {"name": "REGION", "value": "eu"}])
    );
    let sealed = h
        .db_texts("SELECT variables_enc FROM environments WHERE variables_enc IS NOT NULL")
        .await;
    assert!(
        sealed
            .iter()
            .all(|s| s.starts_with("v1:") && !s.contains("s3cret"))
    );
    h.fails(
        Method::POST,
        "/environment-variables",
        Some(json!({"variables": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]})),
        400,
        "invalid_body",
    )
    .await;
    h.fails(
        Method::POST,
        "/environment-variables",
        Some(json!({"variables": [{"name": "not ok", "value": "1"}]})),
        400,
        "invalid_body",
    )
    .await;
    let first = h
        .ok(
            Method::POST,
            "/environment/webhook-signing-key/rotate",
            None,
        )
        .await;
    let second = h
        .ok(
            Method::POST,
            "/environment/webhook-signing-key/rotate",
            None,
        )
        .await;
    let (a, b) = (
        first["data"]["webhook_signing_key"].as_str().unwrap(),
        second["data"]["webhook_signing_key"].as_str().unwrap(),
    );
    assert!(a.len() >= 32 && a != b);
}

async fn providers_and_integrations(backend: Backend) {
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
    assert_eq!(notion["proxy"]["headers"]["notion-version"], "2025-09-03");
    assert_eq!(
        h.ok(Method::GET, "/providers/notion", None).await["data"]["proxy"]["base_url"],
        h.emulator.base_url()
    );
    h.fails(
        Method::GET,
        "/providers/slack",
        None,
        404,
        "unknown_provider",
    )
    .await;

    h.notion_integration("emulator-client-secret").await;
    h.fails(
        Method::POST,
        "/integrations",
        Some(json!({"provider": "notion", "unique_key": "notion"})),
        409,
        "duplicate_integration",
    )
    .await;
    h.fails(
        Method::POST,
        "/integrations",
        Some(json!({"provider": "nope", "unique_key": "x"})),
        400,
        "invalid_provider",
    )
    .await;
    for (body, field) in [
        (
            json!({"provider": "notion", "unique_key": "bad/key"}),
            "unique_key",
        ),
        (
            json!({"provider": "notion", "unique_key": "."}),
            "unique_key",
        ),
        (
            json!({"provider": "notion", "unique_key": ".."}),
            "unique_key",
        ),
        (
            json!({"provider": "notion", "unique_key": "n2", "integration_config": {"rate_limit": -1}}),
            "integration_config.rate_limit",
        ),
        (
            json!({"provider": "notion", "unique_key": "n2", "integration_config": {"api_version": "1999-01-01"}}),
            "api_version",
        ),
        (json!({"provider": 3}), "provider"),
        (
            json!({"provider": "notion", "unique_key": "n2", "custom": {"a": 1}}),
            "custom",
        ),
        (
            json!({"provider": "notion", "unique_key": "n2", "credentials": {"type": "OAUTH2", "client_id": "a", "client_secret": "b", "scopes": "a b"}}),
            "scopes",
        ),
        (
            json!({"provider": "notion", "unique_key": "n2", "credentials": {"type": "API_KEY"}}),
            "credentials",
        ),
    ] {
        let message = h
            .fails(
                Method::POST,
                "/integrations",
                Some(body),
                400,
                "invalid_body",
            )
            .await;
        assert!(message.contains(field), "`{field}` in: {message}");
    }
    h.fails(
        Method::PATCH,
        "/integrations/notion",
        None,
        400,
        "invalid_body",
    )
    .await;

    let list = h.ok(Method::GET, "/integrations", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let listed = &list["data"][0];
    for absent in ["credentials", "integration_config", "webhook_url"] {
        assert!(listed.get(absent).is_none(), "{absent} only when asked for");
    }
    let logo = h
        .http
        .get(listed["logo"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    let with = h
        .ok(
            Method::GET,
            "/integrations/notion?include=credentials&include=webhook&include=integration_config",
            None,
        )
        .await;
    assert_eq!(
        with["data"]["credentials"]["client_secret"],
        "emulator-client-secret"
    );
    assert_eq!(
        with["data"]["credentials"]["scopes"],
        Value::Null,
        "no scopes is null, not \"\""
    );
    assert_eq!(
        with["data"]["webhook_url"],
        Value::Null,
        "no provider-webhook route yet"
    );
    assert_eq!(with["data"]["integration_config"], json!({}));
    h.fails(
        Method::GET,
        "/integrations/notion?include=everything",
        None,
        400,
        "invalid_query_params",
    )
    .await;
    // The client secret is encrypted at rest.
    let sealed = h
        .db_texts("SELECT client_secret_enc FROM integrations")
        .await;
    assert!(sealed[0].starts_with("v1:") && !sealed[0].contains("emulator-client-secret"));

    let updated = h
        .ok(
            Method::PATCH,
            "/integrations/notion",
            Some(json!({"display_name": "Notion (work)", "credentials": {"type": "OAUTH2", "scopes": "read,write"}, "integration_config": {"api_version": "2022-06-28", "rate_limit": "5"}})),
        )
        .await;
    assert_eq!(updated["data"]["display_name"], "Notion (work)");
    let with = h
        .ok(
            Method::GET,
            "/integrations/notion?include=credentials,integration_config",
            None,
        )
        .await;
    assert_eq!(with["data"]["credentials"]["scopes"], "read,write");
    assert_eq!(
        with["data"]["credentials"]["client_secret"], "emulator-client-secret",
        "kept"
    );
    assert_eq!(
        with["data"]["integration_config"],
        json!({"api_version": "2022-06-28", "rate_limit": 5.0})
    );
    h.ok(Method::DELETE, "/integrations/notion", None).await;
    h.fails(
        Method::GET,
        "/integrations/notion",
        None,
        404,
        "unknown_provider_config",
    )
    .await;
    h.fails(
        Method::DELETE,
        "/integrations/notion",
        None,
        404,
        "unknown_provider_config",
    )
    .await;
}
