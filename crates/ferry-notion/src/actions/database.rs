//! `fetch-database`: a database and all its rows, whatever the API version, past Notion's
//! limits: a query stops at 10,000 rows (the rest is read by splitting on `created_time`),
//! and a page's list properties stop at 25 items (the rest is read from the property-item
//! endpoint).

use std::collections::{BTreeMap, HashSet};

use ferry_provider::ActionError;
use serde_json::{Value, json};

use super::input::Input;
use super::{Client, failed};
use crate::NotionError;
use crate::types::{Database, Object, Page, PropertySchema, PropertyValue, plain_text};

/// Where rows of a database are read and written.
pub(crate) struct Table {
    pub database_id: String,
    pub title: String,
    pub last_edited_time: String,
    pub url: Option<String>,
    /// Data sources (2025-09-03 and later); empty in 2022-06-28, where the database holds its
    /// rows itself.
    pub data_sources: Vec<(String, BTreeMap<String, PropertySchema>)>,
    /// The schema, in 2022-06-28.
    pub properties: BTreeMap<String, PropertySchema>,
}

impl Table {
    fn of_database(
        database: &Database,
        data_sources: Vec<(String, BTreeMap<String, PropertySchema>)>,
        properties: BTreeMap<String, PropertySchema>,
    ) -> Table {
        Table {
            database_id: database.id.clone(),
            title: plain_text(&database.title),
            last_edited_time: database.last_edited_time.clone(),
            url: database
                .other
                .get("url")
                .and_then(Value::as_str)
                .map(str::to_string),
            data_sources,
            properties,
        }
    }

    /// The schema rows are written against: the database's, or its first data source's.
    pub fn schema(&self) -> &BTreeMap<String, PropertySchema> {
        self.data_sources
            .first()
            .map_or(&self.properties, |(_, schema)| schema)
    }

    /// A new row's `parent`.
    pub fn parent(&self) -> Value {
        match self.data_sources.first() {
            Some((id, _)) => json!({"type": "data_source_id", "data_source_id": id}),
            None => json!({"type": "database_id", "database_id": self.database_id}),
        }
    }
}

/// Reads a database by id; in versions with data sources, an id of a data source is taken
/// too (it is what users copy from a view's link).
pub(crate) async fn table(notion: &Client<'_>, id: &str) -> Result<Table, ActionError> {
    if !notion.version().has_data_sources() {
        let mut database = notion.database(id).await.map_err(failed)?;
        let properties = database.properties.take().unwrap_or_default();
        return Ok(Table::of_database(&database, Vec::new(), properties));
    }
    match notion.database(id).await {
        Ok(database) => {
            let mut data_sources = Vec::new();
            for source in &database.data_sources {
                let source = notion.data_source(&source.id).await.map_err(failed)?;
                data_sources.push((source.id, source.properties));
            }
            Ok(Table::of_database(&database, data_sources, BTreeMap::new()))
        }
        Err(e) if e.code() == Some("object_not_found") => {
            let Ok(source) = notion.data_source(id).await else {
                return Err(failed(e));
            };
            let database_id = source
                .parent
                .get("database_id")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_string();
            Ok(Table {
                database_id,
                title: plain_text(&source.title),
                last_edited_time: source.last_edited_time.clone(),
                url: source
                    .other
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                data_sources: vec![(source.id, source.properties)],
                properties: BTreeMap::new(),
            })
        }
        Err(e) => Err(failed(e)),
    }
}

/// Every row of the table, oldest first.
pub(crate) async fn rows(notion: &Client<'_>, table: &Table) -> Result<Vec<Page>, ActionError> {
    let mut rows = Vec::new();
    if table.data_sources.is_empty() {
        rows_of(notion, &table.database_id, false, &mut rows).await?;
    }
    for (id, _) in &table.data_sources {
        rows_of(notion, id, true, &mut rows).await?;
    }
    for row in &mut rows {
        complete_properties(notion, row).await?;
    }
    Ok(rows)
}

