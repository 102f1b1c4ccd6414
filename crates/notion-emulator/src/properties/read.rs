//! Reading property values: the full value of each property of a page (formula, rollup and
//! timestamps computed; arrays cut at 25 items in page responses) and the items the
//! property-item endpoint pages through.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::PAGE_VALUE_LIMIT;
use crate::dates::date_instant;
use crate::model::{DataSource, Id, Page, Parent, PropertySchema, Workspace, plain_text};
use crate::render::Ctx;

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
