//! Notion's pre-built syncs: what each keeps (its models as JSON Schemas) and the code that
//! reads Notion for it. Each run reads page after page and hands each page of records to the
//! runner with the checkpoint that resumes after it, so a run that stops goes on where it was.
//! The runner marks as deleted what a successful full run did not see. The row syncs
//! (`data-source-entries`, `databases`) read only what changed after their first run, and
//! with the metadata's `include_page_content` keep each row's content as markdown too.

use ferry_provider::{
    BoxFuture, DynTransport, ModelSpec, SharedTransport, SyncCall, SyncCatalogue, SyncError,
    SyncSpec,
};
use serde_json::{Value, json};

use crate::markdown::{MarkdownOptions, blocks_to_markdown};
use crate::tree::{TreeLimits, fetch_tree};
use crate::types::{Object, plain_text};
use crate::{ApiVersion, Notion, NotionError};

pub(crate) static CATALOGUE: SyncCatalogue = SyncCatalogue { syncs: &SYNCS, run };

static SYNCS: [SyncSpec; 6] = [
    SyncSpec {
        name: "users",
        description: "Every person and bot of the workspace, as Nango's User model; users that leave are marked deleted.",
        frequency: "every day",
        auto_start: true,
        track_deletes: true,
        incremental: false,
        endpoint: "/users",
        models: &[ModelSpec {
            name: "User",
            schema: crate::actions::user_schema,
        }],
    },
    SyncSpec {
        name: "content-metadata",
        description: "Every page and data source shared with the connection (id, type, title, times, parent, URL); what is no longer shared is marked deleted.",
        frequency: "every hour",
        auto_start: true,
        track_deletes: true,
        incremental: false,
        endpoint: "/contents",
        models: &[ModelSpec {
            name: "ContentMetadata",
            schema: content_metadata_schema,
        }],
    },
    SyncSpec {
        name: "data-source-entries",
        description: "The rows of the data sources the connection's metadata names (`data_source_id`: one id or a list), past Notion's 10,000-row query cap; with `include_page_content: true` in the metadata, each row's content as markdown too. After the first run only rows edited since the last one are read (from two minutes before it, as Notion rounds edit times to the minute); a full run (the first, after a reset, and once a day) marks deleted the rows it no longer finds.",
        frequency: "every 5 minutes",
        auto_start: false,
        track_deletes: true,
        incremental: true,
        endpoint: "/data-source-entries",
        models: &[ModelSpec {
            name: "DataSourceEntry",
            schema: entry_schema,
        }],
    },
    SyncSpec {
        name: "databases",
        description: "A record per row of every shared database's data sources, with the row's raw properties and what it belongs to (Nango's NotionCompleteDatabase); with `include_page_content: true` in the metadata, each row's content as markdown too. After the first run only rows edited since the last one are read; a full run (the first, after a reset, and once a day) marks deleted the rows it no longer finds.",
        frequency: "every hour",
        auto_start: false,
        track_deletes: true,
        incremental: true,
        endpoint: "/databases",
        models: &[ModelSpec {
            name: "NotionCompleteDatabase",
            schema: complete_database_schema,
        }],
    },
    SyncSpec {
        name: "data-sources",
        description: "Every data source shared with the connection, with its schema (API 2025-09-03 or later); what is no longer shared is marked deleted.",
        frequency: "every hour",
        auto_start: false,
        track_deletes: true,
        incremental: false,
        endpoint: "/data-sources",
        models: &[ModelSpec {
            name: "DataSource",
            schema: data_source_schema,
        }],
    },
    SyncSpec {
        name: "data-source-templates",
        description: "The page templates of the data sources the connection's metadata names (`data_source_id`: one id or a list); removed templates are marked deleted.",
        frequency: "every day",
        auto_start: false,
        track_deletes: true,
        incremental: false,
        endpoint: "/data-source-templates",
        models: &[ModelSpec {
            name: "DataSourceTemplate",
            schema: template_schema,
        }],
    },
];

fn run<'a>(
    transport: &'a dyn DynTransport,
    call: SyncCall<'a>,
) -> BoxFuture<'a, Result<(), SyncError>> {
    Box::pin(async move {
        let version = call
            .api_version
            .and_then(ApiVersion::parse)
            .unwrap_or(ApiVersion::DEFAULT);
        let notion = Notion::new(SharedTransport(transport), version);
        match call.name {
            "users" => users(&notion, &call).await,
            "content-metadata" => content_metadata(&notion, &call).await,
            "data-source-entries" => data_source_entries(&notion, &call).await,
            "data-sources" => data_sources(&notion, &call).await,
            "databases" => databases(&notion, &call).await,
            "data-source-templates" => data_source_templates(&notion, &call).await,
            other => Err(SyncError::Invalid(format!(
                "Notion has no sync named `{other}`"
            ))),
        }
    })
}

