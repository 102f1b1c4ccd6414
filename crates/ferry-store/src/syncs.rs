//! Sync schedules (leased runs, checkpoints, deletion markers) and the records syncs keep,
//! with change detection by content hash: an unchanged record is only marked as seen. On
//! PostgreSQL a record's body is `jsonb` (the portable migration makes it TEXT; it is
//! changed after the migrations), bound as text with a cast and read back as text.

use std::collections::HashMap;

use sqlx::Row as _;

use ferry_engine::storage::{
    RecordCounts, RecordInput, RecordQuery, RecordRow, SyncControl, SyncScheduleRecord,
};

use crate::{Backend, Store, StoreResult, Tx};

const SCHEDULE_COLUMNS: &str = "id, environment_id, connection_row, integration_key, connection_id, sync_name, variant, paused, frequency, next_run_at, full_run, running_until, runs, checkpoint, deletes_from, last_sync_date, last_full_at, last_status, last_result, last_error, finished_at, created_at";

/// Makes `records.data` a `jsonb` column on PostgreSQL, once (a pruned record's emptied
/// body, `''` before, becomes `{}`).
pub(crate) async fn keep_records_as_jsonb(store: &Store) -> StoreResult<()> {
    if store.backend() != Backend::Postgres {
        return Ok(());
    }
    sqlx::query(
        "DO $$ BEGIN
            IF (SELECT data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'records'
                  AND column_name = 'data') = 'text' THEN
                UPDATE records SET data = '{}' WHERE data = '';
                ALTER TABLE records ALTER COLUMN data TYPE jsonb USING data::jsonb;
            END IF;
        END $$",
    )
    .execute(store.pool())
    .await?;
    Ok(())
}

/// How many ids one `IN (…)` list holds.
const IN_CHUNK: usize = 500;

