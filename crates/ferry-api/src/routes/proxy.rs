//! `/proxy/*`: the caller's request, sent to Notion for a connection (see the engine's proxy).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ferry_engine::proxy::{ProxyRequest, REPLAYABLE_BODY, RequestBody, ResponseBody};
use ferry_engine::{Engine, EngineError, ErrorKind};
use http_body_util::BodyExt as _;

use crate::auth::Env;
use crate::error::ApiResult;

pub async fn proxy(
    State(engine): State<Engine>,
    Env(env): Env,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let path_and_query = path_and_query
        .strip_prefix("/proxy")
        .unwrap_or(path_and_query)
        .to_string();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let body = match declared {
        Some(0) => RequestBody::Empty,
        // Small sized bodies are held so a retry can resend them.
        Some(n) if n <= REPLAYABLE_BODY => {
            let bytes = body
                .collect()
                .await
                .map_err(|e| {
                    EngineError::invalid(
                        "invalid_body",
                        format!("The request body could not be read: {e}"),
                    )
                })?
                .to_bytes();
            RequestBody::Buffered(bytes)
        }
        _ if parts.method == axum::http::Method::GET
            || parts.method == axum::http::Method::HEAD =>
        {
            RequestBody::Empty
        }
        _ => RequestBody::Stream(reqwest::Body::wrap_stream(
            futures_util::TryStreamExt::map_err(body.into_data_stream(), std::io::Error::other),
        )),
    };
    let response = engine
        .proxy(ProxyRequest {
            environment_id: env.id,
            method: parts.method,
            path_and_query,
            headers: parts.headers,
            body,
        })
        .await?;
    let mut builder = Response::builder().status(response.status);
    if let Some(headers) = builder.headers_mut() {
        *headers = response.headers;
    }
    let body = match response.body {
        ResponseBody::Buffered(bytes) => Body::from(bytes),
        ResponseBody::Stream(upstream) => Body::from_stream(upstream.bytes_stream()),
    };
    builder
        .body(body)
        .map_err(|e| EngineError::new(ErrorKind::Internal, "server_error", e.to_string()).into())
        .map(IntoResponse::into_response)
}
