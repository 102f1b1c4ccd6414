//! Notion-flavored markdown → blocks: the inverse of [`crate::markdown`], for
//! `PATCH /v1/pages/{id}/markdown`, `markdown` in `POST /v1/pages` and comment markdown.
//!
//! It reads what the renderer writes (tab-indented children, the XML-like tags, `{color=…}`
//! attributes, backslash escapes) and plain CommonMark's block forms. Tags that name an
//! existing object by URL (`<page>`, `<database>`, `<unknown>`, synced blocks, meeting notes)
//! keep that object rather than making a new one, so a page read and written back keeps its
//! child pages and the blocks markdown cannot describe. Inline text goes through
//! `pulldown-cmark`; Notion's inline tags (`<span>`, `<br>`, mentions) arrive as its raw HTML.

use serde_json::{Map, Value, json};

use crate::blocks::{self, NewBlock};
use crate::error::{ApiResult, NotionError};
use crate::model::{Id, Workspace};
use crate::richtext;

/// One top-level item of parsed markdown.
#[derive(Debug, Clone)]
pub enum Item {
    New(NewBlock),
    /// An object named by a tag's URL (`tag` is the tag's name): an existing child kept as
    /// it is, or for `page`, `database` and `synced_block_reference` a link to it.
    Named {
        tag: &'static str,
        id: Id,
    },
}

impl Item {
    /// The block a named object stands for when the page has no such child: a link to a
    /// page or database, or a copy of a synced block.
    pub fn link_block(
        ws: &Workspace,
        tag: &str,
        id: Id,
        path: &str,
    ) -> ApiResult<Option<NewBlock>> {
        let (kind, body) = match tag {
            "page" => ("link_to_page", json!({"type": "page_id", "page_id": id})),
            "database" => (
                "link_to_page",
                json!({"type": "database_id", "database_id": id}),
            ),
            "synced_block_reference" => ("synced_block", json!({"synced_from": {"block_id": id}})),
            _ => return Ok(None),
        };
        let body = body.as_object().cloned().unwrap_or_default();
        let content = blocks::parse_content(ws, kind, &body, path)?;
        Ok(Some(NewBlock {
            kind: kind.to_string(),
            content,
            children: Vec::new(),
        }))
    }
}

/// Parses `text` into top-level items; `path` names the field in errors.
pub fn parse(ws: &Workspace, text: &str, path: &str) -> ApiResult<Vec<Item>> {
    let lines = text
        .split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let depth = line.len() - line.trim_start_matches('\t').len();
            (depth, line[depth..].trim_end())
        })
        .collect();
    let mut parser = Parser {
        ws,
        path,
        lines,
        pos: 0,
    };
    let items = parser.items(0)?;
    if parser.pos < parser.lines.len() {
        let (_, line) = parser.lines[parser.pos];
        return Err(NotionError::body_validation(format!(
            "{path} has `{line}` on line {} with no tag it closes.",
            parser.pos + 1
        )));
    }
    Ok(items)
}

/// Parses `text` into new blocks: a named page or database becomes a link to it, a synced
/// block reference a copy; other named objects cannot be in a new page.
pub fn parse_new(ws: &Workspace, text: &str, path: &str) -> ApiResult<Vec<NewBlock>> {
    new_blocks(ws, parse(ws, text, path)?, path)
}

/// Items as new blocks, named objects as the links [`Item::link_block`] makes.
fn new_blocks(ws: &Workspace, items: Vec<Item>, path: &str) -> ApiResult<Vec<NewBlock>> {
    items
        .into_iter()
        .map(|item| match item {
            Item::New(block) => Ok(block),
            Item::Named { tag, id } => {
                Item::link_block(ws, tag, id, path)?.ok_or_else(|| not_a_child(path, id))
            }
        })
        .collect()
}

pub fn not_a_child(path: &str, id: Id) -> NotionError {
    NotionError::body_validation(format!(
        "{path} names `{id}` by its URL, which is not a child of this page; such a tag keeps an existing child at the page's top level."
    ))
}

struct Parser<'a> {
    ws: &'a Workspace,
    path: &'a str,
    lines: Vec<(usize, &'a str)>,
    pos: usize,
}

const CLOSING: &[&str] = &[
    "</details>",
    "</callout>",
    "</columns>",
    "</column>",
    "</table>",
    "</tr>",
];

