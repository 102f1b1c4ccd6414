//! File uploads: single part, multi part and URL imports; their statuses, expiry, size
//! limits and list; an uploaded file attached to a files property, a media block, an icon,
//! a cover and a comment, read back as a Notion-hosted file whose URL serves its bytes; and
//! the `file_upload.*` webhook events.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use support::{
    BOUNDARY, Emu, Receiver, TOKEN, V2022, V2025, V2026, WebhookSchemas, form, is_not_found,
    is_validation,
};

async fn send_file(emu: &Emu, id: &str, bytes: &[u8], name: &str, part: Option<u32>) -> Value {
    let (status, body) = emu
        .send_form(V2025, TOKEN, id, form(bytes, name, "text/plain", part))
        .await;
    assert_eq!(status, 200, "send: {body}");
    body
}

/// A single-part upload of `bytes`, sent and ready to attach.
async fn uploaded(emu: &Emu, name: &str, bytes: &[u8]) -> String {
    let created = emu
        .send(
            V2025,
            Method::POST,
            "/v1/file_uploads",
            json!({"filename": name, "content_type": "text/plain"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    send_file(emu, &id, bytes, name, None).await;
    id
}

async fn fetch(emu: &Emu, url: &str) -> (u16, Vec<u8>) {
    let response = emu.http.get(url).send().await.unwrap();
    (
        response.status().as_u16(),
        response.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn a_single_part_upload_is_sent_attached_everywhere_and_served() {
    let emu = Emu::start().await;
    let created = emu
        .send(
            V2025,
            Method::POST,
            "/v1/file_uploads",
            json!({"filename": "notes.txt", "content_type": "text/plain"}),
        )
        .await;
    assert_eq!(created["object"], "file_upload");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["content_length"], Value::Null);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["upload_url"],
        format!("{}/v1/file_uploads/{id}/send", emu.base)
    );
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["created_time"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["expiry_time"].as_str().unwrap()).unwrap();
    let lifetime = (expires - created_at).num_minutes();
    assert!(
        (59..=61).contains(&lifetime),
        "expires after {lifetime} min"
    );

    let content = b"Quarterly notes\nline two\n";
    let sent = send_file(&emu, &id, content, "notes.txt", None).await;
    assert_eq!(sent["status"], "uploaded");
    assert_eq!(sent["content_length"], content.len());
    assert_eq!(sent["filename"], "notes.txt");
    assert!(sent.get("upload_url").is_none(), "{sent}");
    assert_eq!(
        emu.get(V2025, &format!("/v1/file_uploads/{id}")).await,
        sent
    );

    // A files property on a new row.
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    let row = emu
        .send(
            V2025,
            Method::POST,
            "/v1/pages",
            json!({
                "parent": {"data_source_id": tasks},
                "properties": {
                    "Name": {"title": [{"text": {"content": "With a file"}}]},
                    "Attachments": {"files": [{"name": "Notes", "type": "file_upload", "file_upload": {"id": id}}]},
                },
                "icon": {"type": "file_upload", "file_upload": {"id": id}},
                "cover": {"type": "file_upload", "file_upload": {"id": id}},
            }),
        )
        .await;
    let file = &row["properties"]["Attachments"]["files"][0];
    assert_eq!(file["name"], "Notes");
    assert_eq!(file["type"], "file");
    assert!(file["file"]["expiry_time"].is_string());
    let (status, served) = fetch(&emu, file["file"]["url"].as_str().unwrap()).await;
    assert_eq!((status, served.as_slice()), (200, &content[..]));
    for key in ["icon", "cover"] {
        assert_eq!(row[key]["type"], "file", "{key}: {}", row[key]);
        let (_, served) = fetch(&emu, row[key]["file"]["url"].as_str().unwrap()).await;
        assert_eq!(served, content, "{key}");
    }
    // Attached: it no longer expires, and may be attached again.
    let after = emu.get(V2025, &format!("/v1/file_uploads/{id}")).await;
    assert_eq!(after["expiry_time"], Value::Null);
    assert_eq!(after["status"], "uploaded");

    // A media block and a file block.
    let page = row["id"].as_str().unwrap();
    let appended = emu
        .send(
            V2025,
            Method::PATCH,
            &format!("/v1/blocks/{page}/children"),
            json!({"children": [
                {"type": "image", "image": {"type": "file_upload", "file_upload": {"id": id}}},
                {"type": "file", "file": {"type": "file_upload", "file_upload": {"id": id}}},
            ]}),
        )
        .await;
    let image = &appended["results"][0]["image"];
    assert_eq!(image["type"], "file");
    let (_, served) = fetch(&emu, image["file"]["url"].as_str().unwrap()).await;
    assert_eq!(served, content);
    assert_eq!(appended["results"][1]["file"]["name"], "notes.txt");
    // The page's markdown links the hosted file.
    let markdown = emu.get(V2026, &format!("/v1/pages/{page}/markdown")).await;
    let text = markdown["markdown"].as_str().unwrap();
    assert!(
        text.contains(&format!("/_emulator/files/{id}/notes.txt")),
        "{text}"
    );

    // A comment attachment.
    let comment = emu
        .send(
            V2026,
            Method::POST,
            "/v1/comments",
            json!({"parent": {"page_id": page}, "rich_text": [{"text": {"content": "See attached"}}], "attachments": [{"file_upload_id": id}]}),
        )
        .await;
    let attachment = &comment["attachments"][0];
    assert_eq!(attachment["category"], "productivity");
    let (_, served) = fetch(&emu, attachment["file"]["url"].as_str().unwrap()).await;
    assert_eq!(served, content);
    let read = emu
        .get(
            V2026,
            &format!("/v1/comments/{}", comment["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(read["attachments"][0]["category"], "productivity");

    // A hosted URL stops working once its expiry passed, as S3's signed URLs do.
    let url = file["file"]["url"].as_str().unwrap();
    let stale = format!("{}expires=1", &url[..url.find("expires=").unwrap()]);
    assert_eq!(fetch(&emu, &stale).await.0, 403);
}

#[tokio::test]
async fn wrong_sends_expired_uploads_and_size_limits_are_refused() {
    let emu = Emu::start().await;
    let create = |body: Value| {
        let emu = &emu;
        async move {
            emu.send(V2025, Method::POST, "/v1/file_uploads", body)
                .await
        }
    };
    // Unknown id, and another integration's upload.
    let unknown = "f0000000-0000-4000-8000-00000000abcd";
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            unknown,
            form(b"x", "a.txt", "text/plain", None),
        )
        .await;
    is_not_found(status, &body);
    let id = uploaded(&emu, "a.txt", b"hello").await;
    emu.other_integration("ntn_other").await;
    let (status, body) = emu
        .call_as(
            "ntn_other",
            V2025,
            Method::GET,
            &format!("/v1/file_uploads/{id}"),
            None,
        )
        .await;
    is_not_found(status, &body);

    // Sending to an uploaded file, or with a part number in single-part mode.
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            &id,
            form(b"again", "a.txt", "text/plain", None),
        )
        .await;
    is_validation(status, &body, "`uploaded`");
    let pending = create(json!({})).await;
    let pending_id = pending["id"].as_str().unwrap().to_string();
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            &pending_id,
            form(b"x", "a.txt", "text/plain", Some(1)),
        )
        .await;
    is_validation(status, &body, "part_number");
    // Not a form at all; a form without `file`.
    let (status, body) = emu
        .call(
            V2025,
            Method::POST,
            &format!("/v1/file_uploads/{pending_id}/send"),
            Some(json!({})),
        )
        .await;
    is_validation(status, &body, "multipart/form-data");
    let empty_form = format!("--{BOUNDARY}--\r\n").into_bytes();
    let (status, body) = emu.send_form(V2025, TOKEN, &pending_id, empty_form).await;
    is_validation(status, &body, "body.file");
    // A content type other than the declared one.
    let typed = create(json!({"filename": "b.png", "content_type": "image/png"})).await;
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            typed["id"].as_str().unwrap(),
            form(b"x", "b.png", "text/plain", None),
        )
        .await;
    is_validation(status, &body, "image/png");

    // A pending upload cannot be attached; the error names the field.
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    let row_with = |upload: &str| {
        json!({
            "parent": {"data_source_id": tasks},
            "properties": {"Attachments": {"files": [{"name": "f", "file_upload": {"id": upload}}]}},
        })
    };
    let (status, body) = emu
        .call(
            V2025,
            Method::POST,
            "/v1/pages",
            Some(row_with(&pending_id)),
        )
        .await;
    is_validation(
        status,
        &body,
        "body.properties.Attachments.files[0].file_upload.id",
    );
    is_validation(status, &body, "`pending`");

    // An hour passes: the pending upload expires, and so does an uploaded, unattached one.
    let ready = uploaded(&emu, "ready.txt", b"ready").await;
    for upload in [&pending_id, &ready] {
        let expired = emu
            .admin(
                Method::POST,
                &format!("/_emulator/file_uploads/{upload}/expire"),
                json!({}),
            )
            .await;
        assert_eq!(expired["status"], "expired");
    }
    let read = emu
        .get(V2025, &format!("/v1/file_uploads/{pending_id}"))
        .await;
    assert_eq!(read["status"], "expired");
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            &pending_id,
            form(b"x", "a.txt", "text/plain", None),
        )
        .await;
    is_validation(status, &body, "`expired`");
    let (status, body) = emu
        .call(V2025, Method::POST, "/v1/pages", Some(row_with(&ready)))
        .await;
    is_validation(status, &body, "`expired`");

    // The workspace's limit, which the bot user reports.
    emu.admin(
        Method::POST,
        "/_emulator/settings",
        json!({"max_file_upload_bytes": 10}),
    )
    .await;
    let me = emu.get(V2025, "/v1/users/me").await;
    assert_eq!(
        me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"],
        10
    );
    let small = create(json!({"filename": "big.txt"})).await;
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            small["id"].as_str().unwrap(),
            form(&[b'x'; 11], "big.txt", "text/plain", None),
        )
        .await;
    is_validation(status, &body, "limit of 10 bytes");

    // One part is at most 20 MiB; a bigger file needs `multi_part`.
    emu.admin(
        Method::POST,
        "/_emulator/settings",
        json!({"max_file_upload_bytes": 5_368_709_120u64}),
    )
    .await;
    let big = create(json!({"filename": "big.bin"})).await;
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            big["id"].as_str().unwrap(),
            form(
                &vec![0u8; 20 * 1024 * 1024 + 1],
                "big.bin",
                "application/octet-stream",
                None,
            ),
        )
        .await;
    is_validation(status, &body, "Use `multi_part`");

    // Bad create bodies name their field.
    for (body, field) in [
        (json!({"mode": "chunked"}), "body.mode"),
        (
            json!({"mode": "multi_part", "filename": "a.bin"}),
            "body.number_of_parts",
        ),
        (
            json!({"mode": "multi_part", "filename": "a.bin", "number_of_parts": 1001}),
            "body.number_of_parts",
        ),
        (
            json!({"mode": "multi_part", "number_of_parts": 2}),
            "body.filename",
        ),
        (json!({"number_of_parts": 2}), "body.number_of_parts"),
        (
            json!({"mode": "external_url", "filename": "a.txt"}),
            "body.external_url",
        ),
        (
            json!({"mode": "external_url", "filename": "a.txt", "external_url": "ftp://example.com/a"}),
            "body.external_url",
        ),
        (json!({"filename": "x".repeat(901)}), "body.filename"),
        (json!({"size": 3}), "body.size"),
    ] {
        let (status, answer) = emu
            .call(V2025, Method::POST, "/v1/file_uploads", Some(body.clone()))
            .await;
        is_validation(status, &answer, field);
    }
}

