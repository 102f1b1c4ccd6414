//! `ferry demo`: the bundled Notion emulator and the server on a fresh SQLite database in one
//! process, the `notion` integration and a connection made, a stand-in app receiving Ferry's
//! webhooks, and commands that work as printed, the OAuth connect flow through the emulator
//! and an edit in the emulator arriving as a webhook included.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use anyhow::Context as _;
use ferry_engine::connections::{EndUser, ImportConnection};
use ferry_engine::credentials::Credentials;
use ferry_engine::ids::{ConnectionId, IntegrationKey};
use ferry_engine::integrations::{NewIntegration, OAuthClient};
use ferry_engine::oauth::NewConnectSession;
use ferry_engine::settings::ExposeSecret;
use ferry_engine::{Cipher, Settings};
use serde_json::json;

use crate::{demo_app, start};

const DEMO_FOLDER: &str = "./ferry-data/demo";

pub async fn run() -> anyhow::Result<()> {
    let emulator = notion_emulator::start(
        notion_emulator::Config::default(),
        "127.0.0.1:0".parse().expect("a valid address"),
    )
    .await
    .context("starting the Notion emulator")?;
    let emulator_url = emulator.base_url();
    // A fresh database and key each run, so the demo always starts from the same place
    // and leaves no key to back up.
    let _ = std::fs::remove_dir_all(DEMO_FOLDER);
    let encryption_key = Cipher::generate_key();
    let settings = Settings::load_from(None, |name| match name {
        "FERRY_DATABASE_URL" => Some(format!("sqlite://{DEMO_FOLDER}/ferry.db")),
        "FERRY_NOTION_BASE_URL" => Some(emulator_url.clone()),
        "FERRY_ENCRYPTION_KEY" => Some(encryption_key.clone()),
        other => std::env::var(other).ok(),
    })?;
    let listen = settings.listen;
    let configured_key = settings.secret_key.clone();
    let opened = start::open(settings).await?;
    let engine = opened.engine.clone();
    let dev = engine
        .environments()
        .by_name("dev")
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?
        .context("the dev environment exists")?;
    let notion = IntegrationKey::parse("notion").expect("a valid key");
    engine
        .integrations()
        .create(
            &dev.id,
            NewIntegration {
                provider: "notion".into(),
                unique_key: notion.clone(),
                display_name: Some("Notion (emulator)".into()),
                forward_webhooks: None,
                credentials: Some(OAuthClient {
                    client_id: Some(notion_emulator::seed::DEMO_CLIENT_ID.into()),
                    client_secret: Some(notion_emulator::seed::DEMO_CLIENT_SECRET.into()),
                    ..Default::default()
                }),
                config: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let token = notion_emulator::seed::DEMO_TOKEN;
    engine
        .connections()
        .import(
            &dev.id,
            ImportConnection {
                provider_config_key: notion.clone(),
                connection_id: Some(ConnectionId::parse("demo").expect("a valid id")),
                credentials: Credentials::oauth2(
                    token.into(),
                    None,
                    None,
                    json!({"access_token": token, "token_type": "bearer"}),
                ),
                connection_config: serde_json::Map::from_iter([(
                    "workspace_name".to_string(),
                    json!("Acme Inc."),
                )]),
                metadata: serde_json::Map::from_iter([("source".to_string(), json!("ferry demo"))]),
                end_user: Some(EndUser {
                    id: "demo-user".into(),
                    email: Some("demo@acme.example".into()),
                    display_name: Some("Demo User".into()),
                    tags: BTreeMap::new(),
                    organization: None,
                }),
                tags: BTreeMap::new(),
                webhook_url_override: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    // The stand-in app receives the environment's webhooks and checks their signatures.
    let signing_key = engine
        .environments()
        .rotate_webhook_signing_key(&dev.id)
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo app's webhook receiver")?;
    let webhook_url = format!(
        "http://{}{}",
        app_listener.local_addr()?,
        demo_app::WEBHOOK_PATH
    );
    demo_app::spawn(app_listener, signing_key);
    let receiver = webhook_url.clone();
    engine
        .webhooks()
        .update_settings(&dev.id, move |settings| {
            settings.primary_url = Some(receiver);
            settings.on_auth_creation = true;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let handbook = {
        let workspace = emulator.emulator.workspace();
        workspace
            .pages
            .keys()
            .copied()
            .find(|id| workspace.page_title_text(*id) == "Acme Handbook")
            .context("the demo workspace has its handbook")?
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}; set FERRY_LISTEN to use another address"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let session = engine
        .connect()
        .create_session(
            &dev.id,
            NewConnectSession {
                end_user: Some(EndUser {
                    id: "newcomer".into(),
                    email: Some("newcomer@acme.example".into()),
                    display_name: None,
                    tags: BTreeMap::new(),
                    organization: None,
                }),
                allowed_integrations: Some(vec![notion]),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    let key = configured_key
        .map(|k| k.expose_secret().to_string())
        .or_else(|| opened.generated.dev_secret_key.clone())
        .unwrap_or_default();
    let bold = |text: &str| {
        if std::io::stdout().is_terminal() {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    println!(
        "{}",
        bold("Ferry demo: the Notion emulator and Ferry, with a fresh database each run.")
    );
    println!(
        "The emulator (workspace \"Acme Inc.\") runs at {emulator_url}; Ferry's data is in {DEMO_FOLDER}."
    );
    println!("Integration `notion` and connection `demo` are ready. Secret key: {key}");
    println!();
    println!("{}", bold("Call Notion through Ferry's proxy:"));
    println!(
        "  curl -s {base}/proxy/v1/users -H 'Authorization: Bearer {key}' -H 'Connection-Id: demo' -H 'Provider-Config-Key: notion'"
    );
    println!(
        "{}",
        bold("Run a pre-built action (GET /scripts/config lists them):")
    );
    println!(
        "  curl -s -X POST {base}/action/trigger -H 'Authorization: Bearer {key}' -H 'Connection-Id: demo' -H 'Provider-Config-Key: notion' -H 'Content-Type: application/json' -d '{{\"action_name\": \"list-users\"}}'"
    );
    println!(
        "{}",
        bold("The records Ferry's syncs keep (users and content-metadata run by themselves):")
    );
    println!(
        "  curl -s '{base}/records?model=ContentMetadata&limit=5' -H 'Authorization: Bearer {key}' -H 'Connection-Id: demo' -H 'Provider-Config-Key: notion'"
    );
    println!(
        "  curl -s '{base}/sync/status?provider_config_key=notion&syncs=*' -H 'Authorization: Bearer {key}'"
    );
    println!(
        "{}",
        bold(&format!(
            "Webhooks go to the demo's stand-in app at {webhook_url}; it prints them here as [app] lines. Edit a page in the emulator as Ada, then sync:"
        ))
    );
    println!(
        "  curl -s -X PATCH {emulator_url}/_emulator/people/{ada}/pages/{handbook} -H 'Content-Type: application/json' -d '{{\"properties\": {{\"title\": {{\"title\": [{{\"text\": {{\"content\": \"Acme Handbook, edited\"}}}}]}}}}}}' > /dev/null",
        ada = notion_emulator::seed::ADA,
    );
    println!(
        "  curl -s -X POST {base}/sync/trigger -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"provider_config_key\": \"notion\", \"connection_id\": \"demo\", \"syncs\": [\"content-metadata\"]}}'"
    );
    println!("{}", bold("The connection, with its credentials:"));
    println!(
        "  curl -s '{base}/connections/demo?provider_config_key=notion' -H 'Authorization: Bearer {key}'"
    );
    println!("{}", bold("What Ferry did:"));
    println!("  curl -s '{base}/logs?limit=5' -H 'Authorization: Bearer {key}'");
    println!(
        "{}",
        bold("Connect a new account through OAuth (open the link in a browser):")
    );
    println!("  {}", session.connect_link);
    println!("  or make your own link:");
    println!(
        "  curl -s -X POST {base}/connect/sessions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"end_user\": {{\"id\": \"u1\"}}}}'"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    let result = start::run(
        start::Opened {
            engine,
            generated: Default::default(),
        },
        listener,
        start::stop_requested(),
    )
    .await;
    emulator.shutdown().await;
    result
}
