//! The change feed reports what it may have missed as "everything": on SQLite when change
//! rows it never read were pruned, on PostgreSQL when its listening connection was lost.

use std::time::Duration;

use ferry_engine::storage::{CachedRowChange, ChangeFeed};
use ferry_store::Store;

async fn exec(store_url: &str, sql: &str) {
    let pool = sqlx::AnyPool::connect(store_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn next(feed: &mut Box<dyn ChangeFeed>) -> Vec<CachedRowChange> {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("the feed answers")
        .unwrap()
}

const ENVIRONMENT: &str = "INSERT INTO environments (id, name, secret_key_hash, created_at, number) VALUES ('env-1', 'one', 'h1', '2026-01-01T00:00:00.000Z', 100)";

#[tokio::test]
async fn sqlite_reports_pruned_rows_as_everything() {
    sqlx::any::install_default_drivers();
    let dir = std::env::temp_dir().join(format!("ferry-changes-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/ferry.db", dir.display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut feed = store.watch_changes().await.unwrap();
    let raw = format!("{url}?mode=rwc");
    exec(&raw, ENVIRONMENT).await;
    exec(
        &raw,
        "UPDATE environments SET name = 'uno' WHERE id = 'env-1'",
    )
    .await;
    assert_eq!(next(&mut feed).await, [CachedRowChange::Environment]);

    // Two more changes, the first pruned before the feed reads it.
    exec(
        &raw,
        "UPDATE environments SET name = 'eins' WHERE id = 'env-1'",
    )
    .await;
    exec(&raw, "DELETE FROM cache_changes").await;
    exec(
        &raw,
        "UPDATE environments SET name = 'one' WHERE id = 'env-1'",
    )
    .await;
    assert_eq!(
        next(&mut feed).await,
        [CachedRowChange::Everything, CachedRowChange::Environment]
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_reports_a_lost_listener_as_everything() {
    let Ok(admin) = std::env::var("FERRY_TEST_DATABASE_URL") else {
        eprintln!("skipped on PostgreSQL: FERRY_TEST_DATABASE_URL is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("ferry_changes_{}", uuid::Uuid::new_v4().simple());
    exec(&admin, &format!("CREATE DATABASE {name}")).await;
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut feed = store.watch_changes().await.unwrap();
    exec(&url, ENVIRONMENT).await;
    exec(
        &url,
        "UPDATE environments SET name = 'uno' WHERE id = 'env-1'",
    )
    .await;
    assert_eq!(next(&mut feed).await, [CachedRowChange::Environment]);

    exec(
        &url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    assert_eq!(next(&mut feed).await, [CachedRowChange::Everything]);
    // It listens again: later changes arrive.
    exec(&url, "DELETE FROM environments WHERE id = 'env-1'").await;
    assert_eq!(next(&mut feed).await, [CachedRowChange::Environment]);

    store.close().await;
    drop(feed);
    exec(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
}
