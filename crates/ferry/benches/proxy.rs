//! Ferry's proxy measured in one run against a direct call and against nginx, on this
//! machine, with `wrk` as the load generator and every server in its own process:
//!
//! 1. throughput and latency of `GET /v1/users/me` with 32 connections, the emulator
//!    answering at once: direct, through nginx (Debian's package, one worker, upstream
//!    keep-alive), through a bare forwarder on Ferry's stack (axum and hyper-util doing
//!    nothing else: the most any forwarder on it reaches here) and through Ferry (release
//!    binary, keys checked, paced, logged), with the CPU each server spent per call;
//! 2. the median of sequential calls (one connection): what Ferry adds to a direct call;
//! 3. throughput when the emulator answers after 20 ms, nearer Notion's own latency;
//! 4. 10,000 connections imported (how long, and what bounds it), then `wrk` picking one at
//!    random per call against the same script on one connection, and Ferry's peak memory;
//! 5. 200 proxy calls at once against the emulator's default limit (3 requests/s, burst
//!    10): how many 429s reach the caller, and the time against the bound the limit sets.
//!
//! Ferry runs on SQLite, then on PostgreSQL when `FERRY_TEST_DATABASE_URL` names a server
//! (a fresh database is created there and dropped). Limits are off (emulator and pacer) for
//! 1–4, so they measure Ferry, not the pacer. nginx is skipped with a line saying so when it
//! is not installed; `wrk` is required (`apt install wrk nginx-light`).
//!
//! Run with `cargo bench -p ferry --bench proxy`; `FERRY_BENCH_SECONDS` sets the length of
//! each measured `wrk` run (default 5).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

