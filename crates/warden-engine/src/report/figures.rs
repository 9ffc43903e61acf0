//! The report's figures: each walk of the store hands its rows here one at a time, and only
//! counts, the lags the percentiles need, and capped evidence samples are kept.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize as _;
use warden_model::{Decision, IdentityId, ReasonCode, Timestamp};
use warden_store::{AuditReport, DecisionFacts, EventFacts, GrantFacts, GrantId};

use super::live::{Live, Rules, Traced, millis, ms};
use super::metric::{EVIDENCE_CAP, Evidence, Figure, MetricId, Point, Sample, Status};
use super::{CheckpointCheck, Goals, Window};
use crate::StoredInput;
/// Why a grant ended when its expiry came (the expire job's `end_reason`).
use crate::job::EXPIRED;

/// Figures of one instant, kept for the trend.
#[derive(Clone, Copy, Debug)]
struct Instant {
    at: Timestamp,
    coverage: Option<f64>,
    overdue: u64,
    standing: u64,
    credentials: Option<f64>,
    sod: u64,
}

/// A count over the window, split by the bucket each item fell in.
#[derive(Clone, Debug, Default)]
struct Decisions {
    total: u64,
    named: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    by_reason: BTreeMap<&'static str, u64>,
    right_sized: Sample,
    clamped: Sample,
    emergency: Sample,
    unreadable: Sample,
}

/// Everything the report's walks found.
pub(crate) struct Figures {
    goals: Goals,
    window: Window,
    marks: Vec<Timestamp>,
    instants: Vec<Instant>,
    last: Option<LastLive>,
    /// Milliseconds to removal, the grant and its bucket: 32 bytes a removal, so a month of
    /// a million removals stays in tens of megabytes.
    revoke_lags: Vec<(i64, GrantId, usize)>,
    trigger_lags: Vec<(i64, GrantId, usize)>,
    glass_on_time: Sample,
    glass_late: Sample,
    glass_buckets: Vec<(u64, u64)>,
    decisions: Decisions,
    decision_buckets: Vec<[u64; 4]>,
    drift: BTreeMap<String, (u64, usize)>,
    traced: Vec<Traced>,
    audit: Option<(AuditReport, Option<CheckpointCheck>)>,
    orphaned: Vec<IdentityId>,
    /// Review items due in the window: how many a reviewer decided in time, and the
    /// others (sampled).
    reviewed: u64,
    missed: Sample,
}

/// The last instant's samples, for evidence.
struct LastLive {
    covered: Sample,
    uncovered: Sample,
    overdue: u64,
    late: Sample,
    oldest: Option<i64>,
    standing: Sample,
    fresh: Sample,
    stale: Sample,
    conflicts: Sample,
    self_approvals: u64,
    self_approved: Sample,
}

impl Figures {
    pub(crate) fn new(rules: &Rules, goals: &Goals, window: Window, marks: Vec<Timestamp>) -> Self {
        let n = marks.len();
        Self {
            goals: goals.clone(),
            window,
            marks,
            instants: Vec::new(),
            last: None,
            revoke_lags: Vec::new(),
            trigger_lags: Vec::new(),
            glass_on_time: Sample::default(),
            glass_late: Sample::default(),
            glass_buckets: vec![(0, 0); n],
            decisions: Decisions::default(),
            decision_buckets: vec![[0; 4]; n],
            drift: BTreeMap::new(),
            traced: Vec::new(),
            audit: None,
            orphaned: rules.orphaned.clone(),
            reviewed: 0,
            missed: Sample::default(),
        }
    }

    /// The bucket an event at `t` falls in: the first mark at or after it.
    fn bucket(&self, t: Timestamp) -> usize {
        self.marks
            .partition_point(|m| *m < t)
            .min(self.marks.len().saturating_sub(1))
    }

