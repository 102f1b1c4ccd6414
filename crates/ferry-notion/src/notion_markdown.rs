//! A page in Notion's own markdown (`GET /pages/{id}/markdown`, API 2026-03-11), completed.
//!
//! Notion writes `<unknown url="…" alt="…"/>` where it stopped: past its record limit (those
//! ids are listed in `unknown_block_ids` and the same endpoint answers their subtrees) and for
//! block types its format lacks (bookmarks, embeds, link previews, …). Ferry fills each tag
//! in: a listed subtree from the endpoint, any other block read through the block API and
//! written by Ferry's converter. Fills are fetched several at once, round after round (a
//! subtree may hold tags of its own), each block at most once; what cannot be filled stays
//! a tag and is reported with the reason.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use ferry_provider::Transport;

use crate::markdown::{BlockTree, MarkdownOptions, UnknownBlock, blocks_to_markdown};
use crate::tree::{TreeLimits, fetch_tree};
use crate::{ApiVersion, Notion, NotionError};

/// A tag left in the text, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftTag {
    /// The block's id, when the tag's URL holds one.
    pub id: Option<String>,
    /// The tag's `alt`: the block type Notion named.
    #[serde(rename = "type")]
    pub kind: String,
    /// `unavailable` (Notion answered not found or restricted), `requests` (the request
    /// budget ran out) or `no_id` (the tag's URL names no block).
    pub reason: &'static str,
}

/// The completed text and what it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletedMarkdown {
    pub markdown: String,
    pub truncated_by_notion: bool,
    /// Tags replaced by their content.
    pub filled: usize,
    pub left: Vec<LeftTag>,
    /// Blocks Ferry's converter wrote as a comment while filling.
    pub unknown_blocks: Vec<UnknownBlock>,
    pub requests: usize,
}

/// How much completing may cost.
#[derive(Debug, Clone, Copy)]
pub struct CompletionLimits {
    /// Requests in all, the first included.
    pub max_requests: usize,
    /// Fills in flight at once; the pacer still spaces the requests.
    pub concurrency: usize,
    /// Bounds reading the children of a block filled by Ferry's converter.
    pub tree: TreeLimits,
}

/// One `<unknown …/>` line.
#[derive(Debug, Clone, PartialEq)]
struct UnknownTag {
    indent: String,
    id: Option<String>,
    kind: String,
}

impl UnknownTag {
    fn parse(line: &str) -> Option<UnknownTag> {
        let body = line.trim_start_matches([' ', '\t']);
        let attributes = body
            .strip_prefix("<unknown ")?
            .trim_end()
            .strip_suffix("/>")?;
        Some(UnknownTag {
            indent: line[..line.len() - body.len()].to_string(),
            id: attribute(attributes, "url").and_then(|url| last_id(&url)),
            kind: attribute(attributes, "alt").unwrap_or_default(),
        })
    }
}

/// `name="value"` in a tag's attributes, unescaped.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let end = attributes[start..].find('"')? + start;
    Some(
        attributes[start..end]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// The last run of 32 hex digits (dashes allowed) in a Notion URL: a block link ends with
/// `#<block id>`, a page link with `-<page id>`.
fn last_id(url: &str) -> Option<String> {
    let hex: Vec<char> = url
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_hexdigit())
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .filter(|c| *c != '-')
        .collect();
    (hex.len() >= 32).then(|| hex[..32].iter().rev().collect())
}

fn compact(id: &str) -> String {
    id.chars().filter(|c| *c != '-').collect()
}

/// Who fills a tag.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The markdown endpoint, for an id Notion listed in `unknown_block_ids`.
    Notion,
    /// The block API and Ferry's converter, for a block type Notion's format lacks.
    Converter,
}

/// What one tag was filled with.
struct Fill {
    lines: Vec<String>,
    /// Ids a filled subtree listed as unknown in its turn.
    listed: Vec<String>,
    unknown_blocks: Vec<UnknownBlock>,
    requests: usize,
}

