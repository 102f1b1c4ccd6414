//! AI meeting notes (2026-03-11): `POST /v1/blocks/meeting_notes` makes a meeting notes
//! block from an uploaded recording or an existing audio or video block, and
//! `POST /v1/blocks/meeting_notes/query` finds meeting notes by title, attendees and
//! timestamps.
//!
//! The emulator does not transcribe: a new block stays `transcription_in_progress` until a
//! test moves it on through the admin API (`POST /_emulator/meeting_notes/{id}/status`), as
//! Notion's processing would. Answers take the SDK's shapes, which leave out `parent`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req};
use crate::model::{Block, Id, Parent, Stamps, UploadStatus, Workspace};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, render, richtext};

/// The most meeting notes one query answers.
pub const QUERY_LIMIT: usize = 50;
const LANGUAGES: &[&str] = &[
    "auto", "en", "zh-CN", "zh-TW", "es", "fr", "de", "ja", "ko", "pt", "ru", "th", "vi", "id",
    "da", "fi", "no", "nl", "it", "sv", "ar", "he", "pl",
];
/// Statuses a meeting note moves through while Notion processes it.
pub const STATUSES: &[&str] = &[
    "transcription_not_started",
    "transcription_paused",
    "transcription_in_progress",
    "transcription_failed",
    "summary_in_progress",
    "notes_ready",
];

fn only_2026(caller: &Caller) -> ApiResult<()> {
    if caller.version.uses_2026_names() {
        Ok(())
    } else {
        Err(NotionError::invalid_request_url())
    }
}

/// A meeting notes block as these endpoints answer it (the SDK's shape has no `parent`).
pub fn render_note(ws: &Workspace, caller: &Caller, emulator: &Emulator, block: &Block) -> Value {
    let mut out = render::block(ws, &caller.ctx(emulator), block);
    if let Some(map) = out.as_object_mut() {
        map.remove("parent");
    }
    out
}

/// Media a meeting note can be made from: audio or video, but not WebM audio.
fn transcribable(content_type: Option<&str>) -> bool {
    let kind = content_type.unwrap_or("");
    (kind.starts_with("audio/") || kind.starts_with("video/")) && kind != "audio/webm"
}

