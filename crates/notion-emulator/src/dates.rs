//! Dates as Notion takes them (`{start, end?, time_zone?}`, ISO 8601 dates and times) and
//! reads them for comparisons. Property values, rich-text mentions and filters share these.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::validate as v;

/// Parses `{start, end?, time_zone?}` into the stored date shape.
pub fn parse_date(value: Option<&Value>, path: &str) -> ApiResult<Value> {
    let map = v::object(value, path)?;
    let start = v::string(map.get("start"), &v::join(path, "start"))?;
    check_date(start, &v::join(path, "start"), map.get("start"))?;
    let end = v::optional_string(map.get("end"), &v::join(path, "end"))?;
    if let Some(end) = end {
        check_date(end, &v::join(path, "end"), map.get("end"))?;
    }
    let tz = v::optional_string(map.get("time_zone"), &v::join(path, "time_zone"))?;
    Ok(json!({"start": start, "end": end, "time_zone": tz}))
}

fn check_date(s: &str, path: &str, raw: Option<&Value>) -> ApiResult<()> {
    let ok = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").is_ok();
    if ok {
        Ok(())
    } else {
        v::fail(path, "a valid ISO 8601 date string", raw)
    }
}

/// A date string as an instant, for comparisons (dates count as midnight UTC).
pub fn date_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(d.and_utc());
    }
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}
