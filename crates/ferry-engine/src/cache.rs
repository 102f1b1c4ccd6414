//! Seconds-long caches for the hot call path (API keys, integrations, connections with their
//! opened credentials), so a proxied call does not read and decrypt them each time. Writes
//! in this process remove entries at once; other processes see a change within the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connections::Connection;
use crate::credentials::Credentials;
use crate::integrations::Integration;

pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The caches integrations and connections share, so a change to one (deleting an
/// integration) can drop entries of the other.
pub(crate) struct HotCaches {
    pub integrations: TtlCache<Arc<Integration>>,
    pub connections: TtlCache<Arc<(Connection, Credentials)>>,
}

impl Default for HotCaches {
    fn default() -> Self {
        HotCaches {
            integrations: TtlCache::new(Duration::from_secs(5)),
            connections: TtlCache::new(Duration::from_secs(5)),
        }
    }
}
