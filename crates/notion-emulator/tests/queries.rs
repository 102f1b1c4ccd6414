//! Data-source queries (filters, sorts, the 10,000-result cap and `created_time` windows)
//! and the differences between API versions.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2022, V2025, V2026};

#[tokio::test]
async fn queries_filter_sort_and_cap_at_ten_thousand() {
    let emu = Emu::start().await;
    let tasks = emu.find(V2025, "Tasks", "data_source").await;
    let query = |body: Value| {
        let emu = &emu;
        let path = format!("/v1/data_sources/{tasks}/query");
        async move { emu.send(V2025, Method::POST, &path, body).await }
    };
    let p0 = query(json!({"filter": {"property": "Priority", "select": {"equals": "P0"}}})).await;
    assert_eq!(p0["results"].as_array().unwrap().len(), 8);
    let combined = query(json!({"filter": {"and": [
        {"property": "Estimate", "number": {"greater_than": 10}},
        {"or": [{"property": "Done", "checkbox": {"equals": true}}, {"property": "Tags", "multi_select": {"contains": "backend"}}]},
    ]}, "sorts": [{"property": "Estimate", "direction": "descending"}]})).await;
    let estimates: Vec<f64> = combined["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["Estimate"]["number"].as_f64().unwrap())
        .collect();
    assert!(!estimates.is_empty() && estimates.iter().all(|e| *e > 10.0));
    assert!(estimates.windows(2).all(|w| w[0] >= w[1]), "{estimates:?}");
    let text = query(json!({"filter": {"property": "Name", "title": {"contains": "login"}}})).await;
    assert_eq!(text["results"].as_array().unwrap().len(), 6);
    let rollup = query(
        json!({"filter": {"property": "Project count", "rollup": {"number": {"greater_than": 1}}}}),
    )
    .await;
    assert_eq!(rollup["results"].as_array().unwrap().len(), 1);
    // Grace is on every third task, and on Task 01 with everyone else.
    let people = query(json!({"filter": {"property": "Assignees", "people": {"contains": "a0000000-0000-4000-8000-000000000002"}}})).await;
    assert_eq!(people["results"].as_array().unwrap().len(), 9);
    let ts = query(json!({"filter": {"timestamp": "created_time", "created_time": {"on_or_after": "2000-01-01"}}, "page_size": 3})).await;
    assert_eq!(ts["results"].as_array().unwrap().len(), 3);
    assert_eq!(ts["request_status"]["type"], "complete");
    let too_deep = json!({"filter": {"and": [{"or": [{"and": [{"property": "Done", "checkbox": {"equals": true}}]}]}]}});
    let (_, code, message) = emu
        .error(
            V2025,
            Method::POST,
            &format!("/v1/data_sources/{tasks}/query"),
            Some(too_deep),
        )
        .await;
    assert_eq!(code, "validation_error");
    assert!(message.contains("nested"), "{message}");
    let (_, _, message) = emu
        .error(
            V2025,
            Method::POST,
            &format!("/v1/data_sources/{tasks}/query"),
            Some(json!({"filter": {"property": "Nope", "checkbox": {"equals": true}}})),
        )
        .await;
    assert!(message.contains("Could not find property"), "{message}");
    let (_, _, message) = emu
        .error(
            V2025,
            Method::POST,
            &format!("/v1/data_sources/{tasks}/query"),
            Some(json!({"filter": {"property": "Estimate", "number": {"bigger": 1}}})),
        )
        .await;
    assert!(message.contains("greater_than"), "{message}");

    // The cap: 10,050 rows answer 10,000 results, then `incomplete`.
    let db = emu
        .send(V2025, Method::POST, "/v1/databases", json!({"parent": {"workspace": true}, "title": [{"text": {"content": "Big"}}], "initial_data_source": {"properties": {"Name": {"title": {}}, "N": {"number": {}}}}}))
        .await;
    let big = db["data_sources"][0]["id"].as_str().unwrap().to_string();
    let generated = emu
        .admin(
            Method::POST,
            &format!("/_emulator/data_sources/{big}/generate"),
            json!({"count": 10_050}),
        )
        .await;
    assert_eq!(generated["created"], 10_050);
    let mut total = 0;
    let mut cursor: Option<String> = None;
    let last = loop {
        let mut body = json!({"page_size": 100, "filter_properties": ["N"]});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let page = emu
            .send(
                V2025,
                Method::POST,
                &format!("/v1/data_sources/{big}/query?filter_properties=title"),
                body,
            )
            .await;
        total += page["results"].as_array().unwrap().len();
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break page;
        }
        assert_eq!(page["request_status"]["type"], "complete");
    };
    assert_eq!(total, 10_000);
    assert_eq!(last["has_more"], false);
    assert_eq!(
        last["request_status"],
        json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"})
    );
    // Splitting on created_time reaches the rest.
    let oldest = emu
        .send(V2025, Method::POST, &format!("/v1/data_sources/{big}/query"), json!({"sorts": [{"timestamp": "created_time", "direction": "ascending"}], "page_size": 100}))
        .await;
    let first_created = oldest["results"][99]["created_time"].as_str().unwrap();
    let window = emu
        .send(V2025, Method::POST, &format!("/v1/data_sources/{big}/query"), json!({"filter": {"timestamp": "created_time", "created_time": {"on_or_before": first_created}}}))
        .await;
    assert_eq!(window["results"].as_array().unwrap().len(), 100);
    assert_eq!(window["request_status"]["type"], "complete");
}

