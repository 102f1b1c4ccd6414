//! Integrations: an environment's provider configurations (`unique_key` such as `notion`),
//! with the OAuth client secret sealed at rest.

use sqlx::Row as _;
use uuid::Uuid;

use ferry_engine::storage::IntegrationRecord;
use ferry_engine::time::now;

use crate::{Store, StoreResult, Tx, json_col};

const COLUMNS: &str = "id, environment_id, unique_key, provider, display_name, client_id, client_secret_enc, webhook_secret_enc, scopes, integration_config, forward_webhooks, created_at, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<IntegrationRecord> {
    Ok(IntegrationRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        unique_key: row.try_get("unique_key")?,
        provider: row.try_get("provider")?,
        display_name: row.try_get("display_name")?,
        client_id: row.try_get("client_id")?,
        client_secret_enc: row.try_get("client_secret_enc")?,
        webhook_secret_enc: row.try_get("webhook_secret_enc")?,
        scopes: row.try_get("scopes")?,
        config: json_col(&row.try_get::<String, _>("integration_config")?)?,
        forward_webhooks: row.try_get::<i64, _>("forward_webhooks")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn list_integrations(
        &self,
        environment_id: &str,
    ) -> StoreResult<Vec<IntegrationRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE environment_id = ? ORDER BY created_at, unique_key"
        );
        let rows = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn integration(
        &self,
        environment_id: &str,
        unique_key: &str,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE environment_id = ? AND unique_key = ?"
        );
        let row = sqlx::query(self.sql(&sql))
            .bind(environment_id)
            .bind(unique_key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn integration_by_id(&self, id: &str) -> StoreResult<Option<IntegrationRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl Tx {
    /// Inserts a new integration (its id and times are set here); `Ok(None)` when the key is
    /// taken in this environment (then drop this unit of work).
    pub async fn create_integration(
        &mut self,
        new: IntegrationRecord,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let now = now();
        let integration = IntegrationRecord {
            id: Uuid::new_v4().to_string(),
            created_at: now.clone(),
            updated_at: now,
            ..new
        };
        let sql = self.sql(&format!(
            "INSERT INTO integrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        let result = sqlx::query(sql)
            .bind(&integration.id)
            .bind(&integration.environment_id)
            .bind(&integration.unique_key)
            .bind(&integration.provider)
            .bind(&integration.display_name)
            .bind(&integration.client_id)
            .bind(&integration.client_secret_enc)
            .bind(&integration.webhook_secret_enc)
            .bind(&integration.scopes)
            .bind(integration.config.to_string())
            .bind(i64::from(integration.forward_webhooks))
            .bind(&integration.created_at)
            .bind(&integration.updated_at)
            .execute(self.conn())
            .await;
        match result {
            Ok(_) => Ok(Some(integration)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The integration, locked until this unit of work ends.
    pub async fn integration_for_update(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StoreResult<Option<IntegrationRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE environment_id = ? AND unique_key = ?{}",
            self.for_update()
        );
        let sql = self.sql(&sql);
        let row = sqlx::query(sql)
            .bind(environment_id)
            .bind(unique_key)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Writes every mutable field of `integration` (looked up by id). `Ok(false)` when a
    /// renamed key is already taken (then drop this unit of work).
    pub async fn update_integration(
        &mut self,
        integration: &IntegrationRecord,
    ) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE integrations SET unique_key = ?, display_name = ?, client_id = ?, client_secret_enc = ?, webhook_secret_enc = ?, scopes = ?, integration_config = ?, forward_webhooks = ?, updated_at = ? WHERE id = ?",
        );
        let result = sqlx::query(sql)
            .bind(&integration.unique_key)
            .bind(&integration.display_name)
            .bind(&integration.client_id)
            .bind(&integration.client_secret_enc)
            .bind(&integration.webhook_secret_enc)
            .bind(&integration.scopes)
            .bind(integration.config.to_string())
            .bind(i64::from(integration.forward_webhooks))
            .bind(now())
            .bind(&integration.id)
            .execute(self.conn())
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an integration with its connections and sessions. False when there was none.
    pub async fn delete_integration(
        &mut self,
        environment_id: &str,
        unique_key: &str,
    ) -> StoreResult<bool> {
        let sql = format!(
            "SELECT id FROM integrations WHERE environment_id = ? AND unique_key = ?{}",
            self.for_update()
        );
        let sql = self.sql(&sql);
        let id: Option<String> = sqlx::query_scalar(sql)
            .bind(environment_id)
            .bind(unique_key)
            .fetch_optional(self.conn())
            .await?;
        let Some(id) = id else { return Ok(false) };
        // Children first and explicitly, for SQLite files that may not cascade.
        for sql in [
            "DELETE FROM connection_tags WHERE connection_id IN (SELECT id FROM connections WHERE integration_id = ?)",
            "DELETE FROM oauth_sessions WHERE integration_id = ?",
            "DELETE FROM connections WHERE integration_id = ?",
        ] {
            let sql = self.sql(sql);
            sqlx::query(sql).bind(&id).execute(self.conn()).await?;
        }
        let sql = self.sql("DELETE FROM integrations WHERE id = ?");
        let done = sqlx::query(sql).bind(&id).execute(self.conn()).await?;
        // A concurrent delete may have taken it between the read and here.
        Ok(done.rows_affected() == 1)
    }
}
