//! Database views (API 2025-09-03 and later): list, create, retrieve, update and delete, and
//! view queries, which run the view's filter, quick filters and sorts through the same
//! engine as data source queries, keep the matching rows for 15 minutes and page through
//! them. A database gets a default table view when it is made. Views are created on a
//! database (`database_id`) or inside a dashboard view (`view_id`); `create_database` (a
//! new linked database block) is not emulated and is refused naming the field.

use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::filter::{self, Filter};
use crate::http::{Caller, Req};
use crate::model::{DataSource, Id, Stamps, View, ViewQuery, Workspace};
use crate::render::minute_timestamp;
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination};

const VIEW_TYPES: &[&str] = &[
    "table",
    "board",
    "calendar",
    "timeline",
    "gallery",
    "list",
    "form",
    "chart",
    "map",
    "dashboard",
];

/// How long a view query's rows are kept.
const QUERY_LIFETIME_MINUTES: i64 = 15;

fn views_exist(caller: &Caller) -> ApiResult<()> {
    if caller.version.has_data_sources() {
        Ok(())
    } else {
        Err(NotionError::invalid_request_url())
    }
}

/// The view object as Notion answers it.
pub fn render(view: &View) -> Value {
    let mut out = json!({
        "object": "view",
        "id": view.id,
        "parent": {"type": "database_id", "database_id": view.database},
        "data_source_id": view.data_source,
        "name": view.name,
        "type": view.kind,
        "filter": view.filter,
        "sorts": view.sorts,
        "quick_filters": view.quick_filters,
        "configuration": view.configuration,
        "created_time": minute_timestamp(view.stamps.created_time),
        "created_by": {"object": "user", "id": view.stamps.created_by},
        "last_edited_time": minute_timestamp(view.stamps.last_edited_time),
        "last_edited_by": {"object": "user", "id": view.stamps.last_edited_by},
        "url": format!("https://www.notion.so/{}?v={}", crate::ids::compact(view.database), crate::ids::compact(view.id)),
    });
    if let Some(dashboard) = view.dashboard {
        out["dashboard_view_id"] = json!(dashboard);
    }
    out
}

/// The default view a new database starts with.
pub(crate) fn default_view(database: Id, data_source: Id, stamps: &Stamps) -> View {
    View {
        id: Uuid::new_v4(),
        database,
        data_source: Some(data_source),
        name: "Default view".into(),
        kind: "table".into(),
        filter: None,
        sorts: None,
        quick_filters: None,
        configuration: None,
        dashboard: None,
        stamps: stamps.clone(),
    }
}

fn visible_view(ws: &Workspace, caller: &Caller, id: Id) -> ApiResult<usize> {
    let index = ws
        .views
        .iter()
        .position(|view| view.id == id)
        .ok_or_else(|| NotionError::not_found("view", id))?;
    let database = ws.views[index].database;
    if !ws.databases.contains_key(&database) || !caller.can_see(ws, database) {
        return Err(NotionError::not_found("view", id));
    }
    Ok(index)
}

fn view_event(kind: &'static str, view: &View, actor: Id, data: Value) -> Event {
    let mut event = Event::new(kind, "view", view.id, actor, data);
    event.visible_through = view.database;
    event
}

pub fn list(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let query = req.query_map();
    if let Some(unknown) = query.keys().find(|k| {
        !matches!(
            k.as_str(),
            "database_id" | "data_source_id" | "start_cursor" | "page_size"
        )
    }) {
        return Err(NotionError::validation(format!(
            "query failed validation: {unknown} is not a known query parameter."
        )));
    }
    let id_of = |name: &str| -> ApiResult<Option<Id>> {
        query
            .get(name)
            .map(|raw| {
                crate::ids::parse(raw).ok_or_else(|| {
                    NotionError::validation(format!(
                        "query failed validation: query.{name} should be a valid uuid, instead was `\"{raw}\"`."
                    ))
                })
            })
            .transpose()
    };
    let (database, data_source) = (id_of("database_id")?, id_of("data_source_id")?);
    let ws = emulator.workspace();
    let (scope, chosen): (String, Vec<&View>) = match (database, data_source) {
        (Some(db), None) => {
            if !ws.databases.contains_key(&db) || !caller.can_see(&ws, db) {
                return Err(NotionError::not_found("database", db));
            }
            let views = ws.views.iter().filter(|view| view.database == db).collect();
            (format!("views:db:{db}"), views)
        }
        (None, Some(ds)) => {
            let database = ws
                .data_sources
                .get(&ds)
                .map(|d| d.database)
                .filter(|db| caller.can_see(&ws, *db))
                .ok_or_else(|| NotionError::not_found("data source", ds))?;
            let views = ws
                .views
                .iter()
                .filter(|view| view.database == database && view.data_source == Some(ds))
                .collect();
            (format!("views:ds:{ds}"), views)
        }
        _ => {
            return Err(NotionError::validation(
                "Provide exactly one of database_id or data_source_id.",
            ));
        }
    };
    let page = pagination::from_query(&scope, &query)?;
    let slice = pagination::slice(&scope, &chosen, page);
    let results = slice.items.iter().map(|view| render(view)).collect();
    Ok(pagination::envelope("view", results, slice.next_cursor))
}

