//! The ITSM as the front door: verified webhooks queue a re-read of the ticket; the re-read
//! ticket is mapped to a request and taken in (idempotent on `(adapter, ticket)`); approvals
//! recorded on the ticket count only through Warden's own rules; closing the ticket can
//! revoke its grant; every outcome is written back from durable jobs that never block or
//! undo a decision; a poller catches tickets whose webhooks were lost.
//!
//! Nothing from a webhook payload is trusted but the ticket id.

use std::collections::HashMap;
use std::sync::Arc;

use warden_connect::ConnectError;
/// A webhook delivery's headers, as [`Engine::itsm_webhook`] reads them.
pub use warden_itsm::Headers;
use warden_itsm::writeback;
use warden_itsm::{
    Adapter, ApprovalDecision as TicketDecision, IdentityMatch, ItsmConfig, ItsmError, Verifier,
};
use warden_model::{GrantState, IdentityId, RequestState, Timestamp};
use warden_store::{ApprovalDecision, Job, RequestId, RequestRecord, Tx};

use crate::intake::Intake;
use crate::step::Effect;
use crate::{Engine, EngineError, job_kind};

/// One configured ITSM.
#[derive(Clone)]
pub struct ItsmInstance {
    /// Its API client.
    pub adapter: Arc<dyn Adapter>,
    /// Its webhook verifier.
    pub verifier: Arc<Verifier>,
    /// Its settings (field mapping, approval field, closure, polling).
    pub config: Arc<ItsmConfig>,
}

/// ITSM instances by name (`[[itsm]] name`, the requests' `source`).
#[derive(Clone, Default)]
pub struct Itsms(Arc<HashMap<String, ItsmInstance>>);

impl std::fmt::Debug for Itsms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_list().entries(names).finish()
    }
}

impl Itsms {
    /// The instances in `by_name`.
    pub fn new(by_name: HashMap<String, ItsmInstance>) -> Self {
        Self(Arc::new(by_name))
    }

