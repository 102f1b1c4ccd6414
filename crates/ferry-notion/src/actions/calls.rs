//! The actions that are one Notion call each, declared as data: the call's method and path,
//! the input's fields (which go into the path, the query or the body), a body part every
//! call carries, and the API version the call needs. One runner serves them all, and a
//! `const` check refuses at build time a declaration whose path and fields disagree.

use ferry_provider::{ActionError, ActionSpec, FieldKind, InputField, InputSchema, Request};
use http::Method;
use serde_json::{Map, Value, json};

use super::input::{Input, invalid};
use super::{Client, failed};
use crate::{ApiVersion, Notion, checked_id};

/// One Notion call as an action.
pub(crate) struct Call {
    pub spec: ActionSpec,
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// Under the API's root; `{field}` is replaced by that field's value.
    pub path: &'static str,
    /// Fields sent in the query string; the rest that are not in the path form the body.
    pub query: &'static [&'static str],
    /// When set, this field's object is the whole body.
    pub body_from: Option<&'static str>,
    /// JSON object text merged into every body; its keys are not fields.
    pub fixed: &'static str,
    pub version: VersionRule,
}

/// The `Notion-Version` a call is sent with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VersionRule {
    /// The connection's integration's.
    Connection,
    /// The connection's, or this one when the connection's is older.
    AtLeast(ApiVersion),
    /// Always this one: the endpoint exists only there.
    Exactly(ApiVersion),
}

const fn field(
    name: &'static str,
    kind: FieldKind,
    required: bool,
    description: &'static str,
) -> InputField {
    InputField {
        name,
        kind,
        required,
        description,
    }
}

const fn id(name: &'static str, description: &'static str) -> InputField {
    field(name, FieldKind::Id, true, description)
}

const fn object(name: &'static str, required: bool, description: &'static str) -> InputField {
    field(name, FieldKind::Object, required, description)
}

const fn array(name: &'static str, required: bool, description: &'static str) -> InputField {
    field(name, FieldKind::Array, required, description)
}

const fn flag(name: &'static str, description: &'static str) -> InputField {
    field(name, FieldKind::Boolean, false, description)
}

const fn text(name: &'static str, required: bool, description: &'static str) -> InputField {
    field(name, FieldKind::Text, required, description)
}

const START_CURSOR: InputField = text(
    "start_cursor",
    false,
    "Where to continue: the `next_cursor` of the previous answer.",
);
const PAGE_SIZE: InputField = field(
    "page_size",
    FieldKind::Integer { min: 1, max: 100 },
    false,
    "How many results to return (Notion's default is 100).",
);
const PAGE_ID: InputField = id("page_id", "The page's id.");
const BLOCK_ID: InputField = id("block_id", "The block's (or page's) id.");
const DATABASE_ID: InputField = id("database_id", "The database's id.");
const DATA_SOURCE_ID: InputField = id("data_source_id", "The data source's id.");
const USER_ID: InputField = id("user_id", "The user's id.");
const PARENT: InputField = object(
    "parent",
    true,
    "Notion's parent object, e.g. {\"page_id\": …} or {\"data_source_id\": …}.",
);
const PROPERTIES: InputField = object(
    "properties",
    false,
    "Property values (pages) or schema (databases) in Notion's own shape.",
);
const ICON: InputField = object("icon", false, "An emoji or file icon object.");
const COVER: InputField = object("cover", false, "A file object.");
const TITLE: InputField = array("title", false, "Rich text.");
const FILTER: InputField = object("filter", false, "Notion's filter object.");
const SORTS: InputField = array("sorts", false, "Notion's sort objects.");
const IN_TRASH: InputField = flag(
    "in_trash",
    "Moves to the trash (true) or out of it (false).",
);

const PAGE_UPDATE: &[InputField] = &[
    PAGE_ID,
    PROPERTIES,
    ICON,
    COVER,
    IN_TRASH,
    flag("is_locked", "Locks the page against edits in Notion's app."),
];
const QUERY: &[InputField] = &[DATABASE_ID, FILTER, SORTS, START_CURSOR, PAGE_SIZE];
const LIST: &[&str] = &["start_cursor", "page_size"];

