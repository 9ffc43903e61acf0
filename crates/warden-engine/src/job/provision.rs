//! `provision`: make an approved grant exist on its target, then activate it.
//!
//! Act: the worker plans every provisioning job of a batch first ([`Engine::plan_provision`],
//! store reads only), writes all their intent rows in one transaction, then asks each
//! target ([`Engine::act_provision`]). The intent row names the account before the target
//! is asked, so a crash between the target's answer and the commit leaves a row naming the
//! account; the re-run provisions the same derived name again (idempotent) and no account
//! is orphaned.
//!
//! Apply: the grant becomes active and its clock starts; expiry, rotation and the ticket's
//! write-back are scheduled. A subject the active catalog bars gets nothing: the grant
//! fails, or — if the account was already made — the account is removed and the grant
//! revoked.

use std::sync::Arc;

use warden_connect::{AccountName, ConnectError, Spec};
use warden_model::{Duration, GrantState, IdentityId, Timestamp};
use warden_policy::Bundle;
use warden_store::{GrantId, GrantRecord, GrantTimes, NewAccount, Tx};

use super::{Effect, JobKey, Moved, WriteBack, schedule};
use crate::connectors::ConnectorInstance;
use crate::standing::{Barred, standing};
use crate::{Engine, EngineError};

/// A provisioning job's plan: its outcome already known, or a target call to make.
pub(crate) enum Plan {
    /// Nothing to ask of a target; this is the outcome.
    Done(Effect),
    /// Ask the target, after writing `intent`.
    Call(Planned),
}

/// A target call planned for a provisioning job.
pub(crate) struct Planned {
    grant: GrantId,
    subject: IdentityId,
    target: ConnectorInstance,
    spec: Spec,
    rotate_every: Option<Duration>,
    /// The row written before the call.
    pub(crate) intent: NewAccount,
}

/// An account a provisioning job made: generation `generation` exists on the target, with
/// its sealed credential if one was minted; `rotate_every` is the role's and `subject` the
/// grant's, as the act step read them.
pub(crate) struct Made {
    generation: u32,
    sealed: Option<String>,
    rotate_every: Option<Duration>,
    subject: IdentityId,
}

/// Where a grant is provisioned.
pub(crate) enum Placement {
    /// Its system names no connector: the grant is recorded, nothing is provisioned.
    RecordOnly,
    /// Its system names a connector this server does not have.
    Missing(String),
    /// On a configured connector.
    On(Placed),
}

/// A grant's connector, as the bundle that decided the grant names it.
pub(crate) struct Placed {
    pub(crate) name: String,
    pub(crate) target: ConnectorInstance,
    pub(crate) grants: Vec<String>,
    pub(crate) rotate_every: Option<Duration>,
}

impl Engine {
    /// The bundle that decided `g` (so a later bundle cannot change what an existing
    /// grant gives), and where `g` is provisioned according to it.
    pub(crate) async fn placement(&self, g: &GrantRecord) -> Result<Placement, EngineError> {
        let bundle: Arc<Bundle> = match self.store().request(g.request_id).await? {
            Some(r) => self.bundle_by_hash(&r.bundle_hash).await?,
            None => {
                return Err(EngineError::broken(format!(
                    "grant `{}` has no request",
                    g.id
                )));
            }
        };
        let catalog = &bundle.catalog;
        let Some(name) = catalog
            .systems
            .get(&g.system)
            .and_then(|s| s.connector.clone())
        else {
            return Ok(Placement::RecordOnly);
        };
        let Some(target) = self.connectors().get(&name).cloned() else {
            return Ok(Placement::Missing(name));
        };
        let role = catalog.roles.get(&g.role);
        Ok(Placement::On(Placed {
            name,
            target,
            grants: role.map(|r| r.grants.clone()).unwrap_or_default(),
            rotate_every: role.and_then(|r| r.rotate_every),
        }))
    }

