//! `alert_ticket`: tell the alert's ITSM about one audit event (act-only). When the event's
//! request came in from that same ITSM, its ticket gets a comment; otherwise a new ticket
//! is opened. Failures are retried and given up on like a webhook delivery
//! ([`crate::alert`]).

use super::Effect;
use super::itsm_sync::itsm_failure;
use crate::alert::ticket_text;
use crate::{Engine, EngineError};

impl Engine {
    /// Comments on, or opens, a ticket about event `seq` for alert `name`.
    pub(crate) async fn act_alert_ticket(
        &self,
        name: &str,
        seq: u64,
    ) -> Result<Effect, EngineError> {
        let Some(itsm) = self.alerts().get(name).and_then(|a| a.config.itsm.clone()) else {
            return Ok(Effect::Nothing);
        };
        let Some(inst) = self.itsms().get(&itsm).cloned() else {
            return Ok(itsm_failure(warden_itsm::ItsmError::invalid(format!(
                "itsm `{itsm}` is not configured"
            ))));
        };
        let Some(event) = self.audit_event(seq).await? else {
            return Err(EngineError::broken(
                "an alert names an audit event the chain does not hold",
            ));
        };
        let (subject, text) = ticket_text(&event);
        // Only a request that ITSM itself filed has a ticket there to comment on.
        let ticket = match event.request_id {
            Some(rid) => self
                .store()
                .request(rid)
                .await?
                .filter(|r| r.source == itsm && r.filed_by == format!("itsm:{itsm}"))
                .map(|r| r.ticket),
            None => None,
        };
        let done = match ticket {
            Some(t) => inst.adapter.comment(&t, &text).await,
            None => inst.adapter.open_ticket(&subject, &text).await.map(|_| ()),
        };
        Ok(match done {
            Ok(()) => Effect::Nothing,
            Err(e) => itsm_failure(e),
        })
    }
}
