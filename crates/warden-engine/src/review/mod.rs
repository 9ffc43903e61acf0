//! Reviews: the loop that closes after access is given. A break-glass grant opens a review
//! of itself, and while it is open the emergency path is closed to its subject (and to
//! whoever broke the glass for it). A `[[review]]` campaign asks, every period, whether each
//! grant and non-human identity in its scope is still needed; silence gets the campaign's
//! `on_no_answer`.
//!
//! Who may decide an item is judged when they decide, never when the review opened: the
//! item names its reviewers (groups and identities), the *active* catalog says who is in
//! those groups and who has standing, nobody decides on their own access or on a grant
//! they asked for, and Cedar's `review` action must permit it.

mod answer;
mod open;

pub(crate) use open::CampaignPlan;

use serde::{Deserialize, Serialize};
use warden_model::{GroupId, IdentityId, RoleId, SystemId, Timestamp};
use warden_policy::Catalog;
use warden_store::{AuditEvent, ItemRecord, ReviewId, ReviewKind, ReviewRecord};

use crate::{Engine, EngineError};

/// Who decided an item nobody answered by its due date.
pub const NO_ANSWER: &str = "no_answer";

/// Who may decide an item: members of these groups and these identities, judged by the
/// active catalog when they decide. Stored with the item as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewers {
    /// Groups whose members may decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupId>,
    /// Identities who may decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityId>,
}

impl Reviewers {
    /// Whether `who` is one of them under `catalog`.
    pub(crate) fn admit(&self, catalog: &Catalog, who: &IdentityId) -> bool {
        self.identities.contains(who)
            || catalog
                .identities
                .get(who)
                .is_some_and(|i| self.groups.iter().any(|g| i.groups.contains(g)))
    }

    fn describe(&self) -> String {
        let named = self
            .groups
            .iter()
            .map(|g| format!("group `{g}`"))
            .chain(self.identities.iter().map(|i| format!("`{i}`")));
        named.collect::<Vec<_>>().join(", ")
    }

    pub(crate) fn parse(stored: &str) -> Result<Self, EngineError> {
        Ok(serde_json::from_str(stored)?)
    }
}

/// A reviewer's decision on an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemDecision {
    /// The access is still needed.
    Keep,
    /// It is not: remove it.
    Revoke,
}

impl ItemDecision {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemDecision::Keep => "keep",
            ItemDecision::Revoke => "revoke",
        }
    }
}

/// How a break-glass review closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closing {
    /// The emergency was real and the access fitted it.
    Justified,
    /// It was not: an alert is raised, and a grant still live is revoked.
    Unjustified,
}

impl Closing {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Closing::Justified => "justified",
            Closing::Unjustified => "unjustified",
        }
    }
}

/// A review as callers see it.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewView {
    /// Its id.
    pub id: String,
    /// `break_glass` or `campaign`.
    pub kind: &'static str,
    /// The campaign it is a run of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// `open` or `closed`.
    pub state: &'static str,
    /// Open past its due date.
    pub overdue: bool,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it is due.
    pub due_at: Timestamp,
    /// Whose emergency grant a break-glass review is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<IdentityId>,
    /// That grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// How it closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    /// What they said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// What `on_no_answer` a campaign run applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_no_answer: Option<String>,
    /// Its items (the one-review views only; a reviewer sees the items they may decide).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
    /// A break-glass review's grant's audit events: what was done with the access, with
    /// the target's confirmation of its end (one-review views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

/// An item as callers see it.
#[derive(Clone, Debug, Serialize)]
pub struct ItemView {
    /// Its id.
    pub id: String,
    /// The grant it is about; absent for an identity item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// The grant's subject, or the identity asked about.
    pub identity: IdentityId,
    /// The system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemId>,
    /// The role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleId>,
    /// Who may decide.
    pub reviewers: Reviewers,
    /// `keep` or `revoke`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Who decided (`no_answer` when silence did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// What they said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One audit event of a break-glass review's grant.
#[derive(Clone, Debug, Serialize)]
pub struct EventView {
    /// Its place in the chain.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Its details (what the target reported, for a removal).
    pub data: serde_json::Value,
}

/// Who is looking: the caller's identity, and whether their token reads everything
/// (scopes `admin` and `audit`). Anyone else sees only what they may decide.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The caller.
    pub identity: IdentityId,
    /// Whether they see every review and item.
    pub reads_all: bool,
}

/// The most events a break-glass review shows.
const EVENTS_SHOWN: u32 = 200;

