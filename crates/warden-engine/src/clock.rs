//! Where the engine's instants come from. Production injects [`SystemClock`] (one of the
//! two readers of the wall clock, with the CLI's `crates/warden/src/clock.rs`); tests drive
//! a [`ManualClock`] so lifecycles run without sleeping. Ids made with `Uuid::now_v7` also
//! embed the time, for index order only: no decision or deadline is taken from them.

use std::sync::Mutex;

use warden_model::{Duration, Timestamp};

/// Where the engine gets "now".
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "this is the clock")]
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(time::OffsetDateTime::now_utc())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t = t.plus(d);
        }
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map_or_else(|e| *e.into_inner(), |t| *t)
    }
}

/// Seconds elapsed since `start`, for latency metrics only (never for decisions).
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts timing.
    #[expect(clippy::disallowed_methods, reason = "latency metrics, not decisions")]
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }

    /// Seconds since start.
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
