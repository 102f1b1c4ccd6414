//! A large page as markdown: Ferry's `fetch-rich-page` against notion-to-md 3.1.9 (the
//! converter users have today), on the same page of the emulator, in one run. The emulator
//! keeps Notion's default rate limit (3 requests a second, bursts of 10) and adds 250 ms to
//! every answer, as Notion does. Printed for each: requests, 429s met, wall time against the
//! bound the rate limit sets (requests needed ÷ 3 per second), and the CPU time of the
//! conversion alone per block.
//!
//!   cargo bench -p ferry --bench page_markdown
//!
//! `FERRY_BENCH_SECTIONS` (default 30: about 2,600 blocks) sets the page's size: each section holds every block
//! type, lists nested six deep, a table, columns and a synced block with a copy.
//! notion-to-md runs under Node from `benches/node` (installed here with `npm ci`); without
//! Node only Ferry is measured.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use ferry_notion::markdown::{MarkdownOptions, blocks_to_markdown};
use ferry_notion::tree::{TreeLimits, fetch_tree};
use ferry_notion::{ApiVersion, Notion};
use ferry_provider::{Request, Response, Transport, TransportError};
use serde_json::{Value, json};
use support::Ferry;

const TOKEN: &str = "ntn_emulator_demo";
const RATE: f64 = 3.0;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sections: usize = std::env::var("FERRY_BENCH_SECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(sections));
}

async fn run(sections: usize) {
    let emulator = notion_emulator::start(
        notion_emulator::Config {
            rate_limit: 0.0,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = emulator.base_url();
    let http = reqwest::Client::new();
    let notion = Api {
        http: http.clone(),
        base: base.clone(),
    };

    println!("seeding a page of {sections} sections (rate limit off while seeding)…");
    let seeded = seed(&notion, sections).await;
    println!(
        "page {}: {} blocks, {} levels deep, {} blocks with children; {} requests needed (1 for the page, {} lists)",
        seeded.page,
        seeded.blocks,
        seeded.depth,
        seeded.containers,
        1 + seeded.lists,
        seeded.lists
    );

    let ferry = Ferry::start(&base).await;
    ferry.with_connection().await;
    let admin = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/_emulator/settings");
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            assert!(response.status().is_success(), "emulator settings");
        }
    };
    admin(json!({"rate_limit": RATE, "burst": 10, "latency_ms": 250})).await;

    // Ferry.
    let counts = Counts::new(&http, &base);
    counts.settle().await;
    let started = Instant::now();
    let rich = ferry.fetch_rich_page(&seeded.page).await;
    let ferry_wall = started.elapsed();
    let ferry_counts = counts.read().await;
    let ferry_markdown = rich["content"].as_str().unwrap_or_default().len();
    assert!(
        rich["cut"].as_array().is_some_and(Vec::is_empty),
        "Ferry cut the page: {}",
        rich["cut"]
    );

    // notion-to-md.
    let node = match node_ready() {
        Ok(dir) => {
            counts.settle().await;
            let output = Command::new("node")
                .arg("notion-to-md.mjs")
                .args([base.as_str(), TOKEN, seeded.page.as_str()])
                .current_dir(&dir)
                .output()
                .expect("running node");
            assert!(
                output.status.success(),
                "notion-to-md failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let line = String::from_utf8_lossy(&output.stdout);
            let measured: Value = serde_json::from_str(line.trim()).expect("its JSON line");
            Some((measured, counts.read().await))
        }
        Err(why) => {
            println!("notion-to-md not measured: {why}");
            None
        }
    };

    // Ferry's conversion alone, on the same tree fetched again with the limits off.
    admin(json!({"rate_limit": 0, "latency_ms": 0})).await;
    let client = Notion::new(notion.clone(), ApiVersion::V2025_09_03);
    let tree = fetch_tree(&client, &seeded.page, TreeLimits::default())
        .await
        .unwrap();
    let options = MarkdownOptions::default();
    // Pure computation on one thread, nothing awaited: its time is its CPU time.
    let mut times = Vec::new();
    let mut markdown_len = 0;
    for _ in 0..21 {
        let started = Instant::now();
        let converted = blocks_to_markdown(&tree.blocks, &options);
        times.push(started.elapsed());
        markdown_len = converted.markdown.len();
    }
    times.sort();
    let ferry_cpu = times[times.len() / 2];

    let bound = Duration::from_secs_f64((1 + seeded.lists) as f64 / RATE);
    let per_block = |cpu: Duration| cpu.as_secs_f64() * 1e6 / seeded.blocks as f64;
    println!();
    println!(
        "| | requests | 429s | wall | wall ÷ bound ({:.1} s) | conversion CPU per block | markdown |",
        bound.as_secs_f64()
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| Ferry fetch-rich-page | {} (needed {}) | {} | {:.1} s | {:.3} | {:.2} µs | {} B ({} B from the converter alone) |",
        ferry_counts.0,
        1 + seeded.lists,
        ferry_counts.1,
        ferry_wall.as_secs_f64(),
        ferry_wall.as_secs_f64() / bound.as_secs_f64(),
        per_block(ferry_cpu),
        ferry_markdown,
        markdown_len,
    );
    if let Some((measured, (requests, limited))) = &node {
        let wall = measured["wall_ms"].as_f64().unwrap() / 1000.0;
        let cpu = Duration::from_micros(measured["conversion_cpu_us"].as_u64().unwrap());
        println!(
            "| notion-to-md 3.1.9 | {requests} | {limited} | {wall:.1} s | {:.3} | {:.2} µs | {} B |",
            wall / bound.as_secs_f64(),
            per_block(cpu),
            measured["markdown_bytes"],
        );
        println!();
        println!(
            "notion-to-md's conversion CPU ÷ Ferry's: {:.1} (goal ≥ 20); Ferry's wall ÷ bound: {:.3} (goal ≤ 1.10); Ferry's requests − needed: {} (goal 0)",
            cpu.as_secs_f64() / ferry_cpu.as_secs_f64(),
            ferry_wall.as_secs_f64() / bound.as_secs_f64(),
            ferry_counts.0 as i64 - (1 + seeded.lists) as i64,
        );
    }
    ferry.stop().await;
}

/// The emulator's public API, called with the internal integration's token: for seeding, and
/// as the transport of the typed client that fetches the tree for the CPU measure.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        support::emulator_call(&self.http, &self.base, method, path, body).await
    }
}

