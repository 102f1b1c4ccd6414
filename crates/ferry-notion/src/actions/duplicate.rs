//! `duplicate-page`: a page copied with its writable properties and its whole block tree.
//! Notion has no copy endpoint, so the tree is read (as for markdown) and written back level
//! by level, a hundred blocks a request. What the API cannot create (child pages and
//! databases, Notion-hosted files, link previews, blocks it does not expose) is skipped and
//! listed, never silently lost.

use ferry_provider::ActionError;
use serde_json::{Map, Value, json};

use super::database::complete_properties;
use super::input::{Input, invalid};
use super::rows::READ_ONLY;
use super::{Client, failed};
use crate::markdown::BlockTree;
use crate::tree::{TreeLimits, fetch_tree};
use crate::types::{Block, Page};

pub(crate) fn input() -> Value {
    json!({
        "type": "object",
        "required": ["page_id"],
        "properties": {
            "page_id": {"type": "string", "description": "The page to copy."},
            "parent": {"type": "object", "description": "Where the copy goes, as Notion's parent object; the original's parent when absent."},
            "title": {"type": "string", "description": "The copy's title; the original's when absent."}
        },
        "additionalProperties": false
    })
}

pub(crate) fn output() -> Value {
    json!({
        "type": "object",
        "required": ["id", "url", "copied_blocks", "skipped"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "copied_blocks": {"type": "integer"},
            "skipped": {"type": "array", "description": "What could not be copied: {id, type, reason, blocks_inside} (the blocks inside are not copied either)"},
            "cut": {"type": "array", "description": "Blocks whose children were not read (depth or size limits)"}
        }
    })
}

/// Block types the API cannot create.
const NOT_CREATABLE: &[&str] = &[
    "child_page",
    "child_database",
    "link_preview",
    "unsupported",
    "meeting_notes",
    "transcription",
    "template",
];

/// Mention kinds a write can carry; others are written as their text.
const WRITABLE_MENTIONS: &[&str] = &[
    "user",
    "page",
    "database",
    "date",
    "link_preview",
    "template_mention",
];

/// Block types created together with their children in one request.
const CHILDREN_INSIDE: &[&str] = &["table", "column_list"];

pub(crate) async fn duplicate(
    notion: &Client<'_>,
    input: &Input<'_>,
) -> Result<Value, ActionError> {
    input.only(&["page_id", "parent", "title"])?;
    let page_id = input.id("page_id", "page")?;
    let parent = match input.get("parent") {
        None => None,
        Some(Value::Object(parent)) => Some(Value::Object(parent.clone())),
        Some(_) => return Err(invalid("parent", "must be Notion's parent object")),
    };
    let title = input.string("title")?;
    let mut page = notion.page(&page_id).await.map_err(failed)?;
    // Titles, text, people and relations past 25 items come cut; copy them whole.
    complete_properties(notion, &mut page).await?;
    let tree = fetch_tree(notion, &page_id, TreeLimits::default())
        .await
        .map_err(failed)?;
    let mut copy = Copy {
        skipped: Vec::new(),
        copied: 0,
    };
    let parent = parent.unwrap_or_else(|| writable_parent(&page.parent));
    let mut body = json!({
        "parent": parent,
        "properties": copy.properties(&page, title),
    });
    for key in ["icon", "cover"] {
        if let Some(value) = page.other.get(key).filter(|v| !v.is_null()) {
            body[key] = value.clone();
        }
    }
    let created = notion.create_page(&body).await.map_err(failed)?;
    if let Err(e) = copy.append(notion, &created.id, &tree.blocks).await {
        // Say where the half-made copy is, so it can be finished or deleted.
        let left = format!("the copy, page {}, is left part-written", created.id);
        return Err(match e {
            ActionError::Provider {
                provider,
                status,
                code,
                message,
            } => ActionError::Provider {
                provider,
                status,
                code,
                message: format!("{message} ({left})"),
            },
            ActionError::Unreadable(message) => {
                ActionError::Unreadable(format!("{message} ({left})"))
            }
            other => other,
        });
    }
    Ok(json!({
        "id": created.id,
        "url": created.url,
        "copied_blocks": copy.copied,
        "skipped": copy.skipped,
        "cut": tree.cut,
    }))
}

