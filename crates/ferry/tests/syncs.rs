//! Syncs on both backends, against the emulator: the first run and change tracking in
//! `GET /records`, deletions and un-sharing found by full runs, a failed run that deletes
//! nothing and is resumed from its checkpoint, a run whose `ferry serve` process is killed
//! mid-way taken again by another process once its lease is over, two engines draining
//! the due schedules at once running each once, the control routes, every bad
//! input, and 50 callers controlling syncs at once.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::actions::{HEADERS, setup};
use support::syncs::{
    all_records, get, ids, run_due, searchable, send, status_of, trigger, unshare_contacts,
};
use support::{Backend, Harness, KEY, at_once};

backend_tests!(
    records_follow_the_workspace,
    a_failed_run_deletes_nothing_and_resumes,
    a_killed_process_run_is_taken_again_after_its_lease,
    a_stopped_run_gives_its_schedule_up_at_once,
    a_trigger_during_a_run_is_kept,
    two_engines_never_run_a_schedule_twice,
    sync_control_and_bad_input,
    fifty_callers_control_syncs_at_once
);

/// The first runs keep every user and every shared page and data source; a later run finds
/// an edit as one UPDATED record and an un-shared page as DELETED, with the records'
/// metadata, cursors and filters as Nango gives them.
async fn records_follow_the_workspace(backend: Backend) {
    let h = setup(backend).await;
    if backend == Backend::Postgres {
        // PostgreSQL keeps record bodies as `jsonb`.
        let column = h
            .db_texts("SELECT data_type::text FROM information_schema.columns WHERE table_name = 'records' AND column_name = 'data'")
            .await;
        assert_eq!(column, ["jsonb"]);
    }
    assert_eq!(
        run_due(&h.engine).await,
        2,
        "users and content-metadata start by themselves"
    );
    assert_eq!(
        run_due(&h.engine).await,
        0,
        "nothing is due until the next run"
    );

    let users = all_records(&h, "User", "").await;
    let (_, listed) = get(&h, "/records?model=User&limit=100").await;
    assert_eq!(users.len(), listed["records"].as_array().unwrap().len());
    assert!(
        users
            .iter()
            .any(|u| u["firstName"] == "Ada" && u["isBot"] == false)
    );
    for user in &users {
        let meta = &user["_nango_metadata"];
        assert_eq!(meta["last_action"], "ADDED", "{user}");
        assert_eq!(meta["first_seen_at"], meta["last_modified_at"]);
        assert!(meta["deleted_at"].is_null() && meta["cursor"].is_string());
    }

    let shared = searchable(&h).await;
    let content = all_records(&h, "ContentMetadata", "").await;
    assert_eq!(
        ids(&content),
        shared,
        "one record per page and data source, none twice"
    );
    assert_eq!(content.len(), shared.len());
    let handbook = content
        .iter()
        .find(|r| r["title"] == "Acme Handbook")
        .unwrap()
        .clone();
    assert_eq!(handbook["object_type"], "page");
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    assert_eq!(status["recordCount"]["ContentMetadata"], shared.len());
    assert_eq!(
        status["latestResult"]["ContentMetadata"]["added"],
        shared.len()
    );
    assert_eq!(status["frequency"], "every hour");

    // A person renames the handbook; a page is no longer shared with the integration.
    let ada = "a0000000-0000-4000-8000-000000000001";
    let handbook_id = handbook["id"].as_str().unwrap();
    h.emulator_admin(
        Method::PATCH,
        &format!("/_emulator/people/{ada}/pages/{handbook_id}"),
        json!({"properties": {"title": {"title": [{"text": {"content": "Acme Handbook v2"}}]}}}),
    )
    .await;
    let gone = unshare_contacts(&h, &content).await;
    let before_changes = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    trigger(&h, json!(["content-metadata"]), json!({})).await;
    assert_eq!(run_due(&h.engine).await, 1);

    let changed = all_records(&h, "ContentMetadata", "&filter=updated,deleted").await;
    let by_action = |action: &str| -> BTreeSet<String> {
        changed
            .iter()
            .filter(|r| r["_nango_metadata"]["last_action"] == action)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        by_action("UPDATED"),
        BTreeSet::from([handbook_id.to_string()])
    );
    assert_eq!(by_action("DELETED"), gone);
    let renamed = changed.iter().find(|r| r["id"] == handbook["id"]).unwrap();
    assert_eq!(renamed["title"], "Acme Handbook v2");
    assert!(
        changed
            .iter()
            .filter(|r| r["_nango_metadata"]["last_action"] == "DELETED")
            .all(|r| r["_nango_metadata"]["deleted_at"].is_string())
    );
    // Since the first runs, only those changed.
    let since = all_records(
        &h,
        "ContentMetadata",
        &format!("&modified_after={before_changes}"),
    )
    .await;
    assert_eq!(ids(&since), ids(&changed));
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(
        status["latestResult"]["ContentMetadata"],
        json!({"added": 0, "updated": 1, "deleted": gone.len()})
    );
    assert_eq!(
        status["recordCount"]["ContentMetadata"],
        shared.len() - gone.len()
    );

    // `ids` picks records; a future `modified_after` finds none.
    let (_, picked) = get(
        &h,
        &format!("/records?model=ContentMetadata&ids={handbook_id}"),
    )
    .await;
    assert_eq!(picked["records"].as_array().unwrap().len(), 1);
    let (_, none) = get(
        &h,
        "/records?model=ContentMetadata&modified_after=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(none, json!({"records": [], "next_cursor": null}));
    // Records are kept per model: an unknown model has none.
    let (_, other) = get(&h, "/records?model=Nothing").await;
    assert_eq!(other["records"], json!([]));
}

/// Adds `count` rows to the Tasks data source (rows are pages: search then needs pages).
async fn add_rows(h: &Harness, count: usize) {
    let tasks = support::actions::find(h, "data_source", "Tasks").await;
    h.emulator_admin(
        Method::POST,
        &format!(
            "/_emulator/data_sources/{}/generate",
            tasks["id"].as_str().unwrap()
        ),
        json!({"count": count}),
    )
    .await;
}

async fn search_requests(h: &Harness) -> u64 {
    let counts = h
        .emulator_admin(Method::GET, "/_emulator/requests", json!({}))
        .await;
    counts["routes"]["POST /v1/search"].as_u64().unwrap_or(0)
}

/// A run that fails on its second page stores the first page, deletes nothing and keeps
/// its checkpoint; the next run goes on from there (not from the start) and, as the full
/// run it continues, deletes what neither part saw.
async fn a_failed_run_deletes_nothing_and_resumes(backend: Backend) {
    let h = setup(backend).await;
    add_rows(&h, 150).await;
    run_due(&h.engine).await;
    let before = all_records(&h, "ContentMetadata", "").await;
    assert!(
        before.len() > 200,
        "three pages of search: {}",
        before.len()
    );
    let gone = unshare_contacts(&h, &before).await;
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": "/v1/search", "status": 400, "code": "validation_error", "after": 1, "count": 1}),
    )
    .await;
    trigger(&h, json!(["content-metadata"]), json!({})).await;
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    assert_eq!(run_due(&h.engine).await, 1);
    assert_eq!(
        search_requests(&h).await,
        2,
        "the first page, then the failing one"
    );
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "ERROR", "{status}");
    assert!(
        status["latestError"]
            .as_str()
            .unwrap()
            .contains("validation_error"),
        "{status}"
    );
    assert!(status["checkpoint"]["start_cursor"].is_string(), "{status}");
    let (_, deleted) = get(&h, "/records?model=ContentMetadata&filter=deleted").await;
    assert_eq!(
        deleted["records"],
        json!([]),
        "a failed run deletes nothing"
    );

    // The next run starts at the checkpoint, reads the rest, and deletes the un-shared page.
    h.emulator_admin(Method::DELETE, "/_emulator/requests", json!({}))
        .await;
    trigger(&h, json!(["content-metadata"]), json!({})).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let pages = (before.len() as u64).div_ceil(100);
    assert_eq!(
        search_requests(&h).await,
        pages - 1,
        "the first page is not read again"
    );
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    assert_eq!(status["checkpoint"], Value::Null);
    let after = all_records(&h, "ContentMetadata", "").await;
    assert_eq!(ids(&after), ids(&before), "no record lost or doubled");
    let deleted: BTreeSet<String> = after
        .iter()
        .filter(|r| r["_nango_metadata"]["last_action"] == "DELETED")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deleted, gone);
}

