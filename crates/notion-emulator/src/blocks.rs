//! Block requests: validation of appended/created blocks (types, limits, nesting depth)
//! into a tree of new blocks, and the update rules for `PATCH /blocks/{id}`.

use serde_json::{Map, Value, json};

use crate::error::{ApiResult, NotionError};
use crate::model::Workspace;
use crate::richtext;
use crate::validate as v;
use crate::version::ApiVersion;

pub const MAX_CHILDREN: usize = 100;
pub const MAX_PAYLOAD_BLOCKS: usize = 1000;
/// top → child → grandchild.
pub const MAX_DEPTH: usize = 2;

pub const LANGUAGES: &[&str] = &[
    "abap",
    "abc",
    "agda",
    "arduino",
    "ascii art",
    "assembly",
    "bash",
    "basic",
    "bnf",
    "c",
    "c#",
    "c++",
    "clojure",
    "coffeescript",
    "coq",
    "css",
    "dart",
    "dhall",
    "diff",
    "docker",
    "ebnf",
    "elixir",
    "elm",
    "erlang",
    "f#",
    "flow",
    "fortran",
    "gherkin",
    "glsl",
    "go",
    "graphql",
    "groovy",
    "haskell",
    "hcl",
    "html",
    "idris",
    "java",
    "javascript",
    "json",
    "julia",
    "kotlin",
    "latex",
    "less",
    "lisp",
    "livescript",
    "llvm ir",
    "lua",
    "makefile",
    "markdown",
    "markup",
    "matlab",
    "mathematica",
    "mermaid",
    "nix",
    "notion formula",
    "objective-c",
    "ocaml",
    "pascal",
    "perl",
    "php",
    "plain text",
    "powershell",
    "prolog",
    "protobuf",
    "purescript",
    "python",
    "r",
    "racket",
    "reason",
    "ruby",
    "rust",
    "sass",
    "scala",
    "scheme",
    "scss",
    "shell",
    "smalltalk",
    "solidity",
    "sql",
    "swift",
    "toml",
    "typescript",
    "vb.net",
    "verilog",
    "vhdl",
    "visual basic",
    "webassembly",
    "xml",
    "yaml",
    "java/c/c++/c#",
];

const TEXT_TYPES: &[&str] = &[
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "heading_4",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "template",
    "callout",
];
const MEDIA_TYPES: &[&str] = &["image", "video", "pdf", "audio", "file"];
const CREATABLE: &[&str] = &[
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "heading_4",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "template",
    "callout",
    "code",
    "equation",
    "divider",
    "breadcrumb",
    "table_of_contents",
    "image",
    "video",
    "pdf",
    "audio",
    "file",
    "bookmark",
    "embed",
    "table",
    "table_row",
    "column_list",
    "column",
    "link_to_page",
    "synced_block",
    "tab",
];
/// Types that may hold children given in the same request.
const NESTABLE: &[&str] = &[
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "heading_4",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "template",
    "callout",
    "table",
    "column_list",
    "column",
    "synced_block",
    "tab",
];

/// A validated block to create, with its children.
#[derive(Debug, Clone)]
pub struct NewBlock {
    pub kind: String,
    pub content: Value,
    pub children: Vec<NewBlock>,
}

pub fn parse_children(
    ws: &Workspace,
    version: ApiVersion,
    value: Option<&Value>,
    path: &str,
) -> ApiResult<Vec<NewBlock>> {
    let items = v::array(value, path, MAX_CHILDREN)?;
    let mut count = 0usize;
    let blocks = items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_block(ws, version, item, &v::index(path, i), 0, &mut count))
        .collect::<ApiResult<Vec<_>>>()?;
    if count > MAX_PAYLOAD_BLOCKS {
        return Err(NotionError::body_validation(format!(
            "{path} should contain at most `{MAX_PAYLOAD_BLOCKS}` block elements in total, instead was `{count}`."
        )));
    }
    Ok(blocks)
}

fn block_kind<'a>(map: &'a Map<String, Value>, path: &str, value: &Value) -> ApiResult<&'a str> {
    if let Some(t) = map.get("type") {
        return v::string(Some(t), &v::join(path, "type"));
    }
    map.keys()
        .map(String::as_str)
        .find(|k| !matches!(*k, "object" | "type" | "id"))
        .ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} should be a block object, instead was `{}`.",
                v::describe(Some(value))
            ))
        })
}

