//! `rotate`: mint the next generation of a long-running grant's credential beside the
//! current one. Act: write the new generation's intent row, ask the target. Apply: record
//! the new generation, retire the old one after the overlap, schedule the next rotation.

use warden_model::{Duration, GrantState, Timestamp};
use warden_store::{GrantId, GrantRecord, Tx};

use super::provision::{Placed, Placement};
use super::{Effect, JobKey, schedule};
use crate::{Engine, EngineError, audit, note};

/// Generation `to` exists beside `from`, with its sealed credential; `rotate_every` as the
/// act step read it.
pub(crate) struct Rotated {
    from: u32,
    to: u32,
    sealed: Option<String>,
    rotate_every: Option<Duration>,
}

/// Schedules the next rotation if the role rotates (`every`, read by the act step with the
/// bundle that decided the grant) and the grant outlives it.
pub(crate) async fn schedule_rotation(
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
        schedule(tx, &JobKey::Rotate(g.id), at, now).await?;
    }
    Ok(())
}

impl Engine {
    /// Mints the next generation of an active grant's credential beside the current one.
    pub(crate) async fn act_rotate(&self, gid: GrantId) -> Result<Effect, EngineError> {
        let Some(g) = self.store().grant(gid).await? else {
            return Ok(Effect::Nothing);
        };
        let (GrantState::Active, Some(expires)) = (g.state, g.expires_at) else {
            return Ok(Effect::Nothing);
        };
        // A grant whose expiry has come is being removed by its `expire` job, perhaps in
        // this very batch: a new generation made now could slip past that removal.
        if expires <= self.now() {
            return Ok(Effect::Nothing);
        }
        let Placement::On(Placed {
            name,
            target,
            grants,
            rotate_every,
        }) = self.placement(&g).await?
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
            Ok(c) => Ok(Effect::Rotated(Rotated {
                from: current,
                to: next,
                sealed: self.seal(g.id, next, c)?,
                rotate_every,
            })),
            Err(e) => Ok(Effect::Failed(e.into())),
        }
    }

    /// Records the new generation, retires the old one after the overlap and schedules
    /// the next rotation; a grant that ended meanwhile loses the new generation too.
    pub(crate) async fn apply_rotate(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Rotated(Rotated {
            from,
            to,
            sealed,
            rotate_every,
        }) = effect
        else {
            return Ok(());
        };
        let now = self.now();
        let grant = tx.grant(gid).await?;
        let Some(g) = grant.filter(|g| g.state == GrantState::Active) else {
            // The grant ended while the target was asked: the new generation goes too.
            let retire = JobKey::Retire {
                grant: gid,
                generation: *to,
            };
            return schedule(tx, &retire, now, now).await;
        };
        tx.set_account_provisioned(gid, *to, sealed.as_deref(), now)
            .await?;
        let overlap = self.config().rotation_overlap;
        let retire = JobKey::Retire {
            grant: gid,
            generation: *from,
        };
        schedule(tx, &retire, now.plus(overlap), now).await?;
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
}
