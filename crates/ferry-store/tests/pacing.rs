//! The shared pace on PostgreSQL: reservations of one batch for the same connection take
//! consecutive spans, a burst is allowed at once and then the budget is spent, and a hold
//! pushes the next reservation past it.

use ferry_engine::storage::PaceReservation;
use ferry_store::Store;

async fn exec(url: &str, sql: &str) {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

fn ask(row: &str, span_us: i64, tolerance_us: i64) -> PaceReservation {
    PaceReservation {
        connection_row: row.to_string(),
        span_us,
        tolerance_us,
    }
}

#[tokio::test]
async fn reservations_share_one_budget_per_connection() {
    let Ok(admin) = std::env::var("FERRY_TEST_DATABASE_URL") else {
        eprintln!("skipped on PostgreSQL: FERRY_TEST_DATABASE_URL is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("ferry_pacing_{}", uuid::Uuid::new_v4().simple());
    exec(&admin, &format!("CREATE DATABASE {name}")).await;
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.shares_pacing());

    // One second per call, a burst of two (tolerance one second), two connections.
    let second = 1_000_000;
    let batch = [
        ask("a", second, second),
        ask("b", second, second),
        ask("a", second, second),
        ask("a", second, second),
    ];
    let first_in = store.reserve_paces(&batch).await.unwrap();
    // `a`: the burst lets two go at once (at or before now), the third waits about a second.
    assert!(first_in[0] <= -second + 50_000, "{first_in:?}");
    assert!(first_in[2] <= 50_000, "{first_in:?}");
    assert!(
        (second - 50_000..=second).contains(&first_in[3]),
        "{first_in:?}"
    );
    // `b` is its own budget.
    assert!(first_in[1] <= -second + 50_000, "{first_in:?}");
    // A later batch goes on after what is spent: two seconds from the first batch, less the
    // time between the two (up to half a second on a loaded machine).
    let later = store
        .reserve_paces(&[ask("a", second, second)])
        .await
        .unwrap();
    assert!(
        (2 * second - 500_000..=2 * second).contains(&later[0]),
        "{later:?}"
    );

    // Held for ten seconds: the next call on `b` waits that long.
    store.hold_pace("b", 10 * second, second).await.unwrap();
    let held = store
        .reserve_paces(&[ask("b", second, second)])
        .await
        .unwrap();
    assert!(
        (10 * second - 500_000..=10 * second).contains(&held[0]),
        "{held:?}"
    );

    store.close().await;
    exec(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
}
