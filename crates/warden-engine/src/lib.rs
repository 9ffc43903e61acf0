//! Warden's use cases: intake, approval, provisioning, expiry, revocation and replay, and
//! the worker that runs scheduled jobs. Every state change commits together with its audit
//! event and the job it schedules. Time comes from an injected [`Clock`].

pub mod access;
pub mod activation;
pub mod alert;
pub mod approval;
pub mod clock;
pub mod connectors;
pub mod console_queries;
pub mod credential;
pub mod error;
pub mod grant;
mod group_commit;
pub mod intake;
pub mod itsm;
pub mod job;
pub mod metrics;
pub mod replay;
pub mod report;
pub mod review;
pub mod revocation;
pub mod seal;
pub mod session;
pub mod standing;
pub mod status;
pub mod trail;
pub mod view;
pub mod worker;
pub mod workload;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use warden_model::{Duration, Timestamp};
use warden_policy::Bundle;
use warden_store::{NewAuditEvent, Store, Tx};

pub use clock::{Clock, ManualClock, Stopwatch, SystemClock};
pub use error::{EngineError, Fault};
pub use metrics::Metrics;
pub use view::{ApprovalView, GrantView, RequestView, StoredInput};

/// Settings of the lifecycle and the worker.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How long a request may wait for approvals.
    pub approval_window: Duration,
    /// How long a claimed job is held before another worker may take it.
    pub lease: std::time::Duration,
    /// Jobs claimed per round.
    pub batch: u32,
    /// First retry delay; doubles per attempt with jitter, up to `retry_max`.
    pub retry_base: std::time::Duration,
    /// Longest retry delay.
    pub retry_max: std::time::Duration,
    /// The connector instances grants are provisioned through.
    pub connectors: connectors::Connectors,
    /// How many act steps of one batch run at once.
    pub act_parallelism: usize,
    /// Into how many transactions, run at once, one batch's outcomes are applied on
    /// PostgreSQL (SQLite has one writer, so there it is always one).
    pub apply_parallelism: usize,
    /// The key minted credentials are sealed under until delivered; `None` makes a
    /// random one that lives as long as the process.
    pub sealer: Option<Arc<seal::Sealer>>,
    /// How long a rotated-out generation keeps working beside the new one.
    pub rotation_overlap: Duration,
    /// How often each connector is reconciled; `None` turns reconciliation off.
    pub reconcile_every: Option<Duration>,
    /// Whether reconciliation removes accounts with Warden's prefix that no grant holds.
    pub remove_orphans: bool,
    /// The ITSMs requests come from and outcomes are written back to.
    pub itsms: itsm::Itsms,
    /// Workload sign-in with OIDC tokens; `None` when no `[[oidc_issuer]]` is configured.
    pub workloads: Option<workload::Workloads>,
    /// Verifies the signed audit checkpoints for the evidence report; `None` when this
    /// process holds no checkpoint file (the report then says they were not checked).
    pub checkpoints: Option<Arc<dyn report::CheckpointVerifier>>,
    /// What the evidence report and the `warden_access_*` gauges judge by.
    pub goals: report::Goals,
    /// The outbound alerts and how long their deliveries are retried.
    pub alerts: alert::Alerts,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            approval_window: Duration::from_seconds(72 * 3_600).unwrap_or(Duration::MIN),
            lease: std::time::Duration::from_secs(30),
            batch: 200,
            retry_base: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(300),
            connectors: connectors::Connectors::default(),
            act_parallelism: 32,
            apply_parallelism: 4,
            sealer: None,
            rotation_overlap: Duration::from_seconds(300).unwrap_or(Duration::MIN),
            reconcile_every: Duration::from_seconds(300),
            remove_orphans: false,
            itsms: itsm::Itsms::default(),
            workloads: None,
            checkpoints: None,
            goals: report::Goals::default(),
            alerts: alert::Alerts::default(),
        }
    }
}

/// The engine: one per process, shared by the HTTP handlers and the worker.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    sealer: Arc<seal::Sealer>,
    /// The active bundle: new decisions use it, and it says who may act now.
    current: RwLock<Current>,
    /// Bundles that decided stored requests, loaded from the store on first use.
    by_hash: RwLock<HashMap<String, Arc<Bundle>>>,
    metrics: Metrics,
    /// Decided requests waiting to be stored together.
    intake_queue: group_commit::IntakeQueue,
}

