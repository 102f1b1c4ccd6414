//! `GET /v1/pages/{id}/markdown`: the handbook (every block type) in Notion's enhanced
//! markdown, the version gate and errors, and truncation whose unknown blocks, fetched
//! again through the same endpoint, complete the page exactly.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2022, V2025, V2026, without_expiry};

async fn markdown_of(emu: &Emu, id: &str) -> Value {
    emu.get(V2026, &format!("/v1/pages/{id}/markdown")).await
}

#[tokio::test]
async fn the_handbook_renders_every_block_type() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let answer = markdown_of(&emu, &handbook).await;
    assert_eq!(answer["object"], "page_markdown");
    assert_eq!(answer["id"], handbook);
    assert_eq!(answer["truncated"], false);
    assert_eq!(answer["unknown_block_ids"], json!([]));
    let markdown = answer["markdown"].as_str().unwrap();
    for expected in [
        "<table_of_contents color=\"gray\"/>",
        "# Welcome to Acme",
        "**bold** *italic* ~~strike~~ <span underline=\"true\">underline</span> `code` <span color=\"red\">red</span> <span color=\"yellow_background\">on yellow</span> [a link](https://acme.example) and $e^{i\\pi} + 1 = 0$",
        "<mention-user url=\"user://",
        "<mention-date start=\"2026-12-01\" end=\"2026-12-03\"/>",
        "## Lists {toggle=\"true\"}\n\tInside a toggleable heading.",
        "- First bullet\n\t- Nested bullet",
        "1. First step",
        "- [x] Read the handbook\n- [ ] Set up your laptop",
        "<details>\n<summary>More details</summary>\n\tHidden until opened.\n</details>",
        "#### A small heading",
        "> Simplicity is prerequisite for reliability. {color=\"gray\"}",
        "<callout icon=\"💡\" color=\"yellow_background\">\n\tRemember to rotate your keys.\n</callout>",
        "```rust\nfn main() {\n    println!(\"hello\");\n}\n```",
        "$$\nE = mc^2\n$$",
        "\n---\n",
        "![A caption](https://images.example.com/office.png)",
        "<video src=\"https://videos.example.com/intro.mp4\"></video>",
        "<table header-row=\"true\" header-column=\"false\">\n\t<tr>\n\t\t<td>Tool</td>\n\t\t<td>Owner</td>\n\t</tr>",
        "<columns>\n\t<column>\n\t\tLeft column\n\t</column>\n\t<column>\n\t\tRight column\n\t</column>\n</columns>",
        "<synced_block url=\"",
        "<synced_block_reference url=\"",
        "alt=\"bookmark\"/>",
        "alt=\"embed\"/>",
        "alt=\"link_preview\"/>",
        "<meeting-notes url=\"",
        "[acme/ferry](https://github.com/acme/ferry):ferry:",
        "<page url=\"https://www.notion.so/",
    ] {
        assert!(
            markdown.contains(expected),
            "missing {expected:?} in:\n{markdown}"
        );
    }
    // The synced copy shows its original's children.
    assert_eq!(
        markdown.matches("\tSynced content").count(),
        2,
        "{markdown}"
    );
}

#[tokio::test]
async fn only_2026_serves_it_and_errors_are_notions() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2025, "Acme Handbook", "page").await;
    let path = format!("/v1/pages/{handbook}/markdown");
    for version in [V2022, V2025] {
        let (status, code, _) = emu.error(version, Method::GET, &path, None).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request_url"));
    }
    let missing = "/v1/pages/00000000-0000-4000-8000-000000000000/markdown";
    let (status, code, _) = emu.error(V2026, Method::GET, missing, None).await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));
    let (status, code, message) = emu
        .error(
            V2026,
            Method::GET,
            &format!("{path}?include_transcript=maybe"),
            None,
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    assert!(message.contains("include_transcript"), "{message}");
    let with = emu
        .get(V2026, &format!("{path}?include_transcript=true"))
        .await;
    assert!(
        with["markdown"]
            .as_str()
            .unwrap()
            .contains("<meeting-notes url=\"")
    );
}

/// Each `<unknown>` tag of a truncated answer replaced by its block's own markdown, at the
/// tag's indentation.
async fn complete(emu: &Emu, answer: &Value) -> String {
    let ids: Vec<String> = answer["unknown_block_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().replace('-', ""))
        .collect();
    let mut out = Vec::new();
    for line in answer["markdown"].as_str().unwrap().split('\n') {
        let body = line.trim_start_matches('\t');
        let indent = &line[..line.len() - body.len()];
        let listed = ids
            .iter()
            .find(|id| body.starts_with("<unknown ") && body.contains(id.as_str()));
        match listed {
            Some(id) => {
                let part = markdown_of(emu, id).await;
                assert_eq!(part["truncated"], false, "{part}");
                for part_line in part["markdown"].as_str().unwrap().split('\n') {
                    out.push(format!("{indent}{part_line}"));
                }
            }
            None => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

#[tokio::test]
async fn a_truncated_page_is_completed_by_its_unknown_block_ids() {
    let emu = Emu::start().await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let whole = markdown_of(&emu, &handbook).await;
    for limit in [1, 5, 12] {
        emu.admin(
            Method::POST,
            "/_emulator/settings",
            json!({"markdown_record_limit": limit}),
        )
        .await;
        let cut = markdown_of(&emu, &handbook).await;
        assert_eq!(cut["truncated"], true, "limit {limit}");
        let unknown = cut["unknown_block_ids"].as_array().unwrap();
        assert!(!unknown.is_empty());
        let text = cut["markdown"].as_str().unwrap();
        for id in unknown {
            let compact = id.as_str().unwrap().replace('-', "");
            assert!(
                text.contains(&format!("#{compact}\" alt=")),
                "{id} has no tag"
            );
        }
        emu.admin(
            Method::POST,
            "/_emulator/settings",
            json!({"markdown_record_limit": 20000}),
        )
        .await;
        // A hosted file's link expires an hour after it is rendered: the two renderings may
        // be a second apart.
        assert_eq!(
            without_expiry(&complete(&emu, &cut).await),
            without_expiry(whole["markdown"].as_str().unwrap())
        );
    }
    let (status, code, _) = emu
        .error(V2026, Method::GET, "/v1/pages/not-an-id/markdown", None)
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
}
