//! `alert_deliver`: POST one audit event to one alert's URL, signed the Standard Webhooks
//! way (act-only). The `webhook-id` comes from the event, so every attempt and every
//! restart carries the same id and the receiver drops repeats; the `webhook-timestamp` is
//! the engine's clock at the attempt. A failure is retried by the worker until the alert's
//! `give_up_after` ([`crate::alert`]); success is not audited — an audited success would
//! itself be an event to deliver.

use super::{Effect, StepFailure};
use crate::alert::{payload, webhook_id};
use crate::{Engine, EngineError};

impl Engine {
    /// Delivers event `seq` to alert `name`.
    pub(crate) async fn act_alert_deliver(
        &self,
        name: &str,
        seq: u64,
    ) -> Result<Effect, EngineError> {
        let Some(sender) = self.alerts().get(name).and_then(|a| a.sender.clone()) else {
            // The alert was removed from the configuration, or no longer posts.
            return Ok(Effect::Nothing);
        };
        let Some(event) = self.audit_event(seq).await? else {
            return Err(EngineError::broken(
                "an alert names an audit event the chain does not hold",
            ));
        };
        let body = serde_json::to_vec(&payload(&event))?;
        match sender.send(&webhook_id(&event), self.now(), &body).await {
            Ok(()) => Ok(Effect::Nothing),
            Err(e) => Ok(Effect::Failed(StepFailure::Delivery(e))),
        }
    }
}
