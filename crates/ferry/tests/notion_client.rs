//! Ferry's typed Notion client (`ferry-notion`) driven through the engine's provider client
//! against the emulator: pacing and `Retry-After` under a storm of 429s, a 401 answered by a
//! token refresh, and every exchange recorded in the calling operation.

mod support;

use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::logs::OperationKind;
use ferry_notion::types::Object;
use ferry_notion::{ApiVersion, Notion, NotionError};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, Harness};

backend_tests!(typed_client_through_the_provider_client);

async fn typed_client_through_the_provider_client(backend: Backend) {
    let h = Harness::start(backend).await;
    h.notion_integration("emulator-client-secret").await;
    let id = h.connect_with_oauth("ivy").await;
    let env = h.dev().await;
    let key = IntegrationKey::parse("notion").unwrap();
    let connection = ConnectionId::parse(&id).unwrap();

    // A storm: the next 3 calls to the users list answer 429 with Retry-After: 1, and the
    // first call to `/v1/users/me` answers 401 (the token is refreshed, the call repeated).
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users", "status": 429, "retry_after": 1, "count": 3}),
    )
    .await;
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"path": "/v1/users/me", "status": 401, "code": "unauthorized", "count": 1}),
    )
    .await;

    let transport = h
        .engine
        .client()
        .transport(&env.id, &key, &connection, OperationKind::Action)
        .await
        .unwrap();
    assert_eq!(transport.api_version(), Some("2025-09-03"));
    let operation = transport.operation_id();
    let notion = Notion::new(transport, ApiVersion::V2025_09_03);
    let started = std::time::Instant::now();
    let users = notion.users().all().await.unwrap();
    assert_eq!(users.len(), 4, "every user, paged");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "the pacer waited out each Retry-After"
    );
    let me = notion.me().await.unwrap();
    assert!(me.is_bot());
    let found = notion
        .search(json!({"filter": {"property": "object", "value": "data_source"}}))
        .all()
        .await
        .unwrap();
    assert!(found.iter().any(|o| matches!(o, Object::DataSource(d) if ferry_notion::types::plain_text(&d.title) == "Tasks")));
    // Notion's errors keep their code; a bad id is refused before anything is sent.
    let missing = notion
        .page("00000000-0000-4000-8000-00000000beef")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("object_not_found"));
    assert!(matches!(
        notion.page("../../users").await,
        Err(NotionError::InvalidId { .. })
    ));
    let transport = notion_transport(notion);
    transport.finish(true, Some("typed client test".to_string()));

    let operation = h.ok(Method::GET, &format!("/logs/{operation}"), None).await;
    assert_eq!(operation["data"]["type"], "action");
    assert_eq!(operation["data"]["connection_id"], id.as_str());
    let exchanges = operation["data"]["exchanges"].as_array().unwrap();
    let statuses: Vec<u64> = exchanges
        .iter()
        .filter_map(|e| e["status"].as_u64())
        .collect();
    assert_eq!(&statuses[..5], [429, 429, 429, 200, 401], "{operation}");
    assert_eq!(statuses[5], 200, "after the refresh");
    for e in exchanges {
        assert_eq!(e["request_headers"]["authorization"], "[redacted]");
        assert_eq!(e["request_headers"]["notion-version"], "2025-09-03");
    }
    let waited: u64 = exchanges
        .iter()
        .map(|e| e["waited_ms"].as_u64().unwrap())
        .sum();
    assert!(waited >= 2900, "the waits are recorded: {waited} ms");
    let refreshes = h.ok(Method::GET, "/logs?type=token_refresh", None).await;
    assert_eq!(refreshes["data"].as_array().unwrap().len(), 1);
    assert_eq!(refreshes["data"][0]["status"], "success");
    assert_eq!(
        h.ok(Method::GET, "/logs?type=action", None).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _: Value = operation;
}

/// The transport back from a client that is done.
fn notion_transport<T>(notion: Notion<T>) -> T
where
    T: ferry_provider::Transport,
{
    notion.into_transport()
}
