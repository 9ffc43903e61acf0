//! The engine's Prometheus metrics. Gauges that are cheap to read from the store (grants by
//! state, overdue grants) are computed at scrape time by the HTTP layer instead.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming a decision outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `grant`, `approval_required` or `deny`.
    pub outcome: String,
}

/// Counters and histograms the engine updates.
#[derive(Clone)]
pub struct Metrics {
    /// Decisions taken (dry runs and intakes), by outcome.
    pub decisions: Family<OutcomeLabel, Counter>,
    /// Time to take one decision, in seconds.
    pub decision_seconds: Histogram,
    /// From `expires_at` to confirmed removal, in seconds.
    pub expiry_lag_seconds: Histogram,
    /// Jobs that failed and will be retried.
    pub job_retries: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            decisions: Family::default(),
            decision_seconds: Histogram::new(exponential_buckets(0.000_005, 2.0, 16)),
            expiry_lag_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            job_retries: Counter::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric in `registry` under the `warden` prefix.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "warden_decisions",
            "Decisions taken, by outcome",
            self.decisions.clone(),
        );
        registry.register(
            "warden_decision_seconds",
            "Time to take one decision",
            self.decision_seconds.clone(),
        );
        registry.register(
            "warden_expiry_lag_seconds",
            "Time from a grant's expiry to its confirmed removal",
            self.expiry_lag_seconds.clone(),
        );
        registry.register(
            "warden_job_retries",
            "Jobs that failed and were scheduled again",
            self.job_retries.clone(),
        );
    }
}