// The allocator the `ferry` binary ships with, for the bare forwarder that runs in here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET_KEY: &str = "bench-secret-key-0123456789";
/// The emulator's demo token: every connection in the bench calls with it.
const TOKEN: &str = "ntn_emulator_demo";
const NOTION_VERSION: &str = "2025-09-03";
const MANY: usize = 10_000;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(wrk) = find_tool("wrk") else {
        println!("wrk is not installed (apt install wrk): nothing to measure with; skipped.");
        return;
    };
    let seconds: u64 = std::env::var("FERRY_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempdir("ferry-bench");
    let load = Load {
        wrk,
        seconds,
        dir: work.0.clone(),
    };

    let fast = spawn_emulator(&["--rate-limit", "0"]);
    let slow = spawn_emulator(&["--rate-limit", "0", "--latency", "20"]);
    let limited = spawn_emulator(&[]);
    let nginx = match find_tool("nginx") {
        Some(path) => Some(Nginx::start(&path, &fast.base, &work.0)),
        None => {
            println!("nginx is not installed (apt install nginx-light): its rows are skipped.");
            None
        }
    };
    println!(
        "wrk -t1, {seconds} s per run after 1 s of warm-up; every server in its own process on {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let direct_headers = [
        ("Authorization", format!("Bearer {TOKEN}")),
        ("Notion-Version", NOTION_VERSION.to_string()),
    ];
    let users_me = |base: &str| format!("{base}/v1/users/me");
    let direct = load.run(
        &users_me(&fast.base),
        32,
        &direct_headers,
        None,
        &[fast.pid()],
    );
    let direct_sequential = load.run(
        &users_me(&fast.base),
        1,
        &direct_headers,
        None,
        &[fast.pid()],
    );
    let (proxied_by_nginx, nginx_sequential) = match &nginx {
        Some(nginx) => (
            Some(load.run(
                &users_me(&nginx.base),
                32,
                &[],
                None,
                &[fast.pid(), nginx.worker],
            )),
            Some(load.run(
                &users_me(&nginx.base),
                1,
                &[],
                None,
                &[fast.pid(), nginx.worker],
            )),
        ),
        None => (None, None),
    };
    let bare = start_bare_forwarder(&fast.base);
    let forwarded = load.run(
        &users_me(&bare),
        32,
        &[],
        None,
        &[fast.pid(), std::process::id()],
    );
    println!();
    println!("1. GET /v1/users/me, 32 connections, the emulator answering at once");
    println!("   direct          {}", direct.show());
    if let Some(n) = &proxied_by_nginx {
        println!(
            "   nginx           {}   {:.2} of direct; nginx's worker {:.1} µs CPU per call",
            n.show(),
            n.rate / direct.rate,
            n.cpu_us[1]
        );
    }
    println!(
        "   bare forwarder  {}   {}; {:.1} µs CPU per call",
        forwarded.show(),
        match &proxied_by_nginx {
            Some(n) => format!("{:.2} of nginx", forwarded.rate / n.rate),
            None => format!("{:.2} of direct", forwarded.rate / direct.rate),
        },
        forwarded.cpu_us[1]
    );
    println!(
        "   (axum and hyper-util's client on two tokio workers, forwarding and nothing else: the most a forwarder on Ferry's stack reaches here)"
    );

    let mut backends = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("FERRY_TEST_DATABASE_URL") {
        backends.push(Backend::Postgres(url));
    }
    for (i, backend) in backends.iter().enumerate() {
        let database = runtime.block_on(Database::create(backend, &work.0));
        let ferry = Ferry::start(&database.url, &fast.base, &[&slow.base, &limited.base]);
        runtime.block_on(ferry.setup());
        let proxied = load.run(
            &ferry.proxy_url("/v1/users/me"),
            32,
            &ferry.headers("bench-0"),
            None,
            &[fast.pid(), ferry.pid()],
        );
        let sequential = load.run(
            &ferry.proxy_url("/v1/users/me"),
            1,
            &ferry.headers("bench-0"),
            None,
            &[fast.pid(), ferry.pid()],
        );
        println!();
        println!("Ferry on {}:", backend.name());
        println!(
            "1. Ferry           {}   Ferry's process {:.1} µs CPU per call; {:.2} of the bare forwarder",
            proxied.show(),
            proxied.cpu_us[1],
            proxied.rate / forwarded.rate
        );
        match &proxied_by_nginx {
            Some(n) => println!(
                "   Ferry against nginx: throughput {:.2} (goal ≥ 0.90), median {:.3} ms against {:.3} ms (goal: no worse)",
                proxied.rate / n.rate,
                proxied.median_ms,
                n.median_ms
            ),
            None => println!("   Ferry against nginx: skipped, nginx is not installed"),
        }
        println!(
            "2. sequential medians: direct {:.3} ms{}, Ferry {:.3} ms; Ferry adds {:.3} ms (goal < 0.3 ms)",
            direct_sequential.median_ms,
            nginx_sequential
                .as_ref()
                .map(|n| format!(", nginx {:.3} ms", n.median_ms))
                .unwrap_or_default(),
            sequential.median_ms,
            sequential.median_ms - direct_sequential.median_ms
        );

        let slow_direct = load.run(
            &users_me(&slow.base),
            32,
            &direct_headers,
            None,
            &[slow.pid()],
        );
        let mut slow_headers = ferry.headers("bench-0");
        slow_headers.push(("Base-Url-Override", slow.base.clone()));
        let slow_proxied = load.run(
            &ferry.proxy_url("/v1/users/me"),
            32,
            &slow_headers,
            None,
            &[slow.pid(), ferry.pid()],
        );
        println!(
            "3. 20 ms upstream: direct {:.0} req/s, Ferry {:.0} req/s: {:.3} of direct (goal ≥ 0.95); medians {:.2} and {:.2} ms",
            slow_direct.rate,
            slow_proxied.rate,
            slow_proxied.rate / slow_direct.rate,
            slow_direct.median_ms,
            slow_proxied.median_ms
        );

        let imported = runtime.block_on(ferry.import_many(MANY));
        println!(
            "4. imported {MANY} connections: {} one by one in {:.1} s ({:.2} ms each), {} with 16 callers at once in {:.1} s ({:.0} per s)",
            imported.sequential,
            imported.sequential_time.as_secs_f64(),
            imported.sequential_time.as_secs_f64() * 1000.0 / imported.sequential as f64,
            imported.concurrent,
            imported.concurrent_time.as_secs_f64(),
            imported.concurrent as f64 / imported.concurrent_time.as_secs_f64()
        );
        let one = load.script(&ferry, 1, Pick::Random);
        let many = load.script(&ferry, MANY, Pick::Random);
        // Steady state: every connection called once before the measured runs, as a
        // deployment's connections are long before a benchmark's minute.
        load.sweep(
            &ferry.proxy_url("/v1/users/me"),
            &load.script(&ferry, MANY, Pick::InTurn),
        );
        let on_one = load.run(
            &ferry.proxy_url("/v1/users/me"),
            32,
            &[],
            Some(&one),
            &[fast.pid(), ferry.pid()],
        );
        let on_many = load.run(
            &ferry.proxy_url("/v1/users/me"),
            32,
            &[],
            Some(&many),
            &[fast.pid(), ferry.pid()],
        );
        println!("   the same wrk script picking a connection per call:");
        println!("   of 1            {}", on_one.show());
        println!(
            "   of {MANY}        {}   {:.2} of one connection (goal ≥ 0.80)",
            on_many.show(),
            on_many.rate / on_one.rate
        );
        println!(
            "   Ferry's peak memory {} MiB (now {} MiB)",
            memory_kib(ferry.pid(), "VmHWM") / 1024,
            memory_kib(ferry.pid(), "VmRSS") / 1024
        );

        if i == 0 {
            runtime.block_on(rate_limit_section(&ferry, &limited.base));
        }
        drop(ferry);
        runtime.block_on(database.drop());
    }
}

