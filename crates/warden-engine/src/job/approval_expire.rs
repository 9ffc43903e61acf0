//! `approval_expire`: a pending request's approval window has lapsed. Store-only: nothing
//! to act on; the apply step ends the request as `expired` if it is still waiting.

use warden_model::RequestState;
use warden_store::{NewAuditEvent, RequestId, Tx};

use crate::{Engine, EngineError, audit};

impl Engine {
    /// Ends request `rid` as `expired` if it still waits for approvals.
    pub(crate) async fn apply_approval_expire(
        &self,
        tx: &mut Tx,
        rid: RequestId,
        worker: &str,
    ) -> Result<(), EngineError> {
        let now = self.now();
        if tx
            .set_request_state(
                rid,
                RequestState::ApprovalRequired,
                RequestState::Expired,
                now,
            )
            .await?
        {
            audit(
                tx,
                NewAuditEvent {
                    at: now,
                    actor: format!("worker:{worker}"),
                    action: "request.expired".into(),
                    request_id: Some(rid),
                    grant_id: None,
                    before_state: Some(RequestState::ApprovalRequired.as_str().into()),
                    after_state: Some(RequestState::Expired.as_str().into()),
                    bundle_hash: None,
                    data: serde_json::json!({}),
                },
            )
            .await?;
        }
        Ok(())
    }
}
