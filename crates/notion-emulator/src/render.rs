//! Stored objects → each API version's wire shape.
//!
//! This is the one place that knows how 2022-06-28 (classic databases), 2025-09-03 (data
//! sources) and 2026-03-11 differ in what they answer.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::{Value, json};

use crate::model::{
    Block, Comment, DataSource, Database, Id, Page, Parent, User, UserKind, Workspace, plain_text,
};
use crate::properties;
use crate::version::ApiVersion;

/// What a render needs besides the object: the caller's version and how it reaches us.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub version: ApiVersion,
    /// Base URL of this emulator, for file URLs and `next_url`.
    pub base_url: String,
    pub now: DateTime<Utc>,
    /// Whether user emails may be shown (the integration's capability).
    pub user_emails: bool,
    /// The calling integration, for its bot's owner.
    pub bot: Option<Id>,
    /// The workspace's file upload limit, shown on the bot.
    pub max_file_upload_bytes: u64,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `created_time` and `last_edited_time` as Notion reports them: rounded down to the minute.
pub fn minute_timestamp(t: DateTime<Utc>) -> String {
    timestamp(round_to_minute(t))
}

pub fn round_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

fn partial_user(id: Id) -> Value {
    json!({"object": "user", "id": id})
}

pub fn url_for(title: &str, id: Id) -> String {
    let slug: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        format!("https://www.notion.so/{}", crate::ids::compact(id))
    } else {
        format!("https://www.notion.so/{slug}-{}", crate::ids::compact(id))
    }
}

pub fn parent(ctx: &Ctx, p: Parent) -> Value {
    match p {
        Parent::Workspace => json!({"type": "workspace", "workspace": true}),
        Parent::Page { id } => json!({"type": "page_id", "page_id": id}),
        Parent::Block { id } => json!({"type": "block_id", "block_id": id}),
        Parent::DataSource { id, database } => {
            if ctx.version.has_data_sources() {
                json!({"type": "data_source_id", "data_source_id": id, "database_id": database})
            } else {
                json!({"type": "database_id", "database_id": database})
            }
        }
    }
}

/// A Notion-hosted file: a URL on this emulator that stops working an hour from now. An
/// uploaded file (`upload`) is served with its bytes; others with a stand-in text.
pub fn hosted_file_url(ctx: &Ctx, name: &str, upload: Option<Id>) -> Value {
    let expiry = ctx.now + Duration::hours(1);
    let path = match upload {
        Some(upload) => format!("{upload}/{}", urlencode(name)),
        None => urlencode(name),
    };
    json!({
        "url": format!("{}/_emulator/files/{path}?expires={}", ctx.base_url, expiry.timestamp()),
        "expiry_time": timestamp(expiry),
    })
}