    /// The instance named `name`.
    pub fn get(&self, name: &str) -> Option<&ItsmInstance> {
        self.0.get(name)
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

/// What a webhook delivery led to.
#[derive(Debug)]
pub enum Delivery {
    /// The same delivery came before; nothing was done.
    Duplicate,
    /// The ticket will be re-read and acted on by the worker.
    Queued {
        /// The ITSM's id of the ticket.
        ticket: String,
    },
    /// A generic adapter's request was taken in at once.
    Taken(Box<Intake>),
}

/// How long a webhook delivery is remembered, so that a replay of it is refused: a day.
/// Standard Webhooks deliveries are also refused once their timestamp is five minutes old.
pub const DELIVERY_MEMORY_SECONDS: i64 = 24 * 3_600;

/// What a write-back job writes on a ticket.
mod event {
    pub const DECISION: &str = "decision";
    pub const ANSWERED: &str = "answered";
    pub const ACTIVATED: &str = "activated";
    pub const REVOKED: &str = "revoked";
}

/// An ITSM call's failure as a job outcome: transient ones are retried (no sooner than the
/// ITSM's `Retry-After`), the rest end the job with an alert.
fn itsm_failure(e: &ItsmError) -> Effect {
    if !e.is_transient() {
        return Effect::Failed(ConnectError::Permanent(format!("itsm: {e}")));
    }
    let error = ConnectError::Transient(format!("itsm: {e}"));
    match e {
        ItsmError::Transient {
            retry_after: Some(after),
            ..
        } => Effect::Throttled(error, *after),
        _ => Effect::Failed(error),
    }
}

/// The ticket's status word for where a request and its grant stand.
fn status_now(view: &crate::view::RequestView) -> &'static str {
    match (&view.grant, view.state) {
        (Some(g), _) => match g.state {
            GrantState::Provisioning => "approved",
            GrantState::Active => "active",
            GrantState::Revoking => "revoking",
            GrantState::Revoked => "revoked",
            GrantState::Failed => "failed",
        },
        (None, RequestState::ApprovalRequired) => "pending",
        (None, RequestState::Denied) => "denied",
        (None, RequestState::Expired) => "expired",
        (None, other) => other.as_str(),
    }
}

fn split(target: &str) -> Result<(&str, &str), EngineError> {
    target
        .split_once(':')
        .ok_or_else(|| EngineError::Internal(format!("bad ITSM job target `{target}`")))
}

impl Engine {
    /// Checks a webhook delivery for adapter `name` over its raw `body` and queues what it
    /// asks for. A bad or stale signature is [`EngineError::Unauthorized`] and nothing is
    /// stored; a delivery seen in the last [`DELIVERY_MEMORY_SECONDS`] (the same signed
    /// `webhook-id`, or for HMAC and shared secrets the same body) is
    /// [`Delivery::Duplicate`], and nothing is stored or queued.
    pub async fn itsm_webhook(
        &self,
        name: &str,
        headers: &warden_itsm::Headers,
        body: &[u8],
    ) -> Result<Delivery, EngineError> {
        let inst = self
            .itsms()
            .get(name)
            .ok_or_else(|| EngineError::NotFound(format!("no ITSM adapter `{name}`")))?;
        let now = self.now();
        let delivery = inst
            .verifier
            .verify(headers, body, now)
            .map_err(|e| EngineError::Unauthorized(e.to_string()))?;
        let asked = inst
            .adapter
            .ticket_from_webhook(body)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut tx = self.store().begin().await?;
        let forget_before = Timestamp::from_unix_millis(
            now.unix_millis()
                .saturating_sub(DELIVERY_MEMORY_SECONDS * 1_000),
        )
        .unwrap_or(now);
        if !tx
            .mark_delivery(name, &delivery.0, now, forget_before)
            .await?
        {
            tx.rollback().await?;
            return Ok(Delivery::Duplicate);
        }
        match asked {
            warden_itsm::Intake::Ticket(ticket) => {
                self.queue_sync(&mut tx, name, &ticket, now).await?;
                tx.commit().await?;
                Ok(Delivery::Queued { ticket })
            }
            warden_itsm::Intake::Request(request) => {
                tx.commit().await?;
                let taken = self.intake(&format!("itsm:{name}"), *request).await?;
                Ok(Delivery::Taken(Box::new(taken)))
            }
        }
    }

    async fn queue_sync(
        &self,
        tx: &mut Tx,
        name: &str,
        ticket: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        tx.schedule_job(job_kind::ITSM_SYNC, &format!("{name}:{ticket}"), now, now)
            .await?;
        Ok(())
    }

    /// Schedules a write-back of `event` on the ticket of request `r`, if its source is a
    /// configured ITSM and that ITSM took it in: a request filed some other way never
    /// writes on a ticket, however its `(source, ticket)` reads. Runs inside the
    /// transaction of the change it reports.
    pub(crate) async fn schedule_writeback(
        &self,
        tx: &mut Tx,
        r: &RequestRecord,
        event: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.itsms().get(&r.source).is_some() && r.filed_by == format!("itsm:{}", r.source) {
            tx.schedule_job(job_kind::ITSM_WRITE, &format!("{}:{event}", r.id), now, now)
                .await?;
        }
        Ok(())
    }

    /// [`Engine::schedule_writeback`] for the request of a grant.
    pub(crate) async fn schedule_grant_writeback(
        &self,
        tx: &mut Tx,
        rid: RequestId,
        event: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.itsms().is_empty() {
            return Ok(());
        }
        if let Some(r) = tx.request(rid).await? {
            self.schedule_writeback(tx, &r, event, now).await?;
        }
        Ok(())
    }

    /// The active catalog identity whose `attribute` is `value`: by email through the
    /// catalog's email index, by login as the identity's id. Never one for the other.
    fn identity_named(&self, attribute: IdentityMatch, value: &str) -> Option<IdentityId> {
        let value = value.trim();
        let catalog = &self.bundle().catalog;
        let found = match attribute {
            IdentityMatch::Email => catalog.identity_by_email(value),
            IdentityMatch::Login => IdentityId::parse(value)
                .ok()
                .and_then(|id| catalog.identities.get(&id)),
        };
        found.filter(|i| i.is_active()).map(|i| i.id.clone())
    }

