//! Per-token token buckets: Notion's documented average of 3 requests/s with a burst.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Requests per second; 0 turns limiting off.
    pub rate: f64,
    pub burst: u32,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token for `key`, or says how many whole seconds to wait.
    pub fn acquire(&self, key: &str, limits: Limits) -> Result<(), u64> {
        if limits.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets
            .entry(key.to_string())
            .or_insert((limits.burst as f64, now));
        let refill = now.duration_since(*last).as_secs_f64() * limits.rate;
        *tokens = (*tokens + refill).min(limits.burst.max(1) as f64);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / limits.rate;
            Err(wait.ceil().max(1.0) as u64)
        }
    }

    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
