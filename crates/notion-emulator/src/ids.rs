//! Notion object ids: UUIDs accepted with or without dashes, always answered dashed.

use uuid::Uuid;

use crate::error::NotionError;

pub fn parse(raw: &str) -> Option<Uuid> {
    let raw = raw.trim();
    if raw.len() != 32 && raw.len() != 36 {
        return None;
    }
    Uuid::try_parse(raw).ok()
}

/// Parses an id that came in a URL path, failing as Notion does for malformed ids.
pub fn parse_path(raw: &str, name: &str) -> Result<Uuid, NotionError> {
    parse(raw).ok_or_else(|| {
        NotionError::validation(format!(
            "path failed validation: path.{name} should be a valid uuid, instead was `\"{raw}\"`."
        ))
    })
}

pub fn compact(id: Uuid) -> String {
    id.simple().to_string()
}