    /// Re-reads one ticket and acts on it: closure, intake, approvals.
    pub(crate) async fn act_itsm_sync(&self, job: &Job) -> Result<Effect, EngineError> {
        let (name, ticket) = split(&job.target_id)?;
        let Some(inst) = self.itsms().get(name).cloned() else {
            return Ok(Effect::Nothing);
        };
        let t = match inst.adapter.read_ticket(ticket).await {
            Ok(t) => t,
            Err(e) => return Ok(itsm_failure(&e)),
        };
        let actor = format!("itsm:{name}");
        let existing = self.store().request_by_ticket(name, ticket).await?;
        // Only a request this adapter took in from this ticket is the ticket's: anything
        // else under the same `(source, ticket)` was filed some other way, and neither the
        // ticket's approvals nor its closure may act on it.
        if existing.as_ref().is_some_and(|r| r.filed_by != actor) {
            return Ok(Effect::Nothing);
        }
        if t.closed {
            if let Some(r) = &existing
                && let Some(g) = self.store().grant_by_request(r.id).await?
                && matches!(g.state, GrantState::Provisioning | GrantState::Active)
                && inst.config.revoke_on_close.applies(
                    Some(g.role.as_str()),
                    serde_json::from_value::<crate::StoredInput>(r.request.clone())?
                        .request
                        .task
                        .as_ref()
                        .map(warden_model::TaskId::as_str),
                )
            {
                self.revoke(&actor, &g.id.to_string(), "the ticket was closed")
                    .await?;
            }
            return Ok(Effect::Nothing);
        }
        let record = match existing {
            Some(r) => r,
            None => {
                let Some(fields) = inst.config.fields.as_ref() else {
                    return Ok(Effect::Failed(ConnectError::Permanent(format!(
                        "itsm `{name}` has no field mapping"
                    ))));
                };
                let attribute = inst.config.identity.attribute;
                match warden_itsm::map(&t, name, fields, &|v| self.identity_named(attribute, v)) {
                    Ok(request) => {
                        let taken = self.intake(&actor, request).await?;
                        let rid: RequestId = taken.view.id.parse().map_err(|_| {
                            EngineError::Internal("a stored request id does not parse".into())
                        })?;
                        self.store().request(rid).await?.ok_or_else(|| {
                            EngineError::Internal("stored request vanished".into())
                        })?
                    }
                    Err(mapping) => {
                        let text = writeback::mapping_error_comment(&mapping);
                        // The same complaint once per ticket and wording, not on every sync.
                        let mark = format!(
                            "mapping:{ticket}:{}",
                            warden_model::canonical::sha256_tagged(text.as_bytes())
                        );
                        if !self.store().itsm_marked(name, &mark).await? {
                            if let Err(e) = inst.adapter.comment(ticket, &text).await {
                                return Ok(itsm_failure(&e));
                            }
                            self.mark(name, &mark).await?;
                        }
                        return Ok(Effect::Nothing);
                    }
                }
            }
        };
        if record.state == RequestState::ApprovalRequired {
            return self.sync_approvals(&inst, name, ticket, record.id).await;
        }
        Ok(Effect::Nothing)
    }

