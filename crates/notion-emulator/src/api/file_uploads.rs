//! File uploads: create (single part, multi part, or an import from a URL), send the bytes
//! (a multipart form, one part at a time), complete a multi-part upload, retrieve, list; and
//! the middleware that lets a write attach only the caller's own uploaded files (the stored
//! form of an attached file is in `uploads.rs`, which the resource parsers share).
//!
//! As Notion does, an upload belongs to the integration that made it, waits an hour to be
//! sent and attached, then expires; once attached it is kept for good (`expiry_time: null`)
//! and may be attached again. Expiry is applied when uploads are next looked at.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiResult, NotionError};
use crate::http::{Caller, Req, json_response};
use crate::model::{FileUpload, Id, Stamps, UploadMode, UploadStatus, Workspace};
use crate::uploads::{
    LIFETIME, MAX_FILENAME_BYTES, MAX_PARTS, PART_MAX, PART_MIN, content_type_for,
};
use crate::validate as v;
use crate::webhooks::Event;
use crate::{Emulator, pagination, render};

/// A `file_upload.*` event; only `upload_failed` has `data`.
fn upload_event(kind: &'static str, upload: &FileUpload, data: Value) -> Event {
    Event::new(
        kind,
        "file_upload",
        upload.id,
        upload.stamps.created_by,
        data,
    )
    .for_integration(upload.integration)
}

/// Marks as expired every upload whose hour has passed unattached; returns the events.
fn expire_due(ws: &mut Workspace) -> Vec<Event> {
    let now = Utc::now();
    let mut events = Vec::new();
    for upload in &mut ws.file_uploads {
        let open = matches!(
            upload.status,
            UploadStatus::Pending | UploadStatus::Uploaded
        );
        if open && upload.expiry_time.is_some_and(|t| t <= now) {
            upload.status = UploadStatus::Expired;
            upload.parts.clear();
            upload.content = None;
            upload.stamps.last_edited_time = now;
            events.push(upload_event("file_upload.expired", upload, Value::Null));
        }
    }
    events
}

/// The workspace with expired uploads swept, for a handler that reads or changes uploads.
fn swept<'a>(emulator: &'a Emulator) -> std::sync::MutexGuard<'a, Workspace> {
    let mut ws = emulator.workspace();
    let events = expire_due(&mut ws);
    emulator.webhooks.emit(&ws, events);
    ws
}

fn integration_of(caller: &Caller) -> ApiResult<Id> {
    caller.integration.ok_or_else(NotionError::unauthorized)
}

/// The caller's own upload, or `object_not_found`.
fn own<'a>(ws: &'a mut Workspace, caller: &Caller, id: Id) -> ApiResult<&'a mut FileUpload> {
    let integration = integration_of(caller)?;
    ws.file_upload_mut(id)
        .filter(|u| u.integration == integration)
        .ok_or_else(|| NotionError::not_found("file upload", id))
}

