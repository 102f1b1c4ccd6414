//! Asynchronous action runs: queued by a trigger, taken by one worker at a time (leased, so a
//! run whose process died is taken again), and their results kept for `GET /action/:id`.

use sqlx::Row as _;

use ferry_engine::storage::AsyncActionRecord;

use crate::{Backend, Store, StoreResult, Tx};

const COLUMNS: &str = "id, environment_id, integration_key, connection_id, action_name, input, status, attempts, max_retries, result, run_after, created_at, ended_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<AsyncActionRecord> {
    Ok(AsyncActionRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        integration_key: row.try_get("integration_key")?,
        connection_id: row.try_get("connection_id")?,
        action_name: row.try_get("action_name")?,
        input: row.try_get("input")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        max_retries: row.try_get("max_retries")?,
        result: row.try_get("result")?,
        run_after: row.try_get("run_after")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl Store {
    pub async fn async_action(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<AsyncActionRecord>> {
        let sql =
            format!("SELECT {COLUMNS} FROM async_actions WHERE environment_id = ? AND id = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl Tx {
    pub async fn insert_async_action(&mut self, run: &AsyncActionRecord) -> StoreResult<()> {
        let sql = self.sql(&format!(
            "INSERT INTO async_actions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        sqlx::query(sql)
            .bind(&run.id)
            .bind(&run.environment_id)
            .bind(&run.integration_key)
            .bind(&run.connection_id)
            .bind(&run.action_name)
            .bind(&run.input)
            .bind(&run.status)
            .bind(run.attempts)
            .bind(run.max_retries)
            .bind(&run.result)
            .bind(&run.run_after)
            .bind(&run.created_at)
            .bind(&run.ended_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Takes the run due first (pending and due, or running with its lease over), marks it
    /// running until `lease_until` and counts the attempt. Returns it as it was before.
    pub async fn claim_async_action(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StoreResult<Option<AsyncActionRecord>> {
        // Workers of other processes skip a row being taken instead of queueing behind it;
        // SQLite's `BEGIN IMMEDIATE` already lets one writer in at a time.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = self.sql(&format!(
            "SELECT {COLUMNS} FROM async_actions WHERE status IN ('pending', 'running') \
             AND run_after <= ? ORDER BY run_after, id LIMIT 1{lock}"
        ));
        let Some(row) = sqlx::query(sql)
            .bind(now)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let run = from_row(&row)?;
        let sql = self.sql(
            "UPDATE async_actions SET status = 'running', attempts = attempts + 1, run_after = ? WHERE id = ?",
        );
        sqlx::query(sql)
            .bind(lease_until)
            .bind(&run.id)
            .execute(self.conn())
            .await?;
        Ok(Some(run))
    }

    /// Records what attempt number `attempt` came to: `status` with its `result`, or back to
    /// `pending` until `run_after`. Does nothing when the run was taken again since (its
    /// lease ran out), so a late finisher never writes over a newer attempt.
    pub async fn finish_async_action(
        &mut self,
        id: &str,
        attempt: i64,
        update: &AsyncActionRecord,
    ) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE async_actions SET status = ?, result = ?, run_after = ?, ended_at = ?, attempts = ? \
             WHERE id = ? AND attempts = ? AND status = 'running'",
        );
        let done = sqlx::query(sql)
            .bind(&update.status)
            .bind(&update.result)
            .bind(&update.run_after)
            .bind(&update.ended_at)
            .bind(update.attempts)
            .bind(id)
            .bind(attempt)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the results of runs that ended before `cutoff`.
    pub async fn prune_async_actions(&mut self, cutoff: &str) -> StoreResult<u64> {
        let sql = self.sql("DELETE FROM async_actions WHERE ended_at < ?");
        let done = sqlx::query(sql).bind(cutoff).execute(self.conn()).await?;
        Ok(done.rows_affected())
    }
}
