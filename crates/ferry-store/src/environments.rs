//! Environments: each has its own secret key (stored hashed), webhook settings and data.

use sqlx::Row as _;
use uuid::Uuid;

use crate::{Store, StoreResult, now, sha256_hex};

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub webhook_url: Option<String>,
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<Environment> {
    Ok(Environment {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        webhook_url: row.try_get("webhook_url")?,
    })
}

impl Store {
    pub async fn create_environment(
        &self,
        name: &str,
        secret_key: &str,
    ) -> StoreResult<Environment> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(self.sql(
            "INSERT INTO environments (id, name, secret_key_hash, created_at) VALUES (?, ?, ?, ?)",
        ))
        .bind(&id)
        .bind(name)
        .bind(sha256_hex(secret_key))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(Environment {
            id,
            name: name.to_string(),
            webhook_url: None,
        })
    }

    pub async fn environment_by_name(&self, name: &str) -> StoreResult<Option<Environment>> {
        let row =
            sqlx::query(self.sql("SELECT id, name, webhook_url FROM environments WHERE name = ?"))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The environment whose key hashes to `key_hash`. The lookup is by hash, so the key
    /// itself is never compared; callers compare the hash again in constant time.
    pub async fn environment_by_key_hash(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<(Environment, String)>> {
        let row = sqlx::query(self.sql("SELECT id, name, webhook_url, secret_key_hash FROM environments WHERE secret_key_hash = ?"))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((from_row(&r)?, r.try_get("secret_key_hash")?)))
            .transpose()
    }

    pub async fn set_environment_key(&self, id: &str, secret_key: &str) -> StoreResult<()> {
        sqlx::query(self.sql("UPDATE environments SET secret_key_hash = ? WHERE id = ?"))
            .bind(sha256_hex(secret_key))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
