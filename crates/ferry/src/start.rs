//! Opening Ferry: settings, the encryption key, the database and its migrations, the `dev`
//! environment; then serving with the background loops.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ferry_engine::{Engine, Settings};
use ferry_store::{Cipher, Store};

/// An opened Ferry: the engine, and the key printed once when it was generated now.
pub struct Opened {
    pub engine: Engine,
    pub generated_secret_key: Option<String>,
}

fn key_file(settings: &Settings) -> PathBuf {
    settings.data_dir().join("encryption.key")
}

/// The encryption key: from the settings, else the data folder's key file, created with a
/// warning on first start.
fn encryption_key(settings: &Settings) -> anyhow::Result<Cipher> {
    if let Some(key) = &settings.encryption_key {
        return Ok(Cipher::from_base64(key)?);
    }
    let path = key_file(settings);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Cipher::from_base64(&text)
            .with_context(|| format!("the key in {} is invalid", path.display()));
    }
    std::fs::create_dir_all(settings.data_dir())?;
    let key = Cipher::generate_key();
    write_private(&path, &key)?;
    tracing::warn!(path = %path.display(), "FERRY_ENCRYPTION_KEY is not set; generated a key into the data folder. Back it up: without it stored credentials cannot be read.");
    Ok(Cipher::from_base64(&key)?)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

pub async fn open(settings: Settings) -> anyhow::Result<Opened> {
    let cipher = encryption_key(&settings)?;
    let (engine, generated_secret_key) = Engine::open(settings, cipher).await?;
    Ok(Opened {
        engine,
        generated_secret_key,
    })
}

fn load(config: Option<&Path>) -> anyhow::Result<Settings> {
    Ok(Settings::load(config)?)
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config)?;
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    println!(
        "migrations applied to {}",
        redact_url(&settings.database_url)
    );
    Ok(())
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Runs the API and the background loops until Ctrl-C or SIGTERM.
pub async fn serve(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config)?;
    let listen = settings.listen;
    let opened = open(settings).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding FERRY_LISTEN {listen}"))?;
    run(opened, listener, stop_requested()).await
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the signal service managers and container
/// runtimes stop a process with; either lets in-flight calls finish and queued logs be written.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves on `listener`, prints the ready line (and a generated key), runs the background
/// loops, and on shutdown writes the pending logs.
pub async fn run(
    opened: Opened,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let engine = opened.engine;
    let addr = listener.local_addr()?;
    if let Some(key) = &opened.generated_secret_key {
        println!(
            "generated the dev environment's secret key (shown once; set FERRY_SECRET_KEY to choose your own): {key}"
        );
    }
    println!("ferry listening on http://{addr}");
    let background = spawn_background(engine.clone());
    ferry_api::serve(listener, engine.clone(), shutdown).await?;
    background.abort();
    engine.flush_logs().await;
    Ok(())
}

/// Loops that only schedule the engine's "do one unit now" functions.
fn spawn_background(engine: Engine) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut flush = tokio::time::interval(Duration::from_millis(250));
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = flush.tick() => { engine.flush_logs().await; }
                _ = prune.tick() => {
                    if let Err(e) = engine.prune_now().await {
                        tracing::error!(error = %e, "pruning old logs failed");
                    }
                }
            }
        }
    })
}

/// Re-seals every stored secret under a new key in one transaction.
pub async fn rotate_key(config: Option<&Path>, new_key: Option<String>) -> anyhow::Result<()> {
    let settings = load(config)?;
    let old = encryption_key(&settings)?;
    let new_text = new_key.unwrap_or_else(Cipher::generate_key);
    let new = Cipher::from_base64(&new_text).context("--new-key")?;
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    let sealed = store.sealed_values().await?;
    let mut resealed = Vec::with_capacity(sealed.len());
    for (table, key, column, id, value) in sealed {
        let plain = old.open(&value).with_context(|| {
            format!("{table}.{column} of {id} cannot be opened with the current key")
        })?;
        resealed.push((table, key, column, id, new.seal(&plain)));
    }
    let from_file = settings.encryption_key.is_none();
    if from_file {
        // Keep the old key beside the new one until the operator has checked everything.
        let path = key_file(&settings);
        std::fs::copy(&path, path.with_extension("key.old"))
            .context("backing up the old key file")?;
    }
    store.reseal(&resealed).await?;
    if from_file {
        write_private(&key_file(&settings), &new_text)?;
        println!(
            "re-encrypted {} secrets; the new key is in {} (the old one in encryption.key.old)",
            resealed.len(),
            key_file(&settings).display()
        );
    } else {
        println!(
            "re-encrypted {} secrets; now set FERRY_ENCRYPTION_KEY={new_text} and restart every ferry process",
            resealed.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rotation re-seals every secret: the new key opens them, the old one no longer does.
    #[tokio::test]
    async fn rotating_the_key_reseals_every_secret() {
        let dir = std::env::temp_dir().join(format!("ferry-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let old_key = Cipher::generate_key();
        let config = dir.join("ferry.toml");
        std::fs::write(&config, format!("database_url = \"sqlite://{}/ferry.db\"\nencryption_key = \"{old_key}\"\nsecret_key = \"rotate-secret-key-0123456789\"\n", dir.display())).unwrap();
        let settings = Settings::load(Some(&config)).unwrap();
        let opened = open(settings).await.unwrap();
        let env = opened
            .engine
            .store
            .environment_by_name("dev")
            .await
            .unwrap()
            .unwrap();
        opened
            .engine
            .create_integration(
                &env.id,
                ferry_engine::integrations::IntegrationInput {
                    provider: Some("notion".into()),
                    unique_key: Some("notion".into()),
                    client_id: Some("id".into()),
                    client_secret: Some("client-secret-value".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        opened.engine.store.pool.close().await;

        let new_key = Cipher::generate_key();
        rotate_key(Some(&config), Some(new_key.clone()))
            .await
            .unwrap();
        let store = Store::connect(&format!("sqlite://{}/ferry.db", dir.display()))
            .await
            .unwrap();
        let sealed = store.sealed_values().await.unwrap();
        assert_eq!(sealed.len(), 1);
        let value = &sealed[0].4;
        assert_eq!(
            Cipher::from_base64(&new_key).unwrap().open(value).unwrap(),
            "client-secret-value"
        );
        assert!(Cipher::from_base64(&old_key).unwrap().open(value).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