impl<'a> Parser<'a> {
    fn skip_blank(&mut self) {
        while self.pos < self.lines.len() && self.lines[self.pos].1.is_empty() {
            self.pos += 1;
        }
    }

    fn items(&mut self, depth: usize) -> ApiResult<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            let Some(&(line_depth, text)) = self.lines.get(self.pos) else {
                break;
            };
            if line_depth < depth || CLOSING.contains(&text) {
                break;
            }
            items.push(self.item(line_depth)?);
        }
        Ok(items)
    }

    /// Items one level down, which must all be new blocks or links.
    fn children(&mut self, depth: usize) -> ApiResult<Vec<NewBlock>> {
        let items = self.items(depth + 1)?;
        new_blocks(self.ws, items, self.path)
    }

    /// Consumes `closing` if it is the next non-blank line.
    fn close(&mut self, closing: &str) {
        self.skip_blank();
        if self.lines.get(self.pos).is_some_and(|(_, t)| *t == closing) {
            self.pos += 1;
        }
    }

    fn block(&self, kind: &str, body: Value, children: Vec<NewBlock>) -> ApiResult<Item> {
        let path = format!("{} (a `{kind}` block)", self.path);
        let body: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
        let content = blocks::parse_content(self.ws, kind, &body, &path)?;
        blocks::check_structure(kind, &content, &children, &path)?;
        Ok(Item::New(NewBlock {
            kind: kind.to_string(),
            content,
            children,
        }))
    }

    fn rich_text(&self, text: &str) -> ApiResult<Value> {
        inline(self.ws, text, self.path).map(Value::Array)
    }

    fn item(&mut self, depth: usize) -> ApiResult<Item> {
        let text = self.lines[self.pos].1;
        self.pos += 1;
        if let Some(language) = text.strip_prefix("```") {
            let code = self.until(depth, "```");
            let language = if blocks::LANGUAGES.contains(&language.trim()) {
                language.trim()
            } else {
                "plain text"
            };
            return self.block(
                "code",
                json!({"rich_text": plain_chunks(&code), "language": language}),
                Vec::new(),
            );
        }
        if text == "$$" {
            let expression = self.until(depth, "$$");
            return self.block("equation", json!({"expression": expression}), Vec::new());
        }
        if text == "---" || text == "***" || text == "___" {
            return self.block("divider", json!({}), Vec::new());
        }
        if text == "<empty-block/>" {
            return self.block("paragraph", json!({"rich_text": []}), Vec::new());
        }
        if text.starts_with("<table_of_contents") {
            let color = attribute(text, "color").unwrap_or_else(|| "default".into());
            return self.block("table_of_contents", json!({"color": color}), Vec::new());
        }
        if text.starts_with("<details") {
            let color = attribute(text, "color").unwrap_or_else(|| "default".into());
            self.skip_blank();
            let summary = match self.lines.get(self.pos) {
                Some((_, line)) if line.starts_with("<summary>") => {
                    self.pos += 1;
                    line.trim_start_matches("<summary>")
                        .trim_end_matches("</summary>")
                        .to_string()
                }
                _ => String::new(),
            };
            let children = self.children(depth)?;
            self.close("</details>");
            let rich_text = self.rich_text(&summary)?;
            return self.block(
                "toggle",
                json!({"rich_text": rich_text, "color": color}),
                children,
            );
        }
        if text.starts_with("<callout") {
            let color = attribute(text, "color").unwrap_or_else(|| "default".into());
            let icon = match attribute(text, "icon") {
                Some(icon) if icon.starts_with("http") => {
                    json!({"type": "external", "external": {"url": icon}})
                }
                Some(icon) => json!({"type": "emoji", "emoji": icon}),
                None => json!({"type": "emoji", "emoji": "💡"}),
            };
            let mut children = self.children(depth)?;
            self.close("</callout>");
            let rich_text = if children.first().is_some_and(|c| c.kind == "paragraph") {
                children.remove(0).content["rich_text"].clone()
            } else {
                json!([])
            };
            let body = json!({"rich_text": to_request(&rich_text), "color": color, "icon": icon});
            return self.block("callout", body, children);
        }
        if text == "<columns>" || text == "<column>" {
            let children = self.children(depth)?;
            let (kind, closing) = if text == "<columns>" {
                ("column_list", "</columns>")
            } else {
                ("column", "</column>")
            };
            self.close(closing);
            return self.block(kind, json!({}), children);
        }
        if text.starts_with("<table") {
            return self.table(text);
        }
        for tag in [
            "page",
            "database",
            "unknown",
            "synced_block",
            "synced_block_reference",
            "meeting-notes",
        ] {
            if text.starts_with(&format!("<{tag} ")) {
                return self.named(depth, text, tag);
            }
        }
        for kind in ["video", "audio", "pdf", "file"] {
            if text.starts_with(&format!("<{kind} ")) {
                let source = attribute(text, "src").unwrap_or_default();
                let caption = between(text, '>', &format!("</{kind}>"));
                return self.media(kind, &source, &caption);
            }
        }
        if let Some(rest) = text.strip_prefix("![")
            && let Some((caption, url)) = rest.split_once("](")
            && let Some(url) = url.strip_suffix(')')
        {
            return self.media("image", url, caption);
        }
        let hashes = text.len() - text.trim_start_matches('#').len();
        if (1..=4).contains(&hashes) && text[hashes..].starts_with(' ') {
            let (line, attributes) = split_attributes(&text[hashes + 1..]);
            let toggleable = attributes.iter().any(|(k, v)| k == "toggle" && v == "true");
            let children = if toggleable {
                self.children(depth)?
            } else {
                Vec::new()
            };
            let body = json!({
                "rich_text": self.rich_text(line)?,
                "color": color_of(&attributes),
                "is_toggleable": toggleable,
            });
            return self.block(&format!("heading_{hashes}"), body, children);
        }
        for (marker, checked) in [("- [ ] ", false), ("- [x] ", true), ("- [X] ", true)] {
            if let Some(rest) = text.strip_prefix(marker) {
                return self.text_block(depth, "to_do", rest, Some(checked));
            }
        }
        for marker in ["- ", "* ", "+ "] {
            if let Some(rest) = text.strip_prefix(marker) {
                return self.text_block(depth, "bulleted_list_item", rest, None);
            }
        }
        let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && text[digits..].starts_with(". ") {
            return self.text_block(depth, "numbered_list_item", &text[digits + 2..], None);
        }
        if text == ">" {
            return self.text_block(depth, "quote", "", None);
        }
        if let Some(rest) = text.strip_prefix("> ") {
            return self.text_block(depth, "quote", rest, None);
        }
        self.text_block(depth, "paragraph", text, None)
    }

    /// A block of text with a colour attribute and children one level down.
    fn text_block(
        &mut self,
        depth: usize,
        kind: &str,
        text: &str,
        checked: Option<bool>,
    ) -> ApiResult<Item> {
        let (line, attributes) = split_attributes(text);
        let children = self.children(depth)?;
        let mut body = json!({"rich_text": self.rich_text(line)?, "color": color_of(&attributes)});
        if let Some(checked) = checked {
            body["checked"] = json!(checked);
        }
        self.block(kind, body, children)
    }

    /// The raw lines up to `closing` (a code block's or equation's), dedented by `depth`.
    fn until(&mut self, depth: usize, closing: &str) -> String {
        let mut out = Vec::new();
        while let Some(&(line_depth, text)) = self.lines.get(self.pos) {
            self.pos += 1;
            if text == closing && line_depth <= depth + 1 {
                break;
            }
            let tabs = "\t".repeat(line_depth.saturating_sub(depth));
            out.push(format!("{tabs}{text}"));
        }
        out.join("\n")
    }

    fn table(&mut self, text: &str) -> ApiResult<Item> {
        let header_row = attribute(text, "header-row").as_deref() == Some("true");
        let header_column = attribute(text, "header-column").as_deref() == Some("true");
        let mut rows: Vec<Vec<Value>> = Vec::new();
        loop {
            self.skip_blank();
            match self.lines.get(self.pos) {
                Some((_, "<tr>")) => {
                    self.pos += 1;
                    let mut cells = Vec::new();
                    loop {
                        self.skip_blank();
                        match self.lines.get(self.pos) {
                            Some((_, cell)) if cell.starts_with("<td>") => {
                                self.pos += 1;
                                let inner =
                                    cell.trim_start_matches("<td>").trim_end_matches("</td>");
                                cells.push(to_request(&self.rich_text(inner)?));
                            }
                            Some((_, "</tr>")) => {
                                self.pos += 1;
                                break;
                            }
                            _ => break,
                        }
                    }
                    rows.push(cells);
                }
                Some((_, "</table>")) => {
                    self.pos += 1;
                    break;
                }
                _ => break,
            }
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut children = Vec::new();
        for mut cells in rows {
            cells.resize(width, json!([]));
            match self.block("table_row", json!({"cells": cells}), Vec::new())? {
                Item::New(row) => children.push(row),
                Item::Named { .. } => unreachable!("a table row is always new"),
            }
        }
        let body = json!({"table_width": width, "has_column_header": header_row, "has_row_header": header_column});
        self.block("table", body, children)
    }

    /// A tag naming an object; an opening tag's lines up to its closing go with it.
    fn named(&mut self, depth: usize, text: &str, name: &'static str) -> ApiResult<Item> {
        let closing = format!("</{name}>");
        let self_contained = text.ends_with("/>") || text.ends_with(&closing);
        if !self_contained {
            while let Some(&(line_depth, line)) = self.lines.get(self.pos) {
                self.pos += 1;
                if line_depth <= depth && line == closing {
                    break;
                }
            }
        }
        let url = attribute(text, "url").unwrap_or_default();
        let id = id_in_url(&url).ok_or_else(|| {
            NotionError::body_validation(format!(
                "{} has a `<{name}>` tag whose url `{url}` names no object.",
                self.path
            ))
        })?;
        Ok(Item::Named { tag: name, id })
    }

    fn media(&mut self, kind: &str, url: &str, caption: &str) -> ApiResult<Item> {
        let caption = self.rich_text(caption)?;
        let hosted = hosted_file(self.ws, url);
        if let Some(HostedFile::Stored(name)) = &hosted {
            // A file the workspace holds stays one, rather than becoming its expiring URL.
            let mut content = json!({"type": "file", "file": {"name": name}, "caption": caption});
            if kind == "file" {
                content["name"] = json!(name);
            }
            return Ok(Item::New(NewBlock {
                kind: kind.to_string(),
                content,
                children: Vec::new(),
            }));
        }
        let mut body = match hosted {
            Some(HostedFile::Upload(upload)) => json!({"file_upload": {"id": upload}}),
            _ => json!({"external": {"url": url}}),
        };
        body["caption"] = to_request(&caption);
        self.block(kind, body, Vec::new())
    }
}

