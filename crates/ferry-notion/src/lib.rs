//! The Notion provider for Ferry: its provider entry ([`PROVIDER`]), the API versions
//! ([`ApiVersion`]), Notion's objects ([`types`]) and a typed client ([`Notion`]) that calls
//! through a [`ferry_provider::Transport`].
//!
//! It knows nothing of storage or of Ferry's API: the engine gives it a transport that paces,
//! retries, refreshes tokens and records each exchange, and gets typed results back.

mod actions;
mod client;
mod error;
pub mod markdown;
pub mod notion_markdown;
mod provider;
mod syncs;
pub mod tree;
pub mod types;
mod version;

pub use crate::client::{Notion, PAGE_SIZE, Paginated, checked_id};
pub use crate::error::NotionError;
pub use crate::provider::PROVIDER;
pub use crate::version::ApiVersion;
