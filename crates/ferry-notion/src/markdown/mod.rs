//! Notion blocks to GitHub-flavoured markdown that loses as little as it can: every block type
//! of the API, children at any depth, and rich text that reads back as the same text (see
//! [`inline`]). What markdown cannot hold is kept as HTML (`<details>`, `<u>`, colours when
//! asked); a block type it does not know becomes a comment and is reported, never an error.

mod inline;
mod properties;

use serde::Serialize;
use serde_json::Value;

use crate::types::{Block, Page};

pub use crate::markdown::inline::{InlineStyle, escape, plain, rich_text};
pub use crate::markdown::properties::{front_matter, property_text};

/// A block with the children fetched for it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockTree {
    pub block: Block,
    pub children: Vec<BlockTree>,
}

/// Gives the URL to write for a Notion-hosted file, from its block and the URL Notion sent.
pub type FileUrl<'a> = dyn Fn(&Block, &str) -> String + Sync + 'a;

/// How markdown is written.
#[derive(Default)]
pub struct MarkdownOptions<'a> {
    /// Keep text and background colours as `<span style>`.
    pub colors: bool,
    /// Rewrites the URL of a Notion-hosted file (they expire after an hour); given the block
    /// and the URL Notion sent.
    pub file_url: Option<&'a FileUrl<'a>>,
}

/// A block the converter could not write as markdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownBlock {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The markdown and what it could not hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Converted {
    pub markdown: String,
    pub unknown_blocks: Vec<UnknownBlock>,
}

/// Converts `blocks` (a page's content) to markdown.
pub fn blocks_to_markdown(blocks: &[BlockTree], options: &MarkdownOptions<'_>) -> Converted {
    let mut writer = Writer {
        options,
        unknown: Vec::new(),
        page: blocks,
        headings: None,
    };
    let mut markdown = writer.blocks(blocks);
    if !markdown.is_empty() {
        markdown.push('\n');
    }
    Converted {
        markdown,
        unknown_blocks: writer.unknown,
    }
}

/// The page's title as a level-one heading, then its content; with `front_matter`, the
/// page's properties first as YAML.
pub fn page_to_markdown(
    page: &Page,
    blocks: &[BlockTree],
    front_matter_wanted: bool,
    options: &MarkdownOptions<'_>,
) -> Converted {
    let mut converted = blocks_to_markdown(blocks, options);
    let mut head = String::new();
    if front_matter_wanted {
        head.push_str(&front_matter(page));
    }
    let title = page.title();
    if !title.is_empty() {
        head.push_str("# ");
        head.push_str(&escape(&title, InlineStyle::default()));
        head.push_str("\n\n");
    }
    converted.markdown.insert_str(0, &head);
    converted
}

struct Writer<'a, 'o> {
    options: &'a MarkdownOptions<'o>,
    unknown: Vec<UnknownBlock>,
    /// The whole page, for a table of contents.
    page: &'a [BlockTree],
    /// The page's headings, gathered at the first table of contents.
    headings: Option<Vec<(usize, String)>>,
}

fn is_list_item(kind: &str) -> bool {
    matches!(kind, "bulleted_list_item" | "numbered_list_item" | "to_do")
}

impl Writer<'_, '_> {
    fn inline(&self) -> InlineStyle {
        InlineStyle {
            colors: self.options.colors,
            in_table: false,
        }
    }

    fn text(&self, content: &Value) -> String {
        rich_text(rich(content, "rich_text"), self.inline())
    }

    /// Sibling blocks: list items of one list on consecutive lines, other blocks apart.
    fn blocks(&mut self, blocks: &[BlockTree]) -> String {
        let mut out = String::new();
        let mut number = 0u64;
        let mut previous: Option<&str> = None;
        for node in blocks {
            let kind = node.block.kind.as_str();
            if kind == "numbered_list_item" {
                number = match node
                    .block
                    .content
                    .get("list_start_index")
                    .and_then(Value::as_u64)
                {
                    Some(start) if previous != Some("numbered_list_item") => start,
                    _ if previous == Some("numbered_list_item") => number + 1,
                    _ => 1,
                };
            }
            let written = self.block(node, number);
            if written.is_empty() {
                continue;
            }
            if !out.is_empty() {
                let same_list = previous.is_some_and(|p| is_list_item(p) && p == kind);
                out.push_str(if same_list { "\n" } else { "\n\n" });
            }
            out.push_str(&written);
            previous = Some(kind);
        }
        out
    }

