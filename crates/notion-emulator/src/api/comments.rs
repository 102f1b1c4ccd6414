//! Comments: list the unresolved comments on a page or block, create one (from rich text or
//! markdown), and retrieve, update or delete one by id. As Notion does, an integration may
//! change or delete only the comments it wrote; any other answers `object_not_found`.
//! Deleting a discussion's first comment deletes the discussion.

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req};
use crate::model::{Comment, Parent, Workspace};
use crate::uploads;
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render, richtext};

fn check_visible(ws: &Workspace, caller: &Caller, id: uuid::Uuid) -> ApiResult<()> {
    match ws.kind_of(id) {
        Some(crate::model::ObjectKind::Page | crate::model::ObjectKind::Block)
            if caller.can_see(ws, id) =>
        {
            Ok(())
        }
        _ => Err(NotionError::not_found("block", id)),
    }
}

pub fn list(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let query = req.query_map();
    let raw = query.get("block_id").ok_or_else(|| {
        NotionError::validation(
            "query failed validation: query.block_id should be defined, instead was `undefined`.",
        )
    })?;
    let id = crate::ids::parse(raw).ok_or_else(|| {
        NotionError::validation(format!("query failed validation: query.block_id should be a valid uuid, instead was `\"{raw}\"`."))
    })?;
    let scope = format!("comments:{id}");
    let page = pagination::from_query(&scope, &query)?;
    let ws = emulator.workspace();
    check_visible(&ws, caller, id)?;
    let comments: Vec<&Comment> = ws
        .comments
        .iter()
        .filter(|c| c.parent.container() == Some(id) && !c.resolved)
        .collect();
    let slice = pagination::slice(&scope, &comments, page);
    let results = slice
        .items
        .iter()
        .map(|c| render::comment(&caller.ctx(emulator), c))
        .collect();
    Ok(pagination::envelope("comment", results, slice.next_cursor))
}

pub(crate) fn create_comment(
    ws: &mut Workspace,
    caller: &Caller,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<(usize, Vec<Event>)> {
    v::only_keys(
        body,
        "body",
        &[
            "parent",
            "discussion_id",
            "rich_text",
            "markdown",
            "attachments",
            "display_name",
        ],
    )?;
    let (parent, discussion) = if let Some(d) = body.get("discussion_id") {
        let discussion = v::id(Some(d), "body.discussion_id")?;
        let first = ws
            .comments
            .iter()
            .find(|c| c.discussion_id == discussion)
            .ok_or_else(|| NotionError::not_found("discussion", discussion))?;
        (first.parent, discussion)
    } else {
        let p = v::object(body.get("parent"), "body.parent")?;
        let parent = if let Some(id) = p.get("page_id") {
            Parent::Page {
                id: v::id(Some(id), "body.parent.page_id")?,
            }
        } else {
            Parent::Block {
                id: v::id(p.get("block_id"), "body.parent.block_id")?,
            }
        };
        (parent, Uuid::new_v4())
    };
    let target = parent
        .container()
        .expect("comments always have a page or block parent");
    check_visible(ws, caller, target)?;
    let rich_text = comment_text(ws, body)?;
    let mut attachments = Vec::new();
    if let Some(items) = body.get("attachments") {
        let items = v::array(Some(items), "body.attachments", 3)?;
        for (i, item) in items.iter().enumerate() {
            let path = v::index("body.attachments", i);
            let map = v::object(Some(item), &path)?;
            v::only_keys(map, &path, &["file_upload_id", "type"])?;
            let id_path = v::join(&path, "file_upload_id");
            let id = v::id(map.get("file_upload_id"), &id_path)?;
            let (mut stored, _) = uploads::stored_reference(ws, id, &id_path)?;
            let content_type = ws.file_upload(id).and_then(|u| u.content_type.as_deref());
            stored["category"] = json!(uploads::attachment_category(content_type));
            attachments.push(stored);
        }
    }
    let display_name = match body.get("display_name") {
        None => {
            let name = ws.user(caller.actor).and_then(|u| u.name.clone());
            json!({"type": if caller.token.is_some() { "integration" } else { "user" }, "resolved_name": name})
        }
        Some(d) => {
            let dm = v::object(Some(d), "body.display_name")?;
            let kind = v::one_of(
                dm.get("type"),
                "body.display_name.type",
                &["integration", "user", "custom"],
            )?;
            let name = if kind == "custom" {
                Some(
                    v::string(
                        v::object(dm.get("custom"), "body.display_name.custom")?.get("name"),
                        "body.display_name.custom.name",
                    )?
                    .to_string(),
                )
            } else {
                ws.user(caller.actor).and_then(|u| u.name.clone())
            };
            json!({"type": kind, "resolved_name": name})
        }
    };
    let now = Utc::now();
    ws.comments.push(Comment {
        id: Uuid::new_v4(),
        parent,
        discussion_id: discussion,
        created_time: now,
        last_edited_time: now,
        created_by: caller.actor,
        rich_text,
        display_name,
        resolved: false,
        attachments,
    });
    let index = ws.comments.len() - 1;
    let event = comment_event(ws, "comment.created", &ws.comments[index], caller.actor);
    Ok((index, vec![event]))
}

pub fn create(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let (index, events) = create_comment(&mut ws, caller, body)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::comment(&caller.ctx(emulator), &ws.comments[index]))
}