pub fn create(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let body = req.body()?;
    v::only_keys(
        body,
        "body",
        &[
            "mode",
            "filename",
            "content_type",
            "number_of_parts",
            "external_url",
        ],
    )?;
    let mode = match body.get("mode") {
        None => UploadMode::SinglePart,
        some => match v::one_of(
            some,
            "body.mode",
            &["single_part", "multi_part", "external_url"],
        )? {
            "multi_part" => UploadMode::MultiPart,
            "external_url" => UploadMode::ExternalUrl,
            _ => UploadMode::SinglePart,
        },
    };
    let filename = v::optional_string(body.get("filename"), "body.filename")?;
    if filename.is_some_and(|f| f.len() > MAX_FILENAME_BYTES || f.is_empty()) {
        return Err(NotionError::body_validation(format!(
            "body.filename should be between 1 and {MAX_FILENAME_BYTES} bytes long."
        )));
    }
    let content_type = v::optional_string(body.get("content_type"), "body.content_type")?;
    let number_of_parts = body
        .get("number_of_parts")
        .map(|n| v::number(Some(n), "body.number_of_parts"))
        .transpose()?;
    let external_url = v::optional_string(body.get("external_url"), "body.external_url")?;
    let number_of_parts = match (mode, number_of_parts) {
        (UploadMode::MultiPart, None) => {
            return Err(NotionError::body_validation(
                "body.number_of_parts should be defined when `mode` is `multi_part`, instead was `undefined`.",
            ));
        }
        (UploadMode::MultiPart, Some(n)) => {
            if n.fract() != 0.0 || !(1.0..=f64::from(MAX_PARTS)).contains(&n) {
                return Err(NotionError::body_validation(format!(
                    "body.number_of_parts should be an integer between 1 and {MAX_PARTS}, instead was `{n}`."
                )));
            }
            Some(n as u32)
        }
        (_, Some(_)) => {
            return Err(NotionError::body_validation(
                "body.number_of_parts should be present only when `mode` is `multi_part`.",
            ));
        }
        (_, None) => None,
    };
    if mode != UploadMode::SinglePart && filename.is_none() {
        return Err(NotionError::body_validation(
            "body.filename should be defined when `mode` is `multi_part` or `external_url`, instead was `undefined`.",
        ));
    }
    let external_url = match (mode, external_url) {
        (UploadMode::ExternalUrl, None) => {
            return Err(NotionError::body_validation(
                "body.external_url should be defined when `mode` is `external_url`, instead was `undefined`.",
            ));
        }
        (UploadMode::ExternalUrl, Some(url)) => Some(importable_url(url)?),
        (_, Some(_)) => {
            return Err(NotionError::body_validation(
                "body.external_url should be present only when `mode` is `external_url`.",
            ));
        }
        (_, None) => None,
    };
    let integration = integration_of(caller)?;
    let now = Utc::now();
    let upload = FileUpload {
        id: Uuid::new_v4(),
        integration,
        stamps: Stamps::new(now, caller.actor),
        mode,
        status: UploadStatus::Pending,
        expiry_time: Some(now + LIFETIME),
        filename: filename.map(str::to_string),
        content_type: content_type
            .map(str::to_string)
            .or_else(|| filename.map(|f| content_type_for(f).to_string())),
        content_length: None,
        number_of_parts,
        external_url: external_url.clone(),
        file_import_result: None,
        parts: Default::default(),
        content: None,
    };
    let upload_id = upload.id;
    let mut ws = swept(emulator);
    let event = upload_event("file_upload.created", &upload, Value::Null);
    let answer = render::file_upload(&caller.ctx(emulator), &upload);
    ws.file_uploads.push(upload);
    emulator.webhooks.emit(&ws, vec![event]);
    drop(ws);
    if let (Some(url), Some(handle)) = (external_url, emulator.handle()) {
        tokio::spawn(import(handle, upload_id, url));
    }
    Ok(answer)
}

/// An import URL: `https`, or `http` to this machine's loopback (for local test servers).
fn importable_url(raw: &str) -> ApiResult<String> {
    let invalid = || {
        NotionError::body_validation(format!(
            "body.external_url should be a valid https URL, instead was `\"{raw}\"`."
        ))
    };
    let url = reqwest::Url::parse(raw).map_err(|_| invalid())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        _ => Err(invalid()),
    }
}

/// Runs every pending URL import now and waits for them: the "one unit now" of the
/// background imports, for tests and `POST /_emulator/file_uploads/import`.
pub async fn import_pending(emulator: &Arc<Emulator>) -> usize {
    let pending: Vec<(Id, String)> = emulator
        .workspace()
        .file_uploads
        .iter()
        .filter(|u| u.status == UploadStatus::Pending)
        .filter_map(|u| Some((u.id, u.external_url.clone()?)))
        .collect();
    let count = pending.len();
    for (id, url) in pending {
        import(emulator.clone(), id, url).await;
    }
    count
}

