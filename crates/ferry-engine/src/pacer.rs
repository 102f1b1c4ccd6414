//! Per-connection pacing: all traffic to one connection goes through one pacer, so a burst of
//! calls is smoothed to the provider's rate instead of bounced as 429s. A 429 or 529 with
//! `Retry-After` holds the connection's pacer closed for that long.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::QuantaClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::cache::HOT_ENTRIES;

/// The longest wait a `Retry-After` can impose.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// One connection's pacer.
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
    held_until: Mutex<Option<Instant>>,
    rate: f64,
    burst: u32,
}

impl Pacer {
    #[cfg(test)]
    fn new(rate: f64, burst: u32) -> Pacer {
        Pacer::with_clock(rate, burst, QuantaClock::default())
    }

    /// A pacer on a shared clock: making a clock reads the CPU's features, which costs more
    /// than the rest of a pacer (it showed in profiles over 10,000 connections).
    fn with_clock(rate: f64, burst: u32, clock: QuantaClock) -> Pacer {
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("burst is at least 1");
        let quota = Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(burst_nz);
        Pacer {
            limiter: RateLimiter::direct_with_clock(quota, clock),
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
/// A pacer idle long enough to have refilled its burst (and to be past any hold) carries no
/// state and is dropped, as are the least used ones beyond [`HOT_ENTRIES`]; so thousands of
/// quiet connections cost no memory.
pub struct Pacers {
    pacers: moka::sync::Cache<String, Arc<Pacer>>,
    clock: QuantaClock,
}

impl Default for Pacers {
    fn default() -> Self {
        Pacers {
            pacers: moka::sync::Cache::builder()
                .max_capacity(HOT_ENTRIES)
                .expire_after(DroppedWhenRefilled)
                .build(),
            clock: QuantaClock::default(),
        }
    }
}

/// How long an unused pacer is kept: until its bucket is full again and the longest hold is
/// over (at most a day, for very slow rates).
struct DroppedWhenRefilled;

impl DroppedWhenRefilled {
    fn idle_life(pacer: &Pacer) -> Duration {
        let refill = f64::from(pacer.burst.max(1)) / pacer.rate.max(0.001);
        (Duration::from_secs_f64(refill.min(86_400.0)) + MAX_RETRY_WAIT)
            .min(Duration::from_secs(86_400))
    }
}

impl moka::Expiry<String, Arc<Pacer>> for DroppedWhenRefilled {
    fn expire_after_create(&self, _: &String, pacer: &Arc<Pacer>, _: Instant) -> Option<Duration> {
        Some(Self::idle_life(pacer))
    }

    fn expire_after_read(
        &self,
        _: &String,
        pacer: &Arc<Pacer>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(Self::idle_life(pacer))
    }

    fn expire_after_update(
        &self,
        _: &String,
        pacer: &Arc<Pacer>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Self::idle_life(pacer))
    }
}

impl Pacers {
    pub fn for_connection(&self, connection_row_id: &str, rate: f64, burst: u32) -> Arc<Pacer> {
        let pacer = self.pacers.get_with_by_ref(connection_row_id, || {
            Arc::new(Pacer::with_clock(rate, burst, self.clock.clone()))
        });
        if pacer.rate == rate && pacer.burst == burst {
            return pacer;
        }
        // A changed integration setting takes effect on the next call.
        let changed = Arc::new(Pacer::with_clock(rate, burst, self.clock.clone()));
        self.pacers
            .insert(connection_row_id.to_string(), changed.clone());
        changed
    }

    #[cfg(test)]
    fn len(&self) -> u64 {
        self.pacers.run_pending_tasks();
        self.pacers.entry_count()
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

    #[test]
    fn an_idle_pacer_lives_until_it_has_refilled_and_any_hold_is_over() {
        let life = |rate, burst| DroppedWhenRefilled::idle_life(&Pacer::new(rate, burst));
        assert_eq!(
            life(3.0, 10),
            Duration::from_secs_f64(10.0 / 3.0) + MAX_RETRY_WAIT
        );
        assert_eq!(life(0.001, 100_000), Duration::from_secs(86_400));
    }

    #[test]
    fn pacers_are_shared_per_connection_and_follow_setting_changes() {
        let pacers = Pacers::default();
        let a = pacers.for_connection("row-1", 3.0, 10);
        assert!(Arc::ptr_eq(&a, &pacers.for_connection("row-1", 3.0, 10)));
        let changed = pacers.for_connection("row-1", 5.0, 10);
        assert!(!Arc::ptr_eq(&a, &changed));
        assert!(Arc::ptr_eq(
            &changed,
            &pacers.for_connection("row-1", 5.0, 10)
        ));
        pacers.for_connection("row-2", 3.0, 10);
        assert_eq!(pacers.len(), 2);
    }
}
