//! The jobs the worker runs: one [`JobKind`] per kind of scheduled work, a typed
//! [`JobKey`] naming what one job is about, and one module per kind holding its two
//! phases side by side — its *act* step (the target or ITSM call, outside any
//! transaction) and its *apply* step (how the outcome lands, inside the worker's
//! transaction). `Engine::act` and `Engine::apply` are the only dispatchers, and both
//! match every kind.
//!
//! The store keeps a job's kind and key as text and knows no kind names; this module is
//! the one place that turns them into types and back.

mod alert_deliver;
mod alert_scan;
mod alert_ticket;
mod approval_expire;
mod expire;
pub(crate) use expire::EXPIRED;
mod itsm_comment;
mod itsm_poll;
mod itsm_sync;
mod itsm_write;
pub(crate) mod offboard;
pub(crate) mod provision;
mod reconcile;
mod retire;
mod review_due;
mod review_start;
mod revoke;
mod rotate;
pub use review_due::DueStep;

use warden_connect::{ConnectError, Held};
use warden_model::{GrantState, IdentityId, Timestamp};
use warden_store::{
    AccountRecord, GrantId, GrantRecord, GrantTimes, NewAuditEvent, RequestId, ReviewId, Tx,
};

use crate::{Engine, EngineError, audit};

pub use itsm_write::WriteBack;
pub(crate) use provision::Plan;

/// The kinds of scheduled work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Make an approved grant exist on its target.
    Provision,
    /// A grant's `expires_at` has come: remove it from its target and confirm it.
    Expire,
    /// Remove a grant that someone revoked from its target and confirm it.
    Revoke,
    /// A pending request's approval window has lapsed.
    ApprovalExpire,
    /// Mint the next generation of a long-running grant's credential.
    Rotate,
    /// Remove one generation of a grant's account.
    Retire,
    /// Compare one connector's target with the accounts Warden holds there.
    Reconcile,
    /// Re-read one ticket and act on it.
    ItsmSync,
    /// Write one outcome on a request's ticket.
    ItsmWrite,
    /// Post one comment Warden decided to make on a ticket (a refused approval, a ticket
    /// that does not map to a request).
    ItsmComment,
    /// Look for tickets an ITSM's webhooks missed.
    ItsmPoll,
    /// Offboard one identity: revoke its tokens, withdraw its pending requests, revoke its
    /// active grants.
    Offboard,
    /// Start a run of an access-review campaign.
    ReviewStart,
    /// Remind reviewers of a review, or apply its due date.
    ReviewDue,
    /// Read an alert's next audit events and hand the matching ones on for delivery.
    AlertScan,
    /// POST one audit event to an alert's URL.
    AlertDeliver,
    /// Open or comment on a ticket about one audit event through an alert's ITSM.
    AlertTicket,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 17] = [
        JobKind::Provision,
        JobKind::Expire,
        JobKind::Revoke,
        JobKind::ApprovalExpire,
        JobKind::Rotate,
        JobKind::Retire,
        JobKind::Reconcile,
        JobKind::ItsmSync,
        JobKind::ItsmWrite,
        JobKind::ItsmComment,
        JobKind::ItsmPoll,
        JobKind::Offboard,
        JobKind::ReviewStart,
        JobKind::ReviewDue,
        JobKind::AlertScan,
        JobKind::AlertDeliver,
        JobKind::AlertTicket,
    ];

    /// The name stored in the job table.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Provision => "provision",
            JobKind::Expire => "expire",
            JobKind::Revoke => "revoke",
            JobKind::ApprovalExpire => "approval_expire",
            JobKind::Rotate => "rotate",
            JobKind::Retire => "retire",
            JobKind::Reconcile => "reconcile",
            JobKind::ItsmSync => "itsm_sync",
            JobKind::ItsmWrite => "itsm_write",
            JobKind::ItsmComment => "itsm_comment",
            JobKind::ItsmPoll => "itsm_poll",
            JobKind::Offboard => "offboard",
            JobKind::ReviewStart => "review_start",
            JobKind::ReviewDue => "review_due",
            JobKind::AlertScan => "alert_scan",
            JobKind::AlertDeliver => "alert_deliver",
            JobKind::AlertTicket => "alert_ticket",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one job is about: its kind and its typed key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKey {
    /// Provision this grant.
    Provision(GrantId),
    /// Expire this grant.
    Expire(GrantId),
    /// Confirm this grant's revocation.
    Revoke(GrantId),
    /// This request's approval window has lapsed.
    ApprovalExpire(RequestId),
    /// Rotate this grant's credential.
    Rotate(GrantId),
    /// Remove this generation of this grant's account.
    Retire {
        /// The grant.
        grant: GrantId,
        /// The generation.
        generation: u32,
    },
    /// Reconcile this connector.
    Reconcile {
        /// The connector's name.
        connector: String,
    },
    /// Re-read this ticket of this ITSM.
    ItsmSync {
        /// The ITSM's name.
        itsm: String,
        /// The ticket's id in it.
        ticket: String,
    },
    /// Write this outcome on this request's ticket.
    ItsmWrite {
        /// The request.
        request: RequestId,
        /// What to write.
        event: WriteBack,
    },
    /// Post the comment noted under this mark of this ITSM.
    ItsmComment {
        /// The ITSM's name.
        itsm: String,
        /// The mark the comment is noted under.
        mark: String,
    },
    /// Poll this ITSM.
    ItsmPoll {
        /// The ITSM's name.
        itsm: String,
    },
    /// Offboard this identity.
    Offboard(IdentityId),
    /// Start a run of this campaign.
    ReviewStart {
        /// The campaign's id.
        campaign: String,
    },
    /// This step of this review.
    ReviewDue {
        /// The review.
        review: ReviewId,
        /// Its reminder or its due date.
        step: DueStep,
    },
    /// Scan the audit trail for this alert.
    AlertScan {
        /// The alert's name.
        alert: String,
    },
    /// Deliver this audit event to this alert's URL.
    AlertDeliver {
        /// The alert's name.
        alert: String,
        /// The audit event's seq.
        seq: u64,
    },
    /// Tell this alert's ITSM about this audit event.
    AlertTicket {
        /// The alert's name.
        alert: String,
        /// The audit event's seq.
        seq: u64,
    },
}

