//! Notion's objects, typed where Ferry reads them and raw everywhere else.
//!
//! Notion adds block types, property types and fields over time, and a partial object can be
//! just `{object, id}`. So every field Ferry does not need is kept in `other`, every tagged
//! content (`{"type": "x", "x": {…}}`) keeps its tag as text and its content as raw JSON, and
//! missing fields take their empty value: an unknown shape never fails a whole answer, and
//! writing an object back out gives the fields that came in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A `{"type": "<kind>", "<kind>": <content>, …}` object split into its parts.
fn split_tagged(mut map: Map<String, Value>) -> (String, Value, Map<String, Value>) {
    let kind = match map.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => String::new(),
    };
    let content = map.remove(&kind).unwrap_or(Value::Null);
    (kind, content, map)
}

fn join_tagged(kind: &str, content: &Value, rest: &Map<String, Value>) -> Map<String, Value> {
    let mut map = rest.clone();
    map.insert("type".into(), Value::String(kind.to_string()));
    if !kind.is_empty() {
        map.insert(kind.to_string(), content.clone());
    }
    map
}

fn take<T: serde::de::DeserializeOwned + Default>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<T, String> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value).map_err(|e| format!("{key}: {e}")),
    }
}

/// Implements serde for a tagged struct through a JSON map, with `parse` reading the fields
/// out of the map and `write` putting them back.
macro_rules! tagged_serde {
    ($name:ident) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let map = Map::<String, Value>::deserialize(d)?;
                $name::parse(map).map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.write().serialize(s)
            }
        }
    };
}

/// A rich-text item: text, a mention or an equation.
#[derive(Debug, Clone, PartialEq)]
pub struct RichText {
    /// `text`, `mention` or `equation` (or a kind Notion adds later).
    pub kind: String,
    pub plain_text: String,
    pub href: Option<String>,
    pub annotations: Annotations,
    /// The content under the kind's key, e.g. `{content, link}` for text.
    pub content: Value,
    pub other: Map<String, Value>,
}

impl RichText {
    fn parse(map: Map<String, Value>) -> Result<RichText, String> {
        let (kind, content, mut rest) = split_tagged(map);
        Ok(RichText {
            plain_text: take(&mut rest, "plain_text")?,
            href: take(&mut rest, "href")?,
            annotations: take(&mut rest, "annotations")?,
            kind,
            content,
            other: rest,
        })
    }

    fn write(&self) -> Map<String, Value> {
        let mut map = join_tagged(&self.kind, &self.content, &self.other);
        map.insert("plain_text".into(), Value::String(self.plain_text.clone()));
        map.insert(
            "href".into(),
            self.href.clone().map_or(Value::Null, Value::String),
        );
        map.insert(
            "annotations".into(),
            serde_json::to_value(&self.annotations).unwrap_or(Value::Null),
        );
        map
    }
}
tagged_serde!(RichText);

/// The plain text of a rich-text array.
pub fn plain_text(items: &[RichText]) -> String {
    items.iter().map(|t| t.plain_text.as_str()).collect()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Annotations {
    pub bold: bool,
    pub italic: bool,
    pub strikethrough: bool,
    pub underline: bool,
    pub code: bool,
    pub color: String,
}

/// A user: a person or a bot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// `person` or `bot`; absent on partial users.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl User {
    pub fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("bot")
    }
    pub fn email(&self) -> Option<&str> {
        self.person.as_ref().and_then(|p| p.email.as_deref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A page (a row of a data source, or a page under a page or the workspace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub id: String,
    #[serde(default)]
    pub created_time: String,
    #[serde(default)]
    pub last_edited_time: String,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyValue>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Page {
    /// The text of the page's title property.
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find(|p| p.kind == "title")
            .and_then(|p| serde_json::from_value::<Vec<RichText>>(p.value.clone()).ok())
            .map(|items| plain_text(&items))
            .unwrap_or_default()
    }
}

/// A property value of a page: its id, its type and the value under that type.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyValue {
    pub id: String,
    pub kind: String,
    pub value: Value,
    pub other: Map<String, Value>,
}

impl PropertyValue {
    fn parse(map: Map<String, Value>) -> Result<PropertyValue, String> {
        let (kind, value, mut rest) = split_tagged(map);
        Ok(PropertyValue {
            id: take(&mut rest, "id")?,
            kind,
            value,
            other: rest,
        })
    }

    fn write(&self) -> Map<String, Value> {
        let mut map = join_tagged(&self.kind, &self.value, &self.other);
        map.insert("id".into(), Value::String(self.id.clone()));
        map
    }
}
tagged_serde!(PropertyValue);

/// A property's schema in a data source (or a 2022-06-28 database).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertySchema {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The type's configuration, e.g. `{options}` for a select.
    pub config: Value,
    pub other: Map<String, Value>,
}

impl PropertySchema {
    fn parse(map: Map<String, Value>) -> Result<PropertySchema, String> {
        let (kind, config, mut rest) = split_tagged(map);
        Ok(PropertySchema {
            id: take(&mut rest, "id")?,
            name: take(&mut rest, "name")?,
            kind,
            config,
            other: rest,
        })
    }

