//! Writing a page as markdown (2026-03-11): `PATCH /v1/pages/{id}/markdown` with its four
//! commands, and the content of `markdown` in `POST /v1/pages`; and the async tasks that
//! either answers with when the caller sends `allow_async`.
//!
//! Every command is worked out on the page's markdown as `GET` renders it, then the result
//! replaces the page's content. Top-level blocks that come out unchanged keep their ids (as
//! in Notion, an edit touches only what it changes), and child pages and databases survive
//! only when the new text still names them, unless `allow_deleting_content` lets them go.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::blocks::{content_event, delete_block, insert_blocks, touch_up};
use crate::blocks::NewBlock;
use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req};
use crate::markdown_parse::{self, Item};
use crate::model::{AsyncTask, Id, Workspace};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, render};

/// How long an async task can be polled.
const TASK_RETENTION: chrono::Duration = chrono::Duration::hours(1);

/// A page's (or block's) markdown as `GET /v1/pages/{id}/markdown` answers it.
pub fn page_markdown(
    emulator: &Emulator,
    ws: &Workspace,
    caller: &Caller,
    id: Id,
    include_transcript: bool,
) -> Value {
    let options = crate::markdown::Options {
        record_limit: emulator.settings().markdown_record_limit,
        include_transcript,
    };
    let rendered = crate::markdown::render(ws, &caller.ctx(emulator), id, options);
    json!({
        "object": "page_markdown",
        "id": id,
        "markdown": rendered.markdown,
        "truncated": rendered.truncated,
        "unknown_block_ids": rendered.unknown_block_ids,
    })
}

/// The whole markdown of a page, past any record limit, for editing.
fn full_markdown(emulator: &Emulator, ws: &Workspace, caller: &Caller, id: Id) -> String {
    let options = crate::markdown::Options {
        record_limit: usize::MAX,
        include_transcript: false,
    };
    crate::markdown::render(ws, &caller.ctx(emulator), id, options).markdown
}

fn editable_page(ws: &Workspace, caller: &Caller, id: Id) -> ApiResult<()> {
    if !ws.pages.contains_key(&id) || !caller.can_see(ws, id) {
        return Err(NotionError::not_found("page", id));
    }
    if ws.is_trashed(id) {
        return Err(NotionError::validation(
            "Can't edit a page that is in the trash. Restore it before editing.",
        ));
    }
    Ok(())
}

/// `allow_async`, read and checked.
pub fn allow_async(body: &Map<String, Value>) -> ApiResult<bool> {
    Ok(v::optional_bool(body.get("allow_async"), "body.allow_async")?.unwrap_or(false))
}

