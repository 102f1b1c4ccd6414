//! Operation logs are written in batches of any size, as JSON unpacked by the database: a
//! batch across several statements lands whole, and text PostgreSQL cannot hold (a NUL) is
//! stored with U+FFFD in its place instead of failing the batch, on SQLite and PostgreSQL.

use ferry_engine::storage::{OperationFilter, OperationRecord, Storage};
use ferry_store::Store;

fn operation(n: usize, message: &str) -> OperationRecord {
    OperationRecord {
        id: format!("op-{n:06}"),
        environment_id: "env-1".into(),
        kind: "proxy".into(),
        status: "success".into(),
        integration_key: Some("notion".into()),
        connection_id: n.is_multiple_of(2).then(|| "c \"quoted\" ü".into()),
        message: Some(message.into()),
        exchanges: format!(r#"[{{"attempt":1,"n":{n},"body":"\u0000 and \\"}}]"#),
        started_at: format!("2026-01-01T00:00:00.{:03}Z", n % 1000),
        ended_at: None,
    }
}

async fn batches_of_any_size_land_whole(url: &str) {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.create_environment("one", false).await.unwrap();
    tx.commit().await.unwrap();
    let environment = store.environment_by_name("one").await.unwrap().unwrap();
    let mut ops: Vec<_> = (0..12_001)
        .map(|n| operation(n, "GET https://api.notion.com/v1/users → 200"))
        .collect();
    ops[7].message = Some("a NUL \0 in the middle".into());
    for op in &mut ops {
        op.environment_id = environment.id.clone();
    }
    let mut tx = store.begin().await.unwrap();
    tx.insert_operations(&ops).await.unwrap();
    tx.commit().await.unwrap();

    let seventh = Storage::operation(&store, &environment.id, "op-000007")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seventh.message.as_deref(),
        Some("a NUL \u{FFFD} in the middle")
    );
    assert_eq!(
        seventh.exchanges, ops[7].exchanges,
        "JSON text kept as sent"
    );
    assert_eq!(seventh.connection_id, None);
    let eighth = Storage::operation(&store, &environment.id, "op-000008")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eighth.connection_id.as_deref(), Some("c \"quoted\" ü"));
    assert_eq!(eighth.ended_at, None);
    let all = Storage::list_operations(
        &store,
        &environment.id,
        &OperationFilter {
            limit: 20_000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 12_001, "every row of every statement");
    store.close().await;
}

#[tokio::test]
async fn sqlite_batches_land_whole() {
    let dir = std::env::temp_dir().join(format!("ferry-ops-{}", uuid::Uuid::new_v4()));
    batches_of_any_size_land_whole(&format!("sqlite://{}/ferry.db", dir.display())).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_batches_land_whole() {
    let Ok(admin) = std::env::var("FERRY_TEST_DATABASE_URL") else {
        eprintln!("skipped on PostgreSQL: FERRY_TEST_DATABASE_URL is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("ferry_ops_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    batches_of_any_size_land_whole(&url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}
