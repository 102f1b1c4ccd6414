//! Connections: one end user's credentials (sealed) for one integration, with their
//! connection config, metadata, end user, tags and webhook URL override. End-user ids and
//! tags also live in their own indexed columns and table, so filters compare exactly.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row as _;
use uuid::Uuid;

use ferry_engine::storage::{
    ConnectionChanges, ConnectionFilter, ConnectionRecord, EndUserColumns, NewConnection,
};
use ferry_engine::time::now;

use crate::{Store, StoreResult, Tx, bind_all, contains_pattern, json_col};

const COLUMNS: &str = "c.id, c.number, c.environment_id, c.integration_id, c.connection_id, c.credentials_enc, c.connection_config, c.metadata, c.end_user, c.tags, c.webhook_url_override, c.auth_identity, c.created_at, c.updated_at, c.last_fetched_at, i.unique_key, i.provider";

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<ConnectionRecord> {
    let end_user: Option<String> = row.try_get("end_user")?;
    // Older Ferry versions took any JSON as a tag value: such values show as their JSON text.
    let tags: BTreeMap<String, String> = match json_col(&row.try_get::<String, _>("tags")?)? {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(ConnectionRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        environment_id: row.try_get("environment_id")?,
        integration_id: row.try_get("integration_id")?,
        connection_id: row.try_get("connection_id")?,
        credentials_enc: row.try_get("credentials_enc")?,
        connection_config: json_col(&row.try_get::<String, _>("connection_config")?)?,
        metadata: json_col(&row.try_get::<String, _>("metadata")?)?,
        end_user: end_user.as_deref().map(json_col).transpose()?,
        tags,
        webhook_url_override: row.try_get("webhook_url_override")?,
        auth_identity: row.try_get("auth_identity")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_fetched_at: row.try_get("last_fetched_at")?,
        provider_config_key: row.try_get("unique_key")?,
        provider: row.try_get("provider")?,
    })
}

fn search_text(connection_id: &str, end_user: Option<&EndUserColumns>) -> String {
    let mut parts = vec![connection_id.to_lowercase()];
    if let Some(user) = end_user {
        parts.push(user.id.to_lowercase());
        parts.extend(user.search_terms.iter().map(|t| t.to_lowercase()));
    }
    parts.join("\n")
}

fn tags_json(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".into())
}

impl Store {
    /// The one connection matching `condition` (over `c` connections and `i` integrations).
    async fn find_connection(
        &self,
        condition: &str,
        binds: &[String],
    ) -> StoreResult<Option<ConnectionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections c JOIN integrations i ON i.id = c.integration_id WHERE {condition}"
        );
        let row = bind_all(sqlx::query(self.sql(&sql)), binds)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn connection(
        &self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.find_connection(
            // The integration first, so the lookup is one probe of the (integration_id,
            // connection_id) index however many connections the environment has.
            "c.integration_id = (SELECT id FROM integrations WHERE environment_id = ? AND unique_key = ?) AND c.connection_id = ? AND c.environment_id = ?",
            &[
                environment_id.into(),
                provider_config_key.into(),
                connection_id.into(),
                environment_id.into(),
            ],
        )
        .await
    }

    /// A connection by its row id, within an environment.
    pub async fn connection_by_row_id(
        &self,
        environment_id: &str,
        id: &str,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.find_connection(
            "c.environment_id = ? AND c.id = ?",
            &[environment_id.into(), id.into()],
        )
        .await
    }

    /// The connection a person authorized before for this integration, if any.
    pub async fn connection_by_identity(
        &self,
        integration_id: &str,
        identity: &str,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.find_connection(
            "c.integration_id = ? AND c.auth_identity = ?",
            &[integration_id.into(), identity.into()],
        )
        .await
    }

    /// Newest first.
    pub async fn list_connections(
        &self,
        environment_id: &str,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM connections c JOIN integrations i ON i.id = c.integration_id WHERE c.environment_id = ?"
        );
        let mut binds: Vec<String> = vec![environment_id.to_string()];
        for (column, value) in [
            ("c.connection_id", &filter.connection_id),
            ("c.end_user_id", &filter.end_user_id),
            (
                "c.end_user_organization_id",
                &filter.end_user_organization_id,
            ),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                binds.push(v.clone());
            }
        }
        if let Some(search) = &filter.search {
            sql.push_str(" AND c.search_text LIKE ? ESCAPE '\\'");
            binds.push(contains_pattern(&search.to_lowercase()));
        }
        if !filter.integration_keys.is_empty() {
            sql.push_str(&format!(
                " AND i.unique_key IN ({})",
                vec!["?"; filter.integration_keys.len()].join(", ")
            ));
            binds.extend(filter.integration_keys.iter().cloned());
        }
        for (key, value) in &filter.tags {
            sql.push_str(" AND EXISTS (SELECT 1 FROM connection_tags t WHERE t.connection_id = c.id AND t.tag_key = ? AND t.tag_value = ?)");
            binds.push(key.clone());
            binds.push(value.clone());
        }
        sql.push_str(" ORDER BY c.created_at DESC, c.number DESC LIMIT ? OFFSET ?");
        let rows = bind_all(sqlx::query(self.sql(&sql)), &binds)
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every sealed column, for re-encryption under a new key.
    pub async fn sealed_values(&self) -> StoreResult<Vec<SealedValue>> {
        let mut out = Vec::new();
        for (table, column) in SEALED_COLUMNS {
            let rows = sqlx::query(self.sql(&format!(
                "SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"
            )))
            .fetch_all(self.pool())
            .await?;
            for row in rows {
                out.push(SealedValue {
                    table,
                    column,
                    id: row.try_get(0)?,
                    sealed: row.try_get(1)?,
                });
            }
        }
        Ok(out)
    }
}

