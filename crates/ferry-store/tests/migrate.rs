//! Migrating a database written by an older Ferry keeps its data usable: a database at
//! migration 0002 with connections, end users, tags and Notion-named integration settings is
//! migrated and its rows read back in their new places, on SQLite and on PostgreSQL.

use std::path::PathBuf;

use ferry_engine::storage::{ConnectionFilter, Storage};
use ferry_store::Store;

/// Copies migrations 0001 and 0002 into a folder of their own: the schema of an older Ferry.
fn old_migrations() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferry-old-migrations-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["0001_core.sql", "0002_refresh_lease.sql"] {
        let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(name);
        std::fs::copy(from, dir.join(name)).unwrap();
    }
    dir
}

const OLD_ROWS: &[&str] = &[
    "INSERT INTO environments (id, name, secret_key_hash, created_at) VALUES ('env-dev', 'dev', 'hash-dev', '2026-01-01T00:00:00.000Z')",
    "INSERT INTO environments (id, name, secret_key_hash, created_at) VALUES ('env-prod', 'prod', 'hash-prod', '2026-01-02T00:00:00.000Z')",
    "INSERT INTO integrations (id, environment_id, unique_key, provider, display_name, integration_config, forward_webhooks, created_at, updated_at) VALUES ('int-1', 'env-dev', 'notion', 'notion', 'Notion', '{\"notion_base_url\": \"http://127.0.0.1:9\", \"notion_version\": \"2022-06-28\", \"rate_limit\": 2}', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
    "INSERT INTO connections (id, environment_id, integration_id, connection_id, credentials_enc, connection_config, metadata, end_user, tags, created_at, updated_at) VALUES ('c-1', 'env-dev', 'int-1', 'first', 'v1:x', '{}', '{}', '{\"id\": \"Alice\", \"email\": \"alice@example.com\", \"organization\": {\"id\": \"org-1\"}}', '{\"Plan\": \"pro\", \"seats\": 3}', '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z')",
    "INSERT INTO connections (id, environment_id, integration_id, connection_id, credentials_enc, connection_config, metadata, end_user, tags, created_at, updated_at) VALUES ('c-2', 'env-dev', 'int-1', 'second', 'v1:y', '{}', '{}', NULL, '{}', '2026-01-04T00:00:00.000Z', '2026-01-04T00:00:00.000Z')",
];

async fn migrates_an_older_database(url: &str) {
    sqlx::any::install_default_drivers();
    let dir = old_migrations();
    // SQLite needs the file made; Store::connect does that.
    let store = Store::connect(url).await.unwrap();
    store.close().await;
    let pool = sqlx::AnyPool::connect(&if url.starts_with("sqlite") {
        format!("{url}?mode=rwc")
    } else {
        url.to_string()
    })
    .await
    .unwrap();
    sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for row in OLD_ROWS {
        sqlx::query(sqlx::AssertSqlSafe(row.to_string()))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // a second start changes nothing
    let by_user = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                end_user_id: Some("Alice".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_user.len(), 1);
    assert_eq!(by_user[0].connection_id, "first");
    assert_eq!(
        by_user[0].tags["seats"], "3",
        "a tag that was not text shows as its JSON"
    );
    let by_org = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                end_user_organization_id: Some("org-1".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_org.len(), 1);
    let by_tag = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                tags: vec![("plan".into(), "pro".into())],
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 1, "tag keys are lower-cased for the filter");
    let by_email = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                tags: vec![("end_user_email".into(), "alice@example.com".into())],
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    let found = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                search: Some("ALICE".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let all = store
        .list_connections(
            "env-dev",
            &ConnectionFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut numbers: Vec<i64> = all.iter().map(|c| c.number).collect();
    numbers.sort();
    assert_eq!(
        numbers,
        [1, 2],
        "existing connections are numbered in creation order"
    );
    let integration = store
        .integration("env-dev", "notion")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        integration.config,
        serde_json::json!({"base_url": "http://127.0.0.1:9", "api_version": "2022-06-28", "rate_limit": 2})
    );
    let keys = Storage::api_keys(&store, Some("env-dev")).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].display_name, "FERRY_SECRET_KEY");
    assert_eq!(keys[0].secret_hash, "hash-dev", "the old key still works");
    let prod = Storage::api_keys(&store, Some("env-prod")).await.unwrap();
    assert_eq!(prod[0].display_name, "Default");
    let environments = store.list_environments(None).await.unwrap();
    assert_eq!(
        environments.iter().map(|e| e.number).collect::<Vec<_>>(),
        [1, 2]
    );
    // New rows continue the numbering.
    let mut tx = store.begin().await.unwrap();
    let created = tx
        .create_environment("staging", false)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(created.number, 3);
    store.close().await;
}

#[tokio::test]
async fn sqlite_migrates_an_older_database() {
    let dir = std::env::temp_dir().join(format!("ferry-migrate-{}", uuid::Uuid::new_v4().simple()));
    migrates_an_older_database(&format!("sqlite://{}/ferry.db", dir.display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_migrates_an_older_database() {
    let Some(admin) = std::env::var("FERRY_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipped on PostgreSQL: FERRY_TEST_DATABASE_URL is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("ferry_m_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{name}");
    let outcome = tokio::spawn(async move { migrates_an_older_database(&url).await }).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await;
    pool.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
