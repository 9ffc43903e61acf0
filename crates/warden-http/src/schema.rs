//! The JSON shapes of the API (DESIGN §5). Each response type here is what handlers
//! serialise, and derives its OpenAPI schema; types from other crates are described by the
//! `…Doc` mirrors below, which tests keep in step with the real serialisation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_engine::trail::{AuditEvent, AuditReport};
use warden_engine::{ApprovalView, GrantView, RequestView};
use warden_model::{
    Decision, Duration, GrantState, IdentityId, Request, RequestState, SystemId, Timestamp,
};

/// An error, as every failed call answers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable word: `not_found`, `forbidden`, `invalid_request`, …
    pub code: String,
    /// What is wrong, for people; for 5xx a generic text.
    pub message: String,
}

/// The answer of `GET /healthz`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
}

/// The answer of `GET /v1/bundle`: the bundle that decides now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ActiveBundleDoc {
    /// Its hash, as every decision names it.
    pub hash: String,
    /// When it became active (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub activated_at: Timestamp,
}

/// A grant as callers see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Grant {
    /// Its id.
    pub id: String,
    /// Where it stands.
    #[schema(value_type = GrantStateDoc)]
    pub state: GrantState,
    /// The role granted.
    pub role: String,
    /// The system it is on.
    pub system: String,
    /// Who holds it.
    pub subject: String,
    /// How long it lasts once active, in seconds.
    pub duration_seconds: u64,
    /// When it became active (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub activated_at: Option<Timestamp>,
    /// When it ends (RFC 3339); set when it becomes active, never extended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// When the target confirmed its removal (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl From<GrantView> for Grant {
    fn from(g: GrantView) -> Self {
        Self {
            id: g.id,
            state: g.state,
            role: g.role.to_string(),
            system: g.system.to_string(),
            subject: g.subject.to_string(),
            duration_seconds: g.duration_seconds,
            activated_at: g.activated_at,
            expires_at: g.expires_at,
            revoked_at: g.revoked_at,
        }
    }
}

/// The answer of intake: 201 when created, 200 for a known `(source, ticket)`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestSummary {
    /// The request's id.
    pub id: String,
    /// Where it stands.
    #[schema(value_type = RequestStateDoc)]
    pub state: RequestState,
    /// The decision taken on it.
    #[schema(value_type = DecisionDoc)]
    pub decision: Decision,
    /// The grant, when the request is approved.
    #[schema(value_type = Option<Grant>)]
    pub grant: Option<Grant>,
}

impl From<RequestView> for RequestSummary {
    fn from(v: RequestView) -> Self {
        Self {
            id: v.id,
            state: v.state,
            decision: v.decision,
            grant: v.grant.map(Grant::from),
        }
    }
}

/// One approver's answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Approval {
    /// Who answered.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// When (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl From<ApprovalView> for Approval {
    fn from(a: ApprovalView) -> Self {
        Self {
            approver: a.approver.to_string(),
            decision: a.decision,
            at: a.at,
        }
    }
}

/// A request with its decision, approvals and grant.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestDetail {
    /// Its id.
    pub id: String,
    /// Where it stands.
    #[schema(value_type = RequestStateDoc)]
    pub state: RequestState,
    /// The ITSM (or `api`) it came from.
    pub source: String,
    /// The ITSM's id for it.
    pub ticket: String,
    /// The request as received.
    #[schema(value_type = RequestDoc)]
    pub request: Request,
    /// The decision taken on it.
    #[schema(value_type = DecisionDoc)]
    pub decision: Decision,
    /// When the decision was taken (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: Timestamp,
    /// When a pending request lapses (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub approval_expires_at: Option<Timestamp>,
    /// Answers from approvers, oldest first.
    pub approvals: Vec<Approval>,
    /// The grant, once approved.
    #[schema(value_type = Option<Grant>)]
    pub grant: Option<Grant>,
}

impl From<RequestView> for RequestDetail {
    fn from(v: RequestView) -> Self {
        Self {
            id: v.id,
            state: v.state,
            source: v.source,
            ticket: v.ticket,
            request: v.request,
            decision: v.decision,
            decided_at: v.decided_at,
            approval_expires_at: v.approval_expires_at,
            approvals: v.approvals.into_iter().map(Approval::from).collect(),
            grant: v.grant.map(Grant::from),
        }
    }
}

/// The optional body of `POST /v1/grants/{id}/revoke`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why the grant is revoked; recorded in the audit trail.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One event of the hash-chained audit trail.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Its position in the chain.
    pub seq: u64,
    /// When it happened (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who did it.
    pub actor: String,
    /// What happened, e.g. `request.decided`.
    pub action: String,
    /// The request concerned.
    pub request_id: Option<String>,
    /// The grant concerned.
    pub grant_id: Option<String>,
    /// The state before.
    pub before_state: Option<String>,
    /// The state after.
    pub after_state: Option<String>,
    /// The hash of the bundle that decided.
    pub bundle_hash: Option<String>,
    /// Details of the event.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl From<AuditEvent> for AuditEntry {
    fn from(e: AuditEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            request_id: e.request_id.map(|r| r.to_string()),
            grant_id: e.grant_id.map(|g| g.to_string()),
            before_state: e.before_state,
            after_state: e.after_state,
            bundle_hash: e.bundle_hash,
            data: e.data,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// The answer of `GET /v1/audit/verify`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// Whether the whole chain is sound.
    pub ok: bool,
    /// How many events were checked and found sound.
    pub checked: u64,
    /// The first broken event, if any.
    pub first_broken: Option<BrokenEvent>,
}

