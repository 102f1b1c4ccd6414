//! The typed client: Notion's endpoints used by Ferry's actions and syncs, each a method that
//! sends through the [`Transport`] with the client's `Notion-Version` and reads the answer
//! into [`crate::types`]. Every list goes through [`Paginated`].

use std::marker::PhantomData;

use ferry_provider::{Request, Transport};
use http::{HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::types::{
    Block, Comment, DataSource, Database, ListPage, Object, Page, PageMarkdown, Template, User,
};
use crate::{ApiVersion, NotionError};

/// Notion's largest page size, and the one Ferry asks for.
pub const PAGE_SIZE: u32 = 100;

/// Notion's API for one connection, in one API version.
pub struct Notion<T> {
    transport: T,
    version: ApiVersion,
}

impl<T: Transport> Notion<T> {
    pub fn new(transport: T, version: ApiVersion) -> Notion<T> {
        Notion { transport, version }
    }

    pub fn version(&self) -> ApiVersion {
        self.version
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Gives the transport back, e.g. to end the operation it recorded the calls under.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Sends `request` with this client's version and reads a 2xx answer as `R`.
    pub async fn call<R: DeserializeOwned>(&self, mut request: Request) -> Result<R, NotionError> {
        request.headers.insert(
            "notion-version",
            HeaderValue::from_static(self.version.as_str()),
        );
        let endpoint = format!("{} {}", request.method, request.path);
        let response = self.transport.send(request).await?;
        if !(200..300).contains(&response.status) {
            return Err(NotionError::from_response(&response));
        }
        serde_json::from_slice(&response.body).map_err(|e| NotionError::Decode {
            endpoint,
            message: e.to_string(),
        })
    }

    pub async fn me(&self) -> Result<User, NotionError> {
        self.call(Request::get("/v1/users/me")).await
    }

    pub async fn user(&self, id: &str) -> Result<User, NotionError> {
        let id = checked_id("user", id)?;
        self.call(Request::get(format!("/v1/users/{id}"))).await
    }

    pub fn users(&self) -> Paginated<'_, T, User> {
        Paginated::get(self, "/v1/users".into(), Vec::new(), "results")
    }

    /// `POST /v1/search` with `body` (query, filter, sort); pages through every match.
    pub fn search(&self, body: Value) -> Paginated<'_, T, Object> {
        Paginated::post(self, "/v1/search".into(), body, "results")
    }

    pub async fn database(&self, id: &str) -> Result<Database, NotionError> {
        let id = checked_id("database", id)?;
        self.call(Request::get(format!("/v1/databases/{id}"))).await
    }

    /// A database's rows, in 2022-06-28, where databases hold their rows.
    pub fn query_database(
        &self,
        id: &str,
        body: Value,
    ) -> Result<Paginated<'_, T, Object>, NotionError> {
        let id = checked_id("database", id)?;
        Ok(Paginated::post(
            self,
            format!("/v1/databases/{id}/query"),
            body,
            "results",
        ))
    }

    pub async fn data_source(&self, id: &str) -> Result<DataSource, NotionError> {
        let id = checked_id("data source", id)?;
        self.call(Request::get(format!("/v1/data_sources/{id}")))
            .await
    }

    /// A data source's rows (pages, or data sources for wikis) matching `body`.
    pub fn query_data_source(
        &self,
        id: &str,
        body: Value,
    ) -> Result<Paginated<'_, T, Object>, NotionError> {
        let id = checked_id("data source", id)?;
        Ok(Paginated::post(
            self,
            format!("/v1/data_sources/{id}/query"),
            body,
            "results",
        ))
    }

    pub fn data_source_templates(
        &self,
        id: &str,
    ) -> Result<Paginated<'_, T, Template>, NotionError> {
        let id = checked_id("data source", id)?;
        Ok(Paginated::get(
            self,
            format!("/v1/data_sources/{id}/templates"),
            Vec::new(),
            "templates",
        ))
    }

    pub async fn page(&self, id: &str) -> Result<Page, NotionError> {
        let id = checked_id("page", id)?;
        self.call(Request::get(format!("/v1/pages/{id}"))).await
    }

    pub async fn create_page(&self, body: &Value) -> Result<Page, NotionError> {
        self.call(Request::json(Method::POST, "/v1/pages", body))
            .await
    }

    pub async fn update_page(&self, id: &str, body: &Value) -> Result<Page, NotionError> {
        let id = checked_id("page", id)?;
        self.call(Request::json(
            Method::PATCH,
            format!("/v1/pages/{id}"),
            body,
        ))
        .await
    }

    /// Every item of one page property (property values in a page are cut at 25 items).
    pub fn page_property(
        &self,
        page_id: &str,
        property_id: &str,
    ) -> Result<Paginated<'_, T, Value>, NotionError> {
        let page_id = checked_id("page", page_id)?;
        let property_id = checked_property_id(property_id)?;
        Ok(Paginated::get(
            self,
            format!("/v1/pages/{page_id}/properties/{property_id}"),
            Vec::new(),
            "results",
        ))
    }

    /// A page's content, or the subtree of a block Notion listed as unknown, in Notion's
    /// markdown; the endpoint exists from API 2026-03-11 on.
    pub async fn page_markdown(&self, id: &str) -> Result<PageMarkdown, NotionError> {
        let id = checked_id("page", id)?;
        self.call(Request::get(format!("/v1/pages/{id}/markdown")))
            .await
    }

    pub async fn block(&self, id: &str) -> Result<Block, NotionError> {
        let id = checked_id("block", id)?;
        self.call(Request::get(format!("/v1/blocks/{id}"))).await
    }

    pub fn block_children(&self, id: &str) -> Result<Paginated<'_, T, Block>, NotionError> {
        let id = checked_id("block", id)?;
        Ok(Paginated::get(
            self,
            format!("/v1/blocks/{id}/children"),
            Vec::new(),
            "results",
        ))
    }

    /// Appends up to 100 blocks; returns the new first-level blocks.
    pub async fn append_children(
        &self,
        id: &str,
        children: Vec<Value>,
    ) -> Result<ListPage<Block>, NotionError> {
        let id = checked_id("block", id)?;
        let body = json!({ "children": children });
        self.call(Request::json(
            Method::PATCH,
            format!("/v1/blocks/{id}/children"),
            &body,
        ))
        .await
    }

    pub async fn update_block(&self, id: &str, body: &Value) -> Result<Block, NotionError> {
        let id = checked_id("block", id)?;
        self.call(Request::json(
            Method::PATCH,
            format!("/v1/blocks/{id}"),
            body,
        ))
        .await
    }

    pub async fn delete_block(&self, id: &str) -> Result<Block, NotionError> {
        let id = checked_id("block", id)?;
        let mut request = Request::get(format!("/v1/blocks/{id}"));
        request.method = Method::DELETE;
        self.call(request).await
    }

    /// The unresolved comments on a page or block.
    pub fn comments(&self, block_id: &str) -> Result<Paginated<'_, T, Comment>, NotionError> {
        let block_id = checked_id("block", block_id)?;
        Ok(Paginated::get(
            self,
            "/v1/comments".into(),
            vec![("block_id".into(), block_id)],
            "results",
        ))
    }

    pub async fn create_comment(&self, body: &Value) -> Result<Comment, NotionError> {
        self.call(Request::json(Method::POST, "/v1/comments", body))
            .await
    }
}