impl Transport for Api {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let mut builder = self
            .http
            .request(request.method, format!("{}{}", self.base, request.path))
            .bearer_auth(TOKEN)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Ok(Response {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response
                .bytes()
                .await
                .map_err(|e| TransportError::Unreachable(e.to_string()))?,
        })
    }
}

struct Seeded {
    page: String,
    blocks: usize,
    containers: usize,
    /// Lists of children the tree needs: one per hundred children of the page and of each
    /// block with children (a synced copy's are its original's, listed once).
    lists: usize,
    depth: usize,
}

/// A block to append, with its children: sent inside it when Notion wants them there (tables
/// and columns), else appended under it once it exists.
struct Node {
    body: Value,
    children: Vec<Node>,
    inline: bool,
}

impl Node {
    /// The body to send: with its children inside when they go inline.
    fn body(&self) -> Value {
        let mut body = self.body.clone();
        if self.inline {
            let kind = body["type"].as_str().unwrap().to_string();
            body[&kind]["children"] = self.children.iter().map(Node::inline_body).collect();
        }
        body
    }

    fn inline_body(&self) -> Value {
        let mut body = self.body.clone();
        if !self.children.is_empty() {
            let kind = body["type"].as_str().unwrap().to_string();
            body[&kind]["children"] = self.children.iter().map(Node::inline_body).collect();
        }
        body
    }

    /// Counts this block's descendants sent inline: blocks, blocks with children, lists.
    fn count_inline(&self, seeded: &mut Seeded, depth: usize) {
        seeded.depth = seeded.depth.max(depth);
        if self.children.is_empty() {
            return;
        }
        seeded.containers += 1;
        seeded.lists += self.children.len().div_ceil(100);
        seeded.blocks += self.children.len();
        for child in &self.children {
            child.count_inline(seeded, depth + 1);
        }
    }
}

fn rt(text: &str) -> Value {
    json!([{"type": "text", "text": {"content": text}}])
}

fn leaf(kind: &str, content: Value) -> Node {
    Node {
        body: json!({"object": "block", "type": kind, kind: content}),
        children: Vec::new(),
        inline: false,
    }
}

/// A block whose children Notion wants in the same request (a table's rows, columns).
fn holding(kind: &str, content: Value, children: Vec<Node>) -> Node {
    Node {
        inline: true,
        ..with(kind, content, children)
    }
}

fn with(kind: &str, content: Value, children: Vec<Node>) -> Node {
    Node {
        children,
        ..leaf(kind, content)
    }
}

fn paragraph(text: &str) -> Node {
    leaf("paragraph", json!({"rich_text": rt(text)}))
}

