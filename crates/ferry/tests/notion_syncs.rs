//! Notion's syncs that read data sources, on both backends: `data-source-entries` (what
//! changed since the last run, trashed rows found by a full run, the metadata it needs, past
//! the query cap),
//! `data-sources` with `data-source-templates`, and `databases`.

mod support;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use support::actions::setup;
use support::syncs::{
    all_records, get, ids, listed_ids, run_due, send, status_of, unshare_contacts,
};
use support::{Backend, Harness};

backend_tests!(
    data_source_entries_read_what_changed,
    data_source_entries_read_past_the_query_cap,
    data_source_entries_keep_row_content_when_asked,
    a_failed_incremental_run_leaves_deletions_to_the_next_full_run,
    data_sources_and_their_templates,
    databases_keep_every_row
);

/// `sync`'s last run failed, and its error names `field`.
async fn failed_naming(h: &Harness, sync: &str, field: &str) {
    let status = status_of(h, sync).await;
    assert_eq!(status["status"], "ERROR", "{status}");
    assert!(
        status["latestError"].as_str().unwrap().contains(field),
        "{status}"
    );
}

/// The rows of the Tasks data source, through the proxy.
async fn task_rows(h: &Harness, tasks: &str) -> BTreeSet<String> {
    listed_ids(h, &format!("/proxy/v1/data_sources/{tasks}/query")).await
}

/// `data-source-entries` keeps the rows of the data sources the connection's metadata
/// names. Without that metadata its run fails saying what to set; a later run asks Notion
/// only for rows edited since (one query here) and stores the one edit; a row moved to the
/// trash is not in an incremental run's answer, and the full run after a reset marks it
/// deleted.
async fn data_source_entries_read_what_changed(backend: Backend) {
    let h = setup(backend).await;
    let entries = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-source-entries"]});
    assert_eq!(
        status_of(&h, "data-source-entries").await["status"],
        "PAUSED",
        "it does not start by itself"
    );
    send(&h, Method::POST, "/sync/start", entries.clone()).await;
    run_due(&h.engine).await;
    failed_naming(&h, "data-source-entries", "data_source_id").await;

    let tasks = support::actions::find(&h, "data_source", "Tasks").await;
    let tasks = tasks["id"].as_str().unwrap().to_string();
    let (status, body) = send(
        &h,
        Method::POST,
        "/connections/metadata",
        json!({"connection_id": "acme", "provider_config_key": "notion", "metadata": {"data_source_id": [tasks]}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    send(&h, Method::POST, "/sync/trigger", entries.clone()).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let rows = task_rows(&h, &tasks).await;
    let stored = all_records(&h, "DataSourceEntry", "").await;
    assert_eq!(ids(&stored), rows);
    assert!(
        stored
            .iter()
            .all(|r| r["data_source_id"] == tasks.as_str() && r["properties"].is_object())
    );
    assert_eq!(
        status_of(&h, "data-source-entries").await["status"],
        "SUCCESS"
    );

    // One row edited by a person: the next run asks for what changed since, in one query.
    let edited = stored[3]["id"].as_str().unwrap().to_string();
    let ada = "a0000000-0000-4000-8000-000000000001";
    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/{ada}/pages/{edited}"),
        json!({"properties": {"Name": {"title": [{"text": {"content": "Edited in Notion"}}]}}}),
    )
    .await;
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    send(&h, Method::POST, "/sync/trigger", entries.clone()).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let counts = h
        .emulator_admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    assert_eq!(
        counts["routes"]["POST /v1/data_sources/{data_source_id}/query"], 1,
        "{counts}"
    );
    let (_, updated) = get(&h, "/records?model=DataSourceEntry&filter=updated").await;
    let updated = updated["records"].as_array().unwrap();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["id"], edited.as_str());
    assert_eq!(
        updated[0]["properties"]["Name"]["title"][0]["plain_text"],
        "Edited in Notion"
    );

    // A row moved to the trash: an incremental run does not see it go; a full run does.
    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/{ada}/pages/{edited}"),
        json!({"in_trash": true}),
    )
    .await;
    send(&h, Method::POST, "/sync/trigger", entries.clone()).await;
    run_due(&h.engine).await;
    let (_, deleted) = get(&h, "/records?model=DataSourceEntry&filter=deleted").await;
    assert_eq!(deleted["records"], json!([]));
    let mut reset = entries.clone();
    reset["opts"] = json!({"reset": true});
    send(&h, Method::POST, "/sync/trigger", reset).await;
    run_due(&h.engine).await;
    let (_, deleted) = get(&h, "/records?model=DataSourceEntry&filter=deleted").await;
    let deleted = deleted["records"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["id"], edited.as_str());
}

