//! The `Notion-Version`s Ferry speaks, and what changed between them.

use std::fmt;

/// A Notion API version. Later versions compare greater, so `v >= ApiVersion::V2025_09_03`
/// reads "the data-sources model".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// Databases hold their schema and rows; SDK v4's default.
    V2022_06_28,
    /// Databases hold data sources; SDK v5's default and Ferry's.
    V2025_09_03,
    /// `in_trash` replaces `archived`, `position` replaces `after`, page markdown.
    V2026_03_11,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 3] = [
        ApiVersion::V2022_06_28,
        ApiVersion::V2025_09_03,
        ApiVersion::V2026_03_11,
    ];
    /// The version sent when neither the integration nor the caller chooses one.
    pub const DEFAULT: ApiVersion = ApiVersion::V2025_09_03;

    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2022_06_28 => "2022-06-28",
            ApiVersion::V2025_09_03 => "2025-09-03",
            ApiVersion::V2026_03_11 => "2026-03-11",
        }
    }

    pub fn parse(text: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// Whether databases are containers of data sources in this version.
    pub fn has_data_sources(self) -> bool {
        self >= ApiVersion::V2025_09_03
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        for v in ApiVersion::ALL {
            assert_eq!(ApiVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ApiVersion::parse("2021-05-13"), None);
        assert!(!ApiVersion::V2022_06_28.has_data_sources());
        assert!(ApiVersion::V2026_03_11.has_data_sources());
    }
}
