//! Data-source (and 2022 database) query filters and sorts: validated from the request
//! body with Notion's nesting rules, then evaluated against each row's full values.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::dates::date_instant;
use crate::error::{ApiResult, NotionError};
use crate::model::{DataSource, Page, PropertySchema, Workspace, plain_text};
use crate::properties;
use crate::render::Ctx;
use crate::validate as v;

/// A validated filter tree.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Property {
        schema: PropertySchema,
        condition: Condition,
    },
    Timestamp {
        created: bool,
        condition: Condition,
    },
}

/// A condition on one value, keyed by the value family it was written for.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The filter's type key (`title`, `number`, `formula`, …).
    pub family: String,
    pub operator: String,
    pub operand: Value,
}

const TEXT_OPS: &[&str] = &[
    "equals",
    "does_not_equal",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
];
const NUMBER_OPS: &[&str] = &[
    "equals",
    "does_not_equal",
    "greater_than",
    "less_than",
    "greater_than_or_equal_to",
    "less_than_or_equal_to",
    "is_empty",
    "is_not_empty",
];
const DATE_OPS: &[&str] = &[
    "equals",
    "before",
    "after",
    "on_or_before",
    "on_or_after",
    "past_week",
    "past_month",
    "past_year",
    "this_week",
    "next_week",
    "next_month",
    "next_year",
    "is_empty",
    "is_not_empty",
];
const SELECT_OPS: &[&str] = &["equals", "does_not_equal", "is_empty", "is_not_empty"];
const CONTAINS_OPS: &[&str] = &["contains", "does_not_contain", "is_empty", "is_not_empty"];
const EMPTY_OPS: &[&str] = &["is_empty", "is_not_empty"];

fn family_ops(family: &str) -> Option<&'static [&'static str]> {
    Some(match family {
        "title" | "rich_text" | "url" | "email" | "phone_number" | "string" => TEXT_OPS,
        "number" | "unique_id" => NUMBER_OPS,
        "checkbox" => &["equals", "does_not_equal"],
        "select" | "status" => SELECT_OPS,
        "multi_select" | "people" | "relation" | "created_by" | "last_edited_by" => CONTAINS_OPS,
        "date" | "created_time" | "last_edited_time" => DATE_OPS,
        "files" => EMPTY_OPS,
        "verification" => &["status"],
        _ => return None,
    })
}

/// Which filter keys may be used on a property type.
fn allowed_families(kind: &str) -> &'static [&'static str] {
    match kind {
        "title" | "rich_text" | "url" | "email" | "phone_number" => {
            &["title", "rich_text", "url", "email", "phone_number"]
        }
        "number" => &["number"],
        "unique_id" => &["unique_id"],
        "checkbox" => &["checkbox"],
        "select" => &["select"],
        "status" => &["status"],
        "multi_select" => &["multi_select"],
        "people" | "created_by" | "last_edited_by" => &["people", "created_by", "last_edited_by"],
        "relation" => &["relation"],
        "date" => &["date"],
        "created_time" => &["created_time", "date"],
        "last_edited_time" => &["last_edited_time", "date"],
        "files" => &["files"],
        "formula" => &["formula"],
        "rollup" => &["rollup"],
        _ => &[],
    }
}

pub fn parse(ds: &DataSource, value: &Value, path: &str) -> ApiResult<Filter> {
    parse_level(ds, value, path, 0)
}

fn parse_level(ds: &DataSource, value: &Value, path: &str, depth: usize) -> ApiResult<Filter> {
    let map = v::object(Some(value), path)?;
    for (key, compound) in [("and", true), ("or", false)] {
        if let Some(list) = map.get(key) {
            if depth >= 2 {
                return Err(NotionError::body_validation(format!(
                    "{path}.{key} is nested too deeply: compound filters can be nested at most two levels."
                )));
            }
            let lpath = v::join(path, key);
            let items = v::array(Some(list), &lpath, 100)?;
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_level(ds, item, &v::index(&lpath, i), depth + 1))
                .collect::<ApiResult<Vec<_>>>()?;
            return Ok(if compound {
                Filter::And(parsed)
            } else {
                Filter::Or(parsed)
            });
        }
    }
    if let Some(ts) = map.get("timestamp") {
        let which = v::one_of(
            Some(ts),
            &v::join(path, "timestamp"),
            &["created_time", "last_edited_time"],
        )?;
        let condition = parse_condition(map, which, &v::join(path, which))?;
        return Ok(Filter::Timestamp {
            created: which == "created_time",
            condition,
        });
    }
    let name = v::string(map.get("property"), &v::join(path, "property"))?;
    let schema = ds.property(name).cloned().ok_or_else(|| {
        NotionError::validation(format!("Could not find property with name or id: {name}"))
    })?;
    let family = map
        .keys()
        .find(|k| k.as_str() != "property" && k.as_str() != "type")
        .cloned()
        .ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} should have a condition for property `{name}`."
            ))
        })?;
    if !allowed_families(&schema.kind).contains(&family.as_str()) {
        return Err(NotionError::body_validation(format!(
            "{path}.{family} does not match the type of property `{name}`, which is `{}`.",
            schema.kind
        )));
    }
    let condition = parse_condition(map, &family, &v::join(path, &family))?;
    Ok(Filter::Property { schema, condition })
}

