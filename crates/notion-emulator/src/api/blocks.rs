//! Blocks: retrieve, list children, append (limits, nesting, positions), update, delete.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::blocks::{self as parse, NewBlock};
use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req, trash_flag};
use crate::model::{Block, Id, ObjectKind, Parent, Stamps, Workspace};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

/// Where appended children go.
#[derive(Debug, Clone, Copy)]
pub enum Position {
    Start,
    End,
    After(Id),
}

impl Position {
    pub fn parse(
        ws: &Workspace,
        value: Option<&Value>,
        path: &str,
        kinds: &[&str],
    ) -> ApiResult<Position> {
        let map = v::object(value, path)?;
        let kind = v::one_of(map.get("type"), &v::join(path, "type"), kinds)?;
        Ok(match kind {
            "start" | "page_start" => Position::Start,
            "end" | "page_end" => Position::End,
            _ => {
                let apath = v::join(path, "after_block");
                let id = v::id(
                    v::object(map.get("after_block"), &apath)?.get("id"),
                    &v::join(&apath, "id"),
                )?;
                if ws.kind_of(id).is_none() {
                    return Err(NotionError::not_found("block", id));
                }
                Position::After(id)
            }
        })
    }

    pub fn index_in(self, list: &[Id]) -> usize {
        match self {
            Position::Start => 0,
            Position::End => list.len(),
            Position::After(id) => list
                .iter()
                .position(|c| *c == id)
                .map_or(list.len(), |i| i + 1),
        }
    }
}

pub(crate) fn parse_new_children(
    ws: &Workspace,
    caller: &Caller,
    value: Option<&Value>,
    path: &str,
) -> ApiResult<Vec<NewBlock>> {
    let blocks = parse::parse_children(ws, caller.version, value, path)?;
    for b in &blocks {
        check_links(ws, caller, b)?;
    }
    Ok(blocks)
}

fn check_links(ws: &Workspace, caller: &Caller, block: &NewBlock) -> ApiResult<()> {
    if block.kind == "link_to_page" {
        for key in ["page_id", "database_id"] {
            if let Some(id) = block.content[key].as_str().and_then(crate::ids::parse)
                && (ws.kind_of(id).is_none() || !caller.can_see(ws, id))
            {
                return Err(NotionError::not_found(
                    if key == "page_id" { "page" } else { "database" },
                    id,
                ));
            }
        }
    }
    block
        .children
        .iter()
        .try_for_each(|c| check_links(ws, caller, c))
}

/// Creates `blocks` (recursively) under `container` and returns the first-level ids.
pub(crate) fn insert_blocks(
    ws: &mut Workspace,
    caller: &Caller,
    container: Id,
    blocks: Vec<NewBlock>,
    position: Option<Position>,
    now: DateTime<Utc>,
) -> Vec<Id> {
    let parent = if ws.pages.contains_key(&container) {
        Parent::Page { id: container }
    } else {
        Parent::Block { id: container }
    };
    let mut ids = Vec::new();
    for new in blocks {
        let id = Uuid::new_v4();
        ws.blocks.insert(
            id,
            Block {
                id,
                parent,
                stamps: Stamps::new(now, caller.actor),
                in_trash: false,
                kind: new.kind,
                content: new.content,
                children: Vec::new(),
            },
        );
        insert_blocks(ws, caller, id, new.children, None, now);
        ids.push(id);
    }
    if let Some(list) = ws.children_mut(container) {
        let at = position.map_or(list.len(), |p| p.index_in(list));
        for (offset, id) in ids.iter().enumerate() {
            list.insert(at + offset, *id);
        }
    }
    ids
}