/// A harness whose Tasks data source has `more` generated rows besides its own; and its id.
async fn tasks_with_more_rows(backend: Backend, more: usize) -> (Harness, String) {
    let h = setup(backend).await;
    let tasks = support::actions::find(&h, "data_source", "Tasks").await;
    let tasks = tasks["id"].as_str().unwrap().to_string();
    h.emulator_admin(
        Method::POST,
        &format!("/_emulator/data_sources/{tasks}/generate"),
        json!({"count": more}),
    )
    .await;
    (h, tasks)
}

/// Past Notion's cap on one query's rows (lowered from 10,000 to 40 here), a query reports
/// `query_result_limit_reached`; `data-source-entries` then starts a new query at the edit
/// time of the last row it read, until it has every row, each once.
async fn data_source_entries_read_past_the_query_cap(backend: Backend) {
    let (h, tasks) = tasks_with_more_rows(backend, 95).await;
    let rows = task_rows(&h, &tasks).await;
    assert!(rows.len() > 100, "{} rows", rows.len());
    h.emulator_admin(
        Method::POST,
        "/_emulator/settings",
        json!({"query_result_limit": 40}),
    )
    .await;
    send(
        &h,
        Method::POST,
        "/connections/metadata",
        json!({"connection_id": "acme", "provider_config_key": "notion", "metadata": {"data_source_id": tasks}}),
    )
    .await;
    send(
        &h,
        Method::POST,
        "/sync/start",
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-source-entries"]}),
    )
    .await;
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    run_due(&h.engine).await;
    let status = status_of(&h, "data-source-entries").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    let stored = all_records(&h, "DataSourceEntry", "").await;
    assert_eq!(ids(&stored), rows);
    assert_eq!(stored.len(), rows.len(), "each row once");
    let counts = h
        .emulator_admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    let queries = counts["routes"]["POST /v1/data_sources/{data_source_id}/query"]
        .as_u64()
        .unwrap();
    assert!(
        queries as usize >= rows.len().div_ceil(40),
        "{queries} queries for {} rows",
        rows.len()
    );
}