    fn children(&mut self, node: &BlockTree, indent: usize) -> String {
        let inner = self.blocks(&node.children);
        const SPACES: &str = "          ";
        match SPACES.get(..indent) {
            Some(spaces) => indent_lines(&inner, spaces),
            None => indent_lines(&inner, &" ".repeat(indent)),
        }
    }

    /// One block and its children, without a trailing newline.
    fn block(&mut self, node: &BlockTree, number: u64) -> String {
        let block = &node.block;
        let content = &block.content;
        match block.kind.as_str() {
            "paragraph" | "template" => {
                let text = self.text(content);
                if node.children.is_empty() {
                    return text;
                }
                let children = self.blocks(&node.children);
                join_parts(&[text, children])
            }
            kind @ ("heading_1" | "heading_2" | "heading_3" | "heading_4") => {
                let level = kind[8..].parse::<usize>().unwrap_or(1);
                let heading = format!("{} {}", "#".repeat(level), self.text(content));
                let toggleable = content
                    .get("is_toggleable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if toggleable || !node.children.is_empty() {
                    let children = self.blocks(&node.children);
                    details(&heading, &children, true)
                } else {
                    heading
                }
            }
            "bulleted_list_item" => self.list_item("- ", node),
            "numbered_list_item" => self.list_item(&format!("{number}. "), node),
            "to_do" => {
                let checked = content.get("checked").and_then(Value::as_bool) == Some(true);
                self.list_item(if checked { "- [x] " } else { "- [ ] " }, node)
            }
            "toggle" => {
                let summary = self.text(content);
                let children = self.blocks(&node.children);
                details(&summary, &children, false)
            }
            "quote" => {
                let text = self.text(content);
                let children = self.blocks(&node.children);
                quote(&join_parts(&[text, children]))
            }
            "callout" => {
                let icon = icon_text(content.get("icon"));
                let text = self.text(content);
                let first = if icon.is_empty() {
                    text
                } else {
                    format!("{icon} {text}")
                };
                let children = self.blocks(&node.children);
                quote(&join_parts(&[first, children]))
            }
            "code" => {
                let code = plain(rich(content, "rich_text"));
                let language = code_language(
                    content
                        .get("language")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                );
                let fence = "`".repeat(inline::longest_run(&code, '`').max(2) + 1);
                let mut out = format!("{fence}{language}\n{code}\n{fence}");
                let caption = rich_text(rich(content, "caption"), self.inline());
                if !caption.is_empty() {
                    out.push_str("\n\n");
                    out.push_str(&caption);
                }
                out
            }
            "equation" => {
                let expression = content
                    .get("expression")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!("$$\n{expression}\n$$")
            }
            "divider" => "---".to_string(),
            "breadcrumb" => String::new(),
            "table_of_contents" => self.table_of_contents(),
            kind @ ("image" | "video" | "pdf" | "audio" | "file") => self.media(kind, block),
            "bookmark" | "embed" | "link_preview" => {
                let url = content.get("url").and_then(Value::as_str).unwrap_or("");
                if url.is_empty() {
                    return String::new();
                }
                let caption = rich_text(rich(content, "caption"), self.inline());
                let label = if caption.is_empty() {
                    escape(url, self.inline())
                } else {
                    caption
                };
                format!("[{label}]({})", inline::link_target(url))
            }
            "table" => self.table(node),
            "column_list" | "column" | "synced_block" | "tab" => self.blocks(&node.children),
            "child_page" | "child_database" => {
                let title = content.get("title").and_then(Value::as_str).unwrap_or("");
                let title = if title.is_empty() { "Untitled" } else { title };
                format!(
                    "[{}]({})",
                    escape(title, self.inline()),
                    notion_url(&block.id)
                )
            }
            "link_to_page" => {
                let kind = content.get("type").and_then(Value::as_str).unwrap_or("");
                let id = content.get(kind).and_then(Value::as_str).unwrap_or("");
                let label = match kind {
                    "database_id" => "Linked database",
                    "comment_id" => "Linked comment",
                    _ => "Linked page",
                };
                format!("[{label}]({})", notion_url(id))
            }
            "meeting_notes" | "transcription" => {
                let title = rich_text(rich(content, "title"), self.inline());
                let heading = if title.is_empty() {
                    String::new()
                } else {
                    format!("**{title}**")
                };
                let children = self.blocks(&node.children);
                join_parts(&[heading, children])
            }
            kind => {
                self.unknown.push(UnknownBlock {
                    id: block.id.clone(),
                    kind: kind.to_string(),
                });
                let described = if kind == "unsupported" {
                    content
                        .get("block_type")
                        .and_then(Value::as_str)
                        .unwrap_or("unsupported")
                } else {
                    kind
                };
                let comment = format!(
                    "<!-- {} block {} -->",
                    described.replace("--", "- -"),
                    block.id.replace("--", "- -")
                );
                let children = self.blocks(&node.children);
                join_parts(&[comment, children])
            }
        }
    }

