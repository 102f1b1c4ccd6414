//! Ferry's settings: defaults, then a TOML file (`--config`), then `FERRY_*` environment
//! variables. An invalid value stops the start with a message that names the setting.
//! Secrets (keys, the database URL's password) are wrapped so that no `Debug` output, log
//! line or panic message can show them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use secrecy::{ExposeSecret, SecretString};

use crate::catalogue;

/// Every setting, documented in `ferry.example.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub database_url: DatabaseUrl,
    /// Base64 of 32 bytes; generated into the data folder when absent.
    pub encryption_key: Option<SecretString>,
    /// The `dev` environment's API key; generated on first start when absent.
    pub secret_key: Option<SecretString>,
    /// The account key that manages environments; generated on first start when absent.
    pub account_key: Option<SecretString>,
    /// Where each provider's API and OAuth URLs point (`FERRY_<PROVIDER>_BASE_URL`), by
    /// provider name; an integration may override it.
    pub provider_base_urls: BTreeMap<&'static str, String>,
    pub log_retention_days: u32,
    /// The largest request or response body kept in an operation log, in bytes.
    pub log_body_limit: usize,
    /// Origins a `Base-Url-Override` may name besides the provider's own.
    pub proxy_allowed_origins: Vec<Origin>,
}

/// The database URL; its password never shows in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                write!(f, "{}://…@{}", &url[..scheme], &url[at + 1..])
            }
            _ => f.write_str(url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A URL's scheme, host and port: what a `Base-Url-Override` is compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &url::Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct SettingsError {
    pub setting: String,
    pub message: String,
}

fn invalid(setting: &str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        setting: setting.to_string(),
        message: message.into(),
    }
}

const FIXED_NAMES: &[&str] = &[
    "FERRY_LISTEN",
    "FERRY_PUBLIC_URL",
    "FERRY_DATABASE_URL",
    "FERRY_ENCRYPTION_KEY",
    "FERRY_SECRET_KEY",
    "FERRY_ACCOUNT_KEY",
    "FERRY_LOG_RETENTION_DAYS",
    "FERRY_LOG_BODY_LIMIT",
    "FERRY_PROXY_ALLOWED_ORIGINS",
];

/// The variable naming a provider's base URL, e.g. `FERRY_NOTION_BASE_URL`.
pub fn base_url_setting(provider: &str) -> String {
    format!(
        "FERRY_{}_BASE_URL",
        provider.to_ascii_uppercase().replace('-', "_")
    )
}

/// Setting names as environment variables; in the TOML file the same names are lowercase
/// without the `FERRY_` prefix (`listen = "127.0.0.1:3003"`).
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = FIXED_NAMES.iter().map(|n| n.to_string()).collect();
    names.extend(
        catalogue::catalogue()
            .iter()
            .map(|p| base_url_setting(p.name)),
    );
    names
}

