//! `fetch-rich-page` (a page as markdown) and `fetch-content-metadata` (what a URL points at).

use ferry_provider::{ActionError, FileLink, FreshFile};
use serde_json::{Value, json};

use super::input::{Input, invalid};
use super::{Client, failed};
use crate::checked_id;
use crate::markdown::{FileUrl, MarkdownOptions, front_matter, page_to_markdown};
use crate::notion_markdown::{CompletionLimits, completed_page_markdown};
use crate::tree::{TreeLimits, fetch_tree};
use crate::types::Block;
use crate::types::{Page, plain_text};

/// The most blocks a page is read to, whatever the caller asks.
const MAX_BLOCKS: u64 = 100_000;

/// The most requests completing Notion's markdown may take: each fills one tag Notion left.
const MAX_COMPLETION_REQUESTS: usize = 1_000;

pub(crate) fn rich_page_input() -> Value {
    json!({
        "type": "object",
        "required": ["pageId"],
        "properties": {
            "pageId": {"type": "string"},
            "format": {"type": "string", "enum": ["gfm", "notion"], "default": "gfm", "description": "gfm: Ferry's GitHub-flavoured markdown, read block by block; notion: Notion's own enhanced markdown in one request (API 2026-03-11), with what Notion left as <unknown> tags (past its record limit, or block types its format lacks) filled in by Ferry"},
            "frontMatter": {"type": "boolean", "default": false, "description": "Start with the page's properties as YAML front matter"},
            "colors": {"type": "boolean", "default": false, "description": "Keep text colours as HTML spans (gfm; Notion's format always keeps them)"},
            "fileLinks": {"type": "string", "enum": ["notion", "ferry"], "default": "notion", "description": "notion: Notion's file URLs, which expire after an hour; ferry: Ferry URLs that redirect to a fresh one whenever followed (gfm only)"},
            "maxDepth": {"type": "integer", "minimum": 1, "maximum": 64, "default": 32},
            "maxBlocks": {"type": "integer", "minimum": 1, "maximum": MAX_BLOCKS, "default": 20000}
        },
        "additionalProperties": false
    })
}

pub(crate) fn rich_page_output() -> Value {
    json!({
        "type": "object",
        "required": ["id", "title", "content", "contentType", "meta"],
        "properties": {
            "id": {"type": "string"},
            "path": {"type": ["string", "null"]},
            "title": {"type": "string"},
            "content": {"type": "string"},
            "contentType": {"const": "md"},
            "last_modified": {"type": "string"},
            "parent_id": {"type": ["string", "null"]},
            "meta": {"type": "object", "properties": {
                "created_time": {"type": "string"},
                "last_edited_time": {"type": "string"},
                "properties": {"type": "object"}
            }},
            "unknown_blocks": {"type": "array", "description": "Blocks written as an HTML comment because markdown has no form for them"},
            "cut": {"type": "array", "description": "Blocks whose children were not read: reason depth, blocks or unavailable"},
            "format": {"enum": ["gfm", "notion"]},
            "notion": {"type": "object", "description": "format notion: truncatedByNotion, filled (tags Ferry filled in) and left (tags still in the text: id, type, reason unavailable, requests or no_id)"},
            "requests": {"type": "integer", "description": "Notion requests the content took"}
        }
    })
}

fn bounded(input: &Input<'_>, field: &str, default: u64, max: u64) -> Result<usize, ActionError> {
    match input.get(field) {
        None => Ok(default as usize),
        Some(value) => match value.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(invalid(
                field,
                format!("must be a whole number from 1 to {max}"),
            )),
        },
    }
}

pub(crate) async fn rich_page(
    notion: &Client<'_>,
    input: &Input<'_>,
    file_link: &FileLink<'_>,
) -> Result<Value, ActionError> {
    input.only(&[
        "pageId",
        "format",
        "frontMatter",
        "colors",
        "fileLinks",
        "maxDepth",
        "maxBlocks",
    ])?;
    let id = input.id("pageId", "page")?;
    let notion_format = match input.string("format")? {
        None | Some("gfm") => false,
        Some("notion") => true,
        Some(other) => {
            return Err(invalid(
                "format",
                format!("`{other}` is not a format this action writes (gfm, notion)"),
            ));
        }
    };
    let front_matter_wanted = input.flag("frontMatter")?;
    let colors = input.flag("colors")?;
    let ferry_links = match input.string("fileLinks")? {
        None | Some("notion") => false,
        Some("ferry") => true,
        Some(other) => {
            return Err(invalid(
                "fileLinks",
                format!("`{other}` is not a choice (notion, ferry)"),
            ));
        }
    };
    if notion_format && ferry_links {
        return Err(invalid(
            "fileLinks",
            "`ferry` links are written by the gfm format only",
        ));
    }
    if notion_format && colors {
        return Err(invalid(
            "colors",
            "applies to the gfm format; Notion's format always keeps colours",
        ));
    }
    let limits = TreeLimits {
        max_depth: bounded(input, "maxDepth", 32, 64)?,
        max_blocks: bounded(input, "maxBlocks", 20_000, MAX_BLOCKS)?,
        ..TreeLimits::default()
    };
    let page = notion.page(&id).await.map_err(failed)?;
    let ferry_link = |block: &Block, _: &str| file_link(&block.id);
    let options = MarkdownOptions {
        colors,
        file_url: ferry_links.then_some(&ferry_link as &FileUrl<'_>),
    };
    let mut out = json!({
        "id": page.id,
        "path": page.url,
        "title": page.title(),
        "contentType": "md",
        "last_modified": page.last_edited_time,
        "parent_id": parent_id(&page.parent),
        "meta": {
            "created_time": page.created_time,
            "last_edited_time": page.last_edited_time,
            "properties": page.properties,
        },
    });
    if notion_format {
        let completion = CompletionLimits {
            max_requests: MAX_COMPLETION_REQUESTS,
            concurrency: limits.concurrency,
            tree: limits,
        };
        let done = completed_page_markdown(notion, &page.id, completion, &options)
            .await
            .map_err(failed)?;
        let mut content = if front_matter_wanted {
            front_matter(&page)
        } else {
            String::new()
        };
        content.push_str(&done.markdown);
        out["content"] = json!(content);
        out["format"] = json!("notion");
        out["unknown_blocks"] = json!(done.unknown_blocks);
        out["cut"] = json!([]);
        out["notion"] = json!({
            "truncatedByNotion": done.truncated_by_notion,
            "filled": done.filled,
            "left": done.left,
        });
        out["requests"] = json!(done.requests + 1);
    } else {
        let tree = fetch_tree(notion, &page.id, limits).await.map_err(failed)?;
        let converted = page_to_markdown(&page, &tree.blocks, front_matter_wanted, &options);
        out["content"] = json!(converted.markdown);
        out["format"] = json!("gfm");
        out["unknown_blocks"] = json!(converted.unknown_blocks);
        out["cut"] = json!(tree.cut);
        out["requests"] = json!(tree.requests + 1);
    }
    Ok(out)
}

fn parent_id(parent: &Value) -> Option<&str> {
    let kind = parent.get("type").and_then(Value::as_str)?;
    parent.get(kind).and_then(Value::as_str)
}

pub(crate) fn content_metadata_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "A Notion link to a page or database"},
            "id": {"type": "string"}
        },
        "additionalProperties": false
    })
}

