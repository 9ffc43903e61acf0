//! Approvals: who may answer a pending request, and when enough have.
//!
//! A decision lists approval steps (`count` approvers from some groups or named identities,
//! never anyone `excluded`). Each approver fills at most one slot of one step; whether a
//! set of approvers satisfies the steps is a bipartite matching of approvers to slots, so
//! the order in which people approve never matters.

use warden_model::{ApprovalStep, Decision, IdentityId, RequestState};
use warden_policy::{Action, AuthContext, Bundle, Evaluation};
use warden_store::{Approval, ApprovalDecision, NewAuditEvent};

use crate::standing::standing;
use crate::view::{RequestView, StoredInput};
use crate::{Engine, EngineError, audit};

/// Whether `who` may fill a slot of `step`, judged by `bundle`'s catalog alone.
pub(crate) fn fits(bundle: &Bundle, who: &IdentityId, step: &ApprovalStep) -> bool {
    if step.excluded.contains(who) {
        return false;
    }
    if step.from_identities.contains(who) {
        return true;
    }
    bundle
        .catalog
        .identities
        .get(who)
        .is_some_and(|i| step.from_groups.iter().any(|g| i.groups.contains(g)))
}

/// Whether `who` may fill a slot of `step` now: eligible under the bundle that decided
/// and under the active one, and allowed to act by the active catalog.
fn fits_now(decided: &Bundle, current: &Bundle, who: &IdentityId, step: &ApprovalStep) -> bool {
    standing(&current.catalog, who).is_ok() && fits(decided, who, step) && fits(current, who, step)
}

/// Assigns approvers to slots (Kuhn's augmenting paths); returns how many are placed.
fn matched(
    fits: &dyn Fn(&IdentityId, &ApprovalStep) -> bool,
    steps: &[ApprovalStep],
    approvers: &[IdentityId],
) -> usize {
    let slots: Vec<&ApprovalStep> = steps
        .iter()
        .flat_map(|s| std::iter::repeat_n(s, usize::try_from(s.count).unwrap_or(0)))
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; slots.len()];
    fn place(
        a: usize,
        fits: &dyn Fn(&IdentityId, &ApprovalStep) -> bool,
        slots: &[&ApprovalStep],
        approvers: &[IdentityId],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for s in 0..slots.len() {
            let (Some(step), Some(who)) = (slots.get(s), approvers.get(a)) else {
                continue;
            };
            if seen.get(s).copied().unwrap_or(true) || !fits(who, step) {
                continue;
            }
            if let Some(flag) = seen.get_mut(s) {
                *flag = true;
            }
            let current = owner.get(s).copied().flatten();
            if current.is_none_or(|other| place(other, fits, slots, approvers, owner, seen)) {
                if let Some(o) = owner.get_mut(s) {
                    *o = Some(a);
                }
                return true;
            }
        }
        false
    }
    let mut placed = 0;
    for a in 0..approvers.len() {
        let mut seen = vec![false; slots.len()];
        if place(a, fits, &slots, approvers, &mut owner, &mut seen) {
            placed += 1;
        }
    }
    placed
}

fn needed(decision: &Decision) -> usize {
    usize::try_from(decision.approvals_needed()).unwrap_or(usize::MAX)
}