impl Settings {
    /// Loads settings from an optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let names = names();
        if env("FERRY_PROXY_ALLOWED_HOSTS").is_some_and(|v| !v.is_empty()) {
            return Err(invalid(
                "FERRY_PROXY_ALLOWED_HOSTS",
                "replaced by FERRY_PROXY_ALLOWED_ORIGINS, which also fixes the scheme and port (e.g. https://api.example.com)",
            ));
        }
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid("--config", format!("{}: {e}", path.display())))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| invalid("--config", format!("{}: {e}", path.display())))?;
            for (key, value) in table {
                let name = names
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
                values.insert(name.clone(), text);
            }
        }
        for name in &names {
            if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                values.insert(name.clone(), v);
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
        let mut provider_base_urls = BTreeMap::new();
        for provider in catalogue::catalogue() {
            let setting = base_url_setting(provider.name);
            let url = get(&setting).unwrap_or_else(|| provider.default_base_url.to_string());
            check_url(&setting, &url)?;
            provider_base_urls.insert(provider.name, url.trim_end_matches('/').to_string());
        }
        let log_retention_days = get("FERRY_LOG_RETENTION_DAYS")
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=36_500).contains(d))
                    .ok_or_else(|| {
                        invalid(
                            "FERRY_LOG_RETENTION_DAYS",
                            "expected a whole number of days from 1 to 36500",
                        )
                    })
            })
            .transpose()?
            .unwrap_or(30);
        let log_body_limit = get("FERRY_LOG_BODY_LIMIT")
            .map(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n <= 10 * 1024 * 1024)
                    .ok_or_else(|| {
                        invalid(
                            "FERRY_LOG_BODY_LIMIT",
                            "expected a number of bytes up to 10485760",
                        )
                    })
            })
            .transpose()?
            .unwrap_or(16 * 1024);
        let proxy_allowed_origins = get("FERRY_PROXY_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        url::Url::parse(o)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https"))
                            .and_then(|u| Origin::of(&u))
                            .ok_or_else(|| {
                                invalid(
                                    "FERRY_PROXY_ALLOWED_ORIGINS",
                                    format!(
                                        "`{o}` is not an origin such as https://api.example.com"
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let encryption_key = get("FERRY_ENCRYPTION_KEY");
        if let Some(key) = &encryption_key {
            crate::crypto::Cipher::from_base64(key)
                .map_err(|e| invalid("FERRY_ENCRYPTION_KEY", e.to_string()))?;
        }
        let key_setting = |name: &str| -> Result<Option<SecretString>, SettingsError> {
            match get(name) {
                Some(k) if k.len() < 16 => Err(invalid(name, "must be at least 16 characters")),
                Some(k) if k.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(invalid(
                    name,
                    "must not contain spaces or control characters",
                )),
                other => Ok(other.map(SecretString::from)),
            }
        };
        let secret_key = key_setting("FERRY_SECRET_KEY")?;
        let account_key = key_setting("FERRY_ACCOUNT_KEY")?;
        if let (Some(a), Some(b)) = (&secret_key, &account_key)
            && a.expose_secret() == b.expose_secret()
        {
            return Err(invalid(
                "FERRY_ACCOUNT_KEY",
                "must differ from FERRY_SECRET_KEY: a key is either an environment's or the account's",
            ));
        }
        Ok(Settings {
            listen,
            public_url: public_url.trim_end_matches('/').to_string(),
            database_url: DatabaseUrl(database_url),
            encryption_key: encryption_key.map(SecretString::from),
            secret_key,
            account_key,
            provider_base_urls,
            log_retention_days,
            log_body_limit,
            proxy_allowed_origins,
        })
    }

    /// The folder for generated files (the encryption key): the SQLite file's folder, or
    /// `./ferry-data` for PostgreSQL.
    pub fn data_dir(&self) -> PathBuf {
        let url = self.database_url.expose();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
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

    /// The base URL of `provider`'s API, before any integration override.
    pub fn provider_base_url(&self, provider: &str) -> Option<&str> {
        self.provider_base_urls.get(provider).map(String::as_str)
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

fn check_url(setting: &str, value: &str) -> Result<(), SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| invalid(setting, format!("`{value}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
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
        assert_eq!(s.database_url.expose(), "sqlite://./ferry-data/ferry.db");
        assert_eq!(
            s.provider_base_url("notion"),
            Some("https://api.notion.com")
        );
        assert_eq!(s.data_dir(), PathBuf::from("./ferry-data"));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        for (name, value) in [
            ("FERRY_LISTEN", "nowhere"),
            ("FERRY_ENCRYPTION_KEY", "c2hvcnQ="),
            ("FERRY_DATABASE_URL", "mysql://x"),
            ("FERRY_LOG_RETENTION_DAYS", "0"),
            ("FERRY_SECRET_KEY", "short"),
            ("FERRY_PROXY_ALLOWED_ORIGINS", "example.com"),
            ("FERRY_NOTION_BASE_URL", "ftp://x"),
            ("FERRY_PROXY_ALLOWED_HOSTS", "example.com"),
        ] {
            let e = Settings::load_from(None, env(&[(name, value)])).unwrap_err();
            assert_eq!(e.setting, name);
        }
    }

    #[test]
    fn the_readme_and_the_example_file_document_every_setting() {
        let example = include_str!("../../../ferry.example.toml");
        let readme = include_str!("../../../README.md");
        for name in names() {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README.md's settings table does not list `{name}`"
            );
            let key = name.trim_start_matches("FERRY_").to_lowercase();
            assert!(
                example.contains(&format!("{key} = ")),
                "ferry.example.toml does not document `{key}`"
            );
        }
        let dir = std::env::temp_dir().join(format!("ferry-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferry.toml");
        std::fs::write(&file, example).unwrap();
        assert!(Settings::load_from(Some(&file), env(&[])).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let s = Settings::load_from(
            None,
            env(&[
                ("FERRY_SECRET_KEY", "secret-key-value-0123456789"),
                ("FERRY_ACCOUNT_KEY", "account-key-value-0123456789"),
                (
                    "FERRY_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
                (
                    "FERRY_DATABASE_URL",
                    "postgres://ferry:db-password-value@db.internal/ferry",
                ),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?} {s:#?} {}", s.database_url);
        for secret in [
            "secret-key-value",
            "account-key-value",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "db-password-value",
        ] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
        assert!(shown.contains("db.internal"), "the host still shows");
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let s = Settings::load_from(
            None,
            env(&[(
                "FERRY_PROXY_ALLOWED_ORIGINS",
                "https://api.example.com, http://localhost:8080",
            )]),
        )
        .unwrap();
        assert_eq!(
            s.proxy_allowed_origins,
            [
                Origin {
                    scheme: "https".into(),
                    host: "api.example.com".into(),
                    port: 443
                },
                Origin {
                    scheme: "http".into(),
                    host: "localhost".into(),
                    port: 8080
                },
            ]
        );
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("ferry-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferry.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:4000\"\nlog_retention_days = 7\nproxy_allowed_origins = [\"https://example.com\"]\nnotion_base_url = \"http://127.0.0.1:9\"\n").unwrap();
        let s =
            Settings::load_from(Some(&file), env(&[("FERRY_LOG_RETENTION_DAYS", "9")])).unwrap();
        assert_eq!(s.listen.port(), 4000);
        assert_eq!(
            s.log_retention_days, 9,
            "the environment wins over the file"
        );
        assert_eq!(s.proxy_allowed_origins.len(), 1);
        assert_eq!(s.provider_base_url("notion"), Some("http://127.0.0.1:9"));
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert_eq!(
            Settings::load_from(Some(&file), env(&[]))
                .unwrap_err()
                .setting,
            "--config"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