/// A view's filter, sorts, quick filters and configuration, checked against its data source.
struct Presentation {
    filter: Option<Value>,
    sorts: Option<Value>,
    quick_filters: Option<Value>,
    configuration: Option<Value>,
}

fn check_filter(ds: &DataSource, value: &Value) -> ApiResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    filter::parse(ds, value, "body.filter")?;
    Ok(Some(value.clone()))
}

fn check_sorts(ds: &DataSource, value: &Value) -> ApiResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    filter::parse_sorts(ds, value, "body.sorts")?;
    Ok(Some(value.clone()))
}

/// Quick filters: property name or id → a property filter without its `property`.
fn quick_filter_list(ds: &DataSource, value: &Value, path: &str) -> ApiResult<Vec<Filter>> {
    let map = v::object(Some(value), path)?;
    map.iter()
        .map(|(property, condition)| {
            let mut whole = v::object(Some(condition), &format!("{path}.{property}"))?.clone();
            whole.insert("property".into(), json!(property));
            filter::parse(ds, &Value::Object(whole), &format!("{path}.{property}"))
        })
        .collect()
}

fn check_quick_filters(ds: &DataSource, value: &Value) -> ApiResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    quick_filter_list(ds, value, "body.quick_filters")?;
    Ok(Some(value.clone()))
}

fn check_configuration(kind: &str, value: &Value) -> ApiResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if kind == "dashboard" {
        return Err(NotionError::validation(
            "body.configuration is not available for dashboard views; they are laid out by their widgets.",
        ));
    }
    let map = v::object(Some(value), "body.configuration")?;
    let stated = v::string(map.get("type"), "body.configuration.type")?;
    if stated != kind {
        return Err(NotionError::validation(format!(
            "body.configuration.type should be `{kind}`, the view's type, instead was `\"{stated}\"`."
        )));
    }
    Ok(Some(value.clone()))
}

fn presentation(
    ds: Option<&DataSource>,
    kind: &str,
    body: &Map<String, Value>,
) -> ApiResult<Presentation> {
    let needs_source = |field: &str| {
        NotionError::validation(format!(
            "body.{field} is not available for dashboard views, which have no data source."
        ))
    };
    let with_source =
        |field: &str, check: fn(&DataSource, &Value) -> ApiResult<Option<Value>>| match (
            body.get(field),
            ds,
        ) {
            (None, _) => Ok(None),
            (Some(value), Some(ds)) => check(ds, value),
            (Some(value), None) if value.is_null() => Ok(None),
            (Some(_), None) => Err(needs_source(field)),
        };
    Ok(Presentation {
        filter: with_source("filter", check_filter)?,
        sorts: with_source("sorts", check_sorts)?,
        quick_filters: with_source("quick_filters", check_quick_filters)?,
        configuration: body
            .get("configuration")
            .map(|c| check_configuration(kind, c))
            .transpose()?
            .flatten(),
    })
}