/// A job whose stored kind or key does not parse.
#[derive(Debug, thiserror::Error)]
pub enum JobKeyError {
    /// No kind has this name.
    #[error("unknown job kind `{0}`")]
    UnknownKind(String),
    /// The key does not have the shape its kind expects.
    #[error("bad key `{key}` for a `{kind}` job")]
    BadKey {
        /// The kind.
        kind: JobKind,
        /// The stored key.
        key: String,
    },
}

impl JobKey {
    /// The kind of job this key belongs to.
    pub fn kind(&self) -> JobKind {
        match self {
            JobKey::Provision(_) => JobKind::Provision,
            JobKey::Expire(_) => JobKind::Expire,
            JobKey::Revoke(_) => JobKind::Revoke,
            JobKey::ApprovalExpire(_) => JobKind::ApprovalExpire,
            JobKey::Rotate(_) => JobKind::Rotate,
            JobKey::Retire { .. } => JobKind::Retire,
            JobKey::Reconcile { .. } => JobKind::Reconcile,
            JobKey::ItsmSync { .. } => JobKind::ItsmSync,
            JobKey::ItsmWrite { .. } => JobKind::ItsmWrite,
            JobKey::ItsmComment { .. } => JobKind::ItsmComment,
            JobKey::ItsmPoll { .. } => JobKind::ItsmPoll,
            JobKey::Offboard(_) => JobKind::Offboard,
            JobKey::ReviewStart { .. } => JobKind::ReviewStart,
            JobKey::ReviewDue { .. } => JobKind::ReviewDue,
            JobKey::AlertScan { .. } => JobKind::AlertScan,
            JobKey::AlertDeliver { .. } => JobKind::AlertDeliver,
            JobKey::AlertTicket { .. } => JobKind::AlertTicket,
        }
    }