/// Notion's refusal as a sync error, keeping its status, code and message.
fn failed(e: NotionError) -> SyncError {
    match e {
        NotionError::Api {
            status,
            code,
            message,
            ..
        } => SyncError::Provider {
            provider: "Notion",
            status,
            code,
            message,
        },
        NotionError::Transport(e) => SyncError::Transport(e),
        other => SyncError::Invalid(other.to_string()),
    }
}

/// The cursor a run saved, if it saved one.
fn saved_cursor(call: &SyncCall<'_>) -> Option<String> {
    call.checkpoint
        .as_ref()
        .and_then(|c| c.get("start_cursor"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn checkpoint_at(cursor: Option<&str>) -> Option<Value> {
    cursor.map(|c| json!({"start_cursor": c}))
}

async fn users<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    let mut pages = notion.users().resume_from(saved_cursor(call));
    while let Some(page) = pages.next_page().await {
        let records = page
            .map_err(failed)?
            .iter()
            .map(crate::actions::user_json)
            .collect();
        call.sink
            .save("User", records, checkpoint_at(pages.cursor()))
            .await?;
    }
    Ok(())
}

async fn content_metadata<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    // Oldest edits first, so that a page edited during the run moves behind the cursor.
    let body = json!({"sort": {"timestamp": "last_edited_time", "direction": "ascending"}});
    let mut pages = notion.search(body).resume_from(saved_cursor(call));
    while let Some(page) = pages.next_page().await {
        let records = page
            .map_err(failed)?
            .iter()
            .filter_map(content_record)
            .collect();
        call.sink
            .save("ContentMetadata", records, checkpoint_at(pages.cursor()))
            .await?;
    }
    Ok(())
}

/// A search result as a `ContentMetadata` record; objects of kinds Notion adds later are left
/// out.
fn content_record(object: &Object) -> Option<Value> {
    let text = |map: &serde_json::Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).map(str::to_string)
    };
    let (kind, id, title, last_edited, parent, other) = match object {
        Object::Page(page) => (
            "page",
            &page.id,
            page.title(),
            &page.last_edited_time,
            &page.parent,
            &page.other,
        ),
        Object::DataSource(source) => (
            "data_source",
            &source.id,
            plain_text(&source.title),
            &source.last_edited_time,
            &source.parent,
            &source.other,
        ),
        Object::Database(database) => (
            "database",
            &database.id,
            plain_text(&database.title),
            &database.last_edited_time,
            &database.parent,
            &database.other,
        ),
        Object::Other(_) => return None,
    };
    let parent_type = parent.get("type").and_then(Value::as_str);
    let parent_id = parent_type
        .and_then(|t| parent.get(t))
        .and_then(Value::as_str);
    let url = match object {
        Object::Page(page) => page.url.clone(),
        _ => text(other, "url"),
    };
    let in_trash = match object {
        Object::Page(page) => page.in_trash,
        _ => other
            .get("in_trash")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    Some(json!({
        "id": id,
        "object_type": kind,
        "title": title,
        "created_time": text(other, "created_time").or_else(|| match object {
            Object::Page(page) => Some(page.created_time.clone()),
            _ => None,
        }),
        "last_edited_time": last_edited,
        "parent_id": parent_id,
        "parent_type": parent_type,
        "url": url,
        "in_trash": in_trash,
    }))
}

/// Notion rounds `last_edited_time` to the minute: an incremental run reads from this long
/// before the last run began, so no edit made during that minute is missed.
const EDIT_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);

