//! Pages copied, linked and read in Notion's markdown, on both backends: `duplicate-page`
//! block for block, `fileLinks: "ferry"` links that redirect to a fresh Notion URL, and
//! `fetch-rich-page` with `format: "notion"` completed where Notion left `<unknown>` tags.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::actions::{CONNECTION, HEADERS, find, ok, setup, trigger};
use support::{Backend, Harness};

backend_tests!(
    duplicate_page_copies_the_tree,
    file_links_redirect_to_a_fresh_url,
    notion_format_is_completed_by_ferry
);

/// Block types under `root`, counted by walking the tree through the proxy (a synced copy's
/// children are its original's, so they are not walked twice).
async fn count_types(h: &Harness, root: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut pending = vec![root.to_string()];
    while let Some(id) = pending.pop() {
        let path = format!("/proxy/v1/blocks/{id}/children?page_size=100");
        let (status, _, text) = h
            .request(Method::GET, &path, Some(support::KEY), &HEADERS, None)
            .await;
        assert_eq!(status, 200, "{text}");
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            page["has_more"], false,
            "the handbook's lists fit in one page"
        );
        for block in page["results"].as_array().unwrap() {
            let kind = block["type"].as_str().unwrap().to_string();
            let copy = !block["synced_block"]["synced_from"].is_null() && kind == "synced_block";
            if block["has_children"] == true
                && !copy
                && kind != "child_page"
                && kind != "child_database"
            {
                pending.push(block["id"].as_str().unwrap().to_string());
            }
            *counts.entry(kind).or_insert(0) += 1;
        }
    }
    counts
}

