//! What the rest of the API needs of file uploads, kept apart from their routes: the size
//! limits, and the stored form of an uploaded file attached to a property, block, icon,
//! cover or comment (a Notion-hosted file that remembers its upload).

use chrono::Duration;
use serde_json::{Value, json};

use crate::error::{ApiResult, NotionError};
use crate::model::{Id, UploadStatus, Workspace};
use crate::validate as v;

const MIB: u64 = 1024 * 1024;
/// The largest single-part upload, and the largest part of a multi-part one.
pub const PART_MAX: u64 = 20 * MIB;
/// Every part but the last of a multi-part upload is at least this big.
pub const PART_MIN: u64 = 5 * MIB;
pub const MAX_PARTS: u32 = 1000;
/// What a paid workspace may upload in one file.
pub const PAID_PLAN_LIMIT: u64 = 5 * 1024 * MIB;
/// The largest request body `send` takes: one part plus the form's own bytes.
pub const SEND_BODY_LIMIT: usize = (PART_MAX + MIB) as usize;
/// How long an upload waits to be sent and attached.
pub const LIFETIME: Duration = Duration::hours(1);
pub const MAX_FILENAME_BYTES: usize = 900;
/// The route whose body may be a file part rather than JSON.
pub const SEND_ROUTE: &str = "/v1/file_uploads/{file_upload_id}/send";

/// A content type guessed from a file name, as browsers and Notion do.
pub fn content_type_for(filename: &str) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "txt" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// The stored form of an attached upload (checked by [`check_references`] first), with the
/// name to show: `{type:"file", file:{name, upload}}`.
pub fn stored_reference(ws: &Workspace, id: Id, path: &str) -> ApiResult<(Value, String)> {
    let upload = ws
        .file_upload(id)
        .filter(|u| u.status == UploadStatus::Uploaded)
        .ok_or_else(|| {
            NotionError::body_validation(format!(
                "{path} names file upload `{id}`, which is not an `uploaded` file."
            ))
        })?;
    let name = upload.filename.clone().unwrap_or_else(|| "file".into());
    Ok((
        json!({"type": "file", "file": {"name": name, "upload": id}}),
        name,
    ))
}

/// Parses `{file_upload: {id}}` at `path` into its stored form and name.
pub fn parse_reference(ws: &Workspace, value: &Value, path: &str) -> ApiResult<(Value, String)> {
    let upload_path = v::join(path, "file_upload");
    let map = v::object(Some(value), &upload_path)?;
    let id = v::id(map.get("id"), &v::join(&upload_path, "id"))?;
    stored_reference(ws, id, &upload_path)
}

/// The comment attachment category Notion gives a content type.
pub fn attachment_category(content_type: Option<&str>) -> &'static str {
    match content_type.unwrap_or("").split('/').next() {
        Some("image") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        _ if content_type == Some("application/pdf") => "pdf",
        _ => "productivity",
    }
}
