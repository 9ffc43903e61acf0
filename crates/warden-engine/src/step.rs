//! What each job does: its target step ([`Engine::act`], the connector call, outside any
//! transaction) and how its outcome lands in the store (the `apply_*` steps, inside the
//! worker's transaction).
//!
//! Provisioning writes the account's intent row before the target is asked, so a crash
//! between the target's answer and the commit leaves a row naming the account; the re-run
//! provisions the same derived name again (idempotent) and no account is orphaned.

use std::sync::Arc;

use warden_connect::{AccountName, ConnectError, Held, Spec};
use warden_model::{Duration, GrantState, RequestState, Timestamp};
use warden_policy::Bundle;
use warden_store::{
    AccountRecord, GrantId, GrantRecord, GrantTimes, Job, NewAccount, NewAuditEvent, RequestId, Tx,
};

use crate::target::Target;
use crate::{Engine, EngineError, audit, job_kind, note};

/// What a job's target step found, applied in the transaction that finishes the job.
pub(crate) enum Effect {
    /// Nothing was asked of a target (a store-only job, a grant on a system without a
    /// connector, or a grant no longer in the state the job expects).
    Nothing,
    /// Generation `generation` exists on the target, with its sealed credential if one
    /// was minted; `rotate_every` is the role's and `subject` the grant's, as the act step
    /// read them.
    Provisioned {
        generation: u32,
        sealed: Option<String>,
        rotate_every: Option<Duration>,
        subject: warden_model::IdentityId,
    },
    /// Generation `to` exists beside `from`.
    Rotated {
        from: u32,
        to: u32,
        sealed: Option<String>,
        rotate_every: Option<Duration>,
    },
    /// These generations are confirmed gone from the target.
    Removed { generations: Vec<u32> },
    /// A connector's reconciliation.
    Reconciled(Drift),
    /// An ITSM poll: tickets to re-read and the cursor to keep.
    Polled {
        adapter: String,
        tickets: Vec<String>,
        cursor: Timestamp,
    },
    /// The target refused or could not be reached.
    Failed(ConnectError),
    /// An ITSM asked to be called again no sooner than this (HTTP 429 with `Retry-After`).
    Throttled(ConnectError, std::time::Duration),
    /// Identities the active bundle bars and that still hold something.
    Offboard(Vec<warden_model::IdentityId>),
    /// A grant's subject may not act any more: it must not become active.
    Barred(crate::standing::Barred),
}

/// What reconciliation found on one connector's target.
pub(crate) struct Drift {
    connector: String,
    /// On the target with Warden's prefix, but no live account row.
    orphans: Vec<Held>,
    /// Live, provisioned account rows of active grants the target does not show.
    missing: Vec<(GrantId, u32, Held)>,
    /// Orphans removed because `remove_orphans` is set.
    removed: Vec<Held>,
}

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
    subject: warden_model::IdentityId,
    target: Target,
    spec: Spec,
    rotate_every: Option<Duration>,
    /// The row written before the call.
    pub(crate) intent: NewAccount,
}

/// Where a grant is provisioned.
enum Placement {
    /// Its system names no connector: the grant is recorded, nothing is provisioned.
    RecordOnly,
    /// Its system names a connector this server does not have.
    Missing(String),
    /// On a configured connector.
    On {
        name: String,
        target: Target,
        grants: Vec<String>,
        rotate_every: Option<Duration>,
    },
}

/// A grant that [`Engine::move_grant`] moved: as it was before, when, and the times set.
pub(crate) struct Moved {
    pub(crate) grant: GrantRecord,
    pub(crate) now: Timestamp,
    pub(crate) times: GrantTimes,
}

fn grant_id(job: &Job) -> Result<GrantId, EngineError> {
    job.target_id
        .split(':')
        .next()
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| EngineError::Internal(format!("bad grant id `{}` in job", job.target_id)))
}

/// A `RETIRE` job's target: `GRANT:GENERATION`.
fn generation_of(job: &Job) -> Result<(GrantId, u32), EngineError> {
    let bad = || EngineError::Internal(format!("bad account `{}` in job", job.target_id));
    let (g, n) = job.target_id.split_once(':').ok_or_else(bad)?;
    Ok((g.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?))
}