fn schedule_from_row(row: &sqlx::any::AnyRow) -> StoreResult<SyncScheduleRecord> {
    Ok(SyncScheduleRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        connection_row: row.try_get("connection_row")?,
        integration_key: row.try_get("integration_key")?,
        connection_id: row.try_get("connection_id")?,
        sync_name: row.try_get("sync_name")?,
        variant: row.try_get("variant")?,
        paused: row.try_get::<i64, _>("paused")? != 0,
        frequency: row.try_get("frequency")?,
        next_run_at: row.try_get("next_run_at")?,
        full_run: row.try_get::<i64, _>("full_run")? != 0,
        running_until: row.try_get("running_until")?,
        runs: row.try_get("runs")?,
        checkpoint: row.try_get("checkpoint")?,
        deletes_from: row.try_get("deletes_from")?,
        last_sync_date: row.try_get("last_sync_date")?,
        last_full_at: row.try_get("last_full_at")?,
        last_status: row.try_get("last_status")?,
        last_result: row.try_get("last_result")?,
        last_error: row.try_get("last_error")?,
        finished_at: row.try_get("finished_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Store {
    pub async fn sync_schedules(
        &self,
        environment_id: &str,
        integration_key: &str,
        connection_id: Option<&str>,
    ) -> StoreResult<Vec<SyncScheduleRecord>> {
        let narrow = if connection_id.is_some() {
            " AND connection_id = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM sync_schedules WHERE environment_id = ? AND integration_key = ?{narrow} \
             ORDER BY connection_id, sync_name, variant"
        );
        let mut query = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .bind(integration_key);
        if let Some(id) = connection_id {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(schedule_from_row).collect()
    }

    pub async fn record_counts(&self, connection_row: &str) -> StoreResult<Vec<(String, i64)>> {
        let sql = self.sql(
            "SELECT model, COUNT(*) AS n FROM records WHERE connection_row = ? AND deleted_at IS NULL GROUP BY model ORDER BY model",
        );
        let rows = sqlx::query(sql)
            .bind(connection_row)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("model")?, r.try_get("n")?)))
            .collect()
    }

    /// The text of [`Store::records`]'s query.
    fn records_sql(&self, query: &RecordQuery) -> String {
        let mut sql = format!(
            "SELECT external_id, {}, first_seen_at, updated_at, deleted_at, pruned_at, last_action \
             FROM records WHERE connection_row = ? AND model = ?",
            self.backend.json_as_text("data"),
        );
        if query.modified_after.is_some() {
            sql.push_str(" AND updated_at >= ?");
        }
        if query.after.is_some() {
            // A row value, so both backends read the index from the cursor on instead of
            // sorting everything after it.
            sql.push_str(" AND (updated_at, external_id) > (?, ?)");
        }
        if !query.actions.is_empty() {
            sql.push_str(&format!(
                " AND last_action IN ({})",
                placeholders(query.actions.len())
            ));
        }
        if !query.ids.is_empty() {
            sql.push_str(&format!(
                " AND external_id IN ({})",
                placeholders(query.ids.len())
            ));
        }
        sql.push_str(" ORDER BY updated_at, external_id LIMIT ?");
        sql
    }

    pub async fn records(&self, query: &RecordQuery) -> StoreResult<Vec<RecordRow>> {
        let sql = self.records_sql(query);
        let mut q = sqlx::query(self.sql(&sql))
            .bind(&query.connection_row)
            .bind(&query.model);
        if let Some(after) = &query.modified_after {
            q = q.bind(after);
        }
        if let Some((at, id)) = &query.after {
            q = q.bind(at).bind(id);
        }
        for action in &query.actions {
            q = q.bind(action);
        }
        for id in &query.ids {
            q = q.bind(id);
        }
        let rows = q.bind(query.limit).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(RecordRow {
                    external_id: r.try_get("external_id")?,
                    data: r.try_get("data")?,
                    first_seen_at: r.try_get("first_seen_at")?,
                    updated_at: r.try_get("updated_at")?,
                    deleted_at: r.try_get("deleted_at")?,
                    pruned_at: r.try_get("pruned_at")?,
                    last_action: r.try_get("last_action")?,
                })
            })
            .collect()
    }

    pub async fn connections_without_schedules(
        &self,
        provider: &str,
        syncs: &[&str],
    ) -> StoreResult<Vec<(String, String, String, String)>> {
        if syncs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT c.environment_id, c.id, i.unique_key, c.connection_id FROM connections c \
             JOIN integrations i ON i.id = c.integration_id WHERE i.provider = ? AND \
             (SELECT COUNT(*) FROM sync_schedules s WHERE s.connection_row = c.id AND s.variant = 'base' \
              AND s.sync_name IN ({})) < ? ORDER BY c.created_at, c.id",
            placeholders(syncs.len())
        );
        let mut q = sqlx::query(self.sql(&sql)).bind(provider);
        for name in syncs {
            q = q.bind(*name);
        }
        let rows = q.bind(syncs.len() as i64).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("environment_id")?,
                    r.try_get("id")?,
                    r.try_get("unique_key")?,
                    r.try_get("connection_id")?,
                ))
            })
            .collect()
    }
}

