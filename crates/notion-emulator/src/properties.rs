//! Data-source property types: schema configurations, value writes (with Notion's limits),
//! value reads (computed formula, rollup and timestamps; 25-item truncation) and the
//! single items served by the property-item endpoint.

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::{Map, Value, json};

use crate::error::{ApiResult, NotionError};
use crate::model::{DataSource, Id, Page, Parent, PropertySchema, Workspace, plain_text};
use crate::render::Ctx;
use crate::richtext;
use crate::validate as v;
use crate::version::ApiVersion;

/// Arrays in page responses are cut at this many items.
pub const PAGE_VALUE_LIMIT: usize = 25;

pub const SCHEMA_TYPES: &[&str] = &[
    "title",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "people",
    "files",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "formula",
    "relation",
    "rollup",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "unique_id",
];
const READ_ONLY: &[&str] = &[
    "formula",
    "rollup",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "unique_id",
];
const PAGINATED: &[&str] = &["title", "rich_text", "people", "relation", "rollup"];
const SELECT_COLORS: &[&str] = &[
    "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
];
const NUMBER_FORMATS: &[&str] = &[
    "number",
    "number_with_commas",
    "percent",
    "dollar",
    "australian_dollar",
    "canadian_dollar",
    "singapore_dollar",
    "euro",
    "pound",
    "yen",
    "ruble",
    "rupee",
    "won",
    "yuan",
    "real",
    "lira",
    "rupiah",
    "franc",
    "hong_kong_dollar",
    "new_zealand_dollar",
    "krona",
    "norwegian_krone",
    "mexican_peso",
    "rand",
    "new_taiwan_dollar",
    "danish_krone",
    "zloty",
    "baht",
    "forint",
    "koruna",
    "shekel",
    "chilean_peso",
    "philippine_peso",
    "dirham",
    "colombian_peso",
    "riyal",
    "ringgit",
    "leu",
    "argentine_peso",
    "uruguayan_peso",
    "peruvian_sol",
];
pub const ROLLUP_FUNCTIONS: &[&str] = &[
    "count",
    "count_values",
    "empty",
    "not_empty",
    "unique",
    "show_unique",
    "percent_empty",
    "percent_not_empty",
    "sum",
    "average",
    "median",
    "min",
    "max",
    "range",
    "earliest_date",
    "latest_date",
    "date_range",
    "checked",
    "unchecked",
    "percent_checked",
    "percent_unchecked",
    "count_per_group",
    "percent_per_group",
    "show_original",
];

pub fn is_paginated(kind: &str) -> bool {
    PAGINATED.contains(&kind)
}

/// A short property id like Notion's (`title` is reserved for the title property).
pub fn new_property_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn new_option_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Parses `{start, end?, time_zone?}` into the stored date shape.
pub fn parse_date(value: Option<&Value>, path: &str) -> ApiResult<Value> {
    let map = v::object(value, path)?;
    let start = v::string(map.get("start"), &v::join(path, "start"))?;
    check_date(start, &v::join(path, "start"), map.get("start"))?;
    let end = v::optional_string(map.get("end"), &v::join(path, "end"))?;
    if let Some(end) = end {
        check_date(end, &v::join(path, "end"), map.get("end"))?;
    }
    let tz = v::optional_string(map.get("time_zone"), &v::join(path, "time_zone"))?;
    Ok(json!({"start": start, "end": end, "time_zone": tz}))
}

fn check_date(s: &str, path: &str, raw: Option<&Value>) -> ApiResult<()> {
    let ok = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").is_ok();
    if ok {
        Ok(())
    } else {
        v::fail(path, "a valid ISO 8601 date string", raw)
    }
}

/// A date string as an instant, for comparisons (dates count as midnight UTC).
pub fn date_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(d.and_utc());
    }
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

// ---------------------------------------------------------------------------------------
// Schema configurations

