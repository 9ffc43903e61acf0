//! The metrics' ids, goals, statuses and figures, as the report's JSON spells them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Serialize, Serializer};
use warden_model::Timestamp;

use super::Goals;

macro_rules! metric_ids {
    ($($variant:ident => $word:literal: $title:literal,)*) => {
        /// A metric of the report; `docs/evidence.md` defines each.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum MetricId { $(#[doc = $title] $variant,)* }

        impl MetricId {
            /// Every metric, in the order the report shows them.
            pub const ALL: &'static [MetricId] = &[$(MetricId::$variant,)*];

            /// The id in the report's JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(MetricId::$variant => $word,)* }
            }

            /// The id from its word.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($word => Some(MetricId::$variant),)* _ => None }
            }

            /// A few words saying what it measures.
            pub fn title(self) -> &'static str {
                match self { $(MetricId::$variant => $title,)* }
            }
        }
    };
}

metric_ids! {
    ExpiryCoverage => "expiry_coverage": "Live grants with an expiry within their role's cap",
    OverdueGrants => "overdue_grants": "Grants past their expiry, not confirmed removed after the grace",
    TimeToRevoke => "time_to_revoke": "Seconds from expiry to confirmed removal (max)",
    TimeToRemoveAfterTrigger => "time_to_remove_after_trigger": "Seconds from a revocation, closed ticket or offboarding to confirmed removal (max)",
    OrphanedNhis => "orphaned_nhis": "Services and workloads whose owner is missing or inactive",
    StandingPrivilege => "standing_privilege": "Grants on high or critical systems longer than the JIT cap, and NHI credentials past their rotation",
    RightSizingRate => "right_sizing_rate": "Decisions that chose a smaller role than the one asked for",
    DurationClampRate => "duration_clamp_rate": "Decisions whose duration was cut to the cap",
    CredentialAge => "credential_age": "Live credentials within their maximum age",
    ReviewCompletion => "review_completion": "Review items decided by their due date",
    SodViolations => "sod_violations": "Identities completing a separation-of-duties set, and self-approvals",
    Traceability => "traceability": "Live grants with a request, a decision that replays, and the independent approvals it required",
    Drift => "drift": "Accounts found on a target with no grant behind them",
    BreakGlassHygiene => "break_glass_hygiene": "Emergency grants removed on time",
    AuditIntegrity => "audit_integrity": "Breaks in the audit chain and its checkpoints",
    Decisions => "decisions": "Decisions taken, by outcome and reason; the figure is the emergency share",
}

impl MetricId {
    /// The goal a metric is judged against unless [`Goals::goals`] says otherwise.
    pub fn default_goal(self, goals: &Goals) -> Goal {
        use MetricId::*;
        match self {
            ExpiryCoverage | CredentialAge | ReviewCompletion | Traceability
            | BreakGlassHygiene => Goal::AtLeast(1.0),
            OverdueGrants | OrphanedNhis | StandingPrivilege | SodViolations | Drift
            | AuditIntegrity => Goal::AtMost(0.0),
            TimeToRevoke | TimeToRemoveAfterTrigger => {
                Goal::AtMost(goals.removal_grace.seconds() as f64)
            }
            RightSizingRate | DurationClampRate | Decisions => Goal::Reported,
        }
    }
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MetricId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a figure must be.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// At least this (ratios: 1 is 100%).
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
    /// Shown, never in breach.
    Reported,
}

impl Goal {
    /// Whether `value` meets the goal; a figure with nothing to count (`None`) does.
    pub fn met(self, value: Option<f64>) -> bool {
        match (self, value) {
            (_, None) | (Goal::Reported, _) => true,
            (Goal::AtLeast(g), Some(v)) => v >= g,
            (Goal::AtMost(g), Some(v)) => v <= g,
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Goal::AtLeast(g) => write!(f, "≥ {}", number(*g)),
            Goal::AtMost(g) => write!(f, "≤ {}", number(*g)),
            Goal::Reported => f.write_str("reported"),
        }
    }
}

/// Whether a figure meets its goal.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It does.
    Ok,
    /// It does not.
    Breach,
}

impl Status {
    /// The word in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Breach => "breach",
        }
    }
}

/// Something an auditor can look up by hand.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A grant, by id.
    Grant(String),
    /// A request, by id.
    Request(String),
    /// An audit event, by sequence number.
    Event(u64),
    /// An identity of the catalog.
    Identity(String),
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Grant(g) => write!(f, "grant {g}"),
            Evidence::Request(r) => write!(f, "request {r}"),
            Evidence::Event(s) => write!(f, "audit event {s}"),
            Evidence::Identity(i) => write!(f, "identity {i}"),
        }
    }
}

/// A figure at one instant of the window.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub struct Point {
    /// The instant (for counts over a span: the span's end).
    pub at: Timestamp,
    /// The figure then; `None` when there was nothing to count.
    #[serde(serialize_with = "opt_number")]
    pub value: Option<f64>,
}

/// One metric's figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// The figure; `null` when there is nothing to count (a ratio of 0 ÷ 0).
    #[serde(serialize_with = "opt_number")]
    pub value: Option<f64>,
    /// For ratios: what was counted as meeting the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numerator: Option<u64>,
    /// For ratios: what was counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominator: Option<u64>,
    /// Further figures (`p50`, `p95`, `oldest_age_seconds`, counts by outcome …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, serde_json::Value>,
    /// What it must be.
    pub goal: Goal,
    /// Whether it is.
    pub status: Status,
    /// Up to [`EVIDENCE_CAP`] items behind the figure: those that miss the goal when any
    /// do, else those counted, in order.
    pub evidence: Vec<Evidence>,
    /// How many items were behind the figure in all (the evidence may show fewer).
    pub evidence_total: u64,
    /// The figure over the window.
    pub trend: Vec<Point>,
}

/// The first [`EVIDENCE_CAP`] items of a set, in order, and how many it had.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sample {
    pub(crate) items: BTreeSet<Evidence>,
    pub(crate) total: u64,
}

impl Sample {
    pub(crate) fn add(&mut self, e: Evidence) {
        self.total += 1;
        self.items.insert(e);
        if self.items.len() > EVIDENCE_CAP {
            self.items.pop_last();
        }
    }
}

/// The most evidence items a figure lists.
pub const EVIDENCE_CAP: usize = 100;

/// A number as the report writes it: whole numbers without a fraction, others to four
/// decimal places.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn opt_number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        #[allow(
            clippy::cast_possible_truncation,
            reason = "whole and below 2^53: exact"
        )]
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64((*x * 10_000.0).round() / 10_000.0),
    }
}