/// Downloads an `external_url` upload's file, then marks it uploaded or failed (unless it
/// was imported meanwhile).
async fn import(emulator: Arc<Emulator>, id: Id, url: String) {
    let limit = emulator.settings().max_file_upload_bytes;
    let fetched = fetch(&emulator, &url, limit).await;
    let mut ws = emulator.workspace();
    let Some(upload) = ws.file_upload_mut(id) else {
        return;
    };
    if upload.status != UploadStatus::Pending {
        return;
    }
    let now = Utc::now();
    upload.stamps.last_edited_time = now;
    let imported_time = render::timestamp(now);
    let event = match fetched {
        Ok((bytes, content_type)) => {
            upload.content_length = Some(bytes.len() as u64);
            if let Some(t) = content_type {
                upload.content_type = Some(t);
            }
            upload.content = Some(bytes.into());
            upload.status = UploadStatus::Uploaded;
            upload.file_import_result =
                Some(json!({"type": "success", "success": {}, "imported_time": imported_time}));
            upload_event("file_upload.completed", upload, Value::Null)
        }
        Err((kind, message, status_code)) => {
            upload.status = UploadStatus::Failed;
            upload.expiry_time = None;
            let result = json!({"type": "error", "imported_time": imported_time, "error": {
                "type": kind, "code": "file_import_failed", "message": message,
                "parameter": "external_url", "status_code": status_code,
            }});
            upload.file_import_result = Some(result.clone());
            upload_event(
                "file_upload.upload_failed",
                upload,
                json!({"file_import_result": result}),
            )
        }
    };
    emulator.webhooks.emit(&ws, vec![event]);
}

type ImportError = (&'static str, String, Option<u16>);

async fn fetch(
    emulator: &Emulator,
    url: &str,
    limit: u64,
) -> Result<(Vec<u8>, Option<String>), ImportError> {
    let response = emulator
        .webhooks
        .client()
        .get(url)
        .send()
        .await
        .map_err(|e| {
            (
                "download_error",
                format!("Could not download the file: {e}."),
                None,
            )
        })?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err((
            "download_error",
            format!("Downloading the file answered HTTP {status}."),
            Some(status),
        ));
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large_import(limit));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .map(|t| t.split(';').next().unwrap_or(t).trim().to_string());
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        (
            "download_error",
            format!("The download broke off: {e}."),
            None,
        )
    })? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(too_large_import(limit));
        }
    }
    Ok((bytes, content_type))
}

fn too_large_import(limit: u64) -> ImportError {
    (
        "validation_error",
        format!("The file is larger than the workspace's limit of {limit} bytes."),
        None,
    )
}

pub fn retrieve(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("file_upload_id")?;
    let mut ws = swept(emulator);
    let upload = own(&mut ws, caller, id)?;
    Ok(render::file_upload(&caller.ctx(emulator), upload))
}

pub fn list(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let query = req.query_map();
    let status = match query.get("status") {
        None => None,
        Some(s) => Some(
            ["pending", "uploaded", "expired", "failed"]
                .into_iter()
                .find(|known| known == s)
                .ok_or_else(|| {
                    NotionError::validation(format!(
                        "query failed validation: query.status should be one of `pending`, `uploaded`, `expired`, `failed`, instead was `\"{s}\"`."
                    ))
                })?,
        ),
    };
    let integration = integration_of(caller)?;
    let scope = format!("file_uploads:{integration}:{}", status.unwrap_or("all"));
    let page = pagination::from_query(&scope, &query)?;
    let ws = swept(emulator);
    // Newest first, as Notion lists them.
    let uploads: Vec<&FileUpload> = ws
        .file_uploads
        .iter()
        .rev()
        .filter(|u| u.integration == integration)
        .filter(|u| status.is_none_or(|s| u.status.as_str() == s))
        .collect();
    let slice = pagination::slice(&scope, &uploads, page);
    let ctx = caller.ctx(emulator);
    let results = slice
        .items
        .iter()
        .map(|u| render::file_upload(&ctx, u))
        .collect();
    Ok(pagination::envelope(
        "file_upload",
        results,
        slice.next_cursor,
    ))
}

