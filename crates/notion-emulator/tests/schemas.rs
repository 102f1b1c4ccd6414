//! Every response of every emulated endpoint, in each API version, validated against the
//! JSON Schemas generated from the official SDK's types (5.26.0 for 2025-09-03 and
//! 2026-03-11, 4.0.2 for 2022-06-28). Any mismatch fails the test with its path.

mod support;

use std::collections::HashMap;

use jsonschema::{Registry, Validator};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2022, V2025, V2026};

const V5_MODULES: &[&str] = &[
    "users",
    "search",
    "pages",
    "blocks",
    "databases",
    "data-sources",
    "comments",
    "oauth",
    "webhooks",
    "file-uploads",
    "async-tasks",
    "meeting-notes",
];

struct Checker {
    registry: Registry<'static>,
    validators: HashMap<String, Validator>,
    failures: Vec<String>,
    checked: usize,
}

impl Checker {
    fn new() -> Self {
        let mut builder = Registry::new()
            .add(
                "urn:notion:v4",
                support::load_schema("sdk-4.0.2/api-endpoints.json.gz"),
            )
            .unwrap();
        for module in V5_MODULES {
            builder = builder
                .add(
                    format!("urn:notion:v5:{module}"),
                    support::load_schema(&format!("sdk-5.26.0/{module}.json.gz")),
                )
                .unwrap();
        }
        Checker {
            registry: builder.prepare().expect("schemas prepare"),
            validators: HashMap::new(),
            failures: Vec::new(),
            checked: 0,
        }
    }

    /// Validates `value` as `ty`: from `module` in 5.26.0, or the single 4.0.2 document.
    fn check(&mut self, version: &str, module: &str, ty: &str, value: &Value, what: &str) {
        let uri = if version == V2022 {
            format!("urn:notion:v4#/definitions/{ty}")
        } else {
            format!("urn:notion:v5:{module}#/definitions/{ty}")
        };
        if !self.validators.contains_key(&uri) {
            let validator = jsonschema::options()
                .with_registry(&self.registry)
                .build(&json!({"$ref": uri}))
                .unwrap_or_else(|e| panic!("{uri}: {e}"));
            self.validators.insert(uri.clone(), validator);
        }
        self.checked += 1;
        let validator = &self.validators[&uri];
        if !validator.is_valid(value) {
            let errors: Vec<String> = validator
                .iter_errors(value)
                .take(3)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            let text = value.to_string();
            self.failures.push(format!(
                "[{version}] {what} as {ty}: {}\n    value: {}",
                errors.join(" | "),
                &text[..text.len().min(600)]
            ));
        }
    }
}

async fn walk_blocks(
    emu: &Emu,
    checker: &mut Checker,
    version: &str,
    parent: &str,
    depth: usize,
    seen: &mut Vec<String>,
) {
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/blocks/{parent}/children?page_size=20&start_cursor={c}"),
            None => format!("/v1/blocks/{parent}/children?page_size=20"),
        };
        let list = emu.get(version, &path).await;
        checker.check(version, "blocks", "ListBlockChildrenResponse", &list, &path);
        for block in list["results"].as_array().unwrap() {
            let id = block["id"].as_str().unwrap().to_string();
            if seen.contains(&id) {
                continue;
            }
            seen.push(id.clone());
            let single = emu.get(version, &format!("/v1/blocks/{id}")).await;
            checker.check(
                version,
                "blocks",
                "GetBlockResponse",
                &single,
                &format!("block {}", block["type"]),
            );
            if block["has_children"] == true && depth < 4 && block["type"] != "child_page" {
                Box::pin(walk_blocks(emu, checker, version, &id, depth + 1, seen)).await;
            }
        }
        cursor = list["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
}

