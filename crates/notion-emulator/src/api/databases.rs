//! Databases: create, retrieve, update and (in 2022-06-28) query. Since 2025-09-03 a
//! database is a container of data sources; a database with two data sources refuses the
//! classic calls.

use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::schema::{
    classic_source, find_database, link_dual_relations, parse_new_schema, patch_schema,
    rich_text_field, run_query, schema_event,
};
use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req, trash_flag};
use crate::model::{DataSource, Database, Id, Parent, Stamps, Workspace};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, render};

pub fn create_database(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let (db_id, _, events) = create_database_in(&mut ws, caller, body)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::database(
        &ws,
        &caller.ctx(emulator),
        &ws.databases[&db_id],
    ))
}

/// Creates a database with its first data source; returns both ids and the events.
pub(crate) fn create_database_in(
    ws: &mut Workspace,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<(Id, Id, Vec<Event>)> {
    let parent = super::pages::resolve_parent(ws, caller, body.get("parent"), true)?;
    if matches!(parent, Parent::DataSource { .. }) {
        return v::fail(
            "body.parent",
            "an object with `page_id` or `workspace`",
            body.get("parent"),
        );
    }
    let db_id = Uuid::new_v4();
    let ds_id = Uuid::new_v4();
    let schema_value = if caller.version.has_data_sources() {
        if body.contains_key("properties") {
            return Err(NotionError::body_validation(
                "body.properties should be not present: from 2025-09-03 on, send `initial_data_source.properties`.",
            ));
        }
        match body.get("initial_data_source") {
            Some(initial) => v::object(Some(initial), "body.initial_data_source")?
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({"Name": {"title": {}}})),
            None => json!({"Name": {"title": {}}}),
        }
    } else {
        v::required(body, "properties", "body")?.clone()
    };
    let schema_path = if caller.version.has_data_sources() {
        "body.initial_data_source.properties"
    } else {
        "body.properties"
    };
    let schema = parse_new_schema(ws, caller.version, ds_id, &schema_value, schema_path)?;
    let title = rich_text_field(ws, body, "title")?.unwrap_or_default();
    let description = rich_text_field(ws, body, "description")?.unwrap_or_default();
    let icon = super::pages::parse_icon(ws, body.get("icon"), "body.icon", false)?.flatten();
    let cover = super::pages::parse_icon(ws, body.get("cover"), "body.cover", true)?.flatten();
    let is_inline = v::optional_bool(body.get("is_inline"), "body.is_inline")?.unwrap_or(false);
    let now = Utc::now();
    let stamps = Stamps::new(now, caller.actor);
    ws.databases.insert(
        db_id,
        Database {
            id: db_id,
            parent,
            stamps: stamps.clone(),
            title: title.clone(),
            description: description.clone(),
            is_inline,
            in_trash: false,
            is_locked: false,
            icon: icon.clone(),
            cover,
            data_sources: vec![ds_id],
        },
    );
    ws.views
        .push(super::views::default_view(db_id, ds_id, &stamps));
    ws.data_sources.insert(
        ds_id,
        DataSource {
            id: ds_id,
            database: db_id,
            stamps,
            title,
            description,
            icon,
            in_trash: false,
            properties: schema,
            rows: Vec::new(),
            templates: Vec::new(),
            next_unique_id: 0,
        },
    );
    match parent {
        Parent::Page { id } | Parent::Block { id } => {
            if let Some(list) = ws.children_mut(id) {
                list.push(db_id);
            }
        }
        _ => {
            ws.roots.push(db_id);
            if let Some(grant) = caller.token.as_ref().and_then(|t| ws.grants.get_mut(t)) {
                grant.shared.insert(db_id);
            }
        }
    }
    link_dual_relations(ws, ds_id);
    let parent_data = json!({"parent": crate::webhooks::event_parent(ws, parent)});
    let mut events = vec![Event::new(
        "database.created",
        "database",
        db_id,
        caller.actor,
        parent_data,
    )];
    if caller.version.has_data_sources() {
        events.push(Event::new(
            "data_source.created",
            "data_source",
            ds_id,
            caller.actor,
            json!({"parent": {"id": db_id, "type": "database"}}),
        ));
    }
    Ok((db_id, ds_id, events))
}

