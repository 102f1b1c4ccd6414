//! Integrations: an environment's provider configurations (`unique_key` such as `notion`),
//! with the OAuth client secret sealed at rest.

use serde_json::Value;
use sqlx::Row as _;
use uuid::Uuid;

use crate::{Store, StoreResult, json_col, now};

#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub environment_id: String,
    pub unique_key: String,
    pub provider: String,
    pub display_name: String,
    pub client_id: Option<String>,
    pub client_secret_enc: Option<String>,
    pub webhook_secret_enc: Option<String>,
    pub config: Value,
    pub forward_webhooks: bool,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, environment_id, unique_key, provider, display_name, client_id, client_secret_enc, webhook_secret_enc, integration_config, forward_webhooks, created_at, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<Integration> {
    Ok(Integration {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        unique_key: row.try_get("unique_key")?,
        provider: row.try_get("provider")?,
        display_name: row.try_get("display_name")?,
        client_id: row.try_get("client_id")?,
        client_secret_enc: row.try_get("client_secret_enc")?,
        webhook_secret_enc: row.try_get("webhook_secret_enc")?,
        config: json_col(&row.try_get::<String, _>("integration_config")?)?,
        forward_webhooks: row.try_get::<i64, _>("forward_webhooks")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a new integration; `Ok(None)` when the key is taken in this environment.
    pub async fn create_integration(&self, new: Integration) -> StoreResult<Option<Integration>> {
        let now = now();
        let integration = Integration {
            id: Uuid::new_v4().to_string(),
            created_at: now.clone(),
            updated_at: now,
            ..new
        };
        let result = sqlx::query(self.sql(&format!(
            "INSERT INTO integrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(&integration.id)
        .bind(&integration.environment_id)
        .bind(&integration.unique_key)
        .bind(&integration.provider)
        .bind(&integration.display_name)
        .bind(&integration.client_id)
        .bind(&integration.client_secret_enc)
        .bind(&integration.webhook_secret_enc)
        .bind(integration.config.to_string())
        .bind(i64::from(integration.forward_webhooks))
        .bind(&integration.created_at)
        .bind(&integration.updated_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(Some(integration)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_integrations(&self, environment_id: &str) -> StoreResult<Vec<Integration>> {
        let rows = sqlx::query(self.sql(&format!("SELECT {COLUMNS} FROM integrations WHERE environment_id = ? ORDER BY created_at, unique_key")))
            .bind(environment_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn integration(
        &self,
        environment_id: &str,
        unique_key: &str,
    ) -> StoreResult<Option<Integration>> {
        let row = sqlx::query(self.sql(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE environment_id = ? AND unique_key = ?"
        )))
        .bind(environment_id)
        .bind(unique_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn integration_by_id(&self, id: &str) -> StoreResult<Option<Integration>> {
        let row =
            sqlx::query(self.sql(&format!("SELECT {COLUMNS} FROM integrations WHERE id = ?")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Writes every mutable field of `integration` (looked up by id). `Ok(false)` when a
    /// renamed key is already taken.
    pub async fn update_integration(&self, integration: &Integration) -> StoreResult<bool> {
        let result = sqlx::query(self.sql(
            "UPDATE integrations SET unique_key = ?, display_name = ?, client_id = ?, client_secret_enc = ?, webhook_secret_enc = ?, integration_config = ?, forward_webhooks = ?, updated_at = ? WHERE id = ?",
        ))
        .bind(&integration.unique_key)
        .bind(&integration.display_name)
        .bind(&integration.client_id)
        .bind(&integration.client_secret_enc)
        .bind(&integration.webhook_secret_enc)
        .bind(integration.config.to_string())
        .bind(i64::from(integration.forward_webhooks))
        .bind(now())
        .bind(&integration.id)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_integration(
        &self,
        environment_id: &str,
        unique_key: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let id: Option<String> = sqlx::query_scalar(
            self.sql("SELECT id FROM integrations WHERE environment_id = ? AND unique_key = ?"),
        )
        .bind(environment_id)
        .bind(unique_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else { return Ok(false) };
        // Explicit, since SQLite only cascades with foreign_keys on.
        for table in ["oauth_sessions", "connections"] {
            sqlx::query(self.sql(&format!("DELETE FROM {table} WHERE integration_id = ?")))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(self.sql("DELETE FROM integrations WHERE id = ?"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