/// The original's parent as a create call takes it: only the key its `type` names (a data
/// source parent also carries its database's id, which a create refuses beside it).
fn writable_parent(parent: &Value) -> Value {
    match parent.get("type").and_then(Value::as_str) {
        Some(kind) => json!({ kind: parent[kind] }),
        None => parent.clone(),
    }
}

struct Copy {
    skipped: Vec<Value>,
    copied: usize,
}

impl Copy {
    fn skip(&mut self, node: &BlockTree, reason: &str) {
        self.skipped.push(json!({
            "id": node.block.id,
            "type": node.block.kind,
            "reason": reason,
            "blocks_inside": descendants(node),
        }));
    }

    /// The page's property values as a create call takes them; computed ones left out.
    fn properties(&mut self, page: &Page, title: Option<&str>) -> Value {
        let mut out = Map::new();
        for (name, property) in &page.properties {
            // Computed ones, and a verification Notion keeps per page.
            if READ_ONLY.contains(&property.kind.as_str()) || property.kind == "verification" {
                continue;
            }
            let value = match (property.kind.as_str(), title) {
                ("title", Some(title)) => json!([{"type": "text", "text": {"content": title}}]),
                ("title" | "rich_text", _) => writable_rich_text(&property.value),
                ("select" | "status", _) => named(&property.value),
                ("multi_select", _) => each(&property.value, named),
                ("people" | "relation", _) => each(&property.value, |v| json!({"id": v["id"]})),
                ("files", _) => match &property.value {
                    // Notion-hosted files cannot be attached again from their expiring URL.
                    Value::Array(files) => Value::Array(
                        files
                            .iter()
                            .filter(|f| f.get("type").and_then(Value::as_str) != Some("file"))
                            .cloned()
                            .collect(),
                    ),
                    other => other.clone(),
                },
                _ => property.value.clone(),
            };
            out.insert(name.clone(), json!({ property.kind.as_str(): value }));
        }
        Value::Object(out)
    }

    /// Writes `blocks` under `parent`, a hundred a request, then each one's children.
    async fn append(
        &mut self,
        notion: &Client<'_>,
        parent: &str,
        blocks: &[BlockTree],
    ) -> Result<(), ActionError> {
        let mut writable: Vec<(&BlockTree, Value)> = Vec::new();
        for node in blocks {
            match self.body(node) {
                Some(body) => writable.push((node, body)),
                None => continue,
            }
        }
        for chunk in writable.chunks(100) {
            let bodies = chunk.iter().map(|(_, body)| body.clone()).collect();
            let created = notion
                .append_children(parent, bodies)
                .await
                .map_err(failed)?;
            if created.results.len() != chunk.len() {
                return Err(ActionError::Unreadable(format!(
                    "Notion created {} blocks of {}",
                    created.results.len(),
                    chunk.len()
                )));
            }
            for ((node, _), new) in chunk.iter().zip(&created.results) {
                self.copied += 1;
                let kind = node.block.kind.as_str();
                if CHILDREN_INSIDE.contains(&kind) {
                    self.copied += node.children.len();
                    self.inner_levels(notion, node, &new.id).await?;
                } else if !node.children.is_empty() && !is_synced_copy(&node.block) {
                    Box::pin(self.append(notion, &new.id, &node.children)).await?;
                }
            }
        }
        Ok(())
    }

    /// After a table or column list was created with its rows or columns (and the columns'
    /// blocks) inside: what lies deeper in the columns, appended under the new blocks.
    async fn inner_levels(
        &mut self,
        notion: &Client<'_>,
        node: &BlockTree,
        new_id: &str,
    ) -> Result<(), ActionError> {
        let deeper = node
            .children
            .iter()
            .any(|column| column.children.iter().any(|b| !b.children.is_empty()));
        if node.block.kind != "column_list" {
            return Ok(());
        }
        for column in &node.children {
            self.copied += column.children.iter().filter(|b| creatable(b)).count();
        }
        if !deeper {
            return Ok(());
        }
        let new_columns = notion
            .block_children(new_id)
            .map_err(failed)?
            .all()
            .await
            .map_err(failed)?;
        for (column, new_column) in node.children.iter().zip(&new_columns) {
            let new_blocks = notion
                .block_children(&new_column.id)
                .map_err(failed)?
                .all()
                .await
                .map_err(failed)?;
            let written = column.children.iter().filter(|b| creatable(b));
            for (original, new) in written.zip(&new_blocks) {
                let inside = CHILDREN_INSIDE.contains(&original.block.kind.as_str());
                if !original.children.is_empty() && !inside && !is_synced_copy(&original.block) {
                    Box::pin(self.append(notion, &new.id, &original.children)).await?;
                }
            }
        }
        Ok(())
    }

