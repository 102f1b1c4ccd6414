//! The provider catalogue, and where one integration's calls go. This is the one place in
//! the engine that names a provider crate: each provider is an entry here.

use ferry_provider::{Pace, ProviderEntry};

use crate::Settings;
use crate::integrations::IntegrationConfig;

static CATALOGUE: [&ProviderEntry; 1] = [&ferry_notion::PROVIDER];

/// Every provider Ferry knows.
pub fn catalogue() -> &'static [&'static ProviderEntry] {
    &CATALOGUE
}

pub fn entry(name: &str) -> Option<&'static ProviderEntry> {
    CATALOGUE.iter().copied().find(|p| p.name == name)
}

/// Where one integration's calls go, with the operator's setting and the integration's own
/// overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub base_url: String,
    pub authorize_url: String,
    pub token_url: String,
    /// The version header's value when the caller sends none (if the provider has one).
    pub api_version: Option<String>,
    pub pace: Pace,
}

pub fn endpoints(
    settings: &Settings,
    provider: &'static ProviderEntry,
    config: &IntegrationConfig,
) -> Endpoints {
    let base_url = config
        .base_url
        .clone()
        .or_else(|| {
            settings
                .provider_base_url(provider.name)
                .map(str::to_string)
        })
        .unwrap_or_else(|| provider.default_base_url.to_string());
    let base_url = base_url.trim_end_matches('/').to_string();
    Endpoints {
        authorize_url: config
            .authorization_url
            .clone()
            .unwrap_or_else(|| format!("{base_url}{}", provider.oauth.authorization_path)),
        token_url: config
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{base_url}{}", provider.oauth.token_path)),
        api_version: config.api_version.clone().or_else(|| {
            provider
                .version_header
                .as_ref()
                .map(|h| h.default.to_string())
        }),
        pace: Pace {
            rate: config.rate_limit.unwrap_or(provider.pace.rate),
            burst: config.burst.unwrap_or(provider.pace.burst),
        },
        base_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_over_the_setting_and_the_entry() {
        let settings = Settings::load_from(None, |name| {
            (name == "FERRY_NOTION_BASE_URL").then(|| "http://127.0.0.1:7070/".to_string())
        })
        .unwrap();
        let notion = entry("notion").unwrap();
        let plain = endpoints(&settings, notion, &IntegrationConfig::default());
        assert_eq!(plain.base_url, "http://127.0.0.1:7070");
        assert_eq!(plain.token_url, "http://127.0.0.1:7070/v1/oauth/token");
        assert_eq!(plain.api_version.as_deref(), Some("2025-09-03"));
        assert_eq!(plain.pace, notion.pace);
        let custom = endpoints(
            &settings,
            notion,
            &IntegrationConfig {
                base_url: Some("http://10.0.0.1".into()),
                api_version: Some("2022-06-28".into()),
                rate_limit: Some(10.0),
                ..Default::default()
            },
        );
        assert_eq!(custom.authorize_url, "http://10.0.0.1/v1/oauth/authorize");
        assert_eq!(custom.api_version.as_deref(), Some("2022-06-28"));
        assert_eq!(custom.pace.rate, 10.0);
        assert!(entry("slack").is_none());
    }
}