fn parse_block(
    ws: &Workspace,
    version: ApiVersion,
    value: &Value,
    path: &str,
    depth: usize,
    count: &mut usize,
) -> ApiResult<NewBlock> {
    *count += 1;
    let map = v::object(Some(value), path)?;
    let kind = block_kind(map, path, value)?.to_string();
    if !CREATABLE.contains(&kind.as_str()) {
        return Err(NotionError::body_validation(format!(
            "{path}.type should be a block type that can be created, instead was `\"{kind}\"`."
        )));
    }
    if (kind == "heading_4" || kind == "tab") && !version.has_data_sources() {
        return Err(NotionError::body_validation(format!(
            "{path}.{kind} is not available in Notion-Version {}.",
            version.as_str()
        )));
    }
    let cpath = v::join(path, &kind);
    let body = match map.get(&kind) {
        Some(b) => v::object(Some(b), &cpath)?.clone(),
        None => {
            return Err(NotionError::body_validation(format!(
                "{cpath} should be defined, instead was `undefined`."
            )));
        }
    };
    let children = match body.get("children") {
        None => Vec::new(),
        Some(list) => {
            let cp = v::join(&cpath, "children");
            if !NESTABLE.contains(&kind.as_str()) {
                return Err(NotionError::body_validation(format!(
                    "{cp} should be not present, instead was `{}`.",
                    v::describe(Some(list))
                )));
            }
            if depth >= MAX_DEPTH {
                return Err(NotionError::body_validation(format!(
                    "{cp} should be not present (blocks can be nested at most {MAX_DEPTH} levels in one request), instead was `{}`.",
                    v::describe(Some(list))
                )));
            }
            let items = v::array(Some(list), &cp, MAX_CHILDREN)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    parse_block(ws, version, item, &v::index(&cp, i), depth + 1, count)
                })
                .collect::<ApiResult<Vec<_>>>()?
        }
    };
    let content = parse_content(ws, &kind, &body, &cpath)?;
    check_structure(&kind, &content, &children, &cpath)?;
    Ok(NewBlock {
        kind,
        content,
        children,
    })
}

fn color(body: &Map<String, Value>, path: &str) -> ApiResult<String> {
    match body.get("color") {
        Some(c) => Ok(v::one_of(Some(c), &v::join(path, "color"), richtext::colors())?.to_string()),
        None => Ok("default".to_string()),
    }
}

fn caption(ws: &Workspace, body: &Map<String, Value>, path: &str) -> ApiResult<Value> {
    match body.get("caption") {
        Some(c) => Ok(json!(richtext::parse_array(
            ws,
            Some(c),
            &v::join(path, "caption")
        )?)),
        None => Ok(json!([])),
    }
}

fn url(body: &Map<String, Value>, path: &str) -> ApiResult<String> {
    Ok(v::string_max(body.get("url"), &v::join(path, "url"), richtext::MAX_URL)?.to_string())
}

