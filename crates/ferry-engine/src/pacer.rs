//! Per-connection pacing: all traffic to one connection goes through one pacer, so a burst of
//! calls is smoothed to the provider's rate instead of bounced as 429s. A 429 or 529 with
//! `Retry-After` holds the connection's pacer closed for that long.
//!
//! When the store is shared by several processes (PostgreSQL), the budget is kept in it: a
//! pacer reserves its connection's next calls there (a few at a time at high rates, one at a
//! time at Notion's), so the processes together keep the rate. The reservations of every
//! connection made while one statement runs go together in the next ([`SharedBudget`]), so a
//! busy process spends a round trip per batch, not per call. Otherwise, or when the store
//! cannot answer, the process paces alone with a token bucket.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::QuantaClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::cache::HOT_ENTRIES;
use crate::storage;

/// The longest wait a `Retry-After` can impose.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How much of the rate one reservation in the shared store covers: fewer round trips at
/// high rates, while a process never holds more than a tenth of a second of the budget.
const RESERVED_AHEAD: Duration = Duration::from_millis(100);

/// One connection's pacer.
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
    held_until: Mutex<Option<Instant>>,
    rate: f64,
    burst: u32,
    shared: Option<SharedPace>,
}

/// Reservations in the shared store, sent in batches: one statement at a time, holding
/// every reservation asked for while the previous one ran.
pub struct SharedBudget {
    store: storage::Store,
    asked: tokio::sync::mpsc::UnboundedSender<AskedReservation>,
}

type AskedReservation = (
    storage::PaceReservation,
    tokio::sync::oneshot::Sender<Result<i64, String>>,
);

/// The most reservations one statement holds.
const MAX_BATCH: usize = 512;

impl SharedBudget {
    /// Starts the batching task on the current runtime; it ends when the budget is dropped.
    fn start(store: storage::Store) -> Arc<SharedBudget> {
        let (asked, mut waiting) = tokio::sync::mpsc::unbounded_channel::<AskedReservation>();
        let batches = store.clone();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let requests: Vec<storage::PaceReservation> =
                    batch.iter().map(|(request, _)| request.clone()).collect();
                match batches.reserve_paces(&requests).await {
                    Ok(answers) => {
                        for ((_, reply), first_in) in batch.into_iter().zip(answers) {
                            let _ = reply.send(Ok(first_in));
                        }
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        for (_, reply) in batch {
                            let _ = reply.send(Err(reason.clone()));
                        }
                    }
                }
            }
        });
        Arc::new(SharedBudget { store, asked })
    }

    async fn reserve(&self, request: storage::PaceReservation) -> Result<i64, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.asked
            .send((request, reply))
            .map_err(|_| "the reservation task has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the reservation task has stopped".to_string())?
    }
}

/// The connection's budget in the shared store, and the calls this process reserved from it.
struct SharedPace {
    budget: Arc<SharedBudget>,
    connection_row: String,
    interval_us: i64,
    tolerance_us: i64,
    per_reservation: u32,
    reserved: Mutex<Option<Reserved>>,
    /// One reservation at a time per pacer; the others wait for its slots.
    reserving: tokio::sync::Mutex<()>,
}

/// Calls reserved together: call `i` may go at `at + max(0, first_in_us + i × interval)`.
struct Reserved {
    at: Instant,
    first_in_us: i64,
    next: u32,
    count: u32,
}

impl Reserved {
    /// The next reserved call's time. A call not taken within [`RESERVED_AHEAD`] (or one
    /// interval, if longer) of its time is given up: taken later, calls would bunch up beyond
    /// the burst by more than the tenth of a second a reservation covers.
    fn take(&mut self, now: Instant, interval_us: i64) -> Option<Instant> {
        let grace = Duration::from_micros(interval_us as u64).max(RESERVED_AHEAD);
        while self.next < self.count {
            let offset = self
                .first_in_us
                .saturating_add(i64::from(self.next).saturating_mul(interval_us))
                .max(0);
            self.next += 1;
            let due = self.at + Duration::from_micros(offset as u64);
            if due + grace >= now {
                return Some(due);
            }
        }
        None
    }

    fn left(&self) -> bool {
        self.next < self.count
    }
}

