//! Offboarding: after a bundle activation, everyone the new catalog no longer lets act
//! (disabled, removed, or a service or workload whose owner is gone) loses what they hold.
//!
//! The activation's transaction schedules one store-only `offboard` job per barred
//! identity that still holds a live token, a pending request or a grant. Each job, in one
//! transaction: revokes the identity's tokens, ends its pending requests as `withdrawn`,
//! moves its active grants to `revoking` (reason `offboarded`, removal confirmed on the
//! target as for any revocation), and records `identity.offboarded`. It re-reads the
//! active bundle from the store first, so a server that has not switched yet never judges
//! by the old catalog, and an identity re-enabled by a later bundle is left alone.

use warden_model::{IdentityId, RequestState};
use warden_store::{NewAuditEvent, Tx};

use super::Effect;
use crate::standing::standing;
use crate::{Engine, EngineError, audit, note};

/// The reason recorded on grants that end because their holder was offboarded.
pub const OFFBOARDED: &str = "offboarded";

impl Engine {
    /// One identity's step: whether the active bundle still bars it.
    pub(crate) async fn act_offboard(&self, id: &IdentityId) -> Result<Effect, EngineError> {
        self.refresh_bundle().await?;
        Ok(match standing(&self.bundle().catalog, id) {
            Ok(()) => Effect::Nothing,
            Err(_) => Effect::Offboard(vec![id.clone()]),
        })
    }

    /// Offboards the identity the step found barred, inside `tx`.
    pub(crate) async fn apply_offboard(
        &self,
        tx: &mut Tx,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Offboard(ids) = effect else {
            return Ok(());
        };
        for id in ids {
            self.offboard(tx, id, &format!("worker:{worker}")).await?;
        }
        Ok(())
    }

    async fn offboard(&self, tx: &mut Tx, id: &IdentityId, actor: &str) -> Result<(), EngineError> {
        let bundle = self.bundle();
        let reason = match standing(&bundle.catalog, id) {
            Ok(()) => return Ok(()),
            Err(barred) => barred,
        };
        let now = self.now();
        let tokens = tx.revoke_tokens_of(id, now).await?;
        let withdrawn = tx.withdraw_pending_requests(id, now).await?;
        for rid in &withdrawn {
            audit(
                tx,
                NewAuditEvent {
                    at: now,
                    actor: actor.to_owned(),
                    action: "request.withdrawn".into(),
                    request_id: Some(*rid),
                    grant_id: None,
                    before_state: Some(RequestState::ApprovalRequired.as_str().into()),
                    after_state: Some(RequestState::Withdrawn.as_str().into()),
                    bundle_hash: Some(bundle.hash().to_owned()),
                    data: serde_json::json!({ "identity": id, "reason": reason.as_str() }),
                },
            )
            .await?;
        }
        let mut revoked = Vec::new();
        for g in tx.active_grants_of(id).await? {
            if self
                .start_revocation(tx, &g, actor, OFFBOARDED, OFFBOARDED, now)
                .await?
            {
                revoked.push(g.id.to_string());
            }
        }
        audit(
            tx,
            NewAuditEvent {
                bundle_hash: Some(bundle.hash().to_owned()),
                ..note(
                    now,
                    actor.to_owned(),
                    "identity.offboarded",
                    None,
                    None,
                    serde_json::json!({
                        "identity": id,
                        "reason": reason.as_str(),
                        "tokens_revoked": tokens,
                        "requests_withdrawn": withdrawn.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "grants_revoked": revoked,
                    }),
                )
            },
        )
        .await?;
        Ok(())
    }
}
