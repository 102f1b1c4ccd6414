//! Writing pages as markdown (2026-03-11): `PATCH /v1/pages/{id}/markdown` with its four
//! commands, `markdown` in `POST /v1/pages`, and `allow_async` with `GET /v1/async_tasks/{id}`.
//! What a write sends reads back through `GET /v1/blocks/{id}/children` as the blocks the
//! text describes, and through `GET /v1/pages/{id}/markdown` as the same text.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2025, V2026, is_not_found, is_validation, without_expiry};

async fn markdown_of(emu: &Emu, id: &str) -> String {
    emu.get(V2026, &format!("/v1/pages/{id}/markdown")).await["markdown"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn children(emu: &Emu, id: &str) -> Vec<Value> {
    emu.get(V2026, &format!("/v1/blocks/{id}/children?page_size=100"))
        .await["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn ids(blocks: &[Value]) -> Vec<String> {
    blocks
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

fn text_of(block: &Value) -> String {
    let kind = block["type"].as_str().unwrap();
    block[kind]["rich_text"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["plain_text"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

async fn patch(emu: &Emu, page: &str, body: Value) -> (u16, Value) {
    emu.call(
        V2026,
        Method::PATCH,
        &format!("/v1/pages/{page}/markdown"),
        Some(body),
    )
    .await
}

async fn new_page(emu: &Emu, markdown: &str) -> String {
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let page = emu
        .send(
            V2026,
            Method::POST,
            "/v1/pages",
            json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": "Scratch"}}]}}, "markdown": markdown}),
        )
        .await;
    page["id"].as_str().unwrap().to_string()
}

/// Every construct the renderer writes, written by hand as a user would.
const EVERY_CONSTRUCT: &str = "# Plan {color=\"blue\"}
Some **bold**, *italic*, ~~struck~~, `code`, <span color=\"red\">red</span>, <span underline=\"true\">under</span>, [a link](https://acme.example) and $x^2$.
Escaped \\*stars\\* and a<br>break
## Toggle heading {toggle=\"true\"}
\tHidden text
### Third
#### Fourth
- One
\t- One and a half
- Two
1. First
2. Second
- [ ] Open
- [x] Done
> Quoted {color=\"gray\"}
<details color=\"red\">
<summary>Summary</summary>
\tInside
</details>
<callout icon=\"🚀\" color=\"blue_background\">
\tLaunch notes
\t- a child
</callout>
```rust
fn main() {
\tprintln!(\"tabbed\");
}
```
$$
E = mc^2
$$
---
<empty-block/>
<table_of_contents color=\"gray\"/>
![A picture](https://images.example.com/a.png)
<video src=\"https://videos.example.com/v.mp4\">A clip</video>
<pdf src=\"https://files.example.com/f.pdf\"></pdf>
<table header-row=\"true\" header-column=\"false\">
\t<tr>
\t\t<td>Tool</td>
\t\t<td>Owner</td>
\t</tr>
\t<tr>
\t\t<td>**Ferry**</td>
\t\t<td>Ada</td>
\t</tr>
</table>
<columns>
\t<column>
\t\tLeft
\t</column>
\t<column>
\t\tRight
\t</column>
</columns>
<mention-date start=\"2026-12-01\"/> is the date";

#[tokio::test]
async fn markdown_written_reads_back_as_the_same_text_and_the_blocks_it_describes() {
    let emu = Emu::start().await;
    let page = new_page(&emu, EVERY_CONSTRUCT).await;
    assert_eq!(markdown_of(&emu, &page).await, EVERY_CONSTRUCT);
    let blocks = children(&emu, &page).await;
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "heading_1",
            "paragraph",
            "paragraph",
            "heading_2",
            "heading_3",
            "heading_4",
            "bulleted_list_item",
            "bulleted_list_item",
            "numbered_list_item",
            "numbered_list_item",
            "to_do",
            "to_do",
            "quote",
            "toggle",
            "callout",
            "code",
            "equation",
            "divider",
            "paragraph",
            "table_of_contents",
            "image",
            "video",
            "pdf",
            "table",
            "column_list",
            "paragraph",
        ]
    );
    let paragraph = &blocks[1]["paragraph"]["rich_text"];
    let bold = paragraph
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["plain_text"] == "bold")
        .unwrap();
    assert_eq!(bold["annotations"]["bold"], true);
    let red = paragraph
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["plain_text"] == "red")
        .unwrap();
    assert_eq!(red["annotations"]["color"], "red");
    assert_eq!(text_of(&blocks[2]), "Escaped *stars* and a\nbreak");
    assert_eq!(blocks[0]["heading_1"]["color"], "blue");
    assert_eq!(blocks[3]["heading_2"]["is_toggleable"], true);
    assert_eq!(blocks[3]["has_children"], true);
    assert_eq!(blocks[11]["to_do"]["checked"], true);
    assert_eq!(blocks[14]["callout"]["icon"]["emoji"], "🚀");
    assert_eq!(text_of(&blocks[14]), "Launch notes");
    assert_eq!(blocks[15]["code"]["language"], "rust");
    assert_eq!(
        text_of(&blocks[15]),
        "fn main() {\n\tprintln!(\"tabbed\");\n}"
    );
    assert_eq!(blocks[16]["equation"]["expression"], "E = mc^2");
    assert_eq!(
        blocks[20]["image"]["external"]["url"],
        "https://images.example.com/a.png"
    );
    assert_eq!(blocks[23]["table"]["table_width"], 2);
    assert_eq!(blocks[23]["table"]["has_column_header"], true);
    let nested = children(&emu, blocks[6]["id"].as_str().unwrap()).await;
    assert_eq!(text_of(&nested[0]), "One and a half");
    let rows = children(&emu, blocks[23]["id"].as_str().unwrap()).await;
    assert_eq!(
        rows[1]["table_row"]["cells"][0][0]["annotations"]["bold"],
        true
    );
    let date = &blocks[25]["paragraph"]["rich_text"][0];
    assert_eq!(date["mention"]["date"]["start"], "2026-12-01");
}

#[tokio::test]
async fn the_handbook_written_back_unchanged_keeps_its_text_and_its_blocks() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let before = markdown_of(&emu, &handbook).await;
    let before_ids = ids(&children(&emu, &handbook).await);
    let (status, answer) = patch(
        &emu,
        &handbook,
        json!({"type": "replace_content", "replace_content": {"new_str": before}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "page_markdown");
    // Hosted files' links expire an hour after rendering: the seconds may differ.
    assert_eq!(
        without_expiry(answer["markdown"].as_str().unwrap()),
        without_expiry(&before)
    );
    let after_ids = ids(&children(&emu, &handbook).await);
    assert_eq!(after_ids.len(), before_ids.len());
    // Child pages, databases and blocks markdown cannot describe are the same objects; so is
    // every block whose text says all of it.
    let kept = after_ids
        .iter()
        .filter(|id| before_ids.contains(id))
        .count();
    assert!(
        kept * 10 >= before_ids.len() * 8,
        "only {kept} of {} blocks kept their ids",
        before_ids.len()
    );
}

#[tokio::test]
async fn update_insert_and_range_commands_edit_only_what_they_name() {
    let emu = Emu::start().await;
    let page = new_page(&emu, "# Notes\nAlpha line\nBeta line\nGamma line").await;
    let before = ids(&children(&emu, &page).await);

    // A search-and-replace changes one block; the others keep their ids.
    let (status, answer) = patch(&emu, &page, json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "Beta", "new_str": "**Beta**"}]}})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["markdown"],
        "# Notes\nAlpha line\n**Beta** line\nGamma line"
    );
    let after = ids(&children(&emu, &page).await);
    assert_eq!(
        (after[0].as_str(), after[1].as_str(), after[3].as_str()),
        (before[0].as_str(), before[1].as_str(), before[3].as_str())
    );
    assert_ne!(after[2], before[2]);

    // Not found, or found twice without `replace_all_matches`.
    let (status, body) = patch(&emu, &page, json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "Delta", "new_str": "x"}]}})).await;
    is_validation(
        status,
        &body,
        "body.update_content.content_updates[0].old_str",
    );
    let (status, body) = patch(&emu, &page, json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "line", "new_str": "row"}]}})).await;
    is_validation(status, &body, "matches 3 places");
    let (_, answer) = patch(&emu, &page, json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "line", "new_str": "row", "replace_all_matches": true}]}})).await;
    assert_eq!(
        answer["markdown"],
        "# Notes\nAlpha row\n**Beta** row\nGamma row"
    );

    // Insert at the start, the end, and after a selection.
    let (_, answer) = patch(&emu, &page, json!({"type": "insert_content", "insert_content": {"content": "- first", "position": {"type": "start"}}})).await;
    assert!(
        answer["markdown"]
            .as_str()
            .unwrap()
            .starts_with("- first\n# Notes")
    );
    let (_, answer) = patch(
        &emu,
        &page,
        json!({"type": "insert_content", "insert_content": {"content": "- last"}}),
    )
    .await;
    assert!(
        answer["markdown"]
            .as_str()
            .unwrap()
            .ends_with("Gamma row\n- last")
    );
    let (_, answer) = patch(&emu, &page, json!({"type": "insert_content", "insert_content": {"content": "> inserted", "after": "Alpha...row"}})).await;
    assert_eq!(
        answer["markdown"],
        "- first\n# Notes\nAlpha row\n> inserted\n**Beta** row\nGamma row\n- last"
    );
    let blocks = children(&emu, &page).await;
    assert_eq!(blocks[3]["type"], "quote");

    // Replace a range given by its ends.
    let (_, answer) = patch(&emu, &page, json!({"type": "replace_content_range", "replace_content_range": {"content": "Only this", "content_range": "Alpha...Gamma row"}})).await;
    assert_eq!(answer["markdown"], "- first\n# Notes\nOnly this\n- last");
    let (status, body) = patch(&emu, &page, json!({"type": "replace_content_range", "replace_content_range": {"content": "x", "content_range": "Nope...never"}})).await;
    is_validation(status, &body, "body.replace_content_range.content_range");

    // Bad commands name their field.
    for (body, field) in [
        (json!({"type": "rewrite"}), "body.type"),
        (json!({"type": "replace_content"}), "body.replace_content"),
        (
            json!({"type": "replace_content", "replace_content": {"new_str": 3}}),
            "body.replace_content.new_str",
        ),
        (
            json!({"type": "replace_content", "replace_content": {"new_str": "x"}, "extra": 1}),
            "body.extra",
        ),
        (
            json!({"type": "insert_content", "insert_content": {"content": "x", "after": "a", "position": {"type": "end"}}}),
            "body.insert_content.after",
        ),
        (
            json!({"type": "replace_content", "replace_content": {"new_str": "x"}, "allow_async": "yes"}),
            "body.allow_async",
        ),
    ] {
        let (status, answer) = patch(&emu, &page, body).await;
        is_validation(status, &answer, field);
    }
    // An unknown page, and a version without the endpoint.
    let (status, body) = patch(
        &emu,
        "0b1e4a3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c",
        json!({"type": "replace_content", "replace_content": {"new_str": "x"}}),
    )
    .await;
    is_not_found(status, &body);
    let (status, body) = emu
        .call(
            V2025,
            Method::PATCH,
            &format!("/v1/pages/{page}/markdown"),
            Some(json!({"type": "replace_content", "replace_content": {"new_str": "x"}})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request_url"))
    );
}

