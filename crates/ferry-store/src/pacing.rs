//! Pacing shared by every process on one PostgreSQL: one row of rate-limiter state per
//! connection (GCRA's theoretical arrival time), moved atomically by each reservation, so
//! several `ferry serve` together never send a connection more than its rate. The table is
//! `UNLOGGED`: it is rewritten on every call and worth nothing after a crash, so it skips the
//! write-ahead log. SQLite is one process and keeps the engine's in-process pacer alone.

use ferry_engine::storage::PaceReservation;
use sqlx::Row as _;

use crate::{Backend, Store, StoreResult};

const CREATE_TABLE: &str = "CREATE UNLOGGED TABLE IF NOT EXISTS connection_pace (
    connection_row TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL,
    span_us BIGINT NOT NULL
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

    /// Reserves calls for several connections in one statement (the engine gathers the
    /// reservations made while the previous statement ran): each request is `span_us` of
    /// its connection's budget with burst tolerance `tolerance_us`. Answers, in order, in how
    /// many microseconds each request's first call may go (negative when the burst allows it
    /// at once). Requests for one connection take consecutive spans.
    pub async fn reserve_paces(&self, requests: &[PaceReservation]) -> StoreResult<Vec<i64>> {
        // One row per connection: PostgreSQL updates a row at most once per statement.
        let mut totals: Vec<(&str, i64)> = Vec::new();
        for request in requests {
            match totals
                .iter_mut()
                .find(|(row, _)| *row == request.connection_row)
            {
                Some((_, span)) => *span = span.saturating_add(request.span_us),
                None => totals.push((&request.connection_row, request.span_us)),
            }
        }
        let values: Vec<String> = (0..totals.len())
            .map(|i| format!("(${}::TEXT, ${}::BIGINT)", 2 * i + 1, 2 * i + 2))
            .collect();
        let text = format!(
            "WITH clock AS (SELECT {NOW_US} AS us)
             INSERT INTO connection_pace (connection_row, tat_us, span_us)
             SELECT asked.row_id, clock.us + asked.span, asked.span
             FROM clock, (VALUES {}) AS asked (row_id, span)
             ON CONFLICT (connection_row) DO UPDATE
                 SET tat_us = GREATEST(connection_pace.tat_us + EXCLUDED.span_us, EXCLUDED.tat_us),
                     span_us = EXCLUDED.span_us
             RETURNING connection_row, tat_us, (SELECT us FROM clock) AS now_us",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
        for (row, span) in &totals {
            query = query.bind(*row).bind(*span);
        }
        let mut ends: Vec<(String, i64, i64)> = Vec::with_capacity(totals.len());
        for row in query.fetch_all(self.pool()).await? {
            ends.push((
                row.try_get("connection_row")?,
                row.try_get("tat_us")?,
                row.try_get("now_us")?,
            ));
        }
        // Each connection's spans, in request order, from the start of what it reserved.
        let mut next_start: Vec<(&str, i64, i64)> = totals
            .iter()
            .map(|(row, total)| {
                let (_, tat, now) = ends
                    .iter()
                    .find(|(r, _, _)| r == row)
                    .expect("every connection asked for is answered");
                (*row, tat - total, *now)
            })
            .collect();
        Ok(requests
            .iter()
            .map(|request| {
                let entry = next_start
                    .iter_mut()
                    .find(|(row, _, _)| *row == request.connection_row)
                    .expect("every request's connection is totalled");
                let first_in = entry.1 - request.tolerance_us - entry.2;
                entry.1 += request.span_us;
                first_in
            })
            .collect())
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
            "INSERT INTO connection_pace (connection_row, tat_us, span_us)
             VALUES ($1, {NOW_US} + $2 + $3, 0)
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
