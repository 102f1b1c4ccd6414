//! Fetching a page's block tree: every block with children is listed as soon as it is known,
//! several lists at once, so the pacer's budget is what bounds the time and not the tree's
//! depth. Nothing is asked twice (a synced copy whose original is on the page takes the
//! original's children) and nothing is asked that the markdown does not need (a child page's
//! content belongs to that page). Depth and block count are limited, and what was cut
//! is reported.

use std::collections::{HashMap, VecDeque};

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use serde_json::Value;

use ferry_provider::Transport;

use crate::markdown::BlockTree;
use crate::types::Block;
use crate::{Notion, NotionError, Paginated};

/// How far a tree is fetched.
#[derive(Debug, Clone, Copy)]
pub struct TreeLimits {
    /// Levels below the page; blocks deeper than this are not listed.
    pub max_depth: usize,
    /// Blocks in all; the lists stop once this many are read.
    pub max_blocks: usize,
    /// Lists in flight at once; the pacer still spaces the requests.
    pub concurrency: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits {
            max_depth: 32,
            max_blocks: 20_000,
            concurrency: 8,
        }
    }
}

/// A block whose children were not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutBlock {
    pub id: String,
    /// `depth`, `blocks`, or `unavailable` (a synced block's original that cannot be read).
    pub reason: &'static str,
}

/// A fetched tree, the requests it took and what was cut.
#[derive(Debug, Clone, Default)]
pub struct FetchedTree {
    pub blocks: Vec<BlockTree>,
    pub requests: usize,
    pub cut: Vec<CutBlock>,
}

struct Slot {
    block: Block,
    children: Vec<usize>,
    /// A synced copy whose original is in this tree: its children are the original's.
    same_as: Option<usize>,
}

/// Whose children a list fills: the root's, or a slot's.
type Owner = Option<usize>;

/// Fetches the blocks under `root_id` (a page or a block) as a tree.
pub async fn fetch_tree<T: Transport>(
    notion: &Notion<T>,
    root_id: &str,
    limits: TreeLimits,
) -> Result<FetchedTree, NotionError> {
    let mut slots: Vec<Slot> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    let mut requests = 0;
    let mut cut = Vec::new();
    let mut queue: VecDeque<(Owner, usize, Paginated<'_, T, Block>, bool)> =
        VecDeque::from([(None, 1, notion.block_children(root_id)?, false)]);
    let mut in_flight = FuturesUnordered::new();
    // Synced copies wait until the page is read: when their original is in it, its children
    // are reused instead of listed again.
    let mut copies: Vec<(usize, String, usize)> = Vec::new();
    let mut listed: HashMap<String, usize> = HashMap::new();
    loop {
        while in_flight.len() < limits.concurrency.max(1) {
            let Some((owner, depth, mut list, tolerant)) = queue.pop_front() else {
                break;
            };
            in_flight.push(async move {
                let page = list.next_page().await;
                (owner, depth, list, tolerant, page)
            });
        }
        let Some((owner, depth, list, tolerant, page)) = in_flight.next().await else {
            if copies.is_empty() {
                break;
            }
            for (index, original, depth) in copies.drain(..) {
                match listed.get(&original) {
                    Some(&source) => slots[index].same_as = Some(source),
                    None => queue.push_back((
                        Some(index),
                        depth + 1,
                        notion.block_children(&original)?,
                        true,
                    )),
                }
            }
            continue;
        };
        let Some(page) = page else {
            continue;
        };
        requests += 1;
        let blocks = match page {
            Ok(blocks) => blocks,
            Err(e)
                if tolerant
                    && matches!(e.code(), Some("object_not_found" | "restricted_resource")) =>
            {
                if let Some(owner) = owner {
                    cut.push(CutBlock {
                        id: slots[owner].block.id.clone(),
                        reason: "unavailable",
                    });
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut more = true;
        for block in blocks {
            if slots.len() >= limits.max_blocks {
                cut.push(CutBlock {
                    id: owner.map_or_else(|| root_id.to_string(), |o| slots[o].block.id.clone()),
                    reason: "blocks",
                });
                more = false;
                break;
            }
            let index = slots.len();
            let source = children_source(&block);
            slots.push(Slot {
                block,
                children: Vec::new(),
                same_as: None,
            });
            match owner {
                Some(owner) => slots[owner].children.push(index),
                None => roots.push(index),
            }
            if let Some((id, tolerant)) = source {
                if depth >= limits.max_depth {
                    cut.push(CutBlock {
                        id: slots[index].block.id.clone(),
                        reason: "depth",
                    });
                } else if id != slots[index].block.id {
                    copies.push((index, id, depth));
                } else {
                    listed.insert(id.clone(), index);
                    queue.push_back((
                        Some(index),
                        depth + 1,
                        notion.block_children(&id)?,
                        tolerant,
                    ));
                }
            }
        }
        if more {
            // The rest of a list goes first: a page is finished before lists found in it.
            queue.push_front((owner, depth, list, tolerant));
        }
    }
    // Lists never started because the block limit was reached are cut too.
    for (owner, _, _, _) in queue {
        if let Some(owner) = owner {
            cut.push(CutBlock {
                id: slots[owner].block.id.clone(),
                reason: "blocks",
            });
        }
    }
    cut.dedup();
    let blocks = roots
        .iter()
        .map(|&i| assemble(&slots, i, &mut Vec::new()))
        .collect();
    Ok(FetchedTree {
        blocks,
        requests,
        cut,
    })
}

/// Where a block's children are read, if it has any the markdown needs: a synced copy's come
/// from its original (which may not be shared, hence tolerated); a child page's or
/// database's content belongs to that page and is not read.
fn children_source(block: &Block) -> Option<(String, bool)> {
    if block.kind == "synced_block"
        && let Some(original) = block
            .content
            .pointer("/synced_from/block_id")
            .and_then(Value::as_str)
    {
        return Some((original.to_string(), true));
    }
    if !block.has_children || matches!(block.kind.as_str(), "child_page" | "child_database") {
        return None;
    }
    Some((block.id.clone(), false))
}

/// The tree under slot `index`; a synced copy takes its original's children (`within` holds
/// the originals being copied, so a copy inside its own original cannot loop).
fn assemble(slots: &[Slot], index: usize, within: &mut Vec<usize>) -> BlockTree {
    let slot = &slots[index];
    let source = slot.same_as.unwrap_or(index);
    let children = if within.contains(&source) {
        Vec::new()
    } else {
        let copying = slot.same_as.is_some();
        if copying {
            within.push(source);
        }
        let children = slots[source]
            .children
            .iter()
            .map(|&child| assemble(slots, child, within))
            .collect();
        if copying {
            within.pop();
        }
        children
    };
    BlockTree {
        block: slot.block.clone(),
        children,
    }
}
