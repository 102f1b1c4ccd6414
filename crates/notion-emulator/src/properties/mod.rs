//! Data-source property types: schema configurations and value writes (with Notion's
//! limits). Reading values back (computed formula, rollup and timestamps, 25-item
//! truncation, property items) is in [`read`].

mod read;

pub use read::{
    PropertyItems, page_properties, page_property_schema, property_items, read_value, related_pages,
};

use rand::RngExt;
use serde_json::{Value, json};

use crate::dates::parse_date;
use crate::error::{ApiResult, NotionError};
use crate::model::{Id, PropertySchema, Workspace};
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
                } else if let Some(upload) = o.get("file_upload") {
                    let (mut stored, _) = crate::uploads::parse_reference(ws, upload, &ipath)?;
                    stored["name"] = json!(name);
                    out.push(stored);
                } else {
                    return v::fail(
                        &ipath,
                        "an object with `external` or `file_upload`",
                        Some(item),
                    );
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