fn parse_condition(map: &Map<String, Value>, family: &str, path: &str) -> ApiResult<Condition> {
    let body = v::object(map.get(family), path)?;
    if family == "formula" {
        let (sub, inner) = body.iter().next().ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} should hold one of `string`, `checkbox`, `number`, `date`."
            ))
        })?;
        let sub_value = json!(sub);
        let sub = v::one_of(
            Some(&sub_value),
            path,
            &["string", "checkbox", "number", "date"],
        )?;
        let mut m = Map::new();
        m.insert(sub.to_string(), inner.clone());
        let c = parse_condition(&m, sub, &v::join(path, sub))?;
        return Ok(Condition {
            family: "formula".into(),
            operator: sub.to_string(),
            operand: json!({"family": c.family, "operator": c.operator, "operand": c.operand}),
        });
    }
    if family == "rollup" {
        let (sub, inner) = body.iter().next().ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} should hold one of `any`, `every`, `none`, `number`, `date`."
            ))
        })?;
        let sub_value = json!(sub);
        let sub = v::one_of(
            Some(&sub_value),
            path,
            &["any", "every", "none", "number", "date"],
        )?;
        let spath = v::join(path, sub);
        let (family, cond) = if sub == "any" || sub == "every" || sub == "none" {
            let inner_map = v::object(Some(inner), &spath)?;
            let (f, _) = inner_map.iter().next().ok_or_else(|| {
                NotionError::body_validation(format!("{spath} should hold a condition."))
            })?;
            (
                f.clone(),
                parse_condition(inner_map, f, &v::join(&spath, f))?,
            )
        } else {
            let mut m = Map::new();
            m.insert(sub.to_string(), inner.clone());
            (sub.to_string(), parse_condition(&m, sub, &spath)?)
        };
        return Ok(Condition {
            family: "rollup".into(),
            operator: sub.to_string(),
            operand: json!({"family": family, "operator": cond.operator, "operand": cond.operand}),
        });
    }
    let ops = family_ops(family).ok_or_else(|| {
        NotionError::body_validation(format!("{path} is not a known filter type."))
    })?;
    let mut entries = body.iter();
    let (op, operand) = match (entries.next(), entries.next()) {
        (Some(one), None) => one,
        _ => {
            return v::fail(
                path,
                "an object with exactly one condition",
                map.get(family),
            );
        }
    };
    if !ops.contains(&op.as_str()) {
        let list = ops
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(NotionError::body_validation(format!(
            "{path} should have one of {list}, instead was `{op}`."
        )));
    }
    let opath = v::join(path, op);
    match op.as_str() {
        "is_empty" | "is_not_empty" => {
            if operand != &json!(true) {
                return v::fail(&opath, "`true`", Some(operand));
            }
        }
        "past_week" | "past_month" | "past_year" | "this_week" | "next_week" | "next_month"
        | "next_year" => {
            v::object(Some(operand), &opath)?;
        }
        _ => match family {
            "number" | "unique_id" => {
                v::number(Some(operand), &opath)?;
            }
            "checkbox" => {
                v::boolean(Some(operand), &opath)?;
            }
            "date" | "created_time" | "last_edited_time" => {
                let s = v::string(Some(operand), &opath)?;
                if relative_date(s).is_none() && date_instant(s).is_none() {
                    return v::fail(&opath, "a valid ISO 8601 date string", Some(operand));
                }
            }
            "select" | "status" => {
                if !operand.is_array() {
                    v::string(Some(operand), &opath)?;
                }
            }
            "people" | "created_by" | "last_edited_by" | "relation" => {
                let s = v::string(Some(operand), &opath)?;
                if s != "me" && crate::ids::parse(s).is_none() {
                    return v::fail(&opath, "a valid uuid", Some(operand));
                }
            }
            _ => {
                v::string(Some(operand), &opath)?;
            }
        },
    }
    Ok(Condition {
        family: family.to_string(),
        operator: op.clone(),
        operand: operand.clone(),
    })
}

