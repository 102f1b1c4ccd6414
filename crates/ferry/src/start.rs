//! Opening Ferry (settings, the encryption key, the database and its migrations, the keys
//! the settings name), then serving with the background loops, and stopping cleanly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ferry_engine::settings::ExposeSecret;
use ferry_engine::{Cipher, Engine, GeneratedKeys, Settings};
use ferry_store::Store;
use tokio_util::sync::CancellationToken;

/// An opened Ferry: the engine, and the keys generated now (printed once).
pub struct Opened {
    pub engine: Engine,
    pub generated: GeneratedKeys,
}

fn key_file(settings: &Settings) -> PathBuf {
    settings.data_dir().join("encryption.key")
}

/// The encryption key: from the settings, else the data folder's key file, created with a
/// warning on first start.
fn encryption_key(settings: &Settings) -> anyhow::Result<Cipher> {
    if let Some(key) = &settings.encryption_key {
        return Ok(Cipher::from_base64(key.expose_secret())?);
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

/// The database, connected and migrated.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(settings.database_url.expose())
        .await
        .with_context(|| format!("opening FERRY_DATABASE_URL {}", settings.database_url))?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating {}", settings.database_url))?;
    Ok(store)
}

pub async fn open(settings: Settings) -> anyhow::Result<Opened> {
    let cipher = encryption_key(&settings)?;
    let store = open_store(&settings).await?;
    let (engine, generated) = Engine::start(settings, cipher, std::sync::Arc::new(store))
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?;
    Ok(Opened { engine, generated })
}

pub fn load(config: Option<&Path>) -> anyhow::Result<Settings> {
    Ok(Settings::load(config)?)
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config)?;
    let store = open_store(&settings).await?;
    store.close().await;
    println!("migrations applied to {}", settings.database_url);
    Ok(())
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

/// Prints the keys generated at this start, once.
pub fn print_generated(generated: &GeneratedKeys) {
    if let Some(key) = &generated.dev_secret_key {
        println!(
            "generated the dev environment's secret key (shown once; set FERRY_SECRET_KEY to choose your own): {key}"
        );
    }
    if let Some(key) = &generated.account_key {
        println!(
            "generated the account key, which manages environments (shown once; set FERRY_ACCOUNT_KEY to choose your own): {key}"
        );
    }
}

/// Serves on `listener`, prints the ready line, runs the background loops, and on shutdown
/// lets calls in flight finish, stops the loops after their unit in hand, and writes the
/// operation logs still queued.
pub async fn run(
    opened: Opened,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let engine = opened.engine;
    let addr = listener.local_addr()?;
    print_generated(&opened.generated);
    println!("ferry listening on http://{addr}");
    let stop_loops = CancellationToken::new();
    let loops = spawn_background(engine.clone(), stop_loops.clone());
    let served = ferry_api::serve(listener, engine.clone(), async move {
        shutdown.await;
        println!("ferry stopping: no new calls; finishing the calls in flight");
    })
    .await;
    stop_loops.cancel();
    for handle in loops {
        if let Err(e) = handle.await {
            tracing::error!(error = %e, "a background loop ended by failing");
        }
    }
    let written = engine.logs().flush_now().await;
    engine.close().await;
    println!("ferry stopped ({written} queued operation logs written)");
    Ok(served?)
}

/// Loops that only schedule the engine's "do one unit now" functions; each stops when
/// `stop` is cancelled, after the unit in hand.
fn spawn_background(engine: Engine, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let writer = {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = engine.logs().queued() => {
                        // Gathering a batch for a moment costs far less than a commit per call.
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = tokio::time::sleep(ferry_engine::logs::BATCH_WINDOW) => {}
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                engine.logs().flush_now().await;
            }
            tracing::info!("log writer stopped: Ferry is stopping");
        })
    };
    let watcher = {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut watcher: Option<ferry_engine::CacheWatcher> = None;
            loop {
                let applied = async {
                    match &mut watcher {
                        Some(w) => w.apply_next().await.map(|_| ()),
                        None => engine.watch_changes().await.map(|w| watcher = Some(w)),
                    }
                };
                let outcome = tokio::select! {
                    _ = stop.cancelled() => break,
                    outcome = applied => outcome,
                };
                if let Err(e) = outcome {
                    // Until the feed is back, each retry empties the caches again.
                    engine.forget_all_cached();
                    tracing::error!(error = %e.chain(), "following other processes' changes failed; caches emptied, trying again in a second");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            tracing::info!("change watcher stopped: Ferry is stopping");
        })
    };
    // Async actions: a few runs at once, each worker taking the next due run.
    let runners = (0..ASYNC_ACTION_WORKERS).map(|_| {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                match engine.async_actions().run_next_unless(stop.cancelled()).await {
                    Ok(true) if !stop.is_cancelled() => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e.chain(), "running an async action failed; trying again in a second"),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = engine.async_actions().queued() => {}
                    // Runs queued by other processes, and retries that come due.
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        })
    });
    let mut loops: Vec<_> = runners.collect();
    // Syncs: each worker takes the schedule due first. A run cut short by the stop keeps
    // what it stored and gives up its lease, so a process resumes it from its checkpoint.
    loops.extend((0..SYNC_WORKERS).map(|_| {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                if stop.is_cancelled() {
                    break;
                }
                let ran = engine.syncs().run_next_unless(stop.cancelled()).await;
                match ran {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e.chain(), "running a sync failed; trying again in a second"),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        })
    }));
    // Webhooks to the app: each worker sends the delivery due first.
    loops.extend((0..WEBHOOK_WORKERS).map(|_| {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                let sent = tokio::select! {
                    _ = stop.cancelled() => break,
                    sent = engine.webhooks().deliver_next() => sent,
                };
                match sent {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e.chain(), "sending a webhook failed; trying again in a second"),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        })
    }));
    let housekeeping = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => {}
            }
            if let Err(e) = engine.logs().prune_now().await {
                tracing::error!(error = %e.chain(), "pruning old logs and sessions failed; trying again later");
            }
            if let Err(e) = engine.async_actions().prune_now().await {
                tracing::error!(error = %e.chain(), "pruning old async action results failed; trying again later");
            }
            let retention = engine.settings().log_retention_days;
            if let Err(e) = engine.webhooks().prune_now(retention).await {
                tracing::error!(error = %e.chain(), "pruning old webhook deliveries failed; trying again later");
            }
        }
        tracing::info!("housekeeping stopped: Ferry is stopping");
    });
    loops.extend([writer, watcher, housekeeping]);
    loops
}

