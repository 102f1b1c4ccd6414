//! Golden tests on hand-made block trees.

use serde_json::{Value, json};

use super::*;

fn text(content: &str) -> Value {
    json!([{"type": "text", "text": {"content": content, "link": null}, "plain_text": content, "href": null, "annotations": {}}])
}

fn node(kind: &str, content: Value, children: Vec<BlockTree>) -> BlockTree {
    let block: Block = serde_json::from_value(json!({
        "object": "block", "id": format!("id-{kind}"), "type": kind, kind: content,
        "has_children": !children.is_empty(), "in_trash": false
    }))
    .unwrap();
    BlockTree { block, children }
}

fn leaf(kind: &str, content: Value) -> BlockTree {
    node(kind, content, Vec::new())
}

fn convert(blocks: &[BlockTree]) -> Converted {
    blocks_to_markdown(blocks, &MarkdownOptions::default())
}

#[test]
fn lists_nest_and_number() {
    let blocks = vec![
        node(
            "numbered_list_item",
            json!({"rich_text": text("one")}),
            vec![
                leaf("bulleted_list_item", json!({"rich_text": text("inner")})),
                node(
                    "to_do",
                    json!({"rich_text": text("done"), "checked": true}),
                    vec![leaf(
                        "numbered_list_item",
                        json!({"rich_text": text("deep")}),
                    )],
                ),
            ],
        ),
        leaf("numbered_list_item", json!({"rich_text": text("two")})),
        leaf("paragraph", json!({"rich_text": text("between")})),
        leaf(
            "numbered_list_item",
            json!({"rich_text": text("again"), "list_start_index": 5}),
        ),
        leaf(
            "to_do",
            json!({"rich_text": text("open"), "checked": false}),
        ),
    ];
    assert_eq!(
        convert(&blocks).markdown,
        "1. one\n   - inner\n\n   - [x] done\n         1. deep\n2. two\n\nbetween\n\n5. again\n\n- [ ] open\n"
    );
}

#[test]
fn toggles_headings_quotes_and_callouts() {
    let blocks = vec![
        node(
            "heading_2",
            json!({"rich_text": text("Open me"), "is_toggleable": true}),
            vec![leaf("paragraph", json!({"rich_text": text("hidden")}))],
        ),
        node(
            "toggle",
            json!({"rich_text": text("More")}),
            vec![leaf("paragraph", json!({"rich_text": text("inside")}))],
        ),
        leaf("quote", json!({"rich_text": text("said\nthis")})),
        leaf(
            "callout",
            json!({"rich_text": text("Note"), "icon": {"type": "emoji", "emoji": "💡"}}),
        ),
        leaf("heading_4", json!({"rich_text": text("Small")})),
    ];
    assert_eq!(
        convert(&blocks).markdown,
        "<details>\n<summary>\n\n## Open me\n\n</summary>\n\nhidden\n\n</details>\n\n\
         <details>\n<summary>More</summary>\n\ninside\n\n</details>\n\n\
         > said\\\n> this\n\n> 💡 Note\n\n#### Small\n"
    );
}

#[test]
fn code_equations_media_and_links() {
    let blocks = vec![
        leaf(
            "code",
            json!({"rich_text": text("let x = \"```\";"), "language": "c++", "caption": text("a caption")}),
        ),
        leaf("equation", json!({"expression": "a^2+b^2"})),
        leaf(
            "image",
            json!({"type": "external", "external": {"url": "https://img.test/a (1).png"}, "caption": []}),
        ),
        leaf(
            "file",
            json!({"type": "file", "file": {"url": "https://s3.test/f.pdf?sig=1", "expiry_time": "2026-01-01T00:00:00.000Z"}, "caption": [], "name": "report.pdf"}),
        ),
        leaf(
            "bookmark",
            json!({"url": "https://x.test", "caption": text("X")}),
        ),
        leaf("divider", json!({})),
        leaf("child_page", json!({"title": "Sub page"})),
    ];
    let rewrite = |block: &Block, _url: &str| format!("https://ferry.test/files/{}", block.id);
    let options = MarkdownOptions {
        colors: false,
        file_url: Some(&rewrite),
    };
    assert_eq!(
        blocks_to_markdown(&blocks, &options).markdown,
        "````cpp\nlet x = \"```\";\n````\n\na caption\n\n$$\na^2+b^2\n$$\n\n\
         ![a (1).png](https://img.test/a%20%281%29.png)\n\n\
         [report.pdf](https://ferry.test/files/id-file)\n\n[X](https://x.test)\n\n---\n\n\
         [Sub page](https://www.notion.so/idchild_page)\n"
    );
}

#[test]
fn tables_with_headers_pipes_and_breaks() {
    let row = |cells: Vec<&str>| {
        leaf(
            "table_row",
            json!({"cells": cells.into_iter().map(text).collect::<Vec<_>>()}),
        )
    };
    let table = node(
        "table",
        json!({"table_width": 2, "has_column_header": true, "has_row_header": true}),
        vec![row(vec!["Key", "Value"]), row(vec!["a|b", "line\nbreak"])],
    );
    assert_eq!(
        convert(&[table]).markdown,
        "| Key | Value |\n| --- | --- |\n| <strong>a\\|b</strong> | line<br>break |\n"
    );
    let headless = node(
        "table",
        json!({"table_width": 1, "has_column_header": false}),
        vec![row(vec!["only"])],
    );
    assert_eq!(convert(&[headless]).markdown, "|  |\n| --- |\n| only |\n");
}

#[test]
fn columns_synced_blocks_and_unknown_types() {
    let blocks = vec![
        node(
            "column_list",
            json!({}),
            vec![
                node(
                    "column",
                    json!({}),
                    vec![leaf("paragraph", json!({"rich_text": text("left")}))],
                ),
                node(
                    "column",
                    json!({}),
                    vec![leaf("paragraph", json!({"rich_text": text("right")}))],
                ),
            ],
        ),
        node(
            "synced_block",
            json!({"synced_from": {"type": "block_id", "block_id": "orig"}}),
            vec![leaf("paragraph", json!({"rich_text": text("synced")}))],
        ),
        leaf("hologram", json!({"depth": 3})),
        leaf("unsupported", json!({"block_type": "form"})),
    ];
    let converted = convert(&blocks);
    assert_eq!(
        converted.markdown,
        "left\n\nright\n\nsynced\n\n<!-- hologram block id-hologram -->\n\n<!-- form block id-unsupported -->\n"
    );
    assert_eq!(
        converted.unknown_blocks,
        vec![
            UnknownBlock {
                id: "id-hologram".into(),
                kind: "hologram".into()
            },
            UnknownBlock {
                id: "id-unsupported".into(),
                kind: "unsupported".into()
            },
        ]
    );
}

#[test]
fn a_table_of_contents_links_the_headings() {
    let blocks = vec![
        leaf("table_of_contents", json!({})),
        leaf("heading_1", json!({"rich_text": text("Intro, first")})),
        leaf("heading_2", json!({"rich_text": text("Intro, first")})),
    ];
    assert_eq!(
        convert(&blocks).markdown,
        "- [Intro, first](#intro-first)\n  - [Intro, first](#intro-first-1)\n\n# Intro, first\n\n## Intro, first\n"
    );
}
