//! Rich text to inline GitHub-flavoured markdown.
//!
//! Markdown's emphasis rules (delimiter runs, flanking) break converters that wrap each
//! annotated item in markers on its own: `**a****b**`, `** a **`, `*x***y**` and `word**"q"**`
//! do not read back as what Notion shows. Here runs with equal formatting are merged first,
//! whitespace at a run's edges moves outside its markers, and a run whose markers would not
//! open or close where they stand is written with the equivalent HTML tag instead.

use std::borrow::Cow;

use serde_json::Value;

/// How inline text is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineStyle {
    /// Keep Notion's text and background colours as `<span style>`.
    pub colors: bool,
    /// Inside a GFM table cell: pipes escaped, line breaks as `<br>`.
    pub in_table: bool,
}

/// A rich-text item's annotations, read in place from Notion's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Annotations<'a> {
    bold: bool,
    italic: bool,
    strikethrough: bool,
    underline: bool,
    code: bool,
    color: &'a str,
}

impl<'a> Annotations<'a> {
    fn of(annotations: &'a Value) -> Annotations<'a> {
        let mut out = Annotations::default();
        // One pass over the few entries beats a lookup per flag.
        if let Value::Object(map) = annotations {
            for (name, value) in map {
                if let Value::Bool(on) = value {
                    match name.as_str() {
                        "bold" => out.bold = *on,
                        "italic" => out.italic = *on,
                        "strikethrough" => out.strikethrough = *on,
                        "underline" => out.underline = *on,
                        "code" => out.code = *on,
                        _ => {}
                    }
                } else if name == "color" {
                    out.color = value.as_str().unwrap_or("");
                }
            }
        }
        out
    }
}

/// A run: adjacent items sharing formatting and link, with their text joined.
struct Run<'a> {
    /// Borrowed from the JSON unless adjacent items were joined.
    text: Cow<'a, str>,
    code: bool,
    equation: bool,
    annotations: Annotations<'a>,
    href: Option<&'a str>,
}

fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The plain text of rich-text items as Notion's JSON.
pub fn plain(items: &[Value]) -> String {
    items.iter().map(|i| str_at(i, "plain_text")).collect()
}

/// Writes rich-text `items` (Notion's JSON, read in place) as inline markdown.
pub fn rich_text(items: &[Value], style: InlineStyle) -> String {
    let mut out = String::new();
    write_rich_text(items, style, &mut out);
    out
}

/// [`rich_text`], appended to `out`.
pub fn write_rich_text(items: &[Value], style: InlineStyle, out: &mut String) {
    let runs = runs(items);
    let mut index = 0;
    while index < runs.len() {
        // Runs that share a link go in one `[…](…)`.
        let href = runs[index].href;
        let mut end = index + 1;
        if href.is_some() {
            while end < runs.len() && runs[end].href == href {
                end += 1;
            }
        }
        let next_char = runs.get(end).and_then(|r| r.text.chars().next());
        match href {
            Some(url) => {
                let mut inner = String::new();
                write_runs(&runs[index..end], &mut inner, None, style);
                let (lead, body, trail) = split_edges(&inner);
                out.push_str(lead);
                if body.is_empty() {
                    out.push_str(trail);
                } else {
                    out.push('[');
                    out.push_str(body);
                    out.push_str("](");
                    out.push_str(&link_target(url));
                    out.push(')');
                    out.push_str(trail);
                }
            }
            None => write_runs(&runs[index..end], out, next_char, style),
        }
        index = end;
    }
}

