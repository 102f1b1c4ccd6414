//! Test harness: a real Notion emulator and a real Ferry server, both in-process on loopback
//! port 0, with a fresh database per test. Each test runs on SQLite and, when
//! `FERRY_TEST_DATABASE_URL` is set, again on a fresh PostgreSQL database.
#![allow(dead_code)]

use ferry_engine::{Engine, Settings};
use ferry_store::{Cipher, Store};
use notion_emulator::RunningEmulator;
use reqwest::Method;
use serde_json::{Value, json};

pub const KEY: &str = "test-secret-key-0123456789";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends this run covers.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if std::env::var("FERRY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        out.push(Backend::Postgres);
    }
    out
}

pub struct Harness {
    pub backend: Backend,
    pub base: String,
    pub engine: Engine,
    pub emulator: RunningEmulator,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    cleanup: Option<(String, String)>,
    _dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn database(backend: Backend) -> (String, Option<(String, String)>, Option<TempDir>) {
    let name = format!("ferry_t_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(&name);
            (
                format!("sqlite://{}/ferry.db", dir.display()),
                None,
                Some(TempDir(dir)),
            )
        }
        Backend::Postgres => {
            let admin = std::env::var("FERRY_TEST_DATABASE_URL").unwrap();
            let store = Store::connect(&admin)
                .await
                .expect("FERRY_TEST_DATABASE_URL is reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&store.pool)
                .await
                .unwrap();
            store.pool.close().await;
            let (prefix, _) = admin.rsplit_once('/').expect("the URL names a database");
            (format!("{prefix}/{name}"), Some((admin, name)), None)
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
        let (url, cleanup, dir) = database(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let emulator_url = emulator.base_url();
        let public = format!("http://{addr}");
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings = Settings::load_from(None, |name| {
            if let Some((_, v)) = extra.iter().find(|(k, _)| k == name) {
                return Some(v.clone());
            }
            match name {
                "FERRY_DATABASE_URL" => Some(url.clone()),
                "FERRY_NOTION_BASE_URL" => Some(emulator_url.clone()),
                "FERRY_SECRET_KEY" => Some(KEY.to_string()),
                "FERRY_PUBLIC_URL" => Some(public.clone()),
                "FERRY_ENCRYPTION_KEY" => Some(Cipher::generate_key()),
                _ => None,
            }
        })
        .unwrap();
        let cipher = Cipher::from_base64(settings.encryption_key.as_deref().unwrap()).unwrap();
        let (engine, _) = Engine::open(settings, cipher).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server_engine = engine.clone();
        let server = tokio::spawn(async move {
            ferry_api::serve(listener, server_engine, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
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
            server,
            stop: Some(stop),
            cleanup,
            _dir: dir,
        }
    }

    /// Another engine on the same database and encryption key, as a second Ferry process
    /// sharing the database would have.
    pub async fn second_engine(&self) -> Engine {
        let settings = (*self.engine.settings).clone();
        let cipher = Cipher::from_base64(settings.encryption_key.as_deref().unwrap()).unwrap();
        Engine::open(settings, cipher).await.unwrap().0
    }

    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        self.engine.store.pool.close().await;
        if let Some((admin, name)) = self.cleanup.take() {
            let store = Store::connect(&admin).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&store.pool)
            .await;
        }
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

    /// A call with the dev key; the body parsed as JSON.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, text) = self.request(method, path, Some(KEY), &[], body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.api(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {value}"
        );
        value
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

    /// The id of the `dev` environment, which the test key belongs to.
    pub async fn dev_environment_id(&self) -> String {
        self.engine
            .store
            .environment_by_name("dev")
            .await
            .unwrap()
            .unwrap()
            .id
    }

    pub async fn connect_session(&self, end_user: &str) -> String {
        let session = self.ok(Method::POST, "/connect/sessions", Some(json!({"end_user": {"id": end_user, "email": format!("{end_user}@example.com")}, "allowed_integrations": ["notion"]}))).await;
        session["data"]["token"].as_str().unwrap().to_string()
    }
}
