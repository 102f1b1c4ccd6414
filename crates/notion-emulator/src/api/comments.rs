//! Comments: list the unresolved comments on a page or block, and create one.

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req};
use crate::model::{Comment, Parent, Workspace};
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
    let results = slice.items.iter().map(|c| render::comment(c)).collect();
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
    if body.contains_key("markdown") {
        return Err(NotionError::body_validation(
            "body.markdown is not supported by this emulator; send `rich_text`.",
        ));
    }
    let rich_text = richtext::parse_array(
        ws,
        Some(v::required(body, "rich_text", "body")?),
        "body.rich_text",
    )?;
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
    });
    let index = ws.comments.len() - 1;
    let page = ws.owning_page(target).unwrap_or(target);
    let comment_id = ws.comments[index].id;
    let mut event = Event::new(
        "comment.created",
        "comment",
        comment_id,
        caller.actor,
        json!({"parent": {"id": target, "type": if matches!(parent, Parent::Page { .. }) { "page" } else { "block" }}, "page_id": page}),
    );
    event.visible_through = page;
    Ok((index, vec![event]))
}

pub fn create(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let (index, events) = create_comment(&mut ws, caller, body)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::comment(&ws.comments[index]))
}
