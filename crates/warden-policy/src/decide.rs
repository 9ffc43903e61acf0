//! `decide()`: the eight steps of DESIGN §3.2. Pure: the instant, the request and the
//! subject's active grants come in; nothing is read from a clock, a disk or a network.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use warden_model::{
    ActiveGrant, ApprovalStep, Decision, Duration, Identity, IdentityId, IdentityKind, OpenReview,
    Outcome, Permission, PolicyId, Reason, ReasonCode, Request, Role, RoleId, SecondCheck,
    SystemId, Task, TaskId, Timestamp, canonical,
};

use crate::authorization::{
    Action, AuthContext, Authorization, Evaluation, PreparedContext, Question, prepare,
};
use crate::bundle::Bundle;

/// Everything a decision depends on besides the bundle.
#[derive(Clone, Copy, Debug)]
pub struct DecisionInput<'a> {
    /// The request.
    pub request: &'a Request,
    /// The subject's grants; those expired at `at` are ignored.
    pub grants: &'a [ActiveGrant],
    /// For an emergency request: the break-glass reviews still open for its requester or
    /// subject. Any one denies it.
    pub open_reviews: &'a [OpenReview],
    /// The instant of the decision.
    pub at: Timestamp,
}

/// What `input_hash` covers. Fields in key order: the canonical writer then writes them
/// straight out instead of buffering and sorting (the encoding is the same either way).
#[derive(Serialize)]
struct HashedInput<'a> {
    active_grants: Vec<&'a ActiveGrant>,
    at: Timestamp,
    // Absent when empty, so the hash of every decision taken without one is unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    open_reviews: Vec<&'a OpenReview>,
    request: RequestInKeyOrder<'a>,
}

/// A [`Request`] with its fields declared in key order, so the canonical writer writes it
/// straight out instead of buffering and sorting its members (2 % of a decision). Each
/// field is serialised as `Request` serialises it, so the encoding, and every input hash,
/// is the same (`tests::a_request_in_key_order_encodes_as_the_request`).
#[derive(Serialize)]
struct RequestInKeyOrder<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: &'a Option<Duration>,
    emergency: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    needs: &'a Option<Vec<Permission>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    oidc: &'a BTreeMap<String, String>,
    purpose: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: &'a Option<Timestamp>,
    requester: &'a IdentityId,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: &'a Option<RoleId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: &'a Option<IdentityId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: &'a Option<SystemId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: &'a Option<TaskId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: &'a Option<String>,
}

impl<'a> From<&'a Request> for RequestInKeyOrder<'a> {
    fn from(request: &'a Request) -> Self {
        // Every field named, none elided: a field added to `Request` fails to compile here
        // instead of being left out of the hash.
        let Request {
            source,
            ticket,
            requester,
            subject,
            system,
            role,
            needs,
            task,
            purpose,
            duration,
            emergency,
            requested_at,
            oidc,
        } = request;
        Self {
            duration,
            emergency: *emergency,
            needs,
            oidc,
            purpose,
            requested_at,
            requester,
            role,
            source,
            subject,
            system,
            task,
            ticket,
        }
    }
}

/// `sha256:…` over the canonical encoding of the request, the active grants (sorted) and
/// the instant: the same inputs hash the same on every machine.
pub fn input_hash(input: &DecisionInput<'_>) -> String {
    let mut grants: Vec<&ActiveGrant> = input.grants.iter().collect();
    grants.sort();
    let mut open_reviews: Vec<&OpenReview> = input.open_reviews.iter().collect();
    open_reviews.sort();
    let hashed = HashedInput {
        request: RequestInKeyOrder::from(input.request),
        active_grants: grants,
        at: input.at,
        open_reviews,
    };
    canonical::hash_of(&hashed).unwrap_or_else(|_| canonical::sha256_tagged(b""))
}

/// A decision taking shape.
#[derive(Default)]
struct Draft {
    role: Option<Role>,
    system: Option<warden_model::SystemId>,
    reasons: Vec<Reason>,
    policies: Vec<PolicyId>,
    /// Every question put to Cedar, when asked for (benchmarks put them to bare Cedar).
    trace: Option<Vec<Question>>,
}

impl Draft {
    fn reason(&mut self, code: ReasonCode, message: String) {
        self.reasons.push(Reason::new(code, message));
    }

