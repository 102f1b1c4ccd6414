//! A page's properties as plain values, and as YAML front matter.

use serde_json::{Value, json};

use crate::types::{Page, PropertyValue, RichText, plain_text};

/// A property value as plain JSON: text for text, names for options and people, `start` (or
/// `{start, end}`) for dates, numbers and booleans as they are; a type it does not know
/// stays as Notion sent it.
pub fn property_text(property: &PropertyValue) -> Value {
    let value = &property.value;
    let texts = |v: &Value| -> String {
        serde_json::from_value::<Vec<RichText>>(v.clone())
            .map(|items| plain_text(&items))
            .unwrap_or_default()
    };
    let name = |v: &Value| v.get("name").cloned().unwrap_or(Value::Null);
    match property.kind.as_str() {
        "title" | "rich_text" => json!(texts(value)),
        "select" | "status" => name(value),
        "multi_select" => Value::Array(
            value
                .as_array()
                .map(|a| a.iter().map(name).collect())
                .unwrap_or_default(),
        ),
        "people" => Value::Array(
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|u| u.get("name").cloned().unwrap_or_else(|| u["id"].clone()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "relation" => Value::Array(
            value
                .as_array()
                .map(|a| a.iter().map(|r| r["id"].clone()).collect())
                .unwrap_or_default(),
        ),
        "date" => date_text(value),
        "files" => Value::Array(
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            let kind = f.get("type").and_then(Value::as_str).unwrap_or("");
                            f.pointer(&format!("/{kind}/url"))
                                .cloned()
                                .unwrap_or_else(|| name(f))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "created_by" | "last_edited_by" => value
            .get("name")
            .cloned()
            .unwrap_or_else(|| value.get("id").cloned().unwrap_or(Value::Null)),
        "unique_id" => {
            let number = value.get("number").cloned().unwrap_or(Value::Null);
            match value.get("prefix").and_then(Value::as_str) {
                Some(prefix) => json!(format!("{prefix}-{}", number)),
                None => number,
            }
        }
        "formula" => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
            let inner = value.get(kind).cloned().unwrap_or(Value::Null);
            if kind == "date" {
                date_text(&inner)
            } else {
                inner
            }
        }
        "rollup" => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
            let inner = value.get(kind).cloned().unwrap_or(Value::Null);
            match kind {
                "date" => date_text(&inner),
                "array" => Value::Array(
                    inner
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|item| {
                                    serde_json::from_value::<PropertyValue>(item.clone()).ok()
                                })
                                .map(|p| property_text(&p))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => inner,
            }
        }
        "verification" => value.get("state").cloned().unwrap_or(Value::Null),
        _ => value.clone(),
    }
}

fn date_text(value: &Value) -> Value {
    let start = value.get("start").cloned().unwrap_or(Value::Null);
    match value.get("end") {
        Some(end) if !end.is_null() => json!({"start": start, "end": end}),
        _ => start,
    }
}

/// The page's properties as a YAML front matter block, names in Notion's order of ids kept
/// stable by sorting. Strings are written in JSON's quoting, which YAML reads the same.
pub fn front_matter(page: &Page) -> String {
    let mut out = String::from("---\n");
    out.push_str(&format!("id: {}\n", json!(page.id)));
    if let Some(url) = &page.url {
        out.push_str(&format!("url: {}\n", json!(url)));
    }
    if !page.created_time.is_empty() {
        out.push_str(&format!("created_time: {}\n", json!(page.created_time)));
    }
    if !page.last_edited_time.is_empty() {
        out.push_str(&format!(
            "last_edited_time: {}\n",
            json!(page.last_edited_time)
        ));
    }
    if !page.properties.is_empty() {
        out.push_str("properties:\n");
        for (name, property) in &page.properties {
            out.push_str(&format!(
                "  {}: {}\n",
                json!(name),
                yaml_flow(&property_text(property))
            ));
        }
    }
    out.push_str("---\n\n");
    out
}

/// JSON is YAML's flow style; `null` and the rest read back the same.
fn yaml_flow(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_values_as_plain_values() {
        let page: Page = serde_json::from_value(json!({
            "object": "page", "id": "p1", "created_time": "2026-01-01T00:00:00.000Z",
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [{"type": "text", "text": {"content": "A: \"b\""}, "plain_text": "A: \"b\"", "href": null}]},
                "Tags": {"id": "t", "type": "multi_select", "multi_select": [{"id": "1", "name": "x", "color": "red"}]},
                "When": {"id": "d", "type": "date", "date": {"start": "2026-02-01", "end": "2026-02-03", "time_zone": null}},
                "Done": {"id": "c", "type": "checkbox", "checkbox": true},
                "Ref": {"id": "u", "type": "unique_id", "unique_id": {"prefix": "T", "number": 7}}
            }
        }))
        .unwrap();
        let yaml = front_matter(&page);
        assert!(yaml.starts_with("---\nid: \"p1\"\n"), "{yaml}");
        assert!(yaml.contains("  \"Name\": \"A: \\\"b\\\"\"\n"), "{yaml}");
        assert!(yaml.contains("  \"Tags\": [\"x\"]\n"), "{yaml}");
        assert!(
            yaml.contains("  \"When\": {\"end\":\"2026-02-03\",\"start\":\"2026-02-01\"}\n"),
            "{yaml}"
        );
        assert!(yaml.contains("  \"Done\": true\n"), "{yaml}");
        assert!(yaml.contains("  \"Ref\": \"T-7\"\n"), "{yaml}");
        assert!(yaml.ends_with("---\n\n"));
    }
}