    async fn mark(&self, name: &str, mark: &str) -> Result<(), EngineError> {
        let mut tx = self.store().begin().await?;
        tx.mark_itsm(name, mark, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts each approval recorded on the ticket once, through Warden's own rules; one
    /// those rules refuse is answered with a comment saying why.
    async fn sync_approvals(
        &self,
        inst: &ItsmInstance,
        name: &str,
        ticket: &str,
        rid: RequestId,
    ) -> Result<Effect, EngineError> {
        let approvals = match inst.adapter.approvals(ticket).await {
            Ok(a) => a,
            Err(e) => return Ok(itsm_failure(&e)),
        };
        // Counted approvals are marked only after the ticket is set back to pending below:
        // if that fails, the retry counts them again (an answer repeated changes nothing)
        // and sets the field again, so the next approver's change is never lost.
        let mut counted = Vec::new();
        for a in approvals {
            let mark = format!("approval:{ticket}:{}", a.id);
            if self.store().itsm_marked(name, &mark).await? {
                continue;
            }
            let attribute = inst.config.identity.attribute;
            let who = match a.attribute(attribute) {
                None => Err(format!("the ITSM has no {} for them", attribute.as_str())),
                Some(value) => self.identity_named(attribute, value).ok_or_else(|| {
                    format!(
                        "{} `{value}` matches no active identity",
                        attribute.as_str()
                    )
                }),
            };
            let refused = match who {
                Err(why) => Some(why),
                Ok(who) => {
                    let answer = match a.decision {
                        TicketDecision::Approve => ApprovalDecision::Approve,
                        TicketDecision::Reject => ApprovalDecision::Reject,
                    };
                    match self.answer(&who, &rid.to_string(), answer).await {
                        Ok(_) => {
                            counted.push(mark.clone());
                            None
                        }
                        Err(EngineError::Forbidden(why)) => Some(why),
                        Err(EngineError::Conflict(why)) => {
                            // Final only if the request stopped waiting; a race with another
                            // answer is retried.
                            let now = self.request(&rid.to_string()).await?;
                            if now.state == RequestState::ApprovalRequired {
                                return Ok(Effect::Failed(ConnectError::Transient(why)));
                            }
                            Some(why)
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            if let Some(why) = refused {
                let text = writeback::ignored_approval_comment(&a.approver, &why);
                if let Err(e) = inst.adapter.comment(ticket, &text).await {
                    return Ok(itsm_failure(&e));
                }
                self.mark(name, &mark).await?;
            }
        }
        // Still waiting: set the approval field back to pending, so the next approver's
        // change is a new event, and say who else must approve.
        let view = self.request(&rid.to_string()).await?;
        if view.state == RequestState::ApprovalRequired
            && !counted.is_empty()
            && let Some(approval) = &inst.config.approval
            && let Some(field) = &approval.field
        {
            let approvers: Vec<String> = view
                .approvals
                .iter()
                .map(|a| a.approver.to_string())
                .collect();
            let needed = view.decision.approvals_needed();
            let from: Vec<String> = view
                .decision
                .approvals
                .iter()
                .flat_map(|s| {
                    s.from_groups
                        .iter()
                        .map(ToString::to_string)
                        .chain(s.from_identities.iter().map(ToString::to_string))
                })
                .collect();
            let still = needed.saturating_sub(u32::try_from(approvers.len()).unwrap_or(u32::MAX));
            let text = writeback::approvals_pending_comment(&approvers, still, &from);
            if let Err(e) = inst
                .adapter
                .set_status_field(ticket, field, &approval.pending)
                .await
            {
                return Ok(itsm_failure(&e));
            }
            if let Err(e) = inst.adapter.comment(ticket, &text).await {
                return Ok(itsm_failure(&e));
            }
        }
        for mark in counted {
            self.mark(name, &mark).await?;
        }
        Ok(Effect::Nothing)
    }

    /// Writes one outcome on the ticket of a request.
    pub(crate) async fn act_itsm_write(&self, job: &Job) -> Result<Effect, EngineError> {
        let (rid, event) = split(&job.target_id)?;
        let view = self.request(rid).await?;
        let Some(inst) = self.itsms().get(&view.source).cloned() else {
            return Ok(Effect::Nothing);
        };
        let ticket = view.ticket.as_str();
        let role = view
            .decision
            .role
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let system = view
            .decision
            .system
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let text = match event {
            event::DECISION => writeback::decision_comment(&view.decision, Some(rid)),
            event::ANSWERED => {
                let word = match view.state {
                    RequestState::Approved => "approved",
                    RequestState::Denied => "rejected",
                    other => other.as_str(),
                };
                let who: Vec<String> = view
                    .approvals
                    .iter()
                    .map(|a| format!("{} ({})", a.approver, a.decision.as_str()))
                    .collect();
                format!(
                    "Warden recorded the approvals: {}. The request is now {word}.\n",
                    who.join(", ")
                )
            }
            event::ACTIVATED => {
                let Some(g) = &view.grant else {
                    return Ok(Effect::Nothing);
                };
                let (Some(at), Some(until)) = (g.activated_at, g.expires_at) else {
                    return Ok(Effect::Nothing);
                };
                writeback::activation_comment(&role, &system, at, until)
            }
            event::REVOKED => {
                let Some(g) = &view.grant else {
                    return Ok(Effect::Nothing);
                };
                let Some(at) = g.revoked_at else {
                    return Ok(Effect::Nothing);
                };
                let gid = g.id.parse().map_err(|_| {
                    EngineError::Internal("a stored grant id does not parse".into())
                })?;
                let why = self
                    .store()
                    .grant_end_reason(gid)
                    .await?
                    .unwrap_or_else(|| "it was revoked".to_owned());
                writeback::revocation_comment(&role, &system, &why, at)
            }
            other => {
                return Err(EngineError::Internal(format!(
                    "unknown write-back `{other}`"
                )));
            }
        };
        if let Err(e) = inst.adapter.comment(ticket, &text).await {
            return Ok(itsm_failure(&e));
        }
        // The status is where things stand now, not what this event said: a write-back
        // retried after a later one never puts back an older status.
        if let Some(field) = &inst.config.status_field
            && let Err(e) = inst
                .adapter
                .set_status_field(ticket, field, status_now(&view))
                .await
        {
            return Ok(itsm_failure(&e));
        }
        Ok(Effect::Nothing)
    }

    /// Asks one ITSM for tickets changed since its cursor and queues a re-read of each.
    pub(crate) async fn act_itsm_poll(&self, job: &Job) -> Result<Effect, EngineError> {
        let name = job.target_id.as_str();
        let Some(inst) = self.itsms().get(name).cloned() else {
            return Ok(Effect::Nothing);
        };
        let now = self.now();
        let every = inst
            .config
            .poll_every
            .unwrap_or(warden_model::Duration::MIN);
        // The first poll looks back one period: tickets from before the first start are
        // left to their webhooks.
        let cursor = match self.store().itsm_cursor(name).await? {
            Some(c) => c,
            None => Timestamp::from_unix_millis(
                now.unix_millis() - i64::try_from(every.seconds()).unwrap_or(0) * 1_000,
            )
            .unwrap_or(now),
        };
        let changed = match inst.adapter.updated_since(cursor).await {
            Ok(c) => c,
            Err(e) => return Ok(itsm_failure(&e)),
        };
        let next = changed.iter().map(|t| t.updated_at).max().unwrap_or(cursor);
        let tickets = changed.into_iter().map(|t| t.id).collect();
        Ok(Effect::Polled {
            adapter: name.to_owned(),
            tickets,
            cursor: next,
        })
    }

    /// Queues the polled tickets (once each), moves the cursor, and schedules the next poll.
    pub(crate) async fn apply_itsm_poll(
        &self,
        tx: &mut Tx,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Polled {
            adapter,
            tickets,
            cursor,
        } = effect
        else {
            return Ok(());
        };
        let now = self.now();
        for t in tickets {
            if !self
                .store()
                .job_pending(job_kind::ITSM_SYNC, &format!("{adapter}:{t}"))
                .await?
            {
                self.queue_sync(tx, adapter, t, now).await?;
            }
        }
        tx.set_itsm_cursor(adapter, *cursor).await?;
        if let Some(every) = self.itsms().get(adapter).and_then(|i| i.config.poll_every) {
            tx.schedule_job_once(job_kind::ITSM_POLL, adapter, now.plus(every), now)
                .await?;
        }
        Ok(())
    }

    /// Schedules a poll of every ITSM that polls and has none pending.
    pub async fn schedule_polling(&self) -> Result<(), EngineError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        for name in self.itsms().names() {
            if self
                .itsms()
                .get(&name)
                .is_some_and(|i| i.config.poll_every.is_some())
            {
                tx.schedule_job_once(job_kind::ITSM_POLL, &name, now, now)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) use event::{ACTIVATED, ANSWERED, DECISION, REVOKED};