pub fn complete(emulator: &Emulator, caller: &Caller, req: &Req) -> ApiResult<Value> {
    let id = req.param("file_upload_id")?;
    if let Some(body) = req.body.as_object() {
        v::only_keys(body, "body", &[])?;
    }
    let mut ws = swept(emulator);
    let limit = emulator.settings().max_file_upload_bytes;
    let upload = own(&mut ws, caller, id)?;
    if upload.mode != UploadMode::MultiPart {
        return Err(NotionError::validation(
            "Only a file upload in `multi_part` mode can be completed.",
        ));
    }
    expect_pending(upload, "completed")?;
    let total = upload.number_of_parts.unwrap_or(1);
    if upload.parts.len() as u32 != total {
        return Err(NotionError::validation(format!(
            "The file upload has {} of its {total} parts; send every part before completing it.",
            upload.parts.len()
        )));
    }
    let size: u64 = upload.parts.values().map(|p| p.len() as u64).sum();
    if size > limit {
        return Err(too_large(limit));
    }
    let mut content = Vec::with_capacity(size as usize);
    for part in upload.parts.values() {
        content.extend_from_slice(part);
    }
    upload.content = Some(content.into());
    upload.content_length = Some(size);
    upload.status = UploadStatus::Uploaded;
    upload.stamps.last_edited_time = Utc::now();
    let answer = render::file_upload(&caller.ctx(emulator), upload);
    let event = upload_event("file_upload.completed", upload, Value::Null);
    emulator.webhooks.emit(&ws, vec![event]);
    Ok(answer)
}

fn expect_pending(upload: &FileUpload, verb: &str) -> ApiResult<()> {
    if upload.status == UploadStatus::Pending {
        return Ok(());
    }
    Err(NotionError::validation(format!(
        "The file upload is `{}`; only a `pending` upload can be {verb}.",
        upload.status.as_str()
    )))
}

fn too_large(limit: u64) -> NotionError {
    NotionError::validation(format!(
        "The file is larger than the workspace's upload limit of {limit} bytes."
    ))
}

/// One `send`: the `file` part of a multipart form, and `part_number` in multi-part mode.
struct SentPart {
    bytes: Bytes,
    filename: Option<String>,
    content_type: Option<String>,
    part_number: Option<String>,
}

async fn read_form(multipart: Result<Multipart, impl std::fmt::Display>) -> ApiResult<SentPart> {
    let mut multipart = multipart.map_err(|_| {
        NotionError::validation(
            "Content-Type should be `multipart/form-data` with a boundary; send the file in a form field named `file`.",
        )
    })?;
    let mut sent = SentPart {
        bytes: Bytes::new(),
        filename: None,
        content_type: None,
        part_number: None,
    };
    let mut has_file = false;
    loop {
        let field = multipart.next_field().await.map_err(|e| {
            NotionError::validation(format!("The multipart form could not be read: {e}."))
        })?;
        let Some(field) = field else { break };
        match field.name() {
            Some("file") => {
                sent.filename = field.file_name().map(str::to_string);
                sent.content_type = field.content_type().map(str::to_string);
                sent.bytes = field.bytes().await.map_err(|e| {
                    NotionError::validation(format!("The file part could not be read: {e}."))
                })?;
                has_file = true;
            }
            Some("part_number") => {
                sent.part_number = Some(field.text().await.map_err(|e| {
                    NotionError::validation(format!("part_number could not be read: {e}."))
                })?);
            }
            other => {
                return Err(NotionError::validation(format!(
                    "The form has an unknown field `{}`; it takes `file` and `part_number`.",
                    other.unwrap_or("")
                )));
            }
        }
    }
    if !has_file {
        return Err(NotionError::validation(
            "body.file should be defined, instead was `undefined`.",
        ));
    }
    Ok(sent)
}