pub fn create(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let body = req.body()?;
    v::only_keys(
        body,
        "body",
        &[
            "data_source_id",
            "name",
            "type",
            "database_id",
            "view_id",
            "create_database",
            "filter",
            "sorts",
            "quick_filters",
            "configuration",
            "position",
            "placement",
        ],
    )?;
    let places = ["database_id", "view_id", "create_database"]
        .iter()
        .filter(|k| body.contains_key(**k))
        .count();
    if places != 1 {
        return Err(NotionError::validation(
            "Provide exactly one of body.database_id, body.view_id or body.create_database.",
        ));
    }
    if body.contains_key("create_database") {
        return Err(NotionError::validation(
            "body.create_database is not supported by this emulator; create the database with POST /v1/databases and pass its database_id.",
        ));
    }
    let name = v::string(body.get("name"), "body.name")?.to_string();
    let kind = v::one_of(body.get("type"), "body.type", VIEW_TYPES)?.to_string();
    let mut ws = emulator.workspace();
    let dashboard = match body.get("view_id") {
        Some(raw) => {
            let id = v::id(Some(raw), "body.view_id")?;
            let index = visible_view(&ws, caller, id)?;
            if ws.views[index].kind != "dashboard" {
                return Err(NotionError::validation(
                    "body.view_id should name a dashboard view.",
                ));
            }
            if kind == "dashboard" {
                return Err(NotionError::validation(
                    "A dashboard view cannot be a widget of another dashboard.",
                ));
            }
            Some((id, ws.views[index].database))
        }
        None => None,
    };
    let database = match (&dashboard, body.get("database_id")) {
        (Some((_, database)), _) => *database,
        (None, raw) => {
            let id = v::id(raw, "body.database_id")?;
            if !ws.databases.contains_key(&id) || !caller.can_see(&ws, id) {
                return Err(NotionError::not_found("database", id));
            }
            id
        }
    };
    let data_source = match body.get("data_source_id") {
        None | Some(Value::Null) if kind == "dashboard" => None,
        Some(_) if kind == "dashboard" => {
            return Err(NotionError::validation(
                "body.data_source_id should be absent for a dashboard view.",
            ));
        }
        raw => {
            let id = v::id(raw, "body.data_source_id")?;
            let ds = ws
                .data_sources
                .get(&id)
                .filter(|ds| caller.can_see(&ws, ds.database))
                .ok_or_else(|| NotionError::not_found("data source", id))?;
            if ds.database != database {
                return Err(NotionError::validation(format!(
                    "body.data_source_id: data source {id} is not in database {database}."
                )));
            }
            Some(id)
        }
    };
    let shown = presentation(
        data_source.and_then(|id| ws.data_sources.get(&id)),
        &kind,
        body,
    )?;
    let view = View {
        id: Uuid::new_v4(),
        database,
        data_source,
        name,
        kind,
        filter: shown.filter,
        sorts: shown.sorts,
        quick_filters: shown.quick_filters,
        configuration: shown.configuration,
        dashboard: dashboard.map(|(id, _)| id),
        stamps: Stamps::new(Utc::now(), caller.actor),
    };
    let out = render(&view);
    let event = view_event(
        "view.created",
        &view,
        caller.actor,
        json!({"parent": {"id": database, "type": "database"}}),
    );
    ws.views.push(view);
    emulator.webhooks.emit(&ws, vec![event]);
    Ok(out)
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let ws = emulator.workspace();
    let index = visible_view(&ws, caller, id)?;
    Ok(render(&ws.views[index]))
}

pub fn update(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let body = req.body()?;
    if body.contains_key("type") {
        return Err(NotionError::validation(
            "body.type cannot be changed; create a new view of the other type.",
        ));
    }
    v::only_keys(
        body,
        "body",
        &["name", "filter", "sorts", "quick_filters", "configuration"],
    )?;
    let mut ws = emulator.workspace();
    let index = visible_view(&ws, caller, id)?;
    let view = &ws.views[index];
    let name = body
        .get("name")
        .map(|n| v::string(Some(n), "body.name").map(str::to_string))
        .transpose()?;
    let shown = presentation(
        view.data_source.and_then(|ds| ws.data_sources.get(&ds)),
        &view.kind,
        body,
    )?;
    let changed: Vec<&String> = body.keys().collect();
    let view = &mut ws.views[index];
    if let Some(name) = name {
        view.name = name;
    }
    if body.contains_key("filter") {
        view.filter = shown.filter;
    }
    if body.contains_key("sorts") {
        view.sorts = shown.sorts;
    }
    if body.contains_key("quick_filters") {
        view.quick_filters = shown.quick_filters;
    }
    if body.contains_key("configuration") {
        view.configuration = shown.configuration;
    }
    view.stamps.last_edited_time = Utc::now();
    view.stamps.last_edited_by = caller.actor;
    let out = render(view);
    let event = view_event(
        "view.updated",
        &ws.views[index],
        caller.actor,
        json!({"updated_fields": changed}),
    );
    emulator.webhooks.emit(&ws, vec![event]);
    Ok(out)
}

