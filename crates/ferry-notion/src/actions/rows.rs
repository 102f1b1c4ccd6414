//! `create-database-row`: plain values mapped onto a data source's schema. Every value is
//! checked against its property's type before anything is sent; a wrong one is refused with
//! the property named and what was expected, never dropped.

use std::collections::BTreeMap;

use ferry_provider::ActionError;
use serde_json::{Map, Value, json};

use super::database::table;
use super::input::{Input, invalid};
use super::{Client, failed};
use crate::checked_id;
use crate::types::PropertySchema;

/// Notion's limit on one text item's content.
const TEXT_CHUNK: usize = 2000;

/// Property types Notion computes: no write can set them.
pub(crate) const READ_ONLY: &[&str] = &[
    "formula",
    "rollup",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "unique_id",
    "button",
];

pub(crate) fn create_input() -> Value {
    json!({
        "type": "object",
        "required": ["databaseId", "properties"],
        "properties": {
            "databaseId": {"type": "string", "description": "A database id, or a data source id"},
            "properties": {
                "type": "object",
                "description": "Property name (any case) → value: text for title, rich_text, select, status, url, email and phone_number; an array of names for multi_select; an ISO date or {start, end, time_zone} for date; a boolean for checkbox; a number; page ids for relation; user ids or emails for people; URLs or {name, url} for files",
                "additionalProperties": true
            }
        },
        "additionalProperties": false
    })
}

pub(crate) fn create_output() -> Value {
    json!({
        "type": "object",
        "required": ["success", "addedProperties"],
        "properties": {
            "success": {"type": "boolean"},
            "id": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "addedProperties": {"type": "array", "items": {
                "type": "object",
                "required": ["propertyKey", "notionValue"],
                "properties": {"propertyKey": {"type": "string"}, "notionValue": {}}
            }}
        }
    })
}