    /// When a grant activated at `now` ends: its duration, capped by a third party's
    /// hard end.
    pub(crate) fn ends_at(&self, g: &GrantRecord, now: Timestamp) -> Timestamp {
        let mut expires = now.plus(g.duration);
        if let Some(ends) = self
            .bundle()
            .catalog
            .identities
            .get(&g.subject)
            .and_then(|i| i.access_ends)
        {
            expires = expires.min(ends.max(now));
        }
        expires
    }

    /// The account of generation `generation` of grant `g` on `target`.
    pub(crate) fn spec(
        &self,
        target: &ConnectorInstance,
        g: &GrantRecord,
        generation: u32,
        grants: &[String],
        until: Timestamp,
    ) -> Spec {
        Spec {
            account: AccountName::derive(&target.prefix, g.id.as_uuid(), generation),
            subject: g.subject.clone(),
            grants: grants.to_vec(),
            valid_until: until,
        }
    }

    /// The intent row for `spec`, to be written before the target is asked.
    pub(crate) fn intent(
        &self,
        name: &str,
        target: &ConnectorInstance,
        grant: GrantId,
        generation: u32,
        spec: &Spec,
    ) -> Result<NewAccount, EngineError> {
        Ok(NewAccount {
            grant_id: grant,
            generation,
            connector: name.to_owned(),
            name: spec.account.as_str().to_owned(),
            holds: serde_json::to_string(&target.connector.holds(spec))?,
        })
    }