pub fn delete(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let mut ws = emulator.workspace();
    let index = visible_view(&ws, caller, id)?;
    let view = ws.views[index].clone();
    // A dashboard's widgets go with it, and so do the views' queries.
    let gone: Vec<View> = ws
        .views
        .iter()
        .filter(|v| v.id == id || v.dashboard == Some(id))
        .cloned()
        .collect();
    ws.views.retain(|v| !gone.iter().any(|g| g.id == v.id));
    ws.view_queries
        .retain(|_, query| !gone.iter().any(|g| g.id == query.view));
    let events = gone
        .iter()
        .map(|g| {
            view_event(
                "view.deleted",
                g,
                caller.actor,
                json!({"parent": {"id": g.database, "type": "database"}}),
            )
        })
        .collect();
    emulator.webhooks.emit(&ws, events);
    Ok(render(&view))
}

/// The rows a view shows now: its data source's rows that pass its filter and quick filters,
/// in its sort order, cut at the query result limit; and whether they were cut.
fn rows_of(
    emulator: &Emulator,
    ws: &Workspace,
    caller: &Caller,
    view: &View,
) -> ApiResult<(Vec<Id>, bool)> {
    let Some(ds) = view.data_source.and_then(|id| ws.data_sources.get(&id)) else {
        return Err(NotionError::validation(
            "A dashboard view has no rows of its own; query one of its widget views.",
        ));
    };
    let mut filters = Vec::new();
    if let Some(f) = &view.filter {
        filters.push(filter::parse(ds, f, "view.filter")?);
    }
    if let Some(q) = &view.quick_filters {
        filters.extend(quick_filter_list(ds, q, "view.quick_filters")?);
    }
    let sorts = match &view.sorts {
        Some(s) => filter::parse_sorts(ds, s, "view.sorts")?,
        None => Vec::new(),
    };
    let (rows, capped) =
        super::schema::matching_rows(emulator, caller, ws, ds, &filters, &sorts, false);
    Ok((rows.iter().map(|p| p.id).collect(), capped))
}

fn query_page(
    query: &ViewQuery,
    scope: &str,
    page: pagination::PageRequest,
) -> (Vec<Value>, Option<String>) {
    let slice = pagination::slice(scope, &query.rows, page);
    let results = slice
        .items
        .iter()
        .map(|id| json!({"object": "page", "id": id}))
        .collect();
    (results, slice.next_cursor)
}

fn request_status(query: &ViewQuery) -> Value {
    if query.capped {
        json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"})
    } else {
        json!({"type": "complete"})
    }
}

pub fn create_query(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let body = req.body()?;
    v::only_keys(body, "body", &["page_size"])?;
    let mut ws = emulator.workspace();
    let index = visible_view(&ws, caller, id)?;
    let view = ws.views[index].clone();
    let (rows, capped) = rows_of(emulator, &ws, caller, &view)?;
    let now = Utc::now();
    ws.view_queries.retain(|_, q| q.expires_at > now);
    let query = ViewQuery {
        id: Uuid::new_v4(),
        view: id,
        rows,
        capped,
        expires_at: now + Duration::minutes(QUERY_LIFETIME_MINUTES),
    };
    let scope = format!("view_query:{}", query.id);
    let page = pagination::from_body(&scope, body)?;
    let (results, next_cursor) = query_page(&query, &scope, page);
    let out = json!({
        "object": "view_query",
        "id": query.id,
        "view_id": id,
        "expires_at": query.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "total_count": query.rows.len(),
        "results": results,
        "has_more": next_cursor.is_some(),
        "next_cursor": next_cursor,
        "request_status": request_status(&query),
    });
    ws.view_queries.insert(query.id, query);
    Ok(out)
}

/// The view's live query `query_id`: unknown, expired or another view's are not found.
fn live_query(ws: &Workspace, view: Id, query_id: Id) -> ApiResult<&ViewQuery> {
    ws.view_queries
        .get(&query_id)
        .filter(|q| q.view == view && q.expires_at > Utc::now())
        .ok_or_else(|| NotionError::not_found("view query", query_id))
}

pub fn query_results(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let query_id = req.param("query_id")?;
    let ws = emulator.workspace();
    visible_view(&ws, caller, id)?;
    let query = live_query(&ws, id, query_id)?;
    let scope = format!("view_query:{query_id}");
    let page = pagination::from_query(&scope, &req.query_map())?;
    let (results, next_cursor) = query_page(query, &scope, page);
    let mut out = pagination::envelope("page", results, next_cursor);
    out["request_status"] = request_status(query);
    Ok(out)
}

pub fn delete_query(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    views_exist(caller)?;
    let id = req.param("view_id")?;
    let query_id = req.param("query_id")?;
    let mut ws = emulator.workspace();
    visible_view(&ws, caller, id)?;
    live_query(&ws, id, query_id)?;
    ws.view_queries.remove(&query_id);
    Ok(json!({"object": "view_query", "id": query_id, "deleted": true}))
}