/// A harness where only `content-metadata` runs, over 150 more pages than the seed.
async fn only_content_metadata(backend: Backend) -> Harness {
    let h = setup(backend).await;
    add_rows(&h, 150).await;
    send(
        &h,
        Method::POST,
        "/sync/pause",
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users"]}),
    )
    .await;
    h
}

/// [`only_content_metadata`], with the emulator answering its second search page after a
/// minute: a run stores its first page and then waits.
async fn slow_second_search_page(backend: Backend) -> Harness {
    let h = only_content_metadata(backend).await;
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": "/v1/search", "delay_ms": 60000, "after": 1, "count": 1}),
    )
    .await;
    h
}

/// A run whose process is killed after its first page (a real `ferry serve`, sent SIGKILL)
/// holds its schedule until the lease is over; then another process takes it, resumes from
/// the checkpoint, and the records come out whole, each once.
async fn a_killed_process_run_is_taken_again_after_its_lease(backend: Backend) {
    let h = slow_second_search_page(backend).await;
    let mut server = spawn_ferry_serve(&h);
    // The process's sync worker stores the first page, then waits on the slow second one.
    let mut stored = 0;
    for _ in 0..300 {
        stored = all_records(&h, "ContentMetadata", "").await.len();
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 100, "the first page is stored");
    server.kill().unwrap();
    server.wait().unwrap();
    let second = h.second_engine().await;
    assert_eq!(run_due(&second).await, 0, "the lease still holds");
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "RUNNING", "{status}");

    // The lease runs out (as ten minutes would).
    let expired = h
        .db_texts("UPDATE sync_schedules SET running_until = '2000-01-01T00:00:00.000Z' WHERE sync_name = 'content-metadata' RETURNING id")
        .await;
    assert_eq!(expired.len(), 1);
    h.emulator_admin(Method::DELETE, "/_emulator/faults", json!({}))
        .await;
    assert_eq!(run_due(&second).await, 1);
    let records = all_records(&h, "ContentMetadata", "").await;
    assert_eq!(ids(&records), searchable(&h).await);
    assert_eq!(ids(&records).len(), records.len());
    assert!(
        records
            .iter()
            .all(|r| r["_nango_metadata"]["last_action"] == "ADDED")
    );
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
}