/// What a relation config needs to resolve its target.
pub struct SchemaInput<'a> {
    pub ws: &'a Workspace,
    pub version: ApiVersion,
    /// The data source being defined, for self-relations and rollups.
    pub this_data_source: Id,
    pub existing: &'a [PropertySchema],
}

/// Parses one property definition (`{"number":{"format":"dollar"}}`) into a schema entry.
/// `dual` collects relations whose other side must get a synced property.
pub fn parse_schema(
    input: &SchemaInput<'_>,
    name: &str,
    value: &Value,
    path: &str,
    keep_id: Option<String>,
) -> ApiResult<PropertySchema> {
    let map = v::object(Some(value), path)?;
    let description = v::optional_string(map.get("description"), &v::join(path, "description"))?
        .map(str::to_string);
    let kind = match map.get("type") {
        Some(t) => v::one_of(Some(t), &v::join(path, "type"), SCHEMA_TYPES)?.to_string(),
        None => map
            .keys()
            .find(|k| SCHEMA_TYPES.contains(&k.as_str()))
            .cloned()
            .ok_or_else(|| {
                NotionError::body_validation(format!(
                    "{path} should be a property schema with one of the known types, instead was `{}`.",
                    v::describe(Some(value))
                ))
            })?,
    };
    let cpath = v::join(path, &kind);
    let raw = map.get(&kind).cloned().unwrap_or_else(|| json!({}));
    let config = match kind.as_str() {
        "number" => {
            let c = v::object(Some(&raw), &cpath)?;
            let format = match c.get("format") {
                Some(f) => v::one_of(Some(f), &v::join(&cpath, "format"), NUMBER_FORMATS)?,
                None => "number",
            };
            json!({"format": format})
        }
        "select" | "multi_select" => {
            let c = v::object(Some(&raw), &cpath)?;
            json!({"options": parse_options(c.get("options"), &v::join(&cpath, "options"))?})
        }
        "status" => {
            let c = v::object(Some(&raw), &cpath)?;
            let mut options = parse_options(c.get("options"), &v::join(&cpath, "options"))?;
            if options.is_empty() {
                for (name, color) in [
                    ("Not started", "default"),
                    ("In progress", "blue"),
                    ("Done", "green"),
                ] {
                    options.push(json!({"id": new_option_id(), "name": name, "color": color, "description": null}));
                }
            }
            json!({"options": options, "groups": status_groups(&options)})
        }
        "formula" => {
            let c = v::object(Some(&raw), &cpath)?;
            json!({"expression": v::string(c.get("expression"), &v::join(&cpath, "expression"))?})
        }
        "unique_id" => {
            let c = v::object(Some(&raw), &cpath)?;
            json!({"prefix": v::optional_string(c.get("prefix"), &v::join(&cpath, "prefix"))?})
        }
        "relation" => parse_relation_config(input, &raw, &cpath)?,
        "rollup" => parse_rollup_config(input, &raw, &cpath)?,
        _ => {
            v::object(Some(&raw), &cpath)?;
            json!({})
        }
    };
    let id = match keep_id {
        Some(id) => id,
        None if kind == "title" => "title".to_string(),
        None => new_property_id(),
    };
    Ok(PropertySchema {
        id,
        name: name.to_string(),
        kind,
        description,
        config,
    })
}

fn parse_options(value: Option<&Value>, path: &str) -> ApiResult<Vec<Value>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = v::array(Some(value), path, 100)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ipath = v::index(path, i);
            let o = v::object(Some(item), &ipath)?;
            let name = v::string_max(o.get("name"), &v::join(&ipath, "name"), 100)?;
            if name.contains(',') {
                return v::fail(&v::join(&ipath, "name"), "a string without commas", o.get("name"));
            }
            let color = match o.get("color") {
                Some(c) => v::one_of(Some(c), &v::join(&ipath, "color"), SELECT_COLORS)?,
                None => "default",
            };
            let description = v::optional_string(o.get("description"), &v::join(&ipath, "description"))?;
            Ok(json!({"id": new_option_id(), "name": name, "color": color, "description": description}))
        })
        .collect()
}

