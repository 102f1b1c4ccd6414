//! The outbox of webhooks to the app: deliveries written with the change they report, taken
//! one attempt at a time under a lease by the workers of any process.

use sqlx::Row as _;

use ferry_engine::storage::WebhookDeliveryRecord;

use crate::{Backend, Store, StoreResult, Tx};

const COLUMNS: &str = "id, environment_id, kind, integration_key, connection_id, url, body, status, attempts, next_attempt_at, deadline, attempt_log, created_at, ended_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<WebhookDeliveryRecord> {
    Ok(WebhookDeliveryRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        kind: row.try_get("kind")?,
        integration_key: row.try_get("integration_key")?,
        connection_id: row.try_get("connection_id")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        deadline: row.try_get("deadline")?,
        attempt_log: row.try_get("attempt_log")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

impl Store {
    pub async fn webhook_deliveries(
        &self,
        environment_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDeliveryRecord>> {
        let narrow = if status.is_some() {
            " AND status = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE environment_id = ?{narrow} ORDER BY created_at DESC, id DESC LIMIT ?"
        );
        let mut query = sqlx::query(self.sql(&sql)).bind(environment_id);
        if let Some(status) = status {
            query = query.bind(status);
        }
        let rows = query.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn webhook_delivery(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<WebhookDeliveryRecord>> {
        let sql =
            format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE environment_id = ? AND id = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl Tx {
    pub async fn insert_webhook_delivery(&mut self, d: &WebhookDeliveryRecord) -> StoreResult<()> {
        let sql = self.sql(&format!(
            "INSERT INTO webhook_deliveries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        sqlx::query(sql)
            .bind(&d.id)
            .bind(&d.environment_id)
            .bind(&d.kind)
            .bind(&d.integration_key)
            .bind(&d.connection_id)
            .bind(&d.url)
            .bind(&d.body)
            .bind(&d.status)
            .bind(d.attempts)
            .bind(&d.next_attempt_at)
            .bind(&d.deadline)
            .bind(&d.attempt_log)
            .bind(&d.created_at)
            .bind(&d.ended_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn claim_webhook_delivery(
        &mut self,
        now: &str,
        lease_until: &str,
    ) -> StoreResult<Option<WebhookDeliveryRecord>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = self.sql(&format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, id LIMIT 1{lock}"
        ));
        let Some(row) = sqlx::query(sql)
            .bind(now)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let delivery = from_row(&row)?;
        let sql = self.sql(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
        );
        sqlx::query(sql)
            .bind(lease_until)
            .bind(&delivery.id)
            .execute(self.conn())
            .await?;
        Ok(Some(delivery))
    }

    pub async fn prune_webhook_deliveries(&mut self, cutoff: &str) -> StoreResult<u64> {
        let sql = self.sql("DELETE FROM webhook_deliveries WHERE ended_at < ?");
        let done = sqlx::query(sql).bind(cutoff).execute(self.conn()).await?;
        Ok(done.rows_affected())
    }

    pub async fn finish_webhook_delivery(
        &mut self,
        attempt: i64,
        d: &WebhookDeliveryRecord,
    ) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, attempt_log = ?, ended_at = ? \
             WHERE id = ? AND attempts = ? AND status = 'pending'",
        );
        let done = sqlx::query(sql)
            .bind(&d.status)
            .bind(&d.next_attempt_at)
            .bind(&d.attempt_log)
            .bind(&d.ended_at)
            .bind(&d.id)
            .bind(attempt)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
