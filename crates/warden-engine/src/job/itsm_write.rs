//! `itsm_write`: write one outcome on a request's ticket — the decision, the answers, the
//! activation, the revocation, or that approvals are still pending. Scheduled in the
//! transaction of the change it reports; act-only (the ITSM call), never blocking or
//! undoing the change.

use warden_itsm::writeback;
use warden_model::{GrantState, RequestState};
use warden_store::RequestId;

use super::Effect;
use super::itsm_sync::itsm_failure;
use crate::view::RequestView;
use crate::{Engine, EngineError};

/// What a write-back job writes on a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteBack {
    /// The decision, as intake made it.
    Decision,
    /// The approvals, once they approved or rejected the request.
    Answered,
    /// The grant became active.
    Activated,
    /// The grant's removal was confirmed.
    Revoked,
    /// Approvals were counted and more are needed: the approval field goes back to its
    /// pending value, so the next approver's change is a new event.
    Pending,
}

impl WriteBack {
    /// The name in the job's key.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteBack::Decision => "decision",
            WriteBack::Answered => "answered",
            WriteBack::Activated => "activated",
            WriteBack::Revoked => "revoked",
            WriteBack::Pending => "pending",
        }
    }

    /// The write-back named `name`.
    pub fn parse(name: &str) -> Option<WriteBack> {
        [
            WriteBack::Decision,
            WriteBack::Answered,
            WriteBack::Activated,
            WriteBack::Revoked,
            WriteBack::Pending,
        ]
        .into_iter()
        .find(|w| w.as_str() == name)
    }
}

/// The ticket's status word for where a request and its grant stand.
fn status_now(view: &RequestView) -> &'static str {
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

impl Engine {
    /// Writes one outcome on the ticket of request `rid`.
    pub(crate) async fn act_itsm_write(
        &self,
        rid: RequestId,
        event: WriteBack,
    ) -> Result<Effect, EngineError> {
        let view = self.request(&rid.to_string()).await?;
        let Some(inst) = self.itsms().get(&view.source).cloned() else {
            return Ok(Effect::Nothing);
        };
        let ticket = view.ticket.as_str();
        if event == WriteBack::Pending {
            return self.write_pending(&inst, ticket, &view).await;
        }
        let Some(text) = self.writeback_text(&view, event).await? else {
            return Ok(Effect::Nothing);
        };
        if let Err(e) = inst.adapter.comment(ticket, &text).await {
            return Ok(itsm_failure(e));
        }
        // The status is where things stand now, not what this event said: a write-back
        // retried after a later one never puts back an older status.
        if let Some(field) = &inst.config.status_field
            && let Err(e) = inst
                .adapter
                .set_status_field(ticket, field, status_now(&view))
                .await
        {
            return Ok(itsm_failure(e));
        }
        Ok(Effect::Nothing)
    }

    /// The comment for `event` on `view`'s ticket; `None` when there is nothing to say
    /// (the grant it reports has not got there).
    async fn writeback_text(
        &self,
        view: &RequestView,
        event: WriteBack,
    ) -> Result<Option<String>, EngineError> {
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
        Ok(Some(match event {
            WriteBack::Decision => writeback::decision_comment(&view.decision, Some(&view.id)),
            WriteBack::Answered => {
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
            WriteBack::Activated => {
                let Some(g) = &view.grant else {
                    return Ok(None);
                };
                let (Some(at), Some(until)) = (g.activated_at, g.expires_at) else {
                    return Ok(None);
                };
                writeback::activation_comment(&role, &system, at, until)
            }
            WriteBack::Revoked => {
                let Some(g) = &view.grant else {
                    return Ok(None);
                };
                let Some(at) = g.revoked_at else {
                    return Ok(None);
                };
                let gid =
                    g.id.parse()
                        .map_err(|_| EngineError::broken("a stored grant id does not parse"))?;
                let why = self
                    .store()
                    .grant_end_reason(gid)
                    .await?
                    .unwrap_or_else(|| "it was revoked".to_owned());
                writeback::revocation_comment(&role, &system, &why, at)
            }
            WriteBack::Pending => return Ok(None),
        }))
    }

    /// Still waiting: sets the approval field back to pending, so the next approver's
    /// change is a new event, and says who else must approve. Nothing once the request
    /// stopped waiting (its `answered` write-back says how it ended).
    async fn write_pending(
        &self,
        inst: &crate::itsm::ItsmInstance,
        ticket: &str,
        view: &RequestView,
    ) -> Result<Effect, EngineError> {
        let Some(approval) = &inst.config.approval else {
            return Ok(Effect::Nothing);
        };
        let Some(field) = &approval.field else {
            return Ok(Effect::Nothing);
        };
        if view.state != RequestState::ApprovalRequired {
            return Ok(Effect::Nothing);
        }
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
            return Ok(itsm_failure(e));
        }
        if let Err(e) = inst.adapter.comment(ticket, &text).await {
            return Ok(itsm_failure(e));
        }
        Ok(Effect::Nothing)
    }
}