    /// Writes intent rows in one transaction.
    pub(crate) async fn write_intents(&self, intents: &[NewAccount]) -> Result<(), EngineError> {
        if intents.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.store().begin().await?;
        for i in intents {
            tx.insert_account(i, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A minted credential, sealed under the server's key for grant `g`'s generation.
    pub(crate) fn seal(
        &self,
        g: GrantId,
        generation: u32,
        c: Option<warden_connect::Credential>,
    ) -> Result<Option<String>, EngineError> {
        c.map(|c| self.sealer().seal(&g.to_string(), generation, c.password()))
            .transpose()
    }

    /// What provisioning grant `gid` will ask of its target, read from the store; nothing
    /// is written and no target is asked.
    pub(crate) async fn plan_provision(&self, gid: GrantId) -> Result<Plan, EngineError> {
        let Some(g) = self.store().grant(gid).await? else {
            return Ok(Plan::Done(Effect::Nothing));
        };
        if g.state != GrantState::Provisioning {
            return Ok(Plan::Done(Effect::Nothing));
        }
        // The current catalog decides: a subject offboarded since the decision gets
        // nothing made for it.
        if let Err(barred) = standing(&self.bundle().catalog, &g.subject) {
            return Ok(Plan::Done(Effect::Barred(barred)));
        }
        let placed = match self.placement(&g).await? {
            Placement::RecordOnly => return Ok(Plan::Done(Effect::Nothing)),
            Placement::Missing(name) => {
                return Ok(Plan::Done(Effect::Failed(
                    ConnectError::Permanent(format!("connector `{name}` is not configured")).into(),
                )));
            }
            Placement::On(placed) => placed,
        };
        let spec = self.spec(
            &placed.target,
            &g,
            1,
            &placed.grants,
            self.ends_at(&g, self.now()),
        );
        let intent = self.intent(&placed.name, &placed.target, g.id, 1, &spec)?;
        Ok(Plan::Call(Planned {
            grant: g.id,
            subject: g.subject.clone(),
            target: placed.target,
            spec,
            rotate_every: placed.rotate_every,
            intent,
        }))
    }

    /// Carries out a plan: asks the target to make a planned account, its intent row
    /// already written.
    pub(crate) async fn act_provision(&self, plan: Plan) -> Result<Effect, EngineError> {
        let p = match plan {
            Plan::Done(effect) => return Ok(effect),
            Plan::Call(p) => p,
        };
        match p.target.connector.provision(&p.spec).await {
            Ok(c) => Ok(Effect::Provisioned(Made {
                generation: p.intent.generation,
                sealed: self.seal(p.grant, p.intent.generation, c)?,
                rotate_every: p.rotate_every,
                subject: p.subject,
            })),
            Err(e) => Ok(Effect::Failed(e.into())),
        }
    }

    /// The grant becomes active and its clock starts now; expiry (and rotation, if the
    /// role asks for it) are scheduled. An account made for a grant that moved on while
    /// the target was asked is retired at once.
    pub(crate) async fn apply_provision(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let (generation, sealed, rotate_every) = match effect {
            Effect::Provisioned(made) => {
                // Checked again now that the target has answered: the subject may have
                // been offboarded while its account was being made.
                if let Err(barred) = standing(&self.bundle().catalog, &made.subject) {
                    return self
                        .refuse_activation(tx, gid, worker, barred, Some(made.generation))
                        .await;
                }
                (
                    Some(made.generation),
                    made.sealed.as_deref(),
                    made.rotate_every,
                )
            }
            Effect::Barred(barred) => {
                return self.refuse_activation(tx, gid, worker, *barred, None).await;
            }
            _ => (None, None, None),
        };
        let moved = self
            .move_grant(
                tx,
                gid,
                worker,
                (GrantState::Provisioning, GrantState::Active),
                "grant.activated",
                |g, now| {
                    let expires = self.ends_at(g, now);
                    let times = GrantTimes {
                        activated_at: Some(now),
                        expires_at: Some(expires),
                        revoked_at: None,
                    };
                    let data = serde_json::json!({
                        "activated_at": now,
                        "expires_at": expires,
                        "generation": generation,
                        "credential": sealed.is_some(),
                    });
                    (times, data)
                },
            )
            .await?;
        let Some(Moved { grant, now, times }) = moved else {
            if let Some(generation) = generation {
                let now = self.now();
                let retire = JobKey::Retire {
                    grant: gid,
                    generation,
                };
                schedule(tx, &retire, now, now).await?;
            }
            return Ok(());
        };
        if let Some(generation) = generation {
            tx.set_account_provisioned(gid, generation, sealed, now)
                .await?;
        }
        let expires = times.expires_at.unwrap_or(now);
        schedule(tx, &JobKey::Expire(gid), expires, now).await?;
        self.schedule_grant_writeback(tx, grant.request_id, WriteBack::Activated, now)
            .await?;
        if generation.is_some() && sealed.is_some() {
            super::rotate::schedule_rotation(tx, &grant, rotate_every, now, expires).await?;
        }
        Ok(())
    }

    /// A grant whose subject may not act does not become active. Nothing made on the
    /// target: it fails. An account already made (`made`): it is recorded and removed, and
    /// the grant goes to `revoking` with reason `offboarded`.
    async fn refuse_activation(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        barred: Barred,
        made: Option<u32>,
    ) -> Result<(), EngineError> {
        let Some(generation) = made else {
            self.move_grant(
                tx,
                gid,
                worker,
                (GrantState::Provisioning, GrantState::Failed),
                "grant.failed",
                |g, _| {
                    let data = serde_json::json!({
                        "reason": barred.as_str(),
                        "error": barred.describe(&g.subject),
                    });
                    (GrantTimes::default(), data)
                },
            )
            .await?;
            return Ok(());
        };
        let now = self.now();
        // Recorded without its credential: the sealed copy is never delivered.
        tx.set_account_provisioned(gid, generation, None, now)
            .await?;
        if let Some(g) = tx.grant(gid).await?
            && g.state == GrantState::Provisioning
        {
            self.start_revocation(
                tx,
                &g,
                &format!("worker:{worker}"),
                barred.as_str(),
                super::offboard::OFFBOARDED,
                now,
            )
            .await?;
        } else {
            let retire = JobKey::Retire {
                grant: gid,
                generation,
            };
            schedule(tx, &retire, now, now).await?;
        }
        Ok(())
    }
}
