//! The grants live at one instant, judged grant by grant against the active catalog (for
//! the report, keeping evidence), and the same figures from the database's per-role sums
//! (for the gauges).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use warden_model::{Duration, IdentityId, RoleId, SystemId, Timestamp};
use warden_policy::Catalog;
use warden_store::{GrantFacts, GrantId, RequestId, RoleLimits, RoleSummary, SummaryRules};

use super::Goals;
use super::metric::{Evidence, Sample};

/// What the active catalog says each grant is judged by.
pub(crate) struct Rules {
    /// Each role's cap and rotation period.
    pub(super) roles: HashMap<RoleId, (SystemId, Duration, Option<Duration>)>,
    /// Systems of high or critical sensitivity.
    pub(super) high: HashSet<SystemId>,
    /// Services and workloads.
    pub(super) nhis: HashSet<IdentityId>,
    /// Each separation-of-duties set.
    pub(super) sod: Vec<BTreeSet<RoleId>>,
    /// Roles in any of them.
    pub(super) sod_roles: HashSet<RoleId>,
    /// Active services and workloads whose owner is missing or inactive.
    pub(super) orphaned: Vec<IdentityId>,
    pub(super) grace_ms: i64,
    pub(super) jit_ms: i64,
}

impl Rules {
    pub(crate) fn new(catalog: &Catalog, goals: &Goals) -> Self {
        let sod: Vec<BTreeSet<RoleId>> = catalog.sod.iter().map(|r| r.roles.clone()).collect();
        Self {
            roles: catalog
                .roles
                .values()
                .map(|r| {
                    (
                        r.id.clone(),
                        (r.system.clone(), r.max_duration, r.rotate_every),
                    )
                })
                .collect(),
            high: catalog
                .systems
                .values()
                .filter(|s| s.sensitivity.needs_second_check())
                .map(|s| s.id.clone())
                .collect(),
            nhis: catalog
                .identities
                .values()
                .filter(|i| i.kind.needs_owner())
                .map(|i| i.id.clone())
                .collect(),
            sod_roles: sod.iter().flatten().cloned().collect(),
            sod,
            orphaned: crate::standing::orphaned_nhis(catalog).cloned().collect(),
            grace_ms: millis(goals.removal_grace),
            jit_ms: millis(goals.jit_cap),
        }
    }

    /// The cap and rotation period of `role`, when the catalog has it on `system`.
    fn role(&self, system: &SystemId, role: &RoleId) -> Option<(i64, Option<i64>)> {
        self.roles
            .get(role)
            .filter(|(s, _, _)| s == system)
            .map(|(_, cap, rotate)| (millis(*cap), rotate.map(millis)))
    }
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.seconds()).unwrap_or(i64::MAX / 1_000) * 1_000
}

pub(super) fn ms(t: Timestamp) -> i64 {
    t.unix_millis()
}

/// A live grant whose decision is replayed for `traceability`.
#[derive(Clone, Debug)]
pub(crate) struct Traced {
    pub(crate) grant_id: GrantId,
    pub(crate) request_id: RequestId,
    pub(crate) subject: IdentityId,
    pub(crate) independent: u64,
    pub(crate) approvals_needed: u64,
    pub(crate) replays: bool,
}

/// What the grants live at one instant show.
pub(crate) struct Live<'r> {
    pub(super) rules: &'r Rules,
    pub(super) at: i64,
    pub(super) live: u64,
    pub(super) covered: Sample,
    pub(super) uncovered: Sample,
    pub(super) overdue: u64,
    pub(super) late: Sample,
    pub(super) oldest_expiry: Option<i64>,
    pub(super) standing: Sample,
    pub(super) fresh: Sample,
    pub(super) stale: Sample,
    pub(super) holds: BTreeMap<IdentityId, BTreeSet<RoleId>>,
    pub(super) self_approvals: u64,
    pub(super) self_approved: Sample,
    pub(super) traced: Option<Vec<Traced>>,
}

impl<'r> Live<'r> {
    pub(crate) fn new(rules: &'r Rules, at: Timestamp, keep_traced: bool) -> Self {
        Self {
            rules,
            at: ms(at),
            live: 0,
            covered: Sample::default(),
            uncovered: Sample::default(),
            overdue: 0,
            late: Sample::default(),
            oldest_expiry: None,
            standing: Sample::default(),
            fresh: Sample::default(),
            stale: Sample::default(),
            holds: BTreeMap::new(),
            self_approvals: 0,
            self_approved: Sample::default(),
            traced: keep_traced.then(Vec::new),
        }
    }

    /// Counts one live grant.
    pub(crate) fn add(&mut self, g: &GrantFacts) {
        let r = self.rules;
        let id = || Evidence::Grant(g.id.to_string());
        self.live += 1;
        let role = r.role(&g.system, &g.role);
        let span = g.activated_at.zip(g.expires_at).map(|(a, e)| ms(e) - ms(a));
        match (span, role) {
            (Some(s), Some((cap, _))) if s <= cap => self.covered.add(id()),
            _ => self.uncovered.add(id()),
        }
        if let Some(e) = g.expires_at.map(ms).filter(|e| *e <= self.at) {
            self.overdue += 1;
            self.oldest_expiry = Some(self.oldest_expiry.map_or(e, |o| o.min(e)));
            if self.at - e > r.grace_ms {
                self.late.add(id());
            }
        }
        let long = r.high.contains(&g.system) && span.is_none_or(|s| s > r.jit_ms);
        let age = g.credential_at.map(|c| self.at - ms(c));
        let rotation = role.and_then(|(_, rotate)| rotate);
        let unrotated = r.nhis.contains(&g.subject)
            && matches!((age, rotation), (Some(a), Some(p)) if a > p + r.grace_ms);
        if long || unrotated {
            self.standing.add(id());
        }
        if let Some(a) = age {
            let max = role.map(|(cap, rotate)| rotate.unwrap_or(cap));
            if max.is_some_and(|m| a <= m + r.grace_ms) {
                self.fresh.add(id());
            } else {
                self.stale.add(id());
            }
        }
        if r.sod_roles.contains(&g.role) {
            self.holds
                .entry(g.subject.clone())
                .or_default()
                .insert(g.role.clone());
        }
        if g.self_approvals > 0 {
            self.self_approvals += g.self_approvals;
            self.self_approved
                .add(Evidence::Request(g.request_id.to_string()));
        }
        if let Some(t) = &mut self.traced {
            t.push(Traced {
                grant_id: g.id,
                request_id: g.request_id,
                subject: g.subject.clone(),
                independent: 0,
                approvals_needed: 0,
                replays: false,
            });
        }
    }

