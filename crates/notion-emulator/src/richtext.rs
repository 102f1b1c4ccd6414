//! Rich text: request items (`{text:{content}}`, mentions, equations) validated against
//! Notion's limits and turned into the stored response shape with `plain_text` and `href`.

use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::model::Workspace;
use crate::validate as v;

pub const MAX_TEXT: usize = 2000;
pub const MAX_URL: usize = 2000;
pub const MAX_EXPRESSION: usize = 1000;
pub const MAX_ITEMS: usize = 100;
const COLORS: &[&str] = &[
    "default",
    "gray",
    "brown",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "red",
    "default_background",
    "gray_background",
    "brown_background",
    "orange_background",
    "yellow_background",
    "green_background",
    "blue_background",
    "purple_background",
    "pink_background",
    "red_background",
];

pub fn colors() -> &'static [&'static str] {
    COLORS
}

pub fn default_annotations() -> Value {
    json!({"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"})
}

/// A plain text item in the stored shape.
pub fn text(content: &str) -> Value {
    json!({
        "type": "text",
        "text": {"content": content, "link": null},
        "annotations": default_annotations(),
        "plain_text": content,
        "href": null,
    })
}

pub fn parse_array(ws: &Workspace, value: Option<&Value>, path: &str) -> ApiResult<Vec<Value>> {
    let items = v::array(value, path, MAX_ITEMS)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_item(ws, item, &v::index(path, i)))
        .collect()
}

fn parse_annotations(value: Option<&Value>, path: &str) -> ApiResult<Value> {
    let mut annotations = default_annotations();
    if let Some(value) = value {
        let map = v::object(Some(value), path)?;
        v::only_keys(
            map,
            path,
            &[
                "bold",
                "italic",
                "strikethrough",
                "underline",
                "code",
                "color",
            ],
        )?;
        for key in ["bold", "italic", "strikethrough", "underline", "code"] {
            if let Some(b) = v::optional_bool(map.get(key), &v::join(path, key))? {
                annotations[key] = Value::Bool(b);
            }
        }
        if let Some(color) = map.get("color") {
            annotations["color"] = json!(v::one_of(Some(color), &v::join(path, "color"), COLORS)?);
        }
    }
    Ok(annotations)
}

fn parse_item(ws: &Workspace, item: &Value, path: &str) -> ApiResult<Value> {
    let map = v::object(Some(item), path)?;
    v::only_keys(
        map,
        path,
        &[
            "type",
            "text",
            "mention",
            "equation",
            "annotations",
            "plain_text",
            "href",
        ],
    )?;
    let annotations = parse_annotations(map.get("annotations"), &v::join(path, "annotations"))?;
    if let Some(text) = map.get("text") {
        let tpath = v::join(path, "text");
        let t = v::object(Some(text), &tpath)?;
        v::only_keys(t, &tpath, &["content", "link"])?;
        let content = v::string_max(t.get("content"), &v::join(&tpath, "content"), MAX_TEXT)?;
        let link = match t.get("link") {
            None | Some(Value::Null) => Value::Null,
            Some(link) => {
                let lpath = v::join(&tpath, "link");
                let l = v::object(Some(link), &lpath)?;
                let url = v::string_max(l.get("url"), &v::join(&lpath, "url"), MAX_URL)?;
                json!({"url": url})
            }
        };
        let href = link.get("url").cloned().unwrap_or(Value::Null);
        return Ok(json!({
            "type": "text",
            "text": {"content": content, "link": link},
            "annotations": annotations,
            "plain_text": content,
            "href": href,
        }));
    }
    if let Some(equation) = map.get("equation") {
        let epath = v::join(path, "equation");
        let e = v::object(Some(equation), &epath)?;
        let expression = v::string_max(
            e.get("expression"),
            &v::join(&epath, "expression"),
            MAX_EXPRESSION,
        )?;
        return Ok(json!({
            "type": "equation",
            "equation": {"expression": expression},
            "annotations": annotations,
            "plain_text": expression,
            "href": null,
        }));
    }
    if let Some(mention) = map.get("mention") {
        let (mention, plain, href) = parse_mention(ws, mention, &v::join(path, "mention"))?;
        return Ok(json!({
            "type": "mention",
            "mention": mention,
            "annotations": annotations,
            "plain_text": plain,
            "href": href,
        }));
    }
    v::fail(
        path,
        "an object with one of `text`, `mention`, `equation`",
        Some(item),
    )
}

