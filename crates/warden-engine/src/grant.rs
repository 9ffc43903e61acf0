//! Grants: listing them and revoking one on demand.

use warden_model::{GrantState, IdentityId, SystemId, Timestamp};
use warden_store::{GrantFilter, GrantId, GrantRecord, GrantTimes, NewAuditEvent, Tx};

use crate::job::{JobKey, schedule};
use crate::view::GrantView;
use crate::{Engine, EngineError, audit};

/// Which grants to list.
#[derive(Clone, Debug, Default)]
pub struct GrantQuery {
    /// Held by this identity.
    pub subject: Option<IdentityId>,
    /// On this system.
    pub system: Option<SystemId>,
    /// In this state.
    pub state: Option<GrantState>,
    /// At most this many (newest first); default 100, at most 1,000.
    pub limit: Option<u32>,
}

impl Engine {
    /// Grants matching `q`, newest first.
    pub async fn grants(&self, q: &GrantQuery) -> Result<Vec<GrantView>, EngineError> {
        let filter = GrantFilter {
            subject: q.subject.clone(),
            system: q.system.clone(),
            state: q.state,
            limit: q.limit.unwrap_or(100).min(1_000),
        };
        Ok(self
            .store()
            .grants(&filter)
            .await?
            .iter()
            .map(GrantView::from)
            .collect())
    }

    /// The grant with id `id`.
    pub async fn grant(&self, id: &str) -> Result<GrantView, EngineError> {
        Ok(GrantView::from(&self.grant_record(id).await?))
    }

    async fn grant_record(&self, id: &str) -> Result<GrantRecord, EngineError> {
        let gid: GrantId = id
            .parse()
            .map_err(|_| EngineError::NotFound(format!("no grant `{id}`")))?;
        self.store()
            .grant(gid)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no grant `{id}`")))
    }

    /// Starts revoking grant `id` now. Revoking a grant already revoking or revoked changes
    /// nothing; the grant becomes `revoked` only once the target confirms.
    pub async fn revoke(
        &self,
        actor: &str,
        id: &str,
        reason: &str,
    ) -> Result<GrantView, EngineError> {
        let g = self.grant_record(id).await?;
        if matches!(
            g.state,
            GrantState::Revoking | GrantState::Revoked | GrantState::Failed
        ) {
            return Ok(GrantView::from(&g));
        }
        let now = self.now();
        let mut tx = self.store().begin().await?;
        if !self
            .start_revocation(&mut tx, &g, actor, reason, &end_reason(actor, reason), now)
            .await?
        {
            tx.rollback().await?;
            return Err(EngineError::Conflict(format!(
                "grant `{id}` changed while being revoked; try again"
            )));
        }
        tx.commit().await?;
        self.grant(id).await
    }

    /// Moves grant `g` to `revoking` inside `tx`, audited as `grant.revoke_requested` with
    /// `reason`, records `end_reason` for the ticket, and schedules its removal. Returns
    /// `false`, changing nothing, when `g` is no longer in the state it was read in.
    pub(crate) async fn start_revocation(
        &self,
        tx: &mut Tx,
        g: &GrantRecord,
        actor: &str,
        reason: &str,
        end_reason: &str,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        if !tx
            .set_grant_state(
                g.id,
                g.state,
                GrantState::Revoking,
                GrantTimes::default(),
                now,
            )
            .await?
        {
            return Ok(false);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "grant.revoke_requested".into(),
                request_id: Some(g.request_id),
                grant_id: Some(g.id),
                before_state: Some(g.state.as_str().into()),
                after_state: Some(GrantState::Revoking.as_str().into()),
                bundle_hash: None,
                data: serde_json::json!({ "reason": reason }),
            },
        )
        .await?;
        tx.set_grant_end_reason(g.id, end_reason).await?;
        schedule(tx, &JobKey::Revoke(g.id), now, now).await?;
        Ok(true)
    }
}

/// Why a grant revoked by `actor` ended, as a ticket comment says it: an ITSM's own reason
/// as it is (`the ticket was closed`), anyone else's with their name.
fn end_reason(actor: &str, reason: &str) -> String {
    match (actor.strip_prefix("itsm:"), reason.trim()) {
        (Some(_), r) if !r.is_empty() => r.to_owned(),
        (_, "") => format!("revoked by {actor}"),
        (_, r) => format!("revoked by {actor}: {r}"),
    }
}

#[cfg(test)]
mod tests {
    use super::end_reason;

    #[test]
    fn end_reasons_name_who_revoked() {
        assert_eq!(
            end_reason("itsm:rt", "the ticket was closed"),
            "the ticket was closed"
        );
        assert_eq!(end_reason("erin", ""), "revoked by erin");
        assert_eq!(
            end_reason("erin", " incident 7 "),
            "revoked by erin: incident 7"
        );
    }
}
