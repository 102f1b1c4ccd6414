//! Connections: one end user's credentials (sealed) for one integration, with their
//! connection config, metadata, end user and tags.

use serde_json::Value;
use sqlx::Row as _;
use uuid::Uuid;

use crate::{Store, StoreResult, json_col, now};

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub environment_id: String,
    pub integration_id: String,
    pub connection_id: String,
    pub credentials_enc: String,
    pub connection_config: Value,
    pub metadata: Value,
    pub end_user: Option<Value>,
    pub tags: Value,
    /// Who authorized (provider workspace and user), so re-authorizing updates this row.
    pub auth_identity: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_fetched_at: Option<String>,
}

/// A connection with its integration's key and provider, as lists show it.
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub connection: Connection,
    pub provider_config_key: String,
    pub provider: String,
}

const COLUMNS: &str = "c.id, c.environment_id, c.integration_id, c.connection_id, c.credentials_enc, c.connection_config, c.metadata, c.end_user, c.tags, c.auth_identity, c.created_at, c.updated_at, c.last_fetched_at, i.unique_key, i.provider";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<ConnectionRow> {
    let end_user: Option<String> = row.try_get("end_user")?;
    Ok(ConnectionRow {
        connection: Connection {
            id: row.try_get("id")?,
            environment_id: row.try_get("environment_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            credentials_enc: row.try_get("credentials_enc")?,
            connection_config: json_col(&row.try_get::<String, _>("connection_config")?)?,
            metadata: json_col(&row.try_get::<String, _>("metadata")?)?,
            end_user: end_user.as_deref().map(json_col).transpose()?,
            tags: json_col(&row.try_get::<String, _>("tags")?)?,
            auth_identity: row.try_get("auth_identity")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_fetched_at: row.try_get("last_fetched_at")?,
        },
        provider_config_key: row.try_get("unique_key")?,
        provider: row.try_get("provider")?,
    })
}

/// Filters of `GET /connections`.
#[derive(Debug, Default, Clone)]
pub struct ConnectionFilter {
    pub connection_id: Option<String>,
    pub search: Option<String>,
    pub end_user_id: Option<String>,
    pub integration_keys: Vec<String>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Inserts or replaces the connection with the same (integration, connection id).
    pub async fn upsert_connection(&self, c: &Connection) -> StoreResult<String> {
        let mut tx = self.pool.begin().await?;
        let existing: Option<String> = sqlx::query_scalar(
            self.sql("SELECT id FROM connections WHERE integration_id = ? AND connection_id = ?"),
        )
        .bind(&c.integration_id)
        .bind(&c.connection_id)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some(id) => {
                sqlx::query(self.sql(
                    "UPDATE connections SET credentials_enc = ?, connection_config = ?, metadata = ?, end_user = ?, tags = ?, auth_identity = ?, updated_at = ? WHERE id = ?",
                ))
                .bind(&c.credentials_enc)
                .bind(c.connection_config.to_string())
                .bind(c.metadata.to_string())
                .bind(c.end_user.as_ref().map(Value::to_string))
                .bind(c.tags.to_string())
                .bind(&c.auth_identity)
                .bind(now())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let id = Uuid::new_v4().to_string();
                let now = now();
                sqlx::query(self.sql(
                    "INSERT INTO connections (id, environment_id, integration_id, connection_id, credentials_enc, connection_config, metadata, end_user, tags, auth_identity, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(&id)
                .bind(&c.environment_id)
                .bind(&c.integration_id)
                .bind(&c.connection_id)
                .bind(&c.credentials_enc)
                .bind(c.connection_config.to_string())
                .bind(c.metadata.to_string())
                .bind(c.end_user.as_ref().map(Value::to_string))
                .bind(c.tags.to_string())
                .bind(&c.auth_identity)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        tx.commit().await?;
        Ok(id)
    }

    /// The one connection matching `condition` (over `c` connections and `i` integrations).
    async fn find_connection(
        &self,
        condition: &str,
        binds: &[&str],
    ) -> StoreResult<Option<ConnectionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections c JOIN integrations i ON i.id = c.integration_id WHERE {condition}"
        );
        let mut query = sqlx::query(self.sql(&sql));
        for b in binds {
            query = query.bind(*b);
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn connection(
        &self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        self.find_connection(
            "c.environment_id = ? AND i.unique_key = ? AND c.connection_id = ?",
            &[environment_id, provider_config_key, connection_id],
        )
        .await
    }

    /// A connection by its row id, within an environment.
    pub async fn connection_by_row_id(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        self.find_connection("c.environment_id = ? AND c.id = ?", &[environment_id, id])
            .await
    }

    /// The connection a person authorized before for this integration, if any.
    pub async fn connection_by_identity(
        &self,
        integration_id: &str,
        identity: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        self.find_connection(
            "c.integration_id = ? AND c.auth_identity = ?",
            &[integration_id, identity],
        )
        .await
    }

    pub async fn list_connections(
        &self,
        environment_id: &str,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<ConnectionRow>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM connections c JOIN integrations i ON i.id = c.integration_id WHERE c.environment_id = ?"
        );
        let mut binds: Vec<String> = vec![environment_id.to_string()];
        if let Some(id) = &filter.connection_id {
            sql.push_str(" AND c.connection_id = ?");
            binds.push(id.clone());
        }
        if let Some(search) = &filter.search {
            sql.push_str(
                " AND (LOWER(c.connection_id) LIKE ? OR LOWER(COALESCE(c.end_user, '')) LIKE ?)",
            );
            let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
            binds.push(pattern.clone());
            binds.push(pattern);
        }
        if let Some(user) = &filter.end_user_id {
            // End users are stored as JSON; match the exact `"id":"…"` member.
            sql.push_str(" AND c.end_user LIKE ?");
            binds.push(format!(
                "%\"id\":{}%",
                serde_json::to_string(user)
                    .unwrap_or_default()
                    .replace(['%', '_'], "")
            ));
        }
        if !filter.integration_keys.is_empty() {
            sql.push_str(&format!(
                " AND i.unique_key IN ({})",
                vec!["?"; filter.integration_keys.len()].join(", ")
            ));
            binds.extend(filter.integration_keys.iter().cloned());
        }
        sql.push_str(" ORDER BY c.created_at DESC, c.id LIMIT ? OFFSET ?");
        let sql = self.sql(&sql);
        let mut query = sqlx::query(sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn update_connection_fields(
        &self,
        id: &str,
        end_user: Option<&Value>,
        tags: &Value,
        metadata: &Value,
    ) -> StoreResult<()> {
        sqlx::query(self.sql("UPDATE connections SET end_user = ?, tags = ?, metadata = ?, updated_at = ? WHERE id = ?"))
            .bind(end_user.map(Value::to_string))
            .bind(tags.to_string())
            .bind(metadata.to_string())
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn update_credentials(&self, id: &str, credentials_enc: &str) -> StoreResult<()> {
        sqlx::query(
            self.sql("UPDATE connections SET credentials_enc = ?, updated_at = ? WHERE id = ?"),
        )
        .bind(credentials_enc)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the connection's refresh lease until `until` when no live lease is held (none, or
    /// one that ended before `now`). True when this caller now holds it.
    pub async fn take_refresh_lease(&self, id: &str, now: &str, until: &str) -> StoreResult<bool> {
        let taken = sqlx::query(self.sql(
            "UPDATE connections SET refresh_lease_until = ? \
             WHERE id = ? AND (refresh_lease_until IS NULL OR refresh_lease_until < ?)",
        ))
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Ends a lease taken with [`Store::take_refresh_lease`], unless another holder has
    /// since taken it over after it expired.
    pub async fn release_refresh_lease(&self, id: &str, until: &str) -> StoreResult<()> {
        sqlx::query(self.sql(
            "UPDATE connections SET refresh_lease_until = NULL \
             WHERE id = ? AND refresh_lease_until = ?",
        ))
        .bind(id)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn touch_connection(&self, id: &str) -> StoreResult<()> {
        sqlx::query(self.sql("UPDATE connections SET last_fetched_at = ? WHERE id = ?"))
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_connection(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(self.sql("DELETE FROM connections WHERE id = ?"))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every sealed column, for re-encryption under a new key.
    pub async fn sealed_values(
        &self,
    ) -> StoreResult<Vec<(&'static str, &'static str, &'static str, String, String)>> {
        let mut out = Vec::new();
        for (table, key, column) in [
            ("connections", "id", "credentials_enc"),
            ("integrations", "id", "client_secret_enc"),
            ("integrations", "id", "webhook_secret_enc"),
            ("environments", "id", "webhook_secret_enc"),
        ] {
            let rows = sqlx::query(self.sql(&format!(
                "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL"
            )))
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                out.push((
                    table,
                    key,
                    column,
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                ));
            }
        }
        Ok(out)
    }

    /// Replaces sealed values in one transaction: all or nothing.
    pub async fn reseal(
        &self,
        values: &[(&'static str, &'static str, &'static str, String, String)],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (table, key, column, id, sealed) in values {
            sqlx::query(self.sql(&format!("UPDATE {table} SET {column} = ? WHERE {key} = ?")))
                .bind(sealed)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