fn status_groups(options: &[Value]) -> Value {
    let ids = |range: std::ops::Range<usize>| -> Vec<Value> {
        options
            .iter()
            .skip(range.start)
            .take(range.len())
            .map(|o| o["id"].clone())
            .collect()
    };
    let n = options.len();
    json!([
        {"id": new_option_id(), "name": "To-do", "color": "gray", "option_ids": ids(0..1.min(n))},
        {"id": new_option_id(), "name": "In progress", "color": "blue", "option_ids": ids(1.min(n)..(n.saturating_sub(1)).max(1.min(n)))},
        {"id": new_option_id(), "name": "Complete", "color": "green", "option_ids": ids((n.saturating_sub(1)).max(1.min(n))..n)},
    ])
}

fn parse_relation_config(input: &SchemaInput<'_>, raw: &Value, path: &str) -> ApiResult<Value> {
    let c = v::object(Some(raw), path)?;
    let ws = input.ws;
    let (data_source, database) = if let Some(ds) = c.get("data_source_id") {
        let ds_id = v::id(Some(ds), &v::join(path, "data_source_id"))?;
        let database = if ds_id == input.this_data_source {
            None
        } else {
            Some(
                ws.data_sources
                    .get(&ds_id)
                    .ok_or_else(|| NotionError::not_found("data source", ds_id))?
                    .database,
            )
        };
        (ds_id, database)
    } else {
        let db_id = v::id(c.get("database_id"), &v::join(path, "database_id"))?;
        let db = ws
            .databases
            .get(&db_id)
            .ok_or_else(|| NotionError::not_found("database", db_id))?;
        if db.data_sources.len() > 1 {
            return Err(multiple_sources_error(db_id));
        }
        (db.data_sources[0], Some(db_id))
    };
    let database = database.unwrap_or_else(|| {
        ws.data_sources
            .get(&input.this_data_source)
            .map(|d| d.database)
            .unwrap_or_default()
    });
    let kind = match c.get("type") {
        Some(t) => v::one_of(
            Some(t),
            &v::join(path, "type"),
            &["single_property", "dual_property"],
        )?,
        None if c.contains_key("dual_property") => "dual_property",
        None => "single_property",
    };
    if kind == "dual_property" {
        Ok(
            json!({"database_id": database, "data_source_id": data_source, "type": "dual_property",
                  "dual_property": {"synced_property_id": "", "synced_property_name": ""}}),
        )
    } else {
        Ok(
            json!({"database_id": database, "data_source_id": data_source, "type": "single_property", "single_property": {}}),
        )
    }
}

pub fn multiple_sources_error(database: Id) -> NotionError {
    NotionError::validation(format!(
        "Databases with multiple data sources are not supported in this API version. Database {database} has more than one data source; use Notion-Version 2025-09-03 or later and address a data source."
    ))
}

fn parse_rollup_config(input: &SchemaInput<'_>, raw: &Value, path: &str) -> ApiResult<Value> {
    let c = v::object(Some(raw), path)?;
    let function = v::one_of(
        c.get("function"),
        &v::join(path, "function"),
        ROLLUP_FUNCTIONS,
    )?;
    let relation_key = c
        .get("relation_property_name")
        .or_else(|| c.get("relation_property_id"))
        .ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path}.relation_property_name should be defined, instead was `undefined`."
            ))
        })?;
    let relation_key = v::string(Some(relation_key), &v::join(path, "relation_property_name"))?;
    let relation = input
        .existing
        .iter()
        .find(|p| p.kind == "relation" && (p.name == relation_key || p.id == relation_key))
        .ok_or_else(|| NotionError::body_validation(format!("{path}.relation_property_name should name a relation property, instead was `\"{relation_key}\"`.")))?;
    let target_ds = relation.config["data_source_id"]
        .as_str()
        .and_then(crate::ids::parse);
    let target = target_ds.and_then(|id| input.ws.data_sources.get(&id));
    let rollup_key = c
        .get("rollup_property_name")
        .or_else(|| c.get("rollup_property_id"));
    let rollup_key = v::string(rollup_key, &v::join(path, "rollup_property_name"))?;
    let rolled = target
        .and_then(|t| t.property(rollup_key))
        .or_else(|| if target_ds == Some(input.this_data_source) { input.existing.iter().find(|p| p.name == rollup_key || p.id == rollup_key) } else { None })
        .ok_or_else(|| NotionError::body_validation(format!("{path}.rollup_property_name should name a property of the related data source, instead was `\"{rollup_key}\"`.")))?;
    Ok(json!({
        "function": function,
        "relation_property_id": relation.id, "relation_property_name": relation.name,
        "rollup_property_id": rolled.id, "rollup_property_name": rolled.name,
    }))
}