    fn list_item(&mut self, marker: &str, node: &BlockTree) -> String {
        let text = self.text(&node.block.content);
        let rest = indent_rest(&text, marker.len());
        let mut out = String::with_capacity(marker.len() + rest.len());
        out.push_str(marker);
        out.push_str(&rest);
        if !node.children.is_empty() {
            let children = self.children(node, marker.len());
            out.push('\n');
            out.push_str(&children);
        }
        out
    }

    fn media(&mut self, kind: &str, block: &Block) -> String {
        let content = &block.content;
        let source = content.get("type").and_then(Value::as_str).unwrap_or("");
        let url = content
            .pointer(&format!("/{source}/url"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = match (source, self.options.file_url) {
            ("file", Some(rewrite)) => rewrite(block, url),
            _ => url.to_string(),
        };
        let caption = rich_text(rich(content, "caption"), self.inline());
        let name = content.get("name").and_then(Value::as_str).unwrap_or("");
        let label = if !caption.is_empty() {
            caption.clone()
        } else if !name.is_empty() {
            escape(name, self.inline())
        } else {
            escape(file_name(&url).unwrap_or(kind), self.inline())
        };
        let target = inline::link_target(&url);
        if kind == "image" {
            format!("![{label}]({target})")
        } else {
            format!("[{label}]({target})")
        }
    }

    fn table(&mut self, node: &BlockTree) -> String {
        let content = &node.block.content;
        let width = content
            .get("table_width")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let column_header = content.get("has_column_header").and_then(Value::as_bool) == Some(true);
        let row_header = content.get("has_row_header").and_then(Value::as_bool) == Some(true);
        let style = InlineStyle {
            colors: self.options.colors,
            in_table: true,
        };
        let mut rows: Vec<Vec<String>> = Vec::new();
        for row in &node.children {
            if row.block.kind != "table_row" {
                continue;
            }
            let cells = rich(&row.block.content, "cells");
            rows.push(
                cells
                    .iter()
                    .map(|cell| rich_text(cell.as_array().map_or(&[], Vec::as_slice), style))
                    .collect(),
            );
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(width);
        if width == 0 {
            return String::new();
        }
        let line = |cells: &[String]| {
            let mut out = String::from("|");
            for i in 0..width {
                out.push(' ');
                out.push_str(cells.get(i).map_or("", String::as_str));
                out.push_str(" |");
            }
            out
        };
        let mut rows = rows.into_iter();
        // GFM needs a header row; a table without one gets an empty header.
        let header = if column_header {
            rows.next().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut out = line(&header);
        out.push('\n');
        out.push('|');
        out.push_str(&" --- |".repeat(width));
        for mut row in rows {
            if row_header && let Some(first) = row.first_mut().filter(|c| !c.is_empty()) {
                *first = format!("<strong>{first}</strong>");
            }
            out.push('\n');
            out.push_str(&line(&row));
        }
        out
    }

    fn table_of_contents(&mut self) -> String {
        let page = self.page;
        let headings = self.headings.get_or_insert_with(|| {
            let mut headings = Vec::new();
            collect_headings(page, &mut headings);
            headings
        });
        let mut out = String::new();
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for (level, text) in headings.iter() {
            let mut anchor = slug(text);
            let count = seen.entry(anchor.clone()).or_insert(0);
            if *count > 0 {
                anchor = format!("{anchor}-{count}");
            }
            *count += 1;
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&"  ".repeat(level.saturating_sub(1)));
            out.push_str(&format!(
                "- [{}](#{anchor})",
                escape(text, InlineStyle::default())
            ));
        }
        out
    }
}

/// The rich-text array under `key`, read in place.
fn rich<'v>(content: &'v Value, key: &str) -> &'v [Value] {
    content
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn collect_headings(blocks: &[BlockTree], out: &mut Vec<(usize, String)>) {
    for node in blocks {
        if let Some(level) = node.block.kind.strip_prefix("heading_")
            && let Ok(level) = level.parse::<usize>()
        {
            out.push((level, plain(rich(&node.block.content, "rich_text"))));
        }
        collect_headings(&node.children, out);
    }
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces as dashes.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn join_parts(parts: &[String]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 2).sum());
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(part);
    }
    out
}

