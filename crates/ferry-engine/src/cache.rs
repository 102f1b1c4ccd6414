//! The hot-path caches (API keys, integrations with their endpoints, connections with their
//! opened credentials), so a proxied call reads and decrypts nothing. Each is bounded by size
//! (moka; the least used entries go first) and its entries live until a change invalidates
//! them: this process's writes at once, other processes' through the store's change feed
//! (`changes.rs`). Nothing expires by age, so a quiet connection is as fast as a busy one.
//!
//! A miss reads the database and fills the entry; a fill that raced with an invalidation of
//! its key would put a stale value back, so fills carry a [`Ticket`] taken before the read and
//! are dropped when the key was invalidated since.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many entries each hot cache keeps: API keys, integrations, connections, pacers.
pub const HOT_ENTRIES: u64 = 100_000;

const STRIPES: usize = 64;

/// A size-bounded map of shared values that only invalidation empties.
pub struct HotCache<V> {
    entries: moka::sync::Cache<String, Arc<V>>,
    hasher: RandomState,
    /// Invalidations per stripe of keys, and of everything; a fill checks and inserts under
    /// its stripe's lock, so an invalidation is never overtaken.
    stripes: [Mutex<u64>; STRIPES],
    everything: AtomicU64,
}

/// What a fill must match: the invalidation counts seen before the database was read.
pub struct Ticket {
    stripe: usize,
    stripe_count: u64,
    everything: u64,
}

impl<V: Send + Sync + 'static> HotCache<V> {
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::new(capacity),
            hasher: RandomState::new(),
            stripes: std::array::from_fn(|_| Mutex::new(0)),
            everything: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        self.entries.get(key)
    }

    fn stripe(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    fn lock(&self, stripe: usize) -> std::sync::MutexGuard<'_, u64> {
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Taken before reading what will fill `key`.
    pub fn ticket(&self, key: &str) -> Ticket {
        let stripe = self.stripe(key);
        Ticket {
            stripe,
            stripe_count: *self.lock(stripe),
            everything: self.everything.load(Ordering::Acquire),
        }
    }

    /// Keeps `value` unless `key` (or everything) was invalidated since `ticket`.
    pub fn fill(&self, ticket: Ticket, key: String, value: Arc<V>) {
        let count = self.lock(ticket.stripe);
        if *count == ticket.stripe_count
            && self.everything.load(Ordering::Acquire) == ticket.everything
        {
            self.entries.insert(key, value);
        }
    }

    pub fn invalidate(&self, key: &str) {
        let mut count = self.lock(self.stripe(key));
        *count += 1;
        self.entries.invalidate(key);
    }

    pub fn invalidate_all(&self) {
        // Every stripe's lock is taken in turn so no fill is between its check and insert.
        let _held: Vec<_> = (0..STRIPES).map(|s| self.lock(s)).collect();
        self.everything.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    #[cfg(test)]
    fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_after_an_invalidation_of_its_key_is_dropped() {
        let cache = HotCache::new(10);
        let ticket = cache.ticket("k");
        cache.invalidate("k");
        cache.fill(ticket, "k".into(), Arc::new(1));
        assert_eq!(
            cache.get("k"),
            None,
            "the value read before the change is stale"
        );
        let ticket = cache.ticket("k");
        cache.fill(ticket, "k".into(), Arc::new(2));
        assert_eq!(cache.get("k").as_deref(), Some(&2));
    }

    #[test]
    fn invalidating_everything_drops_entries_and_pending_fills() {
        let cache = HotCache::new(10);
        cache.fill(cache.ticket("a"), "a".into(), Arc::new(1));
        let pending = cache.ticket("b");
        cache.invalidate_all();
        cache.fill(pending, "b".into(), Arc::new(2));
        assert_eq!((cache.get("a"), cache.get("b")), (None, None));
    }

    #[test]
    fn the_cache_is_bounded_by_size() {
        let cache = HotCache::new(100);
        for n in 0..1000 {
            cache.fill(cache.ticket(&n.to_string()), n.to_string(), Arc::new(n));
        }
        assert!(cache.entry_count() <= 100, "{}", cache.entry_count());
    }
}