impl Engine {
    /// Records `who`'s answer on pending request `id`. Refuses, with the reason, anyone the
    /// decision does not allow to answer: the requester, the subject, anyone outside the
    /// eligible groups, anyone policy does not permit to `approve` the role, and anyone
    /// whose approval would fill no remaining slot. A second answer by the same person
    /// changes nothing.
    pub async fn answer(
        &self,
        who: &IdentityId,
        id: &str,
        answer: ApprovalDecision,
    ) -> Result<RequestView, EngineError> {
        let record = self.request_record(id).await?;
        let rid = record.id;
        let approvals = self.store().approvals(rid).await?;
        if approvals.iter().any(|a| a.approver == *who) {
            return self.view_of(&record).await;
        }
        if record.state != RequestState::ApprovalRequired {
            return Err(EngineError::Conflict(format!(
                "request `{id}` is `{}`, not waiting for approvals",
                record.state
            )));
        }
        let decision: Decision = serde_json::from_value(record.decision.clone())?;
        let input: StoredInput = serde_json::from_value(record.request.clone())?;
        let bundle = self.bundle_by_hash(&record.bundle_hash).await?;
        if *who == record.requester {
            return Err(EngineError::Forbidden(format!(
                "`{who}` asked for this access and cannot approve it"
            )));
        }
        if *who == record.subject {
            return Err(EngineError::Forbidden(format!(
                "`{who}` would receive this access and cannot approve it"
            )));
        }
        // The current catalog decides who may act: a disabled or removed approver is
        // refused, and approvals given earlier by someone barred since count no more.
        let current = self.bundle();
        standing(&current.catalog, who).map_err(|b| EngineError::Forbidden(b.describe(who)))?;
        let eligible = |a: &IdentityId, step: &ApprovalStep| fits_now(&bundle, &current, a, step);
        let mut approvers: Vec<IdentityId> = approvals
            .iter()
            .filter(|a| a.decision == ApprovalDecision::Approve)
            .map(|a| a.approver.clone())
            .collect();
        let before = matched(&eligible, &decision.approvals, &approvers);
        approvers.push(who.clone());
        if matched(&eligible, &decision.approvals, &approvers) == before {
            let groups: Vec<String> = decision
                .approvals
                .iter()
                .flat_map(|s| {
                    s.from_groups
                        .iter()
                        .map(|g| format!("group `{g}`"))
                        .chain(s.from_identities.iter().map(|i| format!("`{i}`")))
                })
                .collect();
            return Err(EngineError::Forbidden(format!(
                "`{who}` cannot fill any approval still needed (eligible: {})",
                groups.join(", ")
            )));
        }
        if let Some(role) = &decision.role {
            let ctx = AuthContext {
                duration_seconds: decision
                    .duration_seconds
                    .and_then(|s| i64::try_from(s).ok())
                    .unwrap_or(0),
                emergency: input.request.emergency,
                purpose: &input.request.purpose,
                ticket: &record.ticket,
                source: &record.source,
                requester_is_subject: record.requester == record.subject,
                approvals: i64::try_from(before).unwrap_or(i64::MAX),
            };
            // Policy must permit it under the bundle that decided and the active one.
            let answer_ = [&bundle, &current]
                .into_iter()
                .map(|b| b.authorize(who, Action::Approve, role, &ctx, Evaluation::Indexed))
                .find(|a| !a.allowed)
                .unwrap_or_else(|| {
                    bundle.authorize(who, Action::Approve, role, &ctx, Evaluation::Indexed)
                });
            if !answer_.allowed {
                return Err(EngineError::Forbidden(format!(
                    "policy does not permit `{who}` to approve `{role}`{}",
                    if answer_.policies.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (forbidden by {})",
                            answer_
                                .policies
                                .iter()
                                .map(|p| format!("`{p}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                )));
            }
        }

        let now = self.now();
        let mut tx = self.store().begin().await?;
        if !tx
            .insert_approval(&Approval {
                request_id: rid,
                approver: who.clone(),
                decision: answer,
                at: now,
            })
            .await?
        {
            tx.rollback().await?;
            return self.view_of(&record).await;
        }
        audit(
            &mut tx,
            NewAuditEvent {
                at: now,
                actor: who.to_string(),
                action: format!("request.{}", answer.as_str()),
                request_id: Some(rid),
                grant_id: None,
                before_state: None,
                after_state: None,
                bundle_hash: Some(record.bundle_hash.clone()),
                data: serde_json::json!({ "approver": who }),
            },
        )
        .await?;
        let complete = matched(&eligible, &decision.approvals, &approvers) >= needed(&decision);
        let next = match answer {
            ApprovalDecision::Reject => Some(RequestState::Denied),
            ApprovalDecision::Approve if complete => Some(RequestState::Approved),
            ApprovalDecision::Approve => None,
        };
        if let Some(next) = next {
            if !tx
                .set_request_state(rid, RequestState::ApprovalRequired, next, now)
                .await?
            {
                tx.rollback().await?;
                return Err(EngineError::Conflict(format!(
                    "request `{id}` changed while this answer was recorded; try again"
                )));
            }
            audit(
                &mut tx,
                NewAuditEvent {
                    at: now,
                    actor: who.to_string(),
                    action: if next == RequestState::Approved {
                        "request.approved".into()
                    } else {
                        "request.rejected".into()
                    },
                    request_id: Some(rid),
                    grant_id: None,
                    before_state: Some(RequestState::ApprovalRequired.as_str().into()),
                    after_state: Some(next.as_str().into()),
                    bundle_hash: Some(record.bundle_hash.clone()),
                    data: serde_json::json!({ "approvers": approvers }),
                },
            )
            .await?;
            if next == RequestState::Approved {
                self.create_grant(&mut tx, &record, &decision, who.as_str())
                    .await?;
            }
            self.schedule_writeback(&mut tx, &record, crate::itsm::ANSWERED, now)
                .await?;
        }
        tx.commit().await?;
        let stored = self
            .store()
            .request(rid)
            .await?
            .ok_or_else(|| EngineError::Internal("stored request vanished".into()))?;
        self.view_of(&stored).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(count: u32, groups: &[&str], ids: &[&str], excluded: &[&str]) -> ApprovalStep {
        ApprovalStep {
            count,
            from_groups: groups.iter().map(|g| g.parse().unwrap()).collect(),
            from_identities: ids.iter().map(|i| i.parse().unwrap()).collect(),
            excluded: excluded.iter().map(|i| i.parse().unwrap()).collect(),
        }
    }

    fn bundle() -> Bundle {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
        Bundle::load(&dir).unwrap()
    }

    fn ids(v: &[&str]) -> Vec<IdentityId> {
        v.iter().map(|i| i.parse().unwrap()).collect()
    }

    #[test]
    fn order_of_approvals_does_not_matter() {
        // carol is in payments-leads and security; bob only in payments-leads.
        let b = bundle();
        let fit = |w: &IdentityId, s: &ApprovalStep| fits(&b, w, s);
        let steps = [
            step(1, &["security"], &[], &["alice"]),
            step(1, &["payments-leads"], &[], &["alice"]),
        ];
        assert_eq!(matched(&fit, &steps, &ids(&["carol", "bob"])), 2);
        assert_eq!(matched(&fit, &steps, &ids(&["bob", "carol"])), 2);
        assert_eq!(matched(&fit, &steps, &ids(&["bob", "dave"])), 1);
    }

    #[test]
    fn excluded_people_and_outsiders_fill_nothing() {
        let b = bundle();
        let fit = |w: &IdentityId, s: &ApprovalStep| fits(&b, w, s);
        let steps = [step(2, &["payments-leads"], &[], &["bob"])];
        assert_eq!(matched(&fit, &steps, &ids(&["bob", "alice"])), 0);
        assert_eq!(matched(&fit, &steps, &ids(&["carol"])), 1);
        let consent = [step(1, &[], &["alice"], &["svc-billing"])];
        assert_eq!(matched(&fit, &consent, &ids(&["alice"])), 1);
        assert_eq!(matched(&fit, &consent, &ids(&["bob"])), 0);
    }
}