/// With `include_page_content: true` in the metadata, each row's record carries the row's
/// content as markdown; a value that is not a boolean fails the run naming the field.
async fn data_source_entries_keep_row_content_when_asked(backend: Backend) {
    let h = setup(backend).await;
    let tasks = support::actions::find(&h, "data_source", "Tasks").await;
    let tasks = tasks["id"].as_str().unwrap().to_string();
    let rows = task_rows(&h, &tasks).await;
    let row = rows.iter().next().unwrap().clone();
    let ada = "a0000000-0000-4000-8000-000000000001";
    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/{ada}/blocks/{row}/children"),
        json!({"children": [
            {"type": "heading_2", "heading_2": {"rich_text": [{"type": "text", "text": {"content": "Notes"}}]}},
            {"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Written in the row."}}]}}
        ]}),
    )
    .await;
    let metadata = |include: Value| {
        json!({"connection_id": "acme", "provider_config_key": "notion",
            "metadata": {"data_source_id": tasks, "include_page_content": include}})
    };
    let entries = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-source-entries"]});
    send(
        &h,
        Method::POST,
        "/connections/metadata",
        metadata(json!("yes")),
    )
    .await;
    send(&h, Method::POST, "/sync/start", entries.clone()).await;
    run_due(&h.engine).await;
    failed_naming(&h, "data-source-entries", "include_page_content").await;

    send(
        &h,
        Method::POST,
        "/connections/metadata",
        metadata(json!(true)),
    )
    .await;
    send(&h, Method::POST, "/sync/trigger", entries).await;
    run_due(&h.engine).await;
    let status = status_of(&h, "data-source-entries").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    let stored = all_records(&h, "DataSourceEntry", "").await;
    assert_eq!(ids(&stored), rows);
    for record in &stored {
        let content = record["content"]
            .as_str()
            .expect("every row has its content");
        if record["id"] == row.as_str() {
            assert_eq!(content, "## Notes\n\nWritten in the row.\n");
        }
    }
}

/// An incremental run that read a row and then failed does not count for the next full run's
/// deletions: a row it read, trashed before the full run, is found deleted by that run.
async fn a_failed_incremental_run_leaves_deletions_to_the_next_full_run(backend: Backend) {
    let (h, tasks) = tasks_with_more_rows(backend, 120).await;
    send(
        &h,
        Method::POST,
        "/connections/metadata",
        json!({"connection_id": "acme", "provider_config_key": "notion", "metadata": {"data_source_id": tasks}}),
    )
    .await;
    let entries = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-source-entries"]});
    send(&h, Method::POST, "/sync/start", entries.clone()).await;
    run_due(&h.engine).await;
    assert_eq!(
        status_of(&h, "data-source-entries").await["status"],
        "SUCCESS"
    );

    // 110 rows edited: the incremental run reads a page of them, then its second query fails.
    let ada = "a0000000-0000-4000-8000-000000000001";
    for row in task_rows(&h, &tasks).await.iter().take(110) {
        h.emulator_admin(
            Method::PATCH,
            &format!("/_emulator/people/{ada}/pages/{row}"),
            json!({"properties": {"Name": {"title": [{"text": {"content": "Edited"}}]}}}),
        )
        .await;
    }
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": format!("/v1/data_sources/{tasks}/query"), "status": 500, "after": 1, "count": 20}),
    )
    .await;
    send(&h, Method::POST, "/sync/trigger", entries.clone()).await;
    run_due(&h.engine).await;
    assert_eq!(
        status_of(&h, "data-source-entries").await["status"],
        "ERROR"
    );
    let (_, read) = get(&h, "/records?model=DataSourceEntry&filter=updated&limit=1").await;
    let read = read["records"][0]["id"]
        .as_str()
        .expect("the failed run stored a page")
        .to_string();
    h.emulator_admin(Method::DELETE, "/_emulator/faults", json!({}))
        .await;

    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/{ada}/pages/{read}"),
        json!({"in_trash": true}),
    )
    .await;
    let mut reset = entries;
    reset["opts"] = json!({"reset": true});
    send(&h, Method::POST, "/sync/trigger", reset).await;
    run_due(&h.engine).await;
    assert_eq!(
        status_of(&h, "data-source-entries").await["status"],
        "SUCCESS"
    );
    let (_, deleted) = get(&h, "/records?model=DataSourceEntry&filter=deleted").await;
    let deleted: Vec<&str> = deleted["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, [read.as_str()]);
}