/// The data sources the connection's metadata names: `data_source_id`, one id or a list.
fn data_source_ids(metadata: &Value) -> Result<Vec<String>, SyncError> {
    let missing = || {
        SyncError::Invalid(
            "the connection's metadata has no `data_source_id` (one data source id or a list of them); set it with POST /connections/metadata".into(),
        )
    };
    let ids: Vec<&Value> = match metadata.get("data_source_id") {
        None | Some(Value::Null) => return Err(missing()),
        Some(Value::Array(items)) if items.is_empty() => return Err(missing()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    ids.into_iter()
        .map(|id| {
            let text = id.as_str().ok_or_else(|| {
                SyncError::Invalid(format!(
                    "metadata `data_source_id`: {id} is not a data source id (a string)"
                ))
            })?;
            crate::checked_id("data source", text).map_err(failed)
        })
        .collect()
}

/// Whether the connection's metadata asks for each row's content (`include_page_content`).
fn include_page_content(metadata: &Value) -> Result<bool, SyncError> {
    match metadata.get("include_page_content") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(wanted)) => Ok(*wanted),
        Some(other) => Err(SyncError::Invalid(format!(
            "metadata `include_page_content`: {other} is not true or false"
        ))),
    }
}

/// Rows whose content is read at once; the pacer still spaces the requests.
const CONTENT_CONCURRENCY: usize = 4;

/// Each row's content as markdown (GitHub-flavoured, as `fetch-rich-page` writes it), in
/// the rows' order, a few rows at a time.
async fn page_contents<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    rows: &[crate::types::Page],
) -> Result<Vec<String>, SyncError> {
    let mut contents = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CONTENT_CONCURRENCY) {
        let read = futures_util::future::try_join_all(
            chunk.iter().map(|row| row_content(notion, &row.id)),
        )
        .await?;
        contents.extend(read);
    }
    Ok(contents)
}

async fn row_content<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    row_id: &str,
) -> Result<String, SyncError> {
    let tree = fetch_tree(notion, row_id, TreeLimits::default())
        .await
        .map_err(failed)?;
    Ok(blocks_to_markdown(&tree.blocks, &MarkdownOptions::default()).markdown)
}

/// Where a run of `data-source-entries` stands: the data sources done, and the one being
/// read with its query window (`floor`: rows edited on or after it) and page cursor. `since`
/// is where the run began reading (none for a full run): a checkpoint is only taken up by a
/// run of the same kind, so a full run never resumes an incremental one's window.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct EntriesCheckpoint {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    done: Vec<String>,
    #[serde(default)]
    active: Option<ActiveSource>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ActiveSource {
    id: String,
    floor: Option<String>,
    cursor: Option<String>,
}

async fn data_source_entries<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    let sources: Vec<(String, Value)> = data_source_ids(call.metadata)?
        .into_iter()
        .map(|id| (id, Value::Null))
        .collect();
    // Data sources are queried as such from 2025-09-03 on.
    let notion = Notion::new(
        notion.transport(),
        notion.version().max(ApiVersion::V2025_09_03),
    );
    rows_since(&notion, call, &sources, "DataSourceEntry", |row, id, _| {
        entry_record(row, id)
    })
    .await
}

/// `databases`: a record per row of every shared data source, with its raw properties and
/// what the row belongs to (Nango's `NotionCompleteDatabase`), read like `data-source-entries`.
async fn databases<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    let notion = Notion::new(
        notion.transport(),
        notion.version().max(ApiVersion::V2025_09_03),
    );
    let body = json!({"filter": {"property": "object", "value": "data_source"}});
    let mut sources = Vec::new();
    let mut pages = notion.search(body);
    while let Some(page) = pages.next_page().await {
        for object in page.map_err(failed)? {
            if let Object::DataSource(source) = object {
                let meta = json!({
                    "databaseId": source.parent.get("database_id"),
                    "dataSourceId": source.id,
                    "path": source.other.get("url"),
                    "title": plain_text(&source.title),
                    "last_modified": source.last_edited_time,
                });
                sources.push((source.id, meta));
            }
        }
    }
    rows_since(
        &notion,
        call,
        &sources,
        "NotionCompleteDatabase",
        |row, _, meta| json!({"id": row.id, "row": row.properties, "meta": meta}),
    )
    .await
}

