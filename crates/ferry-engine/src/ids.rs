//! Identifiers that cross crates, parsed once at the edge: past it, a value of these types is
//! known to be well formed, and the engine never re-checks a string.

use std::fmt;

/// Why a value is not a valid identifier; the edge names the field or header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId(pub String);

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidId {}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An environment's id (a UUID).
    EnvironmentId
);
id_type!(
    /// An integration's `unique_key` (`provider_config_key`).
    IntegrationKey
);
id_type!(
    /// A connection's `connection_id`, chosen by the app or generated.
    ConnectionId
);
id_type!(
    /// An operation's id (a time-ordered UUID).
    OperationId
);
id_type!(
    /// An API key's id (a UUID).
    ApiKeyId
);

fn uuid_text(what: &str, text: &str) -> Result<String, InvalidId> {
    uuid::Uuid::parse_str(text)
        .map(|u| u.to_string())
        .map_err(|_| InvalidId(format!("`{}` is not {what} (a UUID)", shown(text))))
}

/// A value for an error message: short, without control characters.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

impl EnvironmentId {
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        uuid_text("an environment id", text).map(Self)
    }
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl OperationId {
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        uuid_text("an operation id", text).map(Self)
    }
    /// A new, time-ordered id: log rows append to the index instead of scattering across it.
    pub(crate) fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl ApiKeyId {
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        uuid_text("an API key id", text).map(Self)
    }
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl IntegrationKey {
    /// Nango's rule (letters, digits, `~ : . @ _ -` and spaces, at most 255), without
    /// surrounding spaces and not `.` or `..`, which read as paths.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let charset = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "~:.@ _-".contains(c));
        if text.is_empty() || text.len() > 255 || !charset {
            return Err(InvalidId(format!(
                "`{}` is not an integration key: use 1 to 255 letters, digits, spaces or `~ : . @ _ -`",
                shown(text)
            )));
        }
        if text.trim() != text || text == "." || text == ".." {
            return Err(InvalidId(format!(
                "`{}` is not an integration key: no surrounding spaces, and not `.` or `..`",
                shown(text)
            )));
        }
        Ok(Self(text.to_string()))
    }
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl ConnectionId {
    /// Nango's rule (letters, digits, spaces and `, . ; : = + ~ [ ] | @ $ { } " ' \ / _ -`,
    /// at most 255), with no surrounding spaces: printable ASCII, so it always fits in the
    /// `Connection-Id` header.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let charset = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ",.;:=+~[]|@${}\"'\\/_ -".contains(c));
        if text.is_empty() || text.len() > 255 || !charset {
            return Err(InvalidId(format!(
                "`{}` is not a connection id: use 1 to 255 letters, digits, spaces or , . ; : = + ~ [ ] | @ $ {{ }} \" ' \\ / _ -",
                shown(text)
            )));
        }
        if text.trim() != text {
            return Err(InvalidId(format!(
                "`{}` is not a connection id: it may not start or end with a space",
                shown(text)
            )));
        }
        Ok(Self(text.to_string()))
    }
    /// A new random connection id, for connections made without one.
    pub(crate) fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_follow_nangos_rule() {
        for ok in ["c1", "user@example.com", "{\"a\": 1}", "a/b", "x y"] {
            assert!(ConnectionId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", " a", "a ", "é", "a\nb", &"x".repeat(256)] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integration_keys_refuse_paths() {
        assert!(IntegrationKey::parse("notion-prod").is_ok());
        for bad in [".", "..", "a/b", "", " notion"] {
            assert!(IntegrationKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uuids_are_normalised() {
        let id = OperationId::parse("0190A0B0-0000-7000-8000-000000000001").unwrap();
        assert_eq!(id.as_str(), "0190a0b0-0000-7000-8000-000000000001");
        assert!(EnvironmentId::parse("dev").is_err());
    }
}

/// An environment's name: Nango's rule, letters, digits, `_` and `-`, at most 255.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let ok = !text.is_empty()
            && text.len() <= 255
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidId(format!(
                "`{}` is not an environment name: use 1 to 255 letters, digits, `_` or `-`",
                shown(text)
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