/// Queries by creation time; when a query stops at Notion's cap, the next one starts at the
/// creation time of the last row read, until one ends complete.
async fn rows_of(
    notion: &Client<'_>,
    id: &str,
    data_source: bool,
    out: &mut Vec<Page>,
) -> Result<(), ActionError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({"sorts": [{"timestamp": "created_time", "direction": "ascending"}]});
        if let Some(after) = &after {
            body["filter"] =
                json!({"timestamp": "created_time", "created_time": {"on_or_after": after}});
        }
        let mut list = if data_source {
            notion.query_data_source(id, body)
        } else {
            notion.query_database(id, body)
        }
        .map_err(failed)?;
        let mut added = 0;
        let mut last_created: Option<String> = None;
        while let Some(page) = list.next_page().await {
            for object in page.map_err(failed)? {
                let Object::Page(row) = object else {
                    continue;
                };
                last_created = Some(row.created_time.clone());
                if seen.insert(row.id.clone()) {
                    added += 1;
                    out.push(row);
                }
            }
        }
        let capped = list
            .request_status
            .as_ref()
            .is_some_and(|s| s.is_incomplete());
        if !capped || added == 0 {
            return Ok(());
        }
        after = last_created;
    }
}

/// List properties that Notion cut at 25 items, read whole.
pub(crate) async fn complete_properties(
    notion: &Client<'_>,
    row: &mut Page,
) -> Result<(), ActionError> {
    let cut: Vec<String> = row
        .properties
        .iter()
        .filter(|(_, p)| is_cut(p))
        .map(|(name, _)| name.clone())
        .collect();
    for name in cut {
        let property = &row.properties[&name];
        let items = notion
            .page_property(&row.id, &property.id)
            .map_err(failed)?
            .all()
            .await
            .map_err(|e: NotionError| failed(e))?;
        let kind = property.kind.clone();
        let values: Vec<Value> = items
            .into_iter()
            .filter_map(|mut item| item.get_mut(&kind).map(Value::take))
            .collect();
        let property = row.properties.get_mut(&name).expect("listed above");
        property.value = Value::Array(values);
        property.other.insert("has_more".into(), Value::Bool(false));
    }
    Ok(())
}

fn is_cut(property: &PropertyValue) -> bool {
    matches!(
        property.kind.as_str(),
        "title" | "rich_text" | "relation" | "people"
    ) && (property.other.get("has_more") == Some(&Value::Bool(true))
        || property
            .value
            .as_array()
            .is_some_and(|items| items.len() >= 25))
}

pub(crate) fn fetch_input() -> Value {
    json!({
        "type": "object",
        "required": ["databaseId"],
        "properties": {"databaseId": {"type": "string", "description": "A database id, or a data source id"}},
        "additionalProperties": false
    })
}

pub(crate) fn fetch_output() -> Value {
    json!({
        "type": "object",
        "required": ["id", "title", "entries"],
        "properties": {
            "id": {"type": "string"},
            "path": {"type": ["string", "null"]},
            "title": {"type": "string"},
            "last_modified": {"type": "string"},
            "meta": {"type": "object"},
            "entries": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "row"],
                "properties": {"id": {"type": "string"}, "row": {"type": "object"}}
            }}
        }
    })
}

pub(crate) async fn fetch(notion: &Client<'_>, input: &Input<'_>) -> Result<Value, ActionError> {
    input.only(&["databaseId"])?;
    let id = input.id("databaseId", "database")?;
    let table = table(notion, &id).await?;
    let rows = rows(notion, &table).await?;
    let schema: BTreeMap<&String, Value> = table
        .schema()
        .iter()
        .map(|(name, p)| (name, json!({"id": p.id, "type": p.kind})))
        .collect();
    Ok(json!({
        "id": table.database_id,
        "path": table.url,
        "title": table.title,
        "last_modified": table.last_edited_time,
        "meta": {
            "databaseId": table.database_id,
            "dataSourceIds": table.data_sources.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "properties": schema,
            "rowCount": rows.len(),
        },
        "entries": rows.iter().map(|row| json!({
            "id": row.id,
            "row": row.properties,
            "created_time": row.created_time,
            "last_edited_time": row.last_edited_time,
        })).collect::<Vec<_>>(),
    }))
}
