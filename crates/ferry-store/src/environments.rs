//! Environments and API keys. An environment has its own keys (stored as SHA-256 hashes,
//! several at once so a key can be rotated with an overlap), webhook settings, variables and
//! data. Account keys (no environment) manage environments.

use sqlx::Row as _;
use uuid::Uuid;

use ferry_engine::storage::{ApiKeyRecord, EnvironmentRecord};
use ferry_engine::time::now;

use crate::{Store, StoreResult, Tx};

const COLUMNS: &str = "e.id, e.number, e.name, e.is_production, e.webhook_url, e.webhook_signing_key_enc, e.variables_enc, e.webhook_settings, e.created_at";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<EnvironmentRecord> {
    Ok(EnvironmentRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        is_production: row.try_get::<i64, _>("is_production")? != 0,
        webhook_url: row.try_get("webhook_url")?,
        webhook_signing_key_enc: row.try_get("webhook_signing_key_enc")?,
        variables_enc: row.try_get("variables_enc")?,
        webhook_settings: row.try_get("webhook_settings")?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from_row(row: &sqlx::any::AnyRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        display_name: row.try_get("display_name")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.environment_id, k.display_name, k.secret_hash, k.created_at";

impl Store {
    pub async fn environment_by_name(&self, name: &str) -> StoreResult<Option<EnvironmentRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM environments e WHERE e.name = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn environment(&self, id: &str) -> StoreResult<Option<EnvironmentRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM environments e WHERE e.id = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every environment, oldest first; only the one named `name` when given.
    pub async fn list_environments(
        &self,
        name: Option<&str>,
    ) -> StoreResult<Vec<EnvironmentRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM environments e");
        if name.is_some() {
            sql.push_str(" WHERE e.name = ?");
        }
        sql.push_str(" ORDER BY e.number");
        let mut query = sqlx::query(self.sql(&sql));
        if let Some(name) = name {
            query = query.bind(name);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// The key whose SHA-256 is `secret_hash`, with its environment (none for account keys).
    /// The lookup is by hash, so the key itself is never compared; callers compare the hash
    /// again in constant time.
    pub async fn api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> StoreResult<Option<(ApiKeyRecord, Option<EnvironmentRecord>)>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.secret_hash = ?");
        let row = sqlx::query(self.sql(&sql))
            .bind(secret_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(key) = row.as_ref().map(key_from_row).transpose()? else {
            return Ok(None);
        };
        let environment = match &key.environment_id {
            Some(id) => self.environment(id).await?,
            None => None,
        };
        Ok(Some((key, environment)))
    }

    /// An environment's keys (`None`: the account keys), oldest first.
    pub async fn api_keys(&self, environment_id: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        let (condition, bind) = match environment_id {
            Some(id) => ("k.environment_id = ?", Some(id)),
            None => ("k.environment_id IS NULL", None),
        };
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE {condition} ORDER BY k.created_at, k.id"
        );
        let mut query = sqlx::query(self.sql(&sql));
        if let Some(id) = bind {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(key_from_row).collect()
    }
}

impl Tx {
    /// Creates an environment; `Ok(None)` when the name is taken (then drop this unit of work).
    pub async fn create_environment(
        &mut self,
        name: &str,
        is_production: bool,
    ) -> StoreResult<Option<EnvironmentRecord>> {
        let record = EnvironmentRecord {
            id: Uuid::new_v4().to_string(),
            number: self.next_number("environments").await?,
            name: name.to_string(),
            is_production,
            webhook_url: None,
            webhook_signing_key_enc: None,
            variables_enc: None,
            webhook_settings: None,
            created_at: now(),
        };
        let sql = self.sql("INSERT INTO environments (id, number, name, is_production, secret_key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)");
        let inserted = sqlx::query(sql)
            .bind(&record.id)
            .bind(record.number)
            .bind(&record.name)
            .bind(i64::from(is_production))
            // The legacy column is unique and required; keys now live in `api_keys`.
            .bind(format!(
                "{}{}",
                Uuid::new_v4().simple(),
                Uuid::new_v4().simple()
            ))
            .bind(&record.created_at)
            .execute(self.conn())
            .await;
        match inserted {
            Ok(_) => Ok(Some(record)),
            // The transaction is spoilt on PostgreSQL; the caller drops it.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an environment and everything in it. False when there was none.
    pub async fn delete_environment(&mut self, id: &str) -> StoreResult<bool> {
        // Children first and explicitly: SQLite databases made before foreign keys were
        // enforced on every connection may not cascade.
        for sql in [
            "DELETE FROM connection_tags WHERE connection_id IN (SELECT id FROM connections WHERE environment_id = ?)",
            "DELETE FROM oauth_sessions WHERE environment_id = ?",
            "DELETE FROM connect_sessions WHERE environment_id = ?",
            "DELETE FROM operations WHERE environment_id = ?",
            "DELETE FROM async_actions WHERE environment_id = ?",
            "DELETE FROM connections WHERE environment_id = ?",
            "DELETE FROM integrations WHERE environment_id = ?",
            "DELETE FROM api_keys WHERE environment_id = ?",
        ] {
            let sql = self.sql(sql);
            sqlx::query(sql).bind(id).execute(self.conn()).await?;
        }
        let sql = self.sql("DELETE FROM environments WHERE id = ?");
        let done = sqlx::query(sql).bind(id).execute(self.conn()).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn create_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        secret_hash: &str,
    ) -> StoreResult<ApiKeyRecord> {
        let record = ApiKeyRecord {
            id: Uuid::new_v4().to_string(),
            environment_id: environment_id.map(str::to_string),
            display_name: display_name.to_string(),
            secret_hash: secret_hash.to_string(),
            created_at: now(),
        };
        let sql = self.sql("INSERT INTO api_keys (id, environment_id, display_name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)");
        sqlx::query(sql)
            .bind(&record.id)
            .bind(&record.environment_id)
            .bind(&record.display_name)
            .bind(&record.secret_hash)
            .bind(&record.created_at)
            .execute(self.conn())
            .await?;
        Ok(record)
    }

    /// Makes the key hashing to `hash` the key named `display_name` of the environment (or
    /// the account): the one the operator's settings manage. True when the stored key changed.
    pub async fn set_named_api_key(
        &mut self,
        environment_id: Option<&str>,
        display_name: &str,
        hash: &str,
    ) -> StoreResult<bool> {
        let hash = hash.to_string();
        let (condition, bind) = match environment_id {
            Some(id) => ("environment_id = ?", Some(id)),
            None => ("environment_id IS NULL", None),
        };
        let sql =
            format!("SELECT id, secret_hash FROM api_keys WHERE {condition} AND display_name = ?");
        let sql = self.sql(&sql);
        let mut query = sqlx::query(sql);
        if let Some(id) = bind {
            query = query.bind(id);
        }
        let existing = query.bind(display_name).fetch_optional(self.conn()).await?;
        match existing {
            Some(row) if row.try_get::<String, _>("secret_hash")? == hash => Ok(false),
            Some(row) => {
                let id: String = row.try_get("id")?;
                let sql = self.sql("UPDATE api_keys SET secret_hash = ? WHERE id = ?");
                sqlx::query(sql)
                    .bind(&hash)
                    .bind(&id)
                    .execute(self.conn())
                    .await?;
                Ok(true)
            }
            None => {
                self.create_api_key(environment_id, display_name, &hash)
                    .await?;
                Ok(true)
            }
        }
    }

    /// Deletes one key of an environment (or an account key). False when there was none.
    pub async fn delete_api_key(
        &mut self,
        environment_id: Option<&str>,
        id: &str,
    ) -> StoreResult<bool> {
        let done = match environment_id {
            Some(env) => {
                let sql = self.sql("DELETE FROM api_keys WHERE id = ? AND environment_id = ?");
                sqlx::query(sql)
                    .bind(id)
                    .bind(env)
                    .execute(self.conn())
                    .await?
            }
            None => {
                let sql = self.sql("DELETE FROM api_keys WHERE id = ? AND environment_id IS NULL");
                sqlx::query(sql).bind(id).execute(self.conn()).await?
            }
        };
        Ok(done.rows_affected() > 0)
    }

    pub async fn set_environment_variables(&mut self, id: &str, sealed: &str) -> StoreResult<()> {
        let sql = self.sql("UPDATE environments SET variables_enc = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(sealed)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The environment's webhook settings text, locked until the unit of work ends;
    /// `Ok(None)` when there is no such environment, `Some(None)` when none are set.
    pub async fn webhook_settings_for_update(
        &mut self,
        id: &str,
    ) -> StoreResult<Option<Option<String>>> {
        let sql = format!(
            "SELECT webhook_settings FROM environments WHERE id = ?{}",
            self.for_update()
        );
        let row = sqlx::query(self.sql(&sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| r.try_get("webhook_settings"))
            .transpose()
            .map_err(Into::into)
    }

    pub async fn set_webhook_settings(&mut self, id: &str, settings: &str) -> StoreResult<()> {
        let sql = self.sql("UPDATE environments SET webhook_settings = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(settings)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_webhook_signing_key(&mut self, id: &str, sealed: &str) -> StoreResult<()> {
        let sql = self.sql("UPDATE environments SET webhook_signing_key_enc = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(sealed)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
