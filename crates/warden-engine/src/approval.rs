//! Approvals: who may answer a pending request, and when enough have.
//!
//! A decision lists approval steps (`count` approvers from some groups or named identities,
//! never anyone `excluded`). Each approver fills at most one slot of one step; whether a
//! set of approvers satisfies the steps is a bipartite matching of approvers to slots, so
//! the order in which people approve never matters.

use warden_model::{ApprovalStep, Decision, IdentityId, RequestState};
use warden_policy::{Action, AuthContext, Bundle, Evaluation};
use warden_store::{Approval, ApprovalDecision, NewAuditEvent, RequestId, RequestRecord, Tx};

use crate::job::WriteBack;
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
        self.answer_with(who, id, answer, None).await
    }

    /// [`Engine::answer`] with what the approver said: at most [`MAX_COMMENT`] characters,
    /// no control characters but line breaks and tabs; kept with the answer and in its
    /// audit event.
    pub async fn answer_with(
        &self,
        who: &IdentityId,
        id: &str,
        answer: ApprovalDecision,
        comment: Option<&str>,
    ) -> Result<RequestView, EngineError> {
        let comment = checked_comment(comment)?;
        let rid = self.request_record(id).await?.id;
        let mut tx = self.store().begin().await?;
        match self.answer_in(&mut tx, who, rid, answer, comment).await {
            Ok(Answered::Recorded) => tx.commit().await?,
            Ok(Answered::Repeated) => tx.rollback().await?,
            Ok(Answered::Refused(e)) | Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        }
        let stored = self
            .store()
            .request(rid)
            .await?
            .ok_or_else(|| EngineError::broken("stored request vanished"))?;
        self.view_of(&stored).await
    }

    /// Records `who`'s answer on request `rid` inside `tx`. A refusal is
    /// [`Answered::Refused`] and writes nothing, so the caller may go on in the same
    /// transaction; an error ([`EngineError::Conflict`]: the request changed while the
    /// answer was recorded) leaves writes the caller must roll back.
    pub(crate) async fn answer_in(
        &self,
        tx: &mut Tx,
        who: &IdentityId,
        rid: RequestId,
        answer: ApprovalDecision,
        comment: Option<String>,
    ) -> Result<Answered, EngineError> {
        let Some(record) = tx.request(rid).await? else {
            return Err(EngineError::NotFound(format!("no request `{rid}`")));
        };
        let approvals = tx.approvals(rid).await?;
        if approvals.iter().any(|a| a.approver == *who) {
            return Ok(Answered::Repeated);
        }
        match self.check_answer(who, &record, &approvals).await? {
            Ok(checked) => {
                self.record_answer(tx, who, &record, answer, comment, checked)
                    .await
            }
            Err(refused) => Ok(Answered::Refused(refused)),
        }
    }

    /// Whether `who` may answer `record` now, given the `approvals` already recorded: the
    /// approvers that would count with `who`'s answer, or why not.
    async fn check_answer(
        &self,
        who: &IdentityId,
        record: &RequestRecord,
        approvals: &[Approval],
    ) -> Result<Result<Checked, EngineError>, EngineError> {
        let id = record.id;
        if record.state != RequestState::ApprovalRequired {
            return Ok(Err(EngineError::Conflict(format!(
                "request `{id}` is `{}`, not waiting for approvals",
                record.state
            ))));
        }
        let decision: Decision = serde_json::from_value(record.decision.clone())?;
        let input: StoredInput = serde_json::from_value(record.request.clone())?;
        let bundle = self.bundle_by_hash(&record.bundle_hash).await?;
        let refuse = |why: String| Ok(Err(EngineError::Forbidden(why)));
        if *who == record.requester {
            return refuse(format!(
                "`{who}` asked for this access and cannot approve it"
            ));
        }
        if *who == record.subject {
            return refuse(format!(
                "`{who}` would receive this access and cannot approve it"
            ));
        }
        // The current catalog decides who may act: a disabled or removed approver is
        // refused, and approvals given earlier by someone barred since count no more.
        let current = self.bundle();
        if let Err(b) = standing(&current.catalog, who) {
            return refuse(b.describe(who));
        }
        let eligible = |a: &IdentityId, step: &ApprovalStep| fits_now(&bundle, &current, a, step);
        let mut approvers: Vec<IdentityId> = approvals
            .iter()
            .filter(|a| a.decision == ApprovalDecision::Approve)
            .map(|a| a.approver.clone())
            .collect();
        let before = matched(&eligible, &decision.approvals, &approvers);
        approvers.push(who.clone());
        let after = matched(&eligible, &decision.approvals, &approvers);
        if after == before {
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
            return refuse(format!(
                "`{who}` cannot fill any approval still needed (eligible: {})",
                groups.join(", ")
            ));
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
                oidc: Some(&input.request.oidc),
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
                return refuse(format!(
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
                ));
            }
        }
        let complete = after >= needed(&decision);
        Ok(Ok(Checked {
            decision,
            approvers,
            complete,
        }))
    }

    /// Records an answer [`Engine::check_answer`] allowed, and — when it completes or
    /// rejects the request — the request's new state, its grant and its write-back.
    async fn record_answer(
        &self,
        tx: &mut Tx,
        who: &IdentityId,
        record: &RequestRecord,
        answer: ApprovalDecision,
        comment: Option<String>,
        checked: Checked,
    ) -> Result<Answered, EngineError> {
        let Checked {
            decision,
            approvers,
            complete,
        } = checked;
        let rid = record.id;
        let now = self.now();
        if !tx
            .insert_approval(&Approval {
                request_id: rid,
                approver: who.clone(),
                decision: answer,
                at: now,
                comment: comment.clone(),
            })
            .await?
        {
            return Ok(Answered::Repeated);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: who.to_string(),
                action: format!("request.{}", answer.as_str()),
                request_id: Some(rid),
                grant_id: None,
                before_state: None,
                after_state: None,
                bundle_hash: Some(record.bundle_hash.clone()),
                data: match &comment {
                    Some(c) => serde_json::json!({ "approver": who, "comment": c }),
                    None => serde_json::json!({ "approver": who }),
                },
            },
        )
        .await?;
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
                return Err(EngineError::Conflict(format!(
                    "request `{rid}` changed while this answer was recorded; try again"
                )));
            }
            audit(
                tx,
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
                self.create_grant(tx, record, &decision, who.as_str())
                    .await?;
            }
            self.schedule_writeback(tx, record, WriteBack::Answered, now)
                .await?;
        }
        Ok(Answered::Recorded)
    }
}

