//! Answering reviews: a reviewer's decision on one item, the close of a break-glass
//! review, and what silence decides at the due date. Each lands in one transaction with
//! its audit events and, for `revoke`, the grant's revocation (reason `review`, removal
//! confirmed at the target like any other).

use warden_model::{GrantState, IdentityId};
use warden_policy::{Action, AuthContext, Evaluation};
use warden_store::{GrantFilter, ItemRecord, ReviewRecord, Tx};

use super::open::silence;
use super::{Closing, ItemDecision, NO_ANSWER, ReviewView, Reviewers, Viewer, is_break_glass};
use crate::standing::standing;
use crate::{Engine, EngineError, audit, note};

/// The reason every revocation a review starts is audited with.
pub const REVIEW_REASON: &str = "review";

impl Engine {
    /// Records the viewer's `decision` on item `item` of review `id`, answering with the
    /// review as the viewer may see it. Refused (403) for anyone
    /// without standing, anyone deciding on their own access or on a grant they asked
    /// for, anyone the item does not name as a reviewer, and anyone Cedar's `review`
    /// action does not permit; 409 when the review is closed or the item decided.
    pub async fn decide_review_item(
        &self,
        viewer: &Viewer,
        id: &str,
        item: &str,
        decision: ItemDecision,
        comment: Option<&str>,
    ) -> Result<ReviewView, EngineError> {
        let who = &viewer.identity;
        let review = self.review_record(id).await?;
        if is_break_glass(&review) {
            return Err(EngineError::Conflict(format!(
                "review `{id}` is a break-glass review: close it with `justified` or `unjustified`"
            )));
        }
        let target = self.item_of(&review, item).await?;
        self.check_reviewer(who, &review, &target).await?;
        let mut tx = self.store().begin().await?;
        self.record_item(&mut tx, &review, &target, decision, who.as_str(), comment)
            .await?;
        self.close_if_done(&mut tx, &review, who.as_str()).await?;
        tx.commit().await?;
        // Answered as the caller may see it: a reviewer sees the items they review.
        self.review_for(viewer, id).await
    }

    /// Closes break-glass review `id` as `closing`, by the viewer (the same checks as
    /// deciding an item), answering with the review as the viewer may see it. `unjustified` raises `alert.break_glass_unjustified` and revokes the grant
    /// if it is still live.
    pub async fn close_review(
        &self,
        viewer: &Viewer,
        id: &str,
        closing: Closing,
        comment: Option<&str>,
    ) -> Result<ReviewView, EngineError> {
        let who = &viewer.identity;
        let review = self.review_record(id).await?;
        if !is_break_glass(&review) {
            return Err(EngineError::Conflict(format!(
                "review `{id}` is a campaign run: decide its items; it closes when all are decided or at its due date"
            )));
        }
        let items = self.store().review_items(review.id).await?;
        let [target] = items.as_slice() else {
            return Err(EngineError::broken(
                "a break-glass review has not exactly one item",
            ));
        };
        if !review.open {
            return Err(EngineError::Conflict(format!("review `{id}` is closed")));
        }
        self.check_reviewer(who, &review, target).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let decision = match closing {
            Closing::Justified => ItemDecision::Keep,
            Closing::Unjustified => ItemDecision::Revoke,
        };
        self.record_item(&mut tx, &review, target, decision, who.as_str(), comment)
            .await?;
        if !tx
            .close_review(review.id, closing.as_str(), who.as_str(), now, comment)
            .await?
        {
            tx.rollback().await?;
            return Err(EngineError::Conflict(format!("review `{id}` is closed")));
        }
        let data = serde_json::json!({
            "review": review.id.to_string(),
            "kind": review.kind.as_str(),
            "outcome": closing.as_str(),
            "subject": review.subject,
            "comment": comment,
        });
        audit(
            &mut tx,
            note(
                now,
                who.to_string(),
                "review.closed",
                None,
                review.grant_id,
                data.clone(),
            ),
        )
        .await?;
        if closing == Closing::Unjustified {
            audit(
                &mut tx,
                note(
                    now,
                    who.to_string(),
                    "alert.break_glass_unjustified",
                    None,
                    review.grant_id,
                    data,
                ),
            )
            .await?;
        }
        tx.commit().await?;
        // Answered as the caller may see it: a reviewer sees the items they review.
        self.review_for(viewer, id).await
    }

