//! The engine's Prometheus metrics. Gauges that are cheap to read from the store (live grants
//! by state, overdue grants) are computed at scrape time by the HTTP layer instead; grants
//! that ended (revoked, failed) only grow, so they are running counters kept here rather
//! than counts over the whole table.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming a decision outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `grant`, `approval_required` or `deny`.
    pub outcome: String,
}

/// Labels of the drift gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabel {
    /// The connector instance.
    pub connector: String,
    /// `orphan` (on the target, held by no grant) or `missing` (held by an active grant,
    /// not on the target).
    pub kind: String,
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
    /// Act steps whose target or ITSM failed for good (each also an `alert.target_failed` event).
    pub target_failures: Counter,
    /// What the last reconciliation of each connector found.
    pub drift: Family<DriftLabel, Gauge>,
    /// Grants whose removal this process confirmed (`revoking` → `revoked`).
    pub grants_revoked: Counter,
    /// Grants this process gave up provisioning (`provisioning` → `failed`).
    pub grants_failed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            decisions: Family::default(),
            decision_seconds: Histogram::new(exponential_buckets(0.000_005, 2.0, 16)),
            expiry_lag_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            job_retries: Counter::default(),
            target_failures: Counter::default(),
            drift: Family::default(),
            grants_revoked: Counter::default(),
            grants_failed: Counter::default(),
        }
    }
}

impl Metrics {
    /// Records a reconciliation's findings for `connector`.
    pub fn set_drift(&self, connector: &str, orphans: usize, missing: usize) {
        for (kind, n) in [("orphan", orphans), ("missing", missing)] {
            let label = DriftLabel {
                connector: connector.to_owned(),
                kind: kind.to_owned(),
            };
            self.drift
                .get_or_create(&label)
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

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
        registry.register(
            "warden_target_failures",
            "Act steps whose target or ITSM failed for good",
            self.target_failures.clone(),
        );
        registry.register(
            "warden_grants_revoked",
            "Grants whose removal this process confirmed since it started",
            self.grants_revoked.clone(),
        );
        registry.register(
            "warden_grants_failed",
            "Grants this process failed to provision since it started",
            self.grants_failed.clone(),
        );
        registry.register(
            "warden_drift_accounts",
            "Drift the last reconciliation found, by connector and kind",
            self.drift.clone(),
        );
    }
}