/// What recording an answer did.
pub(crate) enum Answered {
    /// It was recorded.
    Recorded,
    /// The same approver had answered already; nothing changed.
    Repeated,
    /// It was refused, with the reason ([`EngineError::Forbidden`] or
    /// [`EngineError::Conflict`]); nothing was written.
    Refused(EngineError),
}

/// An answer [`Engine::check_answer`] allowed.
struct Checked {
    decision: Decision,
    /// The approvers that count, the new one included.
    approvers: Vec<IdentityId>,
    /// Whether they fill every step.
    complete: bool,
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

/// The longest comment an approver may give with an answer, in characters.
pub const MAX_COMMENT: usize = 2_000;

/// A comment as it is kept: trimmed, `None` when empty; too long or holding control
/// characters (other than line breaks and tabs) is refused, naming the field.
fn checked_comment(comment: Option<&str>) -> Result<Option<String>, EngineError> {
    let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if c.chars().count() > MAX_COMMENT {
        return Err(EngineError::Invalid(format!(
            "`comment`: at most {MAX_COMMENT} characters"
        )));
    }
    if c.chars()
        .any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t'))
    {
        return Err(EngineError::Invalid(
            "`comment`: control characters are not allowed".into(),
        ));
    }
    Ok(Some(c.to_owned()))
}

/// The most pending requests an inbox looks through: the newest ones first.
const INBOX_SCAN: u32 = 500;

/// Who may still fill the approvals a pending request needs, by the catalogs alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StillNeeded {
    /// How many more approvals are needed.
    pub remaining: usize,
    /// The people who could give one now: eligible under the bundle that decided and the
    /// active one, with standing, neither requester nor subject, not answered yet. Policy
    /// (`approve`) is asked only when one of them answers.
    pub candidates: Vec<IdentityId>,
}

