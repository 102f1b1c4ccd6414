//! Data moves that follow a migration but need code: each backend reads JSON differently, so
//! copying end users and tags out of JSON columns is done here, once, in one unit of work.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row as _;

use crate::{Store, StoreResult, json_col};

pub(crate) async fn run(store: &Store) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    let sql = tx.sql("SELECT value FROM ferry_meta WHERE name = 'backfill_0003'");
    let state: Option<String> = sqlx::query_scalar(sql).fetch_optional(tx.conn()).await?;
    if state.as_deref() != Some("pending") {
        return Ok(());
    }
    let sql = tx.sql("SELECT id, connection_id, end_user, tags FROM connections");
    let rows = sqlx::query(sql).fetch_all(tx.conn()).await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let connection_id: String = row.try_get("connection_id")?;
        let end_user: Option<Value> = row
            .try_get::<Option<String>, _>("end_user")?
            .as_deref()
            .map(json_col)
            .transpose()?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let end_user_id = text(end_user.as_ref().and_then(|u| u.get("id")));
        let organization_id = text(
            end_user
                .as_ref()
                .and_then(|u| u.pointer("/organization/id")),
        );
        let mut search = vec![connection_id.to_lowercase()];
        for field in ["id", "email", "display_name"] {
            if let Some(v) = text(end_user.as_ref().and_then(|u| u.get(field))) {
                search.push(v.to_lowercase());
            }
        }
        let sql = tx.sql("UPDATE connections SET end_user_id = ?, end_user_organization_id = ?, search_text = ? WHERE id = ?");
        sqlx::query(sql)
            .bind(&end_user_id)
            .bind(&organization_id)
            .bind(search.join("\n"))
            .bind(&id)
            .execute(tx.conn())
            .await?;
        // Tags were free-form JSON; string values become filterable tags, keys lower-cased
        // as the SDK sends them, with the end user's email and name beside them.
        let tags: BTreeMap<String, Value> =
            serde_json::from_value(json_col(&row.try_get::<String, _>("tags")?)?)
                .unwrap_or_default();
        let mut filter: BTreeMap<String, String> = tags
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_lowercase(), v.to_string())))
            .collect();
        for (field, tag) in [
            ("email", "end_user_email"),
            ("display_name", "end_user_display_name"),
        ] {
            if let Some(v) = text(end_user.as_ref().and_then(|u| u.get(field))) {
                filter.entry(tag.to_string()).or_insert(v);
            }
        }
        for (key, value) in filter {
            {
                let sql = tx.sql("INSERT INTO connection_tags (connection_id, tag_key, tag_value) VALUES (?, ?, ?)");
                sqlx::query(sql)
                    .bind(&id)
                    .bind(&key)
                    .bind(&value)
                    .execute(tx.conn())
                    .await?;
            }
        }
    }
    // Integration settings named after Notion became provider-neutral.
    let sql = tx.sql("SELECT id, integration_config FROM integrations");
    let rows = sqlx::query(sql).fetch_all(tx.conn()).await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let mut config = json_col(&row.try_get::<String, _>("integration_config")?)?;
        let Some(map) = config.as_object_mut() else {
            continue;
        };
        let mut changed = false;
        for (old, new) in [
            ("notion_base_url", "base_url"),
            ("notion_version", "api_version"),
        ] {
            if let Some(v) = map.remove(old) {
                map.entry(new.to_string()).or_insert(v);
                changed = true;
            }
        }
        if changed {
            let sql = tx.sql("UPDATE integrations SET integration_config = ? WHERE id = ?");
            sqlx::query(sql)
                .bind(config.to_string())
                .bind(&id)
                .execute(tx.conn())
                .await?;
        }
    }
    let sql = tx.sql("UPDATE ferry_meta SET value = 'done' WHERE name = 'backfill_0003'");
    sqlx::query(sql).execute(tx.conn()).await?;
    tx.commit().await
}