/// The stored form of a Notion-hosted file: its name, and the upload it came from if any.
pub fn stored_file_name(stored: &Value) -> (String, Option<Id>) {
    let name = stored["file"]["name"]
        .as_str()
        .or(stored["name"].as_str())
        .unwrap_or("file")
        .to_string();
    let upload = stored["file"]["upload"]
        .as_str()
        .and_then(crate::ids::parse);
    (name, upload)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A stored file reference (`{type:"file",file:{name,upload?}}` or external) in its read shape.
pub fn file_object(ctx: &Ctx, mut stored: Value) -> Value {
    if stored["type"] == "file" {
        let (name, upload) = stored_file_name(&stored);
        stored["file"] = hosted_file_url(ctx, &name, upload);
    }
    stored
}

/// A file upload as the File Upload API answers it.
pub fn file_upload(ctx: &Ctx, u: &crate::model::FileUpload) -> Value {
    use crate::model::{UploadMode, UploadStatus};
    let mut out = json!({
        "object": "file_upload",
        "id": u.id,
        "created_time": minute_timestamp(u.stamps.created_time),
        "created_by": {"id": u.stamps.created_by, "type": "bot"},
        "last_edited_time": minute_timestamp(u.stamps.last_edited_time),
        "archived": false,
        "expiry_time": u.expiry_time.map(timestamp),
        "status": u.status.as_str(),
        "filename": u.filename,
        "content_type": u.content_type,
        "content_length": u.content_length,
    });
    if ctx.version.has_data_sources() {
        out["in_trash"] = json!(false);
    }
    if u.status == UploadStatus::Pending && u.mode != UploadMode::ExternalUrl {
        out["upload_url"] = json!(format!("{}/v1/file_uploads/{}/send", ctx.base_url, u.id));
        if u.mode == UploadMode::MultiPart {
            out["complete_url"] = json!(format!(
                "{}/v1/file_uploads/{}/complete",
                ctx.base_url, u.id
            ));
        }
    }
    if let Some(total) = u.number_of_parts {
        out["number_of_parts"] = json!({"total": total, "sent": u.parts.len()});
    }
    if let Some(result) = &u.file_import_result {
        out["file_import_result"] = result.clone();
    }
    out
}

fn icon(ctx: &Ctx, icon: &Option<Value>) -> Value {
    match icon {
        Some(i) if i["type"] == "file" => file_object(ctx, i.clone()),
        Some(i) => i.clone(),
        None => Value::Null,
    }
}

pub fn user(ws: &Workspace, ctx: &Ctx, u: &User) -> Value {
    let mut out = json!({"object": "user", "id": u.id, "name": u.name, "avatar_url": u.avatar_url});
    match &u.kind {
        UserKind::Person { email } => {
            out["type"] = json!("person");
            out["person"] = if ctx.user_emails {
                json!({"email": email})
            } else {
                json!({})
            };
        }
        UserKind::Bot { owner, .. } => {
            out["type"] = json!("bot");
            let owner = match owner {
                Some(person) => json!({"type": "user", "user": ws.user(*person).map(|p| {
                    let mut p = user(ws, ctx, p);
                    if p["person"].get("email").is_none() { p["person"] = json!({}); }
                    p
                }).unwrap_or_else(|| partial_user(*person))}),
                None => json!({"type": "workspace", "workspace": true}),
            };
            let mut bot = json!({
                "owner": owner,
                "workspace_name": ws.name,
                "workspace_limits": {"max_file_upload_size_in_bytes": ctx.max_file_upload_bytes},
            });
            if ctx.version.has_data_sources() {
                bot["workspace_id"] = json!(ws.id);
            }
            // Only the caller's own bot shows its owner; other bots come back bare.
            out["bot"] = if ctx.bot == Some(u.id) {
                bot
            } else {
                json!({})
            };
        }
    }
    out
}

fn trash_fields(ctx: &Ctx, out: &mut Value, in_trash: bool) {
    out["archived"] = json!(in_trash);
    out["in_trash"] = json!(in_trash);
    let _ = ctx;
}

pub fn page(ws: &Workspace, ctx: &Ctx, p: &Page, filter: Option<&[String]>) -> Value {
    let title = ws.page_title_text(p.id);
    let mut out = json!({
        "object": "page",
        "id": p.id,
        "created_time": minute_timestamp(p.stamps.created_time),
        "last_edited_time": minute_timestamp(p.stamps.last_edited_time),
        "created_by": partial_user(p.stamps.created_by),
        "last_edited_by": partial_user(p.stamps.last_edited_by),
        "cover": icon(ctx, &p.cover),
        "icon": icon(ctx, &p.icon),
        "parent": parent(ctx, p.parent),
    });
    trash_fields(ctx, &mut out, p.in_trash);
    if ctx.version.has_data_sources() {
        out["is_archived"] = json!(false);
        out["is_locked"] = json!(p.is_locked);
    }
    out["properties"] = Value::Object(properties::page_properties(ws, ctx, p, filter));
    out["url"] = json!(url_for(&title, p.id));
    out["public_url"] = Value::Null;
    out
}

fn database_title(db: &Database) -> String {
    plain_text(&Value::Array(db.title.clone()))
}

/// A database: the container (2025-09-03+) or the classic database with its schema (2022-06-28).
pub fn database(ws: &Workspace, ctx: &Ctx, db: &Database) -> Value {
    let mut out = json!({
        "object": "database",
        "id": db.id,
        "title": db.title,
        "description": db.description,
        "parent": parent(ctx, db.parent),
        "is_inline": db.is_inline,
    });
    trash_fields(ctx, &mut out, db.in_trash);
    out["created_time"] = json!(minute_timestamp(db.stamps.created_time));
    out["last_edited_time"] = json!(minute_timestamp(db.stamps.last_edited_time));
    if ctx.version.has_data_sources() {
        out["is_locked"] = json!(db.is_locked);
        out["data_sources"] =
            json!(db
            .data_sources
            .iter()
            .filter_map(|id| ws.data_sources.get(id))
            .map(|ds| json!({"id": ds.id, "name": plain_text(&Value::Array(ds.title.clone()))}))
            .collect::<Vec<_>>());
    } else {
        out["created_by"] = partial_user(db.stamps.created_by);
        out["last_edited_by"] = partial_user(db.stamps.last_edited_by);
        let schema = db
            .data_sources
            .first()
            .and_then(|id| ws.data_sources.get(id));
        out["properties"] = json!(
            schema
                .map(|ds| ds
                    .properties
                    .iter()
                    .map(|p| (p.name.clone(), properties::render_schema(p, ctx.version)))
                    .collect::<serde_json::Map<_, _>>())
                .unwrap_or_default()
        );
    }
    out["icon"] = icon(ctx, &db.icon);
    out["cover"] = icon(ctx, &db.cover);
    out["url"] = json!(url_for(&database_title(db), db.id));
    out["public_url"] = Value::Null;
    out
}

pub fn data_source(ws: &Workspace, ctx: &Ctx, ds: &DataSource) -> Value {
    let db = ws.databases.get(&ds.database);
    let mut out = json!({
        "object": "data_source",
        "id": ds.id,
        "title": ds.title,
        "description": ds.description,
        "parent": {"type": "database_id", "database_id": ds.database},
        "database_parent": db.map(|d| parent(ctx, d.parent)).unwrap_or(json!({"type": "workspace", "workspace": true})),
        "is_inline": db.is_some_and(|d| d.is_inline),
    });
    trash_fields(ctx, &mut out, ds.in_trash);
    out["created_time"] = json!(minute_timestamp(ds.stamps.created_time));
    out["last_edited_time"] = json!(minute_timestamp(ds.stamps.last_edited_time));
    out["created_by"] = partial_user(ds.stamps.created_by);
    out["last_edited_by"] = partial_user(ds.stamps.last_edited_by);
    out["properties"] = json!(
        ds.properties
            .iter()
            .map(|p| (p.name.clone(), properties::render_schema(p, ctx.version)))
            .collect::<serde_json::Map<_, _>>()
    );
    out["icon"] = icon(ctx, &ds.icon);
    out["cover"] = db.map(|d| icon(ctx, &d.cover)).unwrap_or(Value::Null);
    out["url"] = json!(url_for(&plain_text(&Value::Array(ds.title.clone())), ds.id));
    out["public_url"] = Value::Null;
    out
}

/// Block types that a version does not know come back as `unsupported`.
fn block_type_for_version(kind: &str, version: ApiVersion) -> Option<&'static str> {
    match (kind, version) {
        ("heading_4" | "tab" | "meeting_notes", ApiVersion::V2022_06_28) => None,
        ("meeting_notes", ApiVersion::V2025_09_03) => Some("transcription"),
        _ => Some(""),
    }
}