/// The rows of `sources` (data source id, what a record says of it), as `model` records made
/// by `record`: on a full run all of them, on an incremental one those edited since the last
/// run (with [`EDIT_OVERLAP`]), past Notion's 10,000-row cap, from the checkpoint on.
async fn rows_since<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
    sources: &[(String, Value)],
    model: &str,
    record: impl Fn(&crate::types::Page, &str, &Value) -> Value,
) -> Result<(), SyncError> {
    let with_content = include_page_content(call.metadata)?;
    let since = match call.last_sync_date {
        None => None,
        Some(date) => Some(
            chrono::DateTime::parse_from_rfc3339(date).map_err(|_| {
                SyncError::Invalid(format!("the last sync date `{date}` is not a date"))
            })? - EDIT_OVERLAP,
        )
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    };
    let mut at: EntriesCheckpoint = call
        .checkpoint
        .clone()
        .and_then(|c| serde_json::from_value::<EntriesCheckpoint>(c).ok())
        .filter(|c| c.since == since)
        .unwrap_or_else(|| EntriesCheckpoint {
            since: since.clone(),
            ..EntriesCheckpoint::default()
        });
    for (id, about) in sources {
        if at.done.contains(id) {
            continue;
        }
        let mut active = match at.active.take() {
            Some(active) if &active.id == id => active,
            _ => ActiveSource {
                id: id.clone(),
                floor: since.clone(),
                cursor: None,
            },
        };
        // A query stops at 10,000 rows; the next one starts at the edit time of the last
        // row read (rows of that instant come again and are found unchanged).
        loop {
            let mut body =
                json!({"sorts": [{"timestamp": "last_edited_time", "direction": "ascending"}]});
            if let Some(floor) = &active.floor {
                body["filter"] = json!({"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": floor}});
            }
            let mut pages = notion
                .query_data_source(id, body)
                .map_err(failed)?
                .resume_from(active.cursor.take());
            let mut read = 0;
            let mut last_edit: Option<String> = None;
            while let Some(page) = pages.next_page().await {
                let rows: Vec<crate::types::Page> = page
                    .map_err(failed)?
                    .into_iter()
                    .filter_map(|object| match object {
                        Object::Page(row) => Some(row),
                        _ => None,
                    })
                    .collect();
                if let Some(row) = rows.last() {
                    last_edit = Some(row.last_edited_time.clone());
                }
                let mut records: Vec<Value> =
                    rows.iter().map(|row| record(row, id, about)).collect();
                if with_content {
                    let contents = page_contents(notion, &rows).await?;
                    for (record, content) in records.iter_mut().zip(contents) {
                        record["content"] = json!(content);
                    }
                }
                read += records.len();
                active.cursor = pages.cursor().map(str::to_string);
                let checkpoint = EntriesCheckpoint {
                    since: since.clone(),
                    done: at.done.clone(),
                    active: Some(active.clone()),
                };
                call.sink
                    .save(model, records, serde_json::to_value(&checkpoint).ok())
                    .await?;
            }
            let capped = pages
                .request_status
                .as_ref()
                .is_some_and(|s| s.is_incomplete());
            if !capped || read == 0 {
                break;
            }
            if last_edit.is_none() || last_edit == active.floor {
                return Err(SyncError::Invalid(format!(
                    "data source {id}: more than 10,000 rows share the edit time {}; Notion's query cannot page past them",
                    last_edit.unwrap_or_default()
                )));
            }
            active = ActiveSource {
                id: id.clone(),
                floor: last_edit,
                cursor: None,
            };
        }
        at.done.push(id.clone());
        let checkpoint = EntriesCheckpoint {
            since: since.clone(),
            done: at.done.clone(),
            active: None,
        };
        call.sink
            .save(model, Vec::new(), serde_json::to_value(&checkpoint).ok())
            .await?;
    }
    Ok(())
}

async fn data_sources<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    // Search shows data sources from 2025-09-03 on.
    let notion = Notion::new(
        notion.transport(),
        notion.version().max(ApiVersion::V2025_09_03),
    );
    let body = json!({"filter": {"property": "object", "value": "data_source"}});
    let mut pages = notion.search(body).resume_from(saved_cursor(call));
    while let Some(page) = pages.next_page().await {
        let records = page
            .map_err(failed)?
            .iter()
            .filter_map(|object| match object {
                Object::DataSource(source) => Some(data_source_record(source)),
                _ => None,
            })
            .collect();
        call.sink
            .save("DataSource", records, checkpoint_at(pages.cursor()))
            .await?;
    }
    Ok(())
}

fn data_source_record(source: &crate::types::DataSource) -> Value {
    let other = |key: &str| source.other.get(key).cloned().unwrap_or(Value::Null);
    let parent = |key: &str| source.parent.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": source.id,
        "title": plain_text(&source.title),
        "description": other("description")
            .as_array()
            .map(|items| items.iter().filter_map(|t| t["plain_text"].as_str()).collect::<String>()),
        "parent_database_id": parent("database_id"),
        "parent_data_source_id": parent("data_source_id"),
        "is_inline": other("is_inline"),
        "in_trash": other("in_trash"),
        "created_time": other("created_time"),
        "last_edited_time": source.last_edited_time,
        "created_by": other("created_by").get("id").cloned(),
        "last_edited_by": other("last_edited_by").get("id").cloned(),
        "url": other("url"),
        "public_url": other("public_url"),
        "properties": source.properties,
    })
}