const fn call(
    name: &'static str,
    description: &'static str,
    method: &'static str,
    path: &'static str,
    fields: &'static [InputField],
    output: fn() -> Value,
) -> Call {
    Call {
        spec: ActionSpec {
            name,
            description,
            endpoint: None,
            input: InputSchema::Fields(fields),
            output,
        },
        method,
        path,
        query: &[],
        body_from: None,
        fixed: "",
        version: VersionRule::Connection,
    }
}

impl Call {
    const fn query(mut self, query: &'static [&'static str]) -> Call {
        self.query = query;
        self
    }

    const fn fixed(mut self, fixed: &'static str) -> Call {
        self.fixed = fixed;
        self
    }

    const fn body_from(mut self, field: &'static str) -> Call {
        self.body_from = Some(field);
        self
    }

    const fn version(mut self, rule: VersionRule) -> Call {
        self.version = rule;
        self
    }

    fn fields(&self) -> &'static [InputField] {
        match self.spec.input {
            InputSchema::Fields(fields) => fields,
            InputSchema::Built(_) => &[],
        }
    }
}

use VersionRule::{AtLeast, Exactly};

const V2022: ApiVersion = ApiVersion::V2022_06_28;
const V2025: ApiVersion = ApiVersion::V2025_09_03;
const V2026: ApiVersion = ApiVersion::V2026_03_11;