#[tokio::test]
async fn versions_differ_as_notion_does() {
    let emu = Emu::start().await;
    let contacts = emu.find(V2025, "People", "data_source").await;
    let ds = emu
        .get(V2025, &format!("/v1/data_sources/{contacts}"))
        .await;
    let contacts_db = ds["parent"]["database_id"].as_str().unwrap().to_string();
    let db = emu
        .get(V2025, &format!("/v1/databases/{contacts_db}"))
        .await;
    assert_eq!(db["data_sources"].as_array().unwrap().len(), 2);
    assert!(db.get("properties").is_none());
    // The classic calls fail on a database with two data sources.
    for (method, path, body) in [
        (Method::GET, format!("/v1/databases/{contacts_db}"), None),
        (
            Method::POST,
            format!("/v1/databases/{contacts_db}/query"),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/pages".to_string(),
            Some(json!({"parent": {"database_id": contacts_db}, "properties": {}})),
        ),
    ] {
        let (status, code, _) = emu.error(V2022, method, &path, body).await;
        assert_eq!((status, code.as_str()), (400, "validation_error"), "{path}");
    }
    // Classic search says `database`; the new model says `data_source`.
    let (_, code, _) = emu
        .error(
            V2025,
            Method::POST,
            "/v1/search",
            Some(json!({"filter": {"property": "object", "value": "database"}})),
        )
        .await;
    assert_eq!(code, "validation_error");
    let tasks_db = emu.find(V2022, "Tasks", "database").await;
    let classic = emu.get(V2022, &format!("/v1/databases/{tasks_db}")).await;
    assert!(classic["properties"]["Priority"]["select"]["options"].is_array());
    let rows = emu
        .send(
            V2022,
            Method::POST,
            &format!("/v1/databases/{tasks_db}/query"),
            json!({"page_size": 1}),
        )
        .await;
    assert_eq!(rows["results"][0]["parent"]["type"], "database_id");
    assert_eq!(rows["type"], "page_or_database");
    assert_eq!(
        emu.error(
            V2022,
            Method::GET,
            &format!("/v1/data_sources/{contacts}"),
            None
        )
        .await
        .1,
        "invalid_request_url"
    );

    // 2026-03-11 renames: `archived` → `in_trash`, `after` → `position`.
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let page = emu.send(V2026, Method::POST, "/v1/pages", json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": "Renames"}}]}}})).await;
    let id = page["id"].as_str().unwrap().to_string();
    assert_eq!(
        emu.error(
            V2026,
            Method::PATCH,
            &format!("/v1/pages/{id}"),
            Some(json!({"archived": true}))
        )
        .await
        .1,
        "validation_error"
    );
    let first = emu.send(V2026, Method::PATCH, &format!("/v1/blocks/{id}/children"), json!({"children": [{"paragraph": {"rich_text": [{"text": {"content": "one"}}]}}, {"paragraph": {"rich_text": [{"text": {"content": "three"}}]}}]})).await;
    let one = first["results"][0]["id"].as_str().unwrap();
    assert_eq!(
        emu.error(
            V2026,
            Method::PATCH,
            &format!("/v1/blocks/{id}/children"),
            Some(json!({"children": [], "after": one}))
        )
        .await
        .1,
        "validation_error"
    );
    emu.send(V2026, Method::PATCH, &format!("/v1/blocks/{id}/children"), json!({"children": [{"paragraph": {"rich_text": [{"text": {"content": "two"}}]}}], "position": {"type": "after_block", "after_block": {"id": one}}})).await;
    emu.send(V2025, Method::PATCH, &format!("/v1/blocks/{id}/children"), json!({"children": [{"paragraph": {"rich_text": [{"text": {"content": "zero"}}]}}], "position": {"type": "start"}})).await;
    let listed = emu.get(V2026, &format!("/v1/blocks/{id}/children")).await;
    let texts: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["paragraph"]["rich_text"][0]["plain_text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(texts, ["zero", "one", "two", "three"]);
    let trashed = emu
        .send(
            V2026,
            Method::PATCH,
            &format!("/v1/pages/{id}"),
            json!({"in_trash": true}),
        )
        .await;
    assert_eq!(trashed["in_trash"], true);
}
