//! `itsm_sync`: re-read one ticket and act on it. Nothing from a webhook payload is trusted
//! but the ticket id; the ticket itself is read again through the ITSM's API.
//!
//! Act (ITSM reads and the store's reads only): read the ticket; for a closed one, find
//! the grant its closure revokes; for a new one, map it and decide the request; for a
//! pending one, read the approvals recorded on it. Apply (the worker's transaction): revoke,
//! store the request, count each approval once through Warden's own rules. What the apply
//! step has to tell the ticket — an approval it refused, a ticket it cannot map, that more
//! approvals are needed — is noted in the same transaction and posted by an `itsm_comment`
//! or `itsm_write` job, so no ITSM call ever runs inside a transaction and none is lost.

use warden_itsm::{ItsmError, TicketApproval, writeback};
use warden_model::{GrantState, RequestState, TaskId};
use warden_store::{GrantId, RequestId, RequestRecord, Tx};

use super::{Effect, JobKey, StepFailure, WriteBack, schedule};
use crate::approval::Answered;
use crate::intake::{Decided, NewRequest};
use crate::itsm::ItsmInstance;
use crate::{Engine, EngineError, StoredInput};

/// What a re-read ticket asks of the store.
pub(crate) enum TicketStep {
    /// The ticket was closed and its grant is revoked on closure.
    Close {
        /// The grant.
        grant: GrantId,
    },
    /// The ticket does not map to a request: say why once per ticket and wording.
    Unmapped {
        /// The mark that says so.
        mark: String,
        /// The comment.
        text: String,
    },
    /// A request taken in from the ticket, with the approvals recorded on it so far.
    Take {
        /// The request and its decision.
        new: Box<NewRequest>,
        /// The ticket's approvals, read only if the request waits for some.
        approvals: Vec<TicketApproval>,
    },
    /// The approvals recorded on the ticket of a request waiting for them.
    Approvals {
        /// The request.
        request: RequestId,
        /// The ticket's approvals.
        approvals: Vec<TicketApproval>,
    },
}

/// An ITSM call's failure as a job outcome: transient ones are retried (no sooner than the
/// ITSM's `Retry-After`), the rest end the job with an alert.
pub(crate) fn itsm_failure(e: ItsmError) -> Effect {
    Effect::Failed(StepFailure::Itsm(e))
}

fn ticket_step(step: TicketStep) -> Effect {
    Effect::Ticket(Box::new(step))
}

impl Engine {
    /// Re-reads ticket `ticket` of ITSM `name` and works out what it asks.
    pub(crate) async fn act_itsm_sync(
        &self,
        name: &str,
        ticket: &str,
    ) -> Result<Effect, EngineError> {
        let Some(inst) = self.itsms().get(name).cloned() else {
            return Ok(Effect::Nothing);
        };
        let t = match inst.adapter.read_ticket(ticket).await {
            Ok(t) => t,
            Err(e) => return Ok(itsm_failure(e)),
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
            return self.closure(&inst, existing.as_ref()).await;
        }
        let record = match existing {
            Some(r) => r,
            None => {
                let Some(fields) = inst.config.fields.as_ref() else {
                    return Ok(Effect::Failed(StepFailure::Itsm(ItsmError::Invalid(
                        format!("itsm `{name}` has no field mapping"),
                    ))));
                };
                let attribute = inst.config.identity.attribute;
                let request = match warden_itsm::map(&t, name, fields, &|v| {
                    self.identity_named(attribute, v)
                }) {
                    Ok(request) => request,
                    Err(mapping) => return self.unmapped(name, ticket, &mapping).await,
                };
                match self.decide_intake(&actor, request).await? {
                    Decided::Known(r) if r.filed_by != actor => return Ok(Effect::Nothing),
                    Decided::Known(r) => *r,
                    Decided::New(new) => {
                        let approvals = if new.record.state == RequestState::ApprovalRequired {
                            match inst.adapter.approvals(ticket).await {
                                Ok(a) => a,
                                Err(e) => return Ok(itsm_failure(e)),
                            }
                        } else {
                            Vec::new()
                        };
                        return Ok(ticket_step(TicketStep::Take { new, approvals }));
                    }
                }
            }
        };
        if record.state != RequestState::ApprovalRequired {
            return Ok(Effect::Nothing);
        }
        match inst.adapter.approvals(ticket).await {
            Ok(approvals) => Ok(ticket_step(TicketStep::Approvals {
                request: record.id,
                approvals,
            })),
            Err(e) => Ok(itsm_failure(e)),
        }
    }