    /// Identities whose live grants complete a separation-of-duties set.
    pub(super) fn conflicts(&self) -> Sample {
        let mut out = Sample::default();
        for (who, roles) in &self.holds {
            if self.rules.sod.iter().any(|set| set.is_subset(roles)) {
                out.add(Evidence::Identity(who.to_string()));
            }
        }
        out
    }

    pub(super) fn oldest_overdue_seconds(&self) -> Option<i64> {
        self.oldest_expiry.map(|e| (self.at - e) / 1_000)
    }
}

/// The instant figures the `warden_access_*` gauges show.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AccessNow {
    /// Grants live now (active, or revoking and not yet confirmed removed).
    pub live_grants: u64,
    /// `expiry_coverage`: of those, the share with an expiry within their role's cap (1
    /// when there are none).
    pub expiry_coverage: f64,
    /// Past their expiry and not confirmed removed, however briefly.
    pub overdue_grants: u64,
    /// `overdue_grants`: of those, the ones overdue longer than the removal grace.
    pub overdue_late: u64,
    /// How long ago the oldest overdue grant expired, in seconds.
    pub overdue_oldest_seconds: u64,
    /// `standing_privilege`.
    pub standing_privilege: u64,
    /// `credential_age`: the share of live credentials within their maximum age.
    pub credential_age: f64,
    /// `sod_violations`: conflicting identities plus self-approvals.
    pub sod_violations: u64,
    /// `orphaned_nhis`.
    pub orphaned_nhis: u64,
    /// `review_completion` over the reviews that fell due in the last 90 days: the share
    /// of their items a reviewer decided by the due date (1 when there are none).
    pub review_completion: f64,
}

impl AccessNow {
    /// The figures from the database's per-role sums and the holders of `[[sod]]` roles.
    pub(crate) fn new(
        rules: &Rules,
        at: Timestamp,
        sums: &[RoleSummary],
        holders: &[(IdentityId, RoleId)],
    ) -> Self {
        let total = |f: fn(&RoleSummary) -> u64| sums.iter().map(f).sum::<u64>();
        let share = |n: u64, d: u64| if d == 0 { 1.0 } else { n as f64 / d as f64 };
        let standing = sums
            .iter()
            .map(|s| {
                if rules.high.contains(&s.system) {
                    s.long_or_unrotated
                } else {
                    s.unrotated
                }
            })
            .sum();
        let oldest = sums.iter().filter_map(|s| s.oldest_overdue).min();
        let mut held: BTreeMap<&IdentityId, BTreeSet<RoleId>> = BTreeMap::new();
        for (who, role) in holders {
            held.entry(who).or_default().insert(role.clone());
        }
        let conflicts = held
            .values()
            .filter(|roles| rules.sod.iter().any(|set| set.is_subset(roles)))
            .count() as u64;
        Self {
            live_grants: total(|s| s.live),
            expiry_coverage: share(total(|s| s.covered), total(|s| s.live)),
            overdue_grants: total(|s| s.overdue),
            overdue_late: total(|s| s.late),
            overdue_oldest_seconds: oldest
                .and_then(|e| u64::try_from((ms(at) - ms(e)) / 1_000).ok())
                .unwrap_or(0),
            standing_privilege: standing,
            credential_age: share(total(|s| s.fresh), total(|s| s.credentials)),
            sod_violations: conflicts + total(|s| s.self_approvals),
            orphaned_nhis: rules.orphaned.len() as u64,
            // Read by `Engine::access_now` from the reviews, not from live grants.
            review_completion: 1.0,
        }
    }
}

impl Rules {
    /// What the database's per-role sums judge by: the same limits as [`Live::add`].
    pub(crate) fn summary_rules(&self) -> SummaryRules {
        let mut roles: Vec<RoleLimits> = self
            .roles
            .iter()
            .map(|(role, (system, cap, rotate))| RoleLimits {
                system: system.clone(),
                role: role.clone(),
                cap_ms: millis(*cap),
                rotate_ms: rotate.map(millis),
            })
            .collect();
        roles.sort_by(|a, b| a.role.cmp(&b.role));
        let mut nhis: Vec<IdentityId> = self.nhis.iter().cloned().collect();
        nhis.sort();
        SummaryRules {
            roles,
            nhis,
            grace_ms: self.grace_ms,
            jit_ms: self.jit_ms,
        }
    }

    /// The roles of every `[[sod]]` set.
    pub(crate) fn sod_roles(&self) -> Vec<RoleId> {
        let mut r: Vec<RoleId> = self.sod_roles.iter().cloned().collect();
        r.sort();
        r
    }
}
