//! A stateful local emulator of the Notion public API.
//!
//! It answers the endpoints Ferry uses, in the wire shapes of Notion-Version 2022-06-28,
//! 2025-09-03 and 2026-03-11, with Notion's errors, pagination, limits, OAuth and webhooks,
//! so that the official SDK cannot tell it from the real API. It is written from Notion's
//! documented behaviour and depends on no Ferry crate, so it cannot share Ferry's bugs.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let config = notion_emulator::Config::default();
//! let running = notion_emulator::start(config, "127.0.0.1:0".parse().unwrap()).await?;
//! println!("notion-emulator listening on {}", running.base_url());
//! # Ok(()) }
//! ```

pub mod admin;
pub mod api;
mod app;
pub mod blocks;
mod dates;
pub mod error;
pub mod faults;
pub mod filter;
pub mod http;
pub mod ids;
pub mod markdown;
pub mod markdown_parse;
pub mod model;
pub mod oauth;
pub mod pagination;
pub mod properties;
pub mod ratelimit;
pub mod render;
pub mod richtext;
pub mod seed;
pub mod server;
pub mod uploads;
pub mod validate;
pub mod version;
pub mod webhooks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use crate::error::NotionError;
pub use crate::seed::Seed;
pub use crate::server::RunningEmulator;
pub use crate::version::ApiVersion;

/// How an emulator starts; every field can be changed later through the admin API.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: Seed,
    /// Requests per second per token; 0 turns rate limiting off.
    pub rate_limit: f64,
    pub burst: u32,
    /// Delay added to every answer, as real Notion takes about 250 ms.
    pub latency: Duration,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Records a page's markdown renders before the rest is left as `<unknown>` tags.
    pub markdown_record_limit: usize,
    /// Rows one data source query answers before it reports `query_result_limit_reached`.
    pub query_result_limit: usize,
    /// The workspace's file upload limit (`workspace_limits.max_file_upload_size_in_bytes`).
    pub max_file_upload_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: Seed::Demo,
            rate_limit: 3.0,
            burst: 10,
            latency: Duration::ZERO,
            max_body_bytes: 500 * 1000,
            markdown_record_limit: markdown::RECORD_LIMIT,
            query_result_limit: api::schema::QUERY_RESULT_LIMIT,
            max_file_upload_bytes: uploads::PAID_PLAN_LIMIT,
        }
    }
}

/// Settings that the admin API may change while running.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub limits: ratelimit::Limits,
    pub latency: Duration,
    pub max_body_bytes: usize,
    pub markdown_record_limit: usize,
    pub query_result_limit: usize,
    pub max_file_upload_bytes: u64,
}

/// Everything the handlers share.
pub struct Emulator {
    workspace: Mutex<model::Workspace>,
    settings: Mutex<Settings>,
    pub seed: Mutex<Seed>,
    pub limiter: ratelimit::RateLimiter,
    pub faults: faults::Faults,
    pub counts: Mutex<BTreeMap<String, u64>>,
    /// Requests refused with 429 by the rate limiter (injected faults not counted).
    pub rate_limited: std::sync::atomic::AtomicU64,
    pub webhooks: webhooks::Webhooks,
    pub base_url: String,
    /// This emulator, for work a handler starts that outlives its request (URL imports).
    me: std::sync::Weak<Emulator>,
}

impl Emulator {
    pub fn new(config: &Config, base_url: String) -> std::io::Result<Arc<Self>> {
        let workspace = config.seed.build()?;
        Ok(Arc::new_cyclic(|me| Self {
            workspace: Mutex::new(workspace),
            settings: Mutex::new(Settings {
                limits: ratelimit::Limits {
                    rate: config.rate_limit,
                    burst: config.burst,
                },
                latency: config.latency,
                max_body_bytes: config.max_body_bytes,
                markdown_record_limit: config.markdown_record_limit,
                query_result_limit: config.query_result_limit,
                max_file_upload_bytes: config.max_file_upload_bytes,
            }),
            seed: Mutex::new(config.seed.clone()),
            limiter: ratelimit::RateLimiter::default(),
            faults: faults::Faults::default(),
            counts: Mutex::new(BTreeMap::new()),
            rate_limited: Default::default(),
            webhooks: webhooks::Webhooks::default(),
            base_url,
            me: me.clone(),
        }))
    }

    /// A handle that keeps this emulator alive, for a task started from a handler.
    pub fn handle(&self) -> Option<Arc<Emulator>> {
        self.me.upgrade()
    }

    /// The workspace lock; a handler that panicked cannot leave it unusable.
    pub fn workspace(&self) -> MutexGuard<'_, model::Workspace> {
        self.workspace.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Settings {
        let mut settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut settings);
        *settings
    }

    pub fn count(&self, key: String) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }
}

/// Binds `addr`, starts serving and the webhook sender, and returns once listening.
pub async fn start(config: Config, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
    server::start(config, addr).await
}