/// The least a forwarding hop costs on Ferry's own stack (axum, hyper-util's pooled client,
/// tokio with two workers, mimalloc), in this process: no keys, connections, pacing, retries
/// or logs. Returns its base URL.
fn start_bare_forwarder(upstream: &str) -> String {
    type HttpClient = hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        axum::body::Body,
    >;
    async fn forward(
        axum::extract::State((client, upstream)): axum::extract::State<(HttpClient, String)>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        let mut upstream_request = axum::http::Request::new(axum::body::Body::empty());
        *upstream_request.uri_mut() = format!("{upstream}{}", request.uri().path())
            .parse()
            .unwrap();
        let headers = upstream_request.headers_mut();
        headers.insert(
            "authorization",
            axum::http::HeaderValue::from_static("Bearer ntn_emulator_demo"),
        );
        headers.insert(
            "notion-version",
            axum::http::HeaderValue::from_static(NOTION_VERSION),
        );
        let (parts, body) = client.request(upstream_request).await.unwrap().into_parts();
        axum::response::Response::from_parts(parts, axum::body::Body::new(body))
    }
    let (tx, rx) = mpsc::channel();
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client: HttpClient =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .pool_max_idle_per_host(128)
                    .build_http();
            let app = axum::Router::new()
                .fallback(forward)
                .with_state((client, upstream));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Section 5: the default pacer against the emulator's default limit.
async fn rate_limit_section(ferry: &Ferry, limited: &str) {
    let client = reqwest::Client::new();
    ferry
        .post(
            &client,
            "/integrations",
            json!({"provider": "notion", "unique_key": "notion-paced"}),
        )
        .await;
    ferry
        .post(
            &client,
            "/connections",
            json!({
                "provider_config_key": "notion-paced",
                "connection_id": "paced",
                "credentials": {"type": "OAUTH2", "access_token": TOKEN},
            }),
        )
        .await;
    let calls = 200;
    let started = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let request = client
                .get(ferry.proxy_url("/v1/users/me"))
                .bearer_auth(SECRET_KEY)
                .header("Connection-Id", "paced")
                .header("Provider-Config-Key", "notion-paced")
                .header("Base-Url-Override", limited);
            tokio::spawn(async move {
                request
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let bound = (calls as f64 - 10.0) / 3.0;
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    println!(
        "5. {calls} calls at once against 3 req/s, burst 10: {} answered 200, {} answered 429 to the caller (goal: 0)",
        count(200),
        count(429)
    );
    println!(
        "   took {elapsed:.1} s; the limit's bound is {bound:.1} s: {:.3} of it (goal: within 10%)",
        elapsed / bound
    );
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A directory removed when the bench ends.
struct TempDir(PathBuf);

fn tempdir(prefix: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server process, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits for the line `… listening on <url>` on its standard output.
fn spawn_listening(mut command: Command, name: &str) -> Server {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some((_, url)) = line.split_once("listening on ") {
                let _ = tx.send(url.trim().to_string());
                sent = true;
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{name} did not say where it listens"));
    Server { child, base }
}

fn spawn_emulator(args: &[&str]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(["notion-emulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn");
    spawn_listening(command, "the Notion emulator")
}

struct Nginx {
    child: Child,
    base: String,
    worker: u32,
}

impl Nginx {
    fn start(binary: &Path, upstream: &str, dir: &Path) -> Nginx {
        let port = free_port();
        let upstream = upstream.trim_start_matches("http://");
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(&prefix).unwrap();
        let conf = prefix.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                r#"worker_processes 1;
daemon off;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    upstream notion {{ server {upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://notion;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer {TOKEN}";
            proxy_set_header Notion-Version "{NOTION_VERSION}";
        }}
    }}
}}
"#,
                prefix = prefix.display()
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let worker = loop {
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if ready && let Some(worker) = children_of(child.id()).first() {
                break *worker;
            }
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Nginx {
            child,
            base,
            worker,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for worker in children_of(self.child.id()) {
            let _ = Command::new("kill").arg(worker.to_string()).status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// The fields of `/proc/<pid>/stat` after the command name: state, ppid, ….
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// User and system CPU time of a process so far, in clock ticks (100 per second).
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid)
        .map(|f| {
            f.get(11).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
        })
        .unwrap_or(0)
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches(" kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

struct Load {
    wrk: PathBuf,
    seconds: u64,
    dir: PathBuf,
}

/// One `wrk` run: requests per second, latency percentiles, and CPU per call of each
/// process watched.
struct Measured {
    rate: f64,
    median_ms: f64,
    p99_ms: f64,
    cpu_us: Vec<f64>,
}

impl Measured {
    fn show(&self) -> String {
        format!(
            "{:>7.0} req/s  median {:.3} ms  p99 {:.3} ms",
            self.rate, self.median_ms, self.p99_ms
        )
    }
}

impl Load {
    fn run(
        &self,
        url: &str,
        connections: u32,
        headers: &[(&str, String)],
        script: Option<&Path>,
        watched: &[u32],
    ) -> Measured {
        let wrk = |seconds: u64| {
            let mut command = Command::new(&self.wrk);
            command
                .arg("-t1")
                .arg(format!("-c{connections}"))
                .arg(format!("-d{seconds}s"))
                .arg("--latency");
            for (name, value) in headers {
                command.arg("-H").arg(format!("{name}: {value}"));
            }
            if let Some(script) = script {
                command.arg("-s").arg(script);
            }
            let output = command.arg(url).output().expect("running wrk");
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        wrk(1);
        let before: Vec<u64> = watched.iter().map(|p| cpu_ticks(*p)).collect();
        let text = wrk(self.seconds);
        let after: Vec<u64> = watched.iter().map(|p| cpu_ticks(*p)).collect();
        let rate = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("wrk printed no rate:\n{text}"));
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        {
            panic!("calls failed during the run ({line}); wrk said:\n{text}");
        }
        let percentile = |p: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(p))
                .map(|v| parse_duration_ms(v.trim()))
                .unwrap_or(f64::NAN)
        };
        let calls = rate * self.seconds as f64;
        Measured {
            rate,
            median_ms: percentile("50%"),
            p99_ms: percentile("99%"),
            cpu_us: before
                .iter()
                .zip(&after)
                .map(|(b, a)| (a - b) as f64 * 10_000.0 / calls)
                .collect(),
        }
    }

    /// A wrk script calling Ferry's proxy for one of `bench-0` … `bench-<count − 1>` per
    /// call, picked at random or in turn.
    fn script(&self, ferry: &Ferry, count: usize, pick: Pick) -> PathBuf {
        let (name, next) = match pick {
            Pick::Random => ("random", format!("math.random(0, {})", count - 1)),
            Pick::InTurn => ("in-turn", format!("(calls % {count})")),
        };
        let path = self.dir.join(format!("{name}-{count}.lua"));
        let mut file = std::fs::File::create(&path).unwrap();
        write!(
            file,
            r#"math.randomseed(7)
calls = 0
request = function()
  calls = calls + 1
  return wrk.format("GET", "/proxy/v1/users/me", {{
    ["Authorization"] = "Bearer {SECRET_KEY}",
    ["Provider-Config-Key"] = "{key}",
    ["Connection-Id"] = "bench-" .. {next},
  }})
end
"#,
            key = ferry.integration,
        )
        .unwrap();
        path
    }

    /// Calls with `script` for two seconds, unmeasured.
    fn sweep(&self, url: &str, script: &Path) {
        let output = Command::new(&self.wrk)
            .args(["-t1", "-c32", "-d2s", "-s"])
            .arg(script)
            .arg(url)
            .output()
            .expect("running wrk");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            !text.contains("Non-2xx") && !text.contains("Socket errors"),
            "calls failed while warming up:\n{text}"
        );
    }
}

/// How a wrk script picks the connection of each call.
enum Pick {
    Random,
    InTurn,
}

/// `612.00us`, `1.23ms`, `2.01s` in milliseconds.
fn parse_duration_ms(text: &str) -> f64 {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, f64::NAN)
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A fresh database for one Ferry process.
struct Database {
    url: String,
    postgres: Option<(String, String)>,
}

impl Database {
    async fn create(backend: &Backend, dir: &Path) -> Database {
        match backend {
            Backend::Sqlite => Database {
                url: format!("sqlite://{}/ferry.db", dir.join("sqlite").display()),
                postgres: None,
            },
            Backend::Postgres(admin) => {
                let name = format!("ferry_bench_{}", std::process::id());
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(admin)
                    .await
                    .expect("FERRY_TEST_DATABASE_URL is reachable");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let (prefix, _) = admin.rsplit_once('/').expect("the URL names a database");
                Database {
                    url: format!("{prefix}/{name}"),
                    postgres: Some((admin.clone(), name)),
                }
            }
        }
    }

    async fn drop(self) {
        if let Some((admin, name)) = self.postgres
            && let Ok(pool) = sqlx::AnyPool::connect(&admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await;
            pool.close().await;
        }
    }
}

struct Ferry {
    server: Server,
    integration: &'static str,
}

struct Imported {
    sequential: usize,
    sequential_time: Duration,
    concurrent: usize,
    concurrent_time: Duration,
}

impl Ferry {
    /// `ferry serve` on `database`, calling `notion` and allowed to call `also`.
    fn start(database: &str, notion: &str, also: &[&str]) -> Ferry {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
        command
            .arg("serve")
            .env("FERRY_DATABASE_URL", database)
            .env("FERRY_LISTEN", "127.0.0.1:0")
            .env("FERRY_NOTION_BASE_URL", notion)
            .env("FERRY_PROXY_ALLOWED_ORIGINS", also.join(","))
            .env("FERRY_SECRET_KEY", SECRET_KEY)
            .env(
                "FERRY_ENCRYPTION_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            )
            .env("RUST_LOG", "warn");
        Ferry {
            server: spawn_listening(command, "ferry serve"),
            integration: "notion",
        }
    }

    fn pid(&self) -> u32 {
        self.server.pid()
    }

    fn proxy_url(&self, path: &str) -> String {
        format!("{}/proxy{path}", self.server.base)
    }

    fn headers(&self, connection: &str) -> Vec<(&'static str, String)> {
        vec![
            ("Authorization", format!("Bearer {SECRET_KEY}")),
            ("Provider-Config-Key", self.integration.to_string()),
            ("Connection-Id", connection.to_string()),
        ]
    }

    async fn post(&self, client: &reqwest::Client, path: &str, body: serde_json::Value) {
        let response = client
            .post(format!("{}{path}", self.server.base))
            .bearer_auth(SECRET_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "POST {path}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// The `notion` integration with its pacer out of the way, and connection `bench-0`.
    async fn setup(&self) {
        let client = reqwest::Client::new();
        self.post(
            &client,
            "/integrations",
            json!({
                "provider": "notion",
                "unique_key": self.integration,
                "integration_config": {"rate_limit": 100_000, "burst": 100_000},
            }),
        )
        .await;
        self.post(&client, "/connections", self.connection_body(0))
            .await;
    }

    fn connection_body(&self, n: usize) -> serde_json::Value {
        json!({
            "provider_config_key": self.integration,
            "connection_id": format!("bench-{n}"),
            "credentials": {"type": "OAUTH2", "access_token": TOKEN},
        })
    }

    /// Imports `bench-1` … `bench-<count − 1>`: the first half one by one, the rest with 16
    /// callers at once.
    async fn import_many(&self, count: usize) -> Imported {
        let client = reqwest::Client::new();
        let half = count / 2;
        let started = Instant::now();
        for n in 1..half {
            self.post(&client, "/connections", self.connection_body(n))
                .await;
        }
        let sequential_time = started.elapsed();
        let started = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(half);
        let callers = (0..16).map(|_| async {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    break;
                }
                self.post(&client, "/connections", self.connection_body(n))
                    .await;
            }
        });
        futures_util::future::join_all(callers).await;
        Imported {
            sequential: half - 1,
            sequential_time,
            concurrent: count - half,
            concurrent_time: started.elapsed(),
        }
    }
}
