//! `retire`: remove one generation of a grant's account — the one a rotation replaced, or
//! one made for a grant that had already moved on. Act: remove it from the target. Apply:
//! record it removed.

use warden_store::{AccountRecord, GrantId, Tx};

use super::Effect;
use crate::{Engine, EngineError, audit, note};

impl Engine {
    /// Removes generation `generation` of grant `gid` from its target.
    pub(crate) async fn act_retire(
        &self,
        gid: GrantId,
        generation: u32,
    ) -> Result<Effect, EngineError> {
        let accounts: Vec<AccountRecord> = self
            .store()
            .accounts(gid)
            .await?
            .into_iter()
            .filter(|a| a.generation == generation)
            .collect();
        self.remove_accounts(&accounts).await
    }

    /// Records the removed generations.
    pub(crate) async fn apply_retire(
        &self,
        tx: &mut Tx,
        gid: GrantId,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Removed { generations } = effect else {
            return Ok(());
        };
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
}
