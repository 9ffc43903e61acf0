//! `itsm_poll`: look for tickets an ITSM's webhooks missed. Act: ask the ITSM for tickets
//! changed since the cursor. Apply: queue a re-read of each (once), move the cursor,
//! schedule the next poll.

use warden_model::Timestamp;
use warden_store::Tx;

use super::itsm_sync::itsm_failure;
use super::{Effect, JobKey, JobKind, schedule};
use crate::{Engine, EngineError};

/// Tickets to re-read and the cursor to keep.
pub(crate) struct Polled {
    itsm: String,
    tickets: Vec<String>,
    cursor: Timestamp,
}

impl Engine {
    /// Asks ITSM `name` for tickets changed since its cursor.
    pub(crate) async fn act_itsm_poll(&self, name: &str) -> Result<Effect, EngineError> {
        let Some(inst) = self.itsms().get(name).cloned() else {
            return Ok(Effect::Nothing);
        };
        let now = self.now();
        let every = inst
            .config
            .poll_every
            .unwrap_or(warden_model::Duration::MIN);
        // The first poll looks back one period: tickets from before the first start are
        // left to their webhooks.
        let cursor = match self.store().itsm_cursor(name).await? {
            Some(c) => c,
            None => Timestamp::from_unix_millis(
                now.unix_millis() - i64::try_from(every.seconds()).unwrap_or(0) * 1_000,
            )
            .unwrap_or(now),
        };
        let changed = match inst.adapter.updated_since(cursor).await {
            Ok(c) => c,
            Err(e) => return Ok(itsm_failure(e)),
        };
        let next = changed.iter().map(|t| t.updated_at).max().unwrap_or(cursor);
        let tickets = changed.into_iter().map(|t| t.id).collect();
        Ok(Effect::Polled(Polled {
            itsm: name.to_owned(),
            tickets,
            cursor: next,
        }))
    }

    /// Queues the polled tickets (once each), moves the cursor, and schedules the next poll.
    pub(crate) async fn apply_itsm_poll(
        &self,
        tx: &mut Tx,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::Polled(Polled {
            itsm,
            tickets,
            cursor,
        }) = effect
        else {
            return Ok(());
        };
        let now = self.now();
        for t in tickets {
            let sync = JobKey::ItsmSync {
                itsm: itsm.clone(),
                ticket: t.clone(),
            };
            if !self
                .store()
                .job_pending(JobKind::ItsmSync.as_str(), &sync.key())
                .await?
            {
                schedule(tx, &sync, now, now).await?;
            }
        }
        tx.set_itsm_cursor(itsm, *cursor).await?;
        if let Some(every) = self.itsms().get(itsm).and_then(|i| i.config.poll_every) {
            let next = JobKey::ItsmPoll { itsm: itsm.clone() };
            schedule(tx, &next, now.plus(every), now).await?;
        }
        Ok(())
    }

    /// Schedules a poll of every ITSM that polls and has none pending.
    pub async fn schedule_polling(&self) -> Result<(), EngineError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        for name in self.itsms().names() {
            if self
                .itsms()
                .get(&name)
                .is_some_and(|i| i.config.poll_every.is_some())
            {
                schedule(&mut tx, &JobKey::ItsmPoll { itsm: name }, now, now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
