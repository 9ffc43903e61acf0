//! The evidence report: whether access was right over a window — the least role, the
//! shortest fitting time, independently approved, removed on time and confirmed on the
//! target — as figures with goals, the grants, requests and audit events behind each, and
//! the controls of `docs/evidence.md` they evidence.
//!
//! Every figure comes from the store (grants, their confirmed removals, accounts, approvals,
//! stored decisions, the audit trail) and the active catalog, through [`warden_store`]'s
//! index walks: nothing is taken from tickets. The figures that describe an instant (live
//! grants and what they hold) are also the `warden_access_*` gauges ([`Engine::access_now`]).

mod controls;
mod csv;
mod figures;
mod html;
mod live;
mod metric;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::Serialize;
use warden_model::{Duration, Timestamp};
use warden_store::{AuditReport, GrantWalk, Store};

pub use controls::{CONTROLS, Control};
pub use csv::to_csv;
pub use html::to_html;
pub use live::AccessNow;

/// How far back, in milliseconds, the `warden_access_review_completion` gauge looks for
/// reviews that fell due: a quarter, the longest usual campaign period.
pub const REVIEW_GAUGE_SPAN_MS: i64 = 90 * 86_400_000;
pub use metric::{EVIDENCE_CAP, Evidence, Figure, Goal, MetricId, Point, Status};

use crate::{Engine, EngineError};

/// The span a report covers: `(since, until]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Window {
    /// Events after this instant count.
    pub since: Timestamp,
    /// Events up to and including this instant count; instant figures are taken here.
    pub until: Timestamp,
}

impl Window {
    /// The window, or why it cannot be one.
    pub fn new(since: Timestamp, until: Timestamp) -> Result<Self, EngineError> {
        if since >= until {
            return Err(EngineError::Invalid(format!(
                "`since` ({since}) must be before `until` ({until})"
            )));
        }
        Ok(Self { since, until })
    }

    /// The 30 days up to `until`.
    pub fn month_to(until: Timestamp) -> Self {
        let start = until.unix_millis().saturating_sub(30 * 86_400_000);
        Self {
            since: Timestamp::from_unix_millis(start).unwrap_or(until),
            until,
        }
    }
}

/// What the figures are judged against.
#[derive(Clone, Debug)]
pub struct Goals {
    /// How long after its expiry (or its trigger) a removal may take before it is late.
    pub removal_grace: Duration,
    /// The longest a grant on a high or critical system may run before it is standing
    /// privilege rather than just-in-time access.
    pub jit_cap: Duration,
    /// Each metric's goal; a metric left out keeps [`MetricId::default_goal`].
    pub goals: BTreeMap<MetricId, Goal>,
}

impl Default for Goals {
    fn default() -> Self {
        Self {
            removal_grace: Duration::from_seconds(300).unwrap_or(Duration::MIN),
            jit_cap: Duration::from_seconds(8 * 3_600).unwrap_or(Duration::MIN),
            goals: BTreeMap::new(),
        }
    }
}

impl Goals {
    /// The goal of `id`.
    pub fn of(&self, id: MetricId) -> Goal {
        self.goals
            .get(&id)
            .copied()
            .unwrap_or_else(|| id.default_goal(self))
    }
}

/// One control and whether its metrics meet their goals.
#[derive(Clone, Debug, Serialize)]
pub struct ControlStatus {
    /// The framework (`NIST SP 800-53 r5`).
    pub framework: &'static str,
    /// The control's id (`AC-2(2)`).
    pub control: &'static str,
    /// What it asks, in a few words.
    pub title: &'static str,
    /// The metrics that evidence it.
    pub metrics: Vec<MetricId>,
    /// `breach` when any of them is in breach.
    pub status: Status,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// When it was made.
    pub generated_at: Timestamp,
    /// The span it covers.
    pub window: Window,
    /// The active bundle whose catalog judged the grants.
    pub bundle_hash: String,
    /// Every metric, by id.
    pub metrics: BTreeMap<MetricId, Figure>,
    /// Every control, with its status.
    pub controls: Vec<ControlStatus>,
}

