//! The provider catalogue (Nango's `providers.yaml` shape). Ferry's first provider is Notion;
//! its URLs follow `FERRY_NOTION_BASE_URL`, or an integration's own override.

use serde_json::{Value, json};

use crate::Settings;

pub const NOTION: &str = "notion";
/// The `Notion-Version` the proxy sends unless the integration or the caller says otherwise.
pub const DEFAULT_NOTION_VERSION: &str = "2025-09-03";
/// Notion's documented average limit per connection, and a small burst.
pub const DEFAULT_RATE: f64 = 3.0;
pub const DEFAULT_BURST: u32 = 10;

/// A provider entry as `GET /providers/:provider` answers it.
pub fn notion_entry(settings: &Settings) -> Value {
    let base = &settings.notion_base_url;
    json!({
        "name": NOTION,
        "display_name": "Notion",
        "categories": ["knowledge-base", "popular", "productivity"],
        "auth_mode": "OAUTH2",
        "authorization_url": format!("{base}/v1/oauth/authorize"),
        "token_url": format!("{base}/v1/oauth/token"),
        "authorization_params": {"response_type": "code", "owner": "user"},
        "authorization_method": "header",
        "body_format": "json",
        "webhook_routing_script": "notionWebhookRouting",
        "webhook_user_defined_secret": true,
        "token_response_metadata": ["workspace_id", "workspace_name", "bot_id", "owner"],
        "proxy": {
            "retry": {"after": ["retry-after"]},
            "base_url": base,
            "headers": {"notion-version": DEFAULT_NOTION_VERSION},
            "paginate": {
                "type": "cursor",
                "cursor_path_in_response": "next_cursor",
                "cursor_name_in_request": "start_cursor",
                "limit_name_in_request": "page_size",
                "response_path": "results",
            },
        },
        "docs": "https://developers.notion.com/docs/authorization",
    })
}

pub fn catalogue(settings: &Settings) -> Vec<Value> {
    vec![notion_entry(settings)]
}

pub fn provider(settings: &Settings, name: &str) -> Option<Value> {
    (name == NOTION).then(|| notion_entry(settings))
}

/// Where one integration's Notion calls go, with its per-integration overrides applied.
#[derive(Debug, Clone)]
pub struct NotionEndpoints {
    pub api_base: String,
    pub authorize_url: String,
    pub token_url: String,
    pub version: String,
    pub rate: f64,
    pub burst: u32,
}

pub fn notion_endpoints(settings: &Settings, integration_config: &Value) -> NotionEndpoints {
    let text = |key: &str| {
        integration_config
            .get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim_end_matches('/').to_string())
    };
    let base = text("notion_base_url").unwrap_or_else(|| settings.notion_base_url.clone());
    NotionEndpoints {
        authorize_url: text("authorization_url")
            .unwrap_or_else(|| format!("{base}/v1/oauth/authorize")),
        token_url: text("token_url").unwrap_or_else(|| format!("{base}/v1/oauth/token")),
        version: text("notion_version").unwrap_or_else(|| DEFAULT_NOTION_VERSION.to_string()),
        rate: integration_config
            .get("rate_limit")
            .and_then(Value::as_f64)
            .unwrap_or(DEFAULT_RATE),
        burst: integration_config
            .get("burst")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_BURST, |b| b.clamp(1, 10_000) as u32),
        api_base: base,
    }
}