/// The schema entry rendered for a data source (or a 2022-06-28 database).
pub fn render_schema(p: &PropertySchema, version: ApiVersion) -> Value {
    let mut config = p.config.clone();
    if p.kind == "relation"
        && !version.has_data_sources()
        && let Some(map) = config.as_object_mut()
    {
        map.remove("data_source_id");
    }
    let mut out = json!({"id": p.id, "name": p.name, "type": p.kind});
    if version.has_data_sources() {
        out["description"] = json!(p.description.as_ref().map(|d| vec![richtext::text(d)]));
    } else {
        out["description"] = json!(p.description);
    }
    out[p.kind.as_str()] = config;
    out
}

// ---------------------------------------------------------------------------------------
// Value writes

/// Turns a written value into the stored value. Select options unknown by name are added to
/// `schema`. Returns `None` for read-only properties (an error) or the stored value.
pub fn write_value(
    ws: &Workspace,
    version: ApiVersion,
    schema: &mut PropertySchema,
    value: &Value,
    path: &str,
) -> ApiResult<Value> {
    if READ_ONLY.contains(&schema.kind.as_str()) {
        return Err(NotionError::body_validation(format!(
            "{path} is a `{}` property, which cannot be written.",
            schema.kind
        )));
    }
    let kind = schema.kind.clone();
    let inner = match value.as_object() {
        Some(map) => {
            if let Some(t) = map.get("type") {
                let t = v::string(Some(t), &v::join(path, "type"))?;
                if t != kind {
                    return v::fail(
                        &v::join(path, "type"),
                        &format!("`{kind}`"),
                        Some(&json!(t)),
                    );
                }
            }
            match map.get(&kind) {
                Some(inner) => inner,
                None => {
                    return Err(NotionError::body_validation(format!(
                        "{}.{kind} should be defined, instead was `undefined`.",
                        path
                    )));
                }
            }
        }
        None => return v::fail(path, "an object", Some(value)),
    };
    let vpath = v::join(path, &kind);
    let stored = match kind.as_str() {
        "title" | "rich_text" => json!(richtext::parse_array(ws, Some(inner), &vpath)?),
        "number" => match inner {
            Value::Null => Value::Null,
            other => json!(v::number(Some(other), &vpath)?),
        },
        "checkbox" => json!(v::boolean(Some(inner), &vpath)?),
        "url" => opt_string_max(inner, &vpath, 2000)?,
        "email" | "phone_number" => opt_string_max(inner, &vpath, 200)?,
        "date" => match inner {
            Value::Null => Value::Null,
            other => parse_date(Some(other), &vpath)?,
        },
        "select" | "status" => match inner {
            Value::Null => Value::Null,
            other => pick_option(schema, other, &vpath, kind == "select")?,
        },
        "multi_select" => {
            let items = v::array(Some(inner), &vpath, 100)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push(pick_option(schema, item, &v::index(&vpath, i), true)?);
            }
            json!(out)
        }
        "people" => {
            let items = v::array(Some(inner), &vpath, 100)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ipath = v::index(&vpath, i);
                let id = v::id(
                    v::object(Some(item), &ipath)?.get("id"),
                    &v::join(&ipath, "id"),
                )?;
                if ws.user(id).is_none() {
                    return v::fail(
                        &v::join(&ipath, "id"),
                        "the id of a user in this workspace",
                        item.get("id"),
                    );
                }
                out.push(json!({"object": "user", "id": id}));
            }
            json!(out)
        }
        "relation" => {
            let items = v::array(Some(inner), &vpath, 100)?;
            if !version.has_data_sources()
                && let Some(db) = schema.config["database_id"]
                    .as_str()
                    .and_then(crate::ids::parse)
                && ws
                    .databases
                    .get(&db)
                    .is_some_and(|d| d.data_sources.len() > 1)
            {
                return Err(multiple_sources_error(db));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ipath = v::index(&vpath, i);
                let id = v::id(
                    v::object(Some(item), &ipath)?.get("id"),
                    &v::join(&ipath, "id"),
                )?;
                if !ws.pages.contains_key(&id) {
                    return Err(NotionError::not_found("page", id));
                }
                if !out.iter().any(|o: &Value| o["id"] == json!(id)) {
                    out.push(json!({"id": id}));
                }
            }
            json!(out)
        }
        "files" => {
            let items = v::array(Some(inner), &vpath, 100)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ipath = v::index(&vpath, i);
                let o = v::object(Some(item), &ipath)?;
                let name = v::string_max(o.get("name"), &v::join(&ipath, "name"), 100)?;
                if let Some(ext) = o.get("external") {
                    let url = v::string_max(
                        v::object(Some(ext), &v::join(&ipath, "external"))?.get("url"),
                        &format!("{ipath}.external.url"),
                        2000,
                    )?;
                    out.push(json!({"name": name, "type": "external", "external": {"url": url}}));
                } else {
                    return v::fail(&ipath, "an object with `external`", Some(item));
                }
            }
            json!(out)
        }
        other => {
            return Err(NotionError::body_validation(format!(
                "{path} has unsupported type `{other}`."
            )));
        }
    };
    Ok(stored)
}