/// `POST /v1/file_uploads/{id}/send`: its body is a form, not JSON, so it has its own handler.
pub async fn send(
    State(emulator): State<Arc<Emulator>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(raw_id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let sent = match read_form(multipart).await {
        Ok(sent) => sent,
        Err(e) => return e.into_response(),
    };
    match crate::ids::parse_path(&raw_id, "file_upload_id")
        .and_then(|id| store_part(&emulator, &caller, id, sent))
    {
        Ok(value) => json_response(&value),
        Err(e) => e.into_response(),
    }
}

fn store_part(emulator: &Emulator, caller: &Caller, id: Id, sent: SentPart) -> ApiResult<Value> {
    let limit = emulator.settings().max_file_upload_bytes;
    let mut ws = swept(emulator);
    let upload = own(&mut ws, caller, id)?;
    if upload.mode == UploadMode::ExternalUrl {
        return Err(NotionError::validation(
            "A file upload in `external_url` mode is imported by Notion; it takes no `send`.",
        ));
    }
    expect_pending(upload, "sent to")?;
    if let (Some(declared), Some(given)) = (&upload.content_type, &sent.content_type)
        && given != "application/octet-stream"
        && !given.eq_ignore_ascii_case(declared)
    {
        return Err(NotionError::validation(format!(
            "body.file has content type `{given}`, but the file upload was created with `{declared}`."
        )));
    }
    let size = sent.bytes.len() as u64;
    let now = Utc::now();
    let mut events = Vec::new();
    match upload.mode {
        UploadMode::MultiPart => {
            let total = upload.number_of_parts.unwrap_or(1);
            let raw = sent.part_number.as_deref().ok_or_else(|| {
                NotionError::validation(
                    "body.part_number should be defined for a `multi_part` upload, instead was `undefined`.",
                )
            })?;
            let number = raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=total).contains(n))
                .ok_or_else(|| {
                    NotionError::validation(format!(
                        "body.part_number should be an integer between 1 and {total}, instead was `\"{raw}\"`."
                    ))
                })?;
            if size > PART_MAX || (number < total && size < PART_MIN) {
                return Err(NotionError::validation(format!(
                    "Part {number} is {size} bytes; every part must be between {PART_MIN} and {PART_MAX} bytes, except the last, which may be smaller."
                )));
            }
            let so_far: u64 = upload
                .parts
                .iter()
                .filter(|(n, _)| **n != number)
                .map(|(_, p)| p.len() as u64)
                .sum();
            if so_far + size > limit {
                return Err(too_large(limit));
            }
            upload.parts.insert(number, sent.bytes.to_vec().into());
        }
        _ => {
            if sent.part_number.is_some() {
                return Err(NotionError::validation(
                    "body.part_number should be present only for a `multi_part` upload.",
                ));
            }
            if size > PART_MAX {
                return Err(NotionError::validation(format!(
                    "The file is {size} bytes; a `single_part` upload takes at most {PART_MAX}. Use `multi_part`."
                )));
            }
            if size > limit {
                return Err(too_large(limit));
            }
            if upload.filename.is_none() {
                upload.filename = sent.filename.clone();
            }
            if upload.content_type.is_none() {
                upload.content_type = Some(
                    sent.content_type
                        .clone()
                        .filter(|t| t != "application/octet-stream")
                        .unwrap_or_else(|| {
                            content_type_for(upload.filename.as_deref().unwrap_or("")).to_string()
                        }),
                );
            }
            upload.content = Some(sent.bytes.to_vec().into());
            upload.content_length = Some(size);
            upload.status = UploadStatus::Uploaded;
            events.push(upload_event("file_upload.completed", upload, Value::Null));
        }
    }
    upload.stamps.last_edited_time = now;
    let answer = render::file_upload(&caller.ctx(emulator), upload);
    emulator.webhooks.emit(&ws, events);
    Ok(answer)
}