impl Engine {
    /// Up to `limit` requests waiting for an answer that `who` may give now, newest first,
    /// and whether there are more. Only the newest `INBOX_SCAN` pending requests are
    /// looked at. Each is first judged by the catalogs alone (not the requester or the
    /// subject, in an eligible group or named), which costs no query; only those that pass
    /// get the full check answering makes (slots left, policy), so an approver's inbox
    /// costs one query per request it shows, not per request pending.
    pub async fn inbox(
        &self,
        who: &IdentityId,
        limit: usize,
    ) -> Result<(Vec<RequestView>, bool), EngineError> {
        let pending = self
            .store()
            .requests_in_state(RequestState::ApprovalRequired, INBOX_SCAN)
            .await?;
        let current = self.bundle();
        let mut mine = Vec::new();
        for record in &pending {
            if record.requester == *who || record.subject == *who {
                continue;
            }
            let decision: Decision = serde_json::from_value(record.decision.clone())?;
            let decided = self.bundle_by_hash(&record.bundle_hash).await?;
            if !decision
                .approvals
                .iter()
                .any(|step| fits_now(&decided, &current, who, step))
            {
                continue;
            }
            let approvals = self.store().approvals(record.id).await?;
            if approvals.iter().any(|a| a.approver == *who) {
                continue;
            }
            if self.check_answer(who, record, &approvals).await?.is_ok() {
                if mine.len() == limit {
                    return Ok((mine, true));
                }
                // A request waiting for approval has no grant yet.
                mine.push(RequestView::build(record, &approvals, None)?);
            }
        }
        Ok((mine, false))
    }

    /// Whether `who` may answer request `id` now; the refusal says why (requester,
    /// subject, not eligible, no slot left, policy, not pending, answered already).
    pub async fn may_answer(&self, who: &IdentityId, id: &str) -> Result<(), EngineError> {
        let record = self.request_record(id).await?;
        let approvals = self.store().approvals(record.id).await?;
        if approvals.iter().any(|a| a.approver == *who) {
            return Err(EngineError::Conflict(format!(
                "`{who}` has answered this request already"
            )));
        }
        self.check_answer(who, &record, &approvals)
            .await?
            .map(|_| ())
    }

    /// How many approvals request `view` still needs and who could give them.
    pub async fn still_needed(&self, view: &RequestView) -> Result<StillNeeded, EngineError> {
        if view.state != RequestState::ApprovalRequired {
            return Ok(StillNeeded {
                remaining: 0,
                candidates: Vec::new(),
            });
        }
        let decided = self.bundle_by_hash(&view.decision.bundle_hash).await?;
        let current = self.bundle();
        let eligible = |a: &IdentityId, step: &ApprovalStep| fits_now(&decided, &current, a, step);
        let approvers: Vec<IdentityId> = view
            .approvals
            .iter()
            .filter(|a| a.decision == ApprovalDecision::Approve.as_str())
            .map(|a| a.approver.clone())
            .collect();
        let placed = matched(&eligible, &view.decision.approvals, &approvers);
        let remaining = needed(&view.decision).saturating_sub(placed);
        let requester = &view.request.requester;
        let subject = view.request.subject.as_ref().unwrap_or(requester);
        let mut candidates: Vec<IdentityId> = current
            .catalog
            .identities
            .keys()
            .filter(|id| *id != requester && *id != subject)
            .filter(|id| !view.approvals.iter().any(|a| a.approver == **id))
            .filter(|id| {
                let mut with = approvers.clone();
                with.push((*id).clone());
                matched(&eligible, &view.decision.approvals, &with) > placed
            })
            .cloned()
            .collect();
        candidates.sort();
        Ok(StillNeeded {
            remaining,
            candidates,
        })
    }
}
