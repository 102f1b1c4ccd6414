//! What the benchmarks share: Ferry in-process on a fresh database (SQLite in a temporary
//! folder, or a PostgreSQL database made for the run and dropped after), serving its API on a
//! free port, with the Notion integration at Notion's documented pace (its default). No
//! background workers run: a bench starts what it measures.

use ferry_engine::{Cipher, Engine, Settings};
use serde_json::Value;

pub const SECRET_KEY: &str = "bench-secret-key-0123456789";

pub struct Ferry {
    pub base: String,
    pub http: reqwest::Client,
    pub engine: Engine,
    stop: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
    /// The PostgreSQL server's admin URL and the database made for this run.
    postgres: Option<(String, String)>,
}

impl Ferry {
    /// Starts Ferry on SQLite calling Notion at `notion`, with the `notion` integration made.
    pub async fn start(notion: &str) -> Ferry {
        Self::start_on(notion, None).await
    }

    /// Like [`Ferry::start`], on a new database of the PostgreSQL server at `postgres` (an
    /// admin URL) when given.
    pub async fn start_on(notion: &str, postgres: Option<&str>) -> Ferry {
        let dir = TempDir::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let postgres = match postgres {
            Some(admin) => {
                let name = format!("ferry_bench_{}", uuid::Uuid::new_v4().simple());
                admin_sql(admin, &format!("CREATE DATABASE {name}")).await;
                Some((admin.to_string(), name))
            }
            None => None,
        };
        let database = match &postgres {
            Some((admin, name)) => {
                let (server, _) = admin.rsplit_once('/').expect("the URL names a database");
                format!("{server}/{name}")
            }
            None => format!("sqlite://{}/ferry.db", dir.0.display()),
        };
        let encryption_key = Cipher::generate_key();
        let settings = Settings::load_from(None, |name| match name {
            "FERRY_DATABASE_URL" => Some(database.clone()),
            "FERRY_NOTION_BASE_URL" => Some(notion.to_string()),
            "FERRY_SECRET_KEY" => Some(SECRET_KEY.to_string()),
            "FERRY_ENCRYPTION_KEY" => Some(encryption_key.clone()),
            _ => None,
        })
        .unwrap();
        let store = ferry_store::Store::connect(&database).await.unwrap();
        store.migrate().await.unwrap();
        let cipher = Cipher::from_base64(&encryption_key).unwrap();
        let (engine, _) = Engine::start(settings, cipher, std::sync::Arc::new(store))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = engine.clone();
        tokio::spawn(async move {
            let _ = ferry_api::serve(listener, server, async {
                let _ = stopped.await;
            })
            .await;
        });
        let ferry = Ferry {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            engine,
            stop,
            _dir: dir,
            postgres,
        };
        ferry
            .send(
                reqwest::Method::POST,
                "/integrations",
                None,
                serde_json::json!({"provider": "notion", "unique_key": "notion"}),
            )
            .await;
        ferry
    }

    /// Calls Ferry's API with the secret key (and a connection's headers when given);
    /// anything but a success stops the bench.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        connection: Option<&str>,
        body: Value,
    ) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .json(&body);
        if let Some(connection) = connection {
            request = request
                .header("Connection-Id", connection)
                .header("Provider-Config-Key", "notion");
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.engine.logs().flush_now().await;
        self.engine.close().await;
        if let Some((admin, name)) = &self.postgres {
            admin_sql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// A call to the emulator's public API with its demo token, as API 2025-09-03; anything but
/// a success stops the bench.
pub async fn emulator_call(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http
        .request(method.clone(), format!("{base}{path}"))
        .bearer_auth(notion_emulator::seed::DEMO_TOKEN)
        .header("Notion-Version", "2025-09-03");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

/// Runs `sql` on the PostgreSQL server's admin database.
async fn admin_sql(admin: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin)
        .await
        .expect("FERRY_TEST_DATABASE_URL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("ferry-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