/// Every file upload a request body names, with where: `{file_upload: {id}}` objects (files
/// properties, media blocks, icons, covers) and a comment's `attachments[].file_upload_id`.
fn references(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = v::join(path, key);
                if key == "file_upload"
                    && let Some(id) = child.get("id").and_then(Value::as_str)
                {
                    out.push((format!("{child_path}.id"), id.to_string()));
                } else if key == "file_upload_id"
                    && let Some(id) = child.as_str()
                {
                    out.push((child_path, id.to_string()));
                } else {
                    references(child, &child_path, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, &v::index(path, i), out);
            }
        }
        _ => {}
    }
}

/// Middleware on the `/v1` routes: a write that names file uploads must name the caller's
/// own `uploaded` ones (refused, naming the field, before the handler runs), and once it
/// succeeded they are attached and no longer expire.
pub async fn attach_named_uploads(
    State(emulator): State<Arc<Emulator>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let writes = matches!(
        *request.method(),
        axum::http::Method::POST | axum::http::Method::PATCH
    );
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    if !writes {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The gate has already read and capped the body.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    // Most writes name no upload: only those are parsed here (the handler parses its own),
    // and a body that is not JSON (a file part) is the handler's to refuse.
    let names_an_upload = bytes
        .windows(b"file_upload".len())
        .any(|w| w == b"file_upload");
    let parsed = if names_an_upload {
        serde_json::from_slice::<Value>(&bytes).ok()
    } else {
        None
    };
    let ids = match parsed {
        Some(value) => match check_references(&emulator, &caller, &value) {
            Ok(ids) => ids,
            Err(e) => return e.into_response(),
        },
        None => Vec::new(),
    };
    let response = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    if response.status().is_success() && !ids.is_empty() {
        mark_attached(&emulator, &ids);
    }
    response
}

/// Checks every upload a write names: the caller's own, and `uploaded`. Returns their ids.
fn check_references(emulator: &Emulator, caller: &Caller, body: &Value) -> ApiResult<Vec<Id>> {
    let mut found = Vec::new();
    references(body, "body", &mut found);
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut ws = swept(emulator);
    let mut ids = Vec::new();
    for (path, raw) in found {
        let id = crate::ids::parse(&raw).ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} should be a valid uuid, instead was `\"{raw}\"`."
            ))
        })?;
        let upload = own(&mut ws, caller, id).map_err(|_| {
            NotionError::body_validation(format!(
                "{path} names file upload `{id}`, which does not exist or belongs to another integration."
            ))
        })?;
        if upload.status != UploadStatus::Uploaded {
            return Err(NotionError::body_validation(format!(
                "{path} names file upload `{id}`, which is `{}`; only an `uploaded` file can be attached.",
                upload.status.as_str()
            )));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// After a successful write: the uploads it attached no longer expire.
fn mark_attached(emulator: &Emulator, ids: &[Id]) {
    let mut ws = emulator.workspace();
    let now = Utc::now();
    for id in ids {
        if let Some(upload) = ws.file_upload_mut(*id)
            && upload.expiry_time.is_some()
        {
            upload.expiry_time = None;
            upload.stamps.last_edited_time = now;
        }
    }
}

/// The bytes and content type of an uploaded file, for the hosted-file route.
pub fn content_of(ws: &Workspace, id: Id) -> Option<(Arc<[u8]>, String)> {
    let upload = ws.file_upload(id)?;
    let content = upload.content.clone()?;
    let content_type = upload
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    Some((content, content_type))
}

/// Admin: ends an upload's hour now, as if it had passed.
pub fn expire_now(emulator: &Emulator, id: Id) -> ApiResult<Value> {
    let mut ws = emulator.workspace();
    let upload = ws
        .file_upload_mut(id)
        .ok_or_else(|| NotionError::not_found("file upload", id))?;
    if upload.expiry_time.is_none() {
        return Err(NotionError::validation(
            "The file upload is attached or failed; it no longer expires.",
        ));
    }
    upload.expiry_time = Some(Utc::now());
    let events = expire_due(&mut ws);
    emulator.webhooks.emit(&ws, events);
    let upload = ws.file_upload(id).expect("still there");
    Ok(json!({"id": id, "status": upload.status.as_str()}))
}