    /// Keeps the question about to be asked, when tracing.
    fn record(
        &mut self,
        authorization: &Authorization,
        identity: &warden_model::IdentityId,
        action: Action,
        role: &warden_model::RoleId,
        context: &PreparedContext,
    ) {
        if let Some(trace) = &mut self.trace
            && let Ok(q) = authorization.question(identity, action, role, context.clone())
        {
            trace.push(q);
        }
    }
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let parts: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn quoted<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let parts: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    parts.join(", ")
}

/// What caps a decision's duration, named in its `duration_clamped` reason.
#[derive(Clone, Copy)]
enum CapBy<'a> {
    Role(&'a RoleId),
    Task(&'a TaskId),
    Policy(&'a PolicyId),
    BreakGlass,
    /// The `[nhi]` limit, for this service or workload.
    Nhi(&'a Identity),
    /// The access end of this third party.
    AccessEnd(&'a Identity, Timestamp),
}

impl std::fmt::Display for CapBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Role(id) => write!(f, "role `{id}`"),
            Self::Task(id) => write!(f, "task `{id}`"),
            Self::Policy(id) => write!(f, "policy `{id}`"),
            Self::BreakGlass => f.write_str("`[break_glass]`"),
            Self::Nhi(subject) => {
                write!(f, "`[nhi]` for {} `{}`", subject.kind.as_str(), subject.id)
            }
            Self::AccessEnd(subject, ends) => {
                write!(f, "the access end of `{}` at {ends}", subject.id)
            }
        }
    }
}

impl Bundle {
    /// Decides `input` through the scope index.
    pub fn decide(&self, input: &DecisionInput<'_>) -> Decision {
        self.decide_with(input, Evaluation::Indexed)
    }

    /// Decides `input`, evaluating policies as `evaluation` says. Both ways give the same
    /// decision; [`Evaluation::Full`] exists to prove it.
    pub fn decide_with(&self, input: &DecisionInput<'_>, evaluation: Evaluation) -> Decision {
        let mut draft = Draft::default();
        let shaped = self.steps(input, evaluation, &mut draft);
        let (outcome, duration, approvals, second_check, break_glass) = match shaped {
            Some(s) => (
                s.outcome,
                Some(s.duration.seconds()),
                s.approvals,
                s.second_check,
                s.break_glass,
            ),
            None => (
                Outcome::Deny,
                None,
                Vec::new(),
                SecondCheck::default(),
                false,
            ),
        };
        let mut reasons = draft.reasons;
        let denied = outcome == Outcome::Deny;
        // A denial names only the forbids behind it; the permit that chose a role it then
        // refused for another reason did not decide anything.
        reasons.extend(
            draft
                .policies
                .into_iter()
                .filter(|p| {
                    !denied || self.authorization.effect_of(p) == Some(cedar_policy::Effect::Forbid)
                })
                .map(Reason::policy),
        );
        Decision {
            outcome,
            permissions: draft
                .role
                .as_ref()
                .map(|r| r.permissions.iter().cloned().collect())
                .unwrap_or_default(),
            role: draft.role.map(|r| r.id),
            system: draft.system,
            duration_seconds: duration,
            approvals,
            second_check,
            break_glass,
            reasons,
            bundle_hash: self.hash().to_owned(),
            input_hash: input_hash(input),
        }
    }

    /// The questions `decide()` puts to Cedar for `input`, in order.
    #[cfg(feature = "bench")]
    pub(crate) fn questions(&self, input: &DecisionInput<'_>) -> Vec<Question> {
        let mut draft = Draft {
            trace: Some(Vec::new()),
            ..Draft::default()
        };
        // Only the questions matter here; the decision is `decide()`'s.
        let _ = self.steps(input, Evaluation::Indexed, &mut draft);
        draft.trace.unwrap_or_default()
    }

    /// Runs the steps; `None` is a denial whose reasons are in `draft`.
    fn steps(
        &self,
        input: &DecisionInput<'_>,
        evaluation: Evaluation,
        d: &mut Draft,
    ) -> Option<Shaped> {
        let req = input.request;
        let cat = &self.catalog;

        // 1. Identities.
        let (requester, subject) = self.resolve_identities(input, d)?;

        // 2. System, role, task.
        let (system, requested, task) = self.resolve_targets(req, d)?;

        // 3. Right-sizing.
        let action = if req.emergency {
            Action::BreakGlass
        } else {
            Action::Request
        };
        let break_glass = if req.emergency {
            let Some(bg) = cat.break_glass else {
                d.reason(
                    ReasonCode::NotPermitted,
                    "emergency access asked for, but this bundle has no `[break_glass]` settings"
                        .into(),
                );
                return None;
            };
            if !input.open_reviews.is_empty() {
                let open: Vec<String> = input
                    .open_reviews
                    .iter()
                    .map(|r| format!("`{}` (emergency access of `{}`)", r.id, r.subject))
                    .collect();
                d.reason(
                    ReasonCode::BreakGlassReviewOpen,
                    format!(
                        "the emergency path stays closed until review {} is closed",
                        open.join(", ")
                    ),
                );
                return None;
            }
            Some(bg)
        } else {
            None
        };
        let need: BTreeSet<Permission> = match (&req.needs, task, requested) {
            (Some(needs), _, _) => needs.iter().cloned().collect(),
            (None, Some(t), _) => t.needs.clone(),
            (None, None, Some(r)) => r.permissions.clone(),
            (None, None, None) => BTreeSet::new(),
        };
        if let Some(r) = requested
            && !r.permissions.is_superset(&need)
        {
            d.reason(
                ReasonCode::NoCoveringRole,
                format!(
                    "role `{}` does not cover the stated need {}",
                    r.id,
                    list(&need)
                ),
            );
            return None;
        }
        let mut candidates: Vec<&Role> =
            self.cover
                .covering(cat, &system.id, subject.kind, &need, requested);
        if candidates.is_empty() {
            d.reason(
                ReasonCode::NoCoveringRole,
                format!(
                    "no role on `{}` covers {} for a {} identity",
                    system.id,
                    list(&need),
                    subject.kind.as_str()
                ),
            );
            return None;
        }
        // Least permissions first; on a tie the role asked for, then the shorter cap, then id.
        candidates.sort_by(|a, b| {
            let asked = |r: &Role| requested.is_none_or(|q| q.id != r.id);
            (a.permissions.len(), asked(a), a.max_duration, &a.id).cmp(&(
                b.permissions.len(),
                asked(b),
                b.max_duration,
                &b.id,
            ))
        });
        let ctx_for = |role: &Role| AuthContext {
            duration_seconds: duration_i64(req.duration.unwrap_or(role.default_duration)),
            emergency: req.emergency,
            purpose: &req.purpose,
            ticket: req.ticket.as_deref().unwrap_or(""),
            source: req.source.as_deref().unwrap_or(""),
            requester_is_subject: requester.id == subject.id,
            approvals: 0,
            oidc: Some(&req.oidc),
        };
        // Questions in one decision mostly share their context: build Cedar's form once.
        let mut prepared: Option<(AuthContext<'_>, PreparedContext)> = None;
        let mut forbids: BTreeSet<PolicyId> = BTreeSet::new();
        let mut chosen: Option<(&Role, PolicyId)> = None;
        for role in &candidates {
            let context = context_of(&mut prepared, ctx_for(role));
            d.record(&self.authorization, &subject.id, action, &role.id, &context);
            let answer =
                self.authorization
                    .ask_prepared(&subject.id, action, &role.id, context, evaluation);
            if answer.allowed {
                if let Some(winner) = self.most_favourable(&answer.policies) {
                    chosen = Some((role, winner));
                    break;
                }
            } else {
                forbids.extend(answer.policies);
            }
        }
        let Some((role, winner)) = chosen else {
            let mut message = format!(
                "policy permits {} none of the roles that cover {}: {}",
                subject.id,
                list(&need),
                quoted(candidates.iter().map(|r| &r.id))
            );
            if !forbids.is_empty() {
                message.push_str(&format!("; forbidden by {}", quoted(&forbids)));
            }
            d.reason(ReasonCode::NotPermitted, message);
            d.policies.extend(forbids);
            return None;
        };
        d.role = Some(role.clone());
        if let Some(q) = requested
            && q.id != role.id
        {
            d.reason(
                ReasonCode::RightSized,
                format!(
                    "asked for `{}`; need {} is covered by `{}`",
                    q.id,
                    list(&need),
                    role.id
                ),
            );
        }
        d.policies.push(winner.clone());

        // 4. Separation of duties.
        let active: BTreeSet<&warden_model::RoleId> = input
            .grants
            .iter()
            .filter(|g| g.expires_at > input.at)
            .map(|g| &g.role)
            .collect();
        let mut conflict = false;
        for rule in &cat.sod {
            if rule.roles.contains(&role.id)
                && rule
                    .roles
                    .iter()
                    .all(|r| *r == role.id || active.contains(r))
            {
                let others = rule.roles.iter().filter(|r| **r != role.id);
                d.reason(
                    ReasonCode::SodConflict,
                    format!(
                        "`{}` with active grant {} would complete separation-of-duties rule `{}`",
                        role.id,
                        quoted(others),
                        rule.id
                    ),
                );
                conflict = true;
            }
        }
        if conflict {
            return None;
        }

        // 5. Duration.
        let asked = req.duration.unwrap_or(role.default_duration);
        // What each cap is named by is written out only for the cap that wins.
        let mut caps: Vec<(Duration, CapBy<'_>)> = vec![(role.max_duration, CapBy::Role(&role.id))];
        if let Some(t) = task.and_then(|t| t.max_duration.map(|m| (m, &t.id))) {
            caps.push((t.0, CapBy::Task(t.1)));
        }
        if let Some(m) = self.policies.get(&winner).and_then(|p| p.max_duration) {
            caps.push((m, CapBy::Policy(&winner)));
        }
        if let Some(bg) = break_glass {
            caps.push((bg.max_duration, CapBy::BreakGlass));
        }
        if subject.kind.needs_owner() {
            caps.push((cat.nhi.max_duration, CapBy::Nhi(subject)));
        }
        if let Some(ends) = subject.access_ends {
            let left = input.at.seconds_until(ends);
            if let Some(left) = u64::try_from(left).ok().and_then(Duration::from_seconds) {
                caps.push((left, CapBy::AccessEnd(subject, ends)));
            }
        }
        // Smallest cap; on a tie the first listed (role, task, policy, …) is named.
        let (cap, capped_by) = caps
            .iter()
            .fold(None::<&(Duration, CapBy<'_>)>, |best, c| match best {
                Some(b) if b.0 <= c.0 => Some(b),
                _ => Some(c),
            })
            .copied()
            .unwrap_or((role.max_duration, CapBy::Role(&role.id)));
        let duration = if asked > cap {
            let what = if req.duration.is_some() {
                format!("asked for {asked}")
            } else {
                format!("the default of {asked}")
            };
            d.reason(
                ReasonCode::DurationClamped,
                format!("{what}; capped at {cap} by {capped_by}"),
            );
            cap
        } else {
            asked
        };

        // 6. Second check.
        let mut second_check = SecondCheck::default();
        if system.sensitivity.needs_second_check() {
            second_check.required = true;
            let ctx = AuthContext {
                duration_seconds: duration_i64(duration),
                ..ctx_for(role)
            };
            let context = context_of(&mut prepared, ctx);
            d.record(
                &self.authorization,
                &subject.id,
                Action::Provision,
                &role.id,
                &context,
            );
            let answer = self.authorization.ask_prepared(
                &subject.id,
                Action::Provision,
                &role.id,
                context,
                evaluation,
            );
            if !answer.allowed {
                let mut message = format!(
                    "`{}` is a {} system and the `provision` action is not permitted for `{}`",
                    system.id,
                    system.sensitivity.as_str(),
                    role.id
                );
                if !answer.policies.is_empty() {
                    message.push_str(&format!("; forbidden by {}", quoted(&answer.policies)));
                }
                d.reason(ReasonCode::SecondCheckFailed, message);
                d.policies.extend(answer.policies);
                return None;
            }
            second_check.passed = true;
            if let Some(p) = self.most_favourable(&answer.policies)
                && !d.policies.contains(&p)
            {
                d.policies.push(p);
            }
            let message = if break_glass.is_some() {
                format!(
                    "`{}` is a {} system; the owner group `{}` approval is replaced by the post-hoc review",
                    system.id,
                    system.sensitivity.as_str(),
                    system.owner
                )
            } else {
                format!(
                    "`{}` is a {} system; one more approval from owner group `{}`",
                    system.id,
                    system.sensitivity.as_str(),
                    system.owner
                )
            };
            d.reason(ReasonCode::SecondCheck, message);
        }

        // 8. Break-glass: granted now, reviewed afterwards.
        if let Some(bg) = break_glass {
            d.reason(
                ReasonCode::BreakGlass,
                format!(
                    "emergency access for {duration}; post-hoc review due within {}",
                    bg.review_within
                ),
            );
            return Some(Shaped {
                outcome: Outcome::Grant,
                duration,
                approvals: Vec::new(),
                second_check,
                break_glass: true,
            });
        }

        // 7. Approvals.
        let excluded: Vec<warden_model::IdentityId> = [&requester.id, &subject.id]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let mut approvals = Vec::new();
        let count = role.approvals.max(
            self.policies
                .get(&winner)
                .and_then(|p| p.approvals)
                .unwrap_or(0),
        );
        if count > 0 {
            approvals.push(ApprovalStep {
                count,
                from_groups: role.approvers.iter().cloned().collect(),
                from_identities: Vec::new(),
                excluded: excluded.clone(),
            });
        }
        if second_check.required {
            // The owner group's extra approval; when the role's approvers are exactly that
            // group it is one more approval of the same step, from a different person.
            let owner_only = vec![system.owner.clone()];
            match approvals.first_mut() {
                Some(step) if step.from_groups == owner_only => step.count += 1,
                _ => approvals.push(ApprovalStep {
                    count: 1,
                    from_groups: owner_only,
                    from_identities: Vec::new(),
                    excluded: excluded.clone(),
                }),
            }
        }
        if let Some(owner) = subject
            .owner
            .as_ref()
            .filter(|_| subject.kind.needs_owner())
            && *owner != requester.id
        {
            if subject.owner_consents.contains(&role.id) {
                d.reason(
                    ReasonCode::OwnerConsented,
                    format!(
                        "owner `{owner}` of {} `{}` consents to `{}` in advance",
                        subject.kind.as_str(),
                        subject.id,
                        role.id
                    ),
                );
            } else {
                approvals.push(ApprovalStep {
                    count: 1,
                    from_groups: Vec::new(),
                    from_identities: vec![owner.clone()],
                    excluded,
                });
            }
        }
        let outcome = if approvals.is_empty() {
            Outcome::Grant
        } else {
            Outcome::ApprovalRequired
        };
        Some(Shaped {
            outcome,
            duration,
            approvals,
            second_check,
            break_glass: false,
        })
    }

    fn resolve_identities<'a>(
        &'a self,
        input: &DecisionInput<'_>,
        d: &mut Draft,
    ) -> Option<(&'a Identity, &'a Identity)> {
        let cat = &self.catalog;
        let req = input.request;
        let requester = cat.identities.get(&req.requester);
        let subject = cat.identities.get(req.subject());
        if requester.is_none() {
            d.reason(
                ReasonCode::UnknownIdentity,
                format!("requester `{}` is not in the catalog", req.requester),
            );
        }
        if subject.is_none() && req.subject() != &req.requester {
            d.reason(
                ReasonCode::UnknownIdentity,
                format!("subject `{}` is not in the catalog", req.subject()),
            );
        }
        let (requester, subject) = (requester?, subject?);
        let subject_is_requester = subject.id == requester.id;
        for (who, i, skip) in [
            ("requester", requester, false),
            ("subject", subject, subject_is_requester),
        ] {
            if !i.is_active() && !skip {
                d.reason(
                    ReasonCode::IdentityDisabled,
                    format!("{who} `{}` is disabled", i.id),
                );
            }
        }
        if !d.reasons.is_empty() {
            return None;
        }
        if subject.kind.needs_owner() {
            let owner = subject.owner.as_ref().and_then(|o| cat.identities.get(o));
            match owner {
                Some(o) if o.is_active() => {}
                Some(o) => d.reason(
                    ReasonCode::OwnerMissing,
                    format!(
                        "owner `{}` of {} `{}` is disabled",
                        o.id,
                        subject.kind.as_str(),
                        subject.id
                    ),
                ),
                None => d.reason(
                    ReasonCode::OwnerMissing,
                    format!("{} `{}` has no owner", subject.kind.as_str(), subject.id),
                ),
            }
        }
        if subject.kind == IdentityKind::ThirdParty {
            let sponsor = subject.sponsor.as_ref().and_then(|s| cat.identities.get(s));
            if !sponsor.is_some_and(Identity::is_active) {
                d.reason(
                    ReasonCode::ThirdPartyExpired,
                    format!("third party `{}` has no active sponsor", subject.id),
                );
            }
            match subject.access_ends {
                Some(ends) if ends > input.at => {}
                Some(ends) => d.reason(
                    ReasonCode::ThirdPartyExpired,
                    format!("access of third party `{}` ended at {ends}", subject.id),
                ),
                None => d.reason(
                    ReasonCode::ThirdPartyExpired,
                    format!("third party `{}` has no `access_ends`", subject.id),
                ),
            }
        }
        if d.reasons.is_empty() {
            Some((requester, subject))
        } else {
            None
        }
    }

    fn resolve_targets<'a>(
        &'a self,
        req: &Request,
        d: &mut Draft,
    ) -> Option<(&'a warden_model::System, Option<&'a Role>, Option<&'a Task>)> {
        let cat = &self.catalog;
        let role = req.role.as_ref().map(|id| (id, cat.roles.get(id)));
        let task = req.task.as_ref().map(|id| (id, cat.tasks.get(id)));
        let system_id = req
            .system
            .clone()
            .or_else(|| role.and_then(|(_, r)| r.map(|r| r.system.clone())))
            .or_else(|| task.and_then(|(_, t)| t.map(|t| t.system.clone())));
        let system = system_id.as_ref().and_then(|s| cat.systems.get(s));
        match (&system_id, system) {
            (Some(id), None) => d.reason(
                ReasonCode::UnknownSystem,
                format!("system `{id}` is not in the catalog"),
            ),
            (Some(id), Some(_)) => d.system = Some(id.clone()),
            (None, _) => {}
        }
        if let Some((id, r)) = role {
            match r {
                None => d.reason(
                    ReasonCode::UnknownRole,
                    format!("role `{id}` is not in the catalog"),
                ),
                Some(r) if system_id.as_ref().is_some_and(|s| *s != r.system) => d.reason(
                    ReasonCode::UnknownRole,
                    format!(
                        "role `{id}` is on system `{}`, not `{}`",
                        r.system,
                        system_id.as_ref().map_or("", |s| s.as_str())
                    ),
                ),
                Some(_) => {}
            }
        }
        if let Some((id, t)) = task {
            match t {
                None => d.reason(
                    ReasonCode::UnknownTask,
                    format!("task `{id}` is not in the catalog"),
                ),
                Some(t) if system_id.as_ref().is_some_and(|s| *s != t.system) => d.reason(
                    ReasonCode::UnknownTask,
                    format!(
                        "task `{id}` is on system `{}`, not `{}`",
                        t.system,
                        system_id.as_ref().map_or("", |s| s.as_str())
                    ),
                ),
                Some(_) => {}
            }
        }
        if !d.reasons.is_empty() {
            return None;
        }
        Some((
            system?,
            role.and_then(|(_, r)| r),
            task.and_then(|(_, t)| t),
        ))
    }

    /// Among satisfied permits, the most favourable to the subject: the longest
    /// `@max_duration` (none is longest), then the fewest `@approvals`, then the id.
    fn most_favourable(&self, permits: &[PolicyId]) -> Option<PolicyId> {
        permits
            .iter()
            .min_by(|a, b| {
                let key = |id: &PolicyId| {
                    let info = self.policies.get(id);
                    let cap = info
                        .and_then(|i| i.max_duration)
                        .map_or(u64::MAX, Duration::seconds);
                    let approvals = info.and_then(|i| i.approvals).unwrap_or(0);
                    (std::cmp::Reverse(cap), approvals)
                };
                key(a).cmp(&key(b)).then_with(|| a.cmp(b))
            })
            .cloned()
    }
}

/// Cedar's form of `ctx`, reused from `memo` when the last question had the same context.
fn context_of<'c>(
    memo: &mut Option<(AuthContext<'c>, PreparedContext)>,
    ctx: AuthContext<'c>,
) -> PreparedContext {
    match memo {
        Some((last, p)) if *last == ctx => p.clone(),
        _ => {
            let p = prepare(&ctx);
            *memo = Some((ctx, p.clone()));
            p
        }
    }
}

fn duration_i64(d: Duration) -> i64 {
    i64::try_from(d.seconds()).unwrap_or(i64::MAX)
}

/// The parts of a decision that only a non-denial has.
struct Shaped {
    outcome: Outcome,
    duration: Duration,
    approvals: Vec<ApprovalStep>,
    second_check: SecondCheck,
    break_glass: bool,
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;

    #[test]
    fn a_request_in_key_order_encodes_as_the_request() {
        let bare = r#"{"requester":"alice","role":"payments-db.read","purpose":"x"}"#;
        let full = r#"{"source":"jira","ticket":"OPS-1","requester":"alice","subject":"ci-bot",
            "system":"payments-db","role":"payments-db.admin","needs":["write","read"],
            "task":"rotate","purpose":"rotate the key\nafter \"INC-42\" ✓","duration":"2h",
            "emergency":true,"requested_at":"2026-12-07T01:02:03Z",
            "oidc":{"sub":"repo:acme/api","ref":"refs/heads/main"}}"#;
        for text in [bare, full] {
            let request = Request::from_json(text.as_bytes()).unwrap();
            assert_eq!(
                canonical::to_canonical_json(&RequestInKeyOrder::from(&request)).unwrap(),
                canonical::to_canonical_json(&request).unwrap(),
                "{text}"
            );
        }
    }
}
