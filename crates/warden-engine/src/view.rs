//! What the engine shows callers: requests with their decision, approvals and grant.

use serde::{Deserialize, Serialize};
use warden_model::{
    ActiveGrant, Decision, GrantState, IdentityId, Request, RequestState, RoleId, SystemId,
    Timestamp,
};
use warden_store::{Approval, GrantRecord, RequestRecord};

use crate::EngineError;

/// The decision inputs kept with a stored request, so the decision can be replayed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredInput {
    /// The request as received.
    pub request: Request,
    /// The subject's active grants at the decision instant.
    pub active_grants: Vec<ActiveGrant>,
    /// For an emergency request, the break-glass reviews open for its requester or
    /// subject at the decision instant (absent when none, as in every older request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_reviews: Vec<warden_model::OpenReview>,
}

/// A grant as callers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    /// Its id.
    pub id: String,
    /// Where it stands.
    pub state: GrantState,
    /// What.
    pub role: RoleId,
    /// Where.
    pub system: SystemId,
    /// Who holds it.
    pub subject: IdentityId,
    /// How long it lasts once active.
    pub duration_seconds: u64,
    /// When it became active.
    pub activated_at: Option<Timestamp>,
    /// When it ends.
    pub expires_at: Option<Timestamp>,
    /// When the target confirmed its removal.
    pub revoked_at: Option<Timestamp>,
}

impl From<&GrantRecord> for GrantView {
    fn from(g: &GrantRecord) -> Self {
        Self {
            id: g.id.to_string(),
            state: g.state,
            role: g.role.clone(),
            system: g.system.clone(),
            subject: g.subject.clone(),
            duration_seconds: g.duration.seconds(),
            activated_at: g.activated_at,
            expires_at: g.expires_at,
            revoked_at: g.revoked_at,
        }
    }
}

/// One recorded answer from an approver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// Who answered.
    pub approver: IdentityId,
    /// `approve` or `reject`.
    pub decision: String,
    /// When.
    pub at: Timestamp,
    /// What they said with it, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl From<&Approval> for ApprovalView {
    fn from(a: &Approval) -> Self {
        Self {
            approver: a.approver.clone(),
            decision: a.decision.as_str().to_owned(),
            at: a.at,
            comment: a.comment.clone(),
        }
    }
}

/// A request with everything known about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    /// Its id.
    pub id: String,
    /// Where it stands.
    pub state: RequestState,
    /// The ITSM (or `api`) it came from.
    pub source: String,
    /// The ITSM's id for it.
    pub ticket: String,
    /// The request as received.
    pub request: Request,
    /// The decision taken on it.
    pub decision: Decision,
    /// When the decision was taken.
    pub decided_at: Timestamp,
    /// When a pending request lapses.
    pub approval_expires_at: Option<Timestamp>,
    /// Answers from approvers, oldest first.
    pub approvals: Vec<ApprovalView>,
    /// The grant, once approved.
    pub grant: Option<GrantView>,
}

impl RequestView {
    /// Builds the view from stored records.
    pub fn build(
        r: &RequestRecord,
        approvals: &[Approval],
        grant: Option<&GrantRecord>,
    ) -> Result<Self, EngineError> {
        let input: StoredInput = serde_json::from_value(r.request.clone())?;
        let decision: Decision = serde_json::from_value(r.decision.clone())?;
        Ok(Self {
            id: r.id.to_string(),
            state: r.state,
            source: r.source.clone(),
            ticket: r.ticket.clone(),
            request: input.request,
            decision,
            decided_at: r.decided_at,
            approval_expires_at: r.approval_expires_at,
            approvals: approvals.iter().map(ApprovalView::from).collect(),
            grant: grant.map(GrantView::from),
        })
    }
}