pub fn create(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    only_2026(caller)?;
    let body = req.body()?;
    v::only_keys(
        body,
        "body",
        &["title", "language", "options", "source", "parent"],
    )?;
    let title = v::optional_string(body.get("title"), "body.title")?;
    if let Some(language) = body.get("language") {
        v::one_of(Some(language), "body.language", LANGUAGES)?;
    }
    if let Some(options) = body.get("options") {
        let options = v::object(Some(options), "body.options")?;
        v::only_keys(options, "body.options", &["kickoff_summary"])?;
        v::optional_bool(
            options.get("kickoff_summary"),
            "body.options.kickoff_summary",
        )?;
    }
    let source = v::object(body.get("source"), "body.source")?;
    let mut ws = emulator.workspace();
    let (parent, after, file_name) = match v::one_of(
        source.get("type"),
        "body.source.type",
        &["file_upload", "block"],
    )? {
        "file_upload" => {
            v::only_keys(source, "body.source", &["type", "file_upload_id"])?;
            let upload_id = v::id(source.get("file_upload_id"), "body.source.file_upload_id")?;
            let parent = v::object(body.get("parent"), "body.parent")?;
            let page = v::id(parent.get("page_id"), "body.parent.page_id")?;
            if !ws.pages.contains_key(&page) || !caller.can_see(&ws, page) {
                return Err(NotionError::not_found("page", page));
            }
            let upload = ws
                .file_upload(upload_id)
                .filter(|u| Some(u.integration) == caller.integration)
                .filter(|u| u.status == UploadStatus::Uploaded)
                .ok_or_else(|| {
                    NotionError::body_validation(format!(
                        "body.source.file_upload_id names file upload `{upload_id}`, which is not an `uploaded` file of this integration."
                    ))
                })?;
            if !transcribable(upload.content_type.as_deref()) {
                return Err(NotionError::body_validation(format!(
                    "body.source.file_upload_id is a `{}` file; meeting notes need audio or video (not WebM audio).",
                    upload.content_type.as_deref().unwrap_or("unknown")
                )));
            }
            (page, None, upload.filename.clone())
        }
        _ => {
            if body.contains_key("parent") {
                return Err(NotionError::body_validation(
                    "body.parent should be not present when `source.type` is `block`; the note goes beside its block.",
                ));
            }
            v::only_keys(source, "body.source", &["type", "block_id"])?;
            let id = v::id(source.get("block_id"), "body.source.block_id")?;
            let block = ws
                .blocks
                .get(&id)
                .filter(|_| caller.can_see(&ws, id) && !ws.is_trashed(id))
                .ok_or_else(|| NotionError::not_found("block", id))?;
            let hosted = block.content["type"] == "file";
            if !matches!(block.kind.as_str(), "audio" | "video" | "file") || !hosted {
                return Err(NotionError::body_validation(format!(
                    "body.source.block_id should be an audio, video or file block with a Notion-hosted file, instead was a `{}` block.",
                    block.kind
                )));
            }
            let container = block
                .parent
                .container()
                .expect("blocks have a page or block parent");
            let (name, _) = render::stored_file_name(&block.content);
            (container, Some(id), Some(name))
        }
    };
    let title_text = title
        .map(str::to_string)
        .or(file_name)
        .unwrap_or_else(|| "Meeting notes".into());
    let now = Utc::now();
    let id = Uuid::new_v4();
    let container_parent = if ws.pages.contains_key(&parent) {
        Parent::Page { id: parent }
    } else {
        Parent::Block { id: parent }
    };
    ws.blocks.insert(
        id,
        Block {
            id,
            parent: container_parent,
            stamps: Stamps::new(now, caller.actor),
            in_trash: false,
            kind: "meeting_notes".into(),
            content: json!({
                "title": [richtext::text(&title_text)],
                "status": "transcription_in_progress",
                "recording": {"start_time": render::timestamp(now)},
            }),
            children: Vec::new(),
        },
    );
    if let Some(list) = ws.children_mut(parent) {
        let at = after
            .and_then(|a| list.iter().position(|c| *c == a))
            .map_or(list.len(), |i| i + 1);
        list.insert(at, id);
    }
    super::blocks::touch_up(&mut ws, parent, caller, now);
    let events = super::blocks::content_event(&ws, caller, &[id], parent);
    emulator.webhooks.emit(&ws, events);
    Ok(render_note(&ws, caller, emulator, &ws.blocks[&id]))
}

/// What a meeting note is filtered and sorted on.
struct Facts {
    title: String,
    attendees: Vec<String>,
    created_time: DateTime<Utc>,
    created_by: String,
    last_edited_time: DateTime<Utc>,
    last_edited_by: String,
}

impl Facts {
    fn of(block: &Block) -> Self {
        let attendees = block.content["calendar_event"]["attendees"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Facts {
            title: crate::model::plain_text(&block.content["title"]),
            attendees,
            created_time: block.stamps.created_time,
            created_by: block.stamps.created_by.to_string(),
            last_edited_time: block.stamps.last_edited_time,
            last_edited_by: block.stamps.last_edited_by.to_string(),
        }
    }
}

const PROPERTIES: &[&str] = &[
    "title",
    "attendees",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
];

/// A parsed filter: compound or one property's condition.
enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Text {
        operator: String,
        value: String,
    },
    Date {
        property: &'static str,
        operator: String,
        value: DateTime<Utc>,
    },
    People {
        property: &'static str,
        operator: String,
        ids: Vec<String>,
    },
    Empty {
        property: &'static str,
        empty: bool,
    },
}