/// Every column holding a sealed secret, as (table, column); each table's key is `id`.
const SEALED_COLUMNS: [(&str, &str); 6] = [
    ("connections", "credentials_enc"),
    ("integrations", "client_secret_enc"),
    ("integrations", "webhook_secret_enc"),
    ("environments", "webhook_secret_enc"),
    ("environments", "webhook_signing_key_enc"),
    ("environments", "variables_enc"),
];

/// One sealed value and where it lives.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub table: &'static str,
    pub column: &'static str,
    pub id: String,
    pub sealed: String,
}

impl Tx {
    /// Inserts the connection, or writes over the one with the same integration and
    /// connection id (keeping its row id, number and creation time). Returns the row id.
    pub async fn upsert_connection(&mut self, c: &NewConnection) -> StoreResult<String> {
        let number = self.next_number("connections").await?;
        let now = now();
        let end_user = c.end_user.as_ref();
        let sql = self.sql(
            "INSERT INTO connections (id, number, environment_id, integration_id, connection_id, credentials_enc, connection_config, metadata, end_user, end_user_id, end_user_organization_id, search_text, tags, webhook_url_override, auth_identity, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (integration_id, connection_id) DO UPDATE SET credentials_enc = excluded.credentials_enc, connection_config = excluded.connection_config, metadata = excluded.metadata, end_user = excluded.end_user, end_user_id = excluded.end_user_id, end_user_organization_id = excluded.end_user_organization_id, search_text = excluded.search_text, tags = excluded.tags, webhook_url_override = excluded.webhook_url_override, auth_identity = excluded.auth_identity, updated_at = excluded.updated_at \
             RETURNING id",
        );
        let id: String = sqlx::query_scalar(sql)
            .bind(Uuid::new_v4().to_string())
            .bind(number)
            .bind(&c.environment_id)
            .bind(&c.integration_id)
            .bind(&c.connection_id)
            .bind(&c.credentials_enc)
            .bind(c.connection_config.to_string())
            .bind(c.metadata.to_string())
            .bind(end_user.map(|u| u.value.to_string()))
            .bind(end_user.map(|u| u.id.clone()))
            .bind(end_user.and_then(|u| u.organization_id.clone()))
            .bind(search_text(&c.connection_id, end_user))
            .bind(tags_json(&c.tags))
            .bind(&c.webhook_url_override)
            .bind(&c.auth_identity)
            .bind(&now)
            .bind(&now)
            .fetch_one(self.conn())
            .await?;
        self.replace_tags(&id, &c.filter_tags).await?;
        Ok(id)
    }

