//! Opening reviews: a break-glass grant's, inside the transaction that creates the grant,
//! and a campaign's run — planned from store reads and the active catalog, then written in
//! one transaction with its audit event and its reminder, due-date and next-run jobs.

use warden_model::{Decision, IdentityId, IdentityKind, NoAnswer, ReviewCampaign, Timestamp};
use warden_policy::Catalog;
use warden_store::{
    GrantId, GrantRecord, ItemId, ItemRecord, RequestRecord, ReviewId, ReviewKind, ReviewRecord, Tx,
};

use super::{ReviewView, Reviewers, view_of};
use crate::job::{DueStep, JobKey, schedule};
use crate::{Engine, EngineError, audit, note};

/// A campaign's run, planned and not yet written.
pub(crate) struct CampaignPlan {
    pub(crate) campaign: ReviewCampaign,
    pub(crate) items: Vec<PlannedItem>,
}

/// One item of a planned run.
pub(crate) struct PlannedItem {
    grant: Option<GrantId>,
    identity: IdentityId,
    system: warden_model::SystemId,
    role: warden_model::RoleId,
    reviewers: Reviewers,
}

/// Who reviews access on `system` for `subject` under `rule`: the named groups, or the
/// system's owner group and, for a non-human subject, its owner.
fn reviewers_of(
    catalog: &Catalog,
    rule: &warden_model::Reviewers,
    system: &warden_model::SystemId,
    subject: &IdentityId,
) -> Reviewers {
    match rule {
        warden_model::Reviewers::Groups(groups) => Reviewers {
            groups: groups.clone(),
            identities: Vec::new(),
        },
        warden_model::Reviewers::Owner => Reviewers {
            groups: catalog
                .systems
                .get(system)
                .map(|s| vec![s.owner.clone()])
                .unwrap_or_default(),
            identities: catalog
                .identities
                .get(subject)
                .and_then(|i| i.owner.clone())
                .into_iter()
                .collect(),
        },
    }
}

fn is_nhi(kind: IdentityKind) -> bool {
    matches!(kind, IdentityKind::Service | IdentityKind::Workload)
}

impl Engine {
    /// Opens the review of break-glass grant `grant` inside `tx`, due `[break_glass]
    /// review_within` after now (as the bundle that decided says), assigned to the owner
    /// group of the grant's system — never to its subject, whom the item names.
    pub(crate) async fn open_break_glass_review(
        &self,
        tx: &mut Tx,
        record: &RequestRecord,
        decision: &Decision,
        grant: GrantId,
        actor: &str,
    ) -> Result<(), EngineError> {
        let (Some(system), Some(role)) = (&decision.system, &decision.role) else {
            return Err(EngineError::broken(
                "an emergency grant lacks system or role",
            ));
        };
        let decided = self.bundle_by_hash(&decision.bundle_hash).await?;
        let Some(within) = decided.catalog.break_glass.map(|b| b.review_within) else {
            return Err(EngineError::broken(
                "an emergency grant was decided without `[break_glass]`",
            ));
        };
        let owners = decided
            .catalog
            .systems
            .get(system)
            .map(|s| vec![s.owner.clone()])
            .unwrap_or_default();
        let now = self.now();
        let review = ReviewRecord {
            id: ReviewId::new(),
            kind: ReviewKind::BreakGlass,
            campaign: None,
            open: true,
            subject: Some(record.subject.clone()),
            grant_id: Some(grant),
            opened_at: now,
            due_at: now.plus(within),
            closed_at: None,
            outcome: None,
            closed_by: None,
            comment: None,
            on_no_answer: None,
        };
        let item = PlannedItem {
            grant: Some(grant),
            identity: record.subject.clone(),
            system: system.clone(),
            role: role.clone(),
            reviewers: Reviewers {
                groups: owners,
                identities: Vec::new(),
            },
        };
        self.write_review(tx, &review, &[item], actor).await
    }

    /// Plans a run of campaign `id` of the active bundle: one item per active grant in its
    /// scope, and one per non-human identity in scope that has held a grant on a system
    /// in scope (asked about with the role of its latest one). Store reads only.
    pub(crate) async fn plan_campaign(&self, id: &str) -> Result<CampaignPlan, EngineError> {
        let bundle = self.bundle();
        let catalog = &bundle.catalog;
        let Some(campaign) = catalog.reviews.iter().find(|c| c.id == id).cloned() else {
            return Err(EngineError::NotFound(format!(
                "the active bundle has no `[[review]]` with id `{id}`"
            )));
        };
        let scope = &campaign.scope;
        let systems: Vec<_> = catalog
            .systems
            .keys()
            .filter(|s| scope.has_system(s))
            .cloned()
            .collect();
        let kind_of = |who: &IdentityId| catalog.identities.get(who).map(|i| i.kind);
        let mut items = Vec::new();
        for system in &systems {
            for g in self.store().active_grants_of_system(system).await? {
                let in_scope = kind_of(&g.subject).is_some_and(|k| scope.has_kind(k))
                    && scope.min_duration.is_none_or(|min| g.duration >= min);
                if in_scope {
                    items.push(grant_item(catalog, &campaign, &g));
                }
            }
        }
        for identity in catalog.identities.values() {
            if !is_nhi(identity.kind) || !scope.has_kind(identity.kind) {
                continue;
            }
            let mut latest: Option<GrantRecord> = None;
            for system in &systems {
                if let Some(g) = self.store().latest_grant_on(&identity.id, system).await?
                    && latest.as_ref().is_none_or(|l| g.created_at > l.created_at)
                {
                    latest = Some(g);
                }
            }
            if let Some(g) = latest {
                items.push(PlannedItem {
                    grant: None,
                    identity: identity.id.clone(),
                    reviewers: reviewers_of(catalog, &campaign.reviewers, &g.system, &g.subject),
                    system: g.system,
                    role: g.role,
                });
            }
        }
        Ok(CampaignPlan { campaign, items })
    }