fn details(summary: &str, body: &str, block_summary: bool) -> String {
    let summary = if block_summary {
        format!("<summary>\n\n{summary}\n\n</summary>")
    } else {
        format!("<summary>{summary}</summary>")
    };
    if body.is_empty() {
        format!("<details>\n{summary}\n</details>")
    } else {
        format!("<details>\n{summary}\n\n{body}\n\n</details>")
    }
}

fn quote(text: &str) -> String {
    prefix_lines(text, "> ", ">")
}

fn indent_lines(text: &str, indent: &str) -> String {
    prefix_lines(text, indent, "")
}

/// Every line of `text` after `prefix`; an empty line gets `empty` instead.
fn prefix_lines(text: &str, prefix: &str, empty: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16 * prefix.len());
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.is_empty() {
            out.push_str(empty);
        } else {
            out.push_str(prefix);
            out.push_str(line);
        }
    }
    out
}

/// Continuation lines of a list item's text, indented under its marker.
fn indent_rest(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if text.contains('\n') {
        std::borrow::Cow::Owned(text.replace('\n', &format!("\n{}", " ".repeat(width))))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Notion's language names as the info strings GitHub highlights.
fn code_language(language: &str) -> String {
    match language {
        "plain text" | "" => String::new(),
        "c++" => "cpp".into(),
        "c#" => "csharp".into(),
        "f#" => "fsharp".into(),
        "objective-c" => "objectivec".into(),
        "java/c/c++/c#" => "java".into(),
        "vb.net" => "vbnet".into(),
        "visual basic" => "vb".into(),
        "webassembly" => "wasm".into(),
        other => other.replace(' ', "-"),
    }
}

fn icon_text(icon: Option<&Value>) -> String {
    let Some(icon) = icon else {
        return String::new();
    };
    match icon.get("type").and_then(Value::as_str) {
        Some("emoji") => icon
            .get("emoji")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        Some("custom_emoji") => icon
            .pointer("/custom_emoji/name")
            .and_then(Value::as_str)
            .map(|n| format!(":{}:", n.trim_matches(':')))
            .unwrap_or_default(),
        Some(kind @ ("external" | "file")) => icon
            .pointer(&format!("/{kind}/url"))
            .and_then(Value::as_str)
            .map(|url| format!("![icon]({})", inline::link_target(url)))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The last path segment of a URL, without its query or fragment.
pub(crate) fn file_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    path.rsplit('/').next().filter(|name| !name.is_empty())
}

/// A link to a page or database on notion.so.
pub fn notion_url(id: &str) -> String {
    format!("https://www.notion.so/{}", id.replace('-', ""))
}

#[cfg(test)]
mod tests;
