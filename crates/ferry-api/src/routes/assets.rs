//! `GET /images/template-logos/{provider}.svg`: each provider's logo, as integrations link it.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use ferry_engine::{ErrorCode, providers};

use crate::error::ApiError;

pub(super) async fn logo(Path(file): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let entry = file
        .strip_suffix(".svg")
        .and_then(providers::entry)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownProvider,
                format!("There is no logo `{file}`."),
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        entry.logo_svg,
    ))
}
