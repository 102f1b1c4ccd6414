//! Comments by id (retrieve, update with rich text or markdown, delete, with Notion's rule
//! that an integration changes only its own comments) and the workspace's custom emojis.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2025, V2026};

const ADA: &str = "a0000000-0000-4000-8000-000000000001";

fn texts(comment: &Value) -> Vec<(String, bool, bool, Option<String>)> {
    comment["rich_text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["plain_text"].as_str().unwrap().to_string(),
                t["annotations"]["bold"].as_bool().unwrap(),
                t["annotations"]["code"].as_bool().unwrap(),
                t["href"].as_str().map(str::to_string),
            )
        })
        .collect()
}

async fn comment_on(emu: &Emu, page: &str, text: &str) -> Value {
    emu.send(
        V2025,
        Method::POST,
        "/v1/comments",
        json!({"parent": {"page_id": page}, "rich_text": [{"text": {"content": text}}]}),
    )
    .await
}

#[tokio::test]
async fn comments_are_read_changed_and_deleted_by_id() {
    let emu = Emu::start().await;
    let page = emu.find(V2025, "Engineering", "page").await;

    // Markdown becomes annotated rich text.
    let written = emu
        .send(
            V2026,
            Method::POST,
            "/v1/comments",
            json!({"parent": {"page_id": page}, "markdown": "Ship **it** with `cargo` — [docs](https://example.com/docs)"}),
        )
        .await;
    assert_eq!(
        texts(&written),
        [
            ("Ship ".into(), false, false, None),
            ("it".into(), true, false, None),
            (" with ".into(), false, false, None),
            ("cargo".into(), false, true, None),
            (" — ".into(), false, false, None),
            (
                "docs".into(),
                false,
                false,
                Some("https://example.com/docs".into())
            ),
        ]
    );
    let path = format!("/v1/comments/{}", written["id"].as_str().unwrap());
    assert_eq!(emu.get(V2025, &path).await, written);

    // Updated with rich text or markdown, one of them.
    let updated = emu
        .send(
            V2025,
            Method::PATCH,
            &path,
            json!({"rich_text": [{"text": {"content": "Shipped"}}]}),
        )
        .await;
    assert_eq!(texts(&updated), [("Shipped".into(), false, false, None)]);
    assert_eq!(updated["discussion_id"], written["discussion_id"]);
    let both = json!({"rich_text": [{"text": {"content": "a"}}], "markdown": "b"});
    let (status, code, message) = emu.error(V2025, Method::PATCH, &path, Some(both)).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "validation_error"),
        "{message}"
    );
    let (status, code, _) = emu
        .error(V2025, Method::PATCH, &path, Some(json!({})))
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    let (status, code, message) = emu
        .error(V2025, Method::PATCH, &path, Some(json!({"text": "x"})))
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    assert!(message.contains("text"), "{message}");

    // A comment a person wrote is not the integration's to change: not found, as on Notion.
    let by_ada = emu
        .admin(
            Method::POST,
            &format!("/_emulator/people/{ADA}/comments"),
            json!({"parent": {"page_id": page}, "rich_text": [{"text": {"content": "Mine"}}]}),
        )
        .await;
    let ada_path = format!("/v1/comments/{}", by_ada["id"].as_str().unwrap());
    assert_eq!(emu.get(V2025, &ada_path).await["id"], by_ada["id"]);
    let change = json!({"rich_text": [{"text": {"content": "Hijacked"}}]});
    let (status, code, _) = emu
        .error(V2025, Method::PATCH, &ada_path, Some(change))
        .await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));
    let (status, code, _) = emu.error(V2025, Method::DELETE, &ada_path, None).await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));

    // Unknown ids, and comments on pages the caller cannot see, are not found.
    let unknown = "/v1/comments/00000000-0000-4000-8000-000000000000";
    let (status, code, _) = emu.error(V2025, Method::GET, unknown, None).await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));
    emu.admin(
        Method::POST,
        "/_emulator/integrations",
        json!({"type": "internal", "name": "Narrow", "token": "ntn_narrow"}),
    )
    .await;
    let (status, body) = emu
        .call_as("ntn_narrow", V2025, Method::GET, &path, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("object_not_found"))
    );

    // Deleting answers the comment; it is gone after.
    let deleted = emu.send(V2025, Method::DELETE, &path, json!({})).await;
    assert_eq!(deleted["id"], written["id"]);
    let (status, _, _) = emu.error(V2025, Method::GET, &path, None).await;
    assert_eq!(status, 404);
}

/// The ids of the unresolved comments on `page`.
async fn listed(emu: &Emu, page: &str) -> Vec<String> {
    let list = emu
        .get(V2025, &format!("/v1/comments?block_id={page}"))
        .await;
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn deleting_a_discussions_first_comment_deletes_the_discussion() {
    let emu = Emu::start().await;
    let page = emu.find(V2025, "Engineering", "page").await;
    let before = listed(&emu, &page).await;
    let first = comment_on(&emu, &page, "First").await;
    let reply = |text: &'static str| {
        let discussion = first["discussion_id"].clone();
        let emu = &emu;
        async move {
            emu.send(
                V2025,
                Method::POST,
                "/v1/comments",
                json!({"discussion_id": discussion, "rich_text": [{"text": {"content": text}}]}),
            )
            .await
        }
    };
    let second = reply("Second").await;
    let third = reply("Third").await;
    assert_eq!(listed(&emu, &page).await.len(), before.len() + 3);

    // A reply goes alone.
    emu.send(
        V2025,
        Method::DELETE,
        &format!("/v1/comments/{}", second["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let after_reply = listed(&emu, &page).await;
    assert_eq!(after_reply.len(), before.len() + 2);
    assert!(after_reply.contains(&third["id"].as_str().unwrap().to_string()));

    // The first comment takes its discussion with it.
    emu.send(
        V2025,
        Method::DELETE,
        &format!("/v1/comments/{}", first["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(listed(&emu, &page).await, before);

    // Pages of one comment each come with opaque cursors.
    for n in 0..3 {
        comment_on(&emu, &page, &format!("Paged {n}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/comments?block_id={page}&page_size=1");
        if let Some(c) = &cursor {
            path.push_str(&format!("&start_cursor={c}"));
        }
        let list = emu.get(V2025, &path).await;
        assert_eq!(list["results"].as_array().unwrap().len(), 1);
        seen.push(list["results"][0]["id"].as_str().unwrap().to_string());
        match list["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), before.len() + 3);
}

#[tokio::test]
async fn custom_emojis_are_listed_and_found_by_name() {
    let emu = Emu::start().await;
    let all = emu.get(V2025, "/v1/custom_emojis").await;
    let names: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ferry", "shipit"]);
    assert_eq!(all["type"], "custom_emoji");
    let ferry = emu.get(V2026, "/v1/custom_emojis?name=ferry").await;
    assert_eq!(
        ferry["results"][0]["id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    assert_eq!(ferry["results"].as_array().unwrap().len(), 1);
    let partial = emu.get(V2025, "/v1/custom_emojis?name=fer").await;
    assert_eq!(partial["results"], json!([]));
    let first = emu.get(V2025, "/v1/custom_emojis?page_size=1").await;
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = emu
        .get(
            V2025,
            &format!("/v1/custom_emojis?page_size=1&start_cursor={cursor}"),
        )
        .await;
    assert_eq!(second["results"][0]["name"], "shipit");
    assert_eq!(second["has_more"], false);
    let (status, code, message) = emu
        .error(V2025, Method::GET, "/v1/custom_emojis?emoji=x", None)
        .await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    assert!(message.contains("emoji"), "{message}");
}
