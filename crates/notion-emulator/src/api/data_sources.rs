//! Data sources (2025-09-03+): create, retrieve, update (schema changes included), query
//! and templates.

use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::schema::{
    find_data_source, find_database, link_dual_relations, parse_new_schema, patch_schema,
    require_data_sources, rich_text_field, run_query, schema_event,
};
use crate::error::ApiResult;
use crate::http::{Caller, Req, trash_flag};
use crate::model::{DataSource, Id, Parent, Stamps, Workspace};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

pub fn create_data_source(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    require_data_sources(caller)?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let (ds_id, events) = create_data_source_in(&mut ws, caller, body)?;
    emulator.webhooks.emit(&ws, events);
    Ok(render::data_source(
        &ws,
        &caller.ctx(emulator),
        &ws.data_sources[&ds_id],
    ))
}

pub(crate) fn create_data_source_in(
    ws: &mut Workspace,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<(Id, Vec<Event>)> {
    let parent = v::object(body.get("parent"), "body.parent")?;
    let db_id = v::id(parent.get("database_id"), "body.parent.database_id")?;
    find_database(ws, caller, db_id)?;
    let ds_id = Uuid::new_v4();
    let schema = parse_new_schema(
        ws,
        caller.version,
        ds_id,
        v::required(body, "properties", "body")?,
        "body.properties",
    )?;
    let title = rich_text_field(ws, body, "title")?.unwrap_or_default();
    let icon = super::pages::parse_icon(ws, body.get("icon"), "body.icon", false)?.flatten();
    let now = Utc::now();
    ws.data_sources.insert(
        ds_id,
        DataSource {
            id: ds_id,
            database: db_id,
            stamps: Stamps::new(now, caller.actor),
            title,
            description: Vec::new(),
            icon,
            in_trash: false,
            properties: schema,
            rows: Vec::new(),
            templates: Vec::new(),
            next_unique_id: 0,
        },
    );
    let db = ws.databases.get_mut(&db_id).expect("found above");
    db.data_sources.push(ds_id);
    db.stamps.touch(now, caller.actor);
    link_dual_relations(ws, ds_id);
    let event = Event::new(
        "data_source.created",
        "data_source",
        ds_id,
        caller.actor,
        json!({"parent": {"id": db_id, "type": "database"}}),
    );
    Ok((ds_id, vec![event]))
}

pub fn retrieve_data_source(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    require_data_sources(caller)?;
    let id = req.param("data_source_id")?;
    let ws = emulator.workspace();
    let ds = find_data_source(&ws, caller, id)?;
    Ok(render::data_source(&ws, &caller.ctx(emulator), ds))
}

pub fn update_data_source(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    require_data_sources(caller)?;
    let id = req.param("data_source_id")?;
    let body = req.body()?;
    let mut ws = emulator.workspace();
    let ds = find_data_source(&ws, caller, id)?.clone();
    v::only_keys(
        body,
        "body",
        &[
            "title",
            "icon",
            "properties",
            "in_trash",
            "archived",
            "parent",
        ],
    )?;
    let trash = trash_flag(caller, body)?;
    let title = rich_text_field(&ws, body, "title")?;
    let icon = super::pages::parse_icon(&ws, body.get("icon"), "body.icon", false)?;
    let mut events = Vec::new();
    let schema = match body.get("properties") {
        Some(props) => {
            let schema = patch_schema(&ws, caller.version, &ds, props)?;
            events.push(schema_event(&ws, caller, id, &ds.properties, &schema));
            Some(schema)
        }
        None => None,
    };
    let new_database = match body.get("parent") {
        Some(p) => {
            let target = v::id(
                v::object(Some(p), "body.parent")?.get("database_id"),
                "body.parent.database_id",
            )?;
            find_database(&ws, caller, target)?;
            Some(target)
        }
        None => None,
    };
    let now = Utc::now();
    if let Some(target) = new_database.filter(|t| *t != ds.database) {
        if let Some(old) = ws.databases.get_mut(&ds.database) {
            old.data_sources.retain(|d| *d != id);
        }
        ws.databases
            .get_mut(&target)
            .expect("found above")
            .data_sources
            .push(id);
        let rows = ds.rows.clone();
        for row in rows {
            if let Some(page) = ws.pages.get_mut(&row) {
                page.parent = Parent::DataSource {
                    id,
                    database: target,
                };
            }
        }
        events.push(Event::new(
            "data_source.moved",
            "data_source",
            id,
            caller.actor,
            json!({"parent": {"id": target, "type": "database"}}),
        ));
    }
    let d = ws.data_sources.get_mut(&id).expect("exists");
    if let Some(target) = new_database {
        d.database = target;
    }
    if let Some(schema) = schema {
        d.properties = schema;
    }
    if let Some(t) = title {
        d.title = t;
    }
    if let Some(i) = icon {
        d.icon = i;
    }
    if let Some(trash) = trash {
        if trash != d.in_trash {
            events.push(Event::new(
                if trash {
                    "data_source.deleted"
                } else {
                    "data_source.undeleted"
                },
                "data_source",
                id,
                caller.actor,
                json!({}),
            ));
        }
        d.in_trash = trash;
    }
    d.stamps.touch(now, caller.actor);
    link_dual_relations(&mut ws, id);
    emulator.webhooks.emit(&ws, events);
    Ok(render::data_source(
        &ws,
        &caller.ctx(emulator),
        &ws.data_sources[&id],
    ))
}

pub fn query_data_source(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    require_data_sources(caller)?;
    let id = req.param("data_source_id")?;
    find_data_source(&emulator.workspace(), caller, id)?;
    run_query(emulator, caller, req, id, "page_or_data_source")
}

pub fn list_templates(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    require_data_sources(caller)?;
    let id = req.param("data_source_id")?;
    let scope = format!("templates:{id}");
    let query = req.query_map();
    let page = pagination::from_query(&scope, &query)?;
    let ws = emulator.workspace();
    let ds = find_data_source(&ws, caller, id)?;
    let name = query.get("name").map(|n| n.to_lowercase());
    let templates: Vec<Value> = ds
        .templates
        .iter()
        .enumerate()
        .filter_map(|(i, t)| ws.pages.get(t).map(|p| (i, p)))
        .map(|(i, p)| json!({"id": p.id, "name": ws.page_title_text(p.id), "is_default": i == 0}))
        .filter(|t| {
            name.as_ref().is_none_or(|n| {
                t["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            })
        })
        .collect();
    let slice = pagination::slice(&scope, &templates, page);
    Ok(
        json!({"templates": slice.items, "has_more": slice.next_cursor.is_some(), "next_cursor": slice.next_cursor}),
    )
}