    /// The key as stored: a grant, request or identity id; `GRANT:GENERATION`;
    /// `ITSM:TICKET`; `REQUEST:EVENT`; `ITSM:MARK`; `ALERT:SEQ`; a connector's, ITSM's or
    /// alert's name.
    pub fn key(&self) -> String {
        match self {
            JobKey::Provision(g) | JobKey::Expire(g) | JobKey::Revoke(g) | JobKey::Rotate(g) => {
                g.to_string()
            }
            JobKey::ApprovalExpire(r) => r.to_string(),
            JobKey::Retire { grant, generation } => format!("{grant}:{generation}"),
            JobKey::Reconcile { connector } => connector.clone(),
            JobKey::ItsmSync { itsm, ticket } => format!("{itsm}:{ticket}"),
            JobKey::ItsmWrite { request, event } => format!("{request}:{}", event.as_str()),
            JobKey::ItsmComment { itsm, mark } => format!("{itsm}:{mark}"),
            JobKey::ItsmPoll { itsm } => itsm.clone(),
            JobKey::Offboard(id) => id.to_string(),
            JobKey::ReviewStart { campaign } => campaign.clone(),
            JobKey::ReviewDue { review, step } => format!("{review}:{}", step.as_str()),
            JobKey::AlertScan { alert } => alert.clone(),
            JobKey::AlertDeliver { alert, seq } | JobKey::AlertTicket { alert, seq } => {
                format!("{alert}:{seq}")
            }
        }
    }

    /// The key of a stored job of kind `kind` with key `key`.
    pub fn parse(kind: &str, key: &str) -> Result<JobKey, JobKeyError> {
        let kind = JobKind::parse(kind).ok_or_else(|| JobKeyError::UnknownKind(kind.into()))?;
        let bad = || JobKeyError::BadKey {
            kind,
            key: key.to_owned(),
        };
        let grant = |s: &str| s.parse::<GrantId>().map_err(|_| bad());
        // ITSM and alert names never hold a colon; a ticket id or mark may.
        let pair = || key.split_once(':').ok_or_else(bad);
        Ok(match kind {
            JobKind::Provision => JobKey::Provision(grant(key)?),
            JobKind::Expire => JobKey::Expire(grant(key)?),
            JobKind::Revoke => JobKey::Revoke(grant(key)?),
            JobKind::Rotate => JobKey::Rotate(grant(key)?),
            JobKind::ApprovalExpire => JobKey::ApprovalExpire(key.parse().map_err(|_| bad())?),
            JobKind::Retire => {
                let (g, n) = pair()?;
                JobKey::Retire {
                    grant: grant(g)?,
                    generation: n.parse().map_err(|_| bad())?,
                }
            }
            JobKind::Reconcile => JobKey::Reconcile {
                connector: key.to_owned(),
            },
            JobKind::ItsmSync => {
                let (itsm, ticket) = pair()?;
                JobKey::ItsmSync {
                    itsm: itsm.to_owned(),
                    ticket: ticket.to_owned(),
                }
            }
            JobKind::ItsmWrite => {
                let (r, e) = pair()?;
                JobKey::ItsmWrite {
                    request: r.parse().map_err(|_| bad())?,
                    event: WriteBack::parse(e).ok_or_else(bad)?,
                }
            }
            JobKind::ItsmComment => {
                let (itsm, mark) = pair()?;
                JobKey::ItsmComment {
                    itsm: itsm.to_owned(),
                    mark: mark.to_owned(),
                }
            }
            JobKind::ItsmPoll => JobKey::ItsmPoll {
                itsm: key.to_owned(),
            },
            JobKind::Offboard => JobKey::Offboard(IdentityId::parse(key).map_err(|_| bad())?),
            JobKind::ReviewStart => JobKey::ReviewStart {
                campaign: key.to_owned(),
            },
            JobKind::ReviewDue => {
                let (r, step) = pair()?;
                JobKey::ReviewDue {
                    review: r.parse().map_err(|_| bad())?,
                    step: DueStep::parse(step).ok_or_else(bad)?,
                }
            }
            JobKind::AlertScan => JobKey::AlertScan {
                alert: key.to_owned(),
            },
            JobKind::AlertDeliver | JobKind::AlertTicket => {
                let (alert, seq) = pair()?;
                let alert = alert.to_owned();
                let seq = seq.parse().map_err(|_| bad())?;
                if kind == JobKind::AlertDeliver {
                    JobKey::AlertDeliver { alert, seq }
                } else {
                    JobKey::AlertTicket { alert, seq }
                }
            }
        })
    }

