//! `POST /v1/search`: title search over the pages and data sources (databases before
//! 2025-09-03) that the token can see.

use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::http::{Caller, Req};
use crate::model::{Id, plain_text};
use crate::validate as v;
use crate::{Emulator, pagination, render};

enum Hit {
    Page(Id),
    Source(Id),
}

pub fn search(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let body = req.body()?;
    v::only_keys(
        body,
        "body",
        &["query", "filter", "sort", "start_cursor", "page_size"],
    )?;
    let query = v::optional_string(body.get("query"), "body.query")?
        .unwrap_or_default()
        .to_lowercase();
    let classic = !caller.version.has_data_sources();
    let source_word = if classic { "database" } else { "data_source" };
    let mut object_filter = None;
    let mut in_trash = false;
    if let Some(filter) = body.get("filter") {
        let f = v::object(Some(filter), "body.filter")?;
        if f.contains_key("property") || f.contains_key("value") {
            v::one_of(f.get("property"), "body.filter.property", &["object"])?;
            object_filter = Some(
                v::one_of(f.get("value"), "body.filter.value", &["page", source_word])?.to_string(),
            );
        }
        if caller.version.uses_2026_names() {
            in_trash =
                v::optional_bool(f.get("in_trash"), "body.filter.in_trash")?.unwrap_or(false);
        }
    }
    let mut descending = true;
    if let Some(sort) = body.get("sort") {
        let s = v::object(Some(sort), "body.sort")?;
        if s.get("property").is_some() {
            v::one_of(s.get("property"), "body.sort.property", &["relevance"])?;
        } else {
            v::one_of(
                s.get("timestamp"),
                "body.sort.timestamp",
                &["last_edited_time"],
            )?;
            descending = v::one_of(
                s.get("direction"),
                "body.sort.direction",
                &["ascending", "descending"],
            )? == "descending";
        }
    }
    let scope = format!(
        "search:{query}:{}",
        object_filter.as_deref().unwrap_or("all")
    );
    let page = pagination::from_body(&scope, body)?;
    let ws = emulator.workspace();
    let mut hits: Vec<(chrono::DateTime<chrono::Utc>, Id, Hit)> = Vec::new();
    if object_filter.as_deref() != Some(source_word) {
        for p in ws.pages.values() {
            if p.in_trash != in_trash || p.is_template || !caller.can_see(&ws, p.id) {
                continue;
            }
            if ws.page_title_text(p.id).to_lowercase().contains(&query) {
                hits.push((
                    crate::render::round_to_minute(p.stamps.last_edited_time),
                    p.id,
                    Hit::Page(p.id),
                ));
            }
        }
    }
    if object_filter.as_deref() != Some("page") {
        for ds in ws.data_sources.values() {
            if ds.in_trash != in_trash || !caller.can_see(&ws, ds.id) {
                continue;
            }
            let title = plain_text(&Value::Array(ds.title.clone())).to_lowercase();
            if !title.contains(&query) {
                continue;
            }
            if classic {
                // Classic search lists each database once, through its first source.
                let db = &ws.databases[&ds.database];
                if db.data_sources.first() == Some(&ds.id) && db.data_sources.len() == 1 {
                    hits.push((
                        crate::render::round_to_minute(db.stamps.last_edited_time),
                        db.id,
                        Hit::Source(ds.id),
                    ));
                }
            } else {
                hits.push((
                    crate::render::round_to_minute(ds.stamps.last_edited_time),
                    ds.id,
                    Hit::Source(ds.id),
                ));
            }
        }
    }
    hits.sort_by(|a, b| {
        if descending {
            b.0.cmp(&a.0)
        } else {
            a.0.cmp(&b.0)
        }
        .then(a.1.cmp(&b.1))
    });
    let slice = pagination::slice(
        &scope,
        &hits.iter().map(|(_, id, _)| *id).collect::<Vec<_>>(),
        page,
    );
    let ctx = caller.ctx(emulator);
    let results: Vec<Value> = slice
        .items
        .iter()
        .filter_map(|id| hits.iter().find(|(_, h, _)| h == id))
        .map(|(_, _, hit)| match hit {
            Hit::Page(id) => render::page(&ws, &ctx, &ws.pages[id], None),
            Hit::Source(id) if classic => {
                render::database(&ws, &ctx, &ws.databases[&ws.data_sources[id].database])
            }
            Hit::Source(id) => render::data_source(&ws, &ctx, &ws.data_sources[id]),
        })
        .collect();
    let kind = if classic {
        "page_or_database"
    } else {
        "page_or_data_source"
    };
    let mut out = pagination::envelope(kind, results, slice.next_cursor);
    if !classic {
        out["request_status"] = json!({"type": "complete"});
    }
    Ok(out)
}