fn relative_date(s: &str) -> Option<DateTime<Utc>> {
    let now = Utc::now();
    Some(match s {
        "today" => now,
        "tomorrow" => now + Duration::days(1),
        "yesterday" => now - Duration::days(1),
        "one_week_ago" => now - Duration::weeks(1),
        "one_week_from_now" => now + Duration::weeks(1),
        "one_month_ago" => now - Duration::days(30),
        "one_month_from_now" => now + Duration::days(30),
        _ => return None,
    })
}

/// What a condition is evaluated against.
enum Subject {
    Text(String),
    Number(Option<f64>),
    Bool(bool),
    Option(Option<String>),
    Names(Vec<String>),
    Ids(Vec<String>),
    Date(Option<(DateTime<Utc>, bool)>),
    Files(usize),
}

fn subject(kind: &str, value: &Value) -> Subject {
    match kind {
        "title" | "rich_text" => Subject::Text(plain_text(value)),
        "url" | "email" | "phone_number" | "string" => {
            Subject::Text(value.as_str().unwrap_or_default().to_string())
        }
        "number" => Subject::Number(value.as_f64()),
        "unique_id" => Subject::Number(value["number"].as_f64()),
        "checkbox" | "boolean" => Subject::Bool(value.as_bool().unwrap_or(false)),
        "select" | "status" => Subject::Option(
            value
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        "multi_select" => Subject::Names(
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "people" | "relation" => Subject::Ids(
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "created_by" | "last_edited_by" => Subject::Ids(
            value["id"]
                .as_str()
                .map(|s| vec![s.to_string()])
                .unwrap_or_default(),
        ),
        "created_time" | "last_edited_time" => {
            Subject::Date(value.as_str().and_then(date_instant).map(|d| (d, false)))
        }
        "date" => Subject::Date(
            value
                .get("start")
                .and_then(Value::as_str)
                .and_then(|s| date_instant(s).map(|d| (d, s.len() == 10))),
        ),
        "files" => Subject::Files(value.as_array().map_or(0, Vec::len)),
        _ => Subject::Text(String::new()),
    }
}

fn check(subject: &Subject, op: &str, operand: &Value, actor: Option<&str>) -> bool {
    let now = Utc::now();
    match subject {
        Subject::Text(text) => {
            let needle = operand.as_str().unwrap_or_default();
            match op {
                "equals" => text == needle,
                "does_not_equal" => text != needle,
                "contains" => text.to_lowercase().contains(&needle.to_lowercase()),
                "does_not_contain" => !text.to_lowercase().contains(&needle.to_lowercase()),
                "starts_with" => text.to_lowercase().starts_with(&needle.to_lowercase()),
                "ends_with" => text.to_lowercase().ends_with(&needle.to_lowercase()),
                "is_empty" => text.is_empty(),
                "is_not_empty" => !text.is_empty(),
                _ => false,
            }
        }
        Subject::Number(n) => {
            let x = operand.as_f64().unwrap_or(f64::NAN);
            match (op, n) {
                ("is_empty", n) => n.is_none(),
                ("is_not_empty", n) => n.is_some(),
                (_, None) => false,
                ("equals", Some(n)) => *n == x,
                ("does_not_equal", Some(n)) => *n != x,
                ("greater_than", Some(n)) => *n > x,
                ("less_than", Some(n)) => *n < x,
                ("greater_than_or_equal_to", Some(n)) => *n >= x,
                ("less_than_or_equal_to", Some(n)) => *n <= x,
                _ => false,
            }
        }
        Subject::Bool(b) => match op {
            "equals" => Some(*b) == operand.as_bool(),
            "does_not_equal" => Some(*b) != operand.as_bool(),
            _ => false,
        },
        Subject::Option(name) => {
            let wanted: Vec<&str> = match operand {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            match op {
                "equals" => name.as_deref().is_some_and(|n| wanted.contains(&n)),
                "does_not_equal" => !name.as_deref().is_some_and(|n| wanted.contains(&n)),
                "is_empty" => name.is_none(),
                "is_not_empty" => name.is_some(),
                _ => false,
            }
        }
        Subject::Names(names) | Subject::Ids(names) => {
            let mut wanted = operand.as_str().unwrap_or_default().to_string();
            if wanted == "me" {
                wanted = actor.unwrap_or_default().to_string();
            }
            let wanted = crate::ids::parse(&wanted)
                .map(|u| u.to_string())
                .unwrap_or(wanted);
            let has = names.contains(&wanted);
            match op {
                "contains" => has,
                "does_not_contain" => !has,
                "is_empty" => names.is_empty(),
                "is_not_empty" => !names.is_empty(),
                _ => false,
            }
        }
        Subject::Files(n) => {
            if op == "is_empty" {
                *n == 0
            } else {
                *n > 0
            }
        }
        Subject::Date(date) => {
            if op == "is_empty" {
                return date.is_none();
            }
            if op == "is_not_empty" {
                return date.is_some();
            }
            let Some((d, date_only)) = *date else {
                return false;
            };
            let range = |from: DateTime<Utc>, to: DateTime<Utc>| d >= from && d <= to;
            match op {
                "past_week" => range(now - Duration::weeks(1), now),
                "past_month" => range(now - Duration::days(30), now),
                "past_year" => range(now - Duration::days(365), now),
                "next_week" => range(now, now + Duration::weeks(1)),
                "next_month" => range(now, now + Duration::days(30)),
                "next_year" => range(now, now + Duration::days(365)),
                "this_week" => {
                    let start = (now - Duration::days(now.weekday().num_days_from_sunday() as i64))
                        .date_naive();
                    d.date_naive() >= start && d.date_naive() < start + Duration::days(7)
                }
                _ => {
                    let s = operand.as_str().unwrap_or_default();
                    let Some(x) = relative_date(s).or_else(|| date_instant(s)) else {
                        return false;
                    };
                    let day_only = date_only || s.len() == 10 || relative_date(s).is_some();
                    let (a, b) = if day_only {
                        (
                            d.date_naive()
                                .and_hms_opt(0, 0, 0)
                                .unwrap_or_default()
                                .and_utc(),
                            x.date_naive()
                                .and_hms_opt(0, 0, 0)
                                .unwrap_or_default()
                                .and_utc(),
                        )
                    } else {
                        (d, x)
                    };
                    match op {
                        "equals" => a == b,
                        "before" => a < b,
                        "after" => a > b,
                        "on_or_before" => a <= b,
                        "on_or_after" => a >= b,
                        _ => false,
                    }
                }
            }
        }
    }
}

/// Evaluates a filter on one row. `actor` is the caller's user id, for `"me"`.
pub fn matches(
    ws: &Workspace,
    ctx: &Ctx,
    page: &Page,
    filter: &Filter,
    actor: Option<&str>,
) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| matches(ws, ctx, page, f, actor)),
        Filter::Or(items) => items.iter().any(|f| matches(ws, ctx, page, f, actor)),
        Filter::Timestamp { created, condition } => {
            let t = if *created {
                crate::render::minute_timestamp(page.stamps.created_time)
            } else {
                crate::render::minute_timestamp(page.stamps.last_edited_time)
            };
            let kind = if *created {
                "created_time"
            } else {
                "last_edited_time"
            };
            check(
                &subject(kind, &json!(t)),
                &condition.operator,
                &condition.operand,
                actor,
            )
        }
        Filter::Property { schema, condition } => {
            let full = properties::read_value(ws, ctx, page, schema, false);
            let value = &full[schema.kind.as_str()];
            match condition.family.as_str() {
                "formula" => {
                    let inner = &condition.operand;
                    let ftype = value["type"].as_str().unwrap_or("string");
                    let fvalue = &value[ftype];
                    let kind = if ftype == "boolean" {
                        "checkbox"
                    } else {
                        ftype
                    };
                    let kind = if kind == "date" { "date" } else { kind };
                    check(
                        &subject(kind, fvalue),
                        inner["operator"].as_str().unwrap_or_default(),
                        &inner["operand"],
                        actor,
                    )
                }
                "rollup" => {
                    let inner = &condition.operand;
                    let fam = inner["family"].as_str().unwrap_or_default();
                    let op = inner["operator"].as_str().unwrap_or_default();
                    match condition.operator.as_str() {
                        "number" => check(
                            &subject("number", &value["number"]),
                            op,
                            &inner["operand"],
                            actor,
                        ),
                        "date" => check(
                            &subject("date", &value["date"]),
                            op,
                            &inner["operand"],
                            actor,
                        ),
                        quantifier => {
                            let items = value["array"].as_array().cloned().unwrap_or_default();
                            let test = |item: &Value| {
                                let kind = item["type"].as_str().unwrap_or(fam);
                                check(&subject(kind, &item[kind]), op, &inner["operand"], actor)
                            };
                            match quantifier {
                                "any" => items.iter().any(test),
                                "every" => items.iter().all(test),
                                _ => !items.iter().any(test),
                            }
                        }
                    }
                }
                _ => check(
                    &subject(&schema.kind, value),
                    &condition.operator,
                    &condition.operand,
                    actor,
                ),
            }
        }
    }
}

/// One validated sort key.
#[derive(Debug, Clone)]
pub enum SortKey {
    Property(PropertySchema),
    Created,
    LastEdited,
}

pub fn parse_sorts(ds: &DataSource, value: &Value, path: &str) -> ApiResult<Vec<(SortKey, bool)>> {
    let items = v::array(Some(value), path, 100)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ipath = v::index(path, i);
            let map = v::object(Some(item), &ipath)?;
            let descending = match map.get("direction") {
                Some(d) => {
                    v::one_of(
                        Some(d),
                        &v::join(&ipath, "direction"),
                        &["ascending", "descending"],
                    )? == "descending"
                }
                None => false,
            };
            let key = if let Some(ts) = map.get("timestamp") {
                match v::one_of(
                    Some(ts),
                    &v::join(&ipath, "timestamp"),
                    &["created_time", "last_edited_time"],
                )? {
                    "created_time" => SortKey::Created,
                    _ => SortKey::LastEdited,
                }
            } else {
                let name = v::string(map.get("property"), &v::join(&ipath, "property"))?;
                SortKey::Property(ds.property(name).cloned().ok_or_else(|| {
                    NotionError::validation(format!(
                        "Could not find sort property with name or id: {name}"
                    ))
                })?)
            };
            Ok((key, descending))
        })
        .collect()
}