fn opt_string_max(value: &Value, path: &str, max: usize) -> ApiResult<Value> {
    match value {
        Value::Null => Ok(Value::Null),
        other => Ok(json!(v::string_max(Some(other), path, max)?)),
    }
}

fn pick_option(
    schema: &mut PropertySchema,
    value: &Value,
    path: &str,
    may_create: bool,
) -> ApiResult<Value> {
    let o = v::object(Some(value), path)?;
    let options = schema.config["options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = if let Some(id) = o.get("id") {
        let id = v::string(Some(id), &v::join(path, "id"))?;
        let found = options.iter().find(|opt| opt["id"] == id);
        if found.is_none() {
            return v::fail(
                &v::join(path, "id"),
                "the id of an existing option",
                Some(&json!(id)),
            );
        }
        found.cloned()
    } else {
        let name = v::string_max(o.get("name"), &v::join(path, "name"), 100)?;
        match options.iter().find(|opt| opt["name"] == name) {
            Some(opt) => Some(opt.clone()),
            None if may_create => {
                if name.contains(',') {
                    return v::fail(
                        &v::join(path, "name"),
                        "a string without commas",
                        o.get("name"),
                    );
                }
                let option = json!({"id": new_option_id(), "name": name, "color": "default", "description": null});
                if let Some(list) = schema.config["options"].as_array_mut() {
                    list.push(option.clone());
                }
                Some(option)
            }
            None => {
                return v::fail(
                    &v::join(path, "name"),
                    "the name of an existing option",
                    Some(&json!(name)),
                );
            }
        }
    };
    let opt = found.unwrap_or(Value::Null);
    Ok(json!({"id": opt["id"], "name": opt["name"], "color": opt["color"]}))
}

// ---------------------------------------------------------------------------------------
// Value reads

fn user_value(ws: &Workspace, ctx: &Ctx, id: Id) -> Value {
    ws.user(id)
        .map(|u| crate::render::user(ws, ctx, u))
        .unwrap_or_else(|| json!({"object": "user", "id": id}))
}