    /// Writes a planned run inside `tx`: the review, its items, `review.started`, its
    /// reminder and due-date jobs, and the campaign's next run.
    pub(crate) async fn open_campaign(
        &self,
        tx: &mut Tx,
        plan: &CampaignPlan,
        actor: &str,
    ) -> Result<ReviewId, EngineError> {
        let now = self.now();
        let c = &plan.campaign;
        let review = ReviewRecord {
            id: ReviewId::new(),
            kind: ReviewKind::Campaign,
            campaign: Some(c.id.clone()),
            open: true,
            subject: None,
            grant_id: None,
            opened_at: now,
            due_at: now.plus(c.due_within),
            closed_at: None,
            outcome: None,
            closed_by: None,
            comment: None,
            on_no_answer: Some(c.on_no_answer.as_str().to_owned()),
        };
        self.write_review(tx, &review, &plan.items, actor).await?;
        let next = JobKey::ReviewStart {
            campaign: c.id.clone(),
        };
        schedule(tx, &next, now.plus(c.every), now).await?;
        Ok(review.id)
    }

    /// Starts a run of campaign `id` now (`warden review start`).
    pub async fn start_campaign(&self, id: &str, actor: &str) -> Result<ReviewView, EngineError> {
        let plan = self.plan_campaign(id).await?;
        let mut tx = self.store().begin().await?;
        let rid = self.open_campaign(&mut tx, &plan, actor).await?;
        tx.commit().await?;
        let r = self
            .store()
            .review(rid)
            .await?
            .ok_or_else(|| EngineError::broken("a review just opened vanished"))?;
        Ok(view_of(&r, self.now()))
    }

    /// Schedules the next run of every campaign of the active bundle that has none
    /// pending: one period after its last run, or one period from now if it never ran.
    pub async fn schedule_campaigns(&self) -> Result<(), EngineError> {
        let now = self.now();
        let bundle = self.bundle();
        let mut tx = self.store().begin().await?;
        for c in &bundle.catalog.reviews {
            let last = self.store().last_campaign_start(&c.id).await?;
            let at = last.unwrap_or(now).plus(c.every);
            let key = JobKey::ReviewStart {
                campaign: c.id.clone(),
            };
            schedule(&mut tx, &key, at, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn write_review(
        &self,
        tx: &mut Tx,
        review: &ReviewRecord,
        items: &[PlannedItem],
        actor: &str,
    ) -> Result<(), EngineError> {
        tx.insert_review(review).await?;
        for i in items {
            tx.insert_review_item(&ItemRecord {
                review_id: review.id,
                id: ItemId::new(),
                grant_id: i.grant,
                identity: i.identity.clone(),
                system: Some(i.system.clone()),
                role: Some(i.role.clone()),
                reviewers: serde_json::to_string(&i.reviewers)?,
                decision: None,
                decided_by: None,
                decided_at: None,
                comment: None,
            })
            .await?;
        }
        let now = review.opened_at;
        audit(
            tx,
            note(
                now,
                actor.to_owned(),
                "review.opened",
                None,
                review.grant_id,
                serde_json::json!({
                    "review": review.id.to_string(),
                    "kind": review.kind.as_str(),
                    "campaign": review.campaign,
                    "subject": review.subject,
                    "due_at": review.due_at,
                    "items": items.len(),
                    "reviewers": items.first().map(|i| &i.reviewers),
                }),
            ),
        )
        .await?;
        // A reminder when three quarters of the time has gone, then the due date.
        let window = review.due_at.unix_millis() - now.unix_millis();
        let remind = Timestamp::from_unix_millis(now.unix_millis() + window / 4 * 3)
            .unwrap_or(review.due_at);
        let (id, due) = (review.id, review.due_at);
        schedule(
            tx,
            &JobKey::ReviewDue {
                review: id,
                step: DueStep::Remind,
            },
            remind,
            now,
        )
        .await?;
        schedule(
            tx,
            &JobKey::ReviewDue {
                review: id,
                step: DueStep::Due,
            },
            due,
            now,
        )
        .await?;
        Ok(())
    }
}

fn grant_item(catalog: &Catalog, campaign: &ReviewCampaign, g: &GrantRecord) -> PlannedItem {
    PlannedItem {
        grant: Some(g.id),
        identity: g.subject.clone(),
        system: g.system.clone(),
        role: g.role.clone(),
        reviewers: reviewers_of(catalog, &campaign.reviewers, &g.system, &g.subject),
    }
}

/// What silence decides.
pub(crate) fn silence(on_no_answer: Option<&str>) -> super::ItemDecision {
    match on_no_answer {
        Some(s) if s == NoAnswer::Keep.as_str() => super::ItemDecision::Keep,
        // A run whose rule is missing or unreadable revokes: silence never widens.
        _ => super::ItemDecision::Revoke,
    }
}
