//! `ferry demo`: the bundled Notion emulator and the server on a fresh SQLite database in one
//! process, the `notion` integration and a connection made, and commands that work as printed.

use anyhow::Context as _;
use ferry_engine::Settings;
use ferry_engine::connections::ImportConnection;
use ferry_engine::integrations::IntegrationInput;
use serde_json::json;

use crate::start;

const DEMO_FOLDER: &str = "./ferry-data/demo";

pub async fn run() -> anyhow::Result<()> {
    let emulator = notion_emulator::start(
        notion_emulator::Config::default(),
        "127.0.0.1:0".parse().expect("a valid address"),
    )
    .await
    .context("starting the Notion emulator")?;
    let emulator_url = emulator.base_url();
    // A fresh database each run, so the demo always starts from the same place.
    let _ = std::fs::remove_dir_all(DEMO_FOLDER);
    let settings = Settings::load_from(None, |name| match name {
        "FERRY_DATABASE_URL" => Some(format!("sqlite://{DEMO_FOLDER}/ferry.db")),
        "FERRY_NOTION_BASE_URL" => Some(emulator_url.clone()),
        other => std::env::var(other).ok(),
    })?;
    let listen = settings.listen;
    let opened = start::open(settings).await?;
    let engine = opened.engine.clone();
    let env = engine
        .store
        .environment_by_name("dev")
        .await?
        .context("the dev environment exists")?;
    engine
        .create_integration(
            &env.id,
            IntegrationInput {
                provider: Some("notion".into()),
                unique_key: Some("notion".into()),
                display_name: Some("Notion (emulator)".into()),
                client_id: Some(notion_emulator::seed::DEMO_CLIENT_ID.into()),
                client_secret: Some(notion_emulator::seed::DEMO_CLIENT_SECRET.into()),
                ..Default::default()
            },
        )
        .await?;
    engine
        .import_connection(&env.id, ImportConnection {
            provider_config_key: "notion".into(),
            connection_id: Some("demo".into()),
            access_token: notion_emulator::seed::DEMO_TOKEN.into(),
            refresh_token: None,
            expires_at: None,
            raw: json!({"access_token": notion_emulator::seed::DEMO_TOKEN, "token_type": "bearer"}),
            connection_config: json!({"workspace_name": "Acme Inc."}),
            metadata: json!({"source": "ferry demo"}),
            end_user: Some(json!({"id": "demo-user", "email": "demo@acme.example"})),
            tags: json!({}),
        })
        .await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}; set FERRY_LISTEN to use another address"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let key = opened
        .generated_secret_key
        .clone()
        .or_else(|| std::env::var("FERRY_SECRET_KEY").ok())
        .unwrap_or_default();
    println!(
        "Ferry demo: the Notion emulator runs at {emulator_url} (workspace \"Acme Inc.\"), Ferry on SQLite in {DEMO_FOLDER}."
    );
    println!("Integration `notion` and connection `demo` are ready. Secret key: {key}");
    println!();
    println!("Call Notion through Ferry's proxy:");
    println!(
        "  curl -s {base}/proxy/v1/users -H 'Authorization: Bearer {key}' -H 'Connection-Id: demo' -H 'Provider-Config-Key: notion'"
    );
    println!("The connection, with its credentials:");
    println!(
        "  curl -s '{base}/connections/demo?provider_config_key=notion' -H 'Authorization: Bearer {key}'"
    );
    println!("What Ferry did:");
    println!("  curl -s '{base}/logs?limit=5' -H 'Authorization: Bearer {key}'");
    println!();
    println!("Press Ctrl-C to stop.");
    let result = start::run(
        start::Opened {
            engine,
            generated_secret_key: None,
        },
        listener,
        start::stop_requested(),
    )
    .await;
    emulator.shutdown().await;
    result
}