/// A file this emulator hosts, named by one of its hosted-file URLs.
enum HostedFile {
    Upload(Id),
    Stored(String),
}

fn hosted_file(ws: &Workspace, url: &str) -> Option<HostedFile> {
    let rest = url.split("/_emulator/files/").nth(1)?;
    let rest = rest.split('?').next().unwrap_or(rest);
    match rest.split_once('/') {
        Some((upload, _)) => {
            let id = crate::ids::parse(upload)?;
            ws.file_upload(id).map(|u| HostedFile::Upload(u.id))
        }
        None => Some(HostedFile::Stored(crate::model::percent_decode(rest))),
    }
}

/// The object a Notion URL names: the block id in its fragment, else the id ending its path.
fn id_in_url(url: &str) -> Option<Id> {
    let tail = match url.split_once('#') {
        Some((_, fragment)) => fragment,
        None => url.split('?').next().unwrap_or(url),
    };
    let hex: String = tail.chars().filter(char::is_ascii_hexdigit).collect();
    (hex.len() >= 32)
        .then(|| crate::ids::parse(&hex[hex.len() - 32..]))
        .flatten()
}

/// A tag's `name="value"` attribute, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// The text between the first `open` and the last `close`.
fn between(text: &str, open: char, close: &str) -> String {
    let start = text.find(open).map_or(0, |i| i + 1);
    let end = text.rfind(close).unwrap_or(text.len()).max(start);
    text[start..end].to_string()
}