fn block_common(
    ctx: &Ctx,
    id: Id,
    parent_value: Value,
    stamps: &crate::model::Stamps,
    has_children: bool,
    in_trash: bool,
) -> Value {
    let mut out = json!({
        "object": "block",
        "id": id,
        "parent": parent_value,
        "created_time": minute_timestamp(stamps.created_time),
        "last_edited_time": minute_timestamp(stamps.last_edited_time),
        "created_by": partial_user(stamps.created_by),
        "last_edited_by": partial_user(stamps.last_edited_by),
        "has_children": has_children,
    });
    trash_fields(ctx, &mut out, in_trash);
    out
}

fn visible_children(ws: &Workspace, ids: &[Id]) -> bool {
    ids.iter().any(|id| !ws.is_trashed(*id))
}

/// Any member of a container's children list: a block, a child page or a child database.
pub fn child(ws: &Workspace, ctx: &Ctx, id: Id) -> Option<Value> {
    if let Some(b) = ws.blocks.get(&id) {
        return Some(block(ws, ctx, b));
    }
    if let Some(p) = ws.pages.get(&id) {
        return Some(page_as_block(ws, ctx, p));
    }
    ws.databases.get(&id).map(|db| database_as_block(ctx, db))
}

pub fn page_as_block(ws: &Workspace, ctx: &Ctx, p: &Page) -> Value {
    let mut out = block_common(
        ctx,
        p.id,
        parent(ctx, p.parent),
        &p.stamps,
        visible_children(ws, &p.children),
        p.in_trash,
    );
    out["type"] = json!("child_page");
    out["child_page"] = json!({"title": ws.page_title_text(p.id)});
    out
}

