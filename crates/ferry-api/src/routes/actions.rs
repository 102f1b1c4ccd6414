//! Actions: `POST /action/trigger` (Nango's body and headers; `X-Async: true` queues the run
//! and `GET /action/:id` gives its result), the same actions at the paths
//! of Nango's catalogue under `/v1`, and `GET /scripts/config`, which lists what every
//! integration of the environment offers.

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::async_actions::AsyncOutcome;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::{Engine, ErrorCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Env;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, QueryParams, connection_headers, header, invalid_header, parse_json};

/// The connection the headers name, whether the caller asked for an asynchronous run
/// (`X-Async: true`), and how many retries it allows (`X-Max-Retries`, 0–5, for async runs).
fn target(headers: &HeaderMap) -> ApiResult<(IntegrationKey, ConnectionId, bool, u8)> {
    let (key, connection) = connection_headers(headers)?;
    let retries = match header(headers, "X-Max-Retries")? {
        None => 0,
        Some(text) => text
            .parse::<u8>()
            .ok()
            .filter(|r| *r <= ferry_engine::async_actions::MAX_RETRIES)
            .ok_or_else(|| invalid_header("X-Max-Retries", "must be a whole number from 0 to 5"))?,
    };
    let asynchronous = match header(headers, "X-Async")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid_header("X-Async", "must be true or false")),
    };
    Ok((key, connection, asynchronous, retries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerBody {
    action_name: String,
    #[serde(default)]
    input: Value,
}

/// `POST /action/trigger`: the output at once, or with `X-Async: true` `202` and where to
/// poll for it.
pub(super) async fn trigger(
    State(engine): State<Engine>,
    Env(env): Env,
    headers: HeaderMap,
    Json(body): Json<TriggerBody>,
) -> ApiResult<Response> {
    let (key, connection, asynchronous, retries) = target(&headers)?;
    if body.action_name.is_empty() || body.action_name.len() > 255 {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "action_name: must be 1 to 255 characters",
        ));
    }
    if asynchronous {
        let id = engine
            .async_actions()
            .enqueue(
                &env.id,
                &key,
                &connection,
                &body.action_name,
                body.input,
                retries,
            )
            .await?;
        let status_url = format!("/action/{id}");
        let location = HeaderValue::from_str(&status_url).expect("a UUID path is a header value");
        return Ok((
            StatusCode::ACCEPTED,
            [(LOCATION, location)],
            axum::Json(json!({"id": id, "statusUrl": status_url})),
        )
            .into_response());
    }
    let output = engine
        .actions()
        .trigger(&env.id, &key, &connection, &body.action_name, body.input)
        .await?;
    Ok(axum::Json(output).into_response())
}

/// `GET /action/{id}`: an asynchronous run's output once it succeeded, its error once it
/// failed, and (as Nango answers) `404 not_found` until it ends.
pub(super) async fn async_result(
    State(engine): State<Engine>,
    Env(env): Env,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidUriParams,
                "id: must be the id POST /action/trigger gave (a UUID)",
            )
        })?
        .to_string();
    match engine.async_actions().outcome(&env.id, &id).await? {
        Some(AsyncOutcome::Done(output)) => Ok(axum::Json(output).into_response()),
        Some(AsyncOutcome::Failed(error)) => Err(ApiError(error)),
        Some(AsyncOutcome::Waiting) => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("Action '{id}' has not ended yet; poll again"),
        )),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("No action '{id}' found"),
        )),
    }
}

/// `GET|POST /v1/<path>`: the action whose catalogue endpoint this is. A GET takes its input
/// from the query string (`true`/`false` read as booleans), a POST from its JSON body.
pub(super) async fn by_endpoint(
    State(engine): State<Engine>,
    Env(env): Env,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let (key, connection, asynchronous, _) = target(&headers)?;
    if asynchronous {
        return Err(invalid_header(
            "X-Async",
            "the /v1 paths answer synchronously; use POST /action/trigger for an asynchronous run",
        ));
    }
    let path = format!("/{path}");
    let action = engine
        .actions()
        .by_endpoint(&env.id, &key, method.as_str(), &path)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownRoute,
                format!("No action of this integration answers {method} /v1{path}; GET /scripts/config lists them."),
            )
        })?;
    let input = if method == Method::GET {
        let mut input = Map::new();
        let query = query.unwrap_or_default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let name = name.into_owned();
            let value = match value.as_ref() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(value.into_owned()),
            };
            if input.insert(name.clone(), value).is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidQueryParams,
                    format!("{name}: is given more than once"),
                ));
            }
        }
        Value::Object(input)
    } else if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        parse_json(&body)?
    };
    let output = engine
        .actions()
        .trigger(&env.id, &key, &connection, action.name, input)
        .await?;
    Ok(axum::Json(output).into_response())
}

/// `GET /files/{token}`: no key, the sealed token is the credential. Redirects to the file's
/// current URL, read from the provider now (Notion's expire after an hour); never cached.
pub(super) async fn file_link(
    State(engine): State<Engine>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let url = engine.actions().fresh_file_url(&token).await?;
    let location = HeaderValue::from_str(&url).map_err(|_| {
        ApiError::new(
            ErrorCode::ProviderError,
            "the provider gave a file URL that is not a valid header value",
        )
    })?;
    Ok((
        StatusCode::FOUND,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// `GET /scripts/config[?format=nango|openai]`.
pub(super) async fn scripts_config(
    State(engine): State<Engine>,
    Env(env): Env,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let format = query.take("format").unwrap_or_else(|| "nango".to_string());
    query.finish()?;
    let integrations = engine.integrations().list(&env.id).await?;
    match format.as_str() {
        "nango" => {
            let mut out = Vec::new();
            for integration in &integrations {
                let actions = ferry_engine::actions::of_provider(integration.provider);
                out.push(json!({
                    "providerConfigKey": integration.unique_key.as_str(),
                    "provider": integration.provider.name,
                    "syncs": [],
                    "actions": actions.iter().map(|a| { let (input, output) = (a.input.json(), (a.output)()); json!({
                        "name": a.name,
                        "type": "action",
                        "description": a.description,
                        "version": env!("CARGO_PKG_VERSION"),
                        "enabled": true,
                        "is_public": true,
                        "pre_built": true,
                        "endpoints": a.endpoint.map(|(method, path)| vec![json!({"method": method, "path": path})]).unwrap_or_default(),
                        "json_schema": {"input": input, "output": output},
                        "input": input,
                        "returns": output,
                    })}).collect::<Vec<_>>(),
                }));
            }
            Ok(axum::Json(out).into_response())
        }
        "openai" => {
            let mut functions = Vec::new();
            for integration in &integrations {
                for a in ferry_engine::actions::of_provider(integration.provider) {
                    functions.push(json!({
                        "name": a.name,
                        "description": a.description,
                        "parameters": a.input.json(),
                    }));
                }
            }
            Ok(axum::Json(json!({"data": functions})).into_response())
        }
        other => Err(ApiError::new(
            ErrorCode::InvalidQueryParams,
            format!("format: `{other}` is not a format (nango, openai)"),
        )),
    }
}