/// Trailing `{key="value"}` attributes off a line of text.
fn split_attributes(text: &str) -> (&str, Vec<(String, String)>) {
    let mut rest = text;
    let mut attributes = Vec::new();
    while rest.ends_with('}') {
        let Some(open) = rest.rfind(" {") else { break };
        if rest[..open].ends_with('\\') {
            break;
        }
        let inner = &rest[open + 2..rest.len() - 1];
        let Some((key, value)) = inner.split_once('=') else {
            break;
        };
        let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
            break;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            break;
        }
        attributes.push((key.to_string(), value.to_string()));
        rest = &rest[..open];
    }
    (rest, attributes)
}

fn color_of(attributes: &[(String, String)]) -> String {
    attributes
        .iter()
        .find(|(k, _)| k == "color")
        .map_or_else(|| "default".into(), |(_, v)| v.clone())
}

/// Plain text as request items of at most 2,000 characters each.
fn plain_chunks(text: &str) -> Value {
    chunks(text)
        .into_iter()
        .map(|c| json!({"type": "text", "text": {"content": c}}))
        .collect()
}

fn chunks(text: &str) -> Vec<String> {
    let characters: Vec<char> = text.chars().collect();
    characters
        .chunks(richtext::MAX_TEXT)
        .map(|c| c.iter().collect())
        .collect()
}

