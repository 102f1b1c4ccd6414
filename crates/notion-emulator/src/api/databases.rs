//! Databases and data sources: create, retrieve, update, query (with filters, sorts and the
//! 10,000-result cap) and templates, in both the classic (2022-06-28) and the data-sources
//! (2025-09-03+) models. A database with two data sources refuses the classic calls.

use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Caller, Req, trash_flag};
use crate::error::{ApiResult, NotionError};
use crate::filter;
use crate::model::{DataSource, Database, Id, Parent, PropertySchema, Stamps, Workspace};
use crate::properties::{self, SchemaInput};
use crate::richtext;
use crate::validate as v;
use crate::version::ApiVersion;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

/// One query answers at most this many results, then reports `request_status: incomplete`.
pub const QUERY_RESULT_LIMIT: usize = 10_000;

fn find_database<'a>(ws: &'a Workspace, caller: &Caller, id: Id) -> ApiResult<&'a Database> {
    ws.databases
        .get(&id)
        .filter(|_| caller.can_see(ws, id))
        .ok_or_else(|| NotionError::not_found("database", id))
}

fn find_data_source<'a>(ws: &'a Workspace, caller: &Caller, id: Id) -> ApiResult<&'a DataSource> {
    ws.data_sources
        .get(&id)
        .filter(|_| caller.can_see(ws, id))
        .ok_or_else(|| NotionError::not_found("data source", id))
}

fn require_data_sources(caller: &Caller) -> ApiResult<()> {
    if caller.version.has_data_sources() {
        Ok(())
    } else {
        Err(NotionError::invalid_request_url())
    }
}

/// The single data source behind a database, for classic (2022-06-28) calls.
fn classic_source(db: &Database) -> ApiResult<Id> {
    match db.data_sources.as_slice() {
        [only] => Ok(*only),
        _ => Err(properties::multiple_sources_error(db.id)),
    }
}

/// Parses a `properties` object of schema definitions into a new schema list.
fn parse_new_schema(
    ws: &Workspace,
    version: ApiVersion,
    ds_id: Id,
    value: &Value,
    path: &str,
) -> ApiResult<Vec<PropertySchema>> {
    let map = v::object(Some(value), path)?;
    let mut schema: Vec<PropertySchema> = Vec::new();
    // Relations first, so rollups can refer to them.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by_key(|(_, def)| def.get("rollup").is_some());
    for (name, def) in entries {
        let input = SchemaInput {
            ws,
            version,
            this_data_source: ds_id,
            existing: &schema,
        };
        let prop = properties::parse_schema(&input, name, def, &format!("{path}.{name}"), None)?;
        schema.push(prop);
    }
    let titles = schema.iter().filter(|p| p.kind == "title").count();
    if titles != 1 {
        return Err(NotionError::validation(format!(
            "Title is not provided: a data source needs exactly one `title` property, instead had {titles}."
        )));
    }
    Ok(schema)
}

/// Gives each new dual relation its synced property on the other data source.
fn link_dual_relations(ws: &mut Workspace, ds_id: Id) {
    let Some(ds) = ws.data_sources.get(&ds_id) else {
        return;
    };
    let ds_title = crate::model::plain_text(&Value::Array(ds.title.clone()));
    let pending: Vec<(String, String, Id)> = ds
        .properties
        .iter()
        .filter(|p| {
            p.kind == "relation"
                && p.config["type"] == "dual_property"
                && p.config["dual_property"]["synced_property_id"] == ""
        })
        .filter_map(|p| {
            Some((
                p.id.clone(),
                p.name.clone(),
                p.config["data_source_id"]
                    .as_str()
                    .and_then(crate::ids::parse)?,
            ))
        })
        .collect();
    for (prop_id, prop_name, target) in pending {
        let synced_id = properties::new_property_id();
        let synced_name = format!("Related to {ds_title} ({prop_name})");
        let database = ws
            .data_sources
            .get(&ds_id)
            .map(|d| d.database)
            .unwrap_or_default();
        if let Some(t) = ws.data_sources.get_mut(&target) {
            t.properties.push(PropertySchema {
                id: synced_id.clone(),
                name: synced_name.clone(),
                kind: "relation".into(),
                description: None,
                config: json!({"database_id": database, "data_source_id": ds_id, "type": "dual_property",
                               "dual_property": {"synced_property_id": prop_id, "synced_property_name": prop_name}}),
            });
        }
        if let Some(ds) = ws.data_sources.get_mut(&ds_id)
            && let Some(p) = ds.properties.iter_mut().find(|p| p.id == prop_id)
        {
            p.config["dual_property"] =
                json!({"synced_property_id": synced_id, "synced_property_name": synced_name});
        }
    }
}