/// A block subtree as new blocks, for templates.
pub(crate) fn copy_tree(ws: &Workspace, container: Id) -> Vec<NewBlock> {
    ws.children(container)
        .map(|list| {
            list.iter()
                .filter_map(|id| ws.blocks.get(id))
                .filter(|b| !b.in_trash)
                .map(|b| NewBlock {
                    kind: b.kind.clone(),
                    content: b.content.clone(),
                    children: copy_tree(ws, b.id),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn visible(ws: &Workspace, caller: &Caller, id: Id) -> ApiResult<ObjectKind> {
    match ws.kind_of(id) {
        Some(kind @ (ObjectKind::Page | ObjectKind::Block | ObjectKind::Database))
            if caller.can_see(ws, id) =>
        {
            Ok(kind)
        }
        _ => Err(NotionError::not_found("block", id)),
    }
}

/// Bumps the edit time of a block's container chain up to its page.
pub(crate) fn touch_up(ws: &mut Workspace, from: Id, caller: &Caller, now: DateTime<Utc>) {
    let mut cursor = Some(from);
    while let Some(node) = cursor {
        if let Some(page) = ws.pages.get_mut(&node) {
            page.stamps.touch(now, caller.actor);
            return;
        }
        if let Some(block) = ws.blocks.get_mut(&node) {
            block.stamps.touch(now, caller.actor);
        }
        cursor = ws.parent_of(node);
    }
}

pub(crate) fn content_event(
    ws: &Workspace,
    caller: &Caller,
    block_ids: &[Id],
    container: Id,
) -> Vec<Event> {
    let Some(page) = ws.owning_page(container) else {
        return Vec::new();
    };
    let updated: Vec<Value> = block_ids
        .iter()
        .map(|id| json!({"id": id, "type": "block"}))
        .collect();
    let parent = crate::webhooks::event_parent(ws, ws.pages[&page].parent);
    vec![Event::new(
        "page.content_updated",
        "page",
        page,
        caller.actor,
        json!({"parent": parent, "updated_blocks": updated}),
    )]
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("block_id")?;
    let ws = emulator.workspace();
    visible(&ws, caller, id)?;
    Ok(render::child(&ws, &caller.ctx(emulator), id).expect("visible objects render"))
}

pub fn list_children(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("block_id")?;
    let scope = format!("children:{id}");
    let page = pagination::from_query(&scope, &req.query_map())?;
    let ws = emulator.workspace();
    visible(&ws, caller, id)?;
    let children: Vec<Id> = ws
        .children(id)
        .map(|c| c.iter().copied().filter(|c| !ws.is_trashed(*c)).collect())
        .unwrap_or_default();
    let slice = pagination::slice(&scope, &children, page);
    let ctx = caller.ctx(emulator);
    let results = slice
        .items
        .iter()
        .filter_map(|c| render::child(&ws, &ctx, *c))
        .collect();
    Ok(pagination::envelope("block", results, slice.next_cursor))
}

/// Appends children to a page or block; returns the new first-level ids and the events.
pub(crate) fn append_children(
    ws: &mut Workspace,
    caller: &Caller,
    id: Id,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<(Vec<Id>, Vec<Event>)> {
    let kind = visible(ws, caller, id)?;
    if kind == ObjectKind::Database {
        return Err(NotionError::validation(
            "Blocks cannot be appended to a database.",
        ));
    }
    if let Some(block) = ws.blocks.get(&id) {
        const HOLDERS: &[&str] = &[
            "paragraph",
            "heading_1",
            "heading_2",
            "heading_3",
            "heading_4",
            "bulleted_list_item",
            "numbered_list_item",
            "to_do",
            "toggle",
            "quote",
            "template",
            "callout",
            "column",
            "synced_block",
            "tab",
            "table",
        ];
        if !HOLDERS.contains(&block.kind.as_str()) {
            return Err(NotionError::validation(format!(
                "Block type {} does not support children.",
                block.kind
            )));
        }
        if block.kind == "synced_block" && !block.content["synced_from"].is_null() {
            return Err(NotionError::validation(
                "Cannot append children to a synced block copy; append to the original.",
            ));
        }
    }
    if ws.is_trashed(id) {
        return Err(NotionError::validation(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    v::only_keys(body, "body", &["children", "after", "position"])?;
    let children = parse_new_children(
        ws,
        caller,
        Some(v::required(body, "children", "body")?),
        "body.children",
    )?;
    if ws.blocks.get(&id).is_some_and(|b| b.kind == "table")
        && children.iter().any(|c| c.kind != "table_row")
    {
        return Err(NotionError::body_validation(
            "body.children may only hold table_row blocks when appending to a table.",
        ));
    }
    // `position` arrived with the data-sources era and replaced `after` in 2026-03-11.
    if caller.version.uses_2026_names() && body.contains_key("after") {
        return Err(NotionError::body_validation(
            "body.after should be not present: use `position` from Notion-Version 2026-03-11 on.",
        ));
    }
    if !caller.version.has_data_sources() && body.contains_key("position") {
        return Err(NotionError::body_validation(
            "body.position should be not present: use `after` before Notion-Version 2025-09-03.",
        ));
    }
    let position = match (body.get("position"), body.get("after")) {
        (Some(_), Some(_)) => {
            return Err(NotionError::body_validation(
                "body.after should be not present when body.position is given.",
            ));
        }
        (Some(p), None) => Some(Position::parse(
            ws,
            Some(p),
            "body.position",
            &["after_block", "start", "end"],
        )?),
        (None, Some(after)) => {
            let after = v::id(Some(after), "body.after")?;
            if !ws.children(id).is_some_and(|c| c.contains(&after)) {
                return Err(NotionError::validation(format!(
                    "body.after should be the id of a child of {id}."
                )));
            }
            Some(Position::After(after))
        }
        (None, None) => None,
    };
    let now = Utc::now();
    let new_ids = insert_blocks(ws, caller, id, children, position, now);
    touch_up(ws, id, caller, now);
    let events = content_event(ws, caller, &new_ids, id);
    Ok((new_ids, events))
}

pub fn append(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("block_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let (new_ids, events) = append_children(&mut ws, caller, id, body)?;
    emulator.webhooks.emit(&ws, events);
    let ctx = caller.ctx(emulator);
    let results = new_ids
        .iter()
        .filter_map(|c| render::child(&ws, &ctx, *c))
        .collect();
    Ok(pagination::envelope("block", results, None))
}

/// Updates a block's content or trash state.
pub(crate) fn update_block(
    ws: &mut Workspace,
    caller: &Caller,
    id: Id,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<Vec<Event>> {
    let kind = visible(ws, caller, id)?;
    let trash = trash_flag(caller, body)?;
    let now = Utc::now();
    let mut events = Vec::new();
    match kind {
        ObjectKind::Page | ObjectKind::Database => {
            let other: Vec<&String> = body
                .keys()
                .filter(|k| !matches!(k.as_str(), "in_trash" | "archived" | "type"))
                .collect();
            if let Some(key) = other.first() {
                return Err(NotionError::validation(format!(
                    "body.{key}: a child page or database is updated through its own endpoint."
                )));
            }
            if let Some(trash) = trash {
                set_container_trash(ws, caller, id, trash, now, &mut events);
            }
        }
        _ => {
            let block = ws.blocks[&id].clone();
            if block.in_trash && trash != Some(false) {
                return Err(NotionError::validation(
                    "Can't edit block that is archived. You must unarchive the block before editing.",
                ));
            }
            let content = match body.get(&block.kind) {
                Some(patch) => Some(parse::update_content(
                    ws,
                    &block.kind,
                    &block.content,
                    patch,
                    &format!("body.{}", block.kind),
                )?),
                None => {
                    let other = body
                        .keys()
                        .find(|k| !matches!(k.as_str(), "in_trash" | "archived" | "type"));
                    if let Some(key) = other {
                        return Err(NotionError::validation(format!(
                            "body.{key} should be not present: a block's type cannot be changed (this block is `{}`).",
                            block.kind
                        )));
                    }
                    None
                }
            };
            let b = ws.blocks.get_mut(&id).expect("visible");
            if let Some(content) = content {
                b.content = content;
            }
            if let Some(trash) = trash {
                b.in_trash = trash;
            }
            b.stamps.touch(now, caller.actor);
            touch_up(ws, id, caller, now);
            events.extend(content_event(ws, caller, &[id], id));
        }
    }
    Ok(events)
}

fn set_container_trash(
    ws: &mut Workspace,
    caller: &Caller,
    id: Id,
    trash: bool,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) {
    if let Some(page) = ws.pages.get_mut(&id) {
        let changed = page.in_trash != trash;
        page.in_trash = trash;
        page.stamps.touch(now, caller.actor);
        let parent = page.parent;
        if changed {
            let data = json!({"parent": crate::webhooks::event_parent(ws, parent)});
            events.push(Event::new(
                if trash {
                    "page.deleted"
                } else {
                    "page.undeleted"
                },
                "page",
                id,
                caller.actor,
                data,
            ));
        }
    } else if let Some(db) = ws.databases.get_mut(&id) {
        let changed = db.in_trash != trash;
        db.in_trash = trash;
        db.stamps.touch(now, caller.actor);
        let parent = db.parent;
        if changed {
            let data = json!({"parent": crate::webhooks::event_parent(ws, parent)});
            events.push(Event::new(
                if trash {
                    "database.deleted"
                } else {
                    "database.undeleted"
                },
                "database",
                id,
                caller.actor,
                data,
            ));
        }
    }
}

pub fn update(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("block_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let events = update_block(&mut ws, caller, id, body)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::child(&ws, &caller.ctx(emulator), id).expect("visible objects render"))
}

/// Moves a block (or a page or database through its block) to the trash.
pub(crate) fn delete_block(ws: &mut Workspace, caller: &Caller, id: Id) -> ApiResult<Vec<Event>> {
    let kind = visible(ws, caller, id)?;
    let now = Utc::now();
    let mut events = Vec::new();
    if kind == ObjectKind::Block {
        let b = ws.blocks.get_mut(&id).expect("visible");
        b.in_trash = true;
        b.stamps.touch(now, caller.actor);
        touch_up(ws, id, caller, now);
        events.extend(content_event(ws, caller, &[id], id));
    } else {
        set_container_trash(ws, caller, id, true, now, &mut events);
    }
    Ok(events)
}

pub fn delete(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("block_id")?;
    let mut ws = emulator.workspace();
    let events = delete_block(&mut ws, caller, id)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::child(&ws, &caller.ctx(emulator), id).expect("visible objects render"))
}