pub fn retrieve_database(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("database_id")?;
    let ws = emulator.workspace();
    let db = find_database(&ws, caller, id)?;
    if !caller.version.has_data_sources() {
        classic_source(db)?;
    }
    Ok(render::database(&ws, &caller.ctx(emulator), db))
}

pub fn update_database(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("database_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let db = find_database(&ws, caller, id)?.clone();
    let classic = !caller.version.has_data_sources();
    if classic {
        classic_source(&db)?;
        v::only_keys(
            body,
            "body",
            &[
                "title",
                "description",
                "icon",
                "cover",
                "properties",
                "is_inline",
                "archived",
                "in_trash",
            ],
        )?;
    } else {
        v::only_keys(
            body,
            "body",
            &[
                "parent",
                "title",
                "description",
                "is_inline",
                "icon",
                "cover",
                "in_trash",
                "archived",
                "is_locked",
            ],
        )?;
    }
    let trash = trash_flag(caller, body)?;
    let title = rich_text_field(&ws, body, "title")?;
    let description = rich_text_field(&ws, body, "description")?;
    let icon = super::pages::parse_icon(&ws, body.get("icon"), "body.icon", false)?;
    let cover = super::pages::parse_icon(&ws, body.get("cover"), "body.cover", true)?;
    let is_inline = v::optional_bool(body.get("is_inline"), "body.is_inline")?;
    let is_locked = v::optional_bool(body.get("is_locked"), "body.is_locked")?;
    let new_parent = match body.get("parent") {
        Some(p) => Some(super::pages::resolve_parent(&ws, caller, Some(p), true)?),
        None => None,
    };
    let mut events = Vec::new();
    if let (true, Some(props)) = (classic, body.get("properties")) {
        let ds_id = db.data_sources[0];
        let ds = ws.data_sources[&ds_id].clone();
        let schema = patch_schema(&ws, caller.version, &ds, props)?;
        events.push(schema_event(&ws, caller, ds_id, &ds.properties, &schema));
        ws.data_sources.get_mut(&ds_id).expect("exists").properties = schema;
        link_dual_relations(&mut ws, ds_id);
    }
    if let Some(parent) = new_parent {
        if let Parent::Page { id: old } | Parent::Block { id: old } = db.parent
            && let Some(list) = ws.children_mut(old)
        {
            list.retain(|c| *c != id);
        }
        if let Parent::Page { id: new } | Parent::Block { id: new } = parent
            && let Some(list) = ws.children_mut(new)
        {
            list.push(id);
        }
        events.push(Event::new(
            "database.moved",
            "database",
            id,
            caller.actor,
            json!({"parent": crate::webhooks::event_parent(&ws, parent)}),
        ));
    }
    let now = Utc::now();
    let d = ws.databases.get_mut(&id).expect("exists");
    if let Some(parent) = new_parent {
        d.parent = parent;
    }
    if let Some(t) = title.clone() {
        d.title = t;
    }
    if let Some(desc) = description {
        d.description = desc;
    }
    if let Some(i) = icon {
        d.icon = i;
    }
    if let Some(c) = cover {
        d.cover = c;
    }
    if let Some(inline) = is_inline {
        d.is_inline = inline;
    }
    if let Some(locked) = is_locked {
        d.is_locked = locked;
    }
    if let Some(trash) = trash
        && trash != d.in_trash
    {
        d.in_trash = trash;
        events.push(Event::new(
            if trash {
                "database.deleted"
            } else {
                "database.undeleted"
            },
            "database",
            id,
            caller.actor,
            json!({}),
        ));
    }
    d.stamps.touch(now, caller.actor);
    if classic
        && let Some(t) = title
        && let Some(ds) = ws.data_sources.get_mut(&db.data_sources[0])
    {
        ds.title = t;
    }
    emulator.webhooks.emit(&ws, events);
    Ok(render::database(
        &ws,
        &caller.ctx(emulator),
        &ws.databases[&id],
    ))
}

pub fn query_database(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("database_id")?;
    let ds_id = {
        let ws = emulator.workspace();
        let db = find_database(&ws, caller, id)?;
        if caller.version.has_data_sources() {
            return Err(NotionError::invalid_request_url());
        }
        classic_source(db)?
    };
    run_query(emulator, caller, req, ds_id, "page_or_database")
}