/// Stored rich text back in its request shape, for a block body.
fn to_request(stored: &Value) -> Value {
    stored
        .as_array()
        .map(|items| items.iter().map(blocks::to_request_rich_text).collect())
        .unwrap_or_else(|| json!([]))
}

/// Inline Notion-flavored markdown as stored rich text: bold, italic, strikethrough, code,
/// links, `<span color|underline>`, `<br>`, `$equations$` and mentions. Paragraph breaks (in
/// comments) become blank lines.
pub fn inline(ws: &Workspace, text: &str, path: &str) -> ApiResult<Vec<Value>> {
    let items = inline_request(text);
    richtext::parse_array(ws, Some(&Value::Array(items)), path)
}

#[derive(Clone, Default, PartialEq)]
struct Look {
    bold: bool,
    italic: bool,
    strikethrough: bool,
    underline: bool,
    code: bool,
    color: Option<String>,
    link: Option<String>,
}

impl Look {
    fn annotations(&self) -> Value {
        json!({
            "bold": self.bold,
            "italic": self.italic,
            "strikethrough": self.strikethrough,
            "underline": self.underline,
            "code": self.code,
            "color": self.color.as_deref().unwrap_or("default"),
        })
    }
}

enum Run {
    Text(Look, String),
    Other(Value),
}

/// The request items for inline markdown, consecutive runs with the same look merged.
fn inline_request(text: &str) -> Vec<Value> {
    use pulldown_cmark::{Event as Md, Options, Parser, Tag, TagEnd};
    let mut look = Look::default();
    // What each open `<span>` changed, to undo at its `</span>`.
    let mut spans: Vec<Look> = Vec::new();
    let mut mention: Option<Value> = None;
    let mut runs: Vec<Run> = Vec::new();
    let push = |runs: &mut Vec<Run>, look: &Look, piece: &str| match runs.last_mut() {
        Some(Run::Text(last, content)) if last == look => content.push_str(piece),
        _ => runs.push(Run::Text(look.clone(), piece.to_string())),
    };
    let mut paragraphs = 0;
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH;
    for event in Parser::new_ext(text, options) {
        match event {
            Md::Start(Tag::Paragraph) => {
                if paragraphs > 0 {
                    push(&mut runs, &Look::default(), "\n\n");
                }
                paragraphs += 1;
            }
            Md::Start(Tag::Strong) => look.bold = true,
            Md::End(TagEnd::Strong) => look.bold = false,
            Md::Start(Tag::Emphasis) => look.italic = true,
            Md::End(TagEnd::Emphasis) => look.italic = false,
            Md::Start(Tag::Strikethrough) => look.strikethrough = true,
            Md::End(TagEnd::Strikethrough) => look.strikethrough = false,
            Md::Start(Tag::Link { dest_url, .. }) => look.link = Some(dest_url.to_string()),
            Md::End(TagEnd::Link) => look.link = None,
            Md::Html(tag) | Md::InlineHtml(tag) => {
                inline_tag(
                    tag.trim(),
                    &mut look,
                    &mut spans,
                    &mut mention,
                    &mut runs,
                    &push,
                );
            }
            Md::Text(t) if mention.is_none() => push(&mut runs, &look, &t),
            Md::Code(t) => {
                let code = Look {
                    code: true,
                    ..look.clone()
                };
                push(&mut runs, &code, &t);
            }
            Md::InlineMath(expression) | Md::DisplayMath(expression) => {
                runs.push(Run::Other(json!({
                    "type": "equation",
                    "equation": {"expression": expression.to_string()},
                    "annotations": look.annotations(),
                })));
            }
            Md::SoftBreak | Md::HardBreak => push(&mut runs, &look, "\n"),
            _ => {}
        }
    }
    let mut items = Vec::new();
    for run in runs {
        match run {
            Run::Text(look, content) => {
                for piece in chunks(&content) {
                    items.push(json!({
                        "type": "text",
                        "text": {"content": piece, "link": look.link.as_ref().map(|url| json!({"url": url}))},
                        "annotations": look.annotations(),
                    }));
                }
            }
            Run::Other(item) => items.push(item),
        }
    }
    items
}

