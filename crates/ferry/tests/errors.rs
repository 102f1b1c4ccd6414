//! Errors: the table of codes in the code is the table in `docs/api.md`; every error, also
//! of the HTTP layer itself (405, 413, unknown routes), has the JSON shape; a 500 says
//! `internal_error` with an error id and nothing internal.

mod support;

use std::collections::BTreeMap;

use ferry_engine::ErrorCode;
use reqwest::Method;
use serde_json::Value;
use support::{Backend, Harness, KEY};

#[test]
fn the_error_table_in_the_docs_matches_the_code() {
    let docs = include_str!("../../../docs/api.md");
    let section = docs
        .split("## Error codes")
        .nth(1)
        .expect("docs/api.md has an `## Error codes` section");
    let section = section.split("\n## ").next().unwrap();
    let mut documented = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let code = cells[1].trim_matches('`').to_string();
        let status: u16 = cells[2]
            .parse()
            .unwrap_or_else(|_| panic!("status of {code}: {}", cells[2]));
        assert!(
            documented.insert(code.clone(), status).is_none(),
            "{code} is listed twice"
        );
    }
    let in_code: BTreeMap<String, u16> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), ferry_api::status_of(*c).as_u16()))
        .collect();
    assert_eq!(
        documented, in_code,
        "docs/api.md's error table and the code differ"
    );
}

backend_tests!(http_errors_are_json, internal_errors_say_little);

async fn http_errors_are_json(backend: Backend) {
    let h = Harness::start(backend).await;
    let (status, body) = h.api(Method::GET, "/nowhere", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_route"))
    );
    let (status, body) = h.api(Method::PUT, "/integrations", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    // A 10 MB body is refused once it passes the limit; a raw client sends part of it and
    // reads the answer (an HTTP client would still be writing when the server answers).
    let mut request = format!(
        "POST /integrations HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
    );
    request.push_str(&"x".repeat(3 * 1024 * 1024));
    let (head, body) = raw_request(&h.base, &request).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, _, body) = h
        .request(
            Method::POST,
            "/integrations",
            Some(KEY),
            &[("content-type", "application/json")],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_body"));
}

/// Sends `request` as written and reads the answer's head and its `Content-Length` bytes (the
/// server keeps the connection open for a body that never comes).
async fn raw_request(base: &str, request: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed before answering");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a sized answer");
            if body.len() >= length {
                return (head.to_string(), body[..length].to_string());
            }
        }
    }
}

async fn internal_errors_say_little(backend: Backend) {
    let h = Harness::start(backend).await;
    // Without its database, Ferry fails every call that needs it.
    h.engine.close().await;
    let (status, headers, body) = h
        .request(
            Method::GET,
            "/integrations",
            Some("some-key-0123456789abc"),
            &[],
            None,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "internal_error");
    let error_id = headers["x-ferry-error-id"].to_str().unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(error_id), "{message}");
    for internal in ["pool", "sqlx", "database", "closed", "sqlite", "postgres"] {
        assert!(
            !message.to_lowercase().contains(internal),
            "`{internal}` in {message}"
        );
    }
    assert_eq!(
        body["error"].as_object().unwrap().len(),
        2,
        "only code and message"
    );
}