fn runs(items: &[Value]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    for item in items {
        // One pass over the item's entries: lookups by key cost a string compare each.
        let (mut kind, mut plain_text, mut href) = ("", "", None);
        let mut annotations = Annotations::default();
        let mut contents: [(&str, &Value); 3] = [("", &Value::Null); 3];
        if let Value::Object(map) = item {
            for (name, value) in map {
                // By length first: most keys are then told apart without a compare.
                match (name.len(), name.as_str()) {
                    (4, "type") => kind = value.as_str().unwrap_or(""),
                    (10, "plain_text") => plain_text = value.as_str().unwrap_or(""),
                    (4, "href") => href = value.as_str(),
                    (11, "annotations") => annotations = Annotations::of(value),
                    (4, "text") => contents[0] = ("text", value),
                    (7, "mention") => contents[1] = ("mention", value),
                    (8, "equation") => contents[2] = ("equation", value),
                    _ => {}
                }
            }
        }
        let content = contents
            .iter()
            .find(|(name, _)| *name == kind)
            .map_or(&Value::Null, |(_, value)| *value);
        let equation = kind == "equation";
        let text: Cow<'_, str> = match kind {
            "equation" => Cow::Borrowed(
                content
                    .get("expression")
                    .and_then(Value::as_str)
                    .unwrap_or(plain_text),
            ),
            "mention" => Cow::Owned(mention_text(content, plain_text)),
            _ => Cow::Borrowed(plain_text),
        };
        let href = href
            .or_else(|| {
                content
                    .get("link")
                    .and_then(|l| l.get("url"))
                    .and_then(Value::as_str)
            })
            .filter(|h| !h.is_empty());
        if let Some(last) = runs.last_mut()
            && !equation
            && !last.equation
            && last.annotations == annotations
            && last.href == href
        {
            last.text.to_mut().push_str(&text);
            continue;
        }
        runs.push(Run {
            text,
            code: annotations.code,
            equation,
            annotations,
            href,
        });
    }
    runs
}

/// The text a mention shows; its link comes through `href`.
fn mention_text(content: &Value, plain_text: &str) -> String {
    let kind = str_at(content, "type");
    match kind {
        "date" => {
            let date = content.get("date");
            let start = date
                .and_then(|d| d.get("start"))
                .and_then(Value::as_str)
                .unwrap_or("");
            match date.and_then(|d| d.get("end")).and_then(Value::as_str) {
                Some(end) => format!("{start} → {end}"),
                None => start.to_string(),
            }
        }
        "user" if !plain_text.starts_with('@') && !plain_text.is_empty() => {
            format!("@{plain_text}")
        }
        "custom_emoji" => {
            let name = content
                .pointer("/custom_emoji/name")
                .and_then(Value::as_str)
                .unwrap_or(plain_text);
            format!(":{}:", name.trim_matches(':'))
        }
        _ if plain_text.is_empty() => {
            let inner = content.get(kind);
            ["url", "href", "id"]
                .iter()
                .find_map(|k| inner.and_then(|i| i.get(*k)).and_then(Value::as_str))
                .unwrap_or("")
                .to_string()
        }
        _ => plain_text.to_string(),
    }
}

