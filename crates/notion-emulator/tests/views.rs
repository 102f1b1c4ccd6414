//! Database views: the default view a database starts with, creating views on a database
//! and inside a dashboard, updating and deleting them, the errors Notion documents, and view
//! queries (the view's filter, quick filters and sorts applied by the data source query
//! engine; rows kept and paged; a deleted or expired query not found).

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, V2022, V2025, V2026};

/// The Projects database, its data source, and the data source's rows through a query.
async fn projects(emu: &Emu) -> (String, String, Vec<Value>) {
    let ds = emu.find(V2025, "Projects", "data_source").await;
    let source = emu.get(V2025, &format!("/v1/data_sources/{ds}")).await;
    let db = source["parent"]["database_id"]
        .as_str()
        .unwrap()
        .to_string();
    let rows = emu
        .send(
            V2025,
            Method::POST,
            &format!("/v1/data_sources/{ds}/query"),
            json!({}),
        )
        .await["results"]
        .as_array()
        .unwrap()
        .clone();
    (db, ds, rows)
}

fn ids(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn views_are_listed_created_changed_and_deleted() {
    let emu = Emu::start().await;
    let (db, ds, _) = projects(&emu).await;

    // A database starts with one table view over its data source.
    let listed = emu.get(V2025, &format!("/v1/views?database_id={db}")).await;
    assert_eq!(listed["type"], "view");
    let defaults = listed["results"].as_array().unwrap();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["type"], "table");
    assert_eq!(defaults[0]["data_source_id"], ds.as_str());
    assert_eq!(
        defaults[0]["parent"],
        json!({"type": "database_id", "database_id": db})
    );

    let created = emu
        .send(
            V2026,
            Method::POST,
            "/v1/views",
            json!({
                "database_id": db, "data_source_id": ds, "name": "Board", "type": "board",
                "sorts": [{"property": "Name", "direction": "descending"}],
                "configuration": {"type": "board", "group_by": {"property": "Status"}}
            }),
        )
        .await;
    assert_eq!(created["object"], "view");
    assert_eq!(created["name"], "Board");
    assert_eq!(created["filter"], Value::Null);
    let path = format!("/v1/views/{}", created["id"].as_str().unwrap());
    assert_eq!(emu.get(V2025, &path).await, created);
    let by_source = emu
        .get(V2025, &format!("/v1/views?data_source_id={ds}&page_size=1"))
        .await;
    assert_eq!(by_source["results"].as_array().unwrap().len(), 1);
    assert_eq!(by_source["has_more"], true);

    // Changed: the name, and the sorts cleared with null; the type stays.
    let changed = emu
        .send(
            V2025,
            Method::PATCH,
            &path,
            json!({"name": "Board by status", "sorts": null}),
        )
        .await;
    assert_eq!(changed["name"], "Board by status");
    assert_eq!(changed["sorts"], Value::Null);
    assert_eq!(changed["configuration"], created["configuration"]);
    let (status, code, message) = emu
        .error(V2025, Method::PATCH, &path, Some(json!({"type": "table"})))
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "validation_error"),
        "{message}"
    );

    // Dashboards hold widget views; deleting one takes its widgets along.
    let dashboard = emu
        .send(
            V2025,
            Method::POST,
            "/v1/views",
            json!({"database_id": db, "name": "Overview", "type": "dashboard"}),
        )
        .await;
    assert_eq!(dashboard["data_source_id"], Value::Null);
    let widget = emu
        .send(
            V2025,
            Method::POST,
            "/v1/views",
            json!({"view_id": dashboard["id"], "data_source_id": ds, "name": "Open", "type": "list"}),
        )
        .await;
    assert_eq!(widget["dashboard_view_id"], dashboard["id"]);
    let dashboard_path = format!("/v1/views/{}", dashboard["id"].as_str().unwrap());
    let deleted = emu
        .send(V2025, Method::DELETE, &dashboard_path, json!({}))
        .await;
    assert_eq!(deleted["id"], dashboard["id"]);
    let widget_path = format!("/v1/views/{}", widget["id"].as_str().unwrap());
    let (status, code, _) = emu.error(V2025, Method::GET, &widget_path, None).await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));

    emu.send(V2025, Method::DELETE, &path, json!({})).await;
    let (status, _, _) = emu.error(V2025, Method::GET, &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        ids(&emu.get(V2025, &format!("/v1/views?database_id={db}")).await),
        [defaults[0]["id"].as_str().unwrap()]
    );
}

