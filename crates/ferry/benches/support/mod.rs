//! What the benchmarks share: Ferry in-process on a fresh SQLite database in a temporary
//! folder, serving its API on a free port, with the Notion integration at Notion's documented
//! pace (its default). No background workers run: a bench starts what it measures.

use ferry_engine::{Cipher, Engine, Settings};
use serde_json::Value;

pub const SECRET_KEY: &str = "bench-secret-key-0123456789";

pub struct Ferry {
    pub base: String,
    pub http: reqwest::Client,
    pub engine: Engine,
    stop: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
}

impl Ferry {
    /// Starts Ferry calling Notion at `notion`, with the `notion` integration made.
    pub async fn start(notion: &str) -> Ferry {
        let dir = TempDir::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let database = format!("sqlite://{}/ferry.db", dir.0.display());
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
    }
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
