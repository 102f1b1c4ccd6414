//! The hot caches across processes, on SQLite and PostgreSQL: a second engine on the same
//! database (what another `ferry serve` is) replaces a token, deletes a connection and a key
//! and changes an integration. The first engine keeps answering from its caches until its
//! change watcher applies what the database reported, then follows every change.

mod support;

use std::time::Duration;

use ferry_engine::connections::ImportConnection;
use ferry_engine::credentials::Credentials;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::integrations::IntegrationChanges;
use ferry_engine::providers::IntegrationConfig;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness, KEY};

backend_tests!(other_processes_changes_reach_the_hot_caches);

/// What the first engine answers: the proxied status of `connection` with `key`, and the
/// search result type (it follows the integration's Notion version).
async fn answers(h: &Harness, key: &str, connection: &str) -> (u16, Value) {
    let (status, _, body) = h
        .request(
            Method::POST,
            "/proxy/v1/search",
            Some(key),
            &[
                ("Connection-Id", connection),
                ("Provider-Config-Key", "notion"),
            ],
            Some(json!({"page_size": 1})),
        )
        .await;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, body["type"].clone())
}

async fn other_processes_changes_reach_the_hot_caches(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    for id in ["kept", "retoken", "gone"] {
        h.import_demo_connection(id).await;
    }
    let env = h.dev().await.id;
    let extra = h
        .engine
        .environments()
        .create_key(&env, "extra")
        .await
        .unwrap();
    let mut watcher = h.engine.watch_changes().await.unwrap();
    // Warm every cache: the keys, the integration, the connections.
    for (key, connection) in [
        (KEY, "kept"),
        (KEY, "retoken"),
        (KEY, "gone"),
        (extra.secret.as_str(), "kept"),
    ] {
        assert_eq!(
            answers(&h, key, connection).await,
            (200, json!("page_or_data_source"))
        );
    }

    let other = h.second_engine().await;
    let notion = IntegrationKey::parse("notion").unwrap();
    other
        .connections()
        .import(
            &env,
            ImportConnection {
                provider_config_key: notion.clone(),
                connection_id: Some(ConnectionId::parse("retoken").unwrap()),
                credentials: Credentials::oauth2("ntn_revoked".into(), None, None, json!({})),
                connection_config: Default::default(),
                metadata: Default::default(),
                end_user: None,
                tags: Default::default(),
                webhook_url_override: None,
            },
        )
        .await
        .unwrap();
    other
        .connections()
        .delete(&env, &notion, &ConnectionId::parse("gone").unwrap())
        .await
        .unwrap();
    other
        .environments()
        .delete_key(&env, &extra.key.id)
        .await
        .unwrap();
    other
        .integrations()
        .update(
            &env,
            &notion,
            IntegrationChanges {
                config: Some(IntegrationConfig {
                    api_version: Some("2022-06-28".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    other.close().await;

    // Until the watcher applies them, the first engine answers from what it cached.
    assert_eq!(
        answers(&h, KEY, "gone").await,
        (200, json!("page_or_data_source"))
    );
    assert_eq!(answers(&h, extra.secret.as_str(), "kept").await.0, 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let followed = answers(&h, KEY, "kept").await.1 == json!("page_or_database")
            && answers(&h, KEY, "retoken").await.0 == 401
            && answers(&h, KEY, "gone").await.0 == 404
            && answers(&h, extra.secret.as_str(), "kept").await.0 == 401;
        if followed {
            break;
        }
        tokio::time::timeout_at(deadline, watcher.apply_next())
            .await
            .expect("every change reaches the watcher")
            .unwrap();
    }
    assert_eq!(
        answers(&h, KEY, "kept").await,
        (200, json!("page_or_database")),
        "the integration's new version is used"
    );
    assert_eq!(
        answers(&h, KEY, "retoken").await.0,
        401,
        "the replaced token is sent (the emulator refuses it)"
    );
    let (status, _) = answers(&h, KEY, "gone").await;
    assert_eq!(status, 404, "the deleted connection is gone");
    assert_eq!(
        answers(&h, extra.secret.as_str(), "kept").await.0,
        401,
        "the deleted key is refused"
    );
}