    /// Takes in the grants live at one of the marks; the last mark's are kept as evidence.
    pub(crate) fn instant(&mut self, at: Timestamp, mut live: Live<'_>, last: bool) {
        let conflicts = live.conflicts();
        let ratio = |a: &Sample, b: &Sample| ratio(a.total, a.total + b.total);
        self.instants.push(Instant {
            at,
            coverage: ratio(&live.covered, &live.uncovered),
            overdue: live.late.total,
            standing: live.standing.total,
            credentials: ratio(&live.fresh, &live.stale),
            sod: conflicts.total + live.self_approvals,
        });
        if last {
            self.traced = live.traced.take().unwrap_or_default();
            self.last = Some(LastLive {
                oldest: live.oldest_overdue_seconds(),
                covered: live.covered,
                uncovered: live.uncovered,
                overdue: live.overdue,
                late: live.late,
                standing: live.standing,
                fresh: live.fresh,
                stale: live.stale,
                conflicts,
                self_approvals: live.self_approvals,
                self_approved: live.self_approved,
            });
        }
    }

    /// A grant whose removal was confirmed in the window.
    pub(crate) fn removed(&mut self, g: &GrantFacts) {
        let Some(done) = g.revoked_at else { return };
        let b = self.bucket(done);
        let e = g.id;
        if g.end_reason.as_deref() == Some(EXPIRED) {
            if let Some(exp) = g.expires_at {
                self.revoke_lags.push(((ms(done) - ms(exp)).max(0), e, b));
            }
        } else if let Some(asked) = g.revoking_at {
            self.trigger_lags
                .push(((ms(done) - ms(asked)).max(0), e, b));
        }
    }

    /// A grant whose expiry fell in the window: for break-glass hygiene.
    pub(crate) fn due(&mut self, g: &GrantFacts) {
        let (true, Some(exp)) = (g.break_glass, g.expires_at) else {
            return;
        };
        let b = self.bucket(exp);
        let removed = g.revoked_at.unwrap_or(self.window.until);
        let e = Evidence::Grant(g.id.to_string());
        let bucket = self.glass_buckets.get_mut(b);
        if ms(removed) - ms(exp) <= millis(self.goals.removal_grace) {
            self.glass_on_time.add(e);
            if let Some(x) = bucket {
                x.0 += 1;
            }
        } else {
            self.glass_late.add(e);
            if let Some(x) = bucket {
                x.1 += 1;
            }
        }
    }

    /// A decision taken in the window.
    pub(crate) fn decision(&mut self, d: &DecisionFacts) {
        let e = Evidence::Request(d.request_id.to_string());
        let b = self.bucket(d.decided_at);
        let d_ = &mut self.decisions;
        d_.total += 1;
        let (Ok(decision), Ok(input)) = (
            Decision::deserialize(&d.decision),
            StoredInput::deserialize(&d.input),
        ) else {
            d_.unreadable.add(e);
            return;
        };
        *d_.by_outcome.entry(decision.outcome.as_str()).or_default() += 1;
        let mut seen = BTreeSet::new();
        for r in &decision.reasons {
            if seen.insert(r.code) {
                *d_.by_reason.entry(r.code.as_str()).or_default() += 1;
            }
        }
        let bucket = self.decision_buckets.get_mut(b);
        let mut row = [1, 0, 0, 0];
        if input.request.role.is_some() {
            d_.named += 1;
            row[1] = 1;
            if decision.has_reason(ReasonCode::RightSized) {
                d_.right_sized.add(e.clone());
                row[2] = 1;
            }
        }
        if decision.has_reason(ReasonCode::DurationClamped) {
            d_.clamped.add(e.clone());
            row[3] = 1;
        }
        if decision.break_glass {
            d_.emergency.add(e);
        }
        if let Some(x) = bucket {
            for (a, b) in x.iter_mut().zip(row) {
                *a += b;
            }
        }
    }

    /// A `drift.orphan` event: the same account seen again counts once.
    pub(crate) fn drift(&mut self, e: &EventFacts) {
        let field = |k: &str| e.data.get(k).map(ToString::to_string).unwrap_or_default();
        let key = format!("{}/{}", field("connector"), field("held"));
        let b = self.bucket(e.at);
        self.drift.entry(key).or_insert((e.seq, b));
    }