/// `page_id`'s content in Notion's markdown, with every tag Notion left filled in where
/// the budget and access allow.
pub async fn completed_page_markdown<T: Transport>(
    notion: &Notion<T>,
    page_id: &str,
    limits: CompletionLimits,
    options: &MarkdownOptions<'_>,
) -> Result<CompletedMarkdown, NotionError> {
    let markdown_api = Notion::new(
        notion.transport(),
        notion.version().max(ApiVersion::V2026_03_11),
    );
    let first = markdown_api.page_markdown(page_id).await?;
    let mut done = CompletedMarkdown {
        truncated_by_notion: first.truncated,
        requests: 1,
        ..CompletedMarkdown::default()
    };
    let mut listed: HashSet<String> = first
        .unknown_block_ids
        .iter()
        .map(|id| compact(id))
        .collect();
    let mut lines: Vec<String> = first.markdown.split('\n').map(str::to_string).collect();
    // A listed id is asked of Notion once; when its answer is again a tag (a bookmark past
    // the limit, say), Ferry's converter fills it. No id is asked twice of either.
    let mut asked_notion: HashSet<String> = HashSet::new();
    let mut converted: HashSet<String> = HashSet::new();
    loop {
        let mut pending = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let Some(tag) = UnknownTag::parse(line) else {
                continue;
            };
            let Some(id) = tag.id.clone() else {
                continue;
            };
            let source = if listed.contains(&id) && asked_notion.insert(id.clone()) {
                Source::Notion
            } else if converted.insert(id) {
                Source::Converter
            } else {
                continue;
            };
            pending.push((index, tag, source));
        }
        if pending.is_empty() {
            break;
        }
        let affordable = limits.max_requests.saturating_sub(done.requests);
        let over = pending.split_off(affordable.min(pending.len()));
        for (_, tag, _) in over {
            done.left.push(LeftTag {
                id: tag.id,
                kind: tag.kind,
                reason: "requests",
            });
        }
        let markdown_api = &markdown_api;
        let fills: Vec<_> =
            stream::iter(pending.into_iter().map(|(index, tag, source)| async move {
                let id = tag.id.clone().unwrap_or_default();
                let fill = match source {
                    Source::Notion => fill_from_notion(markdown_api, &id).await,
                    Source::Converter => {
                        fill_with_converter(notion, &id, limits.tree, options).await
                    }
                };
                (index, tag, source, fill)
            }))
            .buffer_unordered(limits.concurrency.max(1))
            .collect()
            .await;
        let mut replacements = Vec::new();
        for (index, tag, source, fill) in fills {
            match fill {
                Ok(Some(fill)) => {
                    done.filled += 1;
                    done.requests += fill.requests;
                    listed.extend(fill.listed.iter().map(|id| compact(id)));
                    done.unknown_blocks.extend(fill.unknown_blocks);
                    let indented = fill
                        .lines
                        .into_iter()
                        .map(|line| format!("{}{line}", tag.indent))
                        .collect::<Vec<_>>();
                    replacements.push((index, indented));
                }
                Ok(None) => {
                    if let (Source::Notion, Some(id)) = (source, &tag.id) {
                        // Not shown to this connection: the block API would not show it either.
                        converted.insert(id.clone());
                    }
                    done.requests += 1;
                    done.left.push(LeftTag {
                        id: tag.id,
                        kind: tag.kind,
                        reason: "unavailable",
                    });
                }
                Err(error) => return Err(error),
            }
        }
        // From the end, so that earlier indexes stay true.
        replacements.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
        for (index, indented) in replacements {
            lines.splice(index..=index, indented);
        }
    }
    for line in &lines {
        if let Some(tag) = UnknownTag::parse(line)
            && tag.id.is_none()
        {
            done.left.push(LeftTag {
                id: None,
                kind: tag.kind,
                reason: "no_id",
            });
        }
    }
    done.markdown = lines.join("\n");
    Ok(done)
}

/// Notion cannot show the block to this connection (or it is gone).
fn unavailable(error: &NotionError) -> bool {
    matches!(
        error.code(),
        Some("object_not_found" | "restricted_resource")
    )
}

async fn fill_from_notion<T: Transport>(
    markdown_api: &Notion<T>,
    id: &str,
) -> Result<Option<Fill>, NotionError> {
    match markdown_api.page_markdown(id).await {
        Ok(part) => Ok(Some(Fill {
            lines: part.markdown.split('\n').map(str::to_string).collect(),
            listed: part.unknown_block_ids,
            unknown_blocks: Vec::new(),
            requests: 1,
        })),
        Err(error) if unavailable(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A block Notion's format lacks, read and written as Ferry's markdown.
async fn fill_with_converter<T: Transport>(
    notion: &Notion<T>,
    id: &str,
    tree_limits: TreeLimits,
    options: &MarkdownOptions<'_>,
) -> Result<Option<Fill>, NotionError> {
    let block = match notion.block(id).await {
        Ok(block) => block,
        Err(error) if unavailable(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut requests = 1;
    let children = if block.has_children {
        let tree = fetch_tree(notion, &block.id, tree_limits).await?;
        requests += tree.requests;
        tree.blocks
    } else {
        Vec::new()
    };
    let converted = blocks_to_markdown(&[BlockTree { block, children }], options);
    let text = converted.markdown.trim_end_matches('\n');
    Ok(Some(Fill {
        // A block with nothing to show (a breadcrumb) leaves no line.
        lines: if text.is_empty() {
            Vec::new()
        } else {
            text.split('\n').map(str::to_string).collect()
        },
        listed: Vec::new(),
        unknown_blocks: converted.unknown_blocks,
        requests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_unknown_tag_and_the_block_id_in_its_url() {
        let tag = UnknownTag::parse(
            "\t\t<unknown url=\"https://www.notion.so/Acme-Handbook-743d242f170f4910995a5175f5b216e6#592b5e8e-15a3-4797-8fa7-ec29d8c47a62\" alt=\"bookmark\"/>",
        )
        .expect("a tag");
        assert_eq!(tag.indent, "\t\t");
        assert_eq!(tag.id.as_deref(), Some("592b5e8e15a347978fa7ec29d8c47a62"));
        assert_eq!(tag.kind, "bookmark");
        let page = UnknownTag::parse("<unknown url=\"https://www.notion.so/Plan-743d242f170f4910995a5175f5b216e6\" alt=\"page\"/>").expect("a tag");
        assert_eq!(page.id.as_deref(), Some("743d242f170f4910995a5175f5b216e6"));
        let no_id =
            UnknownTag::parse("<unknown url=\"https://example.com/\" alt=\"x\"/>").expect("a tag");
        assert_eq!(no_id.id, None);
        assert_eq!(UnknownTag::parse("text <unknown url=\"x\"/>"), None);
        assert_eq!(UnknownTag::parse("<unknown url=\"x\">"), None);
    }
}