fn sortable(kind: &str, value: &Value) -> Option<Value> {
    match subject(kind, value) {
        Subject::Text(t) if t.is_empty() => None,
        Subject::Text(t) => Some(json!(t.to_lowercase())),
        Subject::Number(n) => n.map(|n| json!(n)),
        Subject::Bool(b) => Some(json!(b)),
        Subject::Option(o) => o.map(Value::from),
        Subject::Names(n) | Subject::Ids(n) => n.first().cloned().map(Value::from),
        Subject::Date(d) => d.map(|(d, _)| json!(d.timestamp_millis())),
        Subject::Files(n) => Some(json!(n)),
    }
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Sorts rows in place; empty values go last in either direction.
pub fn sort(ws: &Workspace, ctx: &Ctx, rows: &mut [&Page], keys: &[(SortKey, bool)]) {
    if keys.is_empty() {
        rows.sort_by(|a, b| {
            b.stamps
                .created_time
                .cmp(&a.stamps.created_time)
                .then(a.id.cmp(&b.id))
        });
        return;
    }
    let key_of = |page: &Page, key: &SortKey| -> Option<Value> {
        match key {
            SortKey::Created => Some(json!(
                crate::render::round_to_minute(page.stamps.created_time).timestamp_millis()
            )),
            SortKey::LastEdited => Some(json!(
                crate::render::round_to_minute(page.stamps.last_edited_time).timestamp_millis()
            )),
            SortKey::Property(schema) => {
                let full = properties::read_value(ws, ctx, page, schema, false);
                let value = &full[schema.kind.as_str()];
                if schema.kind == "formula" || schema.kind == "rollup" {
                    let t = value["type"].as_str().unwrap_or("string");
                    sortable(t, &value[t])
                } else {
                    sortable(&schema.kind, value)
                }
            }
        }
    };
    let mut keyed: Vec<(Vec<Option<Value>>, &Page)> = rows
        .iter()
        .map(|p| (keys.iter().map(|(k, _)| key_of(p, k)).collect(), *p))
        .collect();
    keyed.sort_by(|(ka, pa), (kb, pb)| {
        for (i, (_, descending)) in keys.iter().enumerate() {
            let ord = match (&ka[i], &kb[i]) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => {
                    let o = compare_values(a, b);
                    if *descending { o.reverse() } else { o }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        pa.stamps
            .created_time
            .cmp(&pb.stamps.created_time)
            .then(pa.id.cmp(&pb.id))
    });
    for (slot, (_, page)) in rows.iter_mut().zip(keyed) {
        *slot = page;
    }
}