    async fn item_of(&self, review: &ReviewRecord, item: &str) -> Result<ItemRecord, EngineError> {
        let missing =
            || EngineError::NotFound(format!("review `{}` has no item `{item}`", review.id));
        let iid: warden_store::ItemId = item.parse().map_err(|_| missing())?;
        self.store()
            .review_items(review.id)
            .await?
            .into_iter()
            .find(|i| i.id == iid)
            .ok_or_else(missing)
    }

    /// Whether `who` may decide `item` of `review` now.
    async fn check_reviewer(
        &self,
        who: &IdentityId,
        review: &ReviewRecord,
        item: &ItemRecord,
    ) -> Result<(), EngineError> {
        let refuse = |why: String| Err(EngineError::Forbidden(why));
        if item.identity == *who {
            return refuse(format!("`{who}` cannot review their own access"));
        }
        let request = match item.grant_id {
            Some(g) => match self.store().grant(g).await? {
                Some(grant) => self.store().request(grant.request_id).await?,
                None => None,
            },
            None => None,
        };
        if request.as_ref().is_some_and(|r| r.requester == *who) {
            return refuse(format!(
                "`{who}` asked for this access and cannot review it"
            ));
        }
        let current = self.bundle();
        if let Err(b) = standing(&current.catalog, who) {
            return refuse(b.describe(who));
        }
        let reviewers = Reviewers::parse(&item.reviewers)?;
        if !reviewers.admit(&current.catalog, who) {
            return refuse(format!(
                "`{who}` is not a reviewer of this item (reviewers: {})",
                reviewers.describe()
            ));
        }
        let Some(role) = &item.role else {
            return Err(EngineError::broken("a review item names no role"));
        };
        let ctx = AuthContext {
            duration_seconds: 0,
            emergency: is_break_glass(review),
            purpose: "",
            ticket: request.as_ref().map_or("", |r| r.ticket.as_str()),
            source: "review",
            requester_is_subject: false,
            approvals: 0,
            oidc: None,
        };
        let answer = current.authorize(who, Action::Review, role, &ctx, Evaluation::Indexed);
        if !answer.allowed {
            return refuse(format!("policy does not permit `{who}` to review `{role}`"));
        }
        if !review.open {
            return Err(EngineError::Conflict(format!(
                "review `{}` is closed",
                review.id
            )));
        }
        if item.decision.is_some() {
            return Err(EngineError::Conflict(format!(
                "item `{}` is decided already",
                item.id
            )));
        }
        Ok(())
    }

