//! Cursor pagination shared by every list endpoint: opaque cursors, `page_size` 1–100,
//! and the `{object:"list", type, <type>:{}}` envelope.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::error::{ApiResult, NotionError};
use crate::validate as v;

pub const MAX_PAGE_SIZE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: usize,
    pub size: usize,
}

/// Cursors are opaque to clients; inside they carry the offset and the list they belong to,
/// so a cursor from one list is refused by another.
pub fn encode_cursor(scope: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{}", scope_tag(scope)))
}

fn scope_tag(scope: &str) -> u32 {
    scope.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ b as u32).wrapping_mul(16_777_619)
    })
}

fn decode_cursor(scope: &str, cursor: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (offset, tag) = text.split_once(':')?;
    (tag.parse::<u32>().ok()? == scope_tag(scope)).then_some(())?;
    offset.parse().ok()
}

fn invalid_cursor(location: &str, cursor: &str) -> NotionError {
    NotionError::validation(format!(
        "{location}.start_cursor should be a valid cursor returned by a previous request, instead was `\"{cursor}\"`."
    ))
}

fn parse(
    scope: &str,
    location: &str,
    cursor: Option<&str>,
    size: Option<usize>,
    raw_size: Option<&str>,
) -> ApiResult<PageRequest> {
    let size = match (size, raw_size) {
        (Some(s), _) if (1..=MAX_PAGE_SIZE).contains(&s) => s,
        (None, None) => MAX_PAGE_SIZE,
        (_, raw) => {
            return Err(NotionError::validation(format!(
                "{location} failed validation: {location}.page_size should be a number between 1 and 100, instead was `{}`.",
                raw.unwrap_or("?")
            )));
        }
    };
    let offset = match cursor {
        None => 0,
        Some(c) => decode_cursor(scope, c).ok_or_else(|| invalid_cursor(location, c))?,
    };
    Ok(PageRequest { offset, size })
}

/// Paging parameters from a GET query string.
pub fn from_query(
    scope: &str,
    query: &std::collections::HashMap<String, String>,
) -> ApiResult<PageRequest> {
    let raw = query.get("page_size").map(String::as_str);
    let size = raw.map(|r| r.parse::<usize>().unwrap_or(0));
    parse(
        scope,
        "query",
        query.get("start_cursor").map(String::as_str),
        size,
        raw,
    )
}

/// Paging parameters from a POST body.
pub fn from_body(scope: &str, body: &Map<String, Value>) -> ApiResult<PageRequest> {
    let cursor = match body.get("start_cursor") {
        None | Some(Value::Null) => None,
        Some(c) => Some(v::string(Some(c), "body.start_cursor")?),
    };
    let raw = body.get("page_size");
    let size = raw.map(|n| n.as_u64().map(|n| n as usize).unwrap_or(0));
    let raw_text = raw.map(|r| r.to_string());
    parse(scope, "body", cursor, size, raw_text.as_deref())
}

/// A slice of `items` with its `next_cursor`.
pub struct Slice<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn slice<T: Clone>(scope: &str, items: &[T], page: PageRequest) -> Slice<T> {
    let start = page.offset.min(items.len());
    let end = (start + page.size).min(items.len());
    let next_cursor = (end < items.len()).then(|| encode_cursor(scope, end));
    Slice {
        items: items[start..end].to_vec(),
        next_cursor,
    }
}

/// The list envelope every list endpoint answers with.
pub fn envelope(kind: &str, results: Vec<Value>, next_cursor: Option<String>) -> Value {
    // Built by hand: `json!` would deep-copy `results` through serialisation.
    let mut out = Map::new();
    out.insert("object".into(), json!("list"));
    out.insert("results".into(), Value::Array(results));
    out.insert("has_more".into(), Value::Bool(next_cursor.is_some()));
    out.insert(
        "next_cursor".into(),
        next_cursor.map_or(Value::Null, Value::String),
    );
    out.insert("type".into(), json!(kind));
    out.insert(kind.into(), json!({}));
    Value::Object(out)
}