async fn read_everything(emu: &Emu, checker: &mut Checker, version: &str) {
    let users = emu.get(version, "/v1/users?page_size=2").await;
    checker.check(
        version,
        "users",
        "ListUsersResponse",
        &users,
        "users page 1",
    );
    let next = users["next_cursor"].as_str().unwrap();
    let users2 = emu
        .get(version, &format!("/v1/users?start_cursor={next}"))
        .await;
    checker.check(
        version,
        "users",
        "ListUsersResponse",
        &users2,
        "users page 2",
    );
    for user in users["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(users2["results"].as_array().unwrap())
    {
        let one = emu
            .get(
                version,
                &format!("/v1/users/{}", user["id"].as_str().unwrap()),
            )
            .await;
        checker.check(version, "users", "GetUserResponse", &one, "user");
    }
    let me = emu.get(version, "/v1/users/me").await;
    checker.check(version, "users", "GetSelfResponse", &me, "users/me");

    // Search everything, ten at a time.
    let mut cursor: Option<String> = None;
    let mut found = Vec::new();
    loop {
        let mut body = json!({"page_size": 10});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let page = emu.send(version, Method::POST, "/v1/search", body).await;
        checker.check(version, "search", "SearchResponse", &page, "search");
        found.extend(page["results"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert!(found.len() > 40, "search found {} objects", found.len());

    let mut seen_blocks = Vec::new();
    for object in &found {
        let id = object["id"].as_str().unwrap();
        match object["object"].as_str().unwrap() {
            "page" => {
                let page = emu.get(version, &format!("/v1/pages/{id}")).await;
                checker.check(
                    version,
                    "pages",
                    "GetPageResponse",
                    &page,
                    &format!("page {}", support::title_of(&page)),
                );
                if object["parent"]["type"] != "data_source_id"
                    && object["parent"]["type"] != "database_id"
                {
                    walk_blocks(emu, checker, version, id, 0, &mut seen_blocks).await;
                }
            }
            "data_source" => {
                let ds = emu.get(version, &format!("/v1/data_sources/{id}")).await;
                checker.check(
                    version,
                    "data-sources",
                    "GetDataSourceResponse",
                    &ds,
                    "data source",
                );
                let query = emu
                    .send(
                        version,
                        Method::POST,
                        &format!("/v1/data_sources/{id}/query"),
                        json!({"page_size": 5}),
                    )
                    .await;
                checker.check(
                    version,
                    "data-sources",
                    "QueryDataSourceResponse",
                    &query,
                    "data source query",
                );
                let templates = emu
                    .get(version, &format!("/v1/data_sources/{id}/templates"))
                    .await;
                checker.check(
                    version,
                    "data-sources",
                    "ListDataSourceTemplatesResponse",
                    &templates,
                    "templates",
                );
                let database = ds["parent"]["database_id"].as_str().unwrap();
                let db = emu.get(version, &format!("/v1/databases/{database}")).await;
                checker.check(version, "databases", "GetDatabaseResponse", &db, "database");
            }
            "database" => {
                let db = emu.get(version, &format!("/v1/databases/{id}")).await;
                checker.check(version, "databases", "GetDatabaseResponse", &db, "database");
                let query = emu
                    .send(
                        version,
                        Method::POST,
                        &format!("/v1/databases/{id}/query"),
                        json!({"page_size": 5}),
                    )
                    .await;
                checker.check(
                    version,
                    "databases",
                    "QueryDatabaseResponse",
                    &query,
                    "database query",
                );
            }
            other => panic!("search returned a {other}"),
        }
    }
    assert!(
        seen_blocks.len() > 40,
        "walked {} blocks",
        seen_blocks.len()
    );

    // Every property of the row with long values, through the property-item endpoint.
    let kind = if version == V2022 {
        "database"
    } else {
        "data_source"
    };
    let tasks = emu.find(version, "Tasks", kind).await;
    let query_path = if version == V2022 {
        format!("/v1/databases/{tasks}/query")
    } else {
        format!("/v1/data_sources/{tasks}/query")
    };
    let rows = emu
        .send(
            version,
            Method::POST,
            &query_path,
            json!({"filter": {"property": "Name", "title": {"starts_with": "Task 01"}}}),
        )
        .await;
    let row = &rows["results"][0];
    assert_eq!(
        row["properties"]["Project"]["relation"]
            .as_array()
            .unwrap()
            .len(),
        25,
        "relations are cut at 25"
    );
    for (name, prop) in row["properties"].as_object().unwrap() {
        let pid = prop["id"].as_str().unwrap();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!(
                    "/v1/pages/{}/properties/{pid}?page_size=10&start_cursor={c}",
                    row["id"].as_str().unwrap()
                ),
                None => format!(
                    "/v1/pages/{}/properties/{pid}?page_size=10",
                    row["id"].as_str().unwrap()
                ),
            };
            let item = emu.get(version, &path).await;
            checker.check(
                version,
                "pages",
                "GetPagePropertyResponse",
                &item,
                &format!("property item {name}"),
            );
            cursor = item["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
    }

    let handbook = emu.find(version, "Acme Handbook", "page").await;
    let comments = emu
        .get(version, &format!("/v1/comments?block_id={handbook}"))
        .await;
    checker.check(
        version,
        "comments",
        "ListCommentsResponse",
        &comments,
        "comments",
    );
    assert!(!comments["results"].as_array().unwrap().is_empty());

    // The SDK has no list type for custom emojis; each one is checked as the SDK's emoji.
    let emojis = emu.get(version, "/v1/custom_emojis").await;
    assert_eq!(emojis["object"], "list");
    assert_eq!(emojis["type"], "custom_emoji");
    if version != V2022 {
        for emoji in emojis["results"].as_array().unwrap() {
            checker.check(
                version,
                "comments",
                "CustomEmojiResponse",
                emoji,
                "custom emoji",
            );
        }
    }
    assert!(!emojis["results"].as_array().unwrap().is_empty());

    if version == V2026 {
        let markdown = emu
            .get(version, &format!("/v1/pages/{handbook}/markdown"))
            .await;
        checker.check(
            version,
            "pages",
            "GetPageMarkdownResponse",
            &markdown,
            "page markdown",
        );
    }
}

async fn write_everything(emu: &Emu, checker: &mut Checker, version: &str) {
    let classic = version == V2022;
    let trash_key = if version == V2026 {
        "in_trash"
    } else {
        "archived"
    };
    let handbook = emu.find(version, "Acme Handbook", "page").await;
    let tasks = emu
        .find(
            version,
            "Tasks",
            if classic { "database" } else { "data_source" },
        )
        .await;
    let parent = if classic {
        json!({"database_id": tasks})
    } else {
        json!({"data_source_id": tasks})
    };
    let row = emu
        .send(
            version,
            Method::POST,
            "/v1/pages",
            json!({
                "parent": parent,
                "icon": {"emoji": "🐛"},
                "properties": {
                    "Name": {"title": [{"text": {"content": "Schema test row"}}]},
                    "Priority": {"select": {"name": "P9"}},
                    "Estimate": {"number": 3},
                    "Due": {"date": {"start": "2026-12-24T10:00:00Z", "end": null}},
                },
                "children": [{"paragraph": {"rich_text": [{"text": {"content": "Body"}}]}}],
            }),
        )
        .await;
    checker.check(version, "pages", "CreatePageResponse", &row, "create row");
    let row_id = row["id"].as_str().unwrap();
    let updated = emu
        .send(version, Method::PATCH, &format!("/v1/pages/{row_id}"), json!({"properties": {"Done": {"checkbox": true}}, "cover": {"external": {"url": "https://images.example.com/c.png"}}}))
        .await;
    checker.check(
        version,
        "pages",
        "UpdatePageResponse",
        &updated,
        "update row",
    );
    let trashed = emu
        .send(
            version,
            Method::PATCH,
            &format!("/v1/pages/{row_id}"),
            json!({trash_key: true}),
        )
        .await;
    checker.check(
        version,
        "pages",
        "UpdatePageResponse",
        &trashed,
        "trash row",
    );
    assert_eq!(trashed["in_trash"], true);

    let child = emu
        .send(version, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": "Child"}}]}}}))
        .await;
    checker.check(
        version,
        "pages",
        "CreatePageResponse",
        &child,
        "create child page",
    );
    let child_id = child["id"].as_str().unwrap();
    let appended = emu
        .send(
            version,
            Method::PATCH,
            &format!("/v1/blocks/{child_id}/children"),
            json!({"children": [
                {"heading_2": {"rich_text": [{"text": {"content": "Title"}}]}},
                {"to_do": {"rich_text": [{"text": {"content": "Item"}}], "checked": false}},
                {"code": {"rich_text": [{"text": {"content": "select 1"}}], "language": "sql"}},
            ]}),
        )
        .await;
    checker.check(
        version,
        "blocks",
        "AppendBlockChildrenResponse",
        &appended,
        "append",
    );
    let todo = appended["results"][1]["id"].as_str().unwrap();
    let block = emu
        .send(
            version,
            Method::PATCH,
            &format!("/v1/blocks/{todo}"),
            json!({"to_do": {"checked": true}}),
        )
        .await;
    checker.check(
        version,
        "blocks",
        "UpdateBlockResponse",
        &block,
        "update block",
    );
    assert_eq!(block["to_do"]["checked"], true);
    let deleted = emu
        .call(version, Method::DELETE, &format!("/v1/blocks/{todo}"), None)
        .await
        .1;
    checker.check(
        version,
        "blocks",
        "DeleteBlockResponse",
        &deleted,
        "delete block",
    );

    let comment = emu
        .send(
            version,
            Method::POST,
            "/v1/comments",
            json!({"parent": {"page_id": child_id}, "rich_text": [{"text": {"content": "Nice"}}]}),
        )
        .await;
    checker.check(
        version,
        "comments",
        "CreateCommentResponse",
        &comment,
        "create comment",
    );
    let comment_path = format!("/v1/comments/{}", comment["id"].as_str().unwrap());
    let got = emu.get(version, &comment_path).await;
    checker.check(
        version,
        "comments",
        "GetCommentResponse",
        &got,
        "retrieve comment",
    );
    // The SDK of 2022-06-28 has no update or delete: their answers are comment objects.
    let (update_type, delete_type) = if classic {
        ("CommentObjectResponse", "CommentObjectResponse")
    } else {
        ("UpdateCommentResponse", "DeleteCommentResponse")
    };
    let updated = emu
        .send(
            version,
            Method::PATCH,
            &comment_path,
            json!({"markdown": "Nicer, **much** nicer"}),
        )
        .await;
    checker.check(version, "comments", update_type, &updated, "update comment");
    let deleted = emu
        .send(version, Method::DELETE, &comment_path, json!({}))
        .await;
    checker.check(version, "comments", delete_type, &deleted, "delete comment");

    let create_db = if classic {
        json!({"parent": {"page_id": child_id}, "title": [{"text": {"content": "Inventory"}}], "properties": {"Item": {"title": {}}, "Count": {"number": {}}}})
    } else {
        json!({"parent": {"page_id": child_id}, "title": [{"text": {"content": "Inventory"}}], "initial_data_source": {"properties": {"Item": {"title": {}}, "Count": {"number": {}}}}})
    };
    let db = emu
        .send(version, Method::POST, "/v1/databases", create_db)
        .await;
    checker.check(
        version,
        "databases",
        "CreateDatabaseResponse",
        &db,
        "create database",
    );
    let db_id = db["id"].as_str().unwrap();
    let db_patch = if classic {
        json!({"title": [{"text": {"content": "Stock"}}], "properties": {"Count": {"name": "Quantity"}}})
    } else {
        json!({"title": [{"text": {"content": "Stock"}}]})
    };
    let db2 = emu
        .send(
            version,
            Method::PATCH,
            &format!("/v1/databases/{db_id}"),
            db_patch,
        )
        .await;
    checker.check(
        version,
        "databases",
        "UpdateDatabaseResponse",
        &db2,
        "update database",
    );
    if !classic {
        let ds = emu
            .send(version, Method::POST, "/v1/data_sources", json!({"parent": {"database_id": db_id}, "title": [{"text": {"content": "Archive"}}], "properties": {"Name": {"title": {}}}}))
            .await;
        checker.check(
            version,
            "data-sources",
            "CreateDataSourceResponse",
            &ds,
            "create data source",
        );
        let ds2 = emu
            .send(
                version,
                Method::PATCH,
                &format!("/v1/data_sources/{}", ds["id"].as_str().unwrap()),
                json!({"properties": {"Kept": {"checkbox": {}}}}),
            )
            .await;
        checker.check(
            version,
            "data-sources",
            "UpdateDataSourceResponse",
            &ds2,
            "update data source",
        );
        let moved = emu
            .send(
                version,
                Method::POST,
                &format!("/v1/pages/{child_id}/move"),
                json!({"parent": {"page_id": handbook}}),
            )
            .await;
        checker.check(version, "pages", "MovePageResponse", &moved, "move page");
    }
}

/// Meeting notes made from a recording, and the query (2026-03-11 only).
async fn meeting_notes(emu: &Emu, checker: &mut Checker) {
    let version = V2026;
    let upload = emu
        .send(
            version,
            Method::POST,
            "/v1/file_uploads",
            json!({"filename": "call.mp3", "content_type": "audio/mpeg"}),
        )
        .await;
    let id = upload["id"].as_str().unwrap();
    let (status, _) = emu
        .send_form(
            version,
            support::TOKEN,
            id,
            support::form(b"ID3", "call.mp3", "audio/mpeg", None),
        )
        .await;
    assert_eq!(status, 200);
    let page = emu.find(version, "Engineering", "page").await;
    let note = emu
        .send(version, Method::POST, "/v1/blocks/meeting_notes", json!({"source": {"type": "file_upload", "file_upload_id": id}, "parent": {"type": "page_id", "page_id": page}}))
        .await;
    checker.check(
        version,
        "meeting-notes",
        "CreateMeetingNoteResponse",
        &note,
        "create meeting note",
    );
    let found = emu
        .send(
            version,
            Method::POST,
            "/v1/blocks/meeting_notes/query",
            json!({"sort": [{"property": "created_time", "direction": "ascending"}]}),
        )
        .await;
    assert!(found["results"].as_array().unwrap().len() >= 2);
    checker.check(
        version,
        "meeting-notes",
        "QueryMeetingNotesResponse",
        &found,
        "query meeting notes",
    );
}

/// Pages written as markdown (2026-03-11 only).
async fn markdown_writes(emu: &Emu, checker: &mut Checker) {
    let version = V2026;
    let handbook = emu.find(version, "Acme Handbook", "page").await;
    let page = emu
        .send(version, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "markdown": "# From markdown\n- a list\n> a quote"}))
        .await;
    checker.check(
        version,
        "pages",
        "CreatePageResponse",
        &page,
        "page from markdown",
    );
    let id = page["id"].as_str().unwrap();
    let path = format!("/v1/pages/{id}/markdown");
    let (status, accepted) = emu
        .call(
            version,
            Method::POST,
            "/v1/pages",
            Some(
                json!({"parent": {"page_id": handbook}, "markdown": "Async", "allow_async": true}),
            ),
        )
        .await;
    assert_eq!(status, 202);
    checker.check(
        version,
        "async-tasks",
        "GetAsyncTaskResponse",
        &accepted,
        "accepted async task",
    );
    let task = emu
        .get(
            version,
            &format!("/v1/async_tasks/{}", accepted["id"].as_str().unwrap()),
        )
        .await;
    checker.check(
        version,
        "async-tasks",
        "GetAsyncTaskResponse",
        &task,
        "succeeded async task",
    );
    for body in [
        json!({"type": "insert_content", "insert_content": {"content": "Added"}}),
        json!({"type": "update_content", "update_content": {"content_updates": [{"old_str": "Added", "new_str": "Changed"}]}}),
        json!({"type": "replace_content_range", "replace_content_range": {"content": "Range", "content_range": "- a...quote"}}),
        json!({"type": "replace_content", "replace_content": {"new_str": "## Replaced"}}),
    ] {
        let answer = emu.send(version, Method::PATCH, &path, body).await;
        checker.check(
            version,
            "pages",
            "UpdatePageMarkdownResponse",
            &answer,
            "update page markdown",
        );
    }
}

/// File uploads in every mode, and the objects an uploaded file is attached to.
async fn file_uploads(emu: &Emu, checker: &mut Checker, version: &str) {
    let module = "file-uploads";
    let send_part = |id: String, bytes: Vec<u8>, part: Option<u32>| async move {
        let (status, body) = emu
            .send_form(
                version,
                support::TOKEN,
                &id,
                support::form(&bytes, "a.txt", "text/plain", part),
            )
            .await;
        assert_eq!(status, 200, "send: {body}");
        body
    };
    let created = emu
        .send(
            version,
            Method::POST,
            "/v1/file_uploads",
            json!({"filename": "a.txt"}),
        )
        .await;
    checker.check(
        version,
        module,
        "CreateFileUploadResponse",
        &created,
        "create file upload",
    );
    let id = created["id"].as_str().unwrap().to_string();
    let sent = send_part(id.clone(), b"schema".to_vec(), None).await;
    checker.check(
        version,
        module,
        "SendFileUploadResponse",
        &sent,
        "send file upload",
    );

    let multi = emu
        .send(
            version,
            Method::POST,
            "/v1/file_uploads",
            json!({"mode": "multi_part", "filename": "b.txt", "number_of_parts": 2}),
        )
        .await;
    checker.check(
        version,
        module,
        "CreateFileUploadResponse",
        &multi,
        "create multi-part upload",
    );
    let multi_id = multi["id"].as_str().unwrap().to_string();
    let part = send_part(multi_id.clone(), vec![b'x'; 5 * 1024 * 1024], Some(1)).await;
    checker.check(
        version,
        module,
        "SendFileUploadResponse",
        &part,
        "send a part",
    );
    send_part(multi_id.clone(), b"end".to_vec(), Some(2)).await;
    let completed = emu
        .send(
            version,
            Method::POST,
            &format!("/v1/file_uploads/{multi_id}/complete"),
            json!({}),
        )
        .await;
    checker.check(
        version,
        module,
        "CompleteFileUploadResponse",
        &completed,
        "complete file upload",
    );
    let failed = emu
        .send(version, Method::POST, "/v1/file_uploads", json!({"mode": "external_url", "filename": "c.txt", "external_url": "http://127.0.0.1:9/c.txt"}))
        .await;
    checker.check(
        version,
        module,
        "CreateFileUploadResponse",
        &failed,
        "create import",
    );

    // The list holds pending, uploaded and (soon) failed uploads.
    let retrieved = emu.get(version, &format!("/v1/file_uploads/{id}")).await;
    checker.check(
        version,
        module,
        "GetFileUploadResponse",
        &retrieved,
        "get file upload",
    );
    let list = emu.get(version, "/v1/file_uploads?page_size=5").await;
    checker.check(
        version,
        module,
        "ListFileUploadsResponse",
        &list,
        "list file uploads",
    );

    // Attached to a row's files property, icon and cover, a media block and a comment.
    let parent = emu.tasks_parent(version).await;
    let upload = json!({"type": "file_upload", "file_upload": {"id": id}});
    let row = emu
        .send(version, Method::POST, "/v1/pages", json!({
            "parent": parent,
            "icon": upload, "cover": upload,
            "properties": {"Name": {"title": [{"text": {"content": "Uploaded"}}]}, "Attachments": {"files": [{"name": "a.txt", "file_upload": {"id": id}}]}},
        }))
        .await;
    checker.check(
        version,
        "pages",
        "CreatePageResponse",
        &row,
        "page with uploaded files",
    );
    let row_id = row["id"].as_str().unwrap();
    let blocks = emu
        .send(
            version,
            Method::PATCH,
            &format!("/v1/blocks/{row_id}/children"),
            json!({"children": [
                {"type": "image", "image": upload},
                {"type": "file", "file": upload},
                {"type": "pdf", "pdf": upload},
            ]}),
        )
        .await;
    checker.check(
        version,
        "blocks",
        "AppendBlockChildrenResponse",
        &blocks,
        "uploaded media blocks",
    );
    let comment = emu
        .send(version, Method::POST, "/v1/comments", json!({"parent": {"page_id": row_id}, "rich_text": [{"text": {"content": "see file"}}], "attachments": [{"file_upload_id": id}]}))
        .await;
    checker.check(
        version,
        "comments",
        "CreateCommentResponse",
        &comment,
        "comment with an attachment",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_matches_the_sdk_schemas() {
    let emu = Emu::start().await;
    let mut checker = Checker::new();
    for version in [V2022, V2025, V2026] {
        read_everything(&emu, &mut checker, version).await;
        write_everything(&emu, &mut checker, version).await;
        file_uploads(&emu, &mut checker, version).await;
        if version == V2026 {
            markdown_writes(&emu, &mut checker).await;
            meeting_notes(&emu, &mut checker).await;
        }
    }

    // OAuth responses do not depend on the version.
    let redirect = "http://127.0.0.1:9/callback";
    let (status, headers, _) = emu
        .raw(Method::GET, &format!("/v1/oauth/authorize?client_id=emulator-client-id&response_type=code&owner=user&redirect_uri={redirect}&state=s1"), &[], None)
        .await;
    assert_eq!(status, 302);
    let location = headers["location"].to_str().unwrap().to_string();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let basic = format!(
        "Basic {}",
        base64_encode("emulator-client-id:emulator-client-secret")
    );
    let post = |path: &'static str, body: Value| {
        let basic = basic.clone();
        let emu = &emu;
        async move {
            let (status, _, bytes) = emu
                .raw(
                    Method::POST,
                    path,
                    &[("authorization", &basic)],
                    Some(serde_json::to_vec(&body).unwrap()),
                )
                .await;
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let token = post(
        "/v1/oauth/token",
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}),
    )
    .await;
    let introspect = post(
        "/v1/oauth/introspect",
        json!({"token": token["access_token"]}),
    )
    .await;
    let revoke = post("/v1/oauth/revoke", json!({"token": token["access_token"]})).await;
    for version in [V2022, V2025] {
        checker.check(
            version,
            "oauth",
            "OauthTokenResponse",
            &token,
            "oauth token",
        );
        checker.check(
            version,
            "oauth",
            "OauthIntrospectResponse",
            &introspect,
            "oauth introspect",
        );
        checker.check(
            version,
            "oauth",
            "OauthRevokeResponse",
            &revoke,
            "oauth revoke",
        );
    }

    assert!(
        checker.checked > 300,
        "only {} responses were checked",
        checker.checked
    );
    assert!(
        checker.failures.is_empty(),
        "{} of {} responses do not match the schemas:\n{}",
        checker.failures.len(),
        checker.checked,
        checker.failures.join("\n")
    );
    emu.running.shutdown().await;
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