fn parse_filter(value: &Value, path: &str, depth: usize) -> ApiResult<Filter> {
    let map = v::object(Some(value), path)?;
    if map.contains_key("filters")
        || (map.contains_key("operator") && !map.contains_key("property"))
    {
        if depth >= 2 {
            return Err(NotionError::body_validation(format!(
                "{path} nests compound filters deeper than two levels."
            )));
        }
        v::only_keys(map, path, &["operator", "filters"])?;
        let operator = v::one_of(
            map.get("operator"),
            &v::join(path, "operator"),
            &["and", "or"],
        )?;
        let filters_path = v::join(path, "filters");
        let items = match map.get("filters") {
            None => Vec::new(),
            some => v::array(some, &filters_path, 100)?.clone(),
        };
        let parsed = items
            .iter()
            .enumerate()
            .map(|(i, f)| parse_filter(f, &v::index(&filters_path, i), depth + 1))
            .collect::<ApiResult<Vec<_>>>()?;
        return Ok(if operator == "and" {
            Filter::All(parsed)
        } else {
            Filter::Any(parsed)
        });
    }
    v::only_keys(map, path, &["property", "filter"])?;
    let property_path = v::join(path, "property");
    let property = PROPERTIES
        .iter()
        .copied()
        .find(|p| map.get("property").and_then(Value::as_str) == Some(*p))
        .ok_or_else(|| {
            NotionError::body_validation(format!(
                "{property_path} should be one of `{}`, instead was `{}`.",
                PROPERTIES.join("`, `"),
                v::describe(map.get("property"))
            ))
        })?;
    let filter_path = v::join(path, "filter");
    let condition = v::object(map.get("filter"), &filter_path)?;
    v::only_keys(condition, &filter_path, &["operator", "value"])?;
    let operator_path = v::join(&filter_path, "operator");
    let operator = v::string(condition.get("operator"), &operator_path)?;
    if operator == "is_empty" || operator == "is_not_empty" {
        return Ok(Filter::Empty {
            property,
            empty: operator == "is_empty",
        });
    }
    let value_path = v::join(&filter_path, "value");
    let unknown = |known: &[&str]| {
        NotionError::body_validation(format!(
            "{operator_path} should be one of `{}` for `{property}`, instead was `\"{operator}\"`.",
            known.join("`, `")
        ))
    };
    match property {
        "title" => {
            const TEXT: &[&str] = &[
                "string_is",
                "string_is_not",
                "string_contains",
                "string_does_not_contain",
                "string_starts_with",
                "string_ends_with",
                "is_empty",
                "is_not_empty",
            ];
            if !TEXT.contains(&operator) {
                return Err(unknown(TEXT));
            }
            let exact = v::object(condition.get("value"), &value_path)?;
            let text = v::string(exact.get("value"), &v::join(&value_path, "value"))?;
            Ok(Filter::Text {
                operator: operator.to_string(),
                value: text.to_lowercase(),
            })
        }
        "created_time" | "last_edited_time" => {
            const DATES: &[&str] = &[
                "date_is",
                "date_is_before",
                "date_is_after",
                "date_is_on_or_before",
                "date_is_on_or_after",
                "is_empty",
                "is_not_empty",
            ];
            if !DATES.contains(&operator) {
                return Err(unknown(DATES));
            }
            let exact = v::object(condition.get("value"), &value_path)?;
            let kind_path = v::join(&value_path, "type");
            if v::one_of(exact.get("type"), &kind_path, &["exact", "relative"])? == "relative" {
                return Err(NotionError::body_validation(format!(
                    "{kind_path} `relative` is not supported by the emulator; send an `exact` date."
                )));
            }
            let date_path = v::join(&value_path, "value");
            let date = v::object(exact.get("value"), &date_path)?;
            let start_path = v::join(&date_path, "start_date");
            let start = v::string(date.get("start_date"), &start_path)?;
            let day = NaiveDate::parse_from_str(start, "%Y-%m-%d").map_err(|_| {
                NotionError::body_validation(format!(
                    "{start_path} should be a date like `2026-03-11`, instead was `\"{start}\"`."
                ))
            })?;
            let time = match date.get("start_time").and_then(Value::as_str) {
                Some(t) => chrono::NaiveTime::parse_from_str(t, "%H:%M")
                    .or_else(|_| chrono::NaiveTime::parse_from_str(t, "%H:%M:%S"))
                    .map_err(|_| {
                        NotionError::body_validation(format!(
                            "{date_path}.start_time should be a time like `09:30`, instead was `\"{t}\"`."
                        ))
                    })?,
                None => chrono::NaiveTime::MIN,
            };
            Ok(Filter::Date {
                property,
                operator: operator.to_string(),
                value: day.and_time(time).and_utc(),
            })
        }
        _ => {
            const PEOPLE: &[&str] = &[
                "person_contains",
                "person_does_not_contain",
                "is_empty",
                "is_not_empty",
            ];
            if !PEOPLE.contains(&operator) {
                return Err(unknown(PEOPLE));
            }
            let people = v::array(condition.get("value"), &value_path, 100)?;
            let ids = people
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let item = v::index(&value_path, i);
                    let exact = v::object(Some(p), &item)?;
                    let user = v::object(exact.get("value"), &v::join(&item, "value"))?;
                    v::id(user.get("id"), &format!("{item}.value.id")).map(|id| id.to_string())
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(Filter::People {
                property,
                operator: operator.to_string(),
                ids,
            })
        }
    }
}