/// A comment's text: `rich_text` or `markdown`, exactly one of them.
fn comment_text(ws: &Workspace, body: &serde_json::Map<String, Value>) -> ApiResult<Vec<Value>> {
    match (body.get("rich_text"), body.get("markdown")) {
        (Some(rich_text), None) => richtext::parse_array(ws, Some(rich_text), "body.rich_text"),
        (None, Some(markdown)) => {
            let text = v::string(Some(markdown), "body.markdown")?;
            crate::markdown_parse::inline(ws, text, "body.markdown")
        }
        (Some(_), Some(_)) => Err(NotionError::body_validation(
            "body.rich_text and body.markdown are both given; send one of them.",
        )),
        (None, None) => Err(NotionError::body_validation(
            "body.rich_text should be defined, instead was `undefined`.",
        )),
    }
}

/// The comment `id` if the caller can see where it is.
fn visible_comment(ws: &Workspace, caller: &Caller, id: Uuid) -> ApiResult<usize> {
    let index = ws
        .comments
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| NotionError::not_found("comment", id))?;
    let target = ws.comments[index].parent.container().unwrap_or(id);
    check_visible(ws, caller, target).map_err(|_| NotionError::not_found("comment", id))?;
    Ok(index)
}

/// The comment `id` if the caller wrote it: others' comments are not found, as on Notion.
fn own_comment(ws: &Workspace, caller: &Caller, id: Uuid) -> ApiResult<usize> {
    let index = visible_comment(ws, caller, id)?;
    if ws.comments[index].created_by != caller.actor {
        return Err(NotionError::not_found("comment", id));
    }
    Ok(index)
}

fn comment_event(ws: &Workspace, kind: &'static str, comment: &Comment, actor: Uuid) -> Event {
    let target = comment.parent.container().unwrap_or(comment.id);
    let page = ws.owning_page(target).unwrap_or(target);
    let parent_type = if matches!(comment.parent, Parent::Page { .. }) {
        "page"
    } else {
        "block"
    };
    let mut event = Event::new(
        kind,
        "comment",
        comment.id,
        actor,
        json!({"parent": {"id": target, "type": parent_type}, "page_id": page}),
    );
    event.visible_through = page;
    event
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("comment_id")?;
    let ws = emulator.workspace();
    let index = visible_comment(&ws, caller, id)?;
    Ok(render::comment(&caller.ctx(emulator), &ws.comments[index]))
}

pub fn update(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("comment_id")?;
    let body = req.body()?;
    v::only_keys(body, "body", &["rich_text", "markdown"])?;
    let mut ws = emulator.workspace();
    let index = own_comment(&ws, caller, id)?;
    let rich_text = comment_text(&ws, body)?;
    let comment = &mut ws.comments[index];
    comment.rich_text = rich_text;
    comment.last_edited_time = Utc::now();
    let event = comment_event(&ws, "comment.updated", &ws.comments[index], caller.actor);
    emulator.webhooks.emit(&ws, vec![event]);
    Ok(render::comment(&caller.ctx(emulator), &ws.comments[index]))
}

pub fn delete(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("comment_id")?;
    let mut ws = emulator.workspace();
    let index = own_comment(&ws, caller, id)?;
    let deleted = ws.comments[index].clone();
    let opens_discussion = ws
        .comments
        .iter()
        .find(|c| c.discussion_id == deleted.discussion_id)
        .is_some_and(|first| first.id == deleted.id);
    let gone: Vec<Comment> = if opens_discussion {
        ws.comments
            .iter()
            .filter(|c| c.discussion_id == deleted.discussion_id)
            .cloned()
            .collect()
    } else {
        vec![deleted.clone()]
    };
    ws.comments.retain(|c| !gone.iter().any(|g| g.id == c.id));
    let events = gone
        .iter()
        .map(|c| comment_event(&ws, "comment.deleted", c, caller.actor))
        .collect();
    emulator.webhooks.emit(&ws, events);
    Ok(render::comment(&caller.ctx(emulator), &deleted))
}