pub fn database_as_block(ctx: &Ctx, db: &Database) -> Value {
    let mut out = block_common(
        ctx,
        db.id,
        parent(ctx, db.parent),
        &db.stamps,
        false,
        db.in_trash,
    );
    out["type"] = json!("child_database");
    out["child_database"] = json!({"title": database_title(db)});
    out
}

pub fn block(ws: &Workspace, ctx: &Ctx, b: &Block) -> Value {
    let mut out = block_common(
        ctx,
        b.id,
        parent(ctx, b.parent),
        &b.stamps,
        visible_children(ws, &b.children),
        b.in_trash,
    );
    let mut content = b.content.clone();
    if matches!(
        b.kind.as_str(),
        "image" | "video" | "pdf" | "audio" | "file"
    ) && content["type"] == "file"
    {
        let (name, upload) = stored_file_name(&content);
        content["file"] = hosted_file_url(ctx, &name, upload);
    }
    if b.kind == "callout" {
        content["icon"] = icon(ctx, &content.get("icon").cloned().filter(|i| !i.is_null()));
    }
    if !ctx.version.has_data_sources() {
        // Fields that 2022-06-28 does not know.
        if let Some(map) = content.as_object_mut() {
            match b.kind.as_str() {
                "paragraph" => {
                    map.remove("icon");
                }
                "numbered_list_item" => {
                    map.remove("list_format");
                    map.remove("list_start_index");
                }
                _ => {}
            }
        }
    }
    match block_type_for_version(&b.kind, ctx.version) {
        None => {
            out["type"] = json!("unsupported");
            out["unsupported"] = json!({});
        }
        Some("") => {
            out["type"] = json!(b.kind);
            out[b.kind.as_str()] = content;
        }
        Some(renamed) => {
            out["type"] = json!(renamed);
            out[renamed] = content;
        }
    }
    if b.kind == "unsupported" && !ctx.version.has_data_sources() {
        out["unsupported"] = json!({});
    }
    out
}

pub fn comment(ctx: &Ctx, c: &Comment) -> Value {
    let parent = match c.parent {
        Parent::Block { id } => json!({"type": "block_id", "block_id": id}),
        other => json!({"type": "page_id", "page_id": other.container()}),
    };
    let mut out = json!({
        "object": "comment",
        "id": c.id,
        "parent": parent,
        "discussion_id": c.discussion_id,
        "created_time": minute_timestamp(c.created_time),
        "last_edited_time": minute_timestamp(c.last_edited_time),
        "created_by": partial_user(c.created_by),
        "rich_text": c.rich_text,
        "display_name": c.display_name,
    });
    if !c.attachments.is_empty() {
        out["attachments"] = c
            .attachments
            .iter()
            .map(|a| {
                json!({
                    "category": a["category"].as_str().unwrap_or("productivity"),
                    "file": file_object(ctx, a.clone())["file"],
                })
            })
            .collect();
    }
    out
}