    /// The block as an append call takes it, or `None` (and noted) when it cannot be made.
    fn body(&mut self, node: &BlockTree) -> Option<Value> {
        let block = &node.block;
        let kind = block.kind.as_str();
        if NOT_CREATABLE.contains(&kind) {
            self.skip(node, "the API cannot create this block type");
            return None;
        }
        if hosted_file(block) {
            self.skip(
                node,
                "a file hosted by Notion cannot be attached again from its expiring URL",
            );
            return None;
        }
        let mut content = writable_content(kind, &block.content);
        if CHILDREN_INSIDE.contains(&kind) {
            let children: Vec<Value> = node
                .children
                .iter()
                .map(|child| {
                    let mut inner = writable_content(&child.block.kind, &child.block.content);
                    if child.block.kind == "column" {
                        let blocks: Vec<Value> =
                            child.children.iter().filter_map(|b| self.body(b)).collect();
                        inner["children"] = Value::Array(blocks);
                    }
                    json!({"type": child.block.kind, child.block.kind.as_str(): inner})
                })
                .collect();
            content["children"] = Value::Array(children);
        }
        Some(json!({"type": kind, kind: content}))
    }
}

/// A select or status option as it is written: by name.
fn named(option: &Value) -> Value {
    if option.is_null() {
        Value::Null
    } else {
        json!({"name": option["name"]})
    }
}

fn each(values: &Value, map: impl Fn(&Value) -> Value) -> Value {
    Value::Array(
        values
            .as_array()
            .map(|values| values.iter().map(map).collect())
            .unwrap_or_default(),
    )
}

/// Blocks under `node` (read), which are skipped with it.
fn descendants(node: &BlockTree) -> usize {
    node.children.iter().map(|c| 1 + descendants(c)).sum()
}

/// Whether the API can create the block (else it is skipped).
fn creatable(node: &BlockTree) -> bool {
    !NOT_CREATABLE.contains(&node.block.kind.as_str()) && !hosted_file(&node.block)
}

/// A synced block that shows another block's content: copied as a pointer, children and all.
fn is_synced_copy(block: &Block) -> bool {
    block.kind == "synced_block" && !block.content["synced_from"].is_null()
}

fn hosted_file(block: &Block) -> bool {
    matches!(
        block.kind.as_str(),
        "image" | "video" | "pdf" | "audio" | "file"
    ) && block.content.get("type").and_then(Value::as_str) == Some("file")
}

/// A block's content as it is written: rich text without the read-only parts.
fn writable_content(kind: &str, content: &Value) -> Value {
    let Value::Object(map) = content else {
        return json!({});
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "rich_text" | "caption" | "cells" if kind == "table_row" => Value::Array(
                value
                    .as_array()
                    .map(|cells| cells.iter().map(writable_rich_text).collect())
                    .unwrap_or_default(),
            ),
            "rich_text" | "caption" => writable_rich_text(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if kind == "synced_block" && out.get("synced_from").is_some_and(Value::is_null) {
        out.insert("synced_from".into(), Value::Null);
    }
    Value::Object(out)
}

/// Rich text items as they are written: `plain_text` and `href` are Notion's to compute.
fn writable_rich_text(items: &Value) -> Value {
    let Value::Array(items) = items else {
        return json!([]);
    };
    Value::Array(
        items
            .iter()
            .map(|item| {
                let mention = item["mention"]["type"].as_str().unwrap_or("");
                if item["type"] == "mention" && !WRITABLE_MENTIONS.contains(&mention) {
                    // Read-only mention kinds go back as the text (and link) they show.
                    let link = item["href"].as_str().map(|url| json!({"url": url}));
                    return json!({
                        "type": "text",
                        "text": {"content": item["plain_text"], "link": link},
                        "annotations": item["annotations"],
                    });
                }
                let mut item = item.clone();
                if let Value::Object(map) = &mut item {
                    map.remove("plain_text");
                    map.remove("href");
                }
                item
            })
            .collect(),
    )
}