/// Schedules the next rotation if the role rotates (`every`, read by the act step with the
/// bundle that decided the grant) and the grant outlives it.
async fn schedule_rotation(
    tx: &mut Tx,
    g: &GrantRecord,
    every: Option<Duration>,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), EngineError> {
    let Some(every) = every else {
        return Ok(());
    };
    let at = now.plus(every);
    if at < expires {
        tx.schedule_job(job_kind::ROTATE, &g.id.to_string(), at, now)
            .await?;
    }
    Ok(())
}

fn holds_json(holds: &[Held]) -> Result<String, EngineError> {
    Ok(serde_json::to_string(holds)?)
}

fn holds_of(a: &AccountRecord) -> Result<Vec<Held>, EngineError> {
    Ok(serde_json::from_str(&a.holds)?)
}

impl Engine {
    /// Runs `job`'s target step. Store errors are errors; a target's refusal is an
    /// [`Effect::Failed`] for the apply step to retry or report.
    pub(crate) async fn act(&self, job: &Job) -> Result<Effect, EngineError> {
        match job.kind.as_str() {
            job_kind::PROVISION => self.act_provision(job).await,
            job_kind::REVOKE => self.act_revoke(job).await,
            job_kind::ROTATE => self.act_rotate(job).await,
            job_kind::RETIRE => self.act_retire(job).await,
            job_kind::RECONCILE => self.act_reconcile(job).await,
            job_kind::ITSM_SYNC => self.act_itsm_sync(job).await,
            job_kind::ITSM_WRITE => self.act_itsm_write(job).await,
            job_kind::ITSM_POLL => self.act_itsm_poll(job).await,
            job_kind::OFFBOARD => self.act_offboard(job).await,
            _ => Ok(Effect::Nothing),
        }
    }