fn people_value(ws: &Workspace, ctx: &Ctx, stored: &Value) -> Vec<Value> {
    stored
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["id"].as_str().and_then(crate::ids::parse))
                .map(|id| user_value(ws, ctx, id))
                .collect()
        })
        .unwrap_or_default()
}

fn files_value(ctx: &Ctx, stored: &Value) -> Value {
    let items = stored.as_array().cloned().unwrap_or_default();
    json!(
        items
            .into_iter()
            .map(|f| crate::render::file_object(ctx, f))
            .collect::<Vec<_>>()
    )
}

/// The full value of one property of a page, `{id, type, <type>: …}`.
pub fn read_value(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    schema: &PropertySchema,
    truncate: bool,
) -> Value {
    let inner = read_inner(ws, ctx, page, schema, truncate, 0);
    let mut out = json!({"id": schema.id, "type": schema.kind});
    out[schema.kind.as_str()] = inner;
    out
}

fn cut(items: Vec<Value>, truncate: bool) -> Vec<Value> {
    if truncate {
        items.into_iter().take(PAGE_VALUE_LIMIT).collect()
    } else {
        items
    }
}

fn read_inner(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    schema: &PropertySchema,
    truncate: bool,
    depth: u8,
) -> Value {
    let stored = page.properties.get(&schema.id);
    match schema.kind.as_str() {
        "title" | "rich_text" | "relation" => {
            json!(cut(
                stored
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                truncate
            ))
        }
        "multi_select" | "files" if stored.is_none() => json!([]),
        "files" => files_value(ctx, stored.unwrap_or(&Value::Null)),
        "multi_select" => stored.cloned().unwrap_or_else(|| json!([])),
        "people" => json!(cut(
            people_value(ws, ctx, stored.unwrap_or(&Value::Null)),
            truncate
        )),
        "checkbox" => stored.cloned().unwrap_or(json!(false)),
        "created_time" => json!(crate::render::minute_timestamp(page.stamps.created_time)),
        "last_edited_time" => json!(crate::render::minute_timestamp(
            page.stamps.last_edited_time
        )),
        "created_by" => json!({"object": "user", "id": page.stamps.created_by}),
        "last_edited_by" => json!({"object": "user", "id": page.stamps.last_edited_by}),
        "unique_id" => json!({
            "prefix": schema.config["prefix"],
            "number": stored.and_then(|s| s.get("number")).cloned().unwrap_or(Value::Null),
        }),
        "formula" => formula(ws, ctx, page, schema, depth),
        "rollup" => rollup(ws, ctx, page, schema, truncate, depth),
        _ => stored.cloned().unwrap_or(Value::Null),
    }
}

fn data_source_of<'a>(ws: &'a Workspace, page: &Page) -> Option<&'a DataSource> {
    match page.parent {
        Parent::DataSource { id, .. } => ws.data_sources.get(&id),
        _ => None,
    }
}

/// Formulas support `prop("Name")` and literals; anything else evaluates to an empty string.
fn formula(ws: &Workspace, ctx: &Ctx, page: &Page, schema: &PropertySchema, depth: u8) -> Value {
    let expression = schema.config["expression"]
        .as_str()
        .unwrap_or_default()
        .trim();
    let referenced = expression
        .strip_prefix("prop(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .and_then(|name| data_source_of(ws, page)?.property(name).cloned());
    if let Some(target) = referenced.filter(|_| depth < 3) {
        let value = read_inner(ws, ctx, page, &target, true, depth + 1);
        return match target.kind.as_str() {
            "number" => json!({"type": "number", "number": value}),
            "checkbox" => json!({"type": "boolean", "boolean": value}),
            "date" => json!({"type": "date", "date": value}),
            "created_time" | "last_edited_time" => {
                json!({"type": "date", "date": {"start": value, "end": null, "time_zone": null}})
            }
            "title" | "rich_text" => json!({"type": "string", "string": plain_text(&value)}),
            "select" | "status" => {
                json!({"type": "string", "string": value.get("name").cloned().unwrap_or(Value::Null)})
            }
            _ => json!({"type": "string", "string": value.as_str().map(str::to_string)}),
        };
    }
    if let Ok(n) = expression.parse::<f64>() {
        return json!({"type": "number", "number": n});
    }
    if expression == "true" || expression == "false" {
        return json!({"type": "boolean", "boolean": expression == "true"});
    }
    let literal = expression
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or("");
    json!({"type": "string", "string": literal})
}

/// Related pages of a page through a relation property.
pub fn related_pages(page: &Page, relation_property: &str) -> Vec<Id> {
    page.properties
        .get(relation_property)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().and_then(crate::ids::parse))
                .collect()
        })
        .unwrap_or_default()
}