    /// Records `decision` on `item` inside `tx`, audited as `review.decided`; `revoke`
    /// starts the revocation of the grant (an identity item: of every live grant of the
    /// identity, and its tokens, with `alert.identity_not_needed`).
    async fn record_item(
        &self,
        tx: &mut Tx,
        review: &ReviewRecord,
        item: &ItemRecord,
        decision: ItemDecision,
        by: &str,
        comment: Option<&str>,
    ) -> Result<(), EngineError> {
        let now = self.now();
        if !tx
            .decide_review_item(review.id, item.id, decision.as_str(), by, now, comment)
            .await?
        {
            return Err(EngineError::Conflict(format!(
                "item `{}` is decided already",
                item.id
            )));
        }
        audit(
            tx,
            note(
                now,
                by.to_owned(),
                "review.decided",
                None,
                item.grant_id,
                serde_json::json!({
                    "review": review.id.to_string(),
                    "item": item.id.to_string(),
                    "identity": item.identity,
                    "role": item.role,
                    "decision": decision.as_str(),
                    "comment": comment,
                }),
            ),
        )
        .await?;
        if decision == ItemDecision::Keep {
            return Ok(());
        }
        let end = format!("revoked by review {}", review.id);
        let grants = match item.grant_id {
            Some(g) => tx.grant(g).await?.into_iter().collect(),
            None => {
                let live = self
                    .store()
                    .grants(&GrantFilter {
                        subject: Some(item.identity.clone()),
                        system: None,
                        state: Some(GrantState::Active),
                        limit: 1_000,
                    })
                    .await?;
                tx.revoke_tokens_of(&item.identity, now).await?;
                audit(
                    tx,
                    note(
                        now,
                        by.to_owned(),
                        "alert.identity_not_needed",
                        None,
                        None,
                        serde_json::json!({
                            "review": review.id.to_string(),
                            "identity": item.identity,
                            "grants_revoked": live.len(),
                        }),
                    ),
                )
                .await?;
                live
            }
        };
        for g in grants {
            if matches!(g.state, GrantState::Active | GrantState::Provisioning)
                && !self
                    .start_revocation(tx, &g, by, REVIEW_REASON, &end, now)
                    .await?
            {
                return Err(EngineError::Conflict(format!(
                    "grant `{}` changed while the review revoked it; try again",
                    g.id
                )));
            }
        }
        Ok(())
    }

    /// Closes a campaign run whose items are all decided, audited as `review.closed`.
    async fn close_if_done(
        &self,
        tx: &mut Tx,
        review: &ReviewRecord,
        by: &str,
    ) -> Result<(), EngineError> {
        let items = tx.review_items(review.id).await?;
        if items.iter().any(|i| i.decision.is_none()) {
            return Ok(());
        }
        let now = self.now();
        if tx
            .close_review(review.id, "completed", by, now, None)
            .await?
        {
            audit(
                tx,
                note(
                    now,
                    by.to_owned(),
                    "review.closed",
                    None,
                    None,
                    serde_json::json!({
                        "review": review.id.to_string(),
                        "kind": review.kind.as_str(),
                        "campaign": review.campaign,
                        "outcome": "completed",
                        "items": items.len(),
                    }),
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// An open review's reminder: `review.reminder` with how many items wait.
    pub(crate) async fn remind_review(
        &self,
        tx: &mut Tx,
        review: &ReviewRecord,
        worker: &str,
    ) -> Result<(), EngineError> {
        let id = review.id;
        let waiting = tx
            .review_items(id)
            .await?
            .iter()
            .filter(|i| i.decision.is_none())
            .count();
        audit(
            tx,
            note(
                self.now(),
                format!("worker:{worker}"),
                "review.reminder",
                None,
                review.grant_id,
                serde_json::json!({
                    "review": id.to_string(),
                    "kind": review.kind.as_str(),
                    "campaign": review.campaign,
                    "subject": review.subject,
                    "due_at": review.due_at,
                    "undecided": waiting,
                }),
            ),
        )
        .await?;
        Ok(())
    }

    /// An open review's due date. A campaign run applies `on_no_answer` to every item nobody
    /// decided (`decided_by = no_answer`) and closes; a break-glass review stays open —
    /// the emergency path stays closed — and raises `alert.review_overdue`.
    pub(crate) async fn review_due(
        &self,
        tx: &mut Tx,
        review: &ReviewRecord,
        worker: &str,
    ) -> Result<(), EngineError> {
        let id = review.id;
        let now = self.now();
        if is_break_glass(review) {
            return audit(
                tx,
                note(
                    now,
                    format!("worker:{worker}"),
                    "alert.review_overdue",
                    None,
                    review.grant_id,
                    serde_json::json!({
                        "review": id.to_string(),
                        "subject": review.subject,
                        "due_at": review.due_at,
                    }),
                ),
            )
            .await;
        }
        let decision = silence(review.on_no_answer.as_deref());
        for item in tx.review_items(id).await? {
            if item.decision.is_none() {
                self.record_item(tx, review, &item, decision, NO_ANSWER, None)
                    .await?;
            }
        }
        self.close_if_done(tx, review, NO_ANSWER).await
    }
}