fn rich_text_field(
    ws: &Workspace,
    body: &Map<String, Value>,
    key: &str,
) -> ApiResult<Option<Vec<Value>>> {
    match body.get(key) {
        None => Ok(None),
        Some(value) => Ok(Some(richtext::parse_array(
            ws,
            Some(value),
            &format!("body.{key}"),
        )?)),
    }
}

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
    let icon = super::pages::parse_icon(body.get("icon"), "body.icon", false)?.flatten();
    let cover = super::pages::parse_icon(body.get("cover"), "body.cover", true)?.flatten();
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
    let parent_data = json!({"parent": super::pages::webhook_parent(ws, parent)});
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

/// Applies a schema patch (`null` deletes, `{name}` renames, a config changes type/options).
fn patch_schema(
    ws: &Workspace,
    version: ApiVersion,
    ds: &DataSource,
    value: &Value,
) -> ApiResult<Vec<PropertySchema>> {
    let map = v::object(Some(value), "body.properties")?;
    let mut schema = ds.properties.clone();
    for (key, def) in map {
        let path = format!("body.properties.{key}");
        let position = schema.iter().position(|p| {
            p.name == *key || p.id == *key || p.id == crate::model::percent_decode(key)
        });
        match (position, def) {
            (Some(i), Value::Null) => {
                if schema[i].kind == "title" {
                    return Err(NotionError::validation(
                        "The title property cannot be deleted.",
                    ));
                }
                schema.remove(i);
            }
            (None, Value::Null) => {
                return Err(NotionError::validation(format!(
                    "{key} is not a property that exists."
                )));
            }
            (position, def) => {
                let obj = v::object(Some(def), &path)?;
                let new_name = v::optional_string(obj.get("name"), &format!("{path}.name"))?
                    .map(str::to_string);
                let has_config = obj
                    .keys()
                    .any(|k| properties::SCHEMA_TYPES.contains(&k.as_str()) || k == "type");
                match position {
                    Some(i) => {
                        if has_config {
                            let input = SchemaInput {
                                ws,
                                version,
                                this_data_source: ds.id,
                                existing: &schema,
                            };
                            let name = new_name.clone().unwrap_or_else(|| schema[i].name.clone());
                            let mut replaced = properties::parse_schema(
                                &input,
                                &name,
                                def,
                                &path,
                                Some(schema[i].id.clone()),
                            )?;
                            if replaced.kind == "title" && schema[i].kind != "title" {
                                return Err(NotionError::validation(
                                    "A data source has exactly one title property.",
                                ));
                            }
                            if replaced.kind == schema[i].kind
                                && matches!(
                                    replaced.kind.as_str(),
                                    "select" | "multi_select" | "status"
                                )
                            {
                                // Options named as before keep their ids.
                                let old = schema[i].config["options"]
                                    .as_array()
                                    .cloned()
                                    .unwrap_or_default();
                                if let Some(options) = replaced.config["options"].as_array_mut() {
                                    for option in options.iter_mut() {
                                        if let Some(prev) =
                                            old.iter().find(|o| o["name"] == option["name"])
                                        {
                                            option["id"] = prev["id"].clone();
                                        }
                                    }
                                }
                            }
                            if replaced.description.is_none() {
                                replaced.description = schema[i].description.clone();
                            }
                            schema[i] = replaced;
                        } else if let Some(name) = new_name {
                            schema[i].name = name;
                        }
                    }
                    None => {
                        let input = SchemaInput {
                            ws,
                            version,
                            this_data_source: ds.id,
                            existing: &schema,
                        };
                        let name = new_name.unwrap_or_else(|| key.clone());
                        let prop = properties::parse_schema(&input, &name, def, &path, None)?;
                        if prop.kind == "title" {
                            return Err(NotionError::validation(
                                "A data source has exactly one title property.",
                            ));
                        }
                        schema.push(prop);
                    }
                }
            }
        }
    }
    Ok(schema)
}

