//! Notion's pre-built syncs: what each keeps (its models as JSON Schemas) and the code that
//! reads Notion for it. Each run reads page after page and hands each page of records to the
//! runner with the cursor that resumes after it, so a run that stops goes on where it was.
//! Both are full syncs: the runner marks as deleted what a successful full run did not see.

use ferry_provider::{
    BoxFuture, DynTransport, ModelSpec, SharedTransport, SyncCall, SyncCatalogue, SyncError,
    SyncSpec,
};
use serde_json::{Value, json};

use crate::types::{Object, plain_text};
use crate::{ApiVersion, Notion, NotionError};

pub(crate) static CATALOGUE: SyncCatalogue = SyncCatalogue { syncs: &SYNCS, run };

static SYNCS: [SyncSpec; 2] = [
    SyncSpec {
        name: "users",
        description: "Every person and bot of the workspace, as Nango's User model; users that leave are marked deleted.",
        frequency: "every day",
        auto_start: true,
        track_deletes: true,
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
        endpoint: "/contents",
        models: &[ModelSpec {
            name: "ContentMetadata",
            schema: content_metadata_schema,
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
