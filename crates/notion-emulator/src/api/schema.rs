//! What databases (2022-06-28) and data sources (2025-09-03+) share: finding them, parsing
//! and patching property schemas, schema-change events, and running a query with its
//! filters, sorts and the 10,000-result cap.

use serde_json::{Map, Value, json};

use crate::error::{ApiResult, NotionError};
use crate::filter;
use crate::http::{Caller, Req, trash_flag};
use crate::model::{DataSource, Database, Id, PropertySchema, Workspace};
use crate::properties::{self, SchemaInput};
use crate::richtext;
use crate::validate as v;
use crate::version::ApiVersion;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

/// One query answers at most this many results, then reports `request_status: incomplete`
/// (Notion's cap; the admin settings' `query_result_limit` lowers it for tests).
pub const QUERY_RESULT_LIMIT: usize = 10_000;

pub(super) fn find_database<'a>(
    ws: &'a Workspace,
    caller: &Caller,
    id: Id,
) -> ApiResult<&'a Database> {
    ws.databases
        .get(&id)
        .filter(|_| caller.can_see(ws, id))
        .ok_or_else(|| NotionError::not_found("database", id))
}

pub(super) fn find_data_source<'a>(
    ws: &'a Workspace,
    caller: &Caller,
    id: Id,
) -> ApiResult<&'a DataSource> {
    ws.data_sources
        .get(&id)
        .filter(|_| caller.can_see(ws, id))
        .ok_or_else(|| NotionError::not_found("data source", id))
}

pub(super) fn require_data_sources(caller: &Caller) -> ApiResult<()> {
    if caller.version.has_data_sources() {
        Ok(())
    } else {
        Err(NotionError::invalid_request_url())
    }
}

/// The single data source behind a database, for classic (2022-06-28) calls.
pub(super) fn classic_source(db: &Database) -> ApiResult<Id> {
    match db.data_sources.as_slice() {
        [only] => Ok(*only),
        _ => Err(properties::multiple_sources_error(db.id)),
    }
}

/// Parses a `properties` object of schema definitions into a new schema list.
pub(super) fn parse_new_schema(
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
pub(super) fn link_dual_relations(ws: &mut Workspace, ds_id: Id) {
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

pub(super) fn rich_text_field(
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

/// Applies a schema patch (`null` deletes, `{name}` renames, a config changes type/options).
pub(super) fn patch_schema(
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

pub(super) fn schema_event(
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
            .map(|d| crate::webhooks::event_parent(ws, d.parent))
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

/// The rows of `ds` a query shows: those passing every filter (templates left out, trashed
/// rows only when `in_trash`), in `sorts` order, cut at the query result limit; and whether
/// they were cut. Data source queries and view queries both read rows through it.
pub(super) fn matching_rows<'w>(
    emulator: &Emulator,
    caller: &Caller,
    ws: &'w crate::model::Workspace,
    ds: &crate::model::DataSource,
    filters: &[filter::Filter],
    sorts: &[(filter::SortKey, bool)],
    in_trash: bool,
) -> (Vec<&'w crate::model::Page>, bool) {
    let ctx = caller.ctx(emulator);
    let actor = caller.actor.to_string();
    let mut rows: Vec<&crate::model::Page> = ds
        .rows
        .iter()
        .filter_map(|id| ws.pages.get(id))
        .filter(|p| p.in_trash == in_trash && !p.is_template)
        .filter(|p| {
            filters
                .iter()
                .all(|f| filter::matches(ws, &ctx, p, f, Some(&actor)))
        })
        .collect();
    filter::sort(ws, &ctx, &mut rows, sorts);
    let limit = emulator.settings().query_result_limit;
    let capped = rows.len() > limit;
    rows.truncate(limit);
    (rows, capped)
}

/// Runs a query on one data source and answers the list in the caller's version.
pub(super) fn run_query(
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
    let (rows, capped) = matching_rows(
        emulator,
        caller,
        &ws,
        ds,
        parsed_filter.as_slice(),
        &sorts,
        trash,
    );
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
