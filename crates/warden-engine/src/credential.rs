//! Delivering a minted credential: once, to the subject (or, for a service or workload,
//! its owner), unsealed only for the one response. The delivery is audited without the
//! secret, and the sealed copy is cleared in the same transaction.

use secrecy::SecretString;
use warden_model::{GrantState, IdentityId, IdentityKind, Timestamp};
use warden_store::{GrantId, NewAuditEvent};

use crate::standing::standing;
use crate::{Engine, EngineError, audit};

/// A credential handed out once.
pub struct Delivered {
    /// The account name on the target.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// When the grant, and so the account, ends.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivered")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Engine {
    /// Hands grant `id`'s waiting credential to `actor`, once. A second fetch, or one
    /// after the grant ended, is [`EngineError::Gone`].
    pub async fn credential(&self, actor: &str, id: &str) -> Result<Delivered, EngineError> {
        let gid: GrantId = id
            .parse()
            .map_err(|_| EngineError::NotFound(format!("no grant `{id}`")))?;
        let g = self
            .store()
            .grant(gid)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no grant `{id}`")))?;
        let bundle = self.bundle();
        let actor_id = IdentityId::parse(actor)
            .map_err(|_| EngineError::Forbidden(format!("`{actor}` is not an identity")))?;
        // The current catalog decides: a disabled fetcher, or a subject offboarded since
        // the grant was made, gets nothing.
        standing(&bundle.catalog, &actor_id)
            .map_err(|b| EngineError::Forbidden(b.describe(&actor_id)))?;
        standing(&bundle.catalog, &g.subject)
            .map_err(|b| EngineError::Forbidden(b.describe(&g.subject)))?;
        let subject = bundle.catalog.identities.get(&g.subject);
        let owner = subject
            .filter(|s| matches!(s.kind, IdentityKind::Service | IdentityKind::Workload))
            .and_then(|s| s.owner.as_ref());
        let may = g.subject.as_str() == actor || owner.is_some_and(|o| o.as_str() == actor);
        if !may {
            return Err(EngineError::Forbidden(format!(
                "only `{}`{} may fetch this grant's credential",
                g.subject,
                owner
                    .map(|o| format!(" or its owner `{o}`"))
                    .unwrap_or_default()
            )));
        }
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let Some(taken) = tx.take_credential(gid, now).await? else {
            tx.rollback().await?;
            return Err(match g.state {
                GrantState::Provisioning => {
                    EngineError::Conflict(format!("grant `{id}` is not provisioned yet"))
                }
                _ if self.store().accounts(gid).await?.is_empty() => {
                    EngineError::NotFound(format!("grant `{id}` has no credential"))
                }
                _ => EngineError::Gone(format!(
                    "the credential of grant `{id}` was already delivered or has ended"
                )),
            });
        };
        let password = self
            .sealer()
            .open(&gid.to_string(), taken.generation, &taken.sealed)?;
        audit(
            &mut tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "credential.delivered".into(),
                request_id: Some(g.request_id),
                grant_id: Some(gid),
                before_state: None,
                after_state: None,
                bundle_hash: None,
                data: serde_json::json!({
                    "username": taken.name,
                    "generation": taken.generation,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Delivered {
            username: taken.name,
            password,
            expires_at: g.expires_at,
        })
    }
}

/// Where a grant's credential stands, for showing it without handing it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialStatus {
    /// A sealed credential waits for its one delivery.
    Waiting,
    /// It was delivered (or ended before it was).
    Gone,
    /// The grant mints none (yet).
    None,
}

impl Engine {
    /// Whether grant `id`'s credential waits for delivery, without touching it.
    pub async fn credential_status(&self, id: &str) -> Result<CredentialStatus, EngineError> {
        let gid: GrantId = id
            .parse()
            .map_err(|_| EngineError::NotFound(format!("no grant `{id}`")))?;
        let accounts = self.store().accounts(gid).await?;
        Ok(if accounts.iter().any(|a| a.credential_waiting) {
            CredentialStatus::Waiting
        } else if accounts.is_empty() {
            CredentialStatus::None
        } else {
            CredentialStatus::Gone
        })
    }
}
