//! Ferry's settings: defaults, then a TOML file (`--config`), then `FERRY_*` environment
//! variables. An invalid value stops the start with a message that names the setting.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, documented in `ferry.example.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub database_url: String,
    /// Base64 of 32 bytes; generated into the data folder when absent.
    pub encryption_key: Option<String>,
    /// The `dev` environment's API key; generated on first start when absent.
    pub secret_key: Option<String>,
    /// Where every Notion URL (API and OAuth) points; an integration may override it.
    pub notion_base_url: String,
    pub log_retention_days: u32,
    /// The largest request or response body kept in an operation log, in bytes.
    pub log_body_limit: usize,
    /// Hosts a `Base-Url-Override` may name beyond the provider's own.
    pub proxy_allowed_hosts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub message: String,
}

fn invalid(setting: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        setting,
        message: message.into(),
    }
}

/// Setting names as environment variables; in the TOML file the same names are lowercase
/// without the `FERRY_` prefix (`listen = "127.0.0.1:3003"`).
pub const NAMES: &[&str] = &[
    "FERRY_LISTEN",
    "FERRY_PUBLIC_URL",
    "FERRY_DATABASE_URL",
    "FERRY_ENCRYPTION_KEY",
    "FERRY_SECRET_KEY",
    "FERRY_NOTION_BASE_URL",
    "FERRY_LOG_RETENTION_DAYS",
    "FERRY_LOG_BODY_LIMIT",
    "FERRY_PROXY_ALLOWED_HOSTS",
];

impl Settings {
    /// Loads settings from an optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid("--config", format!("{}: {e}", path.display())))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| invalid("--config", format!("{}: {e}", path.display())))?;
            for (key, value) in table {
                let name = NAMES
                    .iter()
                    .find(|n| n.trim_start_matches("FERRY_").eq_ignore_ascii_case(&key))
                    .ok_or_else(|| {
                        invalid(
                            "--config",
                            format!("unknown setting `{key}` in {}", path.display()),
                        )
                    })?;
                let text = match value {
                    toml::Value::Array(items) => {
                        items.iter().map(scalar_text).collect::<Vec<_>>().join(",")
                    }
                    other => scalar_text(&other),
                };
                values.insert(name, text);
            }
        }
        for name in NAMES {
            if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                values.insert(name, v);
            }
        }
        let get = |name: &str| values.get(name).cloned();
        let listen: SocketAddr = get("FERRY_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:3003".into())
            .parse()
            .map_err(|_| invalid("FERRY_LISTEN", "expected an address such as 127.0.0.1:3003"))?;
        let public_url = get("FERRY_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}"));
        check_url("FERRY_PUBLIC_URL", &public_url)?;
        let database_url =
            get("FERRY_DATABASE_URL").unwrap_or_else(|| "sqlite://./ferry-data/ferry.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "FERRY_DATABASE_URL",
                "expected sqlite://PATH or postgres://…",
            ));
        }
        let notion_base_url =
            get("FERRY_NOTION_BASE_URL").unwrap_or_else(|| "https://api.notion.com".into());
        check_url("FERRY_NOTION_BASE_URL", &notion_base_url)?;
        let log_retention_days = get("FERRY_LOG_RETENTION_DAYS")
            .map(|v| {
                v.parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
                    invalid(
                        "FERRY_LOG_RETENTION_DAYS",
                        "expected a whole number of days ≥ 1",
                    )
                })
            })
            .transpose()?
            .unwrap_or(30);
        let log_body_limit = get("FERRY_LOG_BODY_LIMIT")
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| invalid("FERRY_LOG_BODY_LIMIT", "expected a number of bytes"))
            })
            .transpose()?
            .unwrap_or(16 * 1024);
        let proxy_allowed_hosts = get("FERRY_PROXY_ALLOWED_HOSTS")
            .map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let encryption_key = get("FERRY_ENCRYPTION_KEY");
        if let Some(key) = &encryption_key {
            ferry_store::Cipher::from_base64(key)
                .map_err(|e| invalid("FERRY_ENCRYPTION_KEY", e.to_string()))?;
        }
        let secret_key = get("FERRY_SECRET_KEY");
        if secret_key.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(invalid(
                "FERRY_SECRET_KEY",
                "must be at least 16 characters",
            ));
        }
        Ok(Settings {
            listen,
            public_url: public_url.trim_end_matches('/').to_string(),
            database_url,
            encryption_key,
            secret_key,
            notion_base_url: notion_base_url.trim_end_matches('/').to_string(),
            log_retention_days,
            log_body_limit,
            proxy_allowed_hosts,
        })
    }

    /// The folder for generated files (the encryption key): the SQLite file's folder, or
    /// `./ferry-data` for PostgreSQL.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(path) = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if !path.contains(":memory:")
                && let Some(parent) = Path::new(path)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
            {
                return parent.to_path_buf();
            }
        }
        PathBuf::from("./ferry-data")
    }
}

fn scalar_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn check_url(setting: &'static str, value: &str) -> Result<(), SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| invalid(setting, format!("`{value}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            setting,
            format!("`{value}` must be an http or https URL"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_match_the_design() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3003");
        assert_eq!(s.public_url, "http://127.0.0.1:3003");
        assert_eq!(s.database_url, "sqlite://./ferry-data/ferry.db");
        assert_eq!(s.notion_base_url, "https://api.notion.com");
        assert_eq!(s.data_dir(), PathBuf::from("./ferry-data"));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let e = Settings::load_from(None, env(&[("FERRY_LISTEN", "nowhere")])).unwrap_err();
        assert_eq!(e.setting, "FERRY_LISTEN");
        let e =
            Settings::load_from(None, env(&[("FERRY_ENCRYPTION_KEY", "c2hvcnQ=")])).unwrap_err();
        assert_eq!(e.setting, "FERRY_ENCRYPTION_KEY");
        let e = Settings::load_from(None, env(&[("FERRY_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(e.setting, "FERRY_DATABASE_URL");
        let e = Settings::load_from(None, env(&[("FERRY_LOG_RETENTION_DAYS", "0")])).unwrap_err();
        assert_eq!(e.setting, "FERRY_LOG_RETENTION_DAYS");
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("ferry-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferry.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:4000\"\nlog_retention_days = 7\nproxy_allowed_hosts = [\"example.com\"]\n").unwrap();
        let s =
            Settings::load_from(Some(&file), env(&[("FERRY_LOG_RETENTION_DAYS", "9")])).unwrap();
        assert_eq!(s.listen.port(), 4000);
        assert_eq!(
            s.log_retention_days, 9,
            "the environment wins over the file"
        );
        assert_eq!(s.proxy_allowed_hosts, ["example.com"]);
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert_eq!(
            Settings::load_from(Some(&file), env(&[]))
                .unwrap_err()
                .setting,
            "--config"
        );
    }
}
