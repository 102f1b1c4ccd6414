//! Where one integration's calls go: the provider's entry, the operator's base URL setting
//! and the integration's own settings ([`IntegrationConfig`]), resolved into [`Endpoints`].

use ferry_provider::{Pace, ProviderEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Settings;
pub use crate::catalogue::{catalogue, entry};
use crate::error::{EngineError, EngineResult, ErrorCode};

/// Ferry's settings for one integration; every field overrides a provider default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationConfig {
    /// The provider API's base URL (and of the OAuth URLs below when they are not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The version header sent when the caller sends none (`Notion-Version` for Notion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Requests per second per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Requests a connection may burst before the rate applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl IntegrationConfig {
    /// Reads `integration_config` from a request: known keys only, values as JSON or as
    /// strings (Nango sends strings). Errors name the key.
    pub fn from_request(value: &Map<String, Value>) -> Result<IntegrationConfig, String> {
        let mut config = IntegrationConfig::default();
        for (key, value) in value {
            let field = format!("integration_config.{key}");
            if value.is_null() {
                continue;
            }
            let text = || -> Result<String, String> {
                value
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{field} must be a string"))
            };
            let number = || -> Result<f64, String> {
                value
                    .as_f64()
                    .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| format!("{field} must be a number"))
            };
            let url = || -> Result<String, String> {
                let text = text()?;
                let parsed = url::Url::parse(&text)
                    .map_err(|_| format!("{field} must be an http(s) URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(format!("{field} must be an http(s) URL"));
                }
                Ok(text.trim_end_matches('/').to_string())
            };
            match key.as_str() {
                "base_url" => config.base_url = Some(url()?),
                "authorization_url" => config.authorization_url = Some(url()?),
                "token_url" => config.token_url = Some(url()?),
                "api_version" => config.api_version = Some(text()?),
                "rate_limit" => {
                    let rate = number()?;
                    if !(rate > 0.0 && rate <= 100_000.0) {
                        return Err(format!(
                            "{field} must be requests per second, above 0 and at most 100000"
                        ));
                    }
                    config.rate_limit = Some(rate);
                }
                "burst" => {
                    let burst = number()?;
                    if !(burst.fract() == 0.0 && (1.0..=100_000.0).contains(&burst)) {
                        return Err(format!("{field} must be a whole number from 1 to 100000"));
                    }
                    config.burst = Some(burst as u32);
                }
                other => {
                    return Err(format!(
                        "integration_config has no setting `{other}`; known: base_url, authorization_url, token_url, api_version, rate_limit, burst"
                    ));
                }
            }
        }
        Ok(config)
    }

    pub(crate) fn check_for(&self, provider: &ProviderEntry) -> EngineResult<()> {
        if let Some(version) = &self.api_version {
            let valid = provider
                .version_header
                .as_ref()
                .is_some_and(|h| (h.is_valid)(version));
            if !valid {
                return Err(EngineError::new(
                    ErrorCode::InvalidBody,
                    format!(
                        "integration_config.api_version `{version}` is not a version {} accepts",
                        provider.display_name
                    ),
                ));
            }
        }
        Ok(())
    }
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
    use serde_json::json;

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

    fn config(value: Value) -> Result<IntegrationConfig, String> {
        IntegrationConfig::from_request(value.as_object().unwrap())
    }

    #[test]
    fn settings_read_from_json_or_strings_and_name_the_key() {
        let c = config(json!({"base_url": "http://127.0.0.1:1/", "rate_limit": "2.5", "burst": 4}))
            .unwrap();
        assert_eq!(c.base_url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(c.rate_limit, Some(2.5));
        assert_eq!(c.burst, Some(4));
        for (bad, field) in [
            (json!({"rate_limit": -1}), "integration_config.rate_limit"),
            (
                json!({"rate_limit": "inf"}),
                "integration_config.rate_limit",
            ),
            (json!({"burst": 1.5}), "integration_config.burst"),
            (
                json!({"token_url": "ftp://x"}),
                "integration_config.token_url",
            ),
            (json!({"colour": "blue"}), "colour"),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }
}
