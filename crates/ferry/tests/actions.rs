//! The pre-built actions against the emulator, on both backends: each action's happy path
//! through `POST /action/trigger` and the catalogue paths under `/v1`, every bad input of
//! `create-database-row`, Notion's errors kept, the catalogue, the operation log, 50
//! concurrent row creations, every action declared as one Notion call, and the demo handbook
//! as markdown pinned by a golden file.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::actions::{HEADERS, find, ok, setup, trigger};
use support::{Backend, Harness, at_once};

backend_tests!(
    actions_read_write_and_refuse,
    handbook_markdown_is_pinned,
    declared_calls_reach_notion
);

/// Asserts `create-database-row` refuses `properties` naming `field`.
async fn refused(h: &Harness, database: &str, properties: Value, field: &str, says: &str) {
    let (status, body) = trigger(
        h,
        "create-database-row",
        json!({"databaseId": database, "properties": properties}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_action_input")),
        "{properties}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("input.{field}: ")),
        "{message}"
    );
    assert!(message.contains(says), "{message} should say {says}");
    assert_eq!(body["error"]["payload"]["field"], field);
}

async fn actions_read_write_and_refuse(backend: Backend) {
    let h = setup(backend).await;
    let tasks = find(&h, "data_source", "Tasks").await;
    let tasks_db = tasks["parent"]["database_id"].as_str().unwrap().to_string();

    // fetch-database, by the database id and (through the catalogue path) the data source id.
    let database = ok(&h, "fetch-database", json!({"databaseId": tasks_db})).await;
    assert_eq!(database["title"], "Tasks");
    let before = database["entries"].as_array().unwrap().len();
    assert_eq!(before, 24);
    assert_eq!(database["entries"][0]["row"]["Name"]["type"], "title");
    let path = format!(
        "/v1/databases/single?databaseId={}",
        tasks["id"].as_str().unwrap()
    );
    let (status, _, text) = h
        .request(Method::GET, &path, Some(support::KEY), &HEADERS, None)
        .await;
    assert_eq!(status, 200, "{text}");
    let same: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(same["entries"].as_array().unwrap().len(), 24);

    // create-database-row: names in any case, plain values mapped onto the schema.
    let created = ok(
        &h,
        "create-database-row",
        json!({"databaseId": tasks_db, "properties": {
            "name": "Ship actions", "Notes": "with | pipes", "estimate": 3.5, "Priority": "P1",
            "Tags": ["backend", "brand-new"], "Status": "in progress", "Due": {"start": "2026-12-01", "end": "2026-12-02"},
            "Done": false, "Link": "https://ferry.test", "Contact": "ops@acme.test", "Phone": "+1 555",
            "Attachments": ["https://files.test/spec.pdf"],
        }}),
    )
    .await;
    assert_eq!(created["success"], true);
    let added = created["addedProperties"].as_array().unwrap();
    assert_eq!(added.len(), 12);
    assert!(added.iter().any(|p| p["propertyKey"] == "Status"
        && p["notionValue"] == json!({"status": {"name": "In progress"}})));
    let page_id = created["id"].as_str().unwrap().to_string();
    let (_, _, text) = h
        .request(
            Method::GET,
            &format!("/proxy/v1/pages/{page_id}"),
            Some(support::KEY),
            &HEADERS,
            None,
        )
        .await;
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        page["properties"]["Name"]["title"][0]["plain_text"],
        "Ship actions"
    );
    assert_eq!(
        page["properties"]["Tags"]["multi_select"][1]["name"],
        "brand-new"
    );
    assert_eq!(page["properties"]["Due"]["date"]["end"], "2026-12-02");
    assert_eq!(
        page["properties"]["Attachments"]["files"][0]["external"]["url"],
        "https://files.test/spec.pdf"
    );

    // Every bad input is a 400 that names the property, and nothing is written.
    refused(
        &h,
        &tasks_db,
        json!({"Nope": "x"}),
        "properties.Nope",
        "no property named `Nope`",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Estimate": "five"}),
        "properties.Estimate",
        "takes a number",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Status": "Shipped"}),
        "properties.Status",
        "is not a status of this property",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Created": "2026-01-01"}),
        "properties.Created",
        "cannot be written",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"ID": 5}),
        "properties.ID",
        "cannot be written",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Due": "next week"}),
        "properties.Due",
        "is not an ISO 8601 date",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Project": ["not-an-id"]}),
        "properties.Project[0]",
        "is not a page id",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Assignees": ["nobody@nowhere.test"]}),
        "properties.Assignees[0]",
        "no user of the workspace has the email",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"Done": "yes"}),
        "properties.Done",
        "true or false",
    )
    .await;
    refused(
        &h,
        &tasks_db,
        json!({"name": "a", "Name": "b"}),
        "properties.name",
        "given twice",
    )
    .await;
    let (status, body) = trigger(
        &h,
        "create-database-row",
        json!({"databaseId": "xyz", "properties": {}}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["payload"]["field"].as_str()),
        (400, Some("databaseId")),
        "{body}"
    );
    let (status, body) = trigger(&h, "create-database-row", json!({"databaseId": tasks_db})).await;
    assert_eq!(
        (status, body["error"]["payload"]["field"].as_str()),
        (400, Some("properties")),
        "{body}"
    );
    let (status, body) = trigger(
        &h,
        "fetch-database",
        json!({"databaseId": tasks_db, "extra": 1}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["payload"]["field"].as_str()),
        (400, Some("extra")),
        "{body}"
    );
    let after = ok(&h, "fetch-database", json!({"databaseId": tasks_db})).await;
    assert_eq!(
        after["entries"].as_array().unwrap().len(),
        before + 1,
        "only the good row was written"
    );

    // People by email, from the workspace's users.
    let users = ok(&h, "list-users", json!({})).await;
    let users = users["users"].as_array().unwrap();
    assert!(users.iter().any(|u| u["isBot"] == true));
    let person = users
        .iter()
        .find(|u| u["email"].is_string())
        .expect("a person with an email");
    let with_person = ok(
        &h,
        "create-database-row",
        json!({"databaseId": tasks_db, "properties": {"Name": "Paired", "Assignees": [person["email"]]}}),
    )
    .await;
    let assignees = with_person["addedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["propertyKey"] == "Assignees")
        .unwrap();
    assert_eq!(assignees["notionValue"]["people"][0]["id"], person["id"]);

    // fetch-content-metadata by URL and by id; fetch-rich-page at its catalogue path.
    let url = format!(
        "https://www.notion.so/acme/Ship-actions-{}",
        page_id.replace('-', "")
    );
    let meta = ok(&h, "fetch-content-metadata", json!({"url": url})).await;
    assert_eq!(
        (meta["type"].as_str(), meta["title"].as_str()),
        (Some("page"), Some("Ship actions"))
    );
    let meta = ok(&h, "fetch-content-metadata", json!({"id": tasks_db})).await;
    assert_eq!(meta["type"], "database");
    let path = format!("/v1/pages/single?pageId={page_id}&frontMatter=true");
    let (status, _, text) = h
        .request(Method::GET, &path, Some(support::KEY), &HEADERS, None)
        .await;
    assert_eq!(status, 200, "{text}");
    let rich: Value = serde_json::from_str(&text).unwrap();
    let content = rich["content"].as_str().unwrap();
    assert!(content.starts_with("---\nid: "), "{content}");
    assert!(
        content.contains("  \"Tags\": [\"backend\",\"brand-new\"]\n"),
        "{content}"
    );
    assert!(content.contains("# Ship actions\n"), "{content}");

    // Notion's errors keep Notion's code; unknown actions and bad headers are refused.
    let (status, body) = trigger(
        &h,
        "fetch-rich-page",
        json!({"pageId": "00000000-0000-4000-8000-00000000beef"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("provider_error")),
        "{body}"
    );
    assert_eq!(body["error"]["payload"]["code"], "object_not_found");
    assert_eq!(body["error"]["payload"]["status"], 404);
    let (status, body) = trigger(&h, "launch-rockets", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_action")),
        "{body}"
    );
    let (status, _, text) = h
        .request(
            Method::POST,
            "/action/trigger",
            Some(support::KEY),
            &[HEADERS[0], HEADERS[1], ("X-Max-Retries", "9")],
            Some(json!({"action_name": "list-users"})),
        )
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("X-Max-Retries"), "{text}");
    h.fails(
        Method::POST,
        "/action/trigger",
        Some(json!({"action_name": "list-users"})),
        400,
        "missing_headers",
    )
    .await;
    let (status, _, text) = h
        .request(
            Method::GET,
            "/v1/nothing/here",
            Some(support::KEY),
            &HEADERS,
            None,
        )
        .await;
    assert_eq!(status, 404, "{text}");

    // The catalogue lists every action with its schemas, in Nango's shape and OpenAI's.
    let config = h.ok(Method::GET, "/scripts/config", None).await;
    let actions = config[0]["actions"].as_array().unwrap();
    let names: Vec<&str> = actions
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for name in [
        "fetch-database",
        "create-database-row",
        "fetch-rich-page",
        "list-users",
        "fetch-content-metadata",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(config[0]["providerConfigKey"], "notion");
    assert!(
        actions
            .iter()
            .all(|a| a["input"]["type"] == "object" && a["returns"]["type"] == "object")
    );
    let openai = h
        .ok(Method::GET, "/scripts/config?format=openai", None)
        .await;
    assert_eq!(openai["data"].as_array().unwrap().len(), actions.len());
    h.fails(
        Method::GET,
        "/scripts/config?format=xml",
        None,
        400,
        "invalid_query_params",
    )
    .await;

    // Each run is one `action` operation holding the calls it made.
    let logs = h.all_logs("type=action").await;
    assert!(
        logs.iter()
            .any(|l| l["message"] == "fetch-database: done" && l["status"] == "success"),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| {
        l["status"] == "failed"
            && l["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("create-database-row: input.properties.Nope")
    }));

    // 50 writers at once: every row lands, no 5xx.
    let results = at_once(50, |i| {
        let h = &h;
        let tasks_db = tasks_db.clone();
        async move {
            trigger(h, "create-database-row", json!({"databaseId": tasks_db, "properties": {"Name": format!("Concurrent {i}"), "Estimate": i}})).await
        }
    })
    .await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    let after = ok(&h, "fetch-database", json!({"databaseId": tasks_db})).await;
    let entries = after["entries"].as_array().unwrap();
    assert_eq!(entries.len(), before + 2 + 50);
    for i in 0..50 {
        let name = format!("Concurrent {i}");
        assert!(
            entries
                .iter()
                .any(|e| e["row"]["Name"]["title"][0]["plain_text"] == name.as_str()),
            "{name} lost"
        );
    }
}

/// The emulator's handbook page (every block type) as markdown, ids masked, against
/// `tests/golden/handbook.md`; `FERRY_BLESS=1` rewrites the file.
async fn handbook_markdown_is_pinned(backend: Backend) {
    let h = setup(backend).await;
    let handbook = find(&h, "page", "Acme Handbook").await;
    let rich = ok(&h, "fetch-rich-page", json!({"pageId": handbook["id"]})).await;
    let masked = mask_ids(rich["content"].as_str().unwrap());
    // Files the emulator hosts carry its port and an expiry time.
    let origin = h.emulator.base_url();
    let masked = masked.replace(&origin, "<emulator>");
    let masked = mask_expiry(&masked);
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/handbook.md");
    if std::env::var("FERRY_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(golden_path, &masked).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path).expect("the golden file exists");
    assert_eq!(
        masked, golden,
        "the handbook's markdown changed; FERRY_BLESS=1 rewrites the golden file"
    );
    assert_eq!(rich["title"], "Acme Handbook");
    assert!(rich["cut"].as_array().unwrap().is_empty());
    // One request for the page, one per list of children: never more than the tree needs.
    let lists = count_lists(&h, handbook["id"].as_str().unwrap()).await;
    assert_eq!(
        rich["requests"].as_u64().unwrap(),
        1 + lists,
        "{}",
        rich["requests"]
    );

    // Limits cut the tree and say where.
    let shallow = ok(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "maxDepth": 1}),
    )
    .await;
    let cut = shallow["cut"].as_array().unwrap();
    assert!(
        !cut.is_empty() && cut.iter().all(|c| c["reason"] == "depth"),
        "{cut:?}"
    );
    let few = ok(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "maxBlocks": 5}),
    )
    .await;
    assert!(
        few["cut"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reason"] == "blocks")
    );
    let (status, body) = trigger(
        &h,
        "fetch-rich-page",
        json!({"pageId": handbook["id"], "maxDepth": 0}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["payload"]["field"].as_str()),
        (400, Some("maxDepth")),
        "{body}"
    );
}