/// Parses one block's type object into its stored (read) shape.
pub fn parse_content(
    ws: &Workspace,
    kind: &str,
    body: &Map<String, Value>,
    path: &str,
) -> ApiResult<Value> {
    if TEXT_TYPES.contains(&kind) {
        let rich_text = richtext::parse_array(
            ws,
            Some(v::required(body, "rich_text", path)?),
            &v::join(path, "rich_text"),
        )?;
        let mut out = json!({"rich_text": rich_text});
        if kind != "template" {
            out["color"] = json!(color(body, path)?);
        }
        match kind {
            "to_do" => {
                out["checked"] = json!(
                    v::optional_bool(body.get("checked"), &v::join(path, "checked"))?
                        .unwrap_or(false)
                )
            }
            k if k.starts_with("heading_") => {
                out["is_toggleable"] = json!(
                    v::optional_bool(body.get("is_toggleable"), &v::join(path, "is_toggleable"))?
                        .unwrap_or(false)
                );
            }
            "callout" => {
                out["icon"] = body
                    .get("icon")
                    .cloned()
                    .unwrap_or(json!({"type": "emoji", "emoji": "💡"}))
            }
            "paragraph" => out["icon"] = body.get("icon").cloned().unwrap_or(Value::Null),
            "numbered_list_item" => {
                if let Some(start) = body.get("list_start_index") {
                    out["list_start_index"] =
                        json!(v::number(Some(start), &v::join(path, "list_start_index"))?);
                }
                if let Some(format) = body.get("list_format") {
                    out["list_format"] = json!(v::one_of(
                        Some(format),
                        &v::join(path, "list_format"),
                        &["numbers", "letters", "roman"]
                    )?);
                }
            }
            _ => {}
        }
        return Ok(out);
    }
    if MEDIA_TYPES.contains(&kind) {
        let mut out = json!({"caption": caption(ws, body, path)?});
        if let Some(external) = body.get("external") {
            let epath = v::join(path, "external");
            let u = v::string_max(
                v::object(Some(external), &epath)?.get("url"),
                &v::join(&epath, "url"),
                richtext::MAX_URL,
            )?;
            out["type"] = json!("external");
            out["external"] = json!({"url": u});
        } else if let Some(upload) = body.get("file_upload") {
            let (stored, _) = crate::uploads::parse_reference(ws, upload, path)?;
            out["type"] = json!("file");
            out["file"] = stored["file"].clone();
        } else {
            return Err(NotionError::body_validation(format!(
                "{path}.external should be defined, instead was `undefined`."
            )));
        }
        if kind == "file" {
            let default_name = match out["type"].as_str() {
                Some("file") => out["file"]["name"].as_str(),
                _ => out["external"]["url"]
                    .as_str()
                    .and_then(|u| u.rsplit('/').next()),
            }
            .unwrap_or("file")
            .to_string();
            out["name"] = json!(
                v::optional_string(body.get("name"), &v::join(path, "name"))?
                    .map(str::to_string)
                    .unwrap_or(default_name)
            );
        }
        return Ok(out);
    }
    Ok(match kind {
        "code" => json!({
            "rich_text": richtext::parse_array(ws, Some(v::required(body, "rich_text", path)?), &v::join(path, "rich_text"))?,
            "caption": caption(ws, body, path)?,
            "language": match body.get("language") {
                Some(l) => v::one_of(Some(l), &v::join(path, "language"), LANGUAGES)?,
                None => "plain text",
            },
        }),
        "equation" => {
            json!({"expression": v::string_max(body.get("expression"), &v::join(path, "expression"), richtext::MAX_EXPRESSION)?})
        }
        "divider" | "breadcrumb" | "tab" | "column_list" => json!({}),
        "table_of_contents" => json!({"color": color(body, path)?}),
        "bookmark" | "embed" => {
            json!({"url": url(body, path)?, "caption": caption(ws, body, path)?})
        }
        "table" => {
            let width = v::number(body.get("table_width"), &v::join(path, "table_width"))?;
            if width < 1.0 || width.fract() != 0.0 {
                return v::fail(
                    &v::join(path, "table_width"),
                    "a positive integer",
                    body.get("table_width"),
                );
            }
            json!({
                "table_width": width as u64,
                "has_column_header": v::optional_bool(body.get("has_column_header"), &v::join(path, "has_column_header"))?.unwrap_or(false),
                "has_row_header": v::optional_bool(body.get("has_row_header"), &v::join(path, "has_row_header"))?.unwrap_or(false),
            })
        }
        "table_row" => {
            let cpath = v::join(path, "cells");
            let cells = v::array(body.get("cells"), &cpath, 100)?;
            let parsed = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    richtext::parse_array(ws, Some(c), &v::index(&cpath, i)).map(Value::from)
                })
                .collect::<ApiResult<Vec<_>>>()?;
            json!({"cells": parsed})
        }
        "column" => match body.get("width_ratio") {
            Some(r) => json!({"width_ratio": v::number(Some(r), &v::join(path, "width_ratio"))?}),
            None => json!({}),
        },
        "link_to_page" => {
            if let Some(id) = body.get("page_id") {
                json!({"type": "page_id", "page_id": v::id(Some(id), &v::join(path, "page_id"))?})
            } else if let Some(id) = body.get("database_id") {
                json!({"type": "database_id", "database_id": v::id(Some(id), &v::join(path, "database_id"))?})
            } else {
                return Err(NotionError::body_validation(format!(
                    "{path}.page_id should be defined, instead was `undefined`."
                )));
            }
        }
        "synced_block" => match body.get("synced_from") {
            None | Some(Value::Null) => json!({"synced_from": null}),
            Some(from) => {
                let fpath = v::join(path, "synced_from");
                let id = v::id(
                    v::object(Some(from), &fpath)?.get("block_id"),
                    &v::join(&fpath, "block_id"),
                )?;
                if ws.blocks.get(&id).is_none_or(|b| b.kind != "synced_block") {
                    return v::fail(
                        &v::join(&fpath, "block_id"),
                        "the id of an original synced block",
                        from.get("block_id"),
                    );
                }
                json!({"synced_from": {"type": "block_id", "block_id": id}})
            }
        },
        other => {
            return Err(NotionError::body_validation(format!(
                "{path} has unsupported block type `{other}`."
            )));
        }
    })
}