/// The active bundle as this process holds it.
#[derive(Clone)]
struct Current {
    bundle: Arc<Bundle>,
    activated_at: Timestamp,
}

impl Engine {
    /// Builds the engine around `bundle`: stores it (content-addressed, so that decisions
    /// taken with it can be replayed later) and activates it unless it is active already —
    /// a server starts with the bundle its configuration names.
    pub async fn new(
        store: Store,
        bundle: Bundle,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let now = clock.now().truncated_to_millis();
        activation::activate(&store, &bundle, "system", now).await?;
        let activated_at = store
            .active_bundle()
            .await?
            .filter(|a| a.hash == bundle.hash())
            .map_or(now, |a| a.activated_at);
        let sealer = match &config.sealer {
            Some(s) => Arc::clone(s),
            None => Arc::new(seal::Sealer::ephemeral()?),
        };
        let current = Arc::new(bundle);
        let mut by_hash = HashMap::new();
        by_hash.insert(current.hash().to_owned(), Arc::clone(&current));
        let current = RwLock::new(Current {
            bundle: current,
            activated_at,
        });
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                sealer,
                current,
                by_hash: RwLock::new(by_hash),
                metrics: Metrics::default(),
                intake_queue: group_commit::IntakeQueue::default(),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The active bundle: new decisions use it, and its catalog says who may act now.
    pub fn bundle(&self) -> Arc<Bundle> {
        self.current().bundle
    }

    /// The active bundle and when it became active.
    pub fn active_bundle(&self) -> (Arc<Bundle>, Timestamp) {
        let c = self.current();
        (c.bundle, c.activated_at)
    }

    fn current(&self) -> Current {
        match self.inner.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_current(&self, bundle: Arc<Bundle>, activated_at: Timestamp) {
        let next = Current {
            bundle,
            activated_at,
        };
        match self.inner.current.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The current instant, from the engine's clock, cut to the millisecond: the store
    /// keeps milliseconds, and a decision must be replayable at exactly the instant that
    /// was stored with it (so every instant the engine uses is one the store can hold).
    pub fn now(&self) -> warden_model::Timestamp {
        self.inner.clock.now().truncated_to_millis()
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The connector instances.
    pub fn connectors(&self) -> &connectors::Connectors {
        &self.inner.config.connectors
    }

    /// The ITSM instances.
    pub fn itsms(&self) -> &itsm::Itsms {
        &self.inner.config.itsms
    }

    pub(crate) fn sealer(&self) -> &seal::Sealer {
        &self.inner.sealer
    }

    /// The bundle with hash `hash`: the current one, a cached one, or one read from the
    /// store.
    pub async fn bundle_by_hash(&self, hash: &str) -> Result<Arc<Bundle>, EngineError> {
        if let Ok(map) = self.inner.by_hash.read()
            && let Some(b) = map.get(hash)
        {
            return Ok(Arc::clone(b));
        }
        let bundle = activation::load_stored(&self.inner.store, hash).await?;
        let bundle = Arc::new(bundle);
        if let Ok(mut map) = self.inner.by_hash.write() {
            map.insert(hash.to_owned(), Arc::clone(&bundle));
        }
        Ok(bundle)
    }
}

/// An audit event that records no state change: `actor` did `action`, about the request
/// and grant given, with `data`.
pub(crate) fn note(
    at: warden_model::Timestamp,
    actor: String,
    action: &str,
    request_id: Option<warden_store::RequestId>,
    grant_id: Option<warden_store::GrantId>,
    data: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        at,
        actor,
        action: action.to_owned(),
        request_id,
        grant_id,
        before_state: None,
        after_state: None,
        bundle_hash: None,
        data,
    }
}

/// Appends an audit event inside `tx`, when it commits (see [`Tx::queue_audit`]: an event
/// about a request filed for another names both who asked and who filed).
pub(crate) async fn audit(tx: &mut Tx, event: NewAuditEvent) -> Result<(), EngineError> {
    tx.queue_audit(event);
    Ok(())
}