/// A page or block id as Notion accepts it: 32 hex digits, with or without dashes.
pub fn checked_id(what: &'static str, id: &str) -> Result<String, NotionError> {
    let hex = id.chars().filter(|c| *c != '-').count();
    let ok = hex == 32 && id.len() <= 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(NotionError::InvalidId {
            what,
            id: id.chars().take(64).collect(),
        })
    }
}

/// Property ids are URL-safe already (`title`, `%3CLrR`); anything else is refused.
pub(crate) fn checked_property_id(id: &str) -> Result<String, NotionError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "%_.~-!*'()".contains(c));
    if ok {
        Ok(id.to_string())
    } else {
        Err(NotionError::InvalidId {
            what: "property",
            id: id.chars().take(64).collect(),
        })
    }
}

/// Walks a list endpoint page by page: `start_cursor` and `page_size` go in the query string
/// for GET and in the body for POST, as Notion wants them. It stops when Notion says there is
/// no more, and also when an answer claims more without a cursor or repeats one, so an
/// unexpected answer cannot loop forever.
pub struct Paginated<'a, T, R> {
    notion: &'a Notion<T>,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Map<String, Value>>,
    results_key: &'static str,
    cursor: Option<String>,
    done: bool,
    /// The last page's `request_status` (`incomplete` at the 10,000-result cap).
    pub request_status: Option<crate::types::RequestStatus>,
    _results: PhantomData<R>,
}