/// `duplicate-page` copies the handbook (every block type) block for block, skipping and
/// listing what the API cannot create, and refuses bad input by field.
async fn duplicate_page_copies_the_tree(backend: Backend) {
    let h = setup(backend).await;
    let handbook = find(&h, "page", "Acme Handbook").await;
    let original = handbook["id"].as_str().unwrap();
    let copy = ok(
        &h,
        "duplicate-page",
        json!({"page_id": original, "title": "Handbook copy"}),
    )
    .await;
    let copy_id = copy["id"].as_str().unwrap();
    let mut expected = count_types(&h, original).await;
    for skipped in copy["skipped"].as_array().unwrap() {
        let kind = skipped["type"].as_str().unwrap();
        assert!(skipped["reason"].as_str().is_some_and(|r| !r.is_empty()));
        let mut lost = std::collections::BTreeMap::from([(kind.to_string(), 1)]);
        if skipped["blocks_inside"].as_u64().unwrap() > 0 && kind != "child_page" {
            lost.extend(count_types(&h, skipped["id"].as_str().unwrap()).await);
        }
        for (kind, n) in lost {
            let left = expected.get_mut(&kind).unwrap();
            *left -= n;
            if *left == 0 {
                expected.remove(&kind);
            }
        }
    }
    assert!(
        copy["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "child_page"),
        "{copy}"
    );
    assert_eq!(count_types(&h, copy_id).await, expected);
    assert_eq!(
        copy["copied_blocks"].as_u64().unwrap() as usize,
        expected.values().sum::<usize>()
    );
    let page = ok(&h, "retrieve-page", json!({"page_id": copy_id})).await;
    assert_eq!(
        page["properties"]["title"]["title"][0]["plain_text"],
        "Handbook copy"
    );
    assert_eq!(page["parent"], handbook["parent"]);
    assert_eq!(page["icon"], handbook["icon"]);

    // A row of a data source keeps its writable properties.
    let tasks = find(&h, "data_source", "Tasks").await;
    // Task 01 holds 30 relations and 30 pieces of text: past Notion's cut at 25.
    let rows = ok(
        &h,
        "query-data-source",
        json!({"data_source_id": tasks["id"], "filter": {"property": "Name", "title": {"starts_with": "Task 01"}}}),
    )
    .await;
    let row = &rows["results"][0];
    let copied = ok(&h, "duplicate-page", json!({"page_id": row["id"]})).await;
    let copied_row = ok(&h, "retrieve-page", json!({"page_id": copied["id"]})).await;
    for (property, items) in [("Project", 30), ("Notes", 30)] {
        let all = ok(
            &h,
            "retrieve-page-property",
            json!({"page_id": copied["id"], "property_id": row["properties"][property]["id"]}),
        )
        .await;
        assert_eq!(
            all["results"].as_array().unwrap().len(),
            items,
            "{property}"
        );
    }
    for property in [
        "Name", "Status", "Priority", "Tags", "Done", "Due", "Estimate",
    ] {
        assert_eq!(
            copied_row["properties"][property]
                [copied_row["properties"][property]["type"].as_str().unwrap()],
            row["properties"][property][row["properties"][property]["type"].as_str().unwrap()],
            "{property}"
        );
    }

    for (input, field) in [
        (json!({}), "page_id"),
        (json!({"page_id": original, "parent": "x"}), "parent"),
        (json!({"page_id": original, "extra": true}), "extra"),
    ] {
        let (status, body) = trigger(&h, "duplicate-page", input).await;
        assert_eq!(
            (status, body["error"]["payload"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
}

/// `fileLinks: "ferry"`: Notion-hosted files are written as Ferry links that need no key and
/// redirect to a fresh Notion URL (asked once, then kept until near its expiry); a forged or
/// cut link, or one whose connection is gone, is refused.
async fn file_links_redirect_to_a_fresh_url(backend: Backend) {
    let h = setup(backend).await;
    let handbook = find(&h, "page", "Acme Handbook").await;
    let rich = ok(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "fileLinks": "ferry"}),
    )
    .await;
    let content = rich["content"].as_str().unwrap();
    let prefix = format!("{}/files/", h.base);
    let link: String = content[content.find(&prefix).expect("a Ferry file link")..]
        .chars()
        .take_while(|c| *c != ')')
        .collect();
    assert!(
        !content.contains(&format!("{}/_emulator/files", h.emulator.base_url())),
        "no Notion-hosted URL is left: {content}"
    );
    let path = &link[h.base.len()..];
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    for _ in 0..2 {
        let (status, headers, _) = h.request(Method::GET, path, None, &[], None).await;
        assert_eq!(status, 302);
        assert_eq!(headers["cache-control"], "no-store");
        let fresh = headers["location"].to_str().unwrap();
        assert!(
            fresh.starts_with(&h.emulator.base_url()) && fresh.contains("expires="),
            "{fresh}"
        );
        let file = h.http.get(fresh).send().await.unwrap();
        assert_eq!(file.status(), 200);
    }
    // Followed twice, asked of Notion once: the fresh URL is kept until near its expiry.
    let counts = h
        .emulator_admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    assert_eq!(counts["routes"]["GET /v1/blocks/{block_id}"], 1, "{counts}");
    let logs = h.all_logs("type=action").await;
    assert_eq!(
        logs.iter()
            .filter(|l| l["message"] == "file-link: done")
            .count(),
        1,
        "{logs:?}"
    );

    let token = &path["/files/".len()..];
    let mut forged = token.to_string().into_bytes();
    forged[10] = if forged[10] == b'a' { b'b' } else { b'a' };
    for bad in [
        String::from_utf8(forged).unwrap(),
        token[..token.len() - 4].to_string(),
        "x".into(),
    ] {
        h.fails(
            Method::GET,
            &format!("/files/{bad}"),
            None,
            404,
            "unknown_file_link",
        )
        .await;
    }
    let (status, body) = trigger(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "fileLinks": "s3"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["payload"]["field"].as_str()),
        (400, Some("fileLinks"))
    );

    h.ok(
        Method::DELETE,
        &format!("/connection/{CONNECTION}?provider_config_key=notion"),
        None,
    )
    .await;
    let (status, _, text) = h.request(Method::GET, path, None, &[], None).await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("unknown_connection"), "{text}");
}

/// A hosted file's URL carries its expiry second, which two reads may not share.
fn without_expiry(markdown: &str) -> String {
    markdown
        .split("expires=")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                part.trim_start_matches(|c: char| c.is_ascii_digit())
                    .to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("expires=")
}

/// `format: "notion"` answers Notion's own markdown with every `<unknown>` tag filled: the
/// block types Notion's format lacks by Ferry's converter, and what Notion truncated by
/// its own endpoint, so a truncated page reads exactly as a whole one.
async fn notion_format_is_completed_by_ferry(backend: Backend) {
    let h = setup(backend).await;
    let handbook = find(&h, "page", "Acme Handbook").await;
    let input = json!({"pageId": handbook["id"], "format": "notion"});
    let whole = ok(&h, "fetch-rich-page", input.clone()).await;
    let content = whole["content"].as_str().unwrap();
    assert_eq!(whole["format"], "notion");
    assert_eq!(whole["notion"]["truncatedByNotion"], false);
    assert_eq!(whole["notion"]["left"], json!([]), "{whole}");
    for expected in [
        "<callout icon=\"💡\" color=\"yellow_background\">",
        "## Lists {toggle=\"true\"}",
        "[A caption](https://acme.example/blog)",
        "[https://maps.example.com/office](https://maps.example.com/office)",
        "[https://github.com/acme/ferry/issues/1](https://github.com/acme/ferry/issues/1)",
        "Add a new teammate",
    ] {
        assert!(content.contains(expected), "{expected:?} in:\n{content}");
    }
    assert!(!content.contains("<unknown "), "{content}");
    // bookmark, embed, breadcrumb, tab, template, link preview and the unsupported block.
    assert_eq!(whole["notion"]["filled"], 7, "{whole}");
    assert_eq!(whole["unknown_blocks"][0]["type"], "unsupported", "{whole}");
    // The page, its markdown, and per filled block the block and the lists it holds.
    let requests = whole["requests"].as_u64().unwrap();
    assert!((9..=14).contains(&requests), "{requests}");

    h.emulator_admin(
        Method::POST,
        "/_emulator/settings",
        json!({"markdown_record_limit": 6}),
    )
    .await;
    let cut = ok(&h, "fetch-rich-page", input.clone()).await;
    assert_eq!(cut["notion"]["truncatedByNotion"], true);
    assert_eq!(cut["notion"]["left"], json!([]), "{cut}");
    assert_eq!(
        without_expiry(cut["content"].as_str().unwrap()),
        without_expiry(content)
    );
    assert!(cut["requests"].as_u64().unwrap() > requests);

    // Front matter comes first; options of the gfm format are refused by name.
    let with_front = ok(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "format": "notion", "frontMatter": true}),
    )
    .await;
    assert!(
        with_front["content"]
            .as_str()
            .unwrap()
            .starts_with("---\nid: ")
    );
    for (input, field) in [
        (
            json!({"pageId": handbook["id"], "format": "html"}),
            "format",
        ),
        (
            json!({"pageId": handbook["id"], "format": "notion", "fileLinks": "ferry"}),
            "fileLinks",
        ),
        (
            json!({"pageId": handbook["id"], "format": "notion", "colors": true}),
            "colors",
        ),
    ] {
        let (status, body) = trigger(&h, "fetch-rich-page", input).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
}