/// The lists of children the handbook's tree needs, counted by walking it through the proxy:
/// each block's children once, even when a synced copy shows them again.
async fn count_lists(h: &Harness, root: &str) -> u64 {
    let mut lists = 0;
    let mut pending = vec![root.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = pending.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let mut cursor: Option<String> = None;
        loop {
            lists += 1;
            let path = match &cursor {
                Some(c) => format!("/proxy/v1/blocks/{id}/children?page_size=100&start_cursor={c}"),
                None => format!("/proxy/v1/blocks/{id}/children?page_size=100"),
            };
            let (_, _, text) = h
                .request(Method::GET, &path, Some(support::KEY), &HEADERS, None)
                .await;
            let page: Value = serde_json::from_str(&text).unwrap();
            for block in page["results"].as_array().unwrap() {
                let kind = block["type"].as_str().unwrap();
                if let Some(original) = block["synced_block"]["synced_from"]["block_id"].as_str() {
                    pending.push(original.to_string());
                } else if block["has_children"] == true
                    && kind != "child_page"
                    && kind != "child_database"
                {
                    pending.push(block["id"].as_str().unwrap().to_string());
                }
            }
            cursor = page["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
    }
    lists
}

/// `expires=<digits>` as `expires=<time>`.
fn mask_expiry(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("expires=") {
        out.push_str(&rest[..at + 8]);
        out.push_str("<time>");
        rest = rest[at + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Every UUID (dashed or not) as `<id>`, so the golden file does not depend on the seed's ids.
fn mask_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let mut j = i;
        let mut hex = 0;
        while j < bytes.len() && (bytes[j].is_ascii_hexdigit() || bytes[j] == b'-') && hex < 32 {
            if bytes[j] != b'-' {
                hex += 1;
            }
            j += 1;
        }
        if hex == 32 && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            out.push_str("<id>");
            i = j;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Runs a declared action and notes its name, so the test can show it ran every one.
async fn declared(
    h: &Harness,
    ran: &std::sync::Mutex<std::collections::BTreeSet<String>>,
    action: &str,
    input: Value,
) -> Value {
    ran.lock().unwrap().insert(action.to_string());
    ok(h, action, input).await
}

/// The actions declared as one Notion call each: every one runs against the emulator (the
/// three the emulator does not serve reach it and come back as Notion's refusal), and the
/// shared input checks refuse what each field's kind forbids, naming the field.
async fn declared_calls_reach_notion(backend: Backend) {
    let h = setup(backend).await;
    let ran = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let ran = &ran;
    let run = |action: &'static str, input: Value| {
        let h = &h;
        async move { declared(h, ran, action, input).await }
    };

    let bot = run("get-bot-user", json!({})).await;
    assert_eq!(bot["type"], "bot");
    let users = ok(&h, "list-users", json!({})).await;
    let person = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["isBot"] == false)
        .unwrap()["id"]
        .clone();
    for action in ["get-user", "retrieve-user"] {
        assert_eq!(run(action, json!({"user_id": person})).await["id"], person);
    }

    // Search, whole and narrowed.
    let all = run("search", json!({"query": "Tasks"})).await;
    assert!(!all["results"].as_array().unwrap().is_empty());
    let pages = run("search-pages", json!({"page_size": 5})).await;
    assert!(
        pages["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["object"] == "page")
    );
    let sources = run("search-databases", json!({})).await;
    assert!(
        sources["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["object"] == "data_source")
    );

    // Databases (2022-06-28, queried directly) and data sources.
    let tasks = find(&h, "data_source", "Tasks").await;
    let tasks_id = tasks["id"].clone();
    let tasks_db = tasks["parent"]["database_id"].clone();
    assert_eq!(
        run("retrieve-database", json!({"database_id": tasks_db})).await["object"],
        "database"
    );
    let first = run(
        "query-database",
        json!({"database_id": tasks_db, "page_size": 2}),
    )
    .await;
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert_eq!(first["has_more"], true);
    let done = run(
        "query-database-filtered",
        json!({"database_id": tasks_db, "filter": {"property": "Done", "checkbox": {"equals": true}}}),
    )
    .await;
    assert!(
        done["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["properties"]["Done"]["checkbox"] == true)
    );
    let sorted = run(
        "query-database-sorted",
        json!({"database_id": tasks_db, "sorts": [{"property": "Estimate", "direction": "descending"}], "page_size": 3}),
    )
    .await;
    assert_eq!(sorted["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        run("retrieve-data-source", json!({"data_source_id": tasks_id})).await["object"],
        "data_source"
    );
    let rows = run(
        "query-data-source",
        json!({"data_source_id": tasks_id, "page_size": "3"}),
    )
    .await;
    assert_eq!(rows["results"].as_array().unwrap().len(), 3);
    let templates = run(
        "list-data-source-templates",
        json!({"data_source_id": tasks_id}),
    )
    .await;
    assert!(templates["templates"].is_array() || templates["results"].is_array());

    // A page's life: create, read, change, fill, comment, trash, restore, move.
    let handbook = find(&h, "page", "Acme Handbook").await;
    let page = run(
        "create-page",
        json!({"parent": {"page_id": handbook["id"]}, "properties": {"title": {"title": [{"text": {"content": "Declared"}}]}}}),
    )
    .await;
    let page_id = page["id"].clone();
    assert_eq!(
        run("retrieve-page", json!({"page_id": page_id})).await["id"],
        page_id
    );
    let updated = run(
        "update-page",
        json!({"page_id": page_id, "icon": {"type": "emoji", "emoji": "⛴"}}),
    )
    .await;
    assert_eq!(updated["icon"]["emoji"], "⛴");
    for action in ["retrieve-page-property", "get-page-property-item"] {
        let title = run(action, json!({"page_id": page_id, "property_id": "title"})).await;
        assert_eq!(title["results"][0]["title"]["plain_text"], "Declared");
    }
    let appended = run(
        "append-block-children",
        json!({"block_id": page_id, "children": [
            {"paragraph": {"rich_text": [{"text": {"content": "one"}}]}},
            {"paragraph": {"rich_text": [{"text": {"content": "two"}}]}},
        ]}),
    )
    .await;
    let block_id = appended["results"][0]["id"].clone();
    assert_eq!(
        run("retrieve-block", json!({"block_id": block_id})).await["type"],
        "paragraph"
    );
    for action in ["retrieve-block-children", "list-block-children"] {
        let children = run(action, json!({"block_id": page_id, "page_size": 1})).await;
        assert_eq!(children["results"].as_array().unwrap().len(), 1);
        assert_eq!(children["has_more"], true);
    }
    let changed = run(
        "update-block",
        json!({"block_id": block_id, "block": {"paragraph": {"rich_text": [{"text": {"content": "uno"}}]}}}),
    )
    .await;
    assert_eq!(changed["paragraph"]["rich_text"][0]["plain_text"], "uno");
    assert_eq!(
        run("delete-block", json!({"block_id": block_id})).await["in_trash"],
        true
    );
    run(
        "create-comment",
        json!({"parent": {"page_id": page_id}, "rich_text": [{"text": {"content": "Looks right"}}]}),
    )
    .await;
    let comments = run("list-comments", json!({"block_id": page_id})).await;
    assert_eq!(comments["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        run("archive-page", json!({"page_id": page_id})).await["in_trash"],
        true
    );
    assert_eq!(
        run("restore-page", json!({"page_id": page_id})).await["in_trash"],
        false
    );
    let sibling = run(
        "create-page",
        json!({"parent": {"page_id": handbook["id"]}, "properties": {"title": {"title": [{"text": {"content": "Sibling"}}]}}}),
    )
    .await;
    let moved = run(
        "move-page",
        json!({"page_id": page_id, "parent": {"type": "page_id", "page_id": sibling["id"]}}),
    )
    .await;
    assert_eq!(moved["parent"]["page_id"], sibling["id"]);

    // A database made, renamed, and given a second data source.
    let database = run(
        "create-database",
        json!({"parent": {"page_id": page_id}, "title": [{"text": {"content": "Made"}}],
               "initial_data_source": {"properties": {"Name": {"title": {}}}}}),
    )
    .await;
    let renamed = run(
        "update-database",
        json!({"database_id": database["id"], "title": [{"text": {"content": "Renamed"}}]}),
    )
    .await;
    assert_eq!(renamed["title"][0]["plain_text"], "Renamed");
    let source = run(
        "create-data-source",
        json!({"parent": {"type": "database_id", "database_id": database["id"]}, "properties": {"Title": {"title": {}}}}),
    )
    .await;
    let source = run(
        "update-data-source",
        json!({"data_source_id": source["id"], "title": [{"text": {"content": "Second"}}]}),
    )
    .await;
    assert_eq!(source["title"][0]["plain_text"], "Second");

    let comment = run(
        "retrieve-comment",
        json!({"comment_id": comments["results"][0]["id"]}),
    )
    .await;
    assert_eq!(comment["id"], comments["results"][0]["id"]);

    // Notion's page markdown, sent as 2026-03-11 whatever the connection's version.
    let markdown = run("get-page-as-markdown", json!({"page_id": page_id})).await;
    assert_eq!(markdown["object"], "page_markdown");
    assert_eq!(markdown["truncated"], false);

    // A markdown write, which the emulator applies to the page's blocks.
    let written = run(
        "update-page-markdown",
        json!({"page_id": page_id, "type": "insert_content", "insert_content": {"content": "Appended by an action"}}),
    )
    .await;
    assert_eq!(written["object"], "page_markdown");
    assert!(
        written["markdown"]
            .as_str()
            .unwrap()
            .ends_with("Appended by an action"),
        "{written}"
    );

    // Every declared action ran.
    let config = h.ok(Method::GET, "/scripts/config", None).await;
    let handwritten = [
        "fetch-database",
        "create-database-row",
        "fetch-rich-page",
        "list-users",
        "fetch-content-metadata",
        "duplicate-page",
    ];
    let declared: std::collections::BTreeSet<String> = config[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .filter(|n| !handwritten.contains(&n.as_str()))
        .collect();
    assert_eq!(*ran.lock().unwrap(), declared);

    // The field checks every declared action shares, each naming its field.
    for (action, input, field, says) in [
        ("retrieve-page", json!({}), "page_id", "is required"),
        (
            "retrieve-page",
            json!({"page_id": "nope"}),
            "page_id",
            "is not a Notion id",
        ),
        (
            "retrieve-page",
            json!({"page_id": page_id, "extra": 1}),
            "extra",
            "is not an input",
        ),
        (
            "list-block-children",
            json!({"block_id": page_id, "page_size": 500}),
            "page_size",
            "from 1 to 100",
        ),
        (
            "list-block-children",
            json!({"block_id": page_id, "page_size": "ten"}),
            "page_size",
            "from 1 to 100",
        ),
        (
            "append-block-children",
            json!({"block_id": page_id, "children": {}}),
            "children",
            "must be an array",
        ),
        (
            "create-page",
            json!({"parent": "root"}),
            "parent",
            "must be an object",
        ),
        (
            "update-page",
            json!({"page_id": page_id, "in_trash": "yes"}),
            "in_trash",
            "true or false",
        ),
        ("search", json!({"query": ""}), "query", "must not be empty"),
        (
            "retrieve-page-property",
            json!({"page_id": page_id, "property_id": "../users"}),
            "property_id",
            "as Notion gives it",
        ),
    ] {
        let (status, body) = trigger(&h, action, input.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_action_input")),
            "{action} {input}: {body}"
        );
        assert_eq!(body["error"]["payload"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message} should say {says}");
    }
    // Notion's own refusal keeps its status, code and message.
    let (status, body) = trigger(
        &h,
        "retrieve-page",
        json!({"page_id": "00000000000000000000000000000000"}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["payload"]["status"], 404);
    assert_eq!(body["error"]["payload"]["code"], "object_not_found");
}
