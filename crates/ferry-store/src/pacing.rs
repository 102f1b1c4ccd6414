//! Pacing shared by every process on one PostgreSQL: one row of rate-limiter state per
//! connection (GCRA's theoretical arrival time), moved atomically by each reservation, so
//! several `ferry serve` together never send a connection more than its rate. The table is
//! `UNLOGGED`: it is rewritten on every call and worth nothing after a crash, so it skips the
//! write-ahead log. SQLite is one process and keeps the engine's in-process pacer alone.

use sqlx::Row as _;

use crate::{Backend, Store, StoreResult};

const CREATE_TABLE: &str = "CREATE UNLOGGED TABLE IF NOT EXISTS connection_pace (
    connection_row TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
)";

/// The database's clock in microseconds: every process measures against the same clock.
const NOW_US: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT";

pub(crate) async fn install(store: &Store) -> StoreResult<()> {
    if store.backend() == Backend::Postgres {
        sqlx::query(CREATE_TABLE).execute(store.pool()).await?;
    }
    Ok(())
}

impl Store {
    /// Whether pacing is kept here (PostgreSQL) rather than in each process.
    pub fn shares_pacing(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Reserves `slots` consecutive calls `interval_us` apart for a connection whose burst
    /// tolerance is `tolerance_us`; answers how many microseconds from now the first may go
    /// (negative when the burst allows it at once).
    pub async fn reserve_pace(
        &self,
        connection_row: &str,
        slots: u32,
        interval_us: i64,
        tolerance_us: i64,
    ) -> StoreResult<i64> {
        let span = i64::from(slots.max(1)).saturating_mul(interval_us);
        let text = format!(
            "WITH clock AS (SELECT {NOW_US} AS us)
             INSERT INTO connection_pace (connection_row, tat_us)
             SELECT $1, clock.us + $2 FROM clock
             ON CONFLICT (connection_row) DO UPDATE
                 SET tat_us = GREATEST(connection_pace.tat_us, EXCLUDED.tat_us - $2) + $2
             RETURNING (tat_us - $2 - $3 - (SELECT us FROM clock))::BIGINT AS first_in_us"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(text))
            .bind(connection_row)
            .bind(span)
            .bind(tolerance_us)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("first_in_us")?)
    }

    /// Holds a connection closed for `wait_us` in every process (the provider said to back
    /// off): no reservation made from now on starts sooner.
    pub async fn hold_pace(
        &self,
        connection_row: &str,
        wait_us: i64,
        tolerance_us: i64,
    ) -> StoreResult<()> {
        let text = format!(
            "INSERT INTO connection_pace (connection_row, tat_us)
             VALUES ($1, {NOW_US} + $2 + $3)
             ON CONFLICT (connection_row) DO UPDATE
                 SET tat_us = GREATEST(connection_pace.tat_us, EXCLUDED.tat_us)"
        );
        sqlx::query(sqlx::AssertSqlSafe(text))
            .bind(connection_row)
            .bind(wait_us)
            .bind(tolerance_us)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
