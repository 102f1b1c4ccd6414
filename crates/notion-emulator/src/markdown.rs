//! A page or block subtree as Notion's enhanced markdown ("Notion-flavored Markdown"), for
//! `GET /v1/pages/{id}/markdown`.
//!
//! It follows the published format: tab indentation for children, XML-like tags for what
//! plain markdown lacks (callouts, toggles, columns, tables, media, mentions), `{color=…}`
//! attributes, and backslash escapes. Like Notion it renders up to a record limit; what is
//! past it becomes `<unknown url alt/>` with its id in `unknown_block_ids` (fetchable again
//! through the same endpoint), and the block types the format does not cover (bookmarks,
//! embeds, link previews and the like) become `<unknown>` tags that are not listed.

use serde_json::Value;

use crate::ids::compact;
use crate::model::{Block, Id, Workspace};
use crate::render::{Ctx, hosted_file_url, url_for};

/// About where Notion stops loading a page's records.
pub const RECORD_LIMIT: usize = 20_000;

/// A rendered subtree, as the endpoint answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageMarkdown {
    pub markdown: String,
    pub truncated: bool,
    pub unknown_block_ids: Vec<Id>,
}

/// What changes how a subtree renders.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Records rendered before the rest is left as `<unknown>`.
    pub record_limit: usize,
    /// Meeting notes with their content instead of a link.
    pub include_transcript: bool,
}

/// Renders `root`: a page's content, or a block (or child database) with its own subtree.
pub fn render(ws: &Workspace, ctx: &Ctx, root: Id, options: Options) -> PageMarkdown {
    let mut writer = Writer {
        ws,
        ctx,
        options,
        records_left: options.record_limit,
        out: String::new(),
        truncated: false,
        unknown: Vec::new(),
    };
    if ws.pages.contains_key(&root) {
        writer.children(root, 0);
    } else {
        writer.list(&[root], 0);
    }
    while writer.out.ends_with('\n') {
        writer.out.pop();
    }
    PageMarkdown {
        markdown: writer.out,
        truncated: writer.truncated,
        unknown_block_ids: writer.unknown,
    }
}

struct Writer<'a> {
    ws: &'a Workspace,
    ctx: &'a Ctx,
    options: Options,
    records_left: usize,
    out: String,
    truncated: bool,
    unknown: Vec<Id>,
}