async fn data_source_templates<T: ferry_provider::Transport>(
    notion: &Notion<T>,
    call: &SyncCall<'_>,
) -> Result<(), SyncError> {
    let ids = data_source_ids(call.metadata)?;
    let notion = Notion::new(
        notion.transport(),
        notion.version().max(ApiVersion::V2025_09_03),
    );
    // Few templates per data source: each data source's list is read whole, then saved.
    for id in &ids {
        let templates = notion
            .data_source_templates(id)
            .map_err(failed)?
            .all()
            .await
            .map_err(failed)?;
        let records = templates
            .iter()
            .map(|t| json!({"id": t.id, "name": t.name, "is_default": t.is_default, "data_source_id": id}))
            .collect();
        call.sink.save("DataSourceTemplate", records, None).await?;
    }
    Ok(())
}

fn entry_record(row: &crate::types::Page, data_source_id: &str) -> Value {
    let text = |key: &str| row.other.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "data_source_id": data_source_id,
        "created_time": row.created_time,
        "last_edited_time": row.last_edited_time,
        "url": row.url,
        "public_url": text("public_url"),
        "in_trash": row.in_trash,
        "is_archived": text("is_archived"),
        "is_locked": text("is_locked"),
        "properties": row.properties,
    })
}

fn entry_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "data_source_id", "last_edited_time", "properties"],
        "properties": {
            "id": {"type": "string"},
            "data_source_id": {"type": "string"},
            "created_time": {"type": "string"},
            "last_edited_time": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "public_url": {"type": ["string", "null"]},
            "in_trash": {"type": "boolean"},
            "is_archived": {"type": ["boolean", "null"]},
            "is_locked": {"type": ["boolean", "null"]},
            "properties": {"type": "object"},
            "content": {"type": "string", "description": "The row's content as markdown, with the metadata's `include_page_content`"}
        }
    })
}

fn complete_database_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "row", "meta"],
        "properties": {
            "id": {"type": "string"},
            "row": {"type": "object"},
            "content": {"type": "string", "description": "The row's content as markdown, with the metadata's `include_page_content`"},
            "meta": {
                "type": "object",
                "required": ["databaseId", "dataSourceId", "title", "last_modified"],
                "properties": {
                    "databaseId": {"type": ["string", "null"]},
                    "dataSourceId": {"type": "string"},
                    "path": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    "last_modified": {"type": "string"}
                }
            }
        }
    })
}

fn data_source_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "title", "properties"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "parent_database_id": {"type": ["string", "null"]},
            "parent_data_source_id": {"type": ["string", "null"]},
            "is_inline": {"type": ["boolean", "null"]},
            "in_trash": {"type": ["boolean", "null"]},
            "created_time": {"type": ["string", "null"]},
            "last_edited_time": {"type": "string"},
            "created_by": {"type": ["string", "null"]},
            "last_edited_by": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"]},
            "public_url": {"type": ["string", "null"]},
            "properties": {"type": "object"}
        }
    })
}

fn template_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "is_default", "data_source_id"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "is_default": {"type": "boolean"},
            "data_source_id": {"type": "string"}
        }
    })
}

fn content_metadata_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "object_type", "last_edited_time"],
        "properties": {
            "id": {"type": "string"},
            "object_type": {"enum": ["page", "data_source", "database"]},
            "title": {"type": "string"},
            "created_time": {"type": ["string", "null"]},
            "last_edited_time": {"type": "string"},
            "parent_id": {"type": ["string", "null"]},
            "parent_type": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"]},
            "in_trash": {"type": "boolean"}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sync's models are JSON Schema objects that require an `id`, and names are unique.
    #[test]
    fn the_catalogue_is_well_formed() {
        let mut names = std::collections::HashSet::new();
        for spec in CATALOGUE.syncs {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            for model in spec.models {
                let schema = (model.schema)();
                assert_eq!(schema["type"], "object", "{}", model.name);
                assert!(
                    schema["required"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("id")),
                    "{}",
                    model.name
                );
            }
        }
    }
}
