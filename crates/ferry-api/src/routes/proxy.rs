//! `/proxy/*`: Nango's proxy headers read into a typed request for the engine, and the
//! provider's answer streamed back.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::response::Response;
use ferry_engine::client::{BoxError, CallBody, HOP_BY_HOP, ResponseBody};
use ferry_engine::proxy::ProxyRequest;
use ferry_engine::{Engine, ErrorCode};
use futures_util::TryStreamExt;
use http_body_util::BodyExt as _;

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{connection_headers, header, invalid_header};

/// Request bodies up to this size are held so a retry can send them again; larger or
/// unsized ones stream through once.
pub const REPLAYABLE_BODY: usize = 1024 * 1024;
/// The most further attempts `Retries` may ask for.
const MAX_RETRIES: u32 = 10;
/// Caller headers passed on as they are; anything else goes through `Nango-Proxy-<Name>`.
const PASSED_ON: [HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::ACCEPT_ENCODING,
];

/// The headers sent to the provider: the passed-on ones, then `Nango-Proxy-*` with the
/// prefix stripped (they win over Ferry's defaults, such as the version header).
fn upstream_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in PASSED_ON {
        if let Some(v) = headers.get(&name) {
            out.insert(name, v.clone());
        }
    }
    for (name, value) in headers {
        if let Some(stripped) = name.as_str().strip_prefix("nango-proxy-") {
            if HOP_BY_HOP.contains(&stripped) || stripped == "content-length" {
                continue;
            }
            if let Ok(n) = HeaderName::from_bytes(stripped.as_bytes()) {
                out.insert(n, value.clone());
            }
        }
    }
    out
}

pub(super) async fn proxy(
    State(engine): State<Engine>,
    Env(env): Env,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let (provider_config_key, connection_id) = connection_headers(headers)?;
    let retries = match header(headers, "Retries")? {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|r| *r <= MAX_RETRIES)
            .ok_or_else(|| {
                invalid_header(
                    "Retries",
                    format!("must be a whole number from 0 to {MAX_RETRIES}"),
                )
            })?,
        None => 0,
    };
    let retry_on = match header(headers, "Retry-On")? {
        Some(v) => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| {
                        invalid_header(
                            "Retry-On",
                            "must be a comma-separated list of HTTP status codes",
                        )
                    })
            })
            .collect::<ApiResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    let base_url_override = header(headers, "Base-Url-Override")?
        .map(|v| {
            url::Url::parse(&v).map_err(|_| invalid_header("Base-Url-Override", "is not a URL"))
        })
        .transpose()?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let path_and_query = path_and_query
        .strip_prefix("/proxy")
        .unwrap_or(path_and_query)
        .to_string();
    let declared = header(headers, "Content-Length")?
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| invalid_header("Content-Length", "is not a number"))
        })
        .transpose()?;
    let body = match declared {
        Some(0) => CallBody::Empty,
        Some(n) if n <= REPLAYABLE_BODY => {
            let bytes = body
                .collect()
                .await
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidBody,
                        format!("The request body could not be read: {e}"),
                    )
                })?
                .to_bytes();
            CallBody::Buffered(bytes)
        }
        _ if parts.method == Method::GET || parts.method == Method::HEAD => CallBody::Empty,
        _ => CallBody::Stream(Box::pin(TryStreamExt::map_err(
            body.into_data_stream(),
            |e| Box::new(e) as BoxError,
        ))),
    };
    let response = engine
        .proxy()
        .send(
            &env.id,
            ProxyRequest {
                provider_config_key,
                connection_id,
                method: parts.method.clone(),
                path_and_query,
                headers: upstream_headers(headers),
                retries,
                retry_on,
                base_url_override,
                body,
            },
        )
        .await?;
    let body = match response.body {
        ResponseBody::Buffered(bytes) => Body::from(bytes),
        ResponseBody::Streamed(body) => Body::new(body),
    };
    let mut answer = Response::new(body);
    *answer.status_mut() = axum::http::StatusCode::from_u16(response.status)
        .map_err(|e| ferry_engine::EngineError::internal("the provider's status", e))?;
    *answer.headers_mut() = response.headers;
    Ok(answer)
}