#[tokio::test]
async fn child_pages_survive_unless_deleting_is_allowed() {
    let emu = Emu::start().await;
    let page = new_page(&emu, "Intro").await;
    let child = emu
        .send(V2026, Method::POST, "/v1/pages", json!({"parent": {"page_id": page}, "properties": {"title": {"title": [{"text": {"content": "Child"}}]}}}))
        .await;
    let child_id = child["id"].as_str().unwrap();
    let markdown = markdown_of(&emu, &page).await;
    assert!(markdown.contains("<page url="), "{markdown}");

    // Rewriting the text around the child keeps it.
    let kept = markdown.replace("Intro", "New intro");
    let (status, answer) = patch(
        &emu,
        &page,
        json!({"type": "replace_content", "replace_content": {"new_str": kept}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids(&children(&emu, &page).await)[1], child_id);
    // Leaving it out is refused unless deleting is allowed.
    let (status, body) = patch(
        &emu,
        &page,
        json!({"type": "replace_content", "replace_content": {"new_str": "Only text"}}),
    )
    .await;
    is_validation(status, &body, "allow_deleting_content");
    let (status, _) = patch(&emu, &page, json!({"type": "replace_content", "replace_content": {"new_str": "Only text", "allow_deleting_content": true}})).await;
    assert_eq!(status, 200);
    let child = emu.get(V2026, &format!("/v1/pages/{child_id}")).await;
    assert_eq!(child["in_trash"], true);
    assert_eq!(markdown_of(&emu, &page).await, "Only text");
    // A page that is not a child is linked to; a block that is not a child is refused.
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let link = format!(
        "<page url=\"https://www.notion.so/Acme-Handbook-{}\">Acme Handbook</page>",
        handbook.replace('-', "")
    );
    let (status, _) = patch(
        &emu,
        &page,
        json!({"type": "replace_content", "replace_content": {"new_str": link}}),
    )
    .await;
    assert_eq!(status, 200);
    let blocks = children(&emu, &page).await;
    assert_eq!(blocks[0]["type"], "link_to_page");
    assert_eq!(blocks[0]["link_to_page"]["page_id"], handbook.as_str());
    assert_eq!(markdown_of(&emu, &page).await, link);
    let stranger = format!(
        "<unknown url=\"https://www.notion.so/x#{}\" alt=\"embed\"/>",
        handbook.replace('-', "")
    );
    let (status, body) = patch(
        &emu,
        &page,
        json!({"type": "replace_content", "replace_content": {"new_str": stranger}}),
    )
    .await;
    is_validation(status, &body, "not a child of this page");
}

#[tokio::test]
async fn pages_are_created_from_markdown_and_async_tasks_report_the_result() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    // The first `# ` heading becomes the title when the body gives none.
    let page = emu
        .send(V2026, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "markdown": "# Meeting Notes\nDiscussed the roadmap.\n- [ ] Draft proposal"}))
        .await;
    assert_eq!(support::title_of(&page), "Meeting Notes");
    let id = page["id"].as_str().unwrap();
    assert_eq!(
        markdown_of(&emu, id).await,
        "Discussed the roadmap.\n- [ ] Draft proposal"
    );
    // Into a data source, with its title property named.
    let tasks = emu.find(V2026, "Tasks", "data_source").await;
    let row = emu
        .send(
            V2026,
            Method::POST,
            "/v1/pages",
            json!({"parent": {"data_source_id": tasks}, "markdown": "# Row from markdown\nBody"}),
        )
        .await;
    assert_eq!(support::title_of(&row), "Row from markdown");

    // allow_async: a 202 with a queued task, then the result by polling.
    let (status, task) = emu
        .call(V2026, Method::POST, "/v1/pages", Some(json!({"parent": {"page_id": handbook}, "markdown": "# Async page\nText", "allow_async": true})))
        .await;
    assert_eq!(status, 202, "{task}");
    assert_eq!(task["object"], "async_task");
    assert_eq!(task["status"], "queued");
    assert_eq!(task["operation"]["name"], "create_page");
    let task_id = task["id"].as_str().unwrap();
    assert_eq!(
        task["status_url"],
        format!("{}/v1/async_tasks/{task_id}", emu.base)
    );
    let polled = emu.get(V2026, &format!("/v1/async_tasks/{task_id}")).await;
    assert_eq!(polled["status"], "succeeded");
    assert_eq!(polled["result"]["object"], "page");
    assert_eq!(support::title_of(&polled["result"]), "Async page");
    let (status, task) = patch(&emu, id, json!({"type": "replace_content", "replace_content": {"new_str": "Rewritten"}, "allow_async": true})).await;
    assert_eq!(status, 202);
    let polled = emu
        .get(
            V2026,
            &format!("/v1/async_tasks/{}", task["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(polled["operation"]["name"], "update_page_markdown");
    assert_eq!(polled["result"]["markdown"], "Rewritten");
    // Validation stays synchronous with allow_async.
    let (status, body) = patch(&emu, id, json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "absent", "new_str": "x"}]}, "allow_async": true})).await;
    is_validation(status, &body, "old_str");
    // Unknown tasks, another integration's tasks, older versions.
    let (status, body) = emu
        .call(V2026, Method::GET, "/v1/async_tasks/task_unknown", None)
        .await;
    is_not_found(status, &body);
    emu.other_integration("ntn_other").await;
    let (status, _) = emu
        .call_as(
            "ntn_other",
            V2026,
            Method::GET,
            &format!("/v1/async_tasks/{task_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = emu
        .call(
            V2025,
            Method::GET,
            &format!("/v1/async_tasks/{task_id}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request_url"))
    );

    // Bad bodies.
    for (version, body, field) in [
        (
            V2026,
            json!({"parent": {"page_id": handbook}, "markdown": "x", "children": []}),
            "body.markdown",
        ),
        (
            V2025,
            json!({"parent": {"page_id": handbook}, "markdown": "x"}),
            "body.markdown",
        ),
        (
            V2026,
            json!({"parent": {"page_id": handbook}, "allow_async": true}),
            "body.allow_async",
        ),
        (
            V2026,
            json!({"parent": {"page_id": handbook}, "markdown": 7}),
            "body.markdown",
        ),
        (
            V2026,
            json!({"parent": {"page_id": handbook}, "markdown": format!("<unknown url=\"https://www.notion.so/x#{}\" alt=\"embed\"/>", handbook.replace('-', ""))}),
            "body.markdown",
        ),
    ] {
        let (status, answer) = emu
            .call(version, Method::POST, "/v1/pages", Some(body))
            .await;
        is_validation(status, &answer, field);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_markdown_edits_are_none_of_them_lost() {
    let emu = std::sync::Arc::new(Emu::start().await);
    let lines: Vec<String> = (0..50).map(|i| format!("- item {i:02} open")).collect();
    let page = new_page(&emu, &lines.join("\n")).await;
    let mut callers = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (emu, page) = (emu.clone(), page.clone());
        callers.spawn(async move {
            let edit = json!({"type": "update_content", "update_content": {"content_updates": [
                {"old_str": format!("item {i:02} open"), "new_str": format!("item {i:02} done")}
            ]}});
            let (status, body) = patch(&emu, &page, edit).await;
            assert_eq!(status, 200, "{body}");
        });
    }
    callers.join_all().await;
    let expected: Vec<String> = (0..50).map(|i| format!("- item {i:02} done")).collect();
    assert_eq!(markdown_of(&emu, &page).await, expected.join("\n"));
    assert_eq!(children(&emu, &page).await.len(), 50);
}

#[tokio::test]
async fn garbled_markdown_is_refused_or_written_and_never_crashes() {
    use rand::{RngExt, SeedableRng};
    let emu = Emu::start().await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let pieces = [
        "\t",
        "\n",
        " ",
        "#",
        "## ",
        "- ",
        "- [ ] ",
        "1. ",
        "> ",
        "```",
        "```rust",
        "$$",
        "---",
        "<details>",
        "<summary>",
        "</summary>",
        "</details>",
        "<callout icon=\"é\">",
        "</callout>",
        "<columns>",
        "<column>",
        "</column>",
        "</columns>",
        "<table header-row=\"true\">",
        "<tr>",
        "<td>",
        "</td>",
        "</tr>",
        "</table>",
        "<page url=\"",
        "\">",
        "</page>",
        "<unknown url=\"#",
        "\"/>",
        "<span color=\"red\">",
        "</span>",
        "<br>",
        "**",
        "*",
        "~~",
        "`",
        "[",
        "](",
        ")",
        "\\",
        "{color=\"blue\"}",
        " {toggle=\"true\"}",
        "<mention-user url=\"user://",
        "</mention-user>",
        "<mention-date start=\"2026-01-01\"/>",
        "![",
        "<video src=\"",
        "</video>",
        "é",
        "🦀",
        "字",
        "0b1e4a3c1d2e4f5a8b6c7d8e9f0a1b2c",
        "text",
        "&quot;",
        "{",
        "}",
        "<empty-block/>",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut written = 0;
    for _ in 0..300 {
        let length = rng.random_range(1..40);
        let markdown: String = (0..length)
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        let (status, body) = emu
            .call(
                V2026,
                Method::POST,
                "/v1/pages",
                Some(json!({"parent": {"page_id": handbook}, "markdown": markdown})),
            )
            .await;
        assert!(
            status == 200 || (status == 400 && body["code"] == "validation_error"),
            "{status} for {markdown:?}: {body}"
        );
        if status == 200 {
            written += 1;
            // What was written reads back and can be written back. (Garbled emphasis need
            // not come back to the letter: `****` next to a mention is ambiguous markdown.)
            let id = body["id"].as_str().unwrap();
            let text = markdown_of(&emu, id).await;
            let (status, again) = patch(
                &emu,
                id,
                json!({"type": "replace_content", "replace_content": {"new_str": text}}),
            )
            .await;
            assert_eq!(status, 200, "{markdown:?} read back as {text:?}: {again}");
            assert_eq!(again["markdown"], markdown_of(&emu, id).await.as_str());
        }
    }
    assert!(written > 100, "only {written} of 300 were written");
}