    /// The grant the job is about, if it is about one.
    pub fn grant(&self) -> Option<GrantId> {
        match self {
            JobKey::Provision(g)
            | JobKey::Expire(g)
            | JobKey::Revoke(g)
            | JobKey::Rotate(g)
            | JobKey::Retire { grant: g, .. } => Some(*g),
            _ => None,
        }
    }

    /// The alert and audit event an alert's delivery job is about.
    pub(crate) fn alert_event(&self) -> Option<(&str, u64)> {
        match self {
            JobKey::AlertDeliver { alert, seq } | JobKey::AlertTicket { alert, seq } => {
                Some((alert.as_str(), *seq))
            }
            _ => None,
        }
    }

    /// Whether at most one job with this key may be pending: periodic work, which every
    /// server schedules when it starts, and an alert's delivery of one event, which a scan
    /// hands on once.
    fn once(&self) -> bool {
        matches!(
            self,
            JobKey::Reconcile { .. }
                | JobKey::ItsmPoll { .. }
                | JobKey::AlertScan { .. }
                | JobKey::AlertDeliver { .. }
                | JobKey::AlertTicket { .. }
                | JobKey::ReviewStart { .. }
        )
    }
}

/// Schedules the job `key` to run at `at`, inside `tx`. Periodic work and alert deliveries
/// are scheduled only when none with the same key is pending.
pub(crate) async fn schedule(
    tx: &mut Tx,
    key: &JobKey,
    at: Timestamp,
    now: Timestamp,
) -> Result<(), EngineError> {
    let (kind, k) = (key.kind().as_str(), key.key());
    if key.once() {
        tx.schedule_job_once(kind, &k, at, now).await?;
    } else {
        tx.schedule_job(kind, &k, at, now).await?;
    }
    Ok(())
}

/// What a job's act step found, applied in the transaction that finishes the job.
pub(crate) enum Effect {
    /// Nothing was asked of a target (a store-only job, a grant on a system without a
    /// connector, or a grant no longer in the state the job expects).
    Nothing,
    /// A provisioning job's account exists.
    Provisioned(provision::Made),
    /// A grant's subject may not act any more: it must not become active.
    Barred(crate::standing::Barred),
    /// A rotation's new generation exists beside the old one.
    Rotated(rotate::Rotated),
    /// These generations are confirmed gone from the target.
    Removed {
        /// The generations.
        generations: Vec<u32>,
    },
    /// A connector's reconciliation.
    Reconciled(reconcile::Drift),
    /// What a re-read ticket asks of the store.
    Ticket(Box<itsm_sync::TicketStep>),
    /// An ITSM poll: tickets to re-read and the cursor to keep.
    Polled(itsm_poll::Polled),
    /// Identities the active bundle bars and that still hold something.
    Offboard(Vec<IdentityId>),
    /// A campaign's run, planned.
    Campaign(Box<crate::review::CampaignPlan>),
    /// An alert's scan: the events to hand on and the cursor to keep.
    AlertScanned(alert_scan::Scanned),
    /// The target or the ITSM refused or could not be reached.
    Failed(StepFailure),
}