fn schema_event(
    ws: &Workspace,
    caller: &Caller,
    ds_id: Id,
    before: &[PropertySchema],
    after: &[PropertySchema],
) -> Event {
    let mut changes = Vec::new();
    for p in after {
        match before.iter().find(|b| b.id == p.id) {
            None => changes.push(json!({"id": p.id, "name": p.name, "action": "created"})),
            Some(b) if b.name != p.name || b.config != p.config || b.kind != p.kind => {
                changes.push(json!({"id": p.id, "name": p.name, "action": "updated"}))
            }
            _ => {}
        }
    }
    for b in before
        .iter()
        .filter(|b| !after.iter().any(|p| p.id == b.id))
    {
        changes.push(json!({"id": b.id, "name": null, "action": "deleted"}));
    }
    let db = ws
        .data_sources
        .get(&ds_id)
        .map(|d| d.database)
        .unwrap_or_default();
    if caller.version.has_data_sources() {
        Event::new(
            "data_source.schema_updated",
            "data_source",
            ds_id,
            caller.actor,
            json!({"parent": {"id": db, "type": "database"}, "updated_properties": changes}),
        )
    } else {
        let parent = ws
            .databases
            .get(&db)
            .map(|d| super::pages::webhook_parent(ws, d.parent))
            .unwrap_or(Value::Null);
        Event::new(
            "database.schema_updated",
            "database",
            db,
            caller.actor,
            json!({"parent": parent, "updated_properties": changes}),
        )
    }
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
    let icon = super::pages::parse_icon(body.get("icon"), "body.icon", false)?;
    let cover = super::pages::parse_icon(body.get("cover"), "body.cover", true)?;
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
            json!({"parent": super::pages::webhook_parent(&ws, parent)}),
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
    let icon = super::pages::parse_icon(body.get("icon"), "body.icon", false)?.flatten();
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
    let icon = super::pages::parse_icon(body.get("icon"), "body.icon", false)?;
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

/// Runs a query on one data source and answers the list in the caller's version.
fn run_query(
    emulator: &Emulator,
    caller: &Caller,
    req: &Req,
    ds_id: Id,
    list_kind: &str,
) -> ApiResult<Value> {
    let body = req.body()?;
    v::only_keys(
        body,
        "body",
        &[
            "filter",
            "sorts",
            "start_cursor",
            "page_size",
            "in_trash",
            "archived",
            "result_type",
            "filter_properties",
        ],
    )?;
    let ws = emulator.workspace();
    let ds = ws
        .data_sources
        .get(&ds_id)
        .ok_or_else(|| NotionError::not_found("data source", ds_id))?;
    let scope = format!("query:{ds_id}");
    let page = pagination::from_body(&scope, body)?;
    let parsed_filter = match body.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(filter::parse(ds, f, "body.filter")?),
    };
    let sorts = match body.get("sorts") {
        None => Vec::new(),
        Some(s) => filter::parse_sorts(ds, s, "body.sorts")?,
    };
    let trash = trash_flag(caller, body)?.unwrap_or(false);
    if let Some(rt) = body.get("result_type") {
        v::one_of(Some(rt), "body.result_type", &["page", "data_source"])?;
    }
    let ctx = caller.ctx(emulator);
    let actor = caller.actor.to_string();
    let mut rows: Vec<&crate::model::Page> = ds
        .rows
        .iter()
        .filter_map(|id| ws.pages.get(id))
        .filter(|p| p.in_trash == trash && !p.is_template)
        .filter(|p| {
            parsed_filter
                .as_ref()
                .is_none_or(|f| filter::matches(&ws, &ctx, p, f, Some(&actor)))
        })
        .collect();
    filter::sort(&ws, &ctx, &mut rows, &sorts);
    let capped = rows.len() > QUERY_RESULT_LIMIT;
    rows.truncate(QUERY_RESULT_LIMIT);
    let slice = pagination::slice(&scope, &rows, page);
    let mut props: Vec<String> = req.query_all("filter_properties");
    if let Some(list) = body.get("filter_properties").and_then(Value::as_array) {
        props.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    let props = (!props.is_empty()).then_some(props);
    let results = slice
        .items
        .iter()
        .map(|p| render::page(&ws, &ctx, p, props.as_deref()))
        .collect();
    let mut out = pagination::envelope(list_kind, results, slice.next_cursor.clone());
    if caller.version.has_data_sources() {
        out["request_status"] = if capped && slice.next_cursor.is_none() {
            json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"})
        } else {
            json!({"type": "complete"})
        };
    }
    Ok(out)
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