pub fn update(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<(StatusCode, Value)> {
    if !caller.version.uses_2026_names() {
        return Err(NotionError::invalid_request_url());
    }
    let id = req.param("page_id")?;
    let body = req.body()?;
    let command = v::one_of(
        body.get("type"),
        "body.type",
        &[
            "insert_content",
            "replace_content_range",
            "update_content",
            "replace_content",
        ],
    )?;
    v::only_keys(body, "body", &["type", command, "allow_async"])?;
    let asynchronous = allow_async(body)?;
    let path = format!("body.{command}");
    let args = v::object(body.get(command), &path)?;
    let mut ws = emulator.workspace();
    editable_page(&ws, caller, id)?;
    let current = full_markdown(emulator, &ws, caller, id);
    let (markdown, allow_deleting) = edited_markdown(&current, command, args, &path)?;
    let content_path = match command {
        "replace_content" => format!("{path}.new_str"),
        "update_content" => format!("{path}.content_updates"),
        _ => format!("{path}.content"),
    };
    let items = markdown_parse::parse(&ws, &markdown, &content_path)?;
    let events = replace_content(&mut ws, caller, id, items, allow_deleting, &content_path)?;
    emulator.webhooks.emit(&ws, events);
    let result = page_markdown(emulator, &ws, caller, id, false);
    Ok(answer(
        emulator,
        &mut ws,
        caller,
        "update_page_markdown",
        asynchronous,
        result,
    ))
}

/// The page's markdown after one command, and whether it may delete child pages.
fn edited_markdown(
    current: &str,
    command: &str,
    args: &Map<String, Value>,
    path: &str,
) -> ApiResult<(String, bool)> {
    Ok(match command {
        "insert_content" => {
            v::only_keys(args, path, &["content", "after", "position"])?;
            let content = v::string(args.get("content"), &v::join(path, "content"))?;
            let at = match (args.get("after"), args.get("position")) {
                (Some(_), Some(_)) => {
                    return Err(NotionError::body_validation(format!(
                        "{path}.after and {path}.position are both given; send one of them."
                    )));
                }
                (Some(after), None) => {
                    let after_path = v::join(path, "after");
                    let selection = v::string(Some(after), &after_path)?;
                    let (_, end) = select(current, selection, &after_path)?;
                    current[end..].find('\n').map_or(current.len(), |i| end + i)
                }
                (None, Some(position)) => {
                    let position_path = v::join(path, "position");
                    let map = v::object(Some(position), &position_path)?;
                    match v::one_of(
                        map.get("type"),
                        &v::join(&position_path, "type"),
                        &["start", "end"],
                    )? {
                        "start" => 0,
                        _ => current.len(),
                    }
                }
                (None, None) => current.len(),
            };
            let text = if at == 0 {
                format!("{content}\n{current}")
            } else {
                format!("{}\n{content}{}", &current[..at], &current[at..])
            };
            (text, false)
        }
        "replace_content_range" => {
            v::only_keys(
                args,
                path,
                &["content", "content_range", "allow_deleting_content"],
            )?;
            let content = v::string(args.get("content"), &v::join(path, "content"))?;
            let range_path = v::join(path, "content_range");
            let selection = v::string(args.get("content_range"), &range_path)?;
            let (start, end) = select(current, selection, &range_path)?;
            let text = format!("{}{content}{}", &current[..start], &current[end..]);
            (text, deleting(args, path)?)
        }
        "update_content" => {
            v::only_keys(args, path, &["content_updates", "allow_deleting_content"])?;
            let updates_path = v::join(path, "content_updates");
            let updates = v::array(args.get("content_updates"), &updates_path, 100)?;
            let mut text = current.to_string();
            for (i, update) in updates.iter().enumerate() {
                let item_path = v::index(&updates_path, i);
                let map = v::object(Some(update), &item_path)?;
                v::only_keys(
                    map,
                    &item_path,
                    &["old_str", "new_str", "replace_all_matches"],
                )?;
                let old = v::string(map.get("old_str"), &v::join(&item_path, "old_str"))?;
                let new = v::string(map.get("new_str"), &v::join(&item_path, "new_str"))?;
                let all = v::optional_bool(
                    map.get("replace_all_matches"),
                    &v::join(&item_path, "replace_all_matches"),
                )?
                .unwrap_or(false);
                let matches = if old.is_empty() {
                    0
                } else {
                    text.matches(old).count()
                };
                if matches == 0 {
                    return Err(NotionError::body_validation(format!(
                        "{item_path}.old_str was not found in the page's markdown."
                    )));
                }
                if matches > 1 && !all {
                    return Err(NotionError::body_validation(format!(
                        "{item_path}.old_str matches {matches} places in the page's markdown; make it unique or set `replace_all_matches`."
                    )));
                }
                text = if all {
                    text.replace(old, new)
                } else {
                    text.replacen(old, new, 1)
                };
            }
            (text, deleting(args, path)?)
        }
        _ => {
            v::only_keys(args, path, &["new_str", "allow_deleting_content"])?;
            let text = v::string(args.get("new_str"), &v::join(path, "new_str"))?.to_string();
            (text, deleting(args, path)?)
        }
    })
}

fn deleting(args: &Map<String, Value>, path: &str) -> ApiResult<bool> {
    Ok(v::optional_bool(
        args.get("allow_deleting_content"),
        &v::join(path, "allow_deleting_content"),
    )?
    .unwrap_or(false))
}

/// An ellipsis selection (`"start text...end text"`, or one exact text) in `text`: the byte
/// range from its start's first match to the end of its end's first match after that.
fn select(text: &str, selection: &str, path: &str) -> ApiResult<(usize, usize)> {
    let not_found = || {
        NotionError::body_validation(format!(
            "{path} `{selection}` was not found in the page's markdown."
        ))
    };
    if selection.is_empty() {
        return Err(not_found());
    }
    match selection.split_once("...") {
        Some((start, end)) if !start.is_empty() && !end.is_empty() => {
            let from = text.find(start).ok_or_else(not_found)?;
            let after = from + start.len();
            let to = text[after..].find(end).ok_or_else(not_found)? + after + end.len();
            Ok((from, to))
        }
        _ => {
            let from = text.find(selection).ok_or_else(not_found)?;
            Ok((from, from + selection.len()))
        }
    }
}

/// Whether an existing block is the same tree as a parsed one (so it can keep its id).
fn same_tree(ws: &Workspace, id: Id, new: &NewBlock) -> bool {
    let Some(block) = ws.blocks.get(&id) else {
        return false;
    };
    let children: Vec<Id> = block
        .children
        .iter()
        .copied()
        .filter(|c| !ws.is_trashed(*c))
        .collect();
    block.kind == new.kind
        && block.content == new.content
        && children.len() == new.children.len()
        && children
            .iter()
            .zip(&new.children)
            .all(|(c, n)| same_tree(ws, *c, n))
}

/// What a parsed item becomes: an existing child, or a block to create.
enum Placed {
    Existing(Id),
    Create(NewBlock),
}

/// The block a link or synced copy points at.
fn target_of(ws: &Workspace, id: Id) -> Option<Id> {
    let block = ws.blocks.get(&id)?;
    let content = &block.content;
    let raw = match block.kind.as_str() {
        "link_to_page" => content["page_id"]
            .as_str()
            .or(content["database_id"].as_str()),
        "synced_block" => content["synced_from"]["block_id"].as_str(),
        _ => None,
    };
    raw.and_then(crate::ids::parse)
}

/// Makes `items` the page's content: named children and unchanged blocks stay, the rest is
/// new; what is no longer named goes to the trash (child pages and databases only if
/// `allow_deleting`).
fn replace_content(
    ws: &mut Workspace,
    caller: &Caller,
    page: Id,
    items: Vec<Item>,
    allow_deleting: bool,
    path: &str,
) -> ApiResult<Vec<Event>> {
    let existing: Vec<Id> = ws.pages[&page]
        .children
        .iter()
        .copied()
        .filter(|c| !ws.is_trashed(*c))
        .collect();
    let is_container =
        |ws: &Workspace, id: Id| ws.pages.contains_key(&id) || ws.databases.contains_key(&id);
    // Named children first, so that a new block never takes the place of one.
    let mut used: Vec<Id> = Vec::new();
    let mut placed: Vec<Option<Placed>> = Vec::new();
    for item in &items {
        let Item::Named { tag, id } = item else {
            placed.push(None);
            continue;
        };
        let free = |c: &Id| !used.contains(c);
        let found = match *tag {
            "page" | "database" => existing
                .iter()
                .copied()
                .filter(free)
                .find(|c| c == id)
                .or_else(|| {
                    existing
                        .iter()
                        .copied()
                        .filter(free)
                        .find(|c| target_of(ws, *c) == Some(*id))
                }),
            "synced_block_reference" => existing
                .iter()
                .copied()
                .filter(free)
                .find(|c| target_of(ws, *c) == Some(*id)),
            _ => existing.iter().copied().filter(free).find(|c| c == id),
        };
        placed.push(Some(match found {
            Some(child) => {
                used.push(child);
                Placed::Existing(child)
            }
            None => {
                if ws.kind_of(*id).is_none() || !caller.can_see(ws, *id) {
                    return Err(NotionError::not_found("block", *id));
                }
                let link = Item::link_block(ws, tag, *id, path)?
                    .ok_or_else(|| markdown_parse::not_a_child(path, *id))?;
                Placed::Create(link)
            }
        }));
    }
    for (slot, item) in placed.iter_mut().zip(items) {
        let Item::New(new) = item else { continue };
        let reusable = existing
            .iter()
            .copied()
            .find(|id| !used.contains(id) && !is_container(ws, *id) && same_tree(ws, *id, &new));
        *slot = Some(match reusable {
            Some(id) => {
                used.push(id);
                Placed::Existing(id)
            }
            None => Placed::Create(new),
        });
    }
    let dropped_containers: Vec<String> = existing
        .iter()
        .filter(|id| is_container(ws, **id) && !used.contains(id))
        .map(Id::to_string)
        .collect();
    if !dropped_containers.is_empty() && !allow_deleting {
        return Err(NotionError::body_validation(format!(
            "{path} would delete child pages or databases ({}); name them with their tags, or set `allow_deleting_content`.",
            dropped_containers.join(", ")
        )));
    }
    let now = Utc::now();
    let mut order = Vec::new();
    let mut created = Vec::new();
    for slot in placed.into_iter().flatten() {
        match slot {
            Placed::Existing(id) => order.push(id),
            Placed::Create(new) => {
                let ids = insert_blocks(ws, caller, page, vec![new], None, now);
                created.extend(&ids);
                order.extend(ids);
            }
        }
    }
    let mut events = Vec::new();
    let mut removed = Vec::new();
    for id in existing.iter().copied().filter(|id| !used.contains(id)) {
        events.extend(delete_block(ws, caller, id)?);
        removed.push(id);
    }
    // The new order first; trashed children stay behind it, out of sight.
    let page_children = &mut ws.pages.get_mut(&page).expect("checked above").children;
    let trashed: Vec<Id> = page_children
        .iter()
        .copied()
        .filter(|c| !order.contains(c))
        .collect();
    *page_children = order.into_iter().chain(trashed).collect();
    if !created.is_empty() || !removed.is_empty() {
        touch_up(ws, page, caller, now);
        let changed: Vec<Id> = created.into_iter().chain(removed).collect();
        events.extend(content_event(ws, caller, &changed, page));
    }
    Ok(events)
}

/// The content of a page created with `markdown`: its blocks, and the first `# ` heading as
/// its title when the body gave none.
pub fn creation_content(
    ws: &Workspace,
    markdown: &str,
    has_title: bool,
) -> ApiResult<(Vec<NewBlock>, Option<Value>)> {
    let mut blocks = markdown_parse::parse_new(ws, markdown, "body.markdown")?;
    let title = if !has_title && blocks.first().is_some_and(|b| b.kind == "heading_1") {
        Some(blocks.remove(0).content["rich_text"].clone())
    } else {
        None
    };
    Ok((blocks, title))
}

/// The answer of an operation that may run as an async task: the result itself, or with
/// `allow_async` a `202` and a task that holds it. The emulator does the work before it
/// answers, so the task has succeeded by the first poll.
pub fn answer(
    emulator: &Emulator,
    ws: &mut Workspace,
    caller: &Caller,
    operation: &'static str,
    asynchronous: bool,
    result: Value,
) -> (StatusCode, Value) {
    if !asynchronous {
        return (StatusCode::OK, result);
    }
    let now = Utc::now();
    // A task is kept for an hour of polling, so they cannot pile up.
    ws.async_tasks
        .retain(|_, task| now - task.created_time < TASK_RETENTION);
    let task = AsyncTask {
        id: format!("task_{}", uuid::Uuid::new_v4().simple()),
        integration: caller.integration,
        operation,
        created_time: now,
        result,
    };
    let mut accepted = render_task(emulator, &task, "queued");
    accepted["poll_after_seconds"] = json!(1);
    ws.async_tasks.insert(task.id.clone(), task);
    (StatusCode::ACCEPTED, accepted)
}

/// A task as the SDK's `GetAsyncTaskResponse` has it; a succeeded one carries its `result`.
fn render_task(emulator: &Emulator, task: &AsyncTask, status: &str) -> Value {
    let mut out = json!({
        "object": "async_task",
        "id": task.id,
        "status": status,
        "status_url": format!("{}/v1/async_tasks/{}", emulator.base_url, task.id),
        "created_time": render::timestamp(task.created_time),
        "operation": {"surface": "rest", "name": task.operation},
    });
    if status == "succeeded" {
        out["result"] = task.result.clone();
    }
    out
}

/// `GET /v1/async_tasks/{task_id}`: a task the caller started.
pub fn retrieve_task(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    if !caller.version.uses_2026_names() {
        return Err(NotionError::invalid_request_url());
    }
    let id = req.raw_param("task_id");
    let ws = emulator.workspace();
    ws.async_tasks
        .get(id)
        .filter(|t| t.integration == caller.integration)
        .map(|t| render_task(emulator, t, "succeeded"))
        .ok_or_else(|| NotionError::not_found("async task", id))
}