/// A run cut short because its process is stopping (SIGTERM) keeps what it stored and gives
/// its lease up: another process takes the schedule at once, not ten minutes later, and
/// resumes it with no record lost or doubled.
async fn a_stopped_run_gives_its_schedule_up_at_once(backend: Backend) {
    let h = slow_second_search_page(backend).await;
    // The stop comes once the first page is stored, while the run waits on the second.
    let first_page_stored = async {
        while all_records(&h, "ContentMetadata", "").await.len() < 100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ran = h
        .engine
        .syncs()
        .run_next_unless(first_page_stored)
        .await
        .unwrap();
    assert!(ran);
    h.emulator_admin(Method::DELETE, "/_emulator/faults", json!({}))
        .await;
    let second = h.second_engine().await;
    assert_eq!(run_due(&second).await, 1, "taken again at once");
    let records = all_records(&h, "ContentMetadata", "").await;
    assert_eq!(ids(&records), searchable(&h).await);
    assert_eq!(ids(&records).len(), records.len());
    let status = status_of(&h, "content-metadata").await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
}

/// A trigger with `reset` that comes while the schedule runs is not undone by the run's end:
/// the schedule is due again at once.
async fn a_trigger_during_a_run_is_kept(backend: Backend) {
    let h = only_content_metadata(backend).await;
    assert_eq!(
        run_due(&h.engine).await,
        1,
        "the first content-metadata run"
    );
    h.emulator_admin(
        Method::POST,
        "/_emulator/faults",
        json!({"method": "POST", "path": "/v1/search", "delay_ms": 1500, "after": 1, "count": 1}),
    )
    .await;
    let scope = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["content-metadata"]});
    send(&h, Method::POST, "/sync/trigger", scope.clone()).await;
    let engine = h.engine.clone();
    let running = tokio::spawn(async move { engine.syncs().run_next().await });
    while status_of(&h, "content-metadata").await["status"] != "RUNNING" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut reset = scope;
    reset["opts"] = json!({"reset": true});
    let (status, body) = send(&h, Method::POST, "/sync/trigger", reset).await;
    assert_eq!(status, 200, "{body}");
    assert!(running.await.unwrap().unwrap());
    assert_eq!(status_of(&h, "content-metadata").await["status"], "SUCCESS");
    assert_eq!(run_due(&h.engine).await, 1, "due again at once");
}