pub(crate) fn check_structure(
    kind: &str,
    content: &Value,
    children: &[NewBlock],
    path: &str,
) -> ApiResult<()> {
    match kind {
        "table" => {
            let width = content["table_width"].as_u64().unwrap_or(0) as usize;
            if children.is_empty() {
                return Err(NotionError::body_validation(format!(
                    "{path}.children should be defined, instead was `undefined`."
                )));
            }
            for (i, row) in children.iter().enumerate() {
                let rpath = format!("{path}.children[{i}]");
                if row.kind != "table_row" {
                    return Err(NotionError::body_validation(format!(
                        "{rpath}.type should be `\"table_row\"`, instead was `\"{}\"`.",
                        row.kind
                    )));
                }
                let cells = row.content["cells"].as_array().map_or(0, Vec::len);
                if cells != width {
                    return Err(NotionError::body_validation(format!(
                        "{rpath}.table_row.cells.length should be `{width}` (the table's table_width), instead was `{cells}`."
                    )));
                }
            }
        }
        "column_list"
            if (children.len() < 2
                || children
                    .iter()
                    .any(|c| c.kind != "column" || c.children.is_empty())) =>
        {
            return Err(NotionError::body_validation(format!(
                "{path}.children should hold at least 2 columns, each with at least one child."
            )));
        }
        "synced_block" if !content["synced_from"].is_null() && !children.is_empty() => {
            return Err(NotionError::body_validation(format!(
                "{path}.children should be not present for a synced block copy."
            )));
        }
        _ => {}
    }
    if kind != "table" && children.iter().any(|c| c.kind == "table_row") {
        return Err(NotionError::body_validation(format!(
            "{path}.children may hold table_row blocks only inside a table."
        )));
    }
    Ok(())
}

/// Applies `PATCH /blocks/{id}` to a block's stored content; the type cannot change.
pub fn update_content(
    ws: &Workspace,
    kind: &str,
    current: &Value,
    patch: &Value,
    path: &str,
) -> ApiResult<Value> {
    let body = v::object(Some(patch), path)?;
    match kind {
        "table" => {
            let mut out = current.clone();
            v::only_keys(body, path, &["has_column_header", "has_row_header"])?;
            for key in ["has_column_header", "has_row_header"] {
                if let Some(b) = v::optional_bool(body.get(key), &v::join(path, key))? {
                    out[key] = json!(b);
                }
            }
            Ok(out)
        }
        "child_page" | "child_database" | "link_preview" | "unsupported" | "meeting_notes" => {
            Err(NotionError::body_validation(format!(
                "{path} is a `{kind}` block, which cannot be updated through this endpoint."
            )))
        }
        _ => {
            // Unset fields keep their value: merge the patch over the stored fields.
            let mut merged = current.as_object().cloned().unwrap_or_default();
            for (k, val) in body {
                merged.insert(k.clone(), val.clone());
            }
            let mut request = merged.clone();
            if TEXT_TYPES.contains(&kind) || kind == "code" {
                // Stored rich text is in read shape; the request parser takes the request shape.
                for key in ["rich_text", "caption"] {
                    if let Some(items) = request
                        .get(key)
                        .filter(|_| !body.contains_key(key))
                        .cloned()
                    {
                        request.insert(
                            key.into(),
                            json!(
                                items.as_array().map(|a| a
                                    .iter()
                                    .map(to_request_rich_text)
                                    .collect::<Vec<_>>())
                            ),
                        );
                    }
                }
            }
            if (MEDIA_TYPES.contains(&kind) || kind == "bookmark" || kind == "embed")
                && let Some(items) = request
                    .get("caption")
                    .filter(|_| !body.contains_key("caption"))
                    .cloned()
            {
                request.insert(
                    "caption".into(),
                    json!(
                        items
                            .as_array()
                            .map(|a| a.iter().map(to_request_rich_text).collect::<Vec<_>>())
                    ),
                );
            }
            let mut out = parse_content(ws, kind, &request, path)?;
            if kind == "table_row" {
                let before = current["cells"].as_array().map_or(0, Vec::len);
                let after = out["cells"].as_array().map_or(0, Vec::len);
                if before != after {
                    return Err(NotionError::body_validation(format!(
                        "{path}.cells.length should be `{before}`, instead was `{after}`."
                    )));
                }
            }
            if kind == "file" && !body.contains_key("name") {
                out["name"] = current["name"].clone();
            }
            Ok(out)
        }
    }
}

/// A stored rich-text item back in request shape, so unchanged fields re-validate.
pub fn to_request_rich_text(item: &Value) -> Value {
    let kind = item["type"].as_str().unwrap_or("text");
    let mut out = json!({"annotations": item["annotations"]});
    match kind {
        "mention" => {
            let m = &item["mention"];
            let mtype = m["type"].as_str().unwrap_or("");
            let mut inner = json!({});
            inner[mtype] = match mtype {
                "user" => json!({"id": m["user"]["id"]}),
                _ => m[mtype].clone(),
            };
            out["mention"] = inner;
        }
        "equation" => out["equation"] = item["equation"].clone(),
        _ => {
            let mut text = json!({"content": item["text"]["content"]});
            if !item["text"]["link"].is_null() {
                text["link"] = item["text"]["link"].clone();
            }
            out["text"] = text;
        }
    }
    out
}
