//! `GET /v1/users`, `/v1/users/{id}` and `/v1/users/me`.

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
