//! Shared test harness: a real emulator on a loopback port and a small HTTP client.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use notion_emulator::{Config, RunningEmulator, Seed};
use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "ntn_emulator_demo";

pub struct Emu {
    pub running: RunningEmulator,
    pub base: String,
    pub http: reqwest::Client,
}

impl Emu {
    /// The demo workspace with rate limits off.
    pub async fn start() -> Emu {
        Self::start_with(Config {
            rate_limit: 0.0,
            ..Config::default()
        })
        .await
    }

    pub async fn start_empty() -> Emu {
        Self::start_with(Config {
            rate_limit: 0.0,
            seed: Seed::Empty,
            ..Config::default()
        })
        .await
    }

    pub async fn start_with(config: Config) -> Emu {
        let running = notion_emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let base = running.base_url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Emu {
            running,
            base,
            http,
        }
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    /// A Notion API call with the demo token.
    pub async fn call(
        &self,
        version: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_as(TOKEN, version, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        version: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let (status, _, bytes) = self
            .raw(
                method,
                path,
                &[("authorization", &auth), ("notion-version", version)],
                body.map(|b| serde_json::to_vec(&b).unwrap()),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, version: &str, path: &str) -> Value {
        let (status, body) = self.call(version, Method::GET, path, None).await;
        assert_eq!(
            status, 200,
            "GET {path} ({version}) answered {status}: {body}"
        );
        body
    }

    pub async fn send(&self, version: &str, method: Method, path: &str, body: Value) -> Value {
        let (status, out) = self.call(version, method.clone(), path, Some(body)).await;
        assert_eq!(
            status, 200,
            "{method} {path} ({version}) answered {status}: {out}"
        );
        out
    }

    pub async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let (status, _, bytes) = self
            .raw(
                method.clone(),
                path,
                &[],
                Some(serde_json::to_vec(&body).unwrap()),
            )
            .await;
        let out: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(
            status, 200,
            "admin {method} {path} answered {status}: {out}"
        );
        out
    }

    /// A call that must fail: its status, Notion error `code` and `message`.
    pub async fn error(
        &self,
        version: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, String) {
        let (status, body) = self.call(version, method, path, body).await;
        assert_eq!(body["object"], "error", "{path}: {body}");
        assert!(body["request_id"].is_string());
        (
            status,
            body["code"].as_str().unwrap().to_string(),
            body["message"].as_str().unwrap().to_string(),
        )
    }

    /// A second internal integration with `token`, which sees nothing shared.
    pub async fn other_integration(&self, token: &str) {
        self.admin(
            Method::POST,
            "/_emulator/integrations",
            serde_json::json!({"type": "internal", "name": "Other", "token": token}),
        )
        .await;
    }

    /// The parent of a new Tasks row: the database on 2022-06-28, else its data source.
    pub async fn tasks_parent(&self, version: &str) -> Value {
        if version == V2022 {
            let tasks = self.find(version, "Tasks", "database").await;
            serde_json::json!({"database_id": tasks})
        } else {
            let tasks = self.find(version, "Tasks", "data_source").await;
            serde_json::json!({"data_source_id": tasks})
        }
    }

    /// `POST /v1/file_uploads/{id}/send` with a multipart `body` made by [`form`].
    pub async fn send_form(
        &self,
        version: &str,
        token: &str,
        id: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/file_uploads/{id}/send", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("notion-version", version)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("request is answered");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Searches by title and returns the first hit's id.
    pub async fn find(&self, version: &str, title: &str, object: &str) -> String {
        let result = self
            .send(version, Method::POST, "/v1/search", serde_json::json!({"query": title, "filter": {"property": "object", "value": object}}))
            .await;
        result["results"]
            .as_array()
            .and_then(|r| r.iter().find(|x| title_of(x) == title))
            .and_then(|x| x["id"].as_str())
            .unwrap_or_else(|| panic!("no {object} titled {title}"))
            .to_string()
    }
}

/// A `400 validation_error` whose message holds `needle` (the field it names, say).
pub fn is_validation(status: u16, body: &Value, needle: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation_error")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

/// A `404 object_not_found`.
pub fn is_not_found(status: u16, body: &Value) {
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("object_not_found")),
        "{body}"
    );
}

pub const BOUNDARY: &str = "ferry-test-boundary-7d1f";

/// A multipart form as an HTTP client sends it: `file` and, for multi part, `part_number`.
pub fn form(file: &[u8], filename: &str, content_type: &str, part_number: Option<u32>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(n) = part_number {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n{n}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `text` with the seconds of every `expires=` query value left out.
pub fn without_expiry(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("expires=") {
        let (before, after) = rest.split_at(at + "expires=".len());
        out.push_str(before);
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// One request a receiver got: headers, parsed body, raw body.
pub type Received = (HeaderMap, Value, Vec<u8>);

/// A webhook receiver on loopback (`/hook`) that records what it gets and fails on request.
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    pub fail_next: Arc<Mutex<u32>>,
}

impl Receiver {
    /// Starts the receiver alone; its hook's URL.
    pub async fn start(&self) -> String {
        let base = self.start_with(axum::Router::new()).await;
        format!("{base}/hook")
    }

    /// Starts the receiver beside `routes` (files to import, say); the server's base URL.
    pub async fn start_with(&self, routes: axum::Router) -> String {
        let me = self.clone();
        let app = routes.route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    me.got.lock().unwrap().push((headers, value, body.to_vec()));
                    let mut fail = me.fail_next.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    pub fn events(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// The SDK's webhook payload types, to check delivered events against.
pub struct WebhookSchemas {
    registry: jsonschema::Registry<'static>,
}

impl WebhookSchemas {
    pub fn load() -> Self {
        let registry = jsonschema::Registry::new()
            .add(
                "urn:notion:webhooks",
                load_schema("sdk-5.26.0/webhooks.json.gz"),
            )
            .unwrap()
            .prepare()
            .unwrap();
        WebhookSchemas { registry }
    }

    /// What is wrong with `payload` as the SDK's type for its event (`page.created` →
    /// `PageCreatedWebhookPayload`); empty when it matches.
    pub fn errors(&self, payload: &Value) -> Vec<String> {
        let ty = payload_type(payload["type"].as_str().unwrap_or_default());
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .build(&serde_json::json!({"$ref": format!("urn:notion:webhooks#/definitions/{ty}")}))
            .unwrap();
        validator
            .iter_errors(payload)
            .map(|e| format!("{ty}: {e} at {}", e.instance_path()))
            .collect()
    }
}

fn payload_type(kind: &str) -> String {
    kind.split(['.', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<String>()
        + "WebhookPayload"
}

/// A gzipped JSON Schema file from `tests/schemas/`.
pub fn load_schema(path: &str) -> Value {
    use std::io::Read as _;
    let file = std::fs::File::open(format!(
        "{}/tests/schemas/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("schema file exists");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("schema file is gzip");
    serde_json::from_str(&text).expect("schema file is JSON")
}

pub fn title_of(object: &Value) -> String {
    let rich = if object["object"] == "page" {
        object["properties"]
            .as_object()
            .and_then(|p| p.values().find(|v| v["type"] == "title"))
            .map(|v| v["title"].clone())
            .unwrap_or_default()
    } else {
        object["title"].clone()
    };
    rich.as_array()
        .map(|a| a.iter().filter_map(|t| t["plain_text"].as_str()).collect())
        .unwrap_or_default()
}

pub const V2022: &str = "2022-06-28";
pub const V2025: &str = "2025-09-03";
pub const V2026: &str = "2026-03-11";