    /// The live grants at `until` to replay.
    pub(crate) fn take_traced(&mut self) -> Vec<Traced> {
        std::mem::take(&mut self.traced)
    }

    /// The replayed grants.
    pub(crate) fn traced(&mut self, t: Vec<Traced>) {
        self.traced = t;
    }

    /// The audit chain's verification, and the checkpoints' when the caller could check them.
    pub(crate) fn audit(&mut self, chain: &AuditReport, checkpoints: Option<&CheckpointCheck>) {
        self.audit = Some((chain.clone(), checkpoints.cloned()));
    }

    /// The review items that fell due in the window: `reviewed` decided by a reviewer in
    /// time, `missed` (a sample of at most `EVIDENCE_CAP`, counting `missed_total`) not.
    pub(crate) fn reviews(&mut self, reviewed: u64, missed: Vec<Evidence>, missed_total: u64) {
        self.reviewed = reviewed;
        for e in missed {
            self.missed.add(e);
        }
        self.missed.total = missed_total;
    }

    /// Every metric's figure.
    pub(crate) fn finish(self) -> BTreeMap<MetricId, Figure> {
        let mut out = BTreeMap::new();
        for id in MetricId::ALL {
            out.insert(*id, self.figure(*id));
        }
        out
    }

    fn figure(&self, id: MetricId) -> Figure {
        let last = self.last.as_ref();
        let until = self.window.until;
        let instant = |f: &dyn Fn(&Instant) -> Option<f64>| -> Vec<Point> {
            self.instants
                .iter()
                .map(|i| Point {
                    at: i.at,
                    value: f(i),
                })
                .collect()
        };
        let one = |v: Option<f64>| {
            vec![Point {
                at: until,
                value: v,
            }]
        };
        let d = &self.decisions;
        let buckets = |f: &dyn Fn(&[u64; 4]) -> Option<f64>| -> Vec<Point> {
            self.marks
                .iter()
                .zip(&self.decision_buckets)
                .map(|(at, b)| Point {
                    at: *at,
                    value: f(b),
                })
                .collect()
        };
        let mut f = match id {
            MetricId::ExpiryCoverage => {
                let (ok, bad) = last.map(|l| (&l.covered, &l.uncovered)).unzip();
                ratio_figure(ok, bad, instant(&|i| i.coverage))
            }
            MetricId::OverdueGrants => {
                let mut f =
                    count_figure(last.map(|l| &l.late), instant(&|i| Some(i.overdue as f64)));
                if let Some(l) = last {
                    f.detail.insert("all".into(), l.overdue.into());
                    f.detail
                        .insert("oldest_age_seconds".into(), l.oldest.unwrap_or(0).into());
                }
                f
            }
            MetricId::TimeToRevoke => self.lag_figure(&self.revoke_lags),
            MetricId::TimeToRemoveAfterTrigger => self.lag_figure(&self.trigger_lags),
            MetricId::OrphanedNhis => {
                let mut s = Sample::default();
                for i in &self.orphaned {
                    s.add(Evidence::Identity(i.to_string()));
                }
                let n = s.total as f64;
                count_figure(Some(&s), one(Some(n)))
            }
            MetricId::StandingPrivilege => count_figure(
                last.map(|l| &l.standing),
                instant(&|i| Some(i.standing as f64)),
            ),
            MetricId::RightSizingRate => {
                let mut f = ratio_of(&d.right_sized, d.named);
                f.trend = buckets(&|b| ratio(b[2], b[1]));
                f
            }
            MetricId::DurationClampRate => {
                let mut f = ratio_of(&d.clamped, d.total - d.unreadable.total);
                f.trend = buckets(&|b| ratio(b[3], b[0]));
                f
            }
            MetricId::CredentialAge => {
                let (ok, bad) = last.map(|l| (&l.fresh, &l.stale)).unzip();
                ratio_figure(ok, bad, instant(&|i| i.credentials))
            }
            MetricId::ReviewCompletion => {
                let done = Sample {
                    items: std::collections::BTreeSet::new(),
                    total: self.reviewed,
                };
                let mut f = ratio_figure(Some(&done), Some(&self.missed), Vec::new());
                f.detail.insert(
                    "missed".into(),
                    "items nobody decided by the due date (silence applied `on_no_answer`), or decided late"
                        .into(),
                );
                f
            }
            MetricId::SodViolations => {
                let mut f = Figure::empty();
                if let Some(l) = last {
                    f.value = Some((l.conflicts.total + l.self_approvals) as f64);
                    f.detail
                        .insert("conflicting_identities".into(), l.conflicts.total.into());
                    f.detail
                        .insert("self_approvals".into(), l.self_approvals.into());
                    f.evidence = l
                        .conflicts
                        .items
                        .iter()
                        .chain(&l.self_approved.items)
                        .take(EVIDENCE_CAP)
                        .cloned()
                        .collect();
                    f.evidence_total = l.conflicts.total + l.self_approved.total;
                }
                f.trend = instant(&|i| Some(i.sod as f64));
                f
            }
            MetricId::Traceability => {
                let mut ok = Sample::default();
                let mut bad = Sample::default();
                for t in &self.traced {
                    let e = Evidence::Grant(t.grant_id.to_string());
                    if t.replays && t.independent >= t.approvals_needed {
                        ok.add(e);
                    } else {
                        bad.add(e);
                    }
                }
                let mut f = ratio_figure(Some(&ok), Some(&bad), Vec::new());
                f.trend = one(f.value);
                f
            }
            MetricId::Drift => {
                let mut s = Sample::default();
                for (seq, _) in self.drift.values() {
                    s.add(Evidence::Event(*seq));
                }
                let mut per = vec![0u64; self.marks.len()];
                for (_, b) in self.drift.values() {
                    if let Some(x) = per.get_mut(*b) {
                        *x += 1;
                    }
                }
                let trend = self
                    .marks
                    .iter()
                    .zip(per)
                    .map(|(at, n)| Point {
                        at: *at,
                        value: Some(n as f64),
                    })
                    .collect();
                count_figure(Some(&s), trend)
            }
            MetricId::BreakGlassHygiene => {
                let trend = self
                    .marks
                    .iter()
                    .zip(&self.glass_buckets)
                    .map(|(at, (ok, late))| Point {
                        at: *at,
                        value: ratio(*ok, ok + late),
                    })
                    .collect();
                ratio_figure(Some(&self.glass_on_time), Some(&self.glass_late), trend)
            }
            MetricId::AuditIntegrity => self.audit_figure(),
            MetricId::Decisions => {
                let mut f = ratio_of(&d.emergency, d.total);
                f.detail.insert("total".into(), d.total.into());
                f.detail
                    .insert("by_outcome".into(), serde_json::json!(d.by_outcome));
                f.detail
                    .insert("by_reason".into(), serde_json::json!(d.by_reason));
                if d.unreadable.total > 0 {
                    f.detail
                        .insert("unreadable".into(), d.unreadable.total.into());
                }
                f.trend = buckets(&|b| Some(b[0] as f64));
                f
            }
        };
        f.goal = self.goals.of(id);
        f.status = if f.goal.met(f.value) {
            Status::Ok
        } else {
            Status::Breach
        };
        f
    }

