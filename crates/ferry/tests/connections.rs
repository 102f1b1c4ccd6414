//! Connections through the API on SQLite and PostgreSQL: import, Nango's shapes, filters
//! that compare exactly, patch, delete, metadata, the deprecated routes, and garbage refused
//! with the field named.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness};

backend_tests!(
    connections_crud_and_metadata,
    end_user_filters_are_exact,
    tags_and_search,
    garbage_is_refused_with_the_field_named,
    deprecated_connection_routes,
);

async fn import(h: &Harness, id: &str, end_user: Value, tags: Value) {
    h.ok(
        Method::POST,
        "/connections",
        Some(json!({
            "provider_config_key": "notion",
            "connection_id": id,
            "credentials": {"type": "OAUTH2", "access_token": format!("ntn_token_{id}"), "refresh_token": format!("nrt_{id}")},
            "end_user": end_user,
            "tags": tags,
            "metadata": {"n": 1},
        })),
    )
    .await;
}

async fn connections_crud_and_metadata(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let (status, created) = h
        .api(
            Method::POST,
            "/connections",
            Some(json!({
                "provider_config_key": "notion",
                "connection_id": "a",
                "credentials": {"type": "OAUTH2", "access_token": "ntn_token_a", "refresh_token": "nrt_a", "expires_at": "2030-01-01T00:00:00Z"},
                "end_user": {"id": "alice", "email": "alice@example.com"},
                "metadata": {"n": 1},
                "webhook_url_override": "https://app.example.com/hooks",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created["id"].is_i64(),
        "Nango's id is an integer: {created}"
    );
    assert_eq!(
        created["credentials"]["access_token"], "ntn_token_a",
        "the stored credentials come back"
    );
    assert_eq!(
        created["credentials"]["expires_at"],
        "2030-01-01T00:00:00.000Z"
    );
    assert_eq!(
        created["webhook_url_override"],
        "https://app.example.com/hooks"
    );
    for (id, user) in [("b", "bob"), ("c", "alice")] {
        import(&h, id, json!({"id": user}), json!({})).await;
    }
    h.fails(
        Method::POST,
        "/connections",
        Some(json!({"provider_config_key": "missing", "credentials": {"type": "OAUTH2", "access_token": "x"}})),
        404,
        "unknown_provider_config",
    )
    .await;
    h.fails(
        Method::POST,
        "/connections",
        Some(json!({"provider_config_key": "notion"})),
        400,
        "invalid_body",
    )
    .await;

    let all = h.ok(Method::GET, "/connections", None).await;
    let ids: Vec<i64> = all["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] != w[1]));
    assert_eq!(all["connections"][0]["end_user"]["id"], "alice");
    assert_eq!(all["connections"][0]["errors"], json!([]));
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
    h.fails(
        Method::GET,
        "/connections?limit=0",
        None,
        400,
        "invalid_query_params",
    )
    .await;
    h.fails(
        Method::GET,
        "/connections?colour=blue",
        None,
        400,
        "invalid_query_params",
    )
    .await;

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
    assert!(
        full["last_fetched_at"].is_string(),
        "reading with credentials is recorded"
    );
    let with_refresh = h
        .ok(Method::GET, "/connections/a?provider_config_key=notion&refresh_token=true&refresh_github_app_jwt_token=false", None)
        .await;
    assert_eq!(with_refresh["credentials"]["refresh_token"], "nrt_a");
    h.fails(
        Method::GET,
        "/connections/zzz?provider_config_key=notion",
        None,
        404,
        "unknown_connection",
    )
    .await;
    h.fails(
        Method::GET,
        "/connections/a",
        None,
        400,
        "invalid_query_params",
    )
    .await;
    let sealed = h.db_texts("SELECT credentials_enc FROM connections").await;
    assert!(
        sealed
            .iter()
            .all(|s| s.starts_with("v1:") && !s.contains("ntn_token"))
    );

    let patched = h
        .ok(
            Method::PATCH,
            "/connections/a?provider_config_key=notion",
            Some(json!({"end_user": {"id": "carol"}, "tags": {"plan": "pro"}, "webhook_url_override": null})),
        )
        .await;
    assert_eq!(
        patched,
        json!({"success": true}),
        "Nango answers PATCH with success"
    );
    let after = h
        .ok(
            Method::GET,
            "/connections/a?provider_config_key=notion",
            None,
        )
        .await;
    assert_eq!(after["end_user"]["id"], "carol");
    assert_eq!(after["tags"], json!({"plan": "pro"}));
    assert_eq!(after["webhook_url_override"], Value::Null);
    h.fails(
        Method::PATCH,
        "/connections/a?provider_config_key=notion",
        None,
        400,
        "invalid_body",
    )
    .await;

    let replaced = h
        .ok(Method::POST, "/connections/metadata", Some(json!({"connection_id": ["a", "b"], "provider_config_key": "notion", "metadata": {"x": 1}})))
        .await;
    assert_eq!(replaced["connection_id"], json!(["a", "b"]));
    h.ok(
        Method::PATCH,
        "/connections/metadata",
        Some(json!({"connection_id": "a", "provider_config_key": "notion", "metadata": {"y": 2}})),
    )
    .await;
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
    // One unknown id changes nothing.
    h.fails(
        Method::POST,
        "/connections/metadata",
        Some(json!({"connection_id": ["b", "nope"], "provider_config_key": "notion", "metadata": {"z": 3}})),
        404,
        "unknown_connection",
    )
    .await;
    assert_eq!(
        h.ok(
            Method::GET,
            "/connections/b?provider_config_key=notion",
            None
        )
        .await["metadata"],
        json!({"x": 1})
    );
    h.fails(
        Method::POST,
        "/connections/metadata",
        Some(json!({"connection_id": "a", "provider_config_key": "notion", "metadata": [1]})),
        400,
        "invalid_body",
    )
    .await;

    h.ok(
        Method::DELETE,
        "/connections/c?provider_config_key=notion",
        None,
    )
    .await;
    h.fails(
        Method::GET,
        "/connections/c?provider_config_key=notion",
        None,
        404,
        "unknown_connection",
    )
    .await;
    h.fails(
        Method::DELETE,
        "/connections/c?provider_config_key=notion",
        None,
        404,
        "unknown_connection",
    )
    .await;
}

async fn end_user_filters_are_exact(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    for (id, user) in [
        ("1", "Alice"),
        ("2", "alice"),
        ("3", "a_b"),
        ("4", "axb"),
        ("5", "100%"),
        ("6", "1000"),
    ] {
        import(
            &h,
            id,
            json!({"id": user, "organization": {"id": format!("org-{user}")}}),
            json!({}),
        )
        .await;
    }
    let found = |query: &'static str| {
        let h = &h;
        async move {
            let list = h
                .ok(Method::GET, &format!("/connections?{query}"), None)
                .await;
            let mut ids: Vec<String> = list["connections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["connection_id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        found("endUserId=Alice").await,
        ["1"],
        "case matters, on both backends"
    );
    assert_eq!(found("endUserId=alice").await, ["2"]);
    assert_eq!(found("endUserId=a_b").await, ["3"], "`_` is not a wildcard");
    assert_eq!(
        found("endUserId=100%25").await,
        ["5"],
        "`%` is not a wildcard"
    );
    assert_eq!(found("endUserId=%25").await, Vec::<String>::new());
    assert_eq!(found("endUserOrganizationId=org-a_b").await, ["3"]);
    assert_eq!(found("endUserId=nobody").await, Vec::<String>::new());
}

async fn tags_and_search(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    import(
        &h,
        "pro-1",
        json!({"id": "u1", "email": "One@Example.com", "display_name": "Ann"}),
        json!({"Plan": "pro", "region": "eu"}),
    )
    .await;
    import(
        &h,
        "pro-2",
        json!({"id": "u2"}),
        json!({"plan": "pro", "region": "us"}),
    )
    .await;
    import(&h, "free_3", json!({"id": "u3"}), json!({"plan": "free"})).await;
    let found = |query: &'static str| {
        let h = &h;
        async move {
            let list = h
                .ok(Method::GET, &format!("/connections?{query}"), None)
                .await;
            let mut ids: Vec<String> = list["connections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["connection_id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    // `tags[key]=value`, as @nangohq/node sends it (keys lower-cased), all must match.
    assert_eq!(found("tags%5Bplan%5D=pro").await, ["pro-1", "pro-2"]);
    assert_eq!(found("tags[plan]=pro&tags[region]=eu").await, ["pro-1"]);
    assert_eq!(
        found("tags[plan]=PRO").await,
        Vec::<String>::new(),
        "values compare exactly"
    );
    assert_eq!(
        found("tags[end_user_email]=One@Example.com").await,
        ["pro-1"]
    );
    assert_eq!(found("tags[end_user_display_name]=Ann").await, ["pro-1"]);
    // `search` matches part of an id or end user, any case, with wildcards taken literally.
    assert_eq!(found("search=PRO").await, ["pro-1", "pro-2"]);
    assert_eq!(found("search=one%40example").await, ["pro-1"]);
    assert_eq!(found("search=%25").await, Vec::<String>::new());
    assert_eq!(found("search=_").await, ["free_3"]);
    // Tags shown are the tags given, keys as written.
    let one = h
        .ok(Method::GET, "/connections?connectionId=pro-1", None)
        .await;
    assert_eq!(
        one["connections"][0]["tags"],
        json!({"Plan": "pro", "region": "eu"})
    );
    // A patch of the tags or end user moves the filters with it.
    h.ok(
        Method::PATCH,
        "/connections/pro-2?provider_config_key=notion",
        Some(json!({"tags": {"plan": "free"}})),
    )
    .await;
    assert_eq!(found("tags[plan]=pro").await, ["pro-1"]);
    h.ok(
        Method::PATCH,
        "/connections/free_3?provider_config_key=notion",
        Some(json!({"end_user": {"id": "u3", "email": "three@example.com"}})),
    )
    .await;
    assert_eq!(
        found("tags[end_user_email]=three@example.com").await,
        ["free_3"]
    );
}

async fn garbage_is_refused_with_the_field_named(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let base = json!({
        "provider_config_key": "notion",
        "connection_id": "ok",
        "credentials": {"type": "OAUTH2", "access_token": "ntn"},
    });
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        let mut target = &mut body;
        let parts: Vec<&str> = field.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = &mut target[*part];
        }
        target[*parts.last().unwrap()] = value;
        body
    };
    for (field, value) in [
        ("end_user", json!(42)),
        ("end_user", json!({"email": "no-id@example.com"})),
        ("end_user.id", json!(" ")),
        ("credentials.expires_at", json!("garbage")),
        ("credentials.access_token", json!("")),
        ("credentials.type", json!("API_KEY")),
        ("tags", json!({"plan": 1})),
        ("tags", json!("pro")),
        ("connection_id", json!(" ")),
        ("connection_id", json!(" padded")),
        ("connection_id", json!("héllo")),
        ("connection_id", json!("x".repeat(256))),
        ("metadata", json!("text")),
        ("connection_config", json!([1])),
        ("webhook_url_override", json!("not a url")),
        ("provider_config_key", json!("..")),
    ] {
        let body = with(field, value.clone());
        let message = h
            .fails(
                Method::POST,
                "/connections",
                Some(body),
                400,
                "invalid_body",
            )
            .await;
        let named = field.split('.').next_back().unwrap();
        assert!(message.contains(named), "{field} = {value}: {message}");
    }
    assert_eq!(
        h.ok(Method::GET, "/connections", None).await["connections"],
        json!([]),
        "nothing was stored"
    );
    // Path segments and query values are checked too.
    h.fails(
        Method::GET,
        "/connections/%20?provider_config_key=notion",
        None,
        400,
        "invalid_uri_params",
    )
    .await;
    h.fails(
        Method::GET,
        "/connections?connectionId=%C3%A9",
        None,
        400,
        "invalid_query_params",
    )
    .await;
    h.fails(
        Method::GET,
        "/connections/x?provider_config_key=..",
        None,
        400,
        "invalid_query_params",
    )
    .await;
}

async fn deprecated_connection_routes(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let (status, created) = h
        .api(
            Method::POST,
            "/connection",
            Some(json!({"provider_config_key": "notion", "connection_id": "old", "access_token": "ntn_old", "expires_in": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["credentials"]["expires_at"].is_string());
    assert_eq!(
        h.ok(Method::GET, "/connection", None).await["connections"][0]["connection_id"],
        "old"
    );
    let one = h
        .ok(
            Method::GET,
            "/connection/old?provider_config_key=notion",
            None,
        )
        .await;
    assert_eq!(one["credentials"]["access_token"], "ntn_old");
    let (status, _, _) = h
        .request(
            Method::POST,
            "/connection/old/metadata",
            Some(support::KEY),
            &[("Provider-Config-Key", "notion")],
            Some(json!({"a": 1})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, _) = h
        .request(
            Method::PATCH,
            "/connection/old/metadata",
            Some(support::KEY),
            &[("Provider-Config-Key", "notion")],
            Some(json!({"b": 2})),
        )
        .await;
    assert_eq!(status, 200);
    h.ok(
        Method::PATCH,
        "/connection/metadata",
        Some(
            json!({"connection_id": "old", "provider_config_key": "notion", "metadata": {"c": 3}}),
        ),
    )
    .await;
    assert_eq!(
        h.ok(
            Method::GET,
            "/connections/old?provider_config_key=notion",
            None
        )
        .await["metadata"],
        json!({"a": 1, "b": 2, "c": 3})
    );
    h.ok(
        Method::DELETE,
        "/connection/old?provider_config_key=notion",
        None,
    )
    .await;
    h.fails(
        Method::GET,
        "/connection/old?provider_config_key=notion",
        None,
        404,
        "unknown_connection",
    )
    .await;
}