fn view_of(r: &ReviewRecord, now: Timestamp) -> ReviewView {
    ReviewView {
        id: r.id.to_string(),
        kind: r.kind.as_str(),
        campaign: r.campaign.clone(),
        state: if r.open { "open" } else { "closed" },
        overdue: r.open && r.due_at <= now,
        opened_at: r.opened_at,
        due_at: r.due_at,
        subject: r.subject.clone(),
        grant: r.grant_id.map(|g| g.to_string()),
        outcome: r.outcome.clone(),
        closed_at: r.closed_at,
        closed_by: r.closed_by.clone(),
        comment: r.comment.clone(),
        on_no_answer: r.on_no_answer.clone(),
        items: None,
        events: None,
    }
}

fn item_view(i: &ItemRecord) -> Result<ItemView, EngineError> {
    Ok(ItemView {
        id: i.id.to_string(),
        grant: i.grant_id.map(|g| g.to_string()),
        identity: i.identity.clone(),
        system: i.system.clone(),
        role: i.role.clone(),
        reviewers: Reviewers::parse(&i.reviewers)?,
        decision: i.decision.clone(),
        decided_by: i.decided_by.clone(),
        decided_at: i.decided_at,
        comment: i.comment.clone(),
    })
}

fn event_view(e: AuditEvent) -> EventView {
    EventView {
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        action: e.action,
        data: e.data,
    }
}

impl Engine {
    /// Reviews, newest first (only open ones when `open_only`): all of them for a viewer
    /// who reads everything, otherwise those with an item the viewer may be asked to
    /// decide.
    pub async fn reviews(
        &self,
        viewer: &Viewer,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<ReviewView>, EngineError> {
        let now = self.now();
        let mut out = Vec::new();
        for r in self.store().reviews(open_only, limit).await? {
            if viewer.reads_all || !self.visible_items(viewer, r.id).await?.is_empty() {
                out.push(view_of(&r, now));
            }
        }
        Ok(out)
    }

    /// Review `id` with its items (and, for a break-glass review, its grant's audit
    /// events). A viewer who does not read everything sees only the items they are a
    /// reviewer of; a review with none of those does not exist for them.
    pub async fn review_for(&self, viewer: &Viewer, id: &str) -> Result<ReviewView, EngineError> {
        let r = self.review_record(id).await?;
        let items = if viewer.reads_all {
            self.store().review_items(r.id).await?
        } else {
            self.visible_items(viewer, r.id).await?
        };
        if items.is_empty() && !viewer.reads_all {
            return Err(not_found(id));
        }
        let mut view = view_of(&r, self.now());
        view.items = Some(items.iter().map(item_view).collect::<Result<_, _>>()?);
        if let Some(g) = r.grant_id {
            let events = self.store().audit_of_grant(g, EVENTS_SHOWN).await?;
            view.events = Some(events.into_iter().map(event_view).collect());
        }
        Ok(view)
    }

    /// The items of review `id` that `viewer` is named a reviewer of (under the active
    /// catalog), their own access left out.
    async fn visible_items(
        &self,
        viewer: &Viewer,
        id: ReviewId,
    ) -> Result<Vec<ItemRecord>, EngineError> {
        let current = self.bundle();
        let mut out = Vec::new();
        for i in self.store().review_items(id).await? {
            if i.identity != viewer.identity
                && Reviewers::parse(&i.reviewers)?.admit(&current.catalog, &viewer.identity)
            {
                out.push(i);
            }
        }
        Ok(out)
    }

    pub(crate) async fn review_record(&self, id: &str) -> Result<ReviewRecord, EngineError> {
        let rid: ReviewId = id.parse().map_err(|_| not_found(id))?;
        self.store().review(rid).await?.ok_or_else(|| not_found(id))
    }

    /// The open break-glass reviews that close the emergency path to `request`: those of
    /// its requester and of its subject. Read only for emergency requests.
    pub(crate) async fn open_reviews_for(
        &self,
        request: &warden_model::Request,
    ) -> Result<Vec<warden_model::OpenReview>, EngineError> {
        if !request.emergency {
            return Ok(Vec::new());
        }
        let open = self
            .store()
            .open_break_glass_reviews(&[&request.requester, request.subject()])
            .await?;
        Ok(open
            .into_iter()
            .map(|(id, subject)| warden_model::OpenReview {
                id: id.to_string(),
                subject,
            })
            .collect())
    }
}

fn not_found(id: &str) -> EngineError {
    EngineError::NotFound(format!("no review `{id}`"))
}

/// Whether a review is one of an emergency grant.
pub(crate) fn is_break_glass(r: &ReviewRecord) -> bool {
    r.kind == ReviewKind::BreakGlass
}