    fn write(&self) -> Map<String, Value> {
        let mut map = join_tagged(&self.kind, &self.config, &self.other);
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("name".into(), Value::String(self.name.clone()));
        map
    }
}
tagged_serde!(PropertySchema);

/// A database. Since 2025-09-03 it is a container of data sources and has no properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Database {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    #[serde(default)]
    pub data_sources: Vec<DataSourceRef>,
    /// The schema, in 2022-06-28 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertySchema>>,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub last_edited_time: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A data source: the schema and rows of a database (2025-09-03 and later).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    #[serde(default)]
    pub properties: BTreeMap<String, PropertySchema>,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub last_edited_time: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A block; its content stays raw under its type, so unknown block types survive.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub id: String,
    pub kind: String,
    pub content: Value,
    pub has_children: bool,
    pub in_trash: bool,
    pub other: Map<String, Value>,
}

impl Block {
    fn parse(map: Map<String, Value>) -> Result<Block, String> {
        let (kind, content, mut rest) = split_tagged(map);
        Ok(Block {
            id: take(&mut rest, "id")?,
            has_children: take(&mut rest, "has_children")?,
            in_trash: take(&mut rest, "in_trash")?,
            kind,
            content,
            other: rest,
        })
    }

    fn write(&self) -> Map<String, Value> {
        let mut map = join_tagged(&self.kind, &self.content, &self.other);
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("has_children".into(), Value::Bool(self.has_children));
        map.insert("in_trash".into(), Value::Bool(self.in_trash));
        map
    }
}
tagged_serde!(Block);

/// A comment on a page or a block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    #[serde(default)]
    pub discussion_id: String,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub created_time: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A page (or a block's subtree) in Notion's enhanced markdown (API 2026-03-11).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageMarkdown {
    pub id: String,
    pub markdown: String,
    /// Past Notion's record limit, the rest is `<unknown>` tags listed in `unknown_block_ids`.
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub unknown_block_ids: Vec<String>,
}

/// A data source's page template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An item of a search or query answer: pages, data sources, databases, or something newer.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Page(Page),
    DataSource(DataSource),
    Database(Database),
    Other(Value),
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let object = value.get("object").and_then(Value::as_str).unwrap_or("");
        let typed = match object {
            "page" => serde_json::from_value(value.clone()).map(Object::Page),
            "data_source" => serde_json::from_value(value.clone()).map(Object::DataSource),
            "database" => serde_json::from_value(value.clone()).map(Object::Database),
            _ => return Ok(Object::Other(value)),
        };
        typed.map_err(serde::de::Error::custom)
    }
}

impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Object::Page(p) => p.serialize(s),
            Object::DataSource(d) => d.serialize(s),
            Object::Database(d) => d.serialize(s),
            Object::Other(v) => v.serialize(s),
        }
    }
}

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListPage<T> {
    pub results: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
    /// `incomplete` when a query stopped at Notion's 10,000-result cap.
    #[serde(default)]
    pub request_status: Option<RequestStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestStatus {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub incomplete_reason: Option<String>,
}

impl RequestStatus {
    pub fn is_incomplete(&self) -> bool {
        self.kind == "incomplete"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_block_types_survive_a_round_trip() {
        let raw = json!({"object": "block", "id": "b1", "type": "hologram", "hologram": {"depth": 3}, "has_children": false, "in_trash": false, "created_time": "2026-01-01T00:00:00.000Z"});
        let block: Block = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(block.kind, "hologram");
        assert_eq!(block.content, json!({"depth": 3}));
        assert_eq!(serde_json::to_value(&block).unwrap(), raw);
    }

    #[test]
    fn partial_objects_read() {
        let page: Page = serde_json::from_value(json!({"object": "page", "id": "p"})).unwrap();
        assert_eq!(page.id, "p");
        assert!(page.properties.is_empty());
        let user: User = serde_json::from_value(json!({"object": "user", "id": "u"})).unwrap();
        assert_eq!(user.kind, None);
    }

    #[test]
    fn page_titles_and_rich_text() {
        let page: Page = serde_json::from_value(json!({
            "object": "page", "id": "p",
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [
                    {"type": "text", "text": {"content": "Hello "}, "plain_text": "Hello ", "href": null, "annotations": {"bold": true}},
                    {"type": "equation", "equation": {"expression": "x"}, "plain_text": "x", "href": null}
                ]},
                "Stars": {"id": "a%3Bb", "type": "rating", "rating": 4}
            }
        })).unwrap();
        assert_eq!(page.title(), "Hello x");
        assert_eq!(page.properties["Stars"].kind, "rating");
        assert_eq!(page.properties["Stars"].value, json!(4));
    }

    #[test]
    fn search_results_keep_unknown_objects() {
        let list: ListPage<Object> = serde_json::from_value(json!({
            "object": "list", "results": [{"object": "page", "id": "p"}, {"object": "view", "id": "v"}],
            "next_cursor": null, "has_more": false
        })).unwrap();
        assert!(matches!(list.results[0], Object::Page(_)));
        assert!(matches!(list.results[1], Object::Other(_)));
    }
}
