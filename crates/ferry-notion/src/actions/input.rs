//! Reading an action's input: each getter names the field it refuses.

use ferry_provider::ActionError;
use serde_json::{Map, Value};

use crate::checked_id;

pub(crate) struct Input<'a> {
    fields: &'a Map<String, Value>,
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ActionError {
    ActionError::InvalidInput {
        field: field.into(),
        message: message.into(),
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Input<'a> {
    pub(crate) fn new(input: &'a Value) -> Result<Input<'a>, ActionError> {
        match input {
            Value::Object(fields) => Ok(Input { fields }),
            Value::Null => Ok(Input { fields: &EMPTY }),
            _ => Err(invalid("input", "must be a JSON object")),
        }
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.fields.get(field).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, field: &str) -> Result<Option<&'a str>, ActionError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
            Some(Value::String(_)) => Err(invalid(field, "must not be empty")),
            Some(_) => Err(invalid(field, "must be a string")),
        }
    }

    pub(crate) fn required_string(&self, field: &str) -> Result<&'a str, ActionError> {
        self.string(field)?
            .ok_or_else(|| invalid(field, "is required"))
    }

    /// A Notion id (dashed or not), checked before it goes into a URL.
    pub(crate) fn id(&self, field: &str, what: &'static str) -> Result<String, ActionError> {
        let text = self.required_string(field)?;
        checked_id(what, text).map_err(|_| {
            invalid(
                field,
                format!("`{text}` is not a Notion {what} id (32 hex digits, dashed or not)"),
            )
        })
    }

    pub(crate) fn flag(&self, field: &str) -> Result<bool, ActionError> {
        match self.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(field, "must be true or false")),
        }
    }

    pub(crate) fn object(&self, field: &str) -> Result<&'a Map<String, Value>, ActionError> {
        match self.get(field) {
            Some(Value::Object(map)) => Ok(map),
            None => Err(invalid(field, "is required")),
            Some(_) => Err(invalid(field, "must be an object")),
        }
    }

    /// Refuses fields the action does not know, so a typo is not silently ignored.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), ActionError> {
        match self.fields.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(invalid(
                unknown.clone(),
                format!(
                    "is not an input of this action (it takes {})",
                    known.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}