/// The checkpoints' part of `audit_integrity`, when the caller can verify them (the binary
/// holds the public key and the file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointCheck {
    /// Checkpoints verified.
    pub checked: u64,
    /// The first checkpoint that failed, and why.
    pub problem: Option<String>,
    /// The newest checkpoint verified: the seq it signed and when it was signed.
    pub last: Option<(u64, warden_model::Timestamp)>,
}

/// Checks the signed audit checkpoints against the chain in `store` (the binary holds the
/// public key and the file, and implements this).
pub trait CheckpointVerifier: Send + Sync + std::fmt::Debug {
    /// What checking found against `chain`, the walk of the chain the report already made;
    /// a file that cannot be read is a problem, not an error.
    fn verify<'a>(
        &'a self,
        store: &'a Store,
        chain: &'a AuditReport,
    ) -> BoxFuture<'a, CheckpointCheck>;
}

/// A way to write the report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// The JSON document (`docs/evidence.md`).
    Json,
    /// One self-contained HTML page.
    Html,
    /// One row per metric.
    Csv,
}

impl Format {
    /// The format named `s` (`json`, `html` or `csv`).
    pub fn parse(s: &str) -> Result<Self, EngineError> {
        match s {
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            other => Err(EngineError::Invalid(format!(
                "`format` must be `json`, `html` or `csv`, not `{other}`"
            ))),
        }
    }

    /// The media type of the written report.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// `report` written in this format.
    pub fn render(self, report: &Report) -> Result<String, EngineError> {
        Ok(match self {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(report)?;
                s.push('\n');
                s
            }
            Format::Html => to_html(report),
            Format::Csv => to_csv(report),
        })
    }
}

impl Window {
    /// The window `since`..`until` given as RFC 3339 text, each optional: `until` defaults
    /// to `now`, `since` to 30 days before `until`. Errors name the field.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now: Timestamp,
    ) -> Result<Self, EngineError> {
        let at = |name: &str, v: &str| {
            Timestamp::parse(v).map_err(|e| {
                EngineError::Invalid(format!("`{name}` is not an RFC 3339 instant: {e}"))
            })
        };
        let until = until.map(|v| at("until", v)).transpose()?.unwrap_or(now);
        match since {
            Some(v) => Window::new(at("since", v)?, until),
            None => Ok(Window::month_to(until)),
        }
    }
}

/// How many points a trend has at most: one per day of a month.
const TREND_POINTS: i64 = 30;

impl Engine {
    /// The evidence report over `window`, judged against `goals`. The audit chain is walked
    /// whole, and the signed checkpoints checked when a verifier is configured.
    pub async fn report(&self, window: Window, goals: &Goals) -> Result<Report, EngineError> {
        let bundle = self.bundle();
        let generated_at = self.now();
        let rules = live::Rules::new(&bundle.catalog, goals);
        let marks = trend_marks(window);
        let mut figures = figures::Figures::new(&rules, goals, window, marks.clone());
        for (i, at) in marks.iter().enumerate() {
            let last = i + 1 == marks.len();
            let live = self.live_at(&rules, *at, last).await?;
            figures.instant(*at, live, last);
        }
        let store = self.store();
        store
            .walk_grants(GrantWalk::RemovedIn(window.since, window.until), |g| {
                figures.removed(&g)
            })
            .await?;
        store
            .walk_grants(GrantWalk::DueIn(window.since, window.until), |g| {
                figures.due(&g)
            })
            .await?;
        store
            .walk_decisions(window.since, window.until, |d| figures.decision(&d))
            .await?;
        store
            .walk_events("drift.orphan", window.since, window.until, |e| {
                figures.drift(&e)
            })
            .await?;
        let (reviewed, all) = self
            .store()
            .review_completion(window.since, window.until)
            .await?;
        let missed = self
            .store()
            .review_items_missed(window.since, window.until, metric::EVIDENCE_CAP as u32)
            .await?
            .into_iter()
            .map(|(g, i)| match g {
                Some(g) => Evidence::Grant(g.to_string()),
                None => Evidence::Identity(i.to_string()),
            })
            .collect();
        figures.reviews(reviewed, missed, all - reviewed);
        let traced = self.trace(figures.take_traced()).await?;
        figures.traced(traced);
        let chain = self.verify_audit().await?;
        let checkpoints = match &self.config().checkpoints {
            Some(v) => Some(v.verify(store, &chain).await),
            None => None,
        };
        figures.audit(&chain, checkpoints.as_ref());
        let metrics = figures.finish();
        let controls = controls::judge(&metrics);
        Ok(Report {
            generated_at,
            window,
            bundle_hash: bundle.hash().to_owned(),
            metrics,
            controls,
        })
    }

