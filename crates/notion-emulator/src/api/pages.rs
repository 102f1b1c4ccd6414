//! Pages: create (with children, templates, position), retrieve, update (properties, icon,
//! cover, trash and restore, lock), the paginated property-item endpoint, and move.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::blocks::{Position, insert_blocks};
use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req, trash_flag};
use crate::model::{Id, Page, Parent, Stamps, Workspace};
use crate::properties::{self, PropertyItems};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

pub(crate) fn find_page<'a>(ws: &'a Workspace, caller: &Caller, id: Id) -> ApiResult<&'a Page> {
    ws.pages
        .get(&id)
        .filter(|_| caller.can_see(ws, id))
        .ok_or_else(|| NotionError::not_found("page", id))
}

/// Icons and covers: emoji, external URL, an uploaded file, custom emoji, or Notion's named
/// icons.
pub(crate) fn parse_icon(
    ws: &Workspace,
    value: Option<&Value>,
    path: &str,
    cover: bool,
) -> ApiResult<Option<Option<Value>>> {
    let Some(value) = value else { return Ok(None) };
    if value.is_null() {
        return Ok(Some(None));
    }
    let map = v::object(Some(value), path)?;
    if let Some(emoji) = map.get("emoji").filter(|_| !cover) {
        return Ok(Some(Some(
            json!({"type": "emoji", "emoji": v::string(Some(emoji), &v::join(path, "emoji"))?}),
        )));
    }
    if let Some(external) = map.get("external") {
        let epath = v::join(path, "external");
        let url = v::string_max(
            v::object(Some(external), &epath)?.get("url"),
            &v::join(&epath, "url"),
            2000,
        )?;
        return Ok(Some(Some(
            json!({"type": "external", "external": {"url": url}}),
        )));
    }
    if let Some(icon) = map.get("icon").filter(|_| !cover) {
        let ipath = v::join(path, "icon");
        let i = v::object(Some(icon), &ipath)?;
        let name = v::string(i.get("name"), &v::join(&ipath, "name"))?;
        let color = i.get("color").and_then(Value::as_str).unwrap_or("gray");
        return Ok(Some(Some(
            json!({"type": "icon", "icon": {"name": name, "color": color}}),
        )));
    }
    if let Some(upload) = map.get("file_upload") {
        let (stored, _) = crate::uploads::parse_reference(ws, upload, path)?;
        return Ok(Some(Some(stored)));
    }
    let expected = if cover {
        "an object with `external` or `file_upload`"
    } else {
        "an object with one of `emoji`, `external`, `file_upload`, `icon`"
    };
    v::fail(path, expected, Some(value))
}

/// Writes `properties` of a create or update body onto `values`, checking the schema.
fn write_properties(
    ws: &mut Workspace,
    caller: &Caller,
    parent: Parent,
    body: &Map<String, Value>,
    values: &mut BTreeMap<String, Value>,
) -> ApiResult<Vec<String>> {
    let Some(props) = body.get("properties") else {
        return Ok(Vec::new());
    };
    let props = v::object(Some(props), "body.properties")?;
    let mut changed = Vec::new();
    match parent {
        Parent::DataSource { id: ds_id, .. } => {
            let mut schema = ws
                .data_sources
                .get(&ds_id)
                .map(|d| d.properties.clone())
                .unwrap_or_default();
            for (key, value) in props {
                let path = format!("body.properties.{key}");
                let decoded = crate::model::percent_decode(key);
                let Some(prop) = schema
                    .iter_mut()
                    .find(|p| p.name == *key || p.id == *key || p.id == decoded)
                else {
                    return Err(NotionError::validation(format!(
                        "{key} is not a property that exists."
                    )));
                };
                let stored = properties::write_value(ws, caller.version, prop, value, &path)?;
                values.insert(prop.id.clone(), stored);
                changed.push(prop.id.clone());
            }
            if let Some(ds) = ws.data_sources.get_mut(&ds_id) {
                ds.properties = schema;
            }
        }
        _ => {
            for (key, value) in props {
                let path = format!("body.properties.{key}");
                let is_title = key == "title" || value.get("title").is_some();
                if !is_title {
                    return Err(NotionError::validation(format!(
                        "Invalid property identifier: {key}. A page outside a data source has only a `title` property."
                    )));
                }
                let inner = value.get("title").unwrap_or(value);
                let title =
                    crate::richtext::parse_array(ws, Some(inner), &format!("{path}.title"))?;
                values.insert("title".into(), json!(title));
                changed.push("title".into());
            }
        }
    }
    Ok(changed)
}

