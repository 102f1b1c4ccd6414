//! `Notion-Version` header handling: which API versions the emulator speaks.

use crate::error::NotionError;

/// The API versions the emulator serves. Ordering follows release dates, so
/// `version >= ApiVersion::V2025_09_03` reads as "the data-sources model".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    V2022_06_28,
    V2025_09_03,
    V2026_03_11,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 3] = [
        ApiVersion::V2022_06_28,
        ApiVersion::V2025_09_03,
        ApiVersion::V2026_03_11,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2022_06_28 => "2022-06-28",
            ApiVersion::V2025_09_03 => "2025-09-03",
            ApiVersion::V2026_03_11 => "2026-03-11",
        }
    }

    pub fn parse_header(value: Option<&str>) -> Result<Self, NotionError> {
        let Some(raw) = value else {
            return Err(NotionError::missing_version());
        };
        Self::ALL.into_iter().find(|v| v.as_str() == raw.trim()).ok_or_else(|| {
            NotionError::validation(format!(
                "Notion-Version header failed validation: Notion-Version header should be one of `2022-06-28`, `2025-09-03`, `2026-03-11`, instead was `{raw}`."
            ))
        })
    }

    /// Data sources exist as separate objects from 2025-09-03 on.
    pub fn has_data_sources(self) -> bool {
        self >= ApiVersion::V2025_09_03
    }

    /// From 2026-03-11 requests must say `in_trash` (not `archived`) and `position` (not `after`).
    pub fn uses_2026_names(self) -> bool {
        self >= ApiVersion::V2026_03_11
    }
}