pub(crate) fn content_metadata_output() -> Value {
    json!({
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string"},
            "path": {"type": ["string", "null"]},
            "type": {"enum": ["page", "database", "data_source"]},
            "title": {"type": "string"},
            "last_modified": {"type": "string"},
            "parent_id": {"type": ["string", "null"]}
        }
    })
}

/// The last 32 hex digits of a Notion link's path (`…/Title-<id>?v=…`).
fn id_in_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let hex: String = path
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_hexdigit())
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .filter(|c| *c != '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (hex.len() >= 32).then(|| hex[hex.len() - 32..].to_string())
}

pub(crate) async fn content_metadata(
    notion: &Client<'_>,
    input: &Input<'_>,
) -> Result<Value, ActionError> {
    input.only(&["url", "id"])?;
    let id = match (input.string("id")?, input.string("url")?) {
        (Some(_), Some(_)) => return Err(invalid("id", "give either `id` or `url`, not both")),
        (Some(_), None) => input.id("id", "page or database")?,
        (None, Some(url)) => {
            id_in_url(url).ok_or_else(|| invalid("url", "holds no Notion id (32 hex digits)"))?
        }
        (None, None) => return Err(invalid("url", "`url` or `id` is required")),
    };
    let id = checked_id("page", &id).map_err(failed)?;
    let page_error = match notion.page(&id).await {
        Ok(page) => return Ok(page_metadata(&page)),
        Err(e) if e.code() == Some("object_not_found") || e.code() == Some("validation_error") => e,
        Err(e) => return Err(failed(e)),
    };
    if let Ok(database) = notion.database(&id).await {
        let url = database.other.get("url").and_then(Value::as_str);
        let title = plain_text(&database.title);
        return Ok(metadata(
            "database",
            &database.id,
            url,
            &title,
            &database.last_edited_time,
            &database.parent,
        ));
    }
    if notion.version().has_data_sources()
        && let Ok(source) = notion.data_source(&id).await
    {
        let url = source.other.get("url").and_then(Value::as_str);
        let title = plain_text(&source.title);
        return Ok(metadata(
            "data_source",
            &source.id,
            url,
            &title,
            &source.last_edited_time,
            &source.parent,
        ));
    }
    Err(failed(page_error))
}

fn page_metadata(page: &Page) -> Value {
    let title = page.title();
    metadata(
        "page",
        &page.id,
        page.url.as_deref(),
        &title,
        &page.last_edited_time,
        &page.parent,
    )
}

/// What `fetch-content-metadata` answers for a page, database or data source.
fn metadata(
    kind: &str,
    id: &str,
    url: Option<&str>,
    title: &str,
    last_modified: &str,
    parent: &Value,
) -> Value {
    json!({
        "id": id,
        "path": url,
        "type": kind,
        "title": title,
        "last_modified": last_modified,
        "parent_id": parent_id(parent),
    })
}

/// The current URL of the Notion-hosted file block `id` holds (they expire after an hour).
pub(crate) async fn fresh_file_url(
    notion: &Client<'_>,
    id: &str,
) -> Result<FreshFile, ActionError> {
    let block = notion.block(id).await.map_err(failed)?;
    let hosted = block.content.get("type").and_then(Value::as_str) == Some("file");
    let file = block.content.get("file").filter(|_| hosted);
    let url = file.and_then(|f| f.get("url")).and_then(Value::as_str);
    match url {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(FreshFile {
            url: url.to_string(),
            expiry_time: file
                .and_then(|f| f.get("expiry_time"))
                .and_then(Value::as_str)
                .map(str::to_string),
        }),
        _ => Err(ActionError::Provider {
            provider: "Notion",
            status: 404,
            code: "object_not_found".into(),
            message: format!("block {id} no longer holds a file hosted by Notion"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_out_of_notion_links() {
        assert_eq!(
            id_in_url("https://www.notion.so/acme/Roadmap-0123456789abcdef0123456789abcdef?v=1")
                .as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            id_in_url("https://notion.so/01234567-89ab-cdef-0123-456789abcdef").as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(id_in_url("https://example.test/page"), None);
    }
}