fn matches(filter: &Filter, facts: &Facts) -> bool {
    match filter {
        Filter::All(all) => all.iter().all(|f| matches(f, facts)),
        Filter::Any(any) => any.is_empty() || any.iter().any(|f| matches(f, facts)),
        Filter::Text { operator, value } => {
            let title = facts.title.to_lowercase();
            match operator.as_str() {
                "string_is" => title == *value,
                "string_is_not" => title != *value,
                "string_contains" => title.contains(value.as_str()),
                "string_does_not_contain" => !title.contains(value.as_str()),
                "string_starts_with" => title.starts_with(value.as_str()),
                _ => title.ends_with(value.as_str()),
            }
        }
        Filter::Date {
            property,
            operator,
            value,
        } => {
            let at = if *property == "created_time" {
                facts.created_time
            } else {
                facts.last_edited_time
            };
            match operator.as_str() {
                "date_is" => at.date_naive() == value.date_naive(),
                "date_is_before" => at < *value,
                "date_is_after" => at > *value,
                "date_is_on_or_before" => at <= *value,
                _ => at >= *value,
            }
        }
        Filter::People {
            property,
            operator,
            ids,
        } => {
            let people = people_of(property, facts);
            let has = ids.iter().any(|id| people.contains(id));
            if operator == "person_contains" {
                has
            } else {
                !has
            }
        }
        Filter::Empty { property, empty } => {
            let is_empty = match *property {
                "title" => facts.title.is_empty(),
                "attendees" => facts.attendees.is_empty(),
                // Timestamps and authors are always set.
                _ => false,
            };
            is_empty == *empty
        }
    }
}

fn people_of(property: &str, facts: &Facts) -> Vec<String> {
    match property {
        "attendees" => facts.attendees.clone(),
        "created_by" => vec![facts.created_by.clone()],
        _ => vec![facts.last_edited_by.clone()],
    }
}