/// Two engines on one database (as two `ferry serve`) draining the due schedules at once:
/// every schedule runs exactly once.
async fn two_engines_never_run_a_schedule_twice(backend: Backend) {
    let h = setup(backend).await;
    for n in 0..4 {
        h.import_demo_connection(&format!("more-{n}")).await;
    }
    let second = h.second_engine().await;
    let (first_ran, second_ran) = tokio::join!(run_due(&h.engine), run_due(&second));
    // Five connections, each with `users` and `content-metadata` starting by themselves.
    assert_eq!(first_ran + second_ran, 10, "{first_ran} + {second_ran}");
    let runs = h
        .db_texts("SELECT CAST(runs AS TEXT) FROM sync_schedules WHERE paused = 0")
        .await;
    assert_eq!(runs.len(), 10);
    assert!(runs.iter().all(|r| r == "1"), "{runs:?}");
    assert_eq!(run_due(&h.engine).await + run_due(&second).await, 0);
}

/// `ferry serve` as a separate process on the harness's database and emulator, its workers
/// running; returned once it listens.
fn spawn_ferry_serve(h: &Harness) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let settings = h.engine.settings();
    let key = settings.encryption_key.clone().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("serve")
        .env("FERRY_LISTEN", "127.0.0.1:0")
        .env("FERRY_DATABASE_URL", &h.db.url)
        .env("FERRY_NOTION_BASE_URL", h.emulator.base_url())
        .env("FERRY_SECRET_KEY", KEY)
        .env(
            "FERRY_ENCRYPTION_KEY",
            ferry_engine::settings::ExposeSecret::expose_secret(&key),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the ferry binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("a ready line").unwrap();
        if line.starts_with("ferry listening on ") {
            break;
        }
    }
    // Keep reading its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

