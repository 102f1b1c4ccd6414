//! Test harness: a real Notion emulator and a real Ferry server, both in-process on loopback
//! port 0, with a fresh database per test. [`backend_tests!`] makes each test a case on
//! SQLite and another on PostgreSQL (skipped, saying so, when `FERRY_TEST_DATABASE_URL` is
//! not set), so one backend's failure never hides the other's result. A test's database is
//! dropped when its harness is, also when the test fails.
#![allow(dead_code)]

pub mod actions;
pub mod syncs;

use ferry_engine::environments::Environment;
use ferry_engine::{Cipher, Engine, Settings};
use notion_emulator::RunningEmulator;
use reqwest::Method;
use serde_json::{Value, json};

pub const KEY: &str = "test-secret-key-0123456789";
pub const ACCOUNT_KEY: &str = "test-account-key-0123456789";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("FERRY_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// Declares `async fn name(backend: Backend)` tests as one case per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if super::support::postgres_url().is_none() {
                        eprintln!("skipped on PostgreSQL: FERRY_TEST_DATABASE_URL is not set");
                        return;
                    }
                    super::$name(super::support::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A database made for one test, dropped with it.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    async fn create(backend: Backend) -> TestDatabase {
        let name = format!("ferry_t_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                TestDatabase {
                    url: format!("sqlite://{}/ferry.db", dir.display()),
                    postgres: None,
                    dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("FERRY_TEST_DATABASE_URL is set");
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(&admin)
                    .await
                    .expect("FERRY_TEST_DATABASE_URL is reachable");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let (prefix, _) = admin.rsplit_once('/').expect("the URL names a database");
                TestDatabase {
                    url: format!("{prefix}/{name}"),
                    postgres: Some((admin, name)),
                    dir: None,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime, which cannot block on itself.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    sqlx::any::install_default_drivers();
                    if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            });
            let _ = dropped.join();
        }
    }
}

/// An engine on the settings' database, as `ferry serve` opens it.
pub async fn open_engine(settings: Settings, encryption_key: &str) -> Engine {
    let store = ferry_store::Store::connect(settings.database_url.expose())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let cipher = Cipher::from_base64(encryption_key).unwrap();
    Engine::start(settings, cipher, std::sync::Arc::new(store))
        .await
        .unwrap()
        .0
}

pub struct Harness {
    pub backend: Backend,
    pub base: String,
    pub engine: Engine,
    pub emulator: RunningEmulator,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped last, after the server and its pool.
    pub db: TestDatabase,
}