/// `data-sources` keeps every data source search shows, with its schema; a data source that
/// stops being shared is marked deleted. `data-source-templates` keeps the templates of the
/// data sources the metadata names. Both wait to be started.
async fn data_sources_and_their_templates(backend: Backend) {
    let h = setup(backend).await;
    let both = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-sources", "data-source-templates"]});
    let (status, body) = get(
        &h,
        "/sync/status?provider_config_key=notion&connection_id=acme&syncs=data-sources,data-source-templates",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["syncs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "PAUSED"),
        "{body}"
    );
    let tasks = support::actions::find(&h, "data_source", "Tasks").await;
    let tasks = tasks["id"].as_str().unwrap().to_string();
    send(
        &h,
        Method::POST,
        "/connections/metadata",
        json!({"connection_id": "acme", "provider_config_key": "notion", "metadata": {"data_source_id": tasks}}),
    )
    .await;
    send(&h, Method::POST, "/sync/pause", json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users", "content-metadata"]})).await;
    send(&h, Method::POST, "/sync/start", both).await;
    assert_eq!(run_due(&h.engine).await, 2);

    let sources = all_records(&h, "DataSource", "").await;
    let searched: BTreeSet<String> = listed_ids(&h, "/proxy/v1/search")
        .await
        .into_iter()
        .filter(|id| sources.iter().any(|s| s["id"] == id.as_str()))
        .collect();
    assert_eq!(ids(&sources), searched);
    let task_source = sources.iter().find(|s| s["id"] == tasks.as_str()).unwrap();
    assert_eq!(task_source["title"], "Tasks");
    assert!(task_source["parent_database_id"].is_string());
    assert!(
        task_source["properties"]["Status"].is_object(),
        "{task_source}"
    );

    let templates = all_records(&h, "DataSourceTemplate", "").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0]["name"], "Bug report");
    assert_eq!(templates[0]["data_source_id"], tasks.as_str());

    // A data source no longer shared is marked deleted by the next run.
    let gone = unshare_contacts(&h, &sources.iter().map(|s| json!({"title": s["title"], "object_type": "data_source", "parent_id": s["parent_database_id"]})).collect::<Vec<_>>()).await;
    send(&h, Method::POST, "/sync/trigger", json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["data-sources"]})).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let (_, deleted) = get(&h, "/records?model=DataSource&filter=deleted").await;
    let deleted: BTreeSet<String> = deleted["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deleted,
        gone.into_iter()
            .filter(|id| ids(&sources).contains(id))
            .collect()
    );
}

/// `databases` keeps a record per row of every shared data source, with the row's properties
/// and what it belongs to; a later run stores only the row a person edited.
async fn databases_keep_every_row(backend: Backend) {
    let h = setup(backend).await;
    let databases =
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["databases"]});
    send(&h, Method::POST, "/sync/pause", json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users", "content-metadata"]})).await;
    send(&h, Method::POST, "/sync/start", databases.clone()).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let status = status_of(&h, "databases").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    let rows = all_records(&h, "NotionCompleteDatabase", "").await;
    let tasks = support::actions::find(&h, "data_source", "Tasks").await;
    let tasks = tasks["id"].as_str().unwrap().to_string();
    let of_tasks: Vec<&Value> = rows
        .iter()
        .filter(|r| r["meta"]["dataSourceId"] == tasks.as_str())
        .collect();
    let expected = task_rows(&h, &tasks).await;
    assert_eq!(
        of_tasks
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>(),
        expected
    );
    assert!(of_tasks.iter().all(|r| r["meta"]["title"] == "Tasks"
        && r["row"]["Name"].is_object()
        && r["meta"]["databaseId"].is_string()));
    assert!(rows.len() > of_tasks.len(), "the other databases' rows too");

    let edited = of_tasks[0]["id"].as_str().unwrap().to_string();
    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/a0000000-0000-4000-8000-000000000001/pages/{edited}"),
        json!({"properties": {"Name": {"title": [{"text": {"content": "Edited for databases"}}]}}}),
    )
    .await;
    send(&h, Method::POST, "/sync/trigger", databases).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let (_, updated) = get(&h, "/records?model=NotionCompleteDatabase&filter=updated").await;
    let updated = updated["records"].as_array().unwrap();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["id"], edited.as_str());
}
