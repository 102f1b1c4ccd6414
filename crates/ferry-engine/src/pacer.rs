//! Per-connection pacing: all traffic to one connection goes through one pacer, so a burst of
//! calls is smoothed to the provider's rate instead of bounced as 429s. A 429 or 529 with
//! `Retry-After` holds the connection's pacer closed for that long.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// One connection's pacer.
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
    held_until: Mutex<Option<Instant>>,
    rate: f64,
    burst: u32,
}

impl Pacer {
    fn new(rate: f64, burst: u32) -> Pacer {
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("burst is at least 1");
        let quota = Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(burst_nz);
        Pacer {
            limiter: RateLimiter::direct(quota),
            held_until: Mutex::new(None),
            rate,
            burst,
        }
    }

    /// Waits for this connection's turn; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let held = *self.held_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = held {
            tokio::time::sleep_until(until.into()).await;
        }
        self.limiter.until_ready().await;
        started.elapsed()
    }

    /// Holds the pacer closed for `wait` (the provider said to back off).
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut held = self.held_until.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_none_or(|h| h < until) {
            *held = Some(until);
        }
    }
}

/// Every connection's pacer, created on first use with its integration's rate and burst.
#[derive(Default)]
pub struct Pacers {
    pacers: Mutex<HashMap<String, Arc<Pacer>>>,
}

impl Pacers {
    pub fn for_connection(&self, connection_row_id: &str, rate: f64, burst: u32) -> Arc<Pacer> {
        let mut pacers = self.pacers.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pacers
            .entry(connection_row_id.to_string())
            .or_insert_with(|| Arc::new(Pacer::new(rate, burst)));
        // A changed integration setting takes effect on the next call.
        if entry.rate != rate || entry.burst != burst {
            *entry = Arc::new(Pacer::new(rate, burst));
        }
        entry.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_then_the_rate() {
        let pacer = Pacer::new(20.0, 5);
        let started = Instant::now();
        for _ in 0..5 {
            pacer.acquire().await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(30),
            "the burst is free"
        );
        for _ in 0..4 {
            pacer.acquire().await;
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(180),
            "four more at 20/s take ~200 ms, took {waited:?}"
        );
    }

    #[tokio::test]
    async fn hold_closes_the_pacer() {
        let pacer = Pacer::new(1000.0, 10);
        pacer.hold(Duration::from_millis(120));
        let waited = pacer.acquire().await;
        assert!(waited >= Duration::from_millis(110), "{waited:?}");
    }
}