    async fn replace_tags(&mut self, id: &str, tags: &BTreeMap<String, String>) -> StoreResult<()> {
        let sql = self.sql("DELETE FROM connection_tags WHERE connection_id = ?");
        sqlx::query(sql).bind(id).execute(self.conn()).await?;
        for (key, value) in tags {
            let sql = self.sql(
                "INSERT INTO connection_tags (connection_id, tag_key, tag_value) VALUES (?, ?, ?)",
            );
            sqlx::query(sql)
                .bind(id)
                .bind(key)
                .bind(value)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// The connection's row id and metadata, locked until this unit of work ends.
    pub async fn connection_metadata_for_update(
        &mut self,
        environment_id: &str,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<(String, Value)>> {
        let sql = format!(
            "SELECT c.id, c.metadata FROM connections c WHERE c.environment_id = ? AND c.connection_id = ? AND c.integration_id = (SELECT i.id FROM integrations i WHERE i.environment_id = ? AND i.unique_key = ?){}",
            self.for_update()
        );
        let sql = self.sql(&sql);
        let row = sqlx::query(sql)
            .bind(environment_id)
            .bind(connection_id)
            .bind(environment_id)
            .bind(provider_config_key)
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| {
            Ok((
                r.try_get("id")?,
                json_col(&r.try_get::<String, _>("metadata")?)?,
            ))
        })
        .transpose()
    }

    pub async fn set_connection_metadata(&mut self, id: &str, metadata: &Value) -> StoreResult<()> {
        let sql = self.sql("UPDATE connections SET metadata = ?, updated_at = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(metadata.to_string())
            .bind(now())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Applies `changes` to the connection with row id `id`.
    pub async fn update_connection(
        &mut self,
        id: &str,
        connection_id: &str,
        changes: &ConnectionChanges,
    ) -> StoreResult<()> {
        if let Some(end_user) = &changes.end_user {
            let end_user = end_user.as_ref();
            let sql = self.sql("UPDATE connections SET end_user = ?, end_user_id = ?, end_user_organization_id = ?, search_text = ? WHERE id = ?");
            sqlx::query(sql)
                .bind(end_user.map(|u| u.value.to_string()))
                .bind(end_user.map(|u| u.id.clone()))
                .bind(end_user.and_then(|u| u.organization_id.clone()))
                .bind(search_text(connection_id, end_user))
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        if let Some(tags) = &changes.tags {
            let sql = self.sql("UPDATE connections SET tags = ? WHERE id = ?");
            sqlx::query(sql)
                .bind(tags_json(tags))
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        if let Some(filter_tags) = &changes.filter_tags {
            self.replace_tags(id, filter_tags).await?;
        }
        if let Some(url) = &changes.webhook_url_override {
            let sql = self.sql("UPDATE connections SET webhook_url_override = ? WHERE id = ?");
            sqlx::query(sql)
                .bind(url)
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        let sql = self.sql("UPDATE connections SET updated_at = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(now())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn update_credentials(&mut self, id: &str, credentials_enc: &str) -> StoreResult<()> {
        let sql =
            self.sql("UPDATE connections SET credentials_enc = ?, updated_at = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(credentials_enc)
            .bind(now())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Takes the connection's refresh lease until `until` when no live lease is held (none, or
    /// one that ended before `now`). True when this caller now holds it.
    pub async fn take_refresh_lease(
        &mut self,
        id: &str,
        now: &str,
        until: &str,
    ) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE connections SET refresh_lease_until = ? \
             WHERE id = ? AND (refresh_lease_until IS NULL OR refresh_lease_until < ?)",
        );
        let taken = sqlx::query(sql)
            .bind(until)
            .bind(id)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Ends a lease taken with [`Tx::take_refresh_lease`], unless another holder has since
    /// taken it over after it expired.
    pub async fn release_refresh_lease(&mut self, id: &str, until: &str) -> StoreResult<()> {
        let sql = self.sql(
            "UPDATE connections SET refresh_lease_until = NULL \
             WHERE id = ? AND refresh_lease_until = ?",
        );
        sqlx::query(sql)
            .bind(id)
            .bind(until)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records that the connection's credentials were read at `at`.
    pub async fn touch_connection(&mut self, id: &str, at: &str) -> StoreResult<()> {
        let sql = self.sql("UPDATE connections SET last_fetched_at = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(at)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Deletes the connection and its tags. False when there was none.
    pub async fn delete_connection(&mut self, id: &str) -> StoreResult<bool> {
        let sql = self.sql("DELETE FROM connection_tags WHERE connection_id = ?");
        sqlx::query(sql).bind(id).execute(self.conn()).await?;
        let sql = self.sql("DELETE FROM connections WHERE id = ?");
        let done = sqlx::query(sql).bind(id).execute(self.conn()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Writes re-sealed values back where [`Store::sealed_values`] found them.
    pub async fn reseal(&mut self, values: &[SealedValue]) -> StoreResult<()> {
        for v in values {
            let sql = self.sql(&format!(
                "UPDATE {} SET {} = ? WHERE id = ?",
                v.table, v.column
            ));
            sqlx::query(sql)
                .bind(&v.sealed)
                .bind(&v.id)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}
