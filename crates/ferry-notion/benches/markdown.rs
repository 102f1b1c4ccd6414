//! CPU of the markdown conversion alone, per block, on a synthetic page of 2,500 blocks
//! (every common block type, lists nested five deep, annotated rich text). Network and
//! fetching are not in it. The comparison with notion-to-md, on a page of the emulator in the
//! same run, is `cargo bench -p ferry --bench page_markdown`.

use std::time::Instant;

use ferry_notion::markdown::{BlockTree, MarkdownOptions, blocks_to_markdown};
use ferry_notion::types::Block;
use serde_json::{Value, json};

fn rich(text: &str) -> Value {
    json!([
        {"type": "text", "text": {"content": text, "link": null}, "plain_text": text, "href": null, "annotations": {}},
        {"type": "text", "text": {"content": " bold", "link": null}, "plain_text": " bold", "href": null, "annotations": {"bold": true}},
        {"type": "text", "text": {"content": " and a link", "link": {"url": "https://x.test"}}, "plain_text": " and a link", "href": "https://x.test", "annotations": {"italic": true}},
        {"type": "equation", "equation": {"expression": "x^2"}, "plain_text": "x^2", "href": null, "annotations": {}}
    ])
}

fn block(n: usize, kind: &str, content: Value, children: Vec<BlockTree>) -> BlockTree {
    let block: Block = serde_json::from_value(json!({
        "object": "block", "id": format!("{n:032x}"), "type": kind, kind: content,
        "has_children": !children.is_empty(), "in_trash": false
    }))
    .unwrap();
    BlockTree { block, children }
}

/// A bulleted list nested `depth` levels deep under one item.
fn nested(n: &mut usize, depth: usize) -> BlockTree {
    *n += 1;
    let children = if depth > 1 {
        vec![nested(n, depth - 1)]
    } else {
        Vec::new()
    };
    block(
        *n,
        "bulleted_list_item",
        json!({"rich_text": rich("item *with* [specials]")}),
        children,
    )
}

fn page() -> (Vec<BlockTree>, usize) {
    let mut n = 0;
    let mut blocks = Vec::new();
    while n < 2500 {
        n += 1;
        let kind = n % 10;
        let node = match kind {
            0 => block(
                n,
                "heading_2",
                json!({"rich_text": rich("A heading")}),
                Vec::new(),
            ),
            1 => block(
                n,
                "paragraph",
                json!({"rich_text": rich("Some text | with a pipe")}),
                Vec::new(),
            ),
            2 => nested(&mut n, 5),
            3 => block(
                n,
                "numbered_list_item",
                json!({"rich_text": rich("step")}),
                Vec::new(),
            ),
            4 => block(
                n,
                "to_do",
                json!({"rich_text": rich("todo"), "checked": true}),
                Vec::new(),
            ),
            5 => block(
                n,
                "code",
                json!({"rich_text": rich("fn main() {}"), "language": "rust", "caption": []}),
                Vec::new(),
            ),
            6 => {
                let rows = (0..3)
                    .map(|_| {
                        n += 1;
                        block(
                            n,
                            "table_row",
                            json!({"cells": [rich("a"), rich("b|c")]}),
                            Vec::new(),
                        )
                    })
                    .collect();
                block(
                    n,
                    "table",
                    json!({"table_width": 2, "has_column_header": true}),
                    rows,
                )
            }
            7 => {
                n += 1;
                let inside = block(
                    n,
                    "paragraph",
                    json!({"rich_text": rich("hidden")}),
                    Vec::new(),
                );
                block(
                    n,
                    "toggle",
                    json!({"rich_text": rich("toggle")}),
                    vec![inside],
                )
            }
            8 => block(
                n,
                "callout",
                json!({"rich_text": rich("note"), "icon": {"type": "emoji", "emoji": "💡"}}),
                Vec::new(),
            ),
            _ => block(
                n,
                "image",
                json!({"type": "external", "external": {"url": "https://img.test/a.png"}, "caption": rich("cap")}),
                Vec::new(),
            ),
        };
        blocks.push(node);
    }
    (blocks, n)
}

fn main() {
    let (blocks, count) = page();
    let options = MarkdownOptions::default();
    // Warm up, then time enough rounds to be above the clock's noise.
    let mut size = 0;
    for _ in 0..5 {
        size = blocks_to_markdown(&blocks, &options).markdown.len();
    }
    // The fastest of many rounds: the one least disturbed by whatever else the machine runs.
    let rounds = 100;
    let fastest = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(blocks_to_markdown(std::hint::black_box(&blocks), &options));
            started.elapsed()
        })
        .min()
        .unwrap();
    let per_block = fastest.as_secs_f64() * 1e6 / count as f64;
    println!("markdown conversion: {count} blocks, {size} bytes of markdown");
    println!("  {per_block:.3} µs per block (fastest of {rounds} rounds, one thread)");
    println!("  against notion-to-md in the same run: cargo bench -p ferry --bench page_markdown");
}