/// Async action runs one process works on at once.
const ASYNC_ACTION_WORKERS: usize = 4;

/// Sync runs one process works on at once; each connection's pacer still bounds its calls.
const SYNC_WORKERS: usize = 2;

/// Webhook deliveries one process sends at once.
const WEBHOOK_WORKERS: usize = 2;

/// Re-seals every stored secret under a new key in one unit of work.
pub async fn rotate_key(config: Option<&Path>, new_key: Option<String>) -> anyhow::Result<()> {
    let settings = load(config)?;
    let old = encryption_key(&settings)?;
    let new_text = new_key.unwrap_or_else(Cipher::generate_key);
    let new = Cipher::from_base64(&new_text).context("--new-key")?;
    let store = open_store(&settings).await?;
    let mut sealed = store.sealed_values().await?;
    for value in &mut sealed {
        let plain = old.open(&value.sealed).with_context(|| {
            format!(
                "{}.{} of {} cannot be opened with the current key",
                value.table, value.column, value.id
            )
        })?;
        value.sealed = new.seal(&plain);
    }
    let from_file = settings.encryption_key.is_none();
    if from_file {
        // Keep the old key beside the new one until the operator has checked everything.
        let path = key_file(&settings);
        std::fs::copy(&path, path.with_extension("key.old"))
            .context("backing up the old key file")?;
    }
    let mut tx = store.begin().await?;
    tx.reseal(&sealed).await?;
    tx.commit().await?;
    store.close().await;
    if from_file {
        write_private(&key_file(&settings), &new_text)?;
        println!(
            "re-encrypted {} secrets; the new key is in {} (the old one in encryption.key.old)",
            sealed.len(),
            key_file(&settings).display()
        );
    } else {
        println!(
            "re-encrypted {} secrets; now set FERRY_ENCRYPTION_KEY={new_text} and restart every ferry process",
            sealed.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_engine::ids::{EnvironmentName, IntegrationKey};
    use ferry_engine::integrations::{NewIntegration, OAuthClient};

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
        let dev = opened
            .engine
            .environments()
            .by_name("dev")
            .await
            .unwrap()
            .unwrap();
        opened
            .engine
            .integrations()
            .create(
                &dev.id,
                NewIntegration {
                    provider: "notion".into(),
                    unique_key: IntegrationKey::parse("notion").unwrap(),
                    display_name: None,
                    forward_webhooks: None,
                    credentials: Some(OAuthClient {
                        client_id: Some("id".into()),
                        client_secret: Some("client-secret-value".into()),
                        ..Default::default()
                    }),
                    config: None,
                },
            )
            .await
            .unwrap();
        // Each environment (`dev` at start, and a second one) brings a sealed webhook signing key.
        opened
            .engine
            .environments()
            .create(&EnvironmentName::parse("staging").unwrap(), false)
            .await
            .unwrap();
        opened.engine.close().await;

        let new_key = Cipher::generate_key();
        rotate_key(Some(&config), Some(new_key.clone()))
            .await
            .unwrap();
        let store = Store::connect(&format!("sqlite://{}/ferry.db", dir.display()))
            .await
            .unwrap();
        let sealed = store.sealed_values().await.unwrap();
        assert_eq!(sealed.len(), 3);
        assert_eq!(
            sealed
                .iter()
                .filter(|v| v.column == "webhook_signing_key_enc")
                .count(),
            2
        );
        let new = Cipher::from_base64(&new_key).unwrap();
        let old = Cipher::from_base64(&old_key).unwrap();
        for value in &sealed {
            assert!(
                new.open(&value.sealed).is_ok(),
                "{}.{}",
                value.table,
                value.column
            );
            assert!(old.open(&value.sealed).is_err());
        }
        let secret = sealed
            .iter()
            .find(|v| v.column == "client_secret_enc")
            .unwrap();
        assert_eq!(new.open(&secret.sealed).unwrap(), "client-secret-value");
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