impl Writer<'_> {
    fn children(&mut self, container: Id, depth: usize) {
        let ids: Vec<Id> = self
            .ws
            .children(container)
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|c| !self.ws.is_trashed(*c))
                    .collect()
            })
            .unwrap_or_default();
        self.list(&ids, depth);
    }

    fn list(&mut self, ids: &[Id], depth: usize) {
        let mut number = 0;
        for &id in ids {
            if self.records_left == 0 {
                self.truncated = true;
                self.unknown.push(id);
                let kind = self.kind_name(id);
                self.line(depth, &unknown_tag(&self.block_url(id), kind));
                continue;
            }
            self.records_left -= 1;
            let numbered = self
                .ws
                .blocks
                .get(&id)
                .is_some_and(|b| b.kind == "numbered_list_item");
            number = if numbered { number + 1 } else { 0 };
            self.item(id, depth, number);
        }
    }

    fn kind_name(&self, id: Id) -> &str {
        if let Some(b) = self.ws.blocks.get(&id) {
            &b.kind
        } else if self.ws.pages.contains_key(&id) {
            "child_page"
        } else {
            "child_database"
        }
    }

    fn item(&mut self, id: Id, depth: usize, number: usize) {
        let ws = self.ws;
        if ws.pages.contains_key(&id) {
            let title = self.ws.page_title_text(id);
            let tag = format!(
                "<page url=\"{}\">{}</page>",
                url_for(&title, id),
                escape(&title)
            );
            self.line(depth, &tag);
        } else if let Some(db) = ws.databases.get(&id) {
            let title = crate::model::plain_text(&Value::Array(db.title.clone()));
            let tag = format!(
                "<database url=\"{}\">{}</database>",
                url_for(&title, id),
                escape(&title)
            );
            self.line(depth, &tag);
        } else if let Some(block) = ws.blocks.get(&id) {
            self.block(block, depth, number);
        }
    }

    fn block(&mut self, b: &Block, depth: usize, number: usize) {
        let ws = self.ws;
        let c = &b.content;
        let text = |w: &Writer<'_>| w.rich_text(&c["rich_text"]);
        let color = color_attribute(c);
        match b.kind.as_str() {
            "paragraph" => {
                let text = text(self);
                if text.is_empty() {
                    self.line(depth, "<empty-block/>");
                } else {
                    self.line(depth, &format!("{text}{color}"));
                }
                self.children(b.id, depth + 1);
            }
            "heading_1" | "heading_2" | "heading_3" | "heading_4" => {
                let level = usize::from(b.kind.as_bytes()[8] - b'0');
                let toggle = if c["is_toggleable"] == true {
                    " {toggle=\"true\"}"
                } else {
                    ""
                };
                let line = format!("{} {}{color}{toggle}", "#".repeat(level), text(self));
                self.line(depth, &line);
                if c["is_toggleable"] == true {
                    self.children(b.id, depth + 1);
                }
            }
            "bulleted_list_item" => self.text_item(b, depth, "- ", &color),
            "numbered_list_item" => self.text_item(b, depth, &format!("{number}. "), &color),
            "to_do" => {
                let mark = if c["checked"] == true {
                    "- [x] "
                } else {
                    "- [ ] "
                };
                self.text_item(b, depth, mark, &color);
            }
            "quote" => self.text_item(b, depth, "> ", &color),
            "toggle" => {
                let attribute = tag_color(c);
                self.line(depth, &format!("<details{attribute}>"));
                self.line(depth, &format!("<summary>{}</summary>", text(self)));
                self.children(b.id, depth + 1);
                self.line(depth, "</details>");
            }
            "callout" => {
                let icon = match c["icon"]["type"].as_str() {
                    Some("emoji") => c["icon"]["emoji"].as_str().unwrap_or("").to_string(),
                    Some("external") => c["icon"]["external"]["url"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    _ => String::new(),
                };
                let icon = if icon.is_empty() {
                    String::new()
                } else {
                    format!(" icon=\"{}\"", attribute_value(&icon))
                };
                self.line(depth, &format!("<callout{icon}{}>", tag_color(c)));
                let text = text(self);
                if !text.is_empty() {
                    self.line(depth + 1, &text);
                }
                self.children(b.id, depth + 1);
                self.line(depth, "</callout>");
            }
            "code" => {
                let language = c["language"].as_str().unwrap_or("plain text");
                self.line(depth, &format!("```{language}"));
                let code = crate::model::plain_text(&c["rich_text"]);
                for line in code.split('\n') {
                    self.line(depth, line);
                }
                self.line(depth, "```");
            }
            "equation" => {
                self.line(depth, "$$");
                self.line(depth, c["expression"].as_str().unwrap_or(""));
                self.line(depth, "$$");
            }
            "divider" => self.line(depth, "---"),
            "table_of_contents" => {
                self.line(depth, &format!("<table_of_contents{}/>", tag_color(c)));
            }
            "table" => {
                let header_row = c["has_column_header"] == true;
                let header_column = c["has_row_header"] == true;
                self.line(
                    depth,
                    &format!(
                        "<table header-row=\"{header_row}\" header-column=\"{header_column}\">"
                    ),
                );
                for &row_id in &b.children {
                    let Some(row) = ws.blocks.get(&row_id) else {
                        continue;
                    };
                    if ws.is_trashed(row_id) {
                        continue;
                    }
                    self.records_left = self.records_left.saturating_sub(1);
                    self.line(depth + 1, "<tr>");
                    for cell in row.content["cells"].as_array().into_iter().flatten() {
                        let cell = self.rich_text(cell);
                        self.line(depth + 2, &format!("<td>{cell}</td>"));
                    }
                    self.line(depth + 1, "</tr>");
                }
                self.line(depth, "</table>");
            }
            "column_list" | "column" => {
                let tag = if b.kind == "column" {
                    "column"
                } else {
                    "columns"
                };
                self.line(depth, &format!("<{tag}>"));
                self.children(b.id, depth + 1);
                self.line(depth, &format!("</{tag}>"));
            }
            "image" | "video" | "audio" | "pdf" | "file" => {
                let url = self.file_url(c);
                let caption = self.rich_text(&c["caption"]);
                let line = if b.kind == "image" {
                    format!("![{caption}]({url})")
                } else {
                    format!(
                        "<{0} src=\"{1}\">{caption}</{0}>",
                        b.kind,
                        attribute_value(&url)
                    )
                };
                self.line(depth, &line);
            }
            "link_to_page" => {
                let target = c["page_id"]
                    .as_str()
                    .or(c["database_id"].as_str())
                    .and_then(crate::ids::parse);
                match target {
                    Some(target) => self.item(target, depth, 0),
                    None => self.line(depth, &unknown_tag(&self.block_url(b.id), &b.kind)),
                }
            }
            "synced_block" => match c["synced_from"]["block_id"]
                .as_str()
                .and_then(crate::ids::parse)
            {
                None => {
                    let url = self.block_url(b.id);
                    self.line(depth, &format!("<synced_block url=\"{url}\">"));
                    self.children(b.id, depth + 1);
                    self.line(depth, "</synced_block>");
                }
                Some(original) => {
                    let url = self.block_url(original);
                    self.line(depth, &format!("<synced_block_reference url=\"{url}\">"));
                    self.children(original, depth + 1);
                    self.line(depth, "</synced_block_reference>");
                }
            },
            "meeting_notes" => {
                let title = self.rich_text(&c["title"]);
                let url = self.block_url(b.id);
                if self.options.include_transcript {
                    self.line(depth, &format!("<meeting-notes url=\"{url}\">"));
                    self.line(depth + 1, &title);
                    self.children(b.id, depth + 1);
                    self.line(depth, "</meeting-notes>");
                } else {
                    self.line(
                        depth,
                        &format!("<meeting-notes url=\"{url}\">{title}</meeting-notes>"),
                    );
                }
            }
            // Bookmarks, embeds, link previews, breadcrumbs, tabs, templates and blocks the
            // API itself does not support have no form in the format.
            other => {
                let tag = unknown_tag(&self.block_url(b.id), other);
                self.line(depth, &tag);
            }
        }
    }

    /// A block written as `marker` + its text, its children one level deeper.
    fn text_item(&mut self, b: &Block, depth: usize, marker: &str, color: &str) {
        let text = self.rich_text(&b.content["rich_text"]);
        self.line(depth, &format!("{marker}{text}{color}"));
        self.children(b.id, depth + 1);
    }

    fn file_url(&self, content: &Value) -> String {
        match content["type"].as_str() {
            Some("file") => {
                let (name, upload) = crate::render::stored_file_name(content);
                hosted_file_url(self.ctx, &name, upload)["url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            }
            _ => content["external"]["url"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// A block's link: its page's URL with the block's id as the fragment.
    fn block_url(&self, id: Id) -> String {
        let page = self.ws.owning_page(id);
        let page_url = match page {
            Some(page) => url_for(&self.ws.page_title_text(page), page),
            None => format!("https://www.notion.so/{}", compact(id)),
        };
        format!("{page_url}#{}", compact(id))
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push('\t');
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn rich_text(&self, items: &Value) -> String {
        let mut out = String::new();
        for item in items.as_array().into_iter().flatten() {
            self.rich_text_item(item, &mut out);
        }
        out
    }

    fn rich_text_item(&self, item: &Value, out: &mut String) {
        let plain = item["plain_text"].as_str().unwrap_or_default();
        let inner = match item["type"].as_str() {
            Some("equation") => {
                format!(
                    "${}$",
                    item["equation"]["expression"].as_str().unwrap_or("")
                )
            }
            Some("mention") => self.mention(&item["mention"], plain),
            _ => {
                let content = item["text"]["content"].as_str().unwrap_or(plain);
                let annotations = &item["annotations"];
                let (lead, core, trail) = split_edges(content);
                if core.is_empty() {
                    out.push_str(&escape(content));
                    return;
                }
                let mut text = if annotations["code"] == true {
                    format!("`{}`", core.replace('\n', "<br>"))
                } else {
                    escape(core)
                };
                if let Some(url) = item["text"]["link"]["url"].as_str() {
                    text = format!("[{text}]({url})");
                }
                text = annotate(annotations, text);
                out.push_str(&escape(lead));
                out.push_str(&text);
                out.push_str(&escape(trail));
                return;
            }
        };
        out.push_str(&annotate(&item["annotations"], inner));
    }

    fn mention(&self, mention: &Value, plain: &str) -> String {
        let id = |key: &str| mention[key]["id"].as_str().and_then(crate::ids::parse);
        match mention["type"].as_str() {
            Some("user") => {
                let name = id("user")
                    .and_then(|u| self.ws.user(u))
                    .and_then(|u| u.name.clone())
                    .unwrap_or_else(|| plain.trim_start_matches('@').to_string());
                let user = id("user").map(compact).unwrap_or_default();
                format!(
                    "<mention-user url=\"user://{user}\">{}</mention-user>",
                    escape(&name)
                )
            }
            Some("page") => {
                let page = id("page");
                let title = page.map(|p| self.ws.page_title_text(p)).unwrap_or_default();
                let url = page.map(|p| url_for(&title, p)).unwrap_or_default();
                format!(
                    "<mention-page url=\"{url}\">{}</mention-page>",
                    escape(&title)
                )
            }
            Some("database") => {
                let url = id("database")
                    .map(|d| url_for(plain, d))
                    .unwrap_or_default();
                format!(
                    "<mention-database url=\"{url}\">{}</mention-database>",
                    escape(plain)
                )
            }
            Some("date") => {
                let date = &mention["date"];
                let start = date["start"].as_str().unwrap_or_default();
                match date["end"].as_str() {
                    Some(end) => format!("<mention-date start=\"{start}\" end=\"{end}\"/>"),
                    None => format!("<mention-date start=\"{start}\"/>"),
                }
            }
            Some("link_preview") => {
                let url = mention["link_preview"]["url"].as_str().unwrap_or(plain);
                format!("[{}]({url})", escape(url))
            }
            Some("link_mention") => {
                let href = mention["link_mention"]["href"].as_str().unwrap_or(plain);
                let title = mention["link_mention"]["title"].as_str().unwrap_or(href);
                format!("[{}]({href})", escape(title))
            }
            Some("custom_emoji") => {
                let name = mention["custom_emoji"]["name"].as_str().unwrap_or("emoji");
                format!(":{name}:")
            }
            _ => escape(plain),
        }
    }
}

/// ` {color="…"}` after a block's text, when it has a colour.
fn color_attribute(content: &Value) -> String {
    match content["color"].as_str() {
        Some(color) if color != "default" => format!(" {{color=\"{color}\"}}"),
        _ => String::new(),
    }
}

/// ` color="…"` inside a block's tag, when it has a colour.
fn tag_color(content: &Value) -> String {
    match content["color"].as_str() {
        Some(color) if color != "default" => format!(" color=\"{color}\""),
        _ => String::new(),
    }
}

fn unknown_tag(url: &str, kind: &str) -> String {
    format!("<unknown url=\"{url}\" alt=\"{kind}\"/>")
}

/// Wraps `text` in its annotations' markers, innermost first.
fn annotate(annotations: &Value, mut text: String) -> String {
    if annotations["bold"] == true {
        text = format!("**{text}**");
    }
    if annotations["italic"] == true {
        text = format!("*{text}*");
    }
    if annotations["strikethrough"] == true {
        text = format!("~~{text}~~");
    }
    if annotations["underline"] == true {
        text = format!("<span underline=\"true\">{text}</span>");
    }
    if let Some(color) = annotations["color"].as_str()
        && color != "default"
    {
        text = format!("<span color=\"{color}\">{text}</span>");
    }
    text
}

/// Leading whitespace, the rest, trailing whitespace: markers go around the middle only.
fn split_edges(text: &str) -> (&str, &str, &str) {
    let core_start = text.len() - text.trim_start().len();
    let core_end = text.trim_end().len().max(core_start);
    (
        &text[..core_start],
        &text[core_start..core_end],
        &text[core_end..],
    )
}

/// The format's escapes outside code, with line breaks as `<br>`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        match c {
            // Only where it would read back as an HTML entity (`&quot;`, `&#34;`).
            '&' if starts_entity(&text[at + 1..]) => out.push_str("\\&"),
            '\\' | '*' | '~' | '`' | '$' | '[' | ']' | '<' | '>' | '{' | '}' | '|' | '^' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("<br>"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether `rest` (after a `&`) reads as an entity: a name or number, then `;`.
fn starts_entity(rest: &str) -> bool {
    let name = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
        .unwrap_or(rest.len());
    name > 0 && rest[name..].starts_with(';')
}

/// A value inside a tag's double quotes.
fn attribute_value(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character_outside_code() {
        assert_eq!(
            escape("a*b_c [x] <y> {z} |^$~`\\"),
            "a\\*b_c \\[x\\] \\<y\\> \\{z\\} \\|\\^\\$\\~\\`\\\\"
        );
        assert_eq!(escape("two\nlines"), "two<br>lines");
        assert_eq!(escape("AT&T &quot; &#34;"), "AT&T \\&quot; \\&#34;");
    }

    #[test]
    fn annotation_markers_stay_inside_the_edges_whitespace() {
        assert_eq!(split_edges("  bold "), ("  ", "bold", " "));
        assert_eq!(split_edges("   "), ("   ", "", ""));
        let bold = serde_json::json!({"bold": true, "italic": true, "color": "red"});
        assert_eq!(
            annotate(&bold, "x".into()),
            "<span color=\"red\">***x***</span>"
        );
    }
}
