//! Reading untrusted JSON bodies with Notion's path-style `validation_error` messages,
//! e.g. ``body.children[0].paragraph.rich_text should be an array, instead was `3`.``

use serde_json::{Map, Value};

use crate::error::{ApiResult, NotionError};

/// How a value is shown in a validation message.
pub fn describe(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 60 {
                format!("{}…", &text[..text.floor_char_boundary(60)])
            } else {
                text
            }
        }
    }
}

pub fn fail<T>(path: &str, expectation: &str, value: Option<&Value>) -> ApiResult<T> {
    Err(NotionError::body_validation(format!(
        "{path} should be {expectation}, instead was `{}`.",
        describe(value)
    )))
}

pub fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub fn object<'a>(value: Option<&'a Value>, path: &str) -> ApiResult<&'a Map<String, Value>> {
    match value {
        Some(Value::Object(map)) => Ok(map),
        other => fail(path, "an object", other),
    }
}

pub fn required<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> ApiResult<&'a Value> {
    map.get(key).ok_or_else(|| {
        NotionError::body_validation(format!(
            "{} should be defined, instead was `undefined`.",
            join(path, key)
        ))
    })
}

pub fn string<'a>(value: Option<&'a Value>, path: &str) -> ApiResult<&'a str> {
    match value {
        Some(Value::String(s)) => Ok(s),
        other => fail(path, "a string", other),
    }
}

pub fn string_max<'a>(value: Option<&'a Value>, path: &str, max: usize) -> ApiResult<&'a str> {
    let s = string(value, path)?;
    let len = s.chars().count();
    if len > max {
        return Err(NotionError::body_validation(format!(
            "{path}.length should be ≤ `{max}`, instead was `{len}`."
        )));
    }
    Ok(s)
}

pub fn optional_string<'a>(value: Option<&'a Value>, path: &str) -> ApiResult<Option<&'a str>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        other => string(other, path).map(Some),
    }
}

pub fn boolean(value: Option<&Value>, path: &str) -> ApiResult<bool> {
    match value {
        Some(Value::Bool(b)) => Ok(*b),
        other => fail(path, "a boolean", other),
    }
}

pub fn optional_bool(value: Option<&Value>, path: &str) -> ApiResult<Option<bool>> {
    match value {
        None => Ok(None),
        other => boolean(other, path).map(Some),
    }
}

pub fn number(value: Option<&Value>, path: &str) -> ApiResult<f64> {
    match value.and_then(Value::as_f64) {
        Some(n) if value.is_some_and(Value::is_number) => Ok(n),
        _ => fail(path, "a number", value),
    }
}

pub fn array<'a>(value: Option<&'a Value>, path: &str, max: usize) -> ApiResult<&'a Vec<Value>> {
    match value {
        Some(Value::Array(items)) => {
            if items.len() > max {
                return Err(NotionError::body_validation(format!(
                    "{path}.length should be ≤ `{max}`, instead was `{}`.",
                    items.len()
                )));
            }
            Ok(items)
        }
        other => fail(path, "an array", other),
    }
}

pub fn one_of<'a>(value: Option<&'a Value>, path: &str, allowed: &[&str]) -> ApiResult<&'a str> {
    let s = string(value, path)?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        fail(path, &format!("one of {list}"), value)
    }
}

/// An id given in a body, with or without dashes.
pub fn id(value: Option<&Value>, path: &str) -> ApiResult<uuid::Uuid> {
    let s = string(value, path)?;
    crate::ids::parse(s).map_or_else(|| fail(path, "a valid uuid", value), Ok)
}

/// Rejects keys a body may not carry, as Notion does for unknown fields.
pub fn only_keys(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> ApiResult<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(NotionError::body_validation(format!(
                "{} should be not present, instead was `{}`.",
                join(path, key),
                describe(map.get(key))
            )));
        }
    }
    Ok(())
}

/// Parses a request body as JSON; an empty body counts as `{}` as it does in Notion.
pub fn parse_body(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|_| NotionError::invalid_json())
}