    /// The grant a closed ticket revokes, if its closure revokes one.
    async fn closure(
        &self,
        inst: &ItsmInstance,
        existing: Option<&RequestRecord>,
    ) -> Result<Effect, EngineError> {
        let Some(r) = existing else {
            return Ok(Effect::Nothing);
        };
        let Some(g) = self.store().grant_by_request(r.id).await? else {
            return Ok(Effect::Nothing);
        };
        let task = serde_json::from_value::<StoredInput>(r.request.clone())?
            .request
            .task;
        if matches!(g.state, GrantState::Provisioning | GrantState::Active)
            && inst
                .config
                .revoke_on_close
                .applies(Some(g.role.as_str()), task.as_ref().map(TaskId::as_str))
        {
            return Ok(ticket_step(TicketStep::Close { grant: g.id }));
        }
        Ok(Effect::Nothing)
    }

    /// A ticket that does not map: its complaint, unless made already.
    async fn unmapped(
        &self,
        name: &str,
        ticket: &str,
        mapping: &warden_itsm::MappingError,
    ) -> Result<Effect, EngineError> {
        let text = writeback::mapping_error_comment(mapping);
        // The same complaint once per ticket and wording, not on every sync.
        let mark = format!(
            "mapping:{ticket}:{}",
            warden_model::canonical::sha256_tagged(text.as_bytes())
        );
        if self.store().itsm_marked(name, &mark).await? {
            return Ok(Effect::Nothing);
        }
        Ok(ticket_step(TicketStep::Unmapped { mark, text }))
    }

    /// Applies what ticket `ticket` of ITSM `name` asked.
    pub(crate) async fn apply_itsm_sync(
        &self,
        tx: &mut Tx,
        name: &str,
        ticket: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Ticket(step) = effect else {
            return Ok(());
        };
        let Some(inst) = self.itsms().get(name).cloned() else {
            return Ok(());
        };
        let actor = format!("itsm:{name}");
        let now = self.now();
        match step.as_ref() {
            TicketStep::Close { grant } => {
                if let Some(g) = tx.grant(*grant).await?
                    && matches!(g.state, GrantState::Provisioning | GrantState::Active)
                {
                    let reason = "the ticket was closed";
                    self.start_revocation(tx, &g, &actor, reason, reason, now)
                        .await?;
                }
                Ok(())
            }
            TicketStep::Unmapped { mark, text } => self.note(tx, name, ticket, mark, text).await,
            TicketStep::Take { new, approvals } => {
                let record = if self.store_intake(tx, new).await?.is_some() {
                    new.record.clone()
                } else {
                    // Taken in meanwhile, by this adapter or another way.
                    match tx.request_by_ticket(name, ticket).await? {
                        Some(r) if r.filed_by == actor => r,
                        _ => return Ok(()),
                    }
                };
                if record.state != RequestState::ApprovalRequired {
                    return Ok(());
                }
                self.count_approvals(tx, &inst, name, ticket, record.id, approvals)
                    .await
            }
            TicketStep::Approvals { request, approvals } => {
                self.count_approvals(tx, &inst, name, ticket, *request, approvals)
                    .await
            }
        }
    }

    /// Counts each approval recorded on the ticket once, through Warden's own rules; one
    /// those rules refuse is answered with a comment saying why. When approvals were
    /// counted and more are needed, the ticket is told so by a write-back.
    async fn count_approvals(
        &self,
        tx: &mut Tx,
        inst: &ItsmInstance,
        name: &str,
        ticket: &str,
        rid: RequestId,
        approvals: &[TicketApproval],
    ) -> Result<(), EngineError> {
        let now = self.now();
        let attribute = inst.config.identity.attribute;
        let mut counted = false;
        for a in approvals {
            let mark = format!("approval:{ticket}:{}", a.id);
            if tx.itsm_marked(name, &mark).await? {
                continue;
            }
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
                Err(why) => why,
                Ok(who) => match self.answer_in(tx, &who, rid, a.decision, None).await? {
                    Answered::Recorded | Answered::Repeated => {
                        tx.mark_itsm(name, &mark, now).await?;
                        counted = true;
                        continue;
                    }
                    Answered::Refused(why) => why.to_string(),
                },
            };
            let text = writeback::ignored_approval_comment(&a.approver, &refused);
            self.note(tx, name, ticket, &mark, &text).await?;
        }
        if counted
            && inst
                .config
                .approval
                .as_ref()
                .is_some_and(|a| a.field.is_some())
            && let Some(r) = tx.request(rid).await?
            && r.state == RequestState::ApprovalRequired
        {
            self.schedule_writeback(tx, &r, WriteBack::Pending, now)
                .await?;
        }
        Ok(())
    }

    /// Notes `text` on `mark` and schedules its posting, once per mark.
    async fn note(
        &self,
        tx: &mut Tx,
        name: &str,
        ticket: &str,
        mark: &str,
        text: &str,
    ) -> Result<(), EngineError> {
        let now = self.now();
        if tx.note_itsm(name, mark, ticket, text, now).await? {
            let post = JobKey::ItsmComment {
                itsm: name.to_owned(),
                mark: mark.to_owned(),
            };
            schedule(tx, &post, now, now).await?;
        }
        Ok(())
    }
}