fn parse_mention(ws: &Workspace, value: &Value, path: &str) -> ApiResult<(Value, String, Value)> {
    let map = v::object(Some(value), path)?;
    if let Some(user) = map.get("user") {
        let id = v::id(
            v::object(Some(user), &v::join(path, "user"))?.get("id"),
            &format!("{path}.user.id"),
        )?;
        let name = ws.user(id).and_then(|u| u.name.clone()).unwrap_or_default();
        return Ok((
            json!({"type": "user", "user": {"object": "user", "id": id}}),
            format!("@{name}"),
            Value::Null,
        ));
    }
    if let Some(page) = map.get("page") {
        let id = v::id(
            v::object(Some(page), &v::join(path, "page"))?.get("id"),
            &format!("{path}.page.id"),
        )?;
        let title = ws.page_title_text(id);
        let title = if title.is_empty() {
            "Untitled".to_string()
        } else {
            title
        };
        let href = format!("https://www.notion.so/{}", crate::ids::compact(id));
        return Ok((
            json!({"type": "page", "page": {"id": id}}),
            title,
            json!(href),
        ));
    }
    if let Some(database) = map.get("database") {
        let id = v::id(
            v::object(Some(database), &v::join(path, "database"))?.get("id"),
            &format!("{path}.database.id"),
        )?;
        let title = ws
            .databases
            .get(&id)
            .map(|d| crate::model::plain_text(&Value::Array(d.title.clone())))
            .unwrap_or_default();
        let href = format!("https://www.notion.so/{}", crate::ids::compact(id));
        return Ok((
            json!({"type": "database", "database": {"id": id}}),
            title,
            json!(href),
        ));
    }
    if let Some(date) = map.get("date") {
        let parsed = crate::dates::parse_date(Some(date), &v::join(path, "date"))?;
        let plain = match parsed.get("end").and_then(Value::as_str) {
            Some(end) => format!("{} → {end}", parsed["start"].as_str().unwrap_or_default()),
            None => parsed["start"].as_str().unwrap_or_default().to_string(),
        };
        return Ok((json!({"type": "date", "date": parsed}), plain, Value::Null));
    }
    if let Some(preview) = map.get("link_preview") {
        let ppath = v::join(path, "link_preview");
        let url = v::string_max(
            v::object(Some(preview), &ppath)?.get("url"),
            &v::join(&ppath, "url"),
            MAX_URL,
        )?;
        return Ok((
            json!({"type": "link_preview", "link_preview": {"url": url}}),
            url.to_string(),
            json!(url),
        ));
    }
    if let Some(template) = map.get("template_mention") {
        let tpath = v::join(path, "template_mention");
        let t = v::object(Some(template), &tpath)?;
        if let Some(date) = t.get("template_mention_date") {
            let d = v::one_of(
                Some(date),
                &v::join(&tpath, "template_mention_date"),
                &["today", "now"],
            )?;
            return Ok((
                json!({"type": "template_mention", "template_mention": {"type": "template_mention_date", "template_mention_date": d}}),
                format!("@{}", if d == "now" { "Now" } else { "Today" }),
                Value::Null,
            ));
        }
        v::one_of(
            t.get("template_mention_user"),
            &v::join(&tpath, "template_mention_user"),
            &["me"],
        )?;
        return Ok((
            json!({"type": "template_mention", "template_mention": {"type": "template_mention_user", "template_mention_user": "me"}}),
            "@Me".to_string(),
            Value::Null,
        ));
    }
    v::fail(
        path,
        "an object with one of `user`, `page`, `database`, `date`, `link_preview`, `template_mention`",
        Some(value),
    )
}
