//! Bulk revocation: everything one identity holds (offboarding), everything on one system
//! (an incident), or what one ticket gave, revoked at once and reported grant by grant.

use std::time::Duration as StdDuration;

use warden_model::{GrantState, IdentityId, SystemId};
use warden_store::{GrantFilter, GrantRecord};

use crate::view::GrantView;
use crate::{Engine, EngineError};

/// The most grants one bulk revocation reports (and ends) per call.
pub const MAX_BULK: u32 = 10_000;

/// Which grants to revoke. Every given criterion must match; at least one is required.
#[derive(Clone, Debug, Default)]
pub struct Revocation {
    /// Held by this identity.
    pub identity: Option<IdentityId>,
    /// On this system.
    pub system: Option<SystemId>,
    /// Given for this ticket: `(source, ticket)`.
    pub ticket: Option<(String, String)>,
    /// Why, for the audit trail.
    pub reason: String,
    /// How long to wait for targets to confirm before answering.
    pub wait: Option<StdDuration>,
}

impl Engine {
    /// Starts revoking every live grant matching `r` and returns each, as it stands once
    /// confirmed or when `r.wait` runs out.
    pub async fn revoke_matching(
        &self,
        actor: &str,
        r: &Revocation,
    ) -> Result<Vec<GrantView>, EngineError> {
        if r.identity.is_none() && r.system.is_none() && r.ticket.is_none() {
            return Err(EngineError::Invalid(
                "name at least one of `identity`, `system` or `ticket`".into(),
            ));
        }
        let matching = self.matching(r).await?;
        let mut ids = Vec::with_capacity(matching.len());
        for g in &matching {
            self.revoke(actor, &g.id.to_string(), &r.reason).await?;
            ids.push(g.id);
        }
        let wait = r.wait.unwrap_or_default();
        let settled = || async {
            let mut views = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(g) = self.store().grant(*id).await? {
                    views.push(GrantView::from(&g));
                }
            }
            Ok::<_, EngineError>(views)
        };
        let poll = async {
            loop {
                let views = settled().await?;
                if views.iter().all(|v| v.state == GrantState::Revoked) {
                    return Ok::<_, EngineError>(views);
                }
                tokio::time::sleep(StdDuration::from_millis(100)).await;
            }
        };
        match tokio::time::timeout(wait, poll).await {
            Ok(views) => views,
            Err(_) => settled().await,
        }
    }

    /// Live grants (provisioning, active or revoking) matching `r`.
    async fn matching(&self, r: &Revocation) -> Result<Vec<GrantRecord>, EngineError> {
        if let Some((source, ticket)) = &r.ticket {
            let Some(req) = self.store().request_by_ticket(source, ticket).await? else {
                return Ok(Vec::new());
            };
            let g = self.store().grant_by_request(req.id).await?;
            return Ok(g.filter(|g| live(g) && fits(g, r)).into_iter().collect());
        }
        let mut out = Vec::new();
        for state in [
            GrantState::Provisioning,
            GrantState::Active,
            GrantState::Revoking,
        ] {
            let filter = GrantFilter {
                subject: r.identity.clone(),
                system: r.system.clone(),
                state: Some(state),
                limit: MAX_BULK,
            };
            out.extend(self.store().grants(&filter).await?);
        }
        Ok(out)
    }
}

fn live(g: &GrantRecord) -> bool {
    matches!(
        g.state,
        GrantState::Provisioning | GrantState::Active | GrantState::Revoking
    )
}

fn fits(g: &GrantRecord, r: &Revocation) -> bool {
    r.identity.as_ref().is_none_or(|i| *i == g.subject)
        && r.system.as_ref().is_none_or(|s| *s == g.system)
}