/// Where the audit chain breaks.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BrokenEvent {
    /// The first seq at which the chain is wrong.
    pub seq: u64,
    /// What is wrong there.
    pub reason: String,
}

impl From<AuditReport> for AuditVerification {
    fn from(r: AuditReport) -> Self {
        Self {
            ok: r.first_broken.is_none(),
            checked: r.checked,
            first_broken: r.first_broken.map(|b| BrokenEvent {
                seq: b.seq,
                reason: b.reason,
            }),
        }
    }
}

// --- descriptions of types owned by other crates -----------------------------------------

/// Where a request stands.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStateDoc {
    /// Taken in, not yet decided.
    Requested,
    /// Waiting for approvals.
    ApprovalRequired,
    /// Approved; a grant exists.
    Approved,
    /// Denied or rejected.
    Denied,
    /// The approval window lapsed.
    Expired,
    /// Its requester or subject was offboarded before it was answered.
    Withdrawn,
}

/// Where a grant stands.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStateDoc {
    /// Being created on the target.
    Provisioning,
    /// Exists on the target; its clock runs.
    Active,
    /// Being removed; until the target confirms.
    Revoking,
    /// Removal confirmed.
    Revoked,
    /// Provisioning failed for good.
    Failed,
}

/// An access request (DESIGN §3.1). Unknown fields are refused; one of `role`, `needs` or
/// `task` is required.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestDoc {
    /// The ITSM the request came from; `api` when absent.
    pub source: Option<String>,
    /// The ITSM's ticket id; with `source`, the key that makes intake idempotent.
    pub ticket: Option<String>,
    /// Who asks.
    pub requester: String,
    /// Who receives the access; the requester when absent.
    pub subject: Option<String>,
    /// The system; required when only `needs` is given.
    pub system: Option<String>,
    /// The role asked for.
    pub role: Option<String>,
    /// The permissions needed; the smallest covering role is chosen.
    pub needs: Option<Vec<String>>,
    /// A catalog task naming system and needs.
    pub task: Option<String>,
    /// Why; 1 to 2,000 characters.
    pub purpose: String,
    /// How long, e.g. `4h`, `1d` or `PT4H`.
    pub duration: Option<String>,
    /// Break glass.
    #[schema(default = false)]
    pub emergency: Option<bool>,
    /// When the requester asked (RFC 3339).
    #[schema(format = DateTime)]
    pub requested_at: Option<String>,
}

/// A decision: the outcome, the right-sized role and duration, the approvals needed, and
/// the reasons, with the ids of the policies that decided.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DecisionDoc {
    /// `grant`, `approval_required` or `deny`.
    pub outcome: OutcomeDoc,
    /// The role chosen.
    pub role: Option<String>,
    /// Its system.
    pub system: Option<String>,
    /// The permissions the role carries.
    pub permissions: Vec<String>,
    /// How long the grant lasts once active.
    pub duration_seconds: Option<u64>,
    /// Approval steps still to be filled.
    pub approvals: Vec<ApprovalStepDoc>,
    /// The second check (`provision` authorization) on sensitive systems.
    pub second_check: SecondCheckDoc,
    /// Whether this is a break-glass grant.
    pub break_glass: bool,
    /// Why, in order.
    pub reasons: Vec<ReasonDoc>,
    /// The hash of the bundle that decided.
    pub bundle_hash: String,
    /// The hash of the decision's inputs.
    pub input_hash: String,
}

/// A decision's outcome.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeDoc {
    /// Granted outright.
    Grant,
    /// Granted once approved.
    ApprovalRequired,
    /// Denied.
    Deny,
}

/// One approval step: `count` approvers from the groups or identities, never the excluded.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalStepDoc {
    /// How many approvers.
    pub count: u32,
    /// Groups they may come from.
    pub from_groups: Vec<String>,
    /// Identities who may approve by name.
    pub from_identities: Option<Vec<String>>,
    /// Who may never approve.
    pub excluded: Vec<String>,
}

/// The second check.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SecondCheckDoc {
    /// Whether it applies.
    pub required: bool,
    /// Whether it passed.
    pub passed: bool,
}

/// One reason of a decision.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReasonDoc {
    /// A reason code, e.g. `duration_clamped`.
    pub code: String,
    /// Details.
    pub message: Option<String>,
    /// The policy that decided, when one did.
    pub policy_id: Option<String>,
}