fn rollup(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    schema: &PropertySchema,
    truncate: bool,
    depth: u8,
) -> Value {
    let function = schema.config["function"]
        .as_str()
        .unwrap_or("count")
        .to_string();
    let relation_id = schema.config["relation_property_id"]
        .as_str()
        .unwrap_or_default();
    let rolled_id = schema.config["rollup_property_id"]
        .as_str()
        .unwrap_or_default();
    let related: Vec<&Page> = related_pages(page, relation_id)
        .iter()
        .filter_map(|id| ws.pages.get(id))
        .collect();
    let values: Vec<(String, Value)> = if depth < 3 {
        related
            .iter()
            .filter_map(|p| {
                let ds = data_source_of(ws, p)?;
                let target = ds.properties.iter().find(|s| s.id == rolled_id)?;
                Some((
                    target.kind.clone(),
                    read_inner(ws, ctx, p, target, true, depth + 1),
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    let is_empty = |v: &Value| match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    };
    let numbers: Vec<f64> = values.iter().filter_map(|(_, v)| v.as_f64()).collect();
    let total = values.len() as f64;
    let number = |n: Option<f64>| json!({"type": "number", "number": n, "function": function});
    match function.as_str() {
        "count" => number(Some(related.len() as f64)),
        "count_values" => number(Some(
            values.iter().filter(|(_, v)| !is_empty(v)).count() as f64
        )),
        "empty" => number(Some(
            values.iter().filter(|(_, v)| is_empty(v)).count() as f64
        )),
        "not_empty" => number(Some(
            values.iter().filter(|(_, v)| !is_empty(v)).count() as f64
        )),
        "unique" => {
            let mut seen: Vec<String> = values.iter().map(|(_, v)| v.to_string()).collect();
            seen.sort();
            seen.dedup();
            number(Some(seen.len() as f64))
        }
        "percent_empty" | "percent_not_empty" if total > 0.0 => {
            let empty = values.iter().filter(|(_, v)| is_empty(v)).count() as f64;
            number(Some(if function == "percent_empty" {
                empty / total
            } else {
                1.0 - empty / total
            }))
        }
        "checked" | "unchecked" | "percent_checked" | "percent_unchecked" => {
            let checked = values.iter().filter(|(_, v)| v == &json!(true)).count() as f64;
            let n = match function.as_str() {
                "checked" => checked,
                "unchecked" => total - checked,
                "percent_checked" if total > 0.0 => checked / total,
                "percent_unchecked" if total > 0.0 => 1.0 - checked / total,
                _ => 0.0,
            };
            number(Some(n))
        }
        "sum" => number(Some(numbers.iter().sum())),
        "average" => number(
            (!numbers.is_empty()).then(|| numbers.iter().sum::<f64>() / numbers.len() as f64),
        ),
        "min" => number(numbers.iter().copied().reduce(f64::min)),
        "max" => number(numbers.iter().copied().reduce(f64::max)),
        "range" => number(
            numbers
                .iter()
                .copied()
                .reduce(f64::max)
                .zip(numbers.iter().copied().reduce(f64::min))
                .map(|(a, b)| a - b),
        ),
        "median" => {
            let mut sorted = numbers.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            number((n > 0).then(|| {
                if n % 2 == 1 {
                    sorted[n / 2]
                } else {
                    (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
                }
            }))
        }
        "earliest_date" | "latest_date" => {
            let mut dates: Vec<(DateTime<Utc>, Value)> = values
                .iter()
                .filter_map(|(_, v)| {
                    let start = v.get("start").and_then(Value::as_str).or(v.as_str())?;
                    Some((
                        date_instant(start)?,
                        json!({"start": start, "end": null, "time_zone": null}),
                    ))
                })
                .collect();
            dates.sort_by_key(|(d, _)| *d);
            let pick = if function == "earliest_date" {
                dates.first()
            } else {
                dates.last()
            };
            json!({"type": "date", "date": pick.map(|(_, v)| v.clone()), "function": function})
        }
        "show_original" | "show_unique" => {
            let items: Vec<Value> = values
                .into_iter()
                .map(|(kind, value)| {
                    let mut item = json!({"type": kind});
                    item[kind.as_str()] = value;
                    item
                })
                .collect();
            json!({"type": "array", "array": cut(items, truncate), "function": function})
        }
        _ => json!({"type": "unsupported", "unsupported": {}, "function": function}),
    }
}

/// Every property value of a page (data-source rows by schema, other pages just `title`).
pub fn page_properties(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    filter: Option<&[String]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    match data_source_of(ws, page) {
        Some(ds) => {
            for schema in &ds.properties {
                if let Some(filter) = filter {
                    let decoded = |s: &str| crate::model::percent_decode(s);
                    if !filter.iter().any(|f| {
                        f == &schema.id || f == &schema.name || decoded(f) == decoded(&schema.id)
                    }) {
                        continue;
                    }
                }
                out.insert(schema.name.clone(), read_value(ws, ctx, page, schema, true));
            }
        }
        None => {
            let title = page
                .properties
                .get("title")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if filter.is_none_or(|f| f.iter().any(|x| x == "title")) {
                out.insert(
                    "title".into(),
                    json!({"id": "title", "type": "title", "title": cut(title, true)}),
                );
            }
        }
    }
    out
}

/// The schema a page's property id or name refers to (pages outside data sources only have `title`).
pub fn page_property_schema(ws: &Workspace, page: &Page, key: &str) -> Option<PropertySchema> {
    match data_source_of(ws, page) {
        Some(ds) => ds.property(key).cloned(),
        None if key == "title" => Some(PropertySchema {
            id: "title".into(),
            name: "title".into(),
            kind: "title".into(),
            description: None,
            config: json!({}),
        }),
        None => None,
    }
}

/// The property-item endpoint: one item, or all items of a paginated type (untruncated).
pub enum PropertyItems {
    Single(Value),
    List {
        kind: String,
        items: Vec<Value>,
        rollup: Option<Value>,
    },
}

pub fn property_items(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    schema: &PropertySchema,
) -> PropertyItems {
    let value = read_inner(ws, ctx, page, schema, false, 0);
    let item = |kind: &str, v: Value| {
        let mut out = json!({"object": "property_item", "id": schema.id, "type": kind});
        out[kind] = v;
        out
    };
    match schema.kind.as_str() {
        "title" | "rich_text" | "people" => PropertyItems::List {
            kind: schema.kind.clone(),
            items: value
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|v| item(&schema.kind, v))
                .collect(),
            rollup: None,
        },
        "relation" => PropertyItems::List {
            kind: "relation".into(),
            items: value
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|v| item("relation", v))
                .collect(),
            rollup: None,
        },
        "rollup" => {
            let relation_id = schema.config["relation_property_id"]
                .as_str()
                .unwrap_or_default();
            let items = related_pages(page, relation_id)
                .into_iter()
                .map(|id| item("relation", json!({"id": id})))
                .collect();
            let mut summary = value.clone();
            if summary["type"] == "array" {
                summary["array"] = json!([]);
            }
            PropertyItems::List {
                kind: "rollup".into(),
                items,
                rollup: Some(summary),
            }
        }
        _ => PropertyItems::Single(item(&schema.kind, value)),
    }
}