pub(crate) static CALLS: [Call; 36] = [
    // Pages
    call("create-page", "Creates a page under a page, a data source or a database, with properties, content, icon and cover in Notion's shape.", "POST", "/v1/pages",
        &[PARENT, PROPERTIES, array("children", false, "Blocks of the page's content (up to 100)."), ICON, COVER], page_object),
    call("retrieve-page", "A page's properties and metadata, as Notion returns them.", "GET", "/v1/pages/{page_id}", &[PAGE_ID], page_object),
    call("update-page", "Changes a page's properties, icon, cover, lock or trash state.", "PATCH", "/v1/pages/{page_id}", PAGE_UPDATE, page_object),
    call("archive-page", "Moves a page to the trash.", "PATCH", "/v1/pages/{page_id}", &[PAGE_ID], page_object).fixed(r#"{"in_trash": true}"#),
    call("restore-page", "Takes a page out of the trash.", "PATCH", "/v1/pages/{page_id}", &[PAGE_ID], page_object).fixed(r#"{"in_trash": false}"#),
    call("move-page", "Moves a page under another page or data source.", "POST", "/v1/pages/{page_id}/move", &[PAGE_ID, PARENT], page_object),
    call("retrieve-page-property", "One property of a page, every item of it (Notion pages long ones).", "GET", "/v1/pages/{page_id}/properties/{property_id}",
        &[PAGE_ID, text("property_id", true, "The property's id (from the page's or data source's properties)."), START_CURSOR, PAGE_SIZE], property_item).query(LIST),
    call("get-page-property-item", "The same as retrieve-page-property, under Nango's other name.", "GET", "/v1/pages/{page_id}/properties/{property_id}",
        &[PAGE_ID, text("property_id", true, "The property's id."), START_CURSOR, PAGE_SIZE], property_item).query(LIST),
    call("get-page-as-markdown", "A page in Notion's own markdown dialect, in one request (truncated on large pages; fetch-rich-page gives GitHub-flavoured markdown of any size).", "GET", "/v1/pages/{page_id}/markdown", &[PAGE_ID], page_markdown).version(AtLeast(V2026)),
    call("update-page-markdown", "Edits a page's content as Notion's markdown: update_content, replace_content, insert_content or replace_content_range.", "PATCH", "/v1/pages/{page_id}/markdown",
        &[PAGE_ID, text("type", true, "update_content, replace_content, insert_content or replace_content_range."),
          object("update_content", false, "The edit, when type is update_content."), object("replace_content", false, "The edit, when type is replace_content."),
          object("insert_content", false, "The edit, when type is insert_content."), object("replace_content_range", false, "The edit, when type is replace_content_range.")], page_markdown).version(AtLeast(V2026)),
    // Blocks
    call("append-block-children", "Adds blocks (up to 100, two levels deep) to a page or block, at the end or after a given block.", "PATCH", "/v1/blocks/{block_id}/children",
        &[BLOCK_ID, array("children", true, "The blocks to add."), text("after", false, "The id of the block to add after.")], list_object),
    call("retrieve-block", "One block, as Notion returns it.", "GET", "/v1/blocks/{block_id}", &[BLOCK_ID], block_object),
    call("retrieve-block-children", "One page of a block's children.", "GET", "/v1/blocks/{block_id}/children", &[BLOCK_ID, START_CURSOR, PAGE_SIZE], list_object).query(LIST),
    call("list-block-children", "The same as retrieve-block-children, under Nango's other name.", "GET", "/v1/blocks/{block_id}/children", &[BLOCK_ID, START_CURSOR, PAGE_SIZE], list_object).query(LIST),
    call("update-block", "Changes a block: `block` is Notion's update body, e.g. {\"paragraph\": {\"rich_text\": […]}}.", "PATCH", "/v1/blocks/{block_id}",
        &[BLOCK_ID, object("block", true, "Notion's block update body.")], block_object).body_from("block"),
    call("delete-block", "Moves a block (or page) to the trash.", "DELETE", "/v1/blocks/{block_id}", &[BLOCK_ID], block_object),
    // Databases
    call("create-database", "Creates a database under a page: its first data source's schema in initial_data_source (or properties in 2022-06-28).", "POST", "/v1/databases",
        &[PARENT, TITLE, array("description", false, "Rich text."), PROPERTIES, object("initial_data_source", false, "The first data source: {properties}."), flag("is_inline", "Shown inline in the parent page."), ICON, COVER], database_object),
    call("retrieve-database", "A database: its title and its data sources (or its schema in 2022-06-28).", "GET", "/v1/databases/{database_id}", &[DATABASE_ID], database_object),
    call("update-database", "Changes a database's title, description, icon, cover, inline state or trash state.", "PATCH", "/v1/databases/{database_id}",
        &[DATABASE_ID, TITLE, array("description", false, "Rich text."), PROPERTIES, flag("is_inline", "Shown inline in the parent page."), IN_TRASH, ICON, COVER], database_object),
    call("query-database", "One page of a database's rows, filtered and sorted as given (API 2022-06-28, where databases are queried directly).", "POST", "/v1/databases/{database_id}/query", QUERY, list_object).version(Exactly(V2022)),
    call("query-database-filtered", "One page of a database's rows matching a filter (API 2022-06-28).", "POST", "/v1/databases/{database_id}/query",
        &[DATABASE_ID, object("filter", true, "Notion's filter object."), SORTS, START_CURSOR, PAGE_SIZE], list_object).version(Exactly(V2022)),
    call("query-database-sorted", "One page of a database's rows in the given order (API 2022-06-28).", "POST", "/v1/databases/{database_id}/query",
        &[DATABASE_ID, FILTER, array("sorts", true, "Notion's sort objects."), START_CURSOR, PAGE_SIZE], list_object).version(Exactly(V2022)),
    // Data sources
    call("create-data-source", "Adds a data source with the given schema to a database.", "POST", "/v1/data_sources",
        &[PARENT, object("properties", true, "The schema: property name → configuration."), TITLE, ICON], data_source_object).version(AtLeast(V2025)),
    call("retrieve-data-source", "A data source with its schema.", "GET", "/v1/data_sources/{data_source_id}", &[DATA_SOURCE_ID], data_source_object).version(AtLeast(V2025)),
    call("update-data-source", "Changes a data source's title, schema, icon or trash state.", "PATCH", "/v1/data_sources/{data_source_id}",
        &[DATA_SOURCE_ID, TITLE, PROPERTIES, ICON, IN_TRASH], data_source_object).version(AtLeast(V2025)),
    call("query-data-source", "One page of a data source's rows, filtered and sorted as given.", "POST", "/v1/data_sources/{data_source_id}/query",
        &[DATA_SOURCE_ID, FILTER, SORTS, START_CURSOR, PAGE_SIZE], list_object).version(AtLeast(V2025)),
    call("list-data-source-templates", "A data source's page templates.", "GET", "/v1/data_sources/{data_source_id}/templates",
        &[DATA_SOURCE_ID, text("name", false, "Only templates whose name contains this."), START_CURSOR, PAGE_SIZE], list_object).query(&["name", "start_cursor", "page_size"]).version(AtLeast(V2025)),
    // Comments
    call("create-comment", "Adds a comment to a page (parent) or to a discussion (discussion_id).", "POST", "/v1/comments",
        &[object("parent", false, "{\"page_id\": …} to open a discussion on a page."), text("discussion_id", false, "The discussion to reply in."), array("rich_text", true, "The comment's text.")], comment_object),
    call("list-comments", "One page of the open comments on a page or block.", "GET", "/v1/comments", &[BLOCK_ID, START_CURSOR, PAGE_SIZE], list_object).query(&["block_id", "start_cursor", "page_size"]),
    call("retrieve-comment", "One comment.", "GET", "/v1/comments/{comment_id}", &[id("comment_id", "The comment's id.")], comment_object),
    // Users
    call("get-user", "One user: a person or a bot.", "GET", "/v1/users/{user_id}", &[USER_ID], user_object),
    call("retrieve-user", "The same as get-user, under Nango's other name.", "GET", "/v1/users/{user_id}", &[USER_ID], user_object),
    call("get-bot-user", "The integration's own bot user, with its workspace.", "GET", "/v1/users/me", &[], user_object),
    // Search
    call("search", "One page of the pages and data sources shared with the integration whose title matches.", "POST", "/v1/search",
        &[text("query", false, "Text the title contains."), FILTER, object("sort", false, "{\"direction\", \"timestamp\"}."), START_CURSOR, PAGE_SIZE], list_object),
    call("search-pages", "One page of the pages whose title matches.", "POST", "/v1/search",
        &[text("query", false, "Text the title contains."), object("sort", false, "{\"direction\", \"timestamp\"}."), START_CURSOR, PAGE_SIZE], list_object)
        .fixed(r#"{"filter": {"property": "object", "value": "page"}}"#),
    call("search-databases", "One page of the data sources whose title matches.", "POST", "/v1/search",
        &[text("query", false, "Text the title contains."), object("sort", false, "{\"direction\", \"timestamp\"}."), START_CURSOR, PAGE_SIZE], list_object)
        .fixed(r#"{"filter": {"property": "object", "value": "data_source"}}"#).version(AtLeast(V2025)),
];

const _: () = check_all(&CALLS);

/// Refuses (at build time) a call whose path names a field it lacks, or that puts a field
/// nowhere: every `{name}` is a required id or text field, and a call without a body keeps
/// all its fields in the path or the query.
const fn check_all(calls: &[Call]) {
    let mut i = 0;
    while i < calls.len() {
        check(&calls[i]);
        i += 1;
    }
}

const fn check(call: &Call) {
    let fields = match call.spec.input {
        InputSchema::Fields(fields) => fields,
        InputSchema::Built(_) => panic!("a declared call lists its fields"),
    };
    let path = call.path.as_bytes();
    let has_body =
        !bytes_eq(call.method.as_bytes(), b"GET") && !bytes_eq(call.method.as_bytes(), b"DELETE");
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'{' {
            let mut end = i + 1;
            while path[end] != b'}' {
                end += 1;
            }
            let name = path.split_at(end).0.split_at(i + 1).1;
            let Some(f) = find_field(fields, name) else {
                panic!("a path names a field the call does not have");
            };
            assert!(f.required, "a path field must be required");
            assert!(
                matches!(f.kind, FieldKind::Id | FieldKind::Text),
                "a path field must be an id or text"
            );
            i = end;
        }
        i += 1;
    }
    let mut q = 0;
    while q < call.query.len() {
        assert!(
            find_field(fields, call.query[q].as_bytes()).is_some(),
            "a query name is not a field"
        );
        q += 1;
    }
    let mut f = 0;
    while f < fields.len() {
        let name = fields[f].name.as_bytes();
        let mut g = f + 1;
        while g < fields.len() {
            assert!(!bytes_eq(name, fields[g].name.as_bytes()), "a field twice");
            g += 1;
        }
        if !has_body {
            assert!(
                in_path(path, name) || in_list(call.query, name),
                "a call without a body has a field with nowhere to go"
            );
        }
        f += 1;
    }
    if let Some(from) = call.body_from {
        assert!(has_body, "body_from on a call without a body");
        assert!(
            find_field(fields, from.as_bytes()).is_some(),
            "body_from is not a field"
        );
        assert!(call.fixed.is_empty(), "body_from and a fixed body at once");
        // The whole body comes from that field: every other one goes in the path or query.
        let mut f = 0;
        while f < fields.len() {
            let name = fields[f].name.as_bytes();
            assert!(
                bytes_eq(name, from.as_bytes()) || in_path(path, name) || in_list(call.query, name),
                "body_from beside another body field"
            );
            f += 1;
        }
    }
    assert!(
        call.fixed.is_empty() || has_body,
        "a fixed body on a call without one"
    );
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn find_field<'a>(fields: &'a [InputField], name: &[u8]) -> Option<&'a InputField> {
    let mut i = 0;
    while i < fields.len() {
        if bytes_eq(fields[i].name.as_bytes(), name) {
            return Some(&fields[i]);
        }
        i += 1;
    }
    None
}

const fn in_list(list: &[&str], name: &[u8]) -> bool {
    let mut i = 0;
    while i < list.len() {
        if bytes_eq(list[i].as_bytes(), name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether `{name}` occurs in `path`.
const fn in_path(path: &[u8], name: &[u8]) -> bool {
    let mut i = 0;
    while i + name.len() + 2 <= path.len() {
        if path[i] == b'{' && path[i + name.len() + 1] == b'}' {
            let inner = path.split_at(i + 1 + name.len()).0.split_at(i + 1).1;
            if bytes_eq(inner, name) {
                return true;
            }
        }
        i += 1;
    }
    false
}

pub(crate) fn find(name: &str) -> Option<&'static Call> {
    CALLS.iter().find(|c| c.spec.name == name)
}

/// Checks `input` against the call's fields, sends the call and returns Notion's answer.
pub(crate) async fn run(
    notion: &Client<'_>,
    call: &Call,
    input: &Input<'_>,
) -> Result<Value, ActionError> {
    let fields = call.fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    input.only(&names)?;
    let mut path = call.path.to_string();
    let mut query: Vec<(&str, String)> = Vec::new();
    let mut body = match call.body_from {
        Some(_) => Map::new(),
        None if call.fixed.is_empty() => Map::new(),
        None => match serde_json::from_str(call.fixed) {
            Ok(Value::Object(fixed)) => fixed,
            _ => unreachable!("fixed bodies are JSON objects (tested)"),
        },
    };
    for field in fields {
        let Some(value) = checked(input, field)? else {
            continue;
        };
        let placeholder = format!("{{{}}}", field.name);
        if path.contains(&placeholder) {
            let Value::String(text) = &value else {
                unreachable!("path fields are ids or text (checked at build time)")
            };
            path = path.replace(&placeholder, &url_segment(field.name, text)?);
        } else if call.query.contains(&field.name) {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            query.push((field.name, text));
        } else if call.body_from == Some(field.name) {
            let Value::Object(map) = value else {
                unreachable!("body_from fields are objects")
            };
            body = map;
        } else {
            body.insert(field.name.to_string(), value);
        }
    }
    if !query.is_empty() {
        let query = serde_urlencoded::to_string(&query).expect("pairs of text encode");
        path = format!("{path}?{query}");
    }
    let method = Method::from_bytes(call.method.as_bytes()).expect("declared methods are valid");
    let request = if method == Method::GET || method == Method::DELETE {
        Request {
            method,
            path,
            headers: Default::default(),
            body: None,
        }
    } else {
        Request::json(method, path, &Value::Object(body))
    };
    let version = match call.version {
        VersionRule::Connection => notion.version(),
        VersionRule::AtLeast(least) => notion.version().max(least),
        VersionRule::Exactly(version) => version,
    };
    let notion = Notion::new(*notion.transport(), version);
    notion.call::<Value>(request).await.map_err(failed)
}

/// The field's value when given, checked against its kind; an id comes back in Notion's form.
fn checked(input: &Input<'_>, field: &InputField) -> Result<Option<Value>, ActionError> {
    let name = field.name;
    let Some(value) = input.get(name) else {
        return if field.required {
            Err(invalid(name, "is required"))
        } else {
            Ok(None)
        };
    };
    let value = match field.kind {
        FieldKind::Id => {
            let text = input.required_string(name)?;
            let id = checked_id("object", text).map_err(|_| {
                invalid(
                    name,
                    format!("`{text}` is not a Notion id (32 hex digits, dashed or not)"),
                )
            })?;
            Value::String(id)
        }
        FieldKind::Text => Value::String(input.required_string(name)?.to_string()),
        FieldKind::Integer { min, max } => {
            // A query string brings numbers as text.
            let number = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            match number {
                Some(n) if (min..=max).contains(&n) => json!(n),
                _ => {
                    return Err(invalid(
                        name,
                        format!("must be a whole number from {min} to {max}"),
                    ));
                }
            }
        }
        FieldKind::Boolean => Value::Bool(input.flag(name)?),
        FieldKind::Object => Value::Object(input.object(name)?.clone()),
        FieldKind::Array => match value {
            Value::Array(_) => value.clone(),
            _ => return Err(invalid(name, "must be an array")),
        },
    };
    Ok(Some(value))
}

/// A text path segment as Notion gives it (property ids come URL-encoded: `%3CLrR`);
/// anything that could change the path is refused.
fn url_segment(field: &str, text: &str) -> Result<String, ActionError> {
    crate::client::checked_property_id(text).map_err(|_| {
        invalid(
            field,
            "must be the id as Notion gives it (letters, digits and %_.~-!*'())",
        )
    })
}

fn notion_object(kind: &str, description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "required": ["object", "id"],
        "properties": {"object": {"const": kind}, "id": {"type": "string"}},
    })
}

fn page_object() -> Value {
    notion_object("page", "Notion's page object, as Notion returns it.")
}

fn block_object() -> Value {
    notion_object("block", "Notion's block object, as Notion returns it.")
}

fn database_object() -> Value {
    notion_object(
        "database",
        "Notion's database object, as Notion returns it.",
    )
}

fn data_source_object() -> Value {
    notion_object(
        "data_source",
        "Notion's data source object, as Notion returns it.",
    )
}

fn comment_object() -> Value {
    notion_object("comment", "Notion's comment object, as Notion returns it.")
}

fn user_object() -> Value {
    notion_object("user", "Notion's user object, as Notion returns it.")
}

fn list_object() -> Value {
    json!({
        "type": "object",
        "description": "One page of Notion's list: pass next_cursor as start_cursor for the next.",
        "required": ["object", "results", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "results": {"type": "array", "items": {"type": "object"}},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        },
    })
}

fn property_item() -> Value {
    json!({
        "type": "object",
        "description": "A property item, or a list of them for titles, text, people and relations.",
        "required": ["object"],
        "properties": {"object": {"enum": ["property_item", "list"]}},
    })
}

fn page_markdown() -> Value {
    json!({
        "type": "object",
        "description": "Notion's page markdown.",
        "required": ["markdown"],
        "properties": {
            "object": {"const": "page_markdown"},
            "id": {"type": "string"},
            "markdown": {"type": "string"},
            "truncated": {"type": "boolean"},
            "unknown_block_ids": {"type": "array", "items": {"type": "string"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed body parts are JSON objects whose keys no field shadows.
    #[test]
    fn fixed_bodies_are_objects_apart_from_the_fields() {
        for call in &CALLS {
            if call.fixed.is_empty() {
                continue;
            }
            let fixed: Value = serde_json::from_str(call.fixed).expect(call.spec.name);
            let fixed = fixed.as_object().expect(call.spec.name);
            for field in call.fields() {
                assert!(!fixed.contains_key(field.name), "{}", call.spec.name);
            }
        }
    }

    #[test]
    fn path_text_is_taken_as_notion_gives_it() {
        assert_eq!(url_segment("property_id", "%3CLrR").unwrap(), "%3CLrR");
        assert_eq!(url_segment("property_id", "title").unwrap(), "title");
        for bad in ["a/b", "../x", "a?b", "a b", "a#b"] {
            assert!(url_segment("property_id", bad).is_err(), "{bad}");
        }
    }
}