/// One of Notion's inline tags.
fn inline_tag(
    tag: &str,
    look: &mut Look,
    spans: &mut Vec<Look>,
    mention: &mut Option<Value>,
    runs: &mut Vec<Run>,
    push: &impl Fn(&mut Vec<Run>, &Look, &str),
) {
    if tag == "<br>" || tag == "<br/>" {
        push(runs, look, "\n");
    } else if tag.starts_with("<span") {
        spans.push(look.clone());
        if let Some(color) = attribute(tag, "color") {
            look.color = Some(color);
        }
        if attribute(tag, "underline").as_deref() == Some("true") {
            look.underline = true;
        }
    } else if tag == "</span>" {
        if let Some(before) = spans.pop() {
            look.color = before.color;
            look.underline = before.underline;
        }
    } else if let Some(rest) = tag.strip_prefix("<mention-") {
        let kind = rest.split([' ', '/', '>']).next().unwrap_or("");
        let url = attribute(tag, "url").unwrap_or_default();
        let value = match kind {
            "user" => id_in_url(&url).map(|id| json!({"type": "user", "user": {"id": id}})),
            "page" => id_in_url(&url).map(|id| json!({"type": "page", "page": {"id": id}})),
            "database" => {
                id_in_url(&url).map(|id| json!({"type": "database", "database": {"id": id}}))
            }
            "date" => attribute(tag, "start").map(|start| {
                json!({"type": "date", "date": {"start": start, "end": attribute(tag, "end")}})
            }),
            _ => None,
        };
        if let Some(value) = value {
            let item =
                json!({"type": "mention", "mention": value, "annotations": look.annotations()});
            if tag.ends_with("/>") {
                runs.push(Run::Other(item));
            } else {
                *mention = Some(item);
            }
        }
    } else if tag.starts_with("</mention-") {
        if let Some(item) = mention.take() {
            runs.push(Run::Other(item));
        }
    } else {
        // An unknown tag is kept as the text it is.
        push(runs, look, tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_attributes_come_off_the_text_but_escaped_braces_stay() {
        assert_eq!(
            split_attributes("Title {color=\"red\"} {toggle=\"true\"}"),
            (
                "Title",
                vec![
                    ("toggle".to_string(), "true".to_string()),
                    ("color".to_string(), "red".to_string())
                ]
            )
        );
        assert_eq!(split_attributes("a \\{b=\"c\"}").1, vec![]);
        assert_eq!(split_attributes("set {x}").1, vec![]);
    }

    #[test]
    fn ids_come_from_a_url_fragment_or_its_path() {
        let id = "0b1e4a3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c";
        let compact = id.replace('-', "");
        assert_eq!(
            id_in_url(&format!("https://www.notion.so/Some-Page-{compact}"))
                .unwrap()
                .to_string(),
            id
        );
        assert_eq!(
            id_in_url(&format!("https://www.notion.so/Page-aaaa#{compact}"))
                .unwrap()
                .to_string(),
            id
        );
        assert_eq!(
            id_in_url(&format!("user://{compact}")).unwrap().to_string(),
            id
        );
        assert!(id_in_url("https://example.com/x").is_none());
    }

    #[test]
    fn inline_markdown_keeps_annotations_colours_and_breaks() {
        let items = inline_request(
            "a **b** <span color=\"red\">c</span><br>d `e` \\*f\\* [g](https://g.example)",
        );
        let texts: Vec<(&str, bool, &str, bool)> = items
            .iter()
            .map(|i| {
                (
                    i["text"]["content"].as_str().unwrap(),
                    i["annotations"]["bold"].as_bool().unwrap(),
                    i["annotations"]["color"].as_str().unwrap(),
                    i["annotations"]["code"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            texts,
            [
                ("a ", false, "default", false),
                ("b", true, "default", false),
                (" ", false, "default", false),
                ("c", false, "red", false),
                ("\nd ", false, "default", false),
                ("e", false, "default", true),
                (" *f* ", false, "default", false),
                ("g", false, "default", false),
            ]
        );
        assert_eq!(items[7]["text"]["link"]["url"], "https://g.example");
    }
}