#[tokio::test]
async fn a_multi_part_upload_takes_its_parts_then_completes() {
    let emu = Emu::start().await;
    let created = emu
        .send(
            V2025,
            Method::POST,
            "/v1/file_uploads",
            json!({"mode": "multi_part", "filename": "video.bin", "content_type": "text/plain", "number_of_parts": 2}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["number_of_parts"], json!({"total": 2, "sent": 0}));
    assert_eq!(
        created["complete_url"],
        format!("{}/v1/file_uploads/{id}/complete", emu.base)
    );
    let complete = format!("/v1/file_uploads/{id}/complete");

    // The last part may be small and come first; completing early is refused.
    let tail = b"tail bytes".to_vec();
    let after_tail = send_file(&emu, &id, &tail, "video.bin", Some(2)).await;
    assert_eq!(after_tail["number_of_parts"]["sent"], 1);
    let (status, body) = emu.call(V2025, Method::POST, &complete, None).await;
    is_validation(status, &body, "1 of its 2 parts");
    // Parts before the last are at least 5 MiB; numbers stay within the total; one is needed.
    for (bytes, part, needle) in [
        (&b"small"[..], Some(1), "between 5242880 and 20971520"),
        (&b"x"[..], Some(3), "between 1 and 2"),
        (&b"x"[..], None, "part_number"),
    ] {
        let (status, body) = emu
            .send_form(
                V2025,
                TOKEN,
                &id,
                form(bytes, "video.bin", "text/plain", part),
            )
            .await;
        is_validation(status, &body, needle);
    }

    let head: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    send_file(&emu, &id, &head, "video.bin", Some(1)).await;
    let done = emu.send(V2025, Method::POST, &complete, json!({})).await;
    assert_eq!(done["status"], "uploaded");
    assert_eq!(done["content_length"], head.len() + tail.len());
    assert_eq!(done["number_of_parts"], json!({"total": 2, "sent": 2}));
    let (status, body) = emu.call(V2025, Method::POST, &complete, None).await;
    is_validation(status, &body, "`uploaded`");

    // The parts are joined in order.
    let page = emu.find(V2025, "Engineering", "page").await;
    let appended = emu
        .send(
            V2025,
            Method::PATCH,
            &format!("/v1/blocks/{page}/children"),
            json!({"children": [{"type": "video", "video": {"type": "file_upload", "file_upload": {"id": id}}}]}),
        )
        .await;
    let (_, served) = fetch(
        &emu,
        appended["results"][0]["video"]["file"]["url"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert_eq!(served.len(), head.len() + tail.len());
    assert_eq!(&served[..head.len()], head.as_slice());
    assert_eq!(&served[head.len()..], tail.as_slice());

    // A single-part upload cannot be completed.
    let single = uploaded(&emu, "one.txt", b"one").await;
    let (status, body) = emu
        .call(
            V2025,
            Method::POST,
            &format!("/v1/file_uploads/{single}/complete"),
            None,
        )
        .await;
    is_validation(status, &body, "multi_part");
}

/// Files to import, served beside the webhook receiver.
fn files_to_import() -> axum::Router {
    axum::Router::new()
        .route(
            "/report.csv",
            axum::routing::get(|| async { ([("content-type", "text/csv")], "a,b\n1,2\n") }),
        )
        .route(
            "/missing.csv",
            axum::routing::get(|| async { StatusCode::NOT_FOUND }),
        )
}

/// The payloads a receiver got.
fn payloads(receiver: &Receiver) -> Vec<Value> {
    receiver
        .events()
        .into_iter()
        .map(|(_, value, _)| value)
        .collect()
}

/// An import, once the emulator has run the pending ones (rather than waiting for its
/// background download).
async fn imported(emu: &Emu, id: &str) -> Value {
    emu.admin(Method::POST, "/_emulator/file_uploads/import", json!({}))
        .await;
    let upload = emu.get(V2025, &format!("/v1/file_uploads/{id}")).await;
    assert_ne!(upload["status"], "pending", "{upload}");
    upload
}

#[tokio::test]
async fn url_imports_events_and_the_list_with_its_status_filter() {
    let emu = Emu::start().await;
    let peer = Receiver::default();
    let base = peer.start_with(files_to_import()).await;
    let sub = emu
        .admin(Method::POST, "/_emulator/webhooks", json!({"integration_id": "c0000000-0000-4000-8000-000000000001", "url": format!("{base}/hook"), "aggregation_ms": 0}))
        .await;
    emu.admin(Method::POST, "/_emulator/webhooks/deliver", json!({}))
        .await;
    let token = payloads(&peer)[0]["verification_token"].clone();
    emu.admin(
        Method::POST,
        &format!("/_emulator/webhooks/{}/verify", sub["id"].as_str().unwrap()),
        json!({"verification_token": token}),
    )
    .await;
    peer.got.lock().unwrap().clear();

    let import = |url: String| {
        let emu = &emu;
        async move {
            emu.send(
                V2025,
                Method::POST,
                "/v1/file_uploads",
                json!({"mode": "external_url", "filename": "report.csv", "external_url": url}),
            )
            .await
        }
    };
    let good = import(format!("{base}/report.csv")).await;
    assert_eq!(good["status"], "pending");
    assert!(good.get("upload_url").is_none());
    let good = imported(&emu, good["id"].as_str().unwrap()).await;
    assert_eq!(good["status"], "uploaded");
    assert_eq!(good["content_type"], "text/csv");
    assert_eq!(good["content_length"], 8);
    assert_eq!(good["file_import_result"]["type"], "success");
    let bad = import(format!("{base}/missing.csv")).await;
    let bad = imported(&emu, bad["id"].as_str().unwrap()).await;
    assert_eq!(bad["status"], "failed");
    assert_eq!(bad["file_import_result"]["type"], "error");
    assert_eq!(bad["file_import_result"]["error"]["status_code"], 404);
    // Sending to an import is refused.
    let (status, body) = emu
        .send_form(
            V2025,
            TOKEN,
            good["id"].as_str().unwrap(),
            form(b"x", "a.csv", "text/csv", None),
        )
        .await;
    is_validation(status, &body, "external_url");

    let single = uploaded(&emu, "one.txt", b"one").await;
    let pending = emu
        .send(V2025, Method::POST, "/v1/file_uploads", json!({}))
        .await;
    emu.admin(
        Method::POST,
        &format!(
            "/_emulator/file_uploads/{}/expire",
            pending["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;

    // Events: created for each, completed for the import and the send, failed, expired.
    emu.admin(
        Method::POST,
        "/_emulator/webhooks/deliver",
        json!({"force": true}),
    )
    .await;
    let hooks = payloads(&peer);
    let mut kinds: Vec<&str> = hooks.iter().map(|h| h["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "file_upload.completed",
            "file_upload.completed",
            "file_upload.created",
            "file_upload.created",
            "file_upload.created",
            "file_upload.created",
            "file_upload.expired",
            "file_upload.upload_failed",
        ]
    );
    // Each payload is what the SDK's types describe.
    let schemas = WebhookSchemas::load();
    for hook in &hooks {
        let errors = schemas.errors(hook);
        assert!(errors.is_empty(), "{errors:?}\n{hook}");
    }
    let failed = hooks
        .iter()
        .find(|h| h["type"] == "file_upload.upload_failed")
        .cloned()
        .unwrap();
    assert_eq!(
        failed["entity"],
        json!({"id": bad["id"], "type": "file_upload"})
    );
    assert_eq!(failed["data"]["file_import_result"]["type"], "error");

    // The list: newest first, filtered by status, paged; only the caller's own.
    let list = emu.get(V2025, "/v1/file_uploads").await;
    assert_eq!(list["type"], "file_upload");
    let ids: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            pending["id"].as_str().unwrap(),
            single.as_str(),
            bad["id"].as_str().unwrap(),
            good["id"].as_str().unwrap()
        ]
    );
    let uploaded_only = emu
        .get(V2025, "/v1/file_uploads?status=uploaded&page_size=1")
        .await;
    assert_eq!(uploaded_only["results"][0]["id"], single.as_str());
    assert_eq!(uploaded_only["has_more"], true);
    let cursor = uploaded_only["next_cursor"].as_str().unwrap();
    let next = emu
        .get(
            V2025,
            &format!("/v1/file_uploads?status=uploaded&page_size=1&start_cursor={cursor}"),
        )
        .await;
    assert_eq!(next["results"][0]["id"], good["id"]);
    assert_eq!(next["has_more"], false);
    for status in ["failed", "expired"] {
        let one = emu
            .get(V2025, &format!("/v1/file_uploads?status={status}"))
            .await;
        assert_eq!(one["results"].as_array().unwrap().len(), 1, "{status}");
    }
    let (status, body) = emu
        .call(V2025, Method::GET, "/v1/file_uploads?status=done", None)
        .await;
    is_validation(status, &body, "query.status");
    emu.other_integration("ntn_other").await;
    let (_, other) = emu
        .call_as("ntn_other", V2025, Method::GET, "/v1/file_uploads", None)
        .await;
    assert_eq!(other["results"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_uploads_and_attachments_all_land() {
    let emu = Arc::new(Emu::start().await);
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    let row = emu
        .send(
            V2025,
            Method::POST,
            "/v1/pages",
            json!({"parent": {"data_source_id": tasks}, "properties": {"Name": {"title": [{"text": {"content": "Many files"}}]}}}),
        )
        .await;
    let row_id = row["id"].as_str().unwrap().to_string();
    // 50 callers at once each create, send and attach (as a comment) their own file.
    let mut callers = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (emu, row_id) = (emu.clone(), row_id.clone());
        callers.spawn(async move {
            let id = uploaded(&emu, &format!("f{i}.txt"), format!("file {i}").as_bytes()).await;
            let (status, comment) = emu
                .call(
                    V2026,
                    Method::POST,
                    "/v1/comments",
                    Some(json!({"parent": {"page_id": row_id}, "rich_text": [{"text": {"content": format!("file {i}")}}], "attachments": [{"file_upload_id": id}]})),
                )
                .await;
            assert_eq!(status, 200, "{comment}");
            (i, id)
        });
    }
    let mut uploads = callers.join_all().await;
    uploads.sort();
    let comments = emu
        .get(
            V2026,
            &format!("/v1/comments?block_id={row_id}&page_size=100"),
        )
        .await;
    let comments = comments["results"].as_array().unwrap();
    assert_eq!(comments.len(), 50);
    for comment in comments {
        let text = comment["rich_text"][0]["plain_text"].as_str().unwrap();
        let (_, served) = fetch(
            &emu,
            comment["attachments"][0]["file"]["url"].as_str().unwrap(),
        )
        .await;
        assert_eq!(served, text.as_bytes());
    }
    // All 50 in one files property, each served with its own bytes.
    let files: Vec<Value> = uploads
        .iter()
        .map(|(i, id)| json!({"name": format!("f{i}.txt"), "file_upload": {"id": id}}))
        .collect();
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/pages/{row_id}"),
        json!({"properties": {"Attachments": {"files": files}}}),
    )
    .await;
    let page = emu.get(V2025, &format!("/v1/pages/{row_id}")).await;
    let attached = page["properties"]["Attachments"]["files"]
        .as_array()
        .unwrap();
    assert_eq!(attached.len(), 50);
    for (i, file) in attached.iter().enumerate() {
        let (_, served) = fetch(&emu, file["file"]["url"].as_str().unwrap()).await;
        assert_eq!(served, format!("file {i}").into_bytes());
    }
    let listed = emu
        .get(V2025, "/v1/file_uploads?status=uploaded&page_size=100")
        .await;
    assert_eq!(listed["results"].as_array().unwrap().len(), 50);
    assert!(
        listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["expiry_time"].is_null())
    );
}

#[tokio::test]
async fn file_uploads_answer_in_every_version() {
    let emu = Emu::start().await;
    for version in [V2022, V2025, V2026] {
        let created = emu
            .send(
                version,
                Method::POST,
                "/v1/file_uploads",
                json!({"filename": "v.txt"}),
            )
            .await;
        assert_eq!(created["content_type"], "text/plain");
        // 2022-06-28 has no `in_trash`; later versions have both names.
        assert_eq!(
            created.get("in_trash").is_some(),
            version != V2022,
            "{version}"
        );
        assert_eq!(created["archived"], false);
    }
}
