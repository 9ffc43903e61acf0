//! `expire`: a grant's `expires_at` has come. One round: the act step removes the grant's
//! live accounts from its target while the grant is still `active`; the apply step moves
//! it to `revoking` (`grant.expired`) and, the removal confirmed, on to `revoked`
//! (`grant.revoked`) in the same transaction.
//!
//! When the target fails, the grant still moves to `revoking` (it is overdue from now on,
//! and counted so) and this same job is retried with backoff; its next act step finds the
//! grant `revoking` and removes again (removal is idempotent).

use warden_model::GrantState;
use warden_store::{GrantId, GrantTimes, Tx};

use super::{Effect, Moved};
use crate::{Engine, EngineError};

/// Why an expired grant ended, as its ticket is told.
pub(crate) const EXPIRED: &str = "it expired";

impl Engine {
    /// Removes the live accounts of grant `gid` if it is active (its expiry has come) or
    /// already revoking (an earlier attempt of this job failed on the target).
    pub(crate) async fn act_expire(&self, gid: GrantId) -> Result<Effect, EngineError> {
        self.remove_live(gid, &[GrantState::Active, GrantState::Revoking])
            .await
    }

    /// Ends grant `gid`: expired, then — when the target confirmed the removal — revoked.
    pub(crate) async fn apply_expire(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        // The grant just moved is not read again.
        match self.mark_expired(tx, gid, worker).await? {
            Some(expired) => {
                let revoking = expired.after(GrantState::Revoking);
                self.confirm_revoked_of(tx, revoking, worker, effect).await
            }
            None => self.confirm_revoked(tx, gid, worker, effect).await,
        }
    }

    /// Moves an active grant whose expiry has come to `revoking`, audited as
    /// `grant.expired`, and returns what moved; a grant in any other state is left as it
    /// is.
    pub(crate) async fn mark_expired(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
    ) -> Result<Option<Moved>, EngineError> {
        let moved = self
            .move_grant(
                tx,
                gid,
                worker,
                (GrantState::Active, GrantState::Revoking),
                "grant.expired",
                |g, _| {
                    let data = serde_json::json!({ "expires_at": g.expires_at });
                    (GrantTimes::default(), data)
                },
            )
            .await?;
        if moved.is_some() {
            tx.set_grant_end_reason(gid, EXPIRED).await?;
        }
        Ok(moved)
    }
}