    /// The instant figures now, judged by the configured goals: what the `warden_access_*`
    /// gauges show. The database sums the live grants per (system, role) — the same
    /// judgements the report makes grant by grant — so a scrape reads a few rows, not every
    /// live grant.
    pub async fn access_now(&self) -> Result<AccessNow, EngineError> {
        let bundle = self.bundle();
        let rules = live::Rules::new(&bundle.catalog, &self.config().goals);
        let now = self.now();
        let sums = self
            .store()
            .live_summary(now, &rules.summary_rules())
            .await?;
        let holders = self.store().live_holders(now, &rules.sod_roles()).await?;
        let mut figures = AccessNow::new(&rules, now, &sums, &holders);
        let since =
            Timestamp::from_unix_millis(now.unix_millis() - REVIEW_GAUGE_SPAN_MS).unwrap_or(now);
        let (reviewed, due) = self.store().review_completion(since, now).await?;
        figures.review_completion = if due == 0 {
            1.0
        } else {
            reviewed as f64 / due as f64
        };
        Ok(figures)
    }

    async fn live_at<'r>(
        &self,
        rules: &'r live::Rules,
        at: Timestamp,
        keep_traced: bool,
    ) -> Result<live::Live<'r>, EngineError> {
        let mut live = live::Live::new(rules, at, keep_traced);
        self.store()
            .walk_grants(GrantWalk::LiveAt(at), |g| live.add(&g))
            .await?;
        Ok(live)
    }

    /// Replays the decision behind each traced grant: whether it replays byte for byte, how
    /// many approvals it asked for, and how many it got from people other than the requester
    /// and the subject.
    async fn trace(&self, grants: Vec<live::Traced>) -> Result<Vec<live::Traced>, EngineError> {
        let mut out = Vec::with_capacity(grants.len());
        for mut t in grants {
            // One read of the request serves both: who asked, and what was decided.
            let Some(record) = self.store().request(t.request_id).await? else {
                out.push(t);
                continue;
            };
            t.independent = self
                .store()
                .approvals(t.request_id)
                .await?
                .iter()
                .filter(|a| {
                    a.decision == warden_store::ApprovalDecision::Approve
                        && a.approver != record.requester
                        && a.approver != t.subject
                })
                .count() as u64;
            match self.replay_record(&record).await {
                Ok(r) => {
                    t.replays = r.identical;
                    t.approvals_needed = u64::from(r.stored.approvals_needed());
                }
                Err(e @ EngineError::Unavailable(_)) => return Err(e),
                Err(_) => t.replays = false,
            }
            out.push(t);
        }
        Ok(out)
    }
}

/// The instants a trend is read at: `TREND_POINTS` evenly spaced bucket ends, the last one
/// `until`.
fn trend_marks(w: Window) -> Vec<Timestamp> {
    let (a, b) = (w.since.unix_millis(), w.until.unix_millis());
    let span = b - a;
    let n = (span / 86_400_000).clamp(1, TREND_POINTS);
    (1..=n)
        .filter_map(|i| Timestamp::from_unix_millis(a + span * i / n))
        .collect()
}