#[tokio::test]
async fn bad_view_requests_are_refused_as_notion_does() {
    let emu = Emu::start().await;
    let (db, ds, _) = projects(&emu).await;
    let cases = [
        // None, or more than one, of the places a view goes.
        (
            json!({"data_source_id": ds, "name": "x", "type": "table"}),
            400,
            "validation_error",
            "database_id",
        ),
        (
            json!({"database_id": db, "view_id": db, "data_source_id": ds, "name": "x", "type": "table"}),
            400,
            "validation_error",
            "database_id",
        ),
        (
            json!({"create_database": {}, "data_source_id": ds, "name": "x", "type": "table"}),
            400,
            "validation_error",
            "create_database",
        ),
        (
            json!({"database_id": db, "data_source_id": ds, "name": "x", "type": "spreadsheet"}),
            400,
            "validation_error",
            "body.type",
        ),
        (
            json!({"database_id": db, "data_source_id": ds, "type": "table"}),
            400,
            "validation_error",
            "body.name",
        ),
        (
            json!({"database_id": db, "data_source_id": ds, "name": "x", "type": "table", "filter": {"property": "Nope", "checkbox": {"equals": true}}}),
            400,
            "validation_error",
            "Nope",
        ),
        (
            json!({"database_id": db, "data_source_id": ds, "name": "x", "type": "table", "configuration": {"type": "board"}}),
            400,
            "validation_error",
            "configuration.type",
        ),
        (
            json!({"database_id": db, "data_source_id": ds, "name": "x", "type": "table", "colour": "red"}),
            400,
            "validation_error",
            "colour",
        ),
        (
            json!({"database_id": "00000000-0000-4000-8000-000000000000", "data_source_id": ds, "name": "x", "type": "table"}),
            404,
            "object_not_found",
            "00000000",
        ),
    ];
    for (body, status, code, named) in cases {
        let (got, got_code, message) = emu
            .error(V2025, Method::POST, "/v1/views", Some(body.clone()))
            .await;
        assert_eq!(
            (got, got_code.as_str()),
            (status, code),
            "{body}: {message}"
        );
        assert!(
            message.contains(named),
            "{body}: {message} should name {named}"
        );
    }
    // A data source of another database.
    let other_ds = emu.find(V2025, "Tasks", "data_source").await;
    let (status, code, message) = emu
        .error(
            V2025,
            Method::POST,
            "/v1/views",
            Some(json!({"database_id": db, "data_source_id": other_ds, "name": "x", "type": "table"})),
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "validation_error"),
        "{message}"
    );
    // Views do not exist before 2025-09-03.
    let (status, code, _) = emu
        .error(
            V2022,
            Method::GET,
            &format!("/v1/views?database_id={db}"),
            None,
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "invalid_request_url"));
    // Listing needs exactly one of the two ids.
    let (status, code, _) = emu.error(V2025, Method::GET, "/v1/views", None).await;
    assert_eq!((status, code.as_str()), (400, "validation_error"));
    // An integration the database is not shared with finds nothing.
    emu.admin(
        Method::POST,
        "/_emulator/integrations",
        json!({"type": "internal", "name": "Narrow", "token": "ntn_narrow"}),
    )
    .await;
    let (status, body) = emu
        .call_as(
            "ntn_narrow",
            V2025,
            Method::GET,
            &format!("/v1/views?database_id={db}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("object_not_found"))
    );
}

#[tokio::test]
async fn view_queries_apply_the_view_and_page_through_kept_rows() {
    let emu = Emu::start().await;
    let (db, ds, _) = projects(&emu).await;
    emu.admin(
        Method::POST,
        &format!("/_emulator/data_sources/{ds}/generate"),
        json!({"count": 30}),
    )
    .await;
    let filter = json!({"property": "Name", "title": {"starts_with": "Row"}});
    let sorts = json!([{"property": "Name", "direction": "descending"}]);
    // The same filter and sorts through a data source query: what the view must show.
    let mut expected = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"filter": filter, "sorts": sorts, "page_size": 100});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let page = emu
            .send(
                V2025,
                Method::POST,
                &format!("/v1/data_sources/{ds}/query"),
                body,
            )
            .await;
        expected.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(expected.len(), 30);

    let view = emu
        .send(
            V2025,
            Method::POST,
            "/v1/views",
            json!({"database_id": db, "data_source_id": ds, "name": "Generated", "type": "table", "filter": filter, "sorts": sorts}),
        )
        .await;
    let view_id = view["id"].as_str().unwrap();
    let query = emu
        .send(
            V2025,
            Method::POST,
            &format!("/v1/views/{view_id}/queries"),
            json!({"page_size": 10}),
        )
        .await;
    assert_eq!(query["object"], "view_query");
    assert_eq!(query["view_id"], view_id);
    assert_eq!(query["total_count"], 30);
    assert_eq!(query["has_more"], true);
    assert!(query["expires_at"].is_string());
    let query_id = query["id"].as_str().unwrap();
    let mut seen = ids(&query);
    let mut cursor = query["next_cursor"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let page = emu
            .get(
                V2025,
                &format!("/v1/views/{view_id}/queries/{query_id}?page_size=10&start_cursor={c}"),
            )
            .await;
        assert_eq!(page["object"], "list");
        assert_eq!(page["type"], "page");
        seen.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen, expected);

    // Quick filters narrow it further, by property name.
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/views/{view_id}"),
        json!({"quick_filters": {"Name": {"title": {"equals": "Row 7"}}}}),
    )
    .await;
    let narrowed = emu
        .send(
            V2025,
            Method::POST,
            &format!("/v1/views/{view_id}/queries"),
            json!({}),
        )
        .await;
    assert_eq!(narrowed["total_count"], 1);

    // Past the query result limit the kept rows are cut and say so.
    emu.admin(
        Method::POST,
        "/_emulator/settings",
        json!({"query_result_limit": 5}),
    )
    .await;
    emu.send(
        V2025,
        Method::PATCH,
        &format!("/v1/views/{view_id}"),
        json!({"quick_filters": null}),
    )
    .await;
    let capped = emu
        .send(
            V2025,
            Method::POST,
            &format!("/v1/views/{view_id}/queries"),
            json!({}),
        )
        .await;
    assert_eq!(capped["total_count"], 5);
    assert_eq!(
        capped["request_status"]["incomplete_reason"],
        "query_result_limit_reached"
    );

    // A deleted query, or one asked for through another view, is not found.
    let other = emu.get(V2025, &format!("/v1/views?database_id={db}")).await["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, code, _) = emu
        .error(
            V2025,
            Method::GET,
            &format!("/v1/views/{other}/queries/{query_id}"),
            None,
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "object_not_found"));
    let removed = emu
        .send(
            V2025,
            Method::DELETE,
            &format!("/v1/views/{view_id}/queries/{query_id}"),
            json!({}),
        )
        .await;
    assert_eq!(removed["deleted"], true);
    let (status, _, _) = emu
        .error(
            V2025,
            Method::GET,
            &format!("/v1/views/{view_id}/queries/{query_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}