/// Keeps dual relations symmetric: the related pages gain or lose this page.
fn sync_dual_relations(
    ws: &mut Workspace,
    page_id: Id,
    changed: &[String],
    before: &BTreeMap<String, Value>,
) {
    let Some(page) = ws.pages.get(&page_id) else {
        return;
    };
    let Parent::DataSource { id: ds_id, .. } = page.parent else {
        return;
    };
    let Some(ds) = ws.data_sources.get(&ds_id) else {
        return;
    };
    let mut updates = Vec::new();
    for prop in ds
        .properties
        .iter()
        .filter(|p| p.kind == "relation" && changed.contains(&p.id))
    {
        if prop.config["type"] != "dual_property" {
            continue;
        }
        let synced = prop.config["dual_property"]["synced_property_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let now_ids = properties::related_pages(page, &prop.id);
        let old_page = Page {
            properties: before.clone(),
            ..page.clone()
        };
        let old_ids = properties::related_pages(&old_page, &prop.id);
        for target in &now_ids {
            updates.push((*target, synced.clone(), true));
        }
        for target in old_ids.iter().filter(|t| !now_ids.contains(t)) {
            updates.push((*target, synced.clone(), false));
        }
    }
    for (target, prop_id, add) in updates {
        if let Some(t) = ws.pages.get_mut(&target) {
            let list = t.properties.entry(prop_id).or_insert_with(|| json!([]));
            let items = list.as_array_mut().expect("relation values are arrays");
            let entry = json!({"id": page_id});
            if add && !items.contains(&entry) {
                items.push(entry);
            } else if !add {
                items.retain(|i| i != &entry);
            }
        }
    }
}

pub(crate) fn resolve_parent(
    ws: &Workspace,
    caller: &Caller,
    value: Option<&Value>,
    allow_workspace: bool,
) -> ApiResult<Parent> {
    let map = v::object(value, "body.parent")?;
    if let Some(id) = map.get("page_id") {
        let id = v::id(Some(id), "body.parent.page_id")?;
        find_page(ws, caller, id)?;
        return Ok(Parent::Page { id });
    }
    if let Some(id) = map.get("data_source_id") {
        let id = v::id(Some(id), "body.parent.data_source_id")?;
        let ds = ws
            .data_sources
            .get(&id)
            .filter(|_| caller.can_see(ws, id))
            .ok_or_else(|| NotionError::not_found("data source", id))?;
        return Ok(Parent::DataSource {
            id,
            database: ds.database,
        });
    }
    if let Some(id) = map.get("database_id") {
        let id = v::id(Some(id), "body.parent.database_id")?;
        let db = ws
            .databases
            .get(&id)
            .filter(|_| caller.can_see(ws, id))
            .ok_or_else(|| NotionError::not_found("database", id))?;
        if db.data_sources.len() > 1 {
            return Err(properties::multiple_sources_error(id));
        }
        return Ok(Parent::DataSource {
            id: db.data_sources[0],
            database: id,
        });
    }
    if map.get("workspace") == Some(&json!(true)) && allow_workspace {
        return Ok(Parent::Workspace);
    }
    v::fail(
        "body.parent",
        "an object with one of `page_id`, `data_source_id`, `database_id`, `workspace`",
        value,
    )
}

/// Creates a page; shared with the caller's grant when created at the workspace's top.
pub(crate) fn create_page(
    ws: &mut Workspace,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<(Id, Vec<Event>)> {
    let parent = resolve_parent(ws, caller, body.get("parent"), true)?;
    let now = Utc::now();
    let id = Uuid::new_v4();
    let mut values = BTreeMap::new();
    let changed = write_properties(ws, caller, parent, body, &mut values)?;
    let icon = parse_icon(ws, body.get("icon"), "body.icon", false)?.flatten();
    let cover = parse_icon(ws, body.get("cover"), "body.cover", true)?.flatten();
    let children_value = body.get("children").or_else(|| body.get("content"));
    let children = match children_value {
        Some(c) => super::blocks::parse_new_children(
            ws,
            caller,
            Some(c),
            if body.contains_key("children") {
                "body.children"
            } else {
                "body.content"
            },
        )?,
        None => Vec::new(),
    };
    let mut markdown_title = None;
    let children = match body.get("markdown") {
        None => {
            if body.contains_key("allow_async") {
                return Err(NotionError::body_validation(
                    "body.allow_async should be present only with `markdown`.",
                ));
            }
            children
        }
        Some(_) if !caller.version.uses_2026_names() => {
            return Err(NotionError::body_validation(format!(
                "body.markdown should be not present in Notion-Version {}; it exists from 2026-03-11.",
                caller.version.as_str()
            )));
        }
        Some(_) if children_value.is_some() => {
            return Err(NotionError::body_validation(
                "body.markdown and body.children are both given; send one of them.",
            ));
        }
        Some(markdown) => {
            let text = v::string(Some(markdown), "body.markdown")?;
            let title_key = title_key(ws, parent);
            let (blocks, title) =
                super::page_markdown::creation_content(ws, text, values.contains_key(&title_key))?;
            markdown_title = title.map(|t| (title_key, t));
            blocks
        }
    };
    if let Some((key, title)) = markdown_title {
        values.insert(key, title);
    }
    let template = match body.get("template") {
        None => None,
        Some(t) => {
            let tm = v::object(Some(t), "body.template")?;
            match v::one_of(
                tm.get("type"),
                "body.template.type",
                &["none", "default", "template_id"],
            )? {
                "none" => None,
                "default" => match parent {
                    Parent::DataSource { id: ds, .. } => ws
                        .data_sources
                        .get(&ds)
                        .and_then(|d| d.templates.first().copied()),
                    _ => None,
                },
                _ => Some(v::id(tm.get("template_id"), "body.template.template_id")?),
            }
        }
    };
    if template.is_some() && !children.is_empty() {
        return Err(NotionError::body_validation(
            "body.children should be not present when a template is applied.",
        ));
    }
    let position = match body.get("position") {
        Some(p) => Some(Position::parse(
            ws,
            Some(p),
            "body.position",
            &["after_block", "page_start", "page_end"],
        )?),
        None => None,
    };
    if let Parent::DataSource { id: ds_id, .. } = parent
        && let Some(ds) = ws.data_sources.get_mut(&ds_id)
    {
        for prop in ds.properties.iter().filter(|p| p.kind == "unique_id") {
            ds.next_unique_id += 1;
            values.insert(prop.id.clone(), json!({"number": ds.next_unique_id}));
        }
        ds.rows.push(id);
    }
    if let Some(template_id) = template
        && let Some(t) = ws.pages.get(&template_id)
    {
        for (k, val) in &t.properties {
            values.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    let page = Page {
        id,
        parent,
        stamps: Stamps::new(now, caller.actor),
        in_trash: false,
        is_locked: false,
        icon,
        cover,
        properties: values,
        children: Vec::new(),
        is_template: false,
    };
    ws.pages.insert(id, page);
    match parent {
        Parent::Page { id: p } | Parent::Block { id: p } => {
            let list = ws.children_mut(p).expect("the parent was found above");
            let at = position.map_or(list.len(), |pos| pos.index_in(list));
            list.insert(at, id);
        }
        Parent::Workspace => {
            ws.roots.push(id);
            if let Some(token) = &caller.token
                && let Some(grant) = ws.grants.get_mut(token)
            {
                grant.shared.insert(id);
            }
        }
        Parent::DataSource { .. } => {}
    }
    if let Some(template_id) = template {
        let copies = super::blocks::copy_tree(ws, template_id);
        insert_blocks(ws, caller, id, copies, None, now);
    }
    insert_blocks(ws, caller, id, children, None, now);
    sync_dual_relations(ws, id, &changed, &BTreeMap::new());
    let event = Event::new(
        "page.created",
        "page",
        id,
        caller.actor,
        json!({"parent": crate::webhooks::event_parent(ws, parent)}),
    );
    Ok((id, vec![event]))
}

/// The key a page's title is stored under: `title`, or its data source's title property.
fn title_key(ws: &Workspace, parent: Parent) -> String {
    match parent {
        Parent::DataSource { id, .. } => ws
            .data_sources
            .get(&id)
            .and_then(|d| d.title_property())
            .map(|p| p.id.clone())
            .unwrap_or_else(|| "title".into()),
        _ => "title".into(),
    }
}

pub fn create(
    emulator: &Emulator,
    caller: &Caller,
    req: &Req,
) -> ApiResult<(axum::http::StatusCode, Value)> {
    let body = req.body()?;
    let asynchronous = super::page_markdown::allow_async(body)?;
    let mut ws = emulator.workspace();
    let (id, events) = create_page(&mut ws, caller, body)?;
    emulator.webhooks.emit(&ws, events);
    let filter = filter_properties(req);
    let page = render::page(
        &ws,
        &caller.ctx(emulator),
        &ws.pages[&id],
        filter.as_deref(),
    );
    Ok(super::page_markdown::answer(
        emulator,
        &mut ws,
        caller,
        "create_page",
        asynchronous,
        page,
    ))
}

fn filter_properties(req: &Req) -> Option<Vec<String>> {
    let list = req.query_all("filter_properties");
    (!list.is_empty()).then_some(list)
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("page_id")?;
    let ws = emulator.workspace();
    let page = find_page(&ws, caller, id)?;
    let filter = filter_properties(req);
    Ok(render::page(
        &ws,
        &caller.ctx(emulator),
        page,
        filter.as_deref(),
    ))
}

/// `GET /pages/{id}/markdown` (2026-03-11): a page's content, or the subtree of a block or
/// child database (the ids a truncated answer listed), as enhanced markdown.
pub fn markdown(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    if !caller.version.uses_2026_names() {
        return Err(NotionError::invalid_request_url());
    }
    let id = req.param("page_id")?;
    let include_transcript = match req
        .query_map()
        .get("include_transcript")
        .map(String::as_str)
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(NotionError::validation(format!(
                "include_transcript should be a boolean, instead was `\"{other}\"`."
            )));
        }
    };
    let ws = emulator.workspace();
    let readable = matches!(
        ws.kind_of(id),
        Some(
            crate::model::ObjectKind::Page
                | crate::model::ObjectKind::Block
                | crate::model::ObjectKind::Database
        )
    ) && caller.can_see(&ws, id);
    if !readable {
        return Err(NotionError::not_found("page", id));
    }
    Ok(super::page_markdown::page_markdown(
        emulator,
        &ws,
        caller,
        id,
        include_transcript,
    ))
}

/// Applies a page update (properties, icon, cover, trash, lock, template, erase_content).
pub(crate) fn update_page(
    ws: &mut Workspace,
    caller: &Caller,
    id: Id,
    body: &Map<String, Value>,
) -> ApiResult<Vec<Event>> {
    let page = find_page(ws, caller, id)?.clone();
    v::only_keys(
        body,
        "body",
        &[
            "properties",
            "icon",
            "cover",
            "in_trash",
            "archived",
            "is_locked",
            "template",
            "erase_content",
        ],
    )?;
    let trash = trash_flag(caller, body)?;
    let locked = v::optional_bool(body.get("is_locked"), "body.is_locked")?;
    if page.is_locked
        && locked != Some(false)
        && body.contains_key("properties")
        && caller.token.is_some()
    {
        return Err(NotionError::validation(
            "The page is locked and cannot be edited. Unlock it first with is_locked: false.",
        ));
    }
    if page.in_trash && trash != Some(false) && body.contains_key("properties") {
        return Err(NotionError::validation(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    let mut values = page.properties.clone();
    let changed = write_properties(ws, caller, page.parent, body, &mut values)?;
    let icon = parse_icon(ws, body.get("icon"), "body.icon", false)?;
    let cover = parse_icon(ws, body.get("cover"), "body.cover", true)?;
    let erase = v::optional_bool(body.get("erase_content"), "body.erase_content")?.unwrap_or(false);
    let now = Utc::now();
    let mut events = Vec::new();
    let parent_data = crate::webhooks::event_parent(ws, page.parent);
    {
        let p = ws.pages.get_mut(&id).expect("found above");
        p.properties = values;
        if let Some(icon) = icon {
            p.icon = icon;
        }
        if let Some(cover) = cover {
            p.cover = cover;
        }
        if let Some(locked) = locked {
            if locked != p.is_locked {
                events.push(Event::new(
                    if locked {
                        "page.locked"
                    } else {
                        "page.unlocked"
                    },
                    "page",
                    id,
                    caller.actor,
                    json!({"parent": parent_data}),
                ));
            }
            p.is_locked = locked;
        }
        if let Some(trash) = trash {
            if trash != p.in_trash {
                events.push(Event::new(
                    if trash {
                        "page.deleted"
                    } else {
                        "page.undeleted"
                    },
                    "page",
                    id,
                    caller.actor,
                    json!({"parent": parent_data}),
                ));
            }
            p.in_trash = trash;
        }
        if erase {
            p.children.clear();
        }
        p.stamps.touch(now, caller.actor);
    }
    if !changed.is_empty() || body.contains_key("icon") || body.contains_key("cover") {
        events.push(Event::new(
            "page.properties_updated",
            "page",
            id,
            caller.actor,
            json!({"parent": parent_data, "updated_properties": changed}),
        ));
    }
    sync_dual_relations(ws, id, &changed, &page.properties);
    Ok(events)
}

pub fn update(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("page_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let events = update_page(&mut ws, caller, id, body)?;
    emulator.webhooks.emit(&ws, events);
    let filter = filter_properties(req);
    Ok(render::page(
        &ws,
        &caller.ctx(emulator),
        &ws.pages[&id],
        filter.as_deref(),
    ))
}

pub fn property_item(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("page_id")?;
    let property = req.raw_param("property_id").to_string();
    let ws = emulator.workspace();
    let page = find_page(&ws, caller, id)?;
    let schema = properties::page_property_schema(&ws, page, &property)
        .ok_or_else(|| NotionError::not_found("property", &property))?;
    let ctx = caller.ctx(emulator);
    let scope = format!("property:{id}:{}", schema.id);
    match properties::property_items(&ws, &ctx, page, &schema) {
        PropertyItems::Single(item) => Ok(item),
        PropertyItems::List {
            kind,
            items,
            rollup,
        } => {
            let request = pagination::from_query(&scope, &req.query_map())?;
            let slice = pagination::slice(&scope, &items, request);
            let next_url = slice.next_cursor.as_ref().map(|c| {
                format!(
                    "{}/v1/pages/{id}/properties/{}?start_cursor={c}",
                    emulator.base_url, schema.id
                )
            });
            let mut out = pagination::envelope("property_item", slice.items, slice.next_cursor);
            let mut summary = json!({"id": schema.id, "next_url": next_url, "type": kind});
            summary[kind.as_str()] = rollup.unwrap_or_else(|| json!({}));
            out["property_item"] = summary;
            Ok(out)
        }
    }
}

pub fn move_page(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("page_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let page = find_page(&ws, caller, id)?.clone();
    let parent = resolve_parent(&ws, caller, body.get("parent"), false)?;
    if let Parent::Page { id: target } = parent {
        let mut cursor = Some(target);
        while let Some(node) = cursor {
            if node == id {
                return Err(NotionError::validation(
                    "A page cannot be moved into itself or one of its descendants.",
                ));
            }
            cursor = ws.parent_of(node);
        }
    }
    if matches!(page.parent, Parent::DataSource { .. })
        != matches!(parent, Parent::DataSource { .. })
        && matches!(page.parent, Parent::DataSource { .. })
    {
        return Err(NotionError::validation(
            "A database row can only be moved to another data source.",
        ));
    }
    // Detach from the old container.
    match page.parent {
        Parent::Page { id: old } | Parent::Block { id: old } => {
            if let Some(list) = ws.children_mut(old) {
                list.retain(|c| *c != id);
            }
        }
        Parent::DataSource { id: old, .. } => {
            if let Some(ds) = ws.data_sources.get_mut(&old) {
                ds.rows.retain(|r| *r != id);
            }
        }
        Parent::Workspace => ws.roots.retain(|r| *r != id),
    }
    match parent {
        Parent::Page { id: new } => ws.children_mut(new).expect("found above").push(id),
        Parent::DataSource { id: new, .. } => {
            let schema = ws.data_sources[&new].properties.clone();
            if let Some(ds) = ws.data_sources.get_mut(&new) {
                ds.rows.push(id);
            }
            let title_id = schema
                .iter()
                .find(|p| p.kind == "title")
                .map(|p| p.id.clone())
                .unwrap_or_else(|| "title".into());
            let title = ws.pages[&id].properties.values().next().cloned();
            let p = ws.pages.get_mut(&id).expect("found above");
            if !matches!(page.parent, Parent::DataSource { .. }) {
                p.properties = BTreeMap::from_iter(title.map(|t| (title_id, t)));
            }
        }
        _ => {}
    }
    let now = Utc::now();
    let p = ws.pages.get_mut(&id).expect("found above");
    p.parent = parent;
    p.stamps.touch(now, caller.actor);
    let event = Event::new(
        "page.moved",
        "page",
        id,
        caller.actor,
        json!({"parent": crate::webhooks::event_parent(&ws, parent)}),
    );
    emulator.webhooks.emit(&ws, vec![event]);
    Ok(render::page(
        &ws,
        &caller.ctx(emulator),
        &ws.pages[&id],
        None,
    ))
}