/// One section: every block type the API can create, annotated text, lists six deep.
fn section(n: usize, link_target: &str, user: &str) -> Vec<Node> {
    let annotated = json!([
        {"type": "text", "text": {"content": "bold "}, "annotations": {"bold": true}},
        {"type": "text", "text": {"content": "italic "}, "annotations": {"italic": true}},
        {"type": "text", "text": {"content": "strike "}, "annotations": {"strikethrough": true}},
        {"type": "text", "text": {"content": "code "}, "annotations": {"code": true}},
        {"type": "text", "text": {"content": "a link", "link": {"url": "https://acme.example"}}},
        {"type": "text", "text": {"content": " with *stars* and [brackets] | pipes "}},
        {"type": "mention", "mention": {"user": {"id": user}}},
        {"type": "mention", "mention": {"date": {"start": "2026-12-01"}}},
        {"type": "equation", "equation": {"expression": "e^{i\\pi}+1=0"}},
    ]);
    let mut nested = leaf("bulleted_list_item", json!({"rich_text": rt("level 6")}));
    for level in (1..6).rev() {
        nested = with(
            "bulleted_list_item",
            json!({"rich_text": rt(&format!("level {level}"))}),
            vec![nested],
        );
    }
    let rows = (0..4)
        .map(|r| {
            leaf(
                "table_row",
                json!({"cells": [rt(&format!("r{r} a")), rt("b | c"), rt("d\ne")]}),
            )
        })
        .collect();
    let mut blocks = vec![
        leaf(
            "heading_1",
            json!({"rich_text": rt(&format!("Section {n}"))}),
        ),
        leaf("paragraph", json!({"rich_text": annotated})),
        with(
            "heading_2",
            json!({"rich_text": rt("Toggleable"), "is_toggleable": true}),
            vec![paragraph("Inside the heading.")],
        ),
        nested,
        with(
            "numbered_list_item",
            json!({"rich_text": rt("first")}),
            vec![leaf(
                "numbered_list_item",
                json!({"rich_text": rt("first.a")}),
            )],
        ),
        leaf("numbered_list_item", json!({"rich_text": rt("second")})),
        leaf("to_do", json!({"rich_text": rt("done"), "checked": true})),
        leaf("to_do", json!({"rich_text": rt("open"), "checked": false})),
        with(
            "toggle",
            json!({"rich_text": rt("More")}),
            vec![
                with(
                    "callout",
                    json!({"rich_text": rt("Note"), "icon": {"type": "emoji", "emoji": "💡"}}),
                    vec![leaf("quote", json!({"rich_text": rt("Quoted inside.")}))],
                ),
                leaf(
                    "code",
                    json!({"rich_text": rt("let x = 1;"), "language": "rust"}),
                ),
            ],
        ),
        leaf("quote", json!({"rich_text": rt("A quote.")})),
        leaf(
            "callout",
            json!({"rich_text": rt("A callout."), "icon": {"type": "emoji", "emoji": "⚠️"}}),
        ),
        leaf(
            "code",
            json!({"rich_text": rt("fn main() {}\n"), "language": "rust", "caption": rt("main")}),
        ),
        leaf("equation", json!({"expression": "E = mc^2"})),
        leaf("divider", json!({})),
        leaf("breadcrumb", json!({})),
        leaf(
            "image",
            json!({"external": {"url": "https://images.example.com/a.png"}, "caption": rt("An image")}),
        ),
        leaf(
            "video",
            json!({"external": {"url": "https://videos.example.com/a.mp4"}}),
        ),
        leaf(
            "pdf",
            json!({"external": {"url": "https://files.example.com/a.pdf"}}),
        ),
        leaf(
            "audio",
            json!({"external": {"url": "https://files.example.com/a.mp3"}}),
        ),
        leaf(
            "file",
            json!({"external": {"url": "https://files.example.com/a.zip"}, "name": "a.zip"}),
        ),
        leaf("bookmark", json!({"url": "https://acme.example/docs"})),
        leaf("embed", json!({"url": "https://acme.example/embed"})),
        leaf(
            "link_to_page",
            json!({"type": "page_id", "page_id": link_target}),
        ),
        holding(
            "table",
            json!({"table_width": 3, "has_column_header": true, "has_row_header": false}),
            rows,
        ),
        holding(
            "column_list",
            json!({}),
            vec![
                with(
                    "column",
                    json!({}),
                    vec![paragraph("left one"), paragraph("left two")],
                ),
                with(
                    "column",
                    json!({}),
                    vec![paragraph("right one"), paragraph("right two")],
                ),
            ],
        ),
        with(
            "synced_block",
            json!({"synced_from": null}),
            vec![paragraph("Synced text.")],
        ),
    ];
    // Plain text makes up most of a real page.
    for i in 0..60 {
        blocks.push(paragraph(&format!(
            "Paragraph {i} of section {n}: ordinary prose, with nothing special in it."
        )));
    }
    blocks
}