pub(crate) async fn create(notion: &Client<'_>, input: &Input<'_>) -> Result<Value, ActionError> {
    input.only(&["databaseId", "properties"])?;
    let id = input.id("databaseId", "database")?;
    let values = input.object("properties")?;
    let table = table(notion, &id).await?;
    let schema = table.schema();
    let mut emails: Option<BTreeMap<String, String>> = None;
    let mut properties = Map::new();
    let mut added = Vec::new();
    for (key, value) in values {
        let field = format!("properties.{key}");
        let (name, property) = find(schema, key).ok_or_else(|| {
            invalid(
                &field,
                format!(
                    "the database has no property named `{key}` (it has {})",
                    schema
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if properties.contains_key(name) {
            return Err(invalid(
                &field,
                format!("`{name}` is given twice (names match in any case)"),
            ));
        }
        if property.kind == "people" && emails.is_none() && wants_emails(value) {
            emails = Some(user_emails(notion).await?);
        }
        let notion_value = map_value(&field, property, value, emails.as_ref())?;
        properties.insert(name.clone(), notion_value.clone());
        added.push(json!({"propertyKey": name, "notionValue": notion_value}));
    }
    let body = json!({"parent": table.parent(), "properties": properties});
    let page = notion.create_page(&body).await.map_err(failed)?;
    Ok(json!({
        "success": true,
        "id": page.id,
        "url": page.url,
        "addedProperties": added,
    }))
}

/// The property `key` names: by exact name, then by name in any case, then by id.
fn find<'s>(
    schema: &'s BTreeMap<String, PropertySchema>,
    key: &str,
) -> Option<(&'s String, &'s PropertySchema)> {
    schema
        .get_key_value(key)
        .or_else(|| {
            let lower = key.to_lowercase();
            schema.iter().find(|(name, _)| name.to_lowercase() == lower)
        })
        .or_else(|| schema.iter().find(|(_, p)| p.id == key))
}

fn wants_emails(value: &Value) -> bool {
    let is_email = |v: &Value| v.as_str().is_some_and(|s| s.contains('@'));
    is_email(value) || value.as_array().is_some_and(|a| a.iter().any(is_email))
}

async fn user_emails(notion: &Client<'_>) -> Result<BTreeMap<String, String>, ActionError> {
    let users = notion.users().all().await.map_err(failed)?;
    Ok(users
        .iter()
        .filter_map(|u| u.email().map(|e| (e.to_lowercase(), u.id.clone())))
        .collect())
}

/// One value, written the way Notion takes it for the property's type.
fn map_value(
    field: &str,
    property: &PropertySchema,
    value: &Value,
    emails: Option<&BTreeMap<String, String>>,
) -> Result<Value, ActionError> {
    let kind = property.kind.as_str();
    let expected = |what: &str| invalid(field, format!("is a {kind} property and takes {what}"));
    if READ_ONLY.contains(&kind) {
        return Err(invalid(
            field,
            format!("is a {kind} property, which Notion computes; it cannot be written"),
        ));
    }
    let mapped = match (kind, value) {
        ("title" | "rich_text", Value::String(text)) => json!(text_items(text)),
        ("title" | "rich_text", Value::Null) => json!([]),
        ("title" | "rich_text", _) => return Err(expected("text")),
        ("number", Value::Number(_) | Value::Null) => value.clone(),
        ("number", _) => return Err(expected("a number")),
        ("checkbox", Value::Bool(_)) => value.clone(),
        ("checkbox", _) => return Err(expected("true or false")),
        ("url" | "email" | "phone_number", Value::Null) => Value::Null,
        ("email", Value::String(s)) if !s.contains('@') => {
            return Err(expected("an email address"));
        }
        ("url", Value::String(s))
            if !(s.starts_with("http://") || s.starts_with("https://") || s.contains(':')) =>
        {
            return Err(expected("a URL"));
        }
        ("url" | "email" | "phone_number", Value::String(_)) => value.clone(),
        ("url" | "email" | "phone_number", _) => return Err(expected("text")),
        ("select", Value::Null) => Value::Null,
        ("select", Value::String(name)) => json!({"name": option_name(field, name)?}),
        ("select", _) => return Err(expected("an option's name")),
        ("status", Value::String(name)) => {
            let options = option_names(property);
            match options.iter().find(|o| o.eq_ignore_ascii_case(name)) {
                Some(option) => json!({"name": option}),
                None => {
                    return Err(invalid(
                        field,
                        format!(
                            "`{name}` is not a status of this property (it has {})",
                            options
                                .iter()
                                .map(|o| format!("`{o}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        ("status", _) => return Err(expected("the name of one of its statuses")),
        ("multi_select", Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Some(name) = item.as_str() else {
                    return Err(invalid(format!("{field}[{i}]"), "must be an option's name"));
                };
                out.push(json!({"name": option_name(&format!("{field}[{i}]"), name)?}));
            }
            Value::Array(out)
        }
        ("multi_select", Value::String(name)) => json!([{"name": option_name(field, name)?}]),
        ("multi_select", _) => return Err(expected("an array of option names")),
        ("date", Value::Null) => Value::Null,
        ("date", Value::String(start)) => {
            check_date(field, start)?;
            json!({"start": start})
        }
        ("date", Value::Object(date)) => {
            let start = date.get("start").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    format!("{field}.start"),
                    "is required: an ISO 8601 date or date-time",
                )
            })?;
            check_date(&format!("{field}.start"), start)?;
            if let Some(end) = date.get("end").filter(|e| !e.is_null()) {
                let end = end.as_str().ok_or_else(|| {
                    invalid(
                        format!("{field}.end"),
                        "must be an ISO 8601 date or date-time",
                    )
                })?;
                check_date(&format!("{field}.end"), end)?;
            }
            if let Some(unknown) = date
                .keys()
                .find(|k| !["start", "end", "time_zone"].contains(&k.as_str()))
            {
                return Err(invalid(
                    format!("{field}.{unknown}"),
                    "is not a date field (start, end, time_zone)",
                ));
            }
            Value::Object(date.clone())
        }
        ("date", _) => return Err(expected("an ISO 8601 date or {start, end, time_zone}")),
        ("relation", _) => Value::Array(
            ids(field, value, "page")?
                .into_iter()
                .map(|id| json!({"id": id}))
                .collect(),
        ),
        ("people", _) => {
            let mut people = Vec::new();
            for (i, item) in list(value).iter().enumerate() {
                let Some(text) = item.as_str() else {
                    return Err(invalid(
                        format!("{field}[{i}]"),
                        "must be a user id or an email",
                    ));
                };
                let id = if text.contains('@') {
                    emails
                        .and_then(|e| e.get(&text.to_lowercase()))
                        .cloned()
                        .ok_or_else(|| {
                            invalid(
                                format!("{field}[{i}]"),
                                format!("no user of the workspace has the email `{text}`"),
                            )
                        })?
                } else {
                    checked_id("user", text).map_err(|_| {
                        invalid(
                            format!("{field}[{i}]"),
                            format!("`{text}` is neither a user id nor an email"),
                        )
                    })?
                };
                people.push(json!({"id": id}));
            }
            Value::Array(people)
        }
        ("files", _) => {
            let mut files = Vec::new();
            for (i, item) in list(value).iter().enumerate() {
                let at = format!("{field}[{i}]");
                let (name, url) = match item {
                    Value::String(url) => (None, url.as_str()),
                    Value::Object(file) => (
                        file.get("name").and_then(Value::as_str),
                        file.get("url")
                            .and_then(Value::as_str)
                            .ok_or_else(|| invalid(format!("{at}.url"), "is required"))?,
                    ),
                    _ => return Err(invalid(at, "must be a URL or {name, url}")),
                };
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(at, format!("`{url}` is not an http(s) URL")));
                }
                let name = name.map(str::to_string).unwrap_or_else(|| {
                    crate::markdown::file_name(url)
                        .unwrap_or("file")
                        .chars()
                        .take(100)
                        .collect()
                });
                files.push(json!({"name": name, "type": "external", "external": {"url": url}}));
            }
            Value::Array(files)
        }
        // A type Ferry does not map (place, verification, newer ones) goes as Notion's own shape.
        (_, Value::Object(_)) => value.clone(),
        (_, _) => return Err(expected("its value in Notion's own shape (an object)")),
    };
    Ok(json!({ kind: mapped }))
}

fn text_items(text: &str) -> Vec<Value> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(TEXT_CHUNK)
        .map(|chunk| json!({"type": "text", "text": {"content": chunk.iter().collect::<String>()}}))
        .collect()
}

fn option_name<'v>(field: &str, name: &'v str) -> Result<&'v str, ActionError> {
    if name.trim().is_empty() {
        return Err(invalid(field, "an option's name must not be empty"));
    }
    if name.contains(',') {
        return Err(invalid(field, "an option's name cannot hold a comma"));
    }
    if name.chars().count() > 100 {
        return Err(invalid(field, "an option's name is at most 100 characters"));
    }
    Ok(name)
}

fn option_names(property: &PropertySchema) -> Vec<String> {
    property
        .config
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn ids(field: &str, value: &Value, what: &'static str) -> Result<Vec<String>, ActionError> {
    list(value)
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = item
                .as_str()
                .or_else(|| item.get("id").and_then(Value::as_str))
                .ok_or_else(|| invalid(format!("{field}[{i}]"), format!("must be a {what} id")))?;
            checked_id(what, text).map_err(|_| {
                invalid(
                    format!("{field}[{i}]"),
                    format!("`{text}` is not a {what} id"),
                )
            })
        })
        .collect()
}

/// `YYYY-MM-DD`, optionally followed by `T` and a time.
fn check_date(field: &str, text: &str) -> Result<(), ActionError> {
    let bytes = text.as_bytes();
    let date_ok = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
        && (bytes.len() == 10 || (bytes[10] == b'T' && bytes.len() >= 16));
    let month = text
        .get(5..7)
        .and_then(|m| m.parse::<u8>().ok())
        .unwrap_or(0);
    let day = text
        .get(8..10)
        .and_then(|d| d.parse::<u8>().ok())
        .unwrap_or(0);
    if date_ok && (1..=12).contains(&month) && (1..=31).contains(&day) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{text}` is not an ISO 8601 date (2026-01-31) or date-time (2026-01-31T09:00:00Z)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(kind: &str, config: Value) -> PropertySchema {
        serde_json::from_value(json!({"id": "x", "name": "P", "type": kind, kind: config})).unwrap()
    }

    fn map(kind: &str, value: Value) -> Result<Value, ActionError> {
        let config = json!({"options": [{"name": "Done"}, {"name": "In progress"}]});
        map_value("properties.P", &schema(kind, config), &value, None)
    }

    #[test]
    fn plain_values_map_to_notion_values() {
        assert_eq!(
            map("title", json!("Hi")).unwrap(),
            json!({"title": [{"type": "text", "text": {"content": "Hi"}}]})
        );
        assert_eq!(
            map("status", json!("done")).unwrap(),
            json!({"status": {"name": "Done"}})
        );
        assert_eq!(
            map("multi_select", json!(["a", "b"])).unwrap(),
            json!({"multi_select": [{"name": "a"}, {"name": "b"}]})
        );
        assert_eq!(
            map("date", json!("2026-02-01")).unwrap(),
            json!({"date": {"start": "2026-02-01"}})
        );
        assert_eq!(
            map("files", json!(["https://x.test/a.pdf"])).unwrap(),
            json!({"files": [{"name": "a.pdf", "type": "external", "external": {"url": "https://x.test/a.pdf"}}]})
        );
        let long = "x".repeat(4500);
        assert_eq!(
            map("rich_text", json!(long)).unwrap()["rich_text"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn wrong_values_name_the_property() {
        let message = |r: Result<Value, ActionError>| r.unwrap_err().to_string();
        assert_eq!(
            message(map("number", json!("5"))),
            "properties.P: is a number property and takes a number"
        );
        assert!(
            message(map("status", json!("Nope")))
                .contains("`Nope` is not a status of this property (it has `Done`, `In progress`)")
        );
        assert!(message(map("formula", json!(1))).contains("cannot be written"));
        assert!(
            message(map("date", json!("2026-13-01")))
                .starts_with("properties.P: `2026-13-01` is not an ISO 8601 date")
        );
        assert!(
            message(map("date", json!({"end": "2026-01-01"})))
                .starts_with("properties.P.start: is required")
        );
        assert!(
            message(map("relation", json!(["nope"])))
                .starts_with("properties.P[0]: `nope` is not a page id")
        );
        assert!(
            message(map("people", json!(["a@b.test"])))
                .contains("no user of the workspace has the email")
        );
        assert!(message(map("checkbox", json!("yes"))).contains("takes true or false"));
    }
}
