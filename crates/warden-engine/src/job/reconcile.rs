//! `reconcile`: compare one connector's target with the accounts Warden holds there. Act:
//! read the rows, then observe the target (and remove orphans when `remove_orphans` is
//! set). Apply: report drift as audit events and a metric, and schedule the next round.

use std::collections::BTreeSet;

use warden_connect::Held;
use warden_store::{GrantId, Tx};

use super::{Effect, JobKey, holds_of, schedule};
use crate::{Engine, EngineError, audit, note};

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

impl Engine {
    /// Observes connector `name`'s target against the live account rows.
    pub(crate) async fn act_reconcile(&self, name: &str) -> Result<Effect, EngineError> {
        let Some(target) = self.connectors().get(name) else {
            return Ok(Effect::Nothing);
        };
        // Rows first, then the target: an account made between the two reads shows on
        // the target with its row already written, so it is never called an orphan.
        let live = self.store().live_accounts(name).await?;
        let observed = match target.connector.observe().await {
            Ok(o) => o,
            Err(e) => return Ok(Effect::Failed(e.into())),
        };
        // Sets, and one query for the grants' states: a connector may hold many thousands
        // of accounts.
        let active_grants = self.store().active_grants_on(name).await?;
        let observed: BTreeSet<Held> = observed.into_iter().collect();
        let mut expected = BTreeSet::new();
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
            connector: name.to_owned(),
            orphans,
            missing,
            removed,
        }))
    }

    /// Reports drift as audit events and a metric, and schedules the next round.
    pub(crate) async fn apply_reconcile(
        &self,
        tx: &mut Tx,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Reconciled(d) = effect else {
            return Ok(());
        };
        let now = self.now();
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
        if let Some(every) = self.config().reconcile_every {
            let next = JobKey::Reconcile {
                connector: d.connector.clone(),
            };
            schedule(tx, &next, now.plus(every), now).await?;
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
        for name in self.connectors().names() {
            let key = JobKey::Reconcile {
                connector: name.to_owned(),
            };
            schedule(&mut tx, &key, now, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