    fn lag_figure(&self, lags: &[(i64, GrantId, usize)]) -> Figure {
        let mut sorted: Vec<i64> = lags.iter().map(|(l, _, _)| *l).collect();
        sorted.sort_unstable();
        let secs = |v: i64| v as f64 / 1_000.0;
        let mut f = Figure::empty();
        f.value = sorted.last().map(|m| secs(*m));
        if !sorted.is_empty() {
            f.detail
                .insert("p50".into(), number_json(secs(percentile(&sorted, 50))));
            f.detail
                .insert("p95".into(), number_json(secs(percentile(&sorted, 95))));
            f.detail
                .insert("max".into(), number_json(f.value.unwrap_or(0.0)));
            f.detail.insert("count".into(), sorted.len().into());
        }
        // The slowest first: an auditor checks the worst cases.
        let mut worst: Vec<&(i64, GrantId, usize)> = lags.iter().collect();
        worst.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        f.evidence = worst
            .iter()
            .take(EVIDENCE_CAP)
            .map(|(_, g, _)| Evidence::Grant(g.to_string()))
            .collect();
        f.evidence_total = lags.len() as u64;
        let mut per: Vec<Option<i64>> = vec![None; self.marks.len()];
        for (l, _, b) in lags {
            if let Some(x) = per.get_mut(*b) {
                *x = Some(x.map_or(*l, |m| m.max(*l)));
            }
        }
        f.trend = self
            .marks
            .iter()
            .zip(per)
            .map(|(at, v)| Point {
                at: *at,
                value: v.map(secs),
            })
            .collect();
        f
    }