/// Why an act step's call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepFailure {
    /// A connector's target failed.
    #[error(transparent)]
    Target(#[from] ConnectError),
    /// An ITSM failed.
    #[error(transparent)]
    Itsm(#[from] warden_itsm::ItsmError),
    /// The step did not finish in time.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// An alert's receiver did not accept a delivery; always worth retrying until the
    /// alert gives up.
    #[error("alert delivery failed: {0}")]
    Delivery(#[from] warden_alert::DeliveryError),
}

impl StepFailure {
    /// Whether retrying later can help.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            StepFailure::Target(e) => e.is_transient(),
            StepFailure::Itsm(e) => e.is_transient(),
            StepFailure::Timeout(_) | StepFailure::Delivery(_) => true,
        }
    }

    /// How long the other side asked us to wait before calling again (an ITSM's or an
    /// alert receiver's `Retry-After`).
    pub(crate) fn not_before(&self) -> Option<std::time::Duration> {
        match self {
            StepFailure::Itsm(warden_itsm::ItsmError::Transient { retry_after, .. }) => {
                *retry_after
            }
            StepFailure::Delivery(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl Engine {
    /// Runs job `key`'s act step. Store errors are errors; a target's refusal is an
    /// [`Effect::Failed`] for the apply step to retry or report. A provisioning job's
    /// step was planned for the whole batch (`plan`).
    pub(crate) async fn act(
        &self,
        key: &JobKey,
        plan: Option<Plan>,
    ) -> Result<Effect, EngineError> {
        match key {
            JobKey::Provision(_) => match plan {
                Some(plan) => self.act_provision(plan).await,
                None => Err(EngineError::broken(
                    "a provisioning job reached its act step unplanned",
                )),
            },
            JobKey::Expire(g) => self.act_expire(*g).await,
            JobKey::Revoke(g) => self.act_revoke(*g).await,
            JobKey::ApprovalExpire(_) => Ok(Effect::Nothing),
            JobKey::Rotate(g) => self.act_rotate(*g).await,
            JobKey::Retire { grant, generation } => self.act_retire(*grant, *generation).await,
            JobKey::Reconcile { connector } => self.act_reconcile(connector).await,
            JobKey::ItsmSync { itsm, ticket } => self.act_itsm_sync(itsm, ticket).await,
            JobKey::ItsmWrite { request, event } => self.act_itsm_write(*request, *event).await,
            JobKey::ItsmComment { itsm, mark } => self.act_itsm_comment(itsm, mark).await,
            JobKey::ItsmPoll { itsm } => self.act_itsm_poll(itsm).await,
            JobKey::Offboard(id) => self.act_offboard(id).await,
            JobKey::ReviewStart { campaign } => self.act_review_start(campaign).await,
            JobKey::ReviewDue { .. } => Ok(Effect::Nothing),
            JobKey::AlertScan { alert } => self.act_alert_scan(alert).await,
            JobKey::AlertDeliver { alert, seq } => self.act_alert_deliver(alert, *seq).await,
            JobKey::AlertTicket { alert, seq } => self.act_alert_ticket(alert, *seq).await,
        }
    }

    /// Applies job `key`'s outcome inside `tx`; the worker has already completed the job
    /// in the same transaction.
    pub(crate) async fn apply(
        &self,
        tx: &mut Tx,
        key: &JobKey,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        match key {
            JobKey::Provision(g) => self.apply_provision(tx, *g, worker, effect).await,
            JobKey::Expire(g) => self.apply_expire(tx, *g, worker, effect).await,
            JobKey::Revoke(g) => self.confirm_revoked(tx, *g, worker, effect).await,
            JobKey::ApprovalExpire(r) => self.apply_approval_expire(tx, *r, worker).await,
            JobKey::Rotate(g) => self.apply_rotate(tx, *g, worker, effect).await,
            JobKey::Retire { grant, .. } => self.apply_retire(tx, *grant, worker, effect).await,
            JobKey::Reconcile { .. } => self.apply_reconcile(tx, worker, effect).await,
            JobKey::ItsmSync { itsm, ticket } => {
                self.apply_itsm_sync(tx, itsm, ticket, effect).await
            }
            JobKey::ItsmWrite { .. } | JobKey::ItsmComment { .. } => Ok(()),
            JobKey::ItsmPoll { .. } => self.apply_itsm_poll(tx, effect).await,
            JobKey::Offboard(_) => self.apply_offboard(tx, worker, effect).await,
            JobKey::ReviewStart { campaign } => {
                self.apply_review_start(tx, campaign, worker, effect).await
            }
            JobKey::ReviewDue { review, step } => {
                self.apply_review_due(tx, *review, *step, worker).await
            }
            JobKey::AlertScan { .. } => self.apply_alert_scan(tx, effect).await,
            JobKey::AlertDeliver { .. } | JobKey::AlertTicket { .. } => Ok(()),
        }
    }

    /// Moves grant `gid` from `from` to `to`, with the times and audit data `shape`
    /// derives from the grant and the current instant, and audits it as `action`. Returns
    /// what moved, or `None` — changing nothing — when the grant is gone or no longer in
    /// `from` (another path got there first).
    pub(crate) async fn move_grant(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        states: (GrantState, GrantState),
        action: &str,
        shape: impl FnOnce(&GrantRecord, Timestamp) -> (GrantTimes, serde_json::Value),
    ) -> Result<Option<Moved>, EngineError> {
        let Some(grant) = tx.grant(gid).await? else {
            return Ok(None);
        };
        self.move_known_grant(tx, grant, worker, states, action, shape)
            .await
    }

    /// [`Engine::move_grant`] for a grant this transaction has read or just moved. The
    /// move itself is conditional on the stored state: a grant that is no longer in `from`
    /// moves nothing.
    pub(crate) async fn move_known_grant(
        &self,
        tx: &mut Tx,
        grant: GrantRecord,
        worker: &str,
        (from, to): (GrantState, GrantState),
        action: &str,
        shape: impl FnOnce(&GrantRecord, Timestamp) -> (GrantTimes, serde_json::Value),
    ) -> Result<Option<Moved>, EngineError> {
        let gid = grant.id;
        if grant.state != from {
            return Ok(None);
        }
        let now = self.now();
        let (times, data) = shape(&grant, now);
        if !tx.set_grant_state(gid, from, to, times, now).await? {
            return Ok(None);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: format!("worker:{worker}"),
                action: action.into(),
                request_id: Some(grant.request_id),
                grant_id: Some(gid),
                before_state: Some(from.as_str().into()),
                after_state: Some(to.as_str().into()),
                bundle_hash: None,
                data,
            },
        )
        .await?;
        Ok(Some(Moved { grant, now, times }))
    }

    /// Removes `accounts` from their connectors: every generation confirmed gone, or the
    /// first target failure.
    pub(crate) async fn remove_accounts(
        &self,
        accounts: &[AccountRecord],
    ) -> Result<Effect, EngineError> {
        let mut generations = Vec::new();
        for a in accounts {
            let Some(target) = self.connectors().get(&a.connector) else {
                return Ok(Effect::Failed(
                    ConnectError::Permanent(format!(
                        "connector `{}` is not configured",
                        a.connector
                    ))
                    .into(),
                ));
            };
            for held in holds_of(a)? {
                if let Err(e) = target.connector.remove(&held).await {
                    return Ok(Effect::Failed(e.into()));
                }
            }
            generations.push(a.generation);
        }
        Ok(Effect::Removed { generations })
    }
}

/// A grant that [`Engine::move_grant`] moved: as it was before, when, and the times set.
pub(crate) struct Moved {
    pub(crate) grant: GrantRecord,
    pub(crate) now: Timestamp,
    pub(crate) times: GrantTimes,
}

impl Moved {
    /// The grant as the move left it, in state `to`.
    pub(crate) fn after(&self, to: GrantState) -> GrantRecord {
        GrantRecord {
            state: to,
            activated_at: self.times.activated_at.or(self.grant.activated_at),
            expires_at: self.times.expires_at.or(self.grant.expires_at),
            revoked_at: self.times.revoked_at.or(self.grant.revoked_at),
            updated_at: self.now,
            ..self.grant.clone()
        }
    }
}

/// What an account row holds on its target.
pub(crate) fn holds_of(a: &AccountRecord) -> Result<Vec<Held>, EngineError> {
    Ok(serde_json::from_str(&a.holds)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_and_keys_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        let g = GrantId::new();
        let r = RequestId::new();
        let keys = [
            JobKey::Provision(g),
            JobKey::Expire(g),
            JobKey::Revoke(g),
            JobKey::ApprovalExpire(r),
            JobKey::Rotate(g),
            JobKey::Retire {
                grant: g,
                generation: 3,
            },
            JobKey::Reconcile {
                connector: "cache-redis".into(),
            },
            JobKey::ItsmSync {
                itsm: "rt".into(),
                ticket: "ACC:12".into(),
            },
            JobKey::ItsmWrite {
                request: r,
                event: WriteBack::Pending,
            },
            JobKey::ItsmComment {
                itsm: "jira".into(),
                mark: "approval:ACC-1:7".into(),
            },
            JobKey::ItsmPoll { itsm: "sn".into() },
            JobKey::Offboard("alice".parse().unwrap()),
            JobKey::ReviewStart {
                campaign: "nhi-quarterly".into(),
            },
            JobKey::ReviewDue {
                review: ReviewId::new(),
                step: DueStep::Remind,
            },
            JobKey::ReviewDue {
                review: ReviewId::new(),
                step: DueStep::Due,
            },
            JobKey::AlertScan {
                alert: "secops".into(),
            },
            JobKey::AlertDeliver {
                alert: "secops".into(),
                seq: 42,
            },
            JobKey::AlertTicket {
                alert: "sec-rt".into(),
                seq: 7,
            },
        ];
        for key in keys {
            let back = JobKey::parse(key.kind().as_str(), &key.key()).unwrap();
            assert_eq!(back, key);
        }
    }

    #[test]
    fn bad_kinds_and_keys_are_errors() {
        assert!(matches!(
            JobKey::parse("no-such-kind", "x"),
            Err(JobKeyError::UnknownKind(_))
        ));
        assert!(matches!(
            JobKey::parse("expire", "not-a-grant"),
            Err(JobKeyError::BadKey { .. })
        ));
        assert!(matches!(
            JobKey::parse("retire", "nocolon"),
            Err(JobKeyError::BadKey { .. })
        ));
        assert!(matches!(
            JobKey::parse("itsm_write", &format!("{}:bogus", RequestId::new())),
            Err(JobKeyError::BadKey { .. })
        ));
        for bad in ["secops", "secops:x", "secops:-1"] {
            assert!(matches!(
                JobKey::parse("alert_deliver", bad),
                Err(JobKeyError::BadKey { .. })
            ));
        }
    }

    #[test]
    fn an_itsm_failure_is_named_as_one_and_keeps_its_retry_after() {
        let e = StepFailure::Itsm(warden_itsm::ItsmError::Transient {
            message: "HTTP 429".into(),
            retry_after: Some(std::time::Duration::from_secs(7)),
            source: None,
        });
        assert!(e.is_transient());
        assert_eq!(e.not_before(), Some(std::time::Duration::from_secs(7)));
        assert!(e.to_string().contains("ITSM"), "{e}");
        assert!(!e.to_string().contains("target"), "{e}");
        let t = StepFailure::Timeout(std::time::Duration::from_millis(20_000));
        assert!(t.is_transient());
        assert_eq!(t.to_string(), "no answer within 20000 ms");
    }

    #[test]
    fn an_internal_error_says_its_causes() {
        let e = EngineError::from(JobKey::parse("nope", "x").unwrap_err());
        assert_eq!(
            e.describe(),
            "internal error: a stored job does not parse: unknown job kind `nope`"
        );
    }
}
