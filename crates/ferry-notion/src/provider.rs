//! Notion's provider entry: the OAuth endpoints and token request style, the version header,
//! the documented pace, and what the `/providers` catalogue shows.

use ferry_provider::{
    CursorPagination, OAuth2Entry, Pace, ProviderEntry, TokenRequestStyle, VersionHeader,
};
use serde_json::Value;

use crate::ApiVersion;

pub static PROVIDER: ProviderEntry = ProviderEntry {
    name: "notion",
    display_name: "Notion",
    categories: &["knowledge-base", "popular", "productivity"],
    docs: "https://developers.notion.com/docs/authorization",
    logo_svg: include_str!("logo.svg"),
    default_base_url: "https://api.notion.com",
    oauth: OAuth2Entry {
        authorization_path: "/v1/oauth/authorize",
        token_path: "/v1/oauth/token",
        authorization_params: &[("response_type", "code"), ("owner", "user")],
        token_request: TokenRequestStyle::BasicAuthJsonBody,
        token_response_metadata: &[
            "workspace_id",
            "workspace_name",
            "workspace_icon",
            "bot_id",
            "owner",
            "duplicated_template_id",
        ],
        identity,
    },
    version_header: Some(VersionHeader {
        name: "notion-version",
        default: ApiVersion::DEFAULT.as_str(),
        is_valid: |v| ApiVersion::parse(v).is_some(),
    }),
    // Notion documents an average of three requests a second per connection, with bursts.
    // The burst is kept two below what Notion allows (10): calls in flight together reach
    // Notion a little closer than they left, and the two spare tokens absorb that.
    pace: Pace {
        rate: 3.0,
        burst: 8,
    },
    // 529 `service_overload` is to be treated like a 429.
    rate_limited_statuses: &[429, 529],
    pagination: CursorPagination {
        cursor_path_in_response: "next_cursor",
        cursor_name_in_request: "start_cursor",
        limit_name_in_request: "page_size",
        response_path: "results",
    },
    webhook_routing_script: Some("notionWebhookRouting"),
    webhook_user_defined_secret: true,
    actions: Some(&crate::actions::CATALOGUE),
    syncs: Some(&crate::syncs::CATALOGUE),
};

/// The workspace and the Notion user who authorized (or the bot, for workspace-level installs).
fn identity(token_response: &Value) -> Option<String> {
    let text = |pointer: &str| token_response.pointer(pointer).and_then(Value::as_str);
    let workspace = text("/workspace_id").unwrap_or_default();
    text("/owner/user/id")
        .map(|user| format!("{workspace}:{user}"))
        .or_else(|| text("/bot_id").map(|bot| format!("{workspace}:bot:{bot}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn identity_is_the_workspace_and_the_user() {
        let oauth = &super::PROVIDER.oauth;
        let user = json!({"workspace_id": "w", "bot_id": "b", "owner": {"type": "user", "user": {"id": "u"}}});
        assert_eq!((oauth.identity)(&user).as_deref(), Some("w:u"));
        let bot = json!({"workspace_id": "w", "bot_id": "b", "owner": {"type": "workspace", "workspace": true}});
        assert_eq!((oauth.identity)(&bot).as_deref(), Some("w:bot:b"));
        assert_eq!((oauth.identity)(&json!({})), None);
    }
}