/// Pause, start, frequency, variants, reset with an emptied cache, and every bad input,
/// each refused with a stable code and the field named.
async fn sync_control_and_bad_input(backend: Backend) {
    let h = setup(backend).await;
    let scope = json!({"provider_config_key": "notion", "connection_id": "acme"});
    let with = |extra: Value| {
        let mut body = scope.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // Paused syncs do not run, even when triggered; start runs them.
    let (status, _) = send(&h, Method::POST, "/sync/pause", with(json!({"syncs": []}))).await;
    assert_eq!(status, 200);
    trigger(&h, json!([]), json!({})).await;
    assert_eq!(run_due(&h.engine).await, 0);
    assert_eq!(status_of(&h, "users").await["status"], "PAUSED");
    let (status, _) = send(
        &h,
        Method::POST,
        "/sync/start",
        with(json!({"syncs": ["users"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(run_due(&h.engine).await, 1);
    assert_eq!(status_of(&h, "users").await["status"], "SUCCESS");

    // The connection's own frequency, and back.
    let (status, body) = send(
        &h,
        Method::PUT,
        "/sync/update-connection-frequency",
        with(json!({"sync_name": "users", "frequency": "every 2h"})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"frequency": "every 2h"})));
    assert_eq!(status_of(&h, "users").await["frequency"], "every 2h");
    let (_, body) = send(
        &h,
        Method::PUT,
        "/sync/update-connection-frequency",
        with(json!({"sync_name": "users", "frequency": null})),
    )
    .await;
    assert_eq!(body, json!({"frequency": "every day"}));

    // A variant keeps its records apart.
    let (status, _) = send(&h, Method::POST, "/sync/users/variant/eu", scope.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(run_due(&h.engine).await, 1);
    let (_, eu) = get(&h, "/records?model=User&variant=eu").await;
    let (_, base) = get(&h, "/records?model=User").await;
    assert_eq!(
        eu["records"].as_array().unwrap().len(),
        base["records"].as_array().unwrap().len()
    );
    let variants = status_of(&h, "users::eu").await;
    assert_eq!(
        (variants["name"].as_str(), variants["variant"].as_str()),
        (Some("users"), Some("eu"))
    );
    let (status, _) = send(&h, Method::DELETE, "/sync/users/variant/eu", scope.clone()).await;
    assert_eq!(status, 200);
    let (_, eu) = get(&h, "/records?model=User&variant=eu").await;
    assert_eq!(eu["records"], json!([]));

    // Reset with an emptied cache: the records are made again, all ADDED.
    trigger(
        &h,
        json!(["users"]),
        json!({"reset": true, "emptyCache": true}),
    )
    .await;
    let (_, emptied) = get(&h, "/records?model=User").await;
    assert_eq!(emptied["records"], json!([]));
    assert_eq!(run_due(&h.engine).await, 1);
    let (_, again) = get(&h, "/records?model=User&filter=ADDED").await;
    assert_eq!(
        again["records"].as_array().unwrap().len(),
        base["records"].as_array().unwrap().len()
    );

    // Pruning empties the data of records up to a cursor, a limit at a time; the next run
    // that sees them stores them again.
    let (_, two) = get(&h, "/records?model=User&limit=2").await;
    let until = two["records"][1]["_nango_metadata"]["cursor"].clone();
    let prune = |limit: u32| {
        let until = until.clone();
        let h = &h;
        async move {
            let (status, _, text) = h
                .request(
                    Method::PATCH,
                    "/records/prune",
                    Some(KEY),
                    &HEADERS,
                    Some(json!({"model": "User", "until_cursor": until, "limit": limit})),
                )
                .await;
            assert_eq!(status, 200, "{text}");
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    assert_eq!(prune(1).await, json!({"count": 1, "has_more": true}));
    assert_eq!(prune(5).await, json!({"count": 1, "has_more": false}));
    let (_, pruned) = get(&h, "/records?model=User").await;
    let pruned = pruned["records"].as_array().unwrap().clone();
    for record in &pruned[..2] {
        assert!(
            record["_nango_metadata"]["pruned_at"].is_string(),
            "{record}"
        );
        assert_eq!(
            record.as_object().unwrap().len(),
            2,
            "only id and metadata: {record}"
        );
    }
    assert!(pruned[2]["_nango_metadata"]["pruned_at"].is_null());
    assert!(pruned[2]["firstName"].is_string());
    trigger(&h, json!(["users"]), json!({})).await;
    assert_eq!(run_due(&h.engine).await, 1);
    let (_, restored) = get(&h, "/records?model=User&filter=updated").await;
    let restored = restored["records"].as_array().unwrap();
    assert_eq!(restored.len(), 2);
    assert!(
        restored
            .iter()
            .all(|r| r["firstName"].is_string() && r["_nango_metadata"]["pruned_at"].is_null())
    );

    // Bad input, each named.
    for (path, code, names) in [
        ("/records", "invalid_query_params", "model"),
        (
            "/records?model=User&limit=0",
            "invalid_query_params",
            "limit",
        ),
        (
            "/records?model=User&limit=10001",
            "invalid_query_params",
            "limit",
        ),
        (
            "/records?model=User&filter=changed",
            "invalid_query_params",
            "filter",
        ),
        (
            "/records?model=User&cursor=%21%21",
            "invalid_query_params",
            "cursor",
        ),
        (
            "/records?model=User&modified_after=yesterday",
            "invalid_query_params",
            "modified_after",
        ),
        (
            "/records?model=User&colour=red",
            "invalid_query_params",
            "colour",
        ),
        (
            "/sync/status?provider_config_key=notion",
            "invalid_query_params",
            "syncs",
        ),
        (
            "/sync/status?provider_config_key=notion&syncs=nope",
            "unknown_sync",
            "nope",
        ),
    ] {
        let (status, body) = get(&h, path).await;
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(names),
            "{path}: {body}"
        );
    }
    for (body, names) in [
        (
            json!({"model": "User", "until_cursor": "!!"}),
            "until_cursor",
        ),
        (
            json!({"model": "User", "until_cursor": until, "limit": 0}),
            "limit",
        ),
        (json!({"model": "", "until_cursor": until}), "model"),
        (json!({"until_cursor": until}), "model"),
    ] {
        let (status, _, text) = h
            .request(
                Method::PATCH,
                "/records/prune",
                Some(KEY),
                &HEADERS,
                Some(body.clone()),
            )
            .await;
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{body}"
        );
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(names),
            "{answer}"
        );
    }
    let (status, _, text) = h
        .request(Method::GET, "/records?model=User", Some(KEY), &[], None)
        .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("missing_headers"))
    );
    for (method, path, body, code, names) in [
        (
            Method::POST,
            "/sync/trigger",
            with(json!({"syncs": ["nope"]})),
            "unknown_sync",
            "nope",
        ),
        (
            Method::POST,
            "/sync/trigger",
            with(json!({"syncs": [5]})),
            "invalid_body",
            "syncs[0]",
        ),
        (
            Method::POST,
            "/sync/trigger",
            with(json!({"opts": {"reset": "yes"}})),
            "invalid_body",
            "reset",
        ),
        (
            Method::POST,
            "/sync/trigger",
            with(json!({"sync_mode": "sometimes"})),
            "invalid_body",
            "sync_mode",
        ),
        (
            Method::POST,
            "/sync/trigger",
            json!({"syncs": []}),
            "invalid_body",
            "provider_config_key",
        ),
        (
            Method::POST,
            "/sync/pause",
            json!({"provider_config_key": "nope", "syncs": []}),
            "unknown_provider_config",
            "nope",
        ),
        (
            Method::POST,
            "/sync/start",
            json!({"provider_config_key": "notion", "connection_id": "ghost", "syncs": []}),
            "unknown_connection",
            "ghost",
        ),
        (
            Method::PUT,
            "/sync/update-connection-frequency",
            with(json!({"sync_name": "users", "frequency": "every 10 seconds"})),
            "invalid_body",
            "frequency",
        ),
        (
            Method::PUT,
            "/sync/update-connection-frequency",
            with(json!({"sync_name": "users", "frequency": "sometimes"})),
            "invalid_body",
            "frequency",
        ),
        (
            Method::POST,
            "/sync/users/variant/base",
            scope.clone(),
            "invalid_uri_params",
            "variant",
        ),
        (
            Method::POST,
            "/sync/nope/variant/eu",
            scope.clone(),
            "unknown_sync",
            "nope",
        ),
        (
            Method::DELETE,
            "/sync/users/variant/never",
            scope.clone(),
            "unknown_sync",
            "never",
        ),
    ] {
        let (status, answer) = send(&h, method.clone(), path, body.clone()).await;
        assert_eq!(
            answer["error"]["code"], code,
            "{method} {path} {body}: {answer}"
        );
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(names),
            "{path}: {answer}"
        );
    }
}

/// 50 callers trigger, pause, start and read status and records at once: no 5xx, and the
/// schedules end in the state the last writes left.
async fn fifty_callers_control_syncs_at_once(backend: Backend) {
    let h = setup(backend).await;
    run_due(&h.engine).await;
    let h = &h;
    let answers = at_once(50, |i| async move {
        let scope =
            json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users"]});
        match i % 5 {
            0 => send(h, Method::POST, "/sync/trigger", scope).await.0,
            1 => send(h, Method::POST, "/sync/pause", scope).await.0,
            2 => send(h, Method::POST, "/sync/start", scope).await.0,
            3 => {
                get(h, "/sync/status?provider_config_key=notion&syncs=*")
                    .await
                    .0
            }
            _ => get(h, "/records?model=User").await.0,
        }
    })
    .await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    // One more pause after everything: it holds.
    send(
        h,
        Method::POST,
        "/sync/pause",
        json!({"provider_config_key": "notion", "syncs": []}),
    )
    .await;
    assert_eq!(run_due(&h.engine).await, 0);
    let (_, status) = get(h, "/sync/status?provider_config_key=notion&syncs=*").await;
    assert!(
        status["syncs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "PAUSED"),
        "{status}"
    );
    // Pauses and frequency changes at once: each writes only its own field, so both hold.
    send(
        h,
        Method::POST,
        "/sync/start",
        json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users"]}),
    )
    .await;
    let answers = at_once(50, |i| async move {
        if i % 2 == 0 {
            let scope = json!({"provider_config_key": "notion", "connection_id": "acme", "syncs": ["users"]});
            send(h, Method::POST, "/sync/pause", scope).await.0
        } else {
            let body = json!({"provider_config_key": "notion", "connection_id": "acme", "sync_name": "users", "frequency": "every 2 hours"});
            send(h, Method::PUT, "/sync/update-connection-frequency", body).await.0
        }
    })
    .await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    let users = status_of(h, "users").await;
    assert_eq!(users["status"], "PAUSED", "{users}");
    assert_eq!(users["frequency"], "every 2 hours", "{users}");
}
