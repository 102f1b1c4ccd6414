//! `GET /v1/users`, `/v1/users/{id}` and `/v1/users/me`, and the workspace's custom emojis
//! (`GET /v1/custom_emojis`).

use serde_json::Value;

use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req};
use crate::model::UserKind;
use crate::{Emulator, pagination, render};

pub fn list(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let page = pagination::from_query("users", &req.query_map())?;
    let ws = emulator.workspace();
    let ctx = caller.ctx(emulator);
    // People of the workspace and the caller's own bot; guests and other bots are not listed.
    let visible: Vec<_> = ws
        .users
        .iter()
        .filter(|u| matches!(u.kind, UserKind::Person { .. }) || u.id == caller.actor)
        .collect();
    let slice = pagination::slice("users", &visible, page);
    let results = slice
        .items
        .iter()
        .map(|u| render::user(&ws, &ctx, u))
        .collect();
    Ok(pagination::envelope("user", results, slice.next_cursor))
}

/// The workspace's custom emojis, all or the one with exactly `name`.
pub fn custom_emojis(emulator: &Emulator, _caller: &Caller, req: &Req) -> ApiResult<Value> {
    let query = req.query_map();
    if let Some(unknown) = query
        .keys()
        .find(|k| !matches!(k.as_str(), "start_cursor" | "page_size" | "name"))
    {
        return Err(NotionError::validation(format!(
            "query failed validation: {unknown} is not a known query parameter."
        )));
    }
    let name = query.get("name");
    let scope = format!("custom_emojis:{}", name.map_or("", String::as_str));
    let page = pagination::from_query(&scope, &query)?;
    let ws = emulator.workspace();
    let emojis: Vec<_> = ws
        .custom_emojis
        .iter()
        .filter(|e| name.is_none_or(|n| &e.name == n))
        .collect();
    let slice = pagination::slice(&scope, &emojis, page);
    let results = slice
        .items
        .iter()
        .map(|e| serde_json::json!({"id": e.id, "name": e.name, "url": e.url}))
        .collect();
    Ok(pagination::envelope(
        "custom_emoji",
        results,
        slice.next_cursor,
    ))
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("user_id")?;
    let ws = emulator.workspace();
    let user = ws
        .user(id)
        .ok_or_else(|| NotionError::not_found("user", id))?;
    Ok(render::user(&ws, &caller.ctx(emulator), user))
}

pub fn me(emulator: &Emulator, caller: &Caller, _req: &Req) -> ApiResult<Value> {
    let ws = emulator.workspace();
    let bot = ws
        .user(caller.actor)
        .ok_or_else(NotionError::unauthorized)?;
    Ok(render::user(&ws, &caller.ctx(emulator), bot))
}