impl<'a, T: Transport, R: DeserializeOwned> Paginated<'a, T, R> {
    fn get(
        notion: &'a Notion<T>,
        path: String,
        query: Vec<(String, String)>,
        results_key: &'static str,
    ) -> Self {
        Self::new(notion, Method::GET, path, query, None, results_key)
    }

    fn post(notion: &'a Notion<T>, path: String, body: Value, results_key: &'static str) -> Self {
        let body = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self::new(
            notion,
            Method::POST,
            path,
            Vec::new(),
            Some(body),
            results_key,
        )
    }

    fn new(
        notion: &'a Notion<T>,
        method: Method,
        path: String,
        query: Vec<(String, String)>,
        body: Option<Map<String, Value>>,
        results_key: &'static str,
    ) -> Self {
        Paginated {
            notion,
            method,
            path,
            query,
            body,
            results_key,
            cursor: None,
            done: false,
            request_status: None,
            _results: PhantomData,
        }
    }

    /// Starts from `cursor` (a `next_cursor` saved earlier) instead of the first page.
    pub fn resume_from(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    /// The cursor of the page `next_page` asks for next; `None` before the first page and
    /// after the last.
    pub fn cursor(&self) -> Option<&str> {
        if self.done {
            None
        } else {
            self.cursor.as_deref()
        }
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Option<Result<Vec<R>, NotionError>> {
        if self.done {
            return None;
        }
        let request = self.request();
        let page: Result<Value, NotionError> = self.notion.call(request).await;
        let mut page = match page {
            Ok(page) => page,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let endpoint = format!("{} {}", self.method, self.path);
        let results = page
            .get_mut(self.results_key)
            .map(Value::take)
            .unwrap_or(Value::Array(Vec::new()));
        let results: Vec<R> = match serde_json::from_value(results) {
            Ok(results) => results,
            Err(e) => {
                self.done = true;
                return Some(Err(NotionError::Decode {
                    endpoint,
                    message: format!("{}: {e}", self.results_key),
                }));
            }
        };
        self.request_status = page
            .get("request_status")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        let has_more = page
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        match next {
            Some(next) if has_more && self.cursor.as_deref() != Some(next.as_str()) => {
                self.cursor = Some(next);
            }
            _ => self.done = true,
        }
        Some(Ok(results))
    }

    /// Every item of every page.
    pub async fn all(mut self) -> Result<Vec<R>, NotionError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }

    fn request(&self) -> Request {
        if let Some(body) = &self.body {
            let mut body = body.clone();
            body.insert("page_size".into(), json!(PAGE_SIZE));
            if let Some(cursor) = &self.cursor {
                body.insert("start_cursor".into(), json!(cursor));
            }
            return Request::json(self.method.clone(), &self.path, &Value::Object(body));
        }
        let mut query = self.query.clone();
        query.push(("page_size".into(), PAGE_SIZE.to_string()));
        if let Some(cursor) = &self.cursor {
            query.push(("start_cursor".into(), cursor.clone()));
        }
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        Request::get(format!("{}?{encoded}", self.path))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use ferry_provider::{Response, TransportError};

    use super::*;

    /// Answers from a script and remembers what was asked.
    struct Scripted {
        answers: Mutex<Vec<(u16, Value)>>,
        asked: Mutex<Vec<Request>>,
    }

    impl Transport for Scripted {
        async fn send(&self, request: Request) -> Result<Response, TransportError> {
            self.asked.lock().unwrap().push(request);
            let (status, body) = self.answers.lock().unwrap().remove(0);
            Ok(Response {
                status,
                headers: http::HeaderMap::new(),
                body: Bytes::from(body.to_string()),
            })
        }
    }

    fn scripted(answers: Vec<(u16, Value)>) -> Notion<Scripted> {
        Notion::new(
            Scripted {
                answers: Mutex::new(answers),
                asked: Mutex::default(),
            },
            ApiVersion::V2025_09_03,
        )
    }

    #[tokio::test]
    async fn pages_through_get_and_post_lists() {
        let notion = scripted(vec![
            (
                200,
                json!({"results": [{"id": "u1"}], "next_cursor": "c1", "has_more": true}),
            ),
            (
                200,
                json!({"results": [{"id": "u2"}], "next_cursor": null, "has_more": false}),
            ),
        ]);
        let users = notion.users().all().await.unwrap();
        assert_eq!(
            users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["u1", "u2"]
        );
        {
            let asked = notion.transport().asked.lock().unwrap();
            assert_eq!(asked[0].path, "/v1/users?page_size=100");
            assert_eq!(asked[1].path, "/v1/users?page_size=100&start_cursor=c1");
            assert_eq!(asked[1].headers["notion-version"], "2025-09-03");
        }

        let notion = scripted(vec![
            (
                200,
                json!({"results": [{"object": "page", "id": "p1"}], "next_cursor": "c", "has_more": true}),
            ),
            (
                200,
                json!({"results": [], "next_cursor": null, "has_more": false}),
            ),
        ]);
        let found = notion.search(json!({"query": "x"})).all().await.unwrap();
        assert_eq!(found.len(), 1);
        let asked = notion.transport().asked.lock().unwrap();
        let body: Value = serde_json::from_slice(asked[1].body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"query": "x", "page_size": 100, "start_cursor": "c"})
        );
    }

    #[tokio::test]
    async fn a_repeated_or_missing_cursor_ends_the_walk() {
        let notion = scripted(vec![
            (
                200,
                json!({"results": [{"id": "u1"}], "next_cursor": "same", "has_more": true}),
            ),
            (
                200,
                json!({"results": [{"id": "u2"}], "next_cursor": "same", "has_more": true}),
            ),
        ]);
        assert_eq!(notion.users().all().await.unwrap().len(), 2);
        let notion = scripted(vec![(
            200,
            json!({"results": [], "next_cursor": null, "has_more": true}),
        )]);
        assert_eq!(notion.users().all().await.unwrap().len(), 0);
    }

    #[tokio::test]
    async fn errors_keep_notions_code_and_bad_ids_send_nothing() {
        let notion = scripted(vec![(
            404,
            json!({"object": "error", "status": 404, "code": "object_not_found", "message": "nope"}),
        )]);
        let e = notion
            .page("00000000-0000-4000-8000-000000000001")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("object_not_found"));
        let e = notion.page("../users").await.unwrap_err();
        assert!(matches!(e, NotionError::InvalidId { .. }));
        assert!(
            notion
                .page_property("00000000000040008000000000000001", "a/b")
                .is_err()
        );
        let notion = scripted(vec![(200, json!({"results": "not a list"}))]);
        assert!(matches!(
            notion.users().all().await,
            Err(NotionError::Decode { .. })
        ));
    }
}
