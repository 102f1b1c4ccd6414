//! Seconds-long caches for the hot call path (API keys, integrations, connections with their
//! opened credentials), so a proxied call does not read and decrypt them each time. Writes
//! in this process remove entries at once; other processes see a change within the TTL.
//!
//! Caches built on one [`Epoch`] are emptied together by [`Epoch::bump`]: a change to an
//! integration changes how every one of its connections is called.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shared generation: entries cached before the last bump are gone.
#[derive(Debug, Clone, Default)]
pub struct Epoch(Arc<AtomicU64>);

impl Epoch {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct TtlCache<V> {
    ttl: Duration,
    epoch: Epoch,
    entries: Mutex<HashMap<String, (Instant, u64, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration, epoch: Epoch) -> Self {
        Self {
            ttl,
            epoch,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = self.epoch.current();
        entries
            .get(key)
            .filter(|(at, e, _)| at.elapsed() < self.ttl && *e == epoch)
            .map(|(_, _, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = self.epoch.current();
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (at, e, _)| at.elapsed() < ttl && *e == epoch);
        }
        entries.insert(key, (Instant::now(), epoch, value));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_empties_every_cache_of_the_epoch() {
        let epoch = Epoch::default();
        let a = TtlCache::new(Duration::from_secs(60), epoch.clone());
        let b = TtlCache::new(Duration::from_secs(60), epoch.clone());
        a.put("k".into(), 1);
        b.put("k".into(), 2);
        assert_eq!((a.get("k"), b.get("k")), (Some(1), Some(2)));
        epoch.bump();
        assert_eq!((a.get("k"), b.get("k")), (None, None));
        a.put("k".into(), 3);
        assert_eq!(a.get("k"), Some(3));
    }
}