    /// The bundle that decided `g` (so a later bundle cannot change what an existing
    /// grant gives), and where `g` is provisioned according to it.
    async fn placement(&self, g: &GrantRecord) -> Result<Placement, EngineError> {
        let bundle: Arc<Bundle> = match self.store().request(g.request_id).await? {
            Some(r) => self.bundle_by_hash(&r.bundle_hash).await?,
            None => {
                return Err(EngineError::Internal(format!(
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
        let Some(target) = self.targets().get(&name).cloned() else {
            return Ok(Placement::Missing(name));
        };
        let role = catalog.roles.get(&g.role);
        Ok(Placement::On {
            name,
            target,
            grants: role.map(|r| r.grants.clone()).unwrap_or_default(),
            rotate_every: role.and_then(|r| r.rotate_every),
        })
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

    fn spec(
        &self,
        target: &Target,
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

    /// Writes the intent row for `spec` before the target is asked.
    /// The intent row for `spec`, to be written before the target is asked.
    fn intent(
        &self,
        name: &str,
        target: &Target,
        grant: GrantId,
        generation: u32,
        spec: &Spec,
    ) -> Result<NewAccount, EngineError> {
        Ok(NewAccount {
            grant_id: grant,
            generation,
            connector: name.to_owned(),
            name: spec.account.as_str().to_owned(),
            holds: holds_json(&target.connector.holds(spec))?,
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

    fn seal(
        &self,
        g: GrantId,
        generation: u32,
        c: Option<warden_connect::Credential>,
    ) -> Result<Option<String>, EngineError> {
        c.map(|c| self.sealer().seal(&g.to_string(), generation, c.password()))
            .transpose()
    }

    /// Provisioning one job on its own: plan, intent row, target call.
    async fn act_provision(&self, job: &Job) -> Result<Effect, EngineError> {
        match self.plan_provision(job).await? {
            Plan::Done(effect) => Ok(effect),
            Plan::Call(p) => {
                self.write_intents(std::slice::from_ref(&p.intent)).await?;
                self.call_provision(p).await
            }
        }
    }

    /// What provisioning job `job` will ask of its target, read from the store; nothing is
    /// written and no target is asked. The worker writes a whole batch's intent rows in one
    /// transaction before any of their target calls.
    pub(crate) async fn plan_provision(&self, job: &Job) -> Result<Plan, EngineError> {
        let Some(g) = self.store().grant(grant_id(job)?).await? else {
            return Ok(Plan::Done(Effect::Nothing));
        };
        if g.state != GrantState::Provisioning {
            return Ok(Plan::Done(Effect::Nothing));
        }
        // The current catalog decides: a subject offboarded since the decision gets
        // nothing made for it.
        if let Err(barred) = crate::standing::standing(&self.bundle().catalog, &g.subject) {
            return Ok(Plan::Done(Effect::Barred(barred)));
        }
        let (name, target, grants, rotate_every) = match self.placement(&g).await? {
            Placement::RecordOnly => return Ok(Plan::Done(Effect::Nothing)),
            Placement::Missing(name) => {
                return Ok(Plan::Done(Effect::Failed(ConnectError::Permanent(
                    format!("connector `{name}` is not configured"),
                ))));
            }
            Placement::On {
                name,
                target,
                grants,
                rotate_every,
            } => (name, target, grants, rotate_every),
        };
        let spec = self.spec(&target, &g, 1, &grants, self.ends_at(&g, self.now()));
        let intent = self.intent(&name, &target, g.id, 1, &spec)?;
        Ok(Plan::Call(Planned {
            grant: g.id,
            subject: g.subject.clone(),
            target,
            spec,
            rotate_every,
            intent,
        }))
    }

    /// Asks the target to make a planned account, its intent row already written.
    pub(crate) async fn call_provision(&self, p: Planned) -> Result<Effect, EngineError> {
        match p.target.connector.provision(&p.spec).await {
            Ok(c) => Ok(Effect::Provisioned {
                generation: p.intent.generation,
                sealed: self.seal(p.grant, p.intent.generation, c)?,
                rotate_every: p.rotate_every,
                subject: p.subject,
            }),
            Err(e) => Ok(Effect::Failed(e)),
        }
    }

    /// Removes every live account of the grant from its target.
    async fn act_revoke(&self, job: &Job) -> Result<Effect, EngineError> {
        let gid = grant_id(job)?;
        let Some(g) = self.store().grant(gid).await? else {
            return Ok(Effect::Nothing);
        };
        if g.state != GrantState::Revoking {
            return Ok(Effect::Nothing);
        }
        let live: Vec<AccountRecord> = self
            .store()
            .accounts(gid)
            .await?
            .into_iter()
            .filter(|a| a.removed_at.is_none())
            .collect();
        self.remove_accounts(&live).await
    }

    async fn remove_accounts(&self, accounts: &[AccountRecord]) -> Result<Effect, EngineError> {
        let mut generations = Vec::new();
        for a in accounts {
            let Some(target) = self.targets().get(&a.connector) else {
                return Ok(Effect::Failed(ConnectError::Permanent(format!(
                    "connector `{}` is not configured",
                    a.connector
                ))));
            };
            for held in holds_of(a)? {
                if let Err(e) = target.connector.remove(&held).await {
                    return Ok(Effect::Failed(e));
                }
            }
            generations.push(a.generation);
        }
        Ok(Effect::Removed { generations })
    }

    /// Mints the next generation of an active grant's credential beside the current one.
    async fn act_rotate(&self, job: &Job) -> Result<Effect, EngineError> {
        let Some(g) = self.store().grant(grant_id(job)?).await? else {
            return Ok(Effect::Nothing);
        };
        let (GrantState::Active, Some(expires)) = (g.state, g.expires_at) else {
            return Ok(Effect::Nothing);
        };
        let Placement::On {
            name,
            target,
            grants,
            rotate_every,
        } = self.placement(&g).await?
        else {
            return Ok(Effect::Nothing);
        };
        let accounts = self.store().accounts(g.id).await?;
        let Some(current) = accounts
            .iter()
            .filter(|a| a.removed_at.is_none() && a.provisioned_at.is_some())
            .map(|a| a.generation)
            .max()
        else {
            return Ok(Effect::Nothing);
        };
        let next = accounts
            .iter()
            .map(|a| a.generation)
            .max()
            .unwrap_or(current)
            + 1;
        let from = self.spec(&target, &g, current, &grants, expires);
        let to = self.spec(&target, &g, next, &grants, expires);
        let intent = self.intent(&name, &target, g.id, next, &to)?;
        self.write_intents(std::slice::from_ref(&intent)).await?;
        match target.connector.rotate(&from, &to).await {
            Ok(c) => Ok(Effect::Rotated {
                from: current,
                to: next,
                sealed: self.seal(g.id, next, c)?,
                rotate_every,
            }),
            Err(e) => Ok(Effect::Failed(e)),
        }
    }

    /// Removes one generation: the one a rotation replaced, or one made for a grant that
    /// had already moved on.
    async fn act_retire(&self, job: &Job) -> Result<Effect, EngineError> {
        let (gid, generation) = generation_of(job)?;
        let accounts: Vec<AccountRecord> = self
            .store()
            .accounts(gid)
            .await?
            .into_iter()
            .filter(|a| a.generation == generation)
            .collect();
        self.remove_accounts(&accounts).await
    }

    async fn act_reconcile(&self, job: &Job) -> Result<Effect, EngineError> {
        let name = job.target_id.clone();
        let Some(target) = self.targets().get(&name) else {
            return Ok(Effect::Nothing);
        };
        // Rows first, then the target: an account made between the two reads shows on
        // the target with its row already written, so it is never called an orphan.
        let live = self.store().live_accounts(&name).await?;
        let observed = match target.connector.observe().await {
            Ok(o) => o,
            Err(e) => return Ok(Effect::Failed(e)),
        };
        // Sets, and one query for the grants' states: a connector may hold many thousands
        // of accounts.
        let active_grants = self.store().active_grants_on(&name).await?;
        let observed: std::collections::BTreeSet<Held> = observed.into_iter().collect();
        let mut expected = std::collections::BTreeSet::new();
        let mut missing = Vec::new();
        for a in &live {
            let holds = holds_of(a)?;
            let active = a.provisioned_at.is_some() && active_grants.contains(&a.grant_id);
            for h in holds {
                if active && !observed.contains(&h) {
                    missing.push((a.grant_id, a.generation, h.clone()));
                }
                expected.insert(h);
            }
        }
        let orphans: Vec<Held> = observed
            .into_iter()
            .filter(|h| !expected.contains(h))
            .collect();
        let mut removed = Vec::new();
        if self.config().remove_orphans {
            for h in &orphans {
                match target.connector.remove(h).await {
                    Ok(()) => removed.push(h.clone()),
                    Err(e) => {
                        tracing::warn!(connector = %name, held = %h, error = %e, "orphan not removed")
                    }
                }
            }
        }
        Ok(Effect::Reconciled(Drift {
            connector: name,
            orphans,
            missing,
            removed,
        }))
    }

    /// Moves the job's grant from `from` to `to`, with the times and audit data `shape`
    /// derives from the grant and the current instant, and audits it as `action`. Returns
    /// what moved, or `None` — changing nothing — when the grant is gone or no longer in
    /// `from` (another path got there first).
    pub(crate) async fn move_grant(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        (from, to): (GrantState, GrantState),
        action: &str,
        shape: impl FnOnce(&GrantRecord, Timestamp) -> (GrantTimes, serde_json::Value),
    ) -> Result<Option<Moved>, EngineError> {
        let gid = grant_id(job)?;
        let Some(grant) = tx.grant(gid).await? else {
            return Ok(None);
        };
        if grant.state != from {
            return Ok(None);
        }
        let now = self.now();
        let (times, data) = shape(&grant, now);
        if !tx.set_grant_state(gid, from, to, times, now).await? {
            return Ok(None);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: format!("worker:{worker}"),
                action: action.into(),
                request_id: Some(grant.request_id),
                grant_id: Some(gid),
                before_state: Some(from.as_str().into()),
                after_state: Some(to.as_str().into()),
                bundle_hash: None,
                data,
            },
        )
        .await?;
        Ok(Some(Moved { grant, now, times }))
    }

    /// The grant becomes active and its clock starts now; expiry (and rotation, if the
    /// role asks for it) are scheduled. An account made for a grant that moved on while
    /// the target was asked is retired at once.
    pub(crate) async fn apply_provision(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let (generation, sealed, rotate_every) = match effect {
            Effect::Provisioned {
                generation,
                sealed,
                rotate_every,
                subject,
            } => {
                // Checked again now that the target has answered: the subject may have
                // been offboarded while its account was being made.
                if let Err(barred) = crate::standing::standing(&self.bundle().catalog, subject) {
                    return self
                        .refuse_activation(tx, job, worker, barred, Some(*generation))
                        .await;
                }
                (Some(*generation), sealed.as_deref(), *rotate_every)
            }
            Effect::Barred(barred) => {
                return self.refuse_activation(tx, job, worker, *barred, None).await;
            }
            _ => (None, None, None),
        };
        let moved = self
            .move_grant(
                tx,
                job,
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
        let gid = grant_id(job)?;
        let Some(Moved { grant, now, times }) = moved else {
            if let Some(generation) = generation {
                let now = self.now();
                tx.schedule_job(job_kind::RETIRE, &format!("{gid}:{generation}"), now, now)
                    .await?;
            }
            return Ok(());
        };
        if let Some(generation) = generation {
            tx.set_account_provisioned(gid, generation, sealed, now)
                .await?;
        }
        let expires = times.expires_at.unwrap_or(now);
        tx.schedule_job(job_kind::EXPIRE, &gid.to_string(), expires, now)
            .await?;
        self.schedule_grant_writeback(tx, grant.request_id, crate::itsm::ACTIVATED, now)
            .await?;
        if generation.is_some() && sealed.is_some() {
            schedule_rotation(tx, &grant, rotate_every, now, expires).await?;
        }
        Ok(())
    }

    /// A grant whose subject may not act does not become active. Nothing made on the
    /// target: it fails. An account already made (`made`): it is recorded and removed, and
    /// the grant goes to `revoking` with reason `offboarded`.
    async fn refuse_activation(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        barred: crate::standing::Barred,
        made: Option<u32>,
    ) -> Result<(), EngineError> {
        let Some(generation) = made else {
            self.move_grant(
                tx,
                job,
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
        let gid = grant_id(job)?;
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
                crate::offboarding::OFFBOARDED,
                now,
            )
            .await?;
        } else {
            tx.schedule_job(job_kind::RETIRE, &format!("{gid}:{generation}"), now, now)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn apply_rotate(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Rotated {
            from,
            to,
            sealed,
            rotate_every,
        } = effect
        else {
            return Ok(());
        };
        let gid = grant_id(job)?;
        let now = self.now();
        let grant = tx.grant(gid).await?;
        let Some(g) = grant.filter(|g| g.state == GrantState::Active) else {
            // The grant ended while the target was asked: the new generation goes too.
            tx.schedule_job(job_kind::RETIRE, &format!("{gid}:{to}"), now, now)
                .await?;
            return Ok(());
        };
        tx.set_account_provisioned(gid, *to, sealed.as_deref(), now)
            .await?;
        let overlap = self.config().rotation_overlap;
        tx.schedule_job(
            job_kind::RETIRE,
            &format!("{gid}:{from}"),
            now.plus(overlap),
            now,
        )
        .await?;
        audit(
            tx,
            note(
                now,
                format!("worker:{worker}"),
                "grant.rotated",
                Some(g.request_id),
                Some(gid),
                serde_json::json!({
                    "from_generation": from,
                    "to_generation": to,
                    "old_ends_at": now.plus(overlap),
                }),
            ),
        )
        .await?;
        if let Some(expires) = g.expires_at {
            schedule_rotation(tx, &g, *rotate_every, now, expires).await?;
        }
        Ok(())
    }

    pub(crate) async fn apply_retire(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Removed { generations } = effect else {
            return Ok(());
        };
        let (gid, _) = generation_of(job)?;
        let now = self.now();
        for generation in generations {
            tx.set_account_removed(gid, *generation, now).await?;
            audit(
                tx,
                note(
                    now,
                    format!("worker:{worker}"),
                    "account.removed",
                    None,
                    Some(gid),
                    serde_json::json!({ "generation": generation }),
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// A grant's expiry has come: it moves to `revoking` and revocation is scheduled.
    pub(crate) async fn expire(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
    ) -> Result<(), EngineError> {
        let moved = self
            .move_grant(
                tx,
                job,
                worker,
                (GrantState::Active, GrantState::Revoking),
                "grant.expired",
                |g, _| {
                    let data = serde_json::json!({ "expires_at": g.expires_at });
                    (GrantTimes::default(), data)
                },
            )
            .await?;
        if let Some(Moved { grant, now, .. }) = moved {
            tx.set_grant_end_reason(grant.id, "it expired").await?;
            tx.schedule_job(job_kind::REVOKE, &grant.id.to_string(), now, now)
                .await?;
        }
        Ok(())
    }

    /// The target confirmed every account of the grant gone: the grant becomes
    /// `revoked`.
    pub(crate) async fn confirm_revoked(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Removed { generations } = effect else {
            return Ok(());
        };
        let gid = grant_id(job)?;
        let lag = |g: &GrantRecord, now: Timestamp| {
            g.expires_at
                .filter(|e| *e <= now)
                .map(|e| now.unix_millis() - e.unix_millis())
        };
        let moved = self
            .move_grant(
                tx,
                job,
                worker,
                (GrantState::Revoking, GrantState::Revoked),
                "grant.revoked",
                |g, now| {
                    let times = GrantTimes {
                        revoked_at: Some(now),
                        ..GrantTimes::default()
                    };
                    let data = serde_json::json!({
                        "confirmed_at": now,
                        "expires_at": g.expires_at,
                        "lag_ms": lag(g, now),
                        "generations": generations,
                    });
                    (times, data)
                },
            )
            .await?;
        if let Some(m) = &moved {
            self.metrics().grants_revoked.inc();
            for generation in generations {
                tx.set_account_removed(gid, *generation, m.now).await?;
            }
            self.schedule_grant_writeback(tx, m.grant.request_id, crate::itsm::REVOKED, m.now)
                .await?;
        }
        if let Some(ms) = moved.and_then(|m| lag(&m.grant, m.now)) {
            #[expect(clippy::cast_precision_loss, reason = "a metric in seconds")]
            self.metrics()
                .expiry_lag_seconds
                .observe(ms as f64 / 1_000.0);
        }
        Ok(())
    }

    /// Reports drift as audit events and a metric, and schedules the next round.
    pub(crate) async fn apply_reconcile(
        &self,
        tx: &mut Tx,
        _job: &Job,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let now = self.now();
        if let Effect::Reconciled(d) = effect {
            let event = |action: &str, grant: Option<GrantId>, data: serde_json::Value| {
                note(now, format!("worker:{worker}"), action, None, grant, data)
            };
            for h in &d.orphans {
                let data = serde_json::json!({ "connector": d.connector, "held": h });
                audit(tx, event("drift.orphan", None, data)).await?;
            }
            for (g, generation, h) in &d.missing {
                let data = serde_json::json!({ "connector": d.connector, "generation": generation, "held": h });
                audit(tx, event("drift.missing", Some(*g), data)).await?;
            }
            for h in &d.removed {
                let data = serde_json::json!({ "connector": d.connector, "held": h });
                audit(tx, event("drift.removed", None, data)).await?;
            }
            let remaining = d.orphans.len() - d.removed.len();
            self.metrics()
                .set_drift(&d.connector, remaining, d.missing.len());
        }
        if let Some(every) = self.config().reconcile_every {
            let next = now.plus(every);
            if let Effect::Reconciled(d) = effect {
                tx.schedule_job_once(job_kind::RECONCILE, &d.connector, next, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// A pending request's approval window has lapsed.
    pub(crate) async fn lapse(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
    ) -> Result<(), EngineError> {
        let rid: RequestId = job.target_id.parse().map_err(|_| {
            EngineError::Internal(format!("bad request id `{}` in job", job.target_id))
        })?;
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

    /// Schedules a reconciliation of every configured connector that has none pending.
    pub async fn schedule_reconciliation(&self) -> Result<(), EngineError> {
        if self.config().reconcile_every.is_none() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.store().begin().await?;
        for name in self.targets().names() {
            tx.schedule_job_once(job_kind::RECONCILE, name, now, now)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