/// A minted credential, answered once by `GET /v1/grants/{id}/credential`.
#[derive(Clone, Serialize, ToSchema)]
pub struct CredentialBody {
    /// The account name on the target.
    pub username: String,
    /// The password; shown this once and kept nowhere in plaintext.
    pub password: String,
    /// When the grant, and the account, end (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for CredentialBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialBody")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// The body of `POST /v1/revocations`: which grants to revoke (every given criterion must
/// match; at least one of `identity`, `system`, `ticket`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationBody {
    /// Everything this identity holds (offboarding).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub identity: Option<IdentityId>,
    /// Everything on this system (an incident).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub system: Option<SystemId>,
    /// What this ticket gave; `source` says which ITSM (default `api`).
    #[serde(default)]
    pub ticket: Option<String>,
    /// The ticket's source.
    #[serde(default)]
    pub source: Option<String>,
    /// Why; recorded in the audit trail.
    #[serde(default)]
    pub reason: Option<String>,
    /// How long to wait for the targets to confirm before answering (`30s`; at most
    /// `5m`; default: answer at once).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub wait: Option<Duration>,
}

/// The answer of `POST /v1/revocations`: each matching grant as it stands.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RevocationReport {
    /// Grants matched; `revoked` ones are confirmed gone on their target.
    pub grants: Vec<Grant>,
    /// How many are confirmed revoked.
    pub confirmed: usize,
}

/// What every workload answer says of its request.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkloadRequest {
    /// The request's id.
    pub request: String,
    /// Where it stands.
    #[schema(value_type = RequestStateDoc)]
    pub state: RequestState,
    /// The decision taken on it.
    #[schema(value_type = DecisionDoc)]
    pub decision: Decision,
    /// The grant, once approved.
    #[schema(value_type = Option<Grant>)]
    pub grant: Option<Grant>,
}

impl From<RequestView> for WorkloadRequest {
    fn from(v: RequestView) -> Self {
        let s = RequestSummary::from(v);
        Self {
            request: s.id,
            state: s.state,
            decision: s.decision,
            grant: s.grant,
        }
    }
}

/// `201`/`200` of the workload endpoints: the request and the credential, shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkloadIssued {
    /// The request.
    #[serde(flatten)]
    pub request: WorkloadRequest,
    /// The credential, kept nowhere in plaintext; `null` on a system Warden only records.
    pub credential: Option<CredentialBody>,
}

/// `202` of the workload endpoints: nothing to hand out yet.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkloadPending {
    /// The request.
    #[serde(flatten)]
    pub request: WorkloadRequest,
    /// Where a fresh token of the same workload fetches the credential, once.
    pub credential_url: String,
}

/// `403` of the workload endpoints: denied, with the decision that says why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkloadDenied {
    /// `denied`, and a sentence.
    pub error: ErrorDetail,
    /// The request.
    #[serde(flatten)]
    pub request: WorkloadRequest,
}

/// The body of `POST /v1/reviews/{id}/items/{item}/decide`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// `keep` or `revoke`.
    #[schema(value_type = String, example = "revoke")]
    pub decision: warden_engine::review::ItemDecision,
    /// Why; recorded in the audit trail.
    #[serde(default)]
    pub comment: Option<String>,
}

/// The body of `POST /v1/reviews/{id}/close`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// `justified` or `unjustified`.
    #[schema(value_type = String, example = "justified")]
    pub outcome: warden_engine::review::Closing,
    /// Why; recorded in the audit trail.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A review (`docs/reviews.md`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReviewDoc {
    /// Its id.
    pub id: String,
    /// `break_glass` or `campaign`.
    pub kind: String,
    /// The campaign it is a run of.
    pub campaign: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Open past its due date.
    pub overdue: bool,
    /// When it opened (RFC 3339).
    pub opened_at: String,
    /// When it is due (RFC 3339).
    pub due_at: String,
    /// Whose emergency grant a break-glass review is about.
    pub subject: Option<String>,
    /// That grant's id.
    pub grant: Option<String>,
    /// `justified`, `unjustified` or `completed`, once closed.
    pub outcome: Option<String>,
    /// When it closed.
    pub closed_at: Option<String>,
    /// Who closed it (`no_answer` when its due date did).
    pub closed_by: Option<String>,
    /// What they said.
    pub comment: Option<String>,
    /// A campaign run's `on_no_answer`.
    pub on_no_answer: Option<String>,
    /// Its items (one-review reads only).
    pub items: Option<Vec<ReviewItemDoc>>,
    /// A break-glass review's grant's audit events (one-review reads only).
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Option<Vec<serde_json::Value>>,
}

/// One item of a review.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReviewItemDoc {
    /// Its id.
    pub id: String,
    /// The grant; absent for an identity item ("is this identity still needed?").
    pub grant: Option<String>,
    /// The grant's subject, or the identity asked about.
    pub identity: String,
    /// The system.
    pub system: Option<String>,
    /// The role.
    pub role: Option<String>,
    /// Who may decide: `{ groups?, identities? }`.
    #[schema(value_type = Object)]
    pub reviewers: serde_json::Value,
    /// `keep` or `revoke`, once decided.
    pub decision: Option<String>,
    /// Who decided (`no_answer` when silence did).
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
    /// What they said.
    pub comment: Option<String>,
}