/// Writes unlinked (or all-one-link) runs; `after` is the character that follows them.
fn write_runs(runs: &[Run<'_>], out: &mut String, after: Option<char>, style: InlineStyle) {
    for (i, run) in runs.iter().enumerate() {
        let next = runs
            .get(i + 1)
            .and_then(|r| r.text.chars().next())
            .or(after);
        write_run(run, out, next, style);
    }
}

fn write_run(run: &Run<'_>, out: &mut String, next: Option<char>, style: InlineStyle) {
    let (lead, core, trail) = split_edges(&run.text);
    push_whitespace(lead, style, out);
    if core.is_empty() {
        push_whitespace(trail, style, out);
        return;
    }
    let a = run.annotations;
    let colored = style.colors && !a.color.is_empty() && a.color != "default";
    if !run.equation
        && !run.code
        && !a.bold
        && !a.italic
        && !a.strikethrough
        && !a.underline
        && !colored
    {
        // Plain text, the common case: straight into the output.
        escape_into(core, style, out);
        push_whitespace(trail, style, out);
        return;
    }
    let body = if run.equation {
        format!("${}$", core.replace('$', "\\$"))
    } else if run.code {
        code_span(core, style)
    } else {
        escape(core, style)
    };
    let markers = [
        (a.bold, "**", "<strong>", "</strong>"),
        (a.italic, "*", "<em>", "</em>"),
        (a.strikethrough, "~~", "<del>", "</del>"),
    ];
    let any_marker = a.bold || a.italic || a.strikethrough;
    let previous = out.chars().next_back();
    let first = body.chars().next();
    let last = body.chars().next_back();
    // Markers open when followed by a non-space that is no punctuation or preceded by space
    // or punctuation, and close in the mirror case; a marker right after another marker
    // would join its delimiter run. When that fails, HTML tags say the same unambiguously.
    let opens = first.is_some_and(|c| !is_punctuation(c))
        || previous.is_none_or(|p| p.is_whitespace() || is_punctuation(p));
    let closes = last.is_some_and(|c| !is_punctuation(c))
        || next.is_none_or(|n| n.is_whitespace() || is_punctuation(n));
    let touching = previous.is_some_and(|p| matches!(p, '*' | '~' | '>' | '_'));
    let use_html = any_marker && (!opens || !closes || touching);
    if colored {
        match a.color.strip_suffix("_background") {
            Some(color) => {
                out.push_str("<span style=\"background-color: ");
                out.push_str(color);
            }
            None => {
                out.push_str("<span style=\"color: ");
                out.push_str(a.color);
            }
        }
        out.push_str("\">");
    }
    if a.underline {
        out.push_str("<u>");
    }
    for (on, md, html_open, _) in markers {
        if on {
            out.push_str(if use_html { html_open } else { md });
        }
    }
    out.push_str(&body);
    for (on, md, _, html_close) in markers.into_iter().rev() {
        if on {
            out.push_str(if use_html { html_close } else { md });
        }
    }
    if a.underline {
        out.push_str("</u>");
    }
    if colored {
        out.push_str("</span>");
    }
    push_whitespace(trail, style, out);
}

/// Splits leading and trailing whitespace off `text`.
fn split_edges(text: &str) -> (&str, &str, &str) {
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len().max(start);
    (&text[..start], &text[start..end], &text[end..])
}

fn push_whitespace(text: &str, style: InlineStyle, out: &mut String) {
    for c in text.chars() {
        match c {
            '\n' if style.in_table => out.push_str("<br>"),
            '\n' => out.push_str("\\\n"),
            c => out.push(c),
        }
    }
}

/// A code span whose fence is longer than any run of backticks inside it.
fn code_span(text: &str, style: InlineStyle) -> String {
    let text = if style.in_table {
        text.replace('|', "\\|").replace('\n', " ")
    } else {
        text.replace('\n', " ")
    };
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// The longest run of `of` in `text`.
pub(crate) fn longest_run(text: &str, of: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        if c == of {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_control())
}

/// Escapes what markdown would read as syntax, so the text reads back as itself.
pub fn escape(text: &str, style: InlineStyle) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(text, style, &mut out);
    out
}

/// [`escape`], appended to `out`. Every character markdown reads as syntax is ASCII, so the
/// text is scanned by byte and copied in slices between them.
pub fn escape_into(text: &str, style: InlineStyle, out: &mut String) {
    out.reserve(text.len() + 8);
    let bytes = text.as_bytes();
    // `start` is where the text not yet copied begins.
    let (mut start, mut i) = (0, 0);
    let mut line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if line_start {
            line_start = false;
            // Block syntax only counts at the start of a line.
            if matches!(b, b'#' | b'>' | b'+' | b'-' | b'=') {
                out.push_str(&text[start..i]);
                out.push('\\');
                start = i;
                i += 1;
                continue;
            }
            if ordered_list_marker(&text[i..]) {
                let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                out.push_str(&text[start..i + digits]);
                out.push('\\');
                start = i + digits;
                i += digits;
                continue;
            }
        }
        match b {
            b'\\' | b'*' | b'_' | b'[' | b']' | b'<' | b'`' | b'~' | b'$' | b'&' | b'|' => {
                out.push_str(&text[start..i]);
                out.push('\\');
                start = i;
            }
            b'\n' => {
                out.push_str(&text[start..i]);
                if style.in_table {
                    out.push_str("<br>");
                } else {
                    out.push_str("\\\n");
                    line_start = true;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[start..]);
}

fn ordered_list_marker(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    (1..=9).contains(&digits) && matches!(text.as_bytes().get(digits), Some(b'.' | b')'))
}

/// A link target that survives markdown: spaces and parentheses percent-encoded.
pub fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(items: Value) -> Vec<Value> {
        items.as_array().unwrap().clone()
    }

    fn t(content: &str, annotations: Value) -> Value {
        json!({"type": "text", "text": {"content": content, "link": null}, "plain_text": content, "href": null, "annotations": annotations})
    }

    fn md(items: Value) -> String {
        rich_text(&text(items), InlineStyle::default())
    }

    #[test]
    fn adjacent_runs_with_one_style_merge() {
        assert_eq!(
            md(json!([
                t("a", json!({"bold": true})),
                t("b", json!({"bold": true}))
            ])),
            "**ab**"
        );
    }

    #[test]
    fn whitespace_moves_outside_markers() {
        assert_eq!(
            md(json!([
                t("x", json!({})),
                t(" bold ", json!({"bold": true})),
                t("y", json!({}))
            ])),
            "x **bold** y"
        );
        assert_eq!(md(json!([t("  ", json!({"italic": true}))])), "  ");
    }

    #[test]
    fn touching_markers_fall_back_to_tags() {
        assert_eq!(
            md(json!([
                t("a", json!({"italic": true})),
                t("b", json!({"bold": true}))
            ])),
            "*a*<strong>b</strong>"
        );
        assert_eq!(
            md(json!([
                t("say", json!({})),
                t("\"q\"", json!({"bold": true}))
            ])),
            "say<strong>\"q\"</strong>"
        );
        assert_eq!(
            md(json!([
                t("in", json!({})),
                t(
                    "word",
                    json!({"bold": true, "italic": true, "strikethrough": true})
                ),
                t("s", json!({}))
            ])),
            "in***~~word~~***s"
        );
    }

    #[test]
    fn specials_are_escaped_and_code_is_fenced() {
        assert_eq!(
            md(json!([t("a*b_c [x](y) | $5", json!({}))])),
            "a\\*b\\_c \\[x\\](y) \\| \\$5"
        );
        assert_eq!(
            md(json!([t("# not a heading", json!({}))])),
            "\\# not a heading"
        );
        assert_eq!(
            md(json!([t("1. not a list", json!({}))])),
            "1\\. not a list"
        );
        assert_eq!(md(json!([t("a`b", json!({"code": true}))])), "``a`b``");
        assert_eq!(md(json!([t("`x", json!({"code": true}))])), "`` `x ``");
    }

    #[test]
    fn links_group_their_runs() {
        let items = json!([
            {"type": "text", "text": {"content": "see ", "link": {"url": "https://x.test/a b"}}, "plain_text": "see ", "href": "https://x.test/a b", "annotations": {}},
            {"type": "text", "text": {"content": "here", "link": {"url": "https://x.test/a b"}}, "plain_text": "here", "href": "https://x.test/a b", "annotations": {"bold": true}}
        ]);
        assert_eq!(md(items), "[see **here**](https://x.test/a%20b)");
    }

    #[test]
    fn equations_mentions_and_colors() {
        let items = json!([
            {"type": "equation", "equation": {"expression": "e=mc^2"}, "plain_text": "e=mc^2", "href": null, "annotations": {}},
            t(" ", json!({})),
            {"type": "mention", "mention": {"type": "date", "date": {"start": "2026-01-01", "end": null}}, "plain_text": "2026-01-01", "href": null, "annotations": {}},
            t(" ", json!({})),
            {"type": "mention", "mention": {"type": "page", "page": {"id": "p1"}}, "plain_text": "Plan", "href": "https://www.notion.so/p1", "annotations": {}},
        ]);
        assert_eq!(
            md(items),
            "$e=mc^2$ 2026-01-01 [Plan](https://www.notion.so/p1)"
        );
        let red = json!([t("hot", json!({"color": "red"}))]);
        assert_eq!(
            rich_text(
                &text(red),
                InlineStyle {
                    colors: true,
                    in_table: false
                }
            ),
            "<span style=\"color: red\">hot</span>"
        );
    }

    #[test]
    fn table_cells_keep_pipes_and_breaks() {
        let style = InlineStyle {
            colors: false,
            in_table: true,
        };
        assert_eq!(
            rich_text(&text(json!([t("a|b\nc", json!({}))])), style),
            "a\\|b<br>c"
        );
    }
}