impl Tx {
    pub async fn ensure_sync_schedule(&mut self, s: &SyncScheduleRecord) -> StoreResult<()> {
        let sql = self.sql(&format!(
            "INSERT INTO sync_schedules ({SCHEDULE_COLUMNS}) VALUES ({}) \
             ON CONFLICT (connection_row, sync_name, variant) DO NOTHING",
            placeholders(22)
        ));
        sqlx::query(sql)
            .bind(&s.id)
            .bind(&s.environment_id)
            .bind(&s.connection_row)
            .bind(&s.integration_key)
            .bind(&s.connection_id)
            .bind(&s.sync_name)
            .bind(&s.variant)
            .bind(i64::from(s.paused))
            .bind(&s.frequency)
            .bind(&s.next_run_at)
            .bind(i64::from(s.full_run))
            .bind(&s.running_until)
            .bind(s.runs)
            .bind(&s.checkpoint)
            .bind(s.deletes_from)
            .bind(&s.last_sync_date)
            .bind(&s.last_full_at)
            .bind(&s.last_status)
            .bind(&s.last_result)
            .bind(&s.last_error)
            .bind(&s.finished_at)
            .bind(&s.created_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn delete_sync_schedule(&mut self, id: &str) -> StoreResult<bool> {
        let sql = self.sql("DELETE FROM sync_schedules WHERE id = ?");
        let done = sqlx::query(sql).bind(id).execute(self.conn()).await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn claim_sync_schedule(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StoreResult<Option<SyncScheduleRecord>> {
        // Other processes skip a schedule being taken; SQLite lets one writer in at a time.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = self.sql(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM sync_schedules WHERE paused = 0 AND next_run_at <= ? \
             AND (running_until IS NULL OR running_until < ?) ORDER BY next_run_at, id LIMIT 1{lock}"
        ));
        let Some(row) = sqlx::query(sql)
            .bind(now)
            .bind(now)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let mut schedule = schedule_from_row(&row)?;
        schedule.runs += 1;
        schedule.running_until = Some(lease_until.to_string());
        if schedule.deletes_from.is_none() {
            schedule.deletes_from = Some(schedule.runs);
        }
        let sql = self.sql(
            "UPDATE sync_schedules SET runs = ?, running_until = ?, deletes_from = ? WHERE id = ?",
        );
        sqlx::query(sql)
            .bind(schedule.runs)
            .bind(&schedule.running_until)
            .bind(schedule.deletes_from)
            .bind(&schedule.id)
            .execute(self.conn())
            .await?;
        Ok(Some(schedule))
    }

    pub async fn keep_sync_run(
        &mut self,
        id: &str,
        run: i64,
        lease_until: &str,
        checkpoint: Option<&str>,
    ) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE sync_schedules SET running_until = ?, checkpoint = ? WHERE id = ? AND runs = ? AND running_until IS NOT NULL",
        );
        let done = sqlx::query(sql)
            .bind(lease_until)
            .bind(checkpoint)
            .bind(id)
            .bind(run)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn release_sync_run(&mut self, id: &str, run: i64) -> StoreResult<()> {
        let sql = self.sql(
            "UPDATE sync_schedules SET running_until = NULL WHERE id = ? AND runs = ? AND running_until IS NOT NULL",
        );
        sqlx::query(sql)
            .bind(id)
            .bind(run)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn upsert_records(
        &mut self,
        connection_row: &str,
        model: &str,
        sync_name: &str,
        run: i64,
        now: &str,
        records: &[RecordInput],
    ) -> StoreResult<RecordCounts> {
        // What is stored now, for the whole batch at once.
        let mut stored: HashMap<String, (String, bool)> = HashMap::new();
        for chunk in records.chunks(IN_CHUNK) {
            let sql = self.sql(&format!(
                "SELECT external_id, data_hash, deleted_at FROM records WHERE connection_row = ? AND model = ? AND external_id IN ({})",
                placeholders(chunk.len())
            ));
            let mut q = sqlx::query(sql).bind(connection_row).bind(model);
            for record in chunk {
                q = q.bind(&record.external_id);
            }
            for row in q.fetch_all(self.conn()).await? {
                let deleted: Option<String> = row.try_get("deleted_at")?;
                stored.insert(
                    row.try_get("external_id")?,
                    (row.try_get("data_hash")?, deleted.is_some()),
                );
            }
        }
        let mut counts = RecordCounts::default();
        let mut unchanged = Vec::new();
        for record in records {
            match stored.get(&record.external_id) {
                None => {
                    let sql = self.sql(&format!(
                        "INSERT INTO records (connection_row, model, external_id, data, data_hash, first_seen_at, updated_at, last_action, seen_run, sync_name) \
                         VALUES (?, ?, ?, {}, ?, ?, ?, 'ADDED', ?, ?)",
                        self.backend.json_param()
                    ));
                    sqlx::query(sql)
                        .bind(connection_row)
                        .bind(model)
                        .bind(&record.external_id)
                        .bind(&record.data)
                        .bind(&record.data_hash)
                        .bind(now)
                        .bind(now)
                        .bind(run)
                        .bind(sync_name)
                        .execute(self.conn())
                        .await?;
                    counts.added += 1;
                }
                Some((hash, deleted)) if *deleted || *hash != record.data_hash => {
                    let sql = self.sql(&format!(
                        "UPDATE records SET data = {}, data_hash = ?, updated_at = ?, deleted_at = NULL, pruned_at = NULL, \
                         last_action = 'UPDATED', seen_run = ? WHERE connection_row = ? AND model = ? AND external_id = ?",
                        self.backend.json_param()
                    ));
                    sqlx::query(sql)
                        .bind(&record.data)
                        .bind(&record.data_hash)
                        .bind(now)
                        .bind(run)
                        .bind(connection_row)
                        .bind(model)
                        .bind(&record.external_id)
                        .execute(self.conn())
                        .await?;
                    counts.updated += 1;
                }
                Some(_) => unchanged.push(record.external_id.as_str()),
            }
        }
        counts.unchanged = unchanged.len() as u64;
        for chunk in unchanged.chunks(IN_CHUNK) {
            let sql = self.sql(&format!(
                "UPDATE records SET seen_run = ? WHERE connection_row = ? AND model = ? AND external_id IN ({})",
                placeholders(chunk.len())
            ));
            let mut q = sqlx::query(sql).bind(run).bind(connection_row).bind(model);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(self.conn()).await?;
        }
        Ok(counts)
    }

    pub async fn delete_unseen_records(
        &mut self,
        connection_row: &str,
        model: &str,
        before_run: i64,
        now: &str,
    ) -> StoreResult<u64> {
        let sql = self.sql(
            "UPDATE records SET deleted_at = ?, updated_at = ?, last_action = 'DELETED' \
             WHERE connection_row = ? AND model = ? AND deleted_at IS NULL AND seen_run < ?",
        );
        let done = sqlx::query(sql)
            .bind(now)
            .bind(now)
            .bind(connection_row)
            .bind(model)
            .bind(before_run)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn prune_records(
        &mut self,
        connection_row: &str,
        model: &str,
        until: (&str, &str),
        now: &str,
        limit: i64,
    ) -> StoreResult<(u64, bool)> {
        // The data goes; the hash with it, so the next run that sees the record stores it again.
        const UNPRUNED_UNTIL: &str = "connection_row = ? AND model = ? AND pruned_at IS NULL \
             AND (updated_at, external_id) <= (?, ?)";
        let sql = self.sql(&format!(
            "UPDATE records SET data = '{{}}', data_hash = '', pruned_at = ? WHERE connection_row = ? AND model = ? \
             AND external_id IN (SELECT external_id FROM records WHERE {UNPRUNED_UNTIL} \
             ORDER BY updated_at, external_id LIMIT ?)"
        ));
        let done = sqlx::query(sql)
            .bind(now)
            .bind(connection_row)
            .bind(model)
            .bind(connection_row)
            .bind(model)
            .bind(until.0)
            .bind(until.1)
            .bind(limit)
            .execute(self.conn())
            .await?;
        let sql = self.sql(&format!(
            "SELECT external_id FROM records WHERE {UNPRUNED_UNTIL} LIMIT 1"
        ));
        let more = sqlx::query(sql)
            .bind(connection_row)
            .bind(model)
            .bind(until.0)
            .bind(until.1)
            .fetch_optional(self.conn())
            .await?
            .is_some();
        Ok((done.rows_affected(), more))
    }

    pub async fn empty_records(&mut self, connection_row: &str, model: &str) -> StoreResult<u64> {
        let sql = self.sql("DELETE FROM records WHERE connection_row = ? AND model = ?");
        let done = sqlx::query(sql)
            .bind(connection_row)
            .bind(model)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn finish_sync_run(
        &mut self,
        run: i64,
        claimed_next_run_at: &str,
        s: &SyncScheduleRecord,
    ) -> StoreResult<bool> {
        // Every `CASE` reads the row as it was: a changed `next_run_at` means a control
        // request came during the run, and a reset among them left `full_run` set.
        let sql = self.sql(
            "UPDATE sync_schedules SET running_until = NULL, \
             next_run_at = CASE WHEN next_run_at = ? THEN ? ELSE next_run_at END, \
             full_run = CASE WHEN next_run_at = ? THEN ? ELSE full_run END, \
             checkpoint = CASE WHEN next_run_at <> ? AND full_run = 1 THEN checkpoint ELSE ? END, \
             deletes_from = ?, \
             last_sync_date = CASE WHEN next_run_at <> ? AND full_run = 1 THEN last_sync_date ELSE ? END, \
             last_full_at = ?, last_status = ?, last_result = ?, last_error = ?, finished_at = ? \
             WHERE id = ? AND runs = ? AND running_until IS NOT NULL",
        );
        let done = sqlx::query(sql)
            .bind(claimed_next_run_at)
            .bind(&s.next_run_at)
            .bind(claimed_next_run_at)
            .bind(i64::from(s.full_run))
            .bind(claimed_next_run_at)
            .bind(&s.checkpoint)
            .bind(s.deletes_from)
            .bind(claimed_next_run_at)
            .bind(&s.last_sync_date)
            .bind(&s.last_full_at)
            .bind(&s.last_status)
            .bind(&s.last_result)
            .bind(&s.last_error)
            .bind(&s.finished_at)
            .bind(&s.id)
            .bind(run)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn control_sync_schedule(
        &mut self,
        id: &str,
        control: SyncControl<'_>,
    ) -> StoreResult<()> {
        let query = match control {
            SyncControl::Trigger { now, reset: false } => {
                sqlx::query(self.sql("UPDATE sync_schedules SET next_run_at = ? WHERE id = ?"))
                    .bind(now)
            }
            SyncControl::Trigger { now, reset: true } => sqlx::query(self.sql(
                "UPDATE sync_schedules SET next_run_at = ?, full_run = 1, checkpoint = NULL, \
                 last_sync_date = NULL WHERE id = ?",
            ))
            .bind(now),
            SyncControl::Pause => {
                sqlx::query(self.sql("UPDATE sync_schedules SET paused = 1 WHERE id = ?"))
            }
            SyncControl::Start { now } => sqlx::query(
                self.sql("UPDATE sync_schedules SET paused = 0, next_run_at = ? WHERE id = ?"),
            )
            .bind(now),
            SyncControl::Frequency(frequency) => {
                sqlx::query(self.sql("UPDATE sync_schedules SET frequency = ? WHERE id = ?"))
                    .bind(frequency)
            }
        };
        query.bind(id).execute(self.conn()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /records` pages read the index from the cursor on: no scan of the rows before it,
    /// no sort of the rows after it.
    #[tokio::test]
    async fn a_records_page_is_an_index_range() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let query = RecordQuery {
            connection_row: "c".into(),
            model: "M".into(),
            after: Some(("2026-01-01T00:00:00.000000Z".into(), "x".into())),
            limit: 1000,
            ..RecordQuery::default()
        };
        let explained = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            store.records_sql(&query)
        )))
        .bind("c")
        .bind("M")
        .bind("2026-01-01T00:00:00.000000Z")
        .bind("x")
        .bind(1000_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let details: Vec<String> = explained
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect();
        assert_eq!(
            details,
            [
                "SEARCH records USING INDEX records_by_change (connection_row=? AND model=? AND (updated_at,external_id)>(?,?))"
            ],
        );
    }
}
