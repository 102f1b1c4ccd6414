//! Times as Ferry stores and shows them: fixed-width RFC 3339 UTC text with milliseconds,
//! so that text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now() -> String {
    ts(Utc::now())
}

/// A stored or given time, read back; `None` when it is not RFC 3339.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_width_utc() {
        let t = super::parse("2026-01-01T10:00:00+01:00").unwrap();
        assert_eq!(super::ts(t), "2026-01-01T09:00:00.000Z");
        assert!(super::parse("yesterday").is_none());
    }
}
