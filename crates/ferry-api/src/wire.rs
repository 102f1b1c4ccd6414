//! Ferry's wire shapes (Nango's), and the values read from requests: each input type checks
//! itself while it is parsed, so an error names the field that is wrong.

use std::collections::BTreeMap;

use ferry_engine::connections::{Connection, EndUser, Organization};
use ferry_engine::credentials::Credentials;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use serde::Deserialize;
use serde_json::{Value, json};

/// A string of 1 to `MAX` characters, not only spaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Text<const MAX: usize>(pub String);

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.trim().is_empty() || value.chars().count() > MAX {
            return Err(format!("must be 1 to {MAX} characters, not only spaces"));
        }
        if value.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Text(value))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct WireConnectionId(pub ConnectionId);

impl TryFrom<String> for WireConnectionId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        ConnectionId::parse(&value)
            .map(WireConnectionId)
            .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct WireIntegrationKey(pub IntegrationKey);

impl TryFrom<String> for WireIntegrationKey {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        IntegrationKey::parse(&value)
            .map(WireIntegrationKey)
            .map_err(|e| e.to_string())
    }
}

/// An RFC 3339 time, normalised to UTC with milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Timestamp(pub String);

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        chrono::DateTime::parse_from_rfc3339(&value)
            .map(|t| Timestamp(ferry_engine::logs::timestamp(t.with_timezone(&chrono::Utc))))
            .map_err(|_| format!("`{value}` is not an RFC 3339 time such as 2026-11-28T10:00:00Z"))
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct HttpUrl(pub String);

impl TryFrom<String> for HttpUrl {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match url::Url::parse(&value) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && value.len() <= 2048 =>
            {
                Ok(HttpUrl(value))
            }
            _ => Err(format!("`{value}` is not an http(s) URL")),
        }
    }
}

/// Tags: at most 64, keys of 1 to 64 characters, text values of at most 255.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>")]
pub struct Tags(pub BTreeMap<String, String>);

impl TryFrom<BTreeMap<String, String>> for Tags {
    type Error = String;
    fn try_from(tags: BTreeMap<String, String>) -> Result<Self, String> {
        if tags.len() > 64 {
            return Err("at most 64 tags".into());
        }
        for (key, value) in &tags {
            if key.is_empty() || key.chars().count() > 64 || key.chars().any(char::is_control) {
                return Err(format!("tag key `{key}` must be 1 to 64 characters"));
            }
            if value.chars().count() > 255 || value.chars().any(char::is_control) {
                return Err(format!(
                    "the value of tag `{key}` must be at most 255 characters"
                ));
            }
        }
        Ok(Tags(tags))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationIn {
    pub id: Text<255>,
    #[serde(default)]
    pub display_name: Option<Text<255>>,
}

impl OrganizationIn {
    pub fn into_engine(self) -> Organization {
        Organization {
            id: self.id.0,
            display_name: self.display_name.map(|t| t.0),
        }
    }
}

/// Nango's `EndUser`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUserIn {
    pub id: Text<255>,
    #[serde(default)]
    pub email: Option<Text<255>>,
    #[serde(default)]
    pub display_name: Option<Text<255>>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub organization: Option<OrganizationIn>,
}

impl EndUserIn {
    pub fn into_engine(self) -> EndUser {
        EndUser {
            id: self.id.0,
            email: self.email.map(|t| t.0),
            display_name: self.display_name.map(|t| t.0),
            tags: self.tags.map(|t| t.0).unwrap_or_default(),
            organization: self.organization.map(OrganizationIn::into_engine),
        }
    }
}

/// Nango's `ConnectionEndUser`.
pub fn end_user_json(user: &EndUser) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "tags": if user.tags.is_empty() { Value::Null } else { json!(user.tags) },
        "organization": user.organization.as_ref().map(|o| json!({"id": o.id, "display_name": o.display_name})),
    })
}

/// A connection as `GET /connections` lists it.
pub fn connection_list_item(c: &Connection) -> Value {
    json!({
        "id": c.number,
        "connection_id": c.connection_id.as_str(),
        "provider_config_key": c.provider_config_key.as_str(),
        "provider": c.provider,
        "errors": [],
        "end_user": c.end_user.as_ref().map(end_user_json),
        "tags": c.tags,
        "metadata": c.metadata,
        "created": c.created_at,
    })
}

/// Nango's `ConnectionFull`.
pub fn connection_full(
    c: &Connection,
    credentials: &Credentials,
    include_refresh_token: bool,
) -> Value {
    let mut credentials = serde_json::to_value(credentials).unwrap_or_else(|_| json!({}));
    if !include_refresh_token && let Some(map) = credentials.as_object_mut() {
        map.remove("refresh_token");
    }
    json!({
        "id": c.number,
        "connection_id": c.connection_id.as_str(),
        "provider_config_key": c.provider_config_key.as_str(),
        "provider": c.provider,
        "errors": [],
        "end_user": c.end_user.as_ref().map(end_user_json),
        "tags": c.tags,
        "metadata": c.metadata,
        "connection_config": c.connection_config,
        "webhook_url_override": c.webhook_url_override,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "last_fetched_at": c.last_fetched_at,
        "credentials": credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
        crate::extract::parse_json(value.to_string().as_bytes())
            .map_err(|e| e.0.message().to_string())
    }

    #[test]
    fn end_users_are_checked_field_by_field() {
        assert!(parse::<EndUserIn>(json!({"id": "u1", "email": "a@b.c"})).is_ok());
        let e = parse::<EndUserIn>(json!(42)).unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
        let e = parse::<EndUserIn>(json!({"id": " "})).unwrap_err();
        assert!(e.contains("id: must be 1 to 255"), "{e}");
        let e = parse::<EndUserIn>(json!({"id": "u", "tags": {"plan": 1}})).unwrap_err();
        assert!(e.contains("tags.plan"), "{e}");
        let e = parse::<EndUserIn>(json!({"id": "u", "colour": "x"})).unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn ids_and_times_are_checked() {
        assert!(parse::<WireConnectionId>(json!("ok-id")).is_ok());
        for bad in [json!(" "), json!("é"), json!(".")] {
            if bad == json!(".") {
                assert!(parse::<WireIntegrationKey>(bad).is_err());
            } else {
                assert!(parse::<WireConnectionId>(bad).is_err());
            }
        }
        assert!(
            parse::<Timestamp>(json!("garbage"))
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert_eq!(
            parse::<Timestamp>(json!("2026-01-01T10:00:00+01:00"))
                .unwrap()
                .0,
            "2026-01-01T09:00:00.000Z"
        );
    }
}