pub fn query(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    only_2026(caller)?;
    let body = req.body()?;
    v::only_keys(body, "body", &["filter", "sort", "limit"])?;
    let filter = body
        .get("filter")
        .map(|f| parse_filter(f, "body.filter", 0))
        .transpose()?;
    let mut sorts = Vec::new();
    if let Some(sort) = body.get("sort") {
        for (i, item) in v::array(Some(sort), "body.sort", 10)?.iter().enumerate() {
            let path = v::index("body.sort", i);
            let map = v::object(Some(item), &path)?;
            v::only_keys(map, &path, &["property", "direction"])?;
            let property = v::one_of(map.get("property"), &v::join(&path, "property"), PROPERTIES)?;
            let direction = v::one_of(
                map.get("direction"),
                &v::join(&path, "direction"),
                &["ascending", "descending"],
            )?;
            sorts.push((property, direction == "descending"));
        }
    }
    if sorts.is_empty() {
        sorts.push(("created_time", true));
    }
    let limit = match body.get("limit") {
        None => QUERY_LIMIT,
        Some(l) => {
            let n = v::number(Some(l), "body.limit")?;
            if n.fract() != 0.0 || !(1.0..=QUERY_LIMIT as f64).contains(&n) {
                return Err(NotionError::body_validation(format!(
                    "body.limit should be an integer between 1 and {QUERY_LIMIT}, instead was `{n}`."
                )));
            }
            n as usize
        }
    };
    let ws = emulator.workspace();
    // An OAuth install sees the notes its user attended; an internal integration has no user,
    // so it sees every note shared with it.
    let user = caller
        .token
        .as_ref()
        .and_then(|t| ws.grants.get(t))
        .and_then(|g| g.owner)
        .map(|o| o.to_string());
    let mut found: Vec<(&Block, Facts)> = ws
        .blocks
        .values()
        .filter(|b| b.kind == "meeting_notes" && !ws.is_trashed(b.id) && caller.can_see(&ws, b.id))
        .map(|b| (b, Facts::of(b)))
        .filter(|(_, facts)| user.as_ref().is_none_or(|u| facts.attendees.contains(u)))
        .filter(|(_, facts)| filter.as_ref().is_none_or(|f| matches(f, facts)))
        .collect();
    found.sort_by(|(a_block, a), (b_block, b)| {
        sorts
            .iter()
            .map(|(property, descending)| {
                let order = match *property {
                    "title" => a.title.cmp(&b.title),
                    "attendees" => a.attendees.len().cmp(&b.attendees.len()),
                    "created_by" => a.created_by.cmp(&b.created_by),
                    "last_edited_time" => a.last_edited_time.cmp(&b.last_edited_time),
                    "last_edited_by" => a.last_edited_by.cmp(&b.last_edited_by),
                    _ => a.created_time.cmp(&b.created_time),
                };
                if *descending { order.reverse() } else { order }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a_block.id.cmp(&b_block.id))
    });
    let has_more = found.len() > limit;
    let results: Vec<Value> = found
        .into_iter()
        .take(limit)
        .map(|(b, _)| render_note(&ws, caller, emulator, b))
        .collect();
    Ok(json!({"results": results, "has_more": has_more}))
}

/// Admin: moves a meeting note to another processing status, as Notion's processing does;
/// `notes_ready` may come with a `title`, which Notion may give the note when it is done.
pub fn set_status(emulator: &Emulator, id: Id, body: &Map<String, Value>) -> ApiResult<Value> {
    v::only_keys(body, "body", &["status", "title"])?;
    let status = v::one_of(body.get("status"), "body.status", STATUSES)?;
    let title = v::optional_string(body.get("title"), "body.title")?;
    let mut ws = emulator.workspace();
    let block = ws
        .blocks
        .get_mut(&id)
        .filter(|b| b.kind == "meeting_notes")
        .ok_or_else(|| NotionError::not_found("meeting notes block", id))?;
    block.content["status"] = json!(status);
    if let Some(title) = title {
        block.content["title"] = json!([richtext::text(title)]);
    }
    let now = Utc::now();
    block.stamps.last_edited_time = now;
    if status == "notes_ready" {
        block.content["recording"]["end_time"] = json!(render::timestamp(now));
    }
    let author = block.stamps.created_by;
    let page = ws.owning_page(id);
    if let Some(page) = page {
        let parent = crate::webhooks::event_parent(&ws, ws.pages[&page].parent);
        let event = Event::new(
            "page.content_updated",
            "page",
            page,
            author,
            json!({"parent": parent, "updated_blocks": [{"id": id, "type": "block"}]}),
        );
        emulator.webhooks.emit(&ws, vec![event]);
    }
    Ok(json!({"id": id, "status": status}))
}