    fn audit_figure(&self) -> Figure {
        let mut f = Figure::empty();
        let Some((chain, checkpoints)) = &self.audit else {
            return f;
        };
        let mut breaks = 0u64;
        f.detail
            .insert("events_checked".into(), chain.checked.into());
        if let Some(b) = &chain.first_broken {
            breaks += 1;
            f.evidence.push(Evidence::Event(b.seq));
            f.detail.insert(
                "first_break".into(),
                format!("event {}: {}", b.seq, b.reason).into(),
            );
        }
        match checkpoints {
            Some(c) => {
                f.detail
                    .insert("checkpoints_checked".into(), c.checked.into());
                if let Some(p) = &c.problem {
                    breaks += 1;
                    f.detail
                        .insert("checkpoint_problem".into(), p.clone().into());
                }
            }
            None => {
                f.detail
                    .insert("checkpoints".into(), "not checked here".into());
            }
        }
        f.value = Some(breaks as f64);
        f.evidence_total = f.evidence.len() as u64;
        f.trend = vec![Point {
            at: self.window.until,
            value: f.value,
        }];
        f
    }
}

impl Figure {
    fn empty() -> Self {
        Figure {
            value: None,
            numerator: None,
            denominator: None,
            detail: BTreeMap::new(),
            goal: super::Goal::Reported,
            status: Status::Ok,
            evidence: Vec::new(),
            evidence_total: 0,
            trend: Vec::new(),
        }
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// `ok ÷ (ok + bad)`; the evidence is what missed the goal when anything did, else what
/// met it.
fn ratio_figure(ok: Option<&Sample>, bad: Option<&Sample>, trend: Vec<Point>) -> Figure {
    let empty = Sample::default();
    let (ok, bad) = (ok.unwrap_or(&empty), bad.unwrap_or(&empty));
    let mut f = Figure::empty();
    f.numerator = Some(ok.total);
    f.denominator = Some(ok.total + bad.total);
    f.value = ratio(ok.total, ok.total + bad.total);
    let shown = if bad.total > 0 { bad } else { ok };
    f.evidence = shown.items.iter().cloned().collect();
    f.evidence_total = shown.total;
    f.trend = trend;
    f
}

/// `counted ÷ of`, with what was counted as evidence.
fn ratio_of(counted: &Sample, of: u64) -> Figure {
    let mut f = Figure::empty();
    f.numerator = Some(counted.total);
    f.denominator = Some(of);
    f.value = ratio(counted.total, of);
    f.evidence = counted.items.iter().cloned().collect();
    f.evidence_total = counted.total;
    f
}

/// A count, with what was counted as evidence.
fn count_figure(counted: Option<&Sample>, trend: Vec<Point>) -> Figure {
    let mut f = Figure::empty();
    if let Some(s) = counted {
        f.value = Some(s.total as f64);
        f.evidence = s.items.iter().cloned().collect();
        f.evidence_total = s.total;
    }
    f.trend = trend;
    f
}

/// The nearest-rank percentile of sorted values: the smallest value at least `p`% of them
/// do not exceed.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    let n = sorted.len();
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0)
}

fn number_json(v: f64) -> serde_json::Value {
    serde_json::from_str(&super::metric::number(v)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), 10);
        assert_eq!(percentile(&v, 95), 19);
        assert_eq!(percentile(&v, 100), 20);
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[1, 2, 3], 95), 3);
    }
}