/// Another server on the harness's database; stops when dropped.
pub struct SecondServer {
    pub engine: Engine,
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Harness {
    pub async fn start(backend: Backend) -> Harness {
        Self::start_with(
            backend,
            notion_emulator::Config {
                rate_limit: 0.0,
                ..Default::default()
            },
            &[],
        )
        .await
    }

    /// Starts an emulator with `config` and Ferry with extra settings.
    pub async fn start_with(
        backend: Backend,
        config: notion_emulator::Config,
        extra: &[(&str, &str)],
    ) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emulator = notion_emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let db = TestDatabase::create(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let emulator_url = emulator.base_url();
        let public = format!("http://{addr}");
        let encryption_key = Cipher::generate_key();
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = db.url.clone();
        let settings = Settings::load_from(None, |name| {
            if let Some((_, v)) = extra.iter().find(|(k, _)| k == name) {
                return Some(v.clone());
            }
            match name {
                "FERRY_DATABASE_URL" => Some(url.clone()),
                "FERRY_NOTION_BASE_URL" => Some(emulator_url.clone()),
                "FERRY_SECRET_KEY" => Some(KEY.to_string()),
                "FERRY_ACCOUNT_KEY" => Some(ACCOUNT_KEY.to_string()),
                "FERRY_PUBLIC_URL" => Some(public.clone()),
                "FERRY_ENCRYPTION_KEY" => Some(encryption_key.clone()),
                _ => None,
            }
        })
        .unwrap();
        let engine = open_engine(settings, &encryption_key).await;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server_engine = engine.clone();
        tokio::spawn(async move {
            let _ = ferry_api::serve(listener, server_engine, async {
                let _ = stopped.await;
            })
            .await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Harness {
            backend,
            base: format!("http://{addr}"),
            engine,
            emulator,
            http,
            stop: Some(stop),
            db,
        }
    }

    /// Another engine on the same database and encryption key, as a second Ferry process
    /// sharing the database would have.
    pub async fn second_engine(&self) -> Engine {
        let settings = self.engine.settings().clone();
        let key = settings.encryption_key.clone().unwrap();
        open_engine(
            settings,
            ferry_engine::settings::ExposeSecret::expose_secret(&key),
        )
        .await
    }

    /// A second engine on the same database, served on its own port: a second `ferry serve`.
    pub async fn second_server(&self) -> SecondServer {
        let engine = self.second_engine().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let served = engine.clone();
        tokio::spawn(async move {
            let _ = ferry_api::serve(listener, served, async {
                let _ = stopped.await;
            })
            .await;
        });
        SecondServer {
            engine,
            base,
            _stop: stop,
        }
    }

    /// Runs `sql` (no parameters) on the test's database and returns the first column of
    /// every row as text: for checking what is stored.
    pub async fn db_texts(&self, sql: &str) -> Vec<String> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            r = r.bearer_auth(key);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(body) = body {
            r = r.json(&body);
        }
        let response = r.send().await.expect("Ferry answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// A call with `key`; the body parsed as JSON.
    pub async fn call(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, _, text) = self.request(method, path, Some(key), &[], body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A call with the dev key; the body parsed as JSON.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(KEY, method, path, body).await
    }

    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.api(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {value}"
        );
        value
    }

    /// Asserts the call fails with `status` and `code`; returns the message.
    pub async fn fails(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
        code: &str,
    ) -> String {
        let (got, value) = self.api(method.clone(), path, body).await;
        assert_eq!(
            (got, value["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} ({:?}): {value}",
            self.backend
        );
        value["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The `notion` integration, pointed (through FERRY_NOTION_BASE_URL) at the emulator.
    pub async fn notion_integration(&self, secret: &str) {
        self.ok(Method::POST, "/integrations", Some(json!({
            "provider": "notion",
            "unique_key": "notion",
            "display_name": "Notion",
            "credentials": {"type": "OAUTH2", "client_id": "emulator-client-id", "client_secret": secret},
        })))
        .await;
    }

    /// Imports the emulator's internal token as connection `id`.
    pub async fn import_demo_connection(&self, id: &str) {
        self.ok(
            Method::POST,
            "/connections",
            Some(json!({
                "provider_config_key": "notion",
                "connection_id": id,
                "credentials": {"type": "OAUTH2", "access_token": "ntn_emulator_demo"},
                "end_user": {"id": format!("user-{id}")},
            })),
        )
        .await;
    }

    pub async fn emulator_admin(&self, method: Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "emulator admin {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Runs the browser's side of OAuth: connect page → Notion authorize (with `extra`
    /// authorize parameters) → callback with the state cookie. Returns the callback status
    /// and page.
    pub async fn oauth(
        &self,
        session_token: &str,
        authorize_extra: &str,
        send_cookie: bool,
    ) -> (u16, String) {
        let (status, headers, body) = self
            .request(
                Method::GET,
                &format!("/oauth/connect/notion?connect_session_token={session_token}"),
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(status, 302, "{body}");
        let authorize = headers["location"].to_str().unwrap().to_string();
        let cookie = headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let at_notion = self
            .http
            .get(format!("{authorize}{authorize_extra}"))
            .send()
            .await
            .unwrap();
        assert_eq!(at_notion.status(), 302);
        let callback = at_notion.headers()["location"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            callback.starts_with(&format!("{}/oauth/callback?", self.base)),
            "{callback}"
        );
        let mut request = self.http.get(callback);
        if send_cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Connects `end_user` through the whole OAuth dance; returns the new connection's id.
    pub async fn connect_with_oauth(&self, end_user: &str) -> String {
        let token = self.connect_session(end_user).await;
        assert_eq!(self.oauth(&token, "", true).await.0, 200);
        let list = self
            .ok(
                Method::GET,
                &format!("/connections?endUserId={end_user}"),
                None,
            )
            .await;
        list["connections"][0]["connection_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The `dev` environment, which the test key belongs to.
    pub async fn dev(&self) -> Environment {
        self.engine
            .environments()
            .by_name("dev")
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn connect_session(&self, end_user: &str) -> String {
        let session = self.ok(Method::POST, "/connect/sessions", Some(json!({"end_user": {"id": end_user, "email": format!("{end_user}@example.com")}, "allowed_integrations": ["notion"]}))).await;
        session["data"]["token"].as_str().unwrap().to_string()
    }

    /// Every operation `GET /logs?{query}` lists, following `next_cursor` page by page.
    pub async fn all_logs(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/logs?{query}&cursor={c}"),
                None => format!("/logs?{query}"),
            };
            let page = self.ok(Method::GET, &path, None).await;
            all.extend(page["data"].as_array().unwrap().iter().cloned());
            cursor = page["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                return all;
            }
        }
    }
}

/// Runs `n` copies of `call` at once and returns their results in order.
pub async fn at_once<F, Fut, T>(n: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures_util::future::join_all((0..n).map(call)).await
}
