//! `revoke`: remove a grant someone revoked (or an offboarding ended) from its target and
//! confirm it. Act: remove every live account. Apply: the grant becomes `revoked`, only
//! once the target confirmed every account gone.

use warden_model::{GrantState, Timestamp};
use warden_store::{AccountRecord, GrantId, GrantRecord, GrantTimes, Tx};

use super::{Effect, JobKey, WriteBack, schedule};
use crate::{Engine, EngineError};

impl Engine {
    /// Removes every live account of grant `gid`, if it is `revoking`.
    pub(crate) async fn act_revoke(&self, gid: GrantId) -> Result<Effect, EngineError> {
        self.remove_live(gid, &[GrantState::Revoking]).await
    }

    /// Removes every live account of grant `gid` from its target, if the grant is in one
    /// of `states`.
    pub(crate) async fn remove_live(
        &self,
        gid: GrantId,
        states: &[GrantState],
    ) -> Result<Effect, EngineError> {
        let Some(g) = self.store().grant(gid).await? else {
            return Ok(Effect::Nothing);
        };
        if !states.contains(&g.state) {
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

    /// The target confirmed every account of the grant gone: the grant becomes
    /// `revoked`.
    pub(crate) async fn confirm_revoked(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        if !matches!(effect, Effect::Removed { .. }) {
            return Ok(());
        }
        let Some(grant) = tx.grant(gid).await? else {
            return Ok(());
        };
        self.confirm_revoked_of(tx, grant, worker, effect).await
    }

    /// [`Engine::confirm_revoked`] for a grant this transaction has read or just moved.
    pub(crate) async fn confirm_revoked_of(
        &self,
        tx: &mut Tx,
        grant: GrantRecord,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Removed { generations } = effect else {
            return Ok(());
        };
        let gid = grant.id;
        let lag = |g: &GrantRecord, now: Timestamp| {
            g.expires_at
                .filter(|e| *e <= now)
                .map(|e| now.unix_millis() - e.unix_millis())
        };
        let moved = self
            .move_known_grant(
                tx,
                grant,
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
            self.schedule_grant_writeback(tx, m.grant.request_id, WriteBack::Revoked, m.now)
                .await?;
            // A generation made after the act step read the accounts (a rotation another
            // worker was running) is not in `generations`: it is retired, not left behind.
            for a in tx.accounts(gid).await? {
                if a.removed_at.is_none() && !generations.contains(&a.generation) {
                    let retire = JobKey::Retire {
                        grant: gid,
                        generation: a.generation,
                    };
                    schedule(tx, &retire, m.now, m.now).await?;
                }
            }
        }
        if let Some(ms) = moved.and_then(|m| lag(&m.grant, m.now)) {
            #[expect(clippy::cast_precision_loss, reason = "a metric in seconds")]
            self.metrics()
                .expiry_lag_seconds
                .observe(ms as f64 / 1_000.0);
        }
        Ok(())
    }
}
