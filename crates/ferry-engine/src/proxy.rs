//! The proxy: an app's call to its provider, made for a connection through the provider
//! client (pacing, retries, refresh, logs), and streamed back.
//!
//! The edge reads Nango's proxy headers into a [`ProxyRequest`]; here the call is checked
//! (a `Base-Url-Override` must name the provider's origin or an allowed one, so a token is
//! never sent elsewhere or in clear to another port) and recorded as a `proxy` operation.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Method};

use crate::client::{Call, CallBody, ProviderClient, ResponseBody};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::logs::{Logs, OperationKind, redact_url};
use crate::settings::{Origin, Settings};

/// A proxied call, read from Nango's headers by the edge.
pub struct ProxyRequest {
    pub provider_config_key: IntegrationKey,
    pub connection_id: ConnectionId,
    pub method: Method,
    /// What followed `/proxy`, with its query string, e.g. `/v1/users?page_size=10`.
    pub path_and_query: String,
    /// Headers to send to the provider (already chosen by the edge).
    pub headers: HeaderMap,
    pub retries: u32,
    pub retry_on: Vec<u16>,
    pub base_url_override: Option<url::Url>,
    pub body: CallBody,
}

pub struct ProxyResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: ResponseBody,
}

#[derive(Clone)]
pub struct Proxy {
    client: ProviderClient,
    logs: Logs,
    settings: Arc<Settings>,
}

impl Proxy {
    pub(crate) fn new(client: ProviderClient, logs: Logs, settings: Arc<Settings>) -> Proxy {
        Proxy {
            client,
            logs,
            settings,
        }
    }

    pub async fn send(
        &self,
        environment: &EnvironmentId,
        request: ProxyRequest,
    ) -> EngineResult<ProxyResponse> {
        let connection = self
            .client
            .resolve(
                environment,
                &request.provider_config_key,
                &request.connection_id,
            )
            .await?;
        let base = self.base_url(connection.base_url(), request.base_url_override)?;
        let path = request
            .path_and_query
            .strip_prefix(&*base)
            .unwrap_or(&request.path_and_query);
        let separator = if path.starts_with('/') { "" } else { "/" };
        let url = format!("{base}{separator}{path}");
        self.logs.wait_for_room().await;
        let recorder = self.logs.recorder(
            environment,
            OperationKind::Proxy,
            Some(&request.provider_config_key),
            Some(&request.connection_id),
        );
        let mut message = format!("{} {}", request.method, redact_url(&url));
        let call = Call {
            method: request.method,
            url,
            headers: request.headers,
            body: request.body,
            retries: request.retries,
            retry_on: request.retry_on,
        };
        let recorder = Mutex::new(recorder);
        let sent = self.client.send(&connection, call, &recorder).await;
        let recorder = recorder.into_inner().unwrap_or_else(|e| e.into_inner());
        match sent {
            Ok(response) => {
                let _ = write!(message, " → {}", response.status);
                recorder.finish((200..400).contains(&response.status), Some(message));
                Ok(ProxyResponse {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                })
            }
            Err(e) => {
                let _ = write!(message, ": {}", e.message());
                recorder.finish(false, Some(message));
                Err(e)
            }
        }
    }

    /// The base URL a call goes to: the integration's, or an override with the same origin
    /// (scheme, host and port) as it or as one in `FERRY_PROXY_ALLOWED_ORIGINS`.
    fn base_url<'a>(
        &self,
        base: &'a str,
        override_url: Option<url::Url>,
    ) -> EngineResult<Cow<'a, str>> {
        let Some(requested) = override_url else {
            return Ok(Cow::Borrowed(base));
        };
        if !matches!(requested.scheme(), "http" | "https") {
            return Err(EngineError::new(
                ErrorCode::InvalidBaseUrlOverride,
                "Base-Url-Override must be an http(s) URL.",
            ));
        }
        let origin = Origin::of(&requested).ok_or_else(|| {
            EngineError::new(
                ErrorCode::InvalidBaseUrlOverride,
                "Base-Url-Override must name a host.",
            )
        })?;
        let provider_origin = url::Url::parse(base).ok().and_then(|u| Origin::of(&u));
        let allowed = provider_origin.as_ref() == Some(&origin)
            || self.settings.proxy_allowed_origins.contains(&origin);
        if !allowed {
            return Err(EngineError::new(
                ErrorCode::BaseUrlOverrideNotAllowed,
                format!(
                    "Base-Url-Override may only name the provider's origin or one in FERRY_PROXY_ALLOWED_ORIGINS, not `{origin}`."
                ),
            ));
        }
        Ok(Cow::Owned(
            requested.as_str().trim_end_matches('/').to_string(),
        ))
    }
}