impl SharedPace {
    /// Waits for a call reserved in the shared store; `false` when the store could not be
    /// asked (the caller then paces in this process).
    async fn acquire(&self) -> bool {
        loop {
            let due = lock(&self.reserved)
                .as_mut()
                .and_then(|r| r.take(Instant::now(), self.interval_us));
            if let Some(due) = due {
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                return true;
            }
            let _reserving = self.reserving.lock().await;
            if lock(&self.reserved).as_ref().is_some_and(Reserved::left) {
                continue;
            }
            let request = storage::PaceReservation {
                connection_row: self.connection_row.clone(),
                span_us: i64::from(self.per_reservation).saturating_mul(self.interval_us),
                tolerance_us: self.tolerance_us,
            };
            match self.budget.reserve(request).await {
                Ok(first_in_us) => {
                    *lock(&self.reserved) = Some(Reserved {
                        at: Instant::now(),
                        first_in_us,
                        next: 0,
                        count: self.per_reservation,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the shared pacing state could not be read; pacing in this process alone");
                    return false;
                }
            }
        }
    }

    async fn hold(&self, wait: Duration) {
        // Calls reserved before the provider said to wait are given up.
        *lock(&self.reserved) = None;
        let wait_us = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
        if let Err(e) = self
            .budget
            .store
            .hold_pace(&self.connection_row, wait_us, self.tolerance_us)
            .await
        {
            tracing::warn!(error = %e, "the shared pacing state could not be held closed");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pacer {
    #[cfg(test)]
    fn new(rate: f64, burst: u32) -> Pacer {
        Pacer::with_clock(rate, burst, QuantaClock::default(), None)
    }

    /// A pacer on a shared clock: making a clock reads the CPU's features, which costs more
    /// than the rest of a pacer (it showed in profiles over 10,000 connections). With `shared`
    /// (the shared budget and the connection's row) the budget is kept in the store.
    fn with_clock(
        rate: f64,
        burst: u32,
        clock: QuantaClock,
        shared: Option<(Arc<SharedBudget>, &str)>,
    ) -> Pacer {
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("burst is at least 1");
        let quota = Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(burst_nz);
        let interval_us = (period.as_micros() as i64).max(1);
        let shared = shared.map(|(budget, connection_row)| SharedPace {
            budget,
            connection_row: connection_row.to_string(),
            interval_us,
            tolerance_us: interval_us.saturating_mul(i64::from(burst.max(1) - 1)),
            per_reservation: ((rate * RESERVED_AHEAD.as_secs_f64()) as u32).clamp(1, burst.max(1)),
            reserved: Mutex::new(None),
            reserving: tokio::sync::Mutex::new(()),
        });
        Pacer {
            limiter: RateLimiter::direct_with_clock(quota, clock),
            held_until: Mutex::new(None),
            rate,
            burst,
            shared,
        }
    }

    /// Waits for this connection's turn; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let held = *lock(&self.held_until);
        if let Some(until) = held {
            tokio::time::sleep_until(until.into()).await;
        }
        let shared = match &self.shared {
            Some(shared) => shared.acquire().await,
            None => false,
        };
        if !shared {
            self.limiter.until_ready().await;
        }
        started.elapsed()
    }

    /// Holds the pacer closed for `wait` (the provider said to back off), in every process
    /// when the pace is shared.
    pub async fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        {
            let mut held = lock(&self.held_until);
            if held.is_none_or(|h| h < until) {
                *held = Some(until);
            }
        }
        if let Some(shared) = &self.shared {
            shared.hold(wait).await;
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
    /// The budget in the store, when it is shared by several processes.
    shared_budget: Option<Arc<SharedBudget>>,
}

impl Default for Pacers {
    fn default() -> Self {
        Pacers {
            pacers: moka::sync::Cache::builder()
                .max_capacity(HOT_ENTRIES)
                .expire_after(DroppedWhenRefilled)
                .build(),
            clock: QuantaClock::default(),
            shared_budget: None,
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
    /// Pacers keeping their budget in `store` when it is shared by several processes.
    pub fn on(store: &storage::Store) -> Pacers {
        Pacers {
            shared_budget: store
                .shares_pacing()
                .then(|| SharedBudget::start(store.clone())),
            ..Pacers::default()
        }
    }

    pub fn for_connection(&self, connection_row_id: &str, rate: f64, burst: u32) -> Arc<Pacer> {
        let make = || {
            let shared = self
                .shared_budget
                .clone()
                .map(|budget| (budget, connection_row_id));
            Arc::new(Pacer::with_clock(rate, burst, self.clock.clone(), shared))
        };
        let pacer = self.pacers.get_with_by_ref(connection_row_id, make);
        if pacer.rate == rate && pacer.burst == burst {
            return pacer;
        }
        // A changed integration setting takes effect on the next call.
        let changed = make();
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

    #[test]
    fn reserved_calls_follow_the_burst_then_the_interval_and_late_ones_are_given_up() {
        let at = Instant::now();
        // The store said the first two may go at once (the burst) and the rest 1 ms apart.
        let mut reserved = Reserved {
            at,
            first_in_us: -1_000,
            next: 0,
            count: 4,
        };
        assert_eq!(reserved.take(at, 1_000), Some(at));
        assert_eq!(reserved.take(at, 1_000), Some(at));
        assert_eq!(
            reserved.take(at, 1_000),
            Some(at + Duration::from_millis(1))
        );
        // Taken later than the grace after its time, the last one is given up.
        assert_eq!(
            reserved.take(at + RESERVED_AHEAD + Duration::from_millis(5), 1_000),
            None
        );
        assert!(!reserved.left());
    }

    #[tokio::test]
    async fn hold_closes_the_pacer() {
        let pacer = Pacer::new(1000.0, 10);
        pacer.hold(Duration::from_millis(120)).await;
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