/// Creates the page under the handbook and appends every section, level by level.
async fn seed(api: &Api, sections: usize) -> Seeded {
    let found = api
        .call(
            reqwest::Method::POST,
            "/v1/search",
            Some(json!({"query": "Acme Handbook", "filter": {"property": "object", "value": "page"}})),
        )
        .await;
    let handbook = found["results"][0]["id"].as_str().unwrap().to_string();
    let users = api.call(reqwest::Method::GET, "/v1/users", None).await;
    let user = users["results"][0]["id"].as_str().unwrap().to_string();
    let page = api
        .call(
            reqwest::Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"page_id": handbook}, "properties": {"title": {"title": rt("Benchmark page")}}})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut top: Vec<Node> = Vec::new();
    for n in 0..sections {
        top.extend(section(n, &handbook, &user));
    }
    let mut seeded = Seeded {
        page: page.clone(),
        blocks: 0,
        containers: 0,
        lists: 0,
        depth: 0,
    };
    let mut originals = Vec::new();
    let top_count = top.len();
    append(api, &page, top, 1, &mut seeded, &mut originals).await;
    // A synced copy of each original, at the end of the page.
    let copies: Vec<Node> = originals
        .iter()
        .map(|id| {
            leaf(
                "synced_block",
                json!({"synced_from": {"type": "block_id", "block_id": id}}),
            )
        })
        .collect();
    let copy_count = copies.len();
    append(api, &page, copies, 1, &mut seeded, &mut Vec::new()).await;
    seeded.lists += (top_count + copy_count).div_ceil(100);
    seeded
}

/// Appends `nodes` under `parent` (100 at a time), then each one's children under it.
async fn append(
    api: &Api,
    parent: &str,
    nodes: Vec<Node>,
    depth: usize,
    seeded: &mut Seeded,
    originals: &mut Vec<String>,
) {
    seeded.depth = seeded.depth.max(depth);
    let mut nodes = nodes;
    while !nodes.is_empty() {
        let rest = nodes.split_off(nodes.len().min(100));
        let batch = std::mem::replace(&mut nodes, rest);
        let bodies: Vec<Value> = batch.iter().map(Node::body).collect();
        let added = api
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/blocks/{parent}/children"),
                Some(json!({"children": bodies})),
            )
            .await;
        let ids: Vec<String> = added["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        seeded.blocks += batch.len();
        for (node, id) in batch.into_iter().zip(ids) {
            if node.inline {
                node.count_inline(seeded, depth);
                continue;
            }
            if node.children.is_empty() {
                continue;
            }
            if node.body["type"] == "synced_block" {
                originals.push(id.clone());
            }
            seeded.containers += 1;
            seeded.lists += node.children.len().div_ceil(100);
            Box::pin(append(
                api,
                &id,
                node.children,
                depth + 1,
                seeded,
                originals,
            ))
            .await;
        }
    }
}

/// Reads and resets the emulator's request counts.
struct Counts {
    http: reqwest::Client,
    url: String,
}

impl Counts {
    fn new(http: &reqwest::Client, base: &str) -> Counts {
        Counts {
            http: http.clone(),
            url: format!("{base}/_emulator/requests"),
        }
    }

    /// Lets the emulator's bucket fill (bursts of 10 at 3 a second), then zeroes the counts,
    /// so each converter starts as a fresh client would.
    async fn settle(&self) {
        tokio::time::sleep(Duration::from_secs(4)).await;
        self.http.delete(&self.url).send().await.unwrap();
    }

    /// (requests, of which refused with 429).
    async fn read(&self) -> (u64, u64) {
        let counts: Value = self
            .http
            .get(&self.url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            counts["total"].as_u64().unwrap(),
            counts["rate_limited"].as_u64().unwrap(),
        )
    }
}

/// Ferry in this process on a fresh SQLite file, with the emulator's token as a connection.
/// What this bench asks of Ferry: its page as markdown, over the demo token's connection.
trait FetchRichPage {
    async fn with_connection(&self);
    async fn fetch_rich_page(&self, page: &str) -> Value;
}

impl FetchRichPage for Ferry {
    async fn with_connection(&self) {
        self.send(
            reqwest::Method::POST,
            "/connections",
            None,
            json!({"provider_config_key": "notion", "connection_id": "bench", "credentials": {"type": "OAUTH2", "access_token": TOKEN}}),
        )
        .await;
    }

    async fn fetch_rich_page(&self, page: &str) -> Value {
        self.send(
            reqwest::Method::POST,
            "/action/trigger",
            Some("bench"),
            json!({"action_name": "fetch-rich-page", "input": {"pageId": page}}),
        )
        .await
    }
}

/// `benches/node` with its pinned packages installed, when Node is here.
fn node_ready() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/node");
    let version = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|_| "node is not installed".to_string())?;
    if !version.status.success() {
        return Err("node does not run".into());
    }
    if !dir.join("node_modules/notion-to-md").exists() {
        println!("installing notion-to-md 3.1.9 (npm ci in benches/node)…");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err("npm ci failed".into());
        }
    }
    Ok(dir)
}
