//! `alert_scan`: one alert's periodic read of the audit trail, its outbox. Act: read the
//! events after the alert's cursor, in chain order, a bounded batch, and keep those it
//! subscribes to. Apply: schedule one `alert_deliver` (and, with an ITSM, one
//! `alert_ticket`) job per kept event, move the cursor past the batch and schedule the next
//! scan — all in one transaction, so an event is handed on once or not at all.

use warden_model::Duration;
use warden_store::Tx;

use super::{Effect, JobKey, schedule};
use crate::alert::is_about;
use crate::{Engine, EngineError};

/// The most events one scan reads.
const SCAN_BATCH: u32 = 250;
/// How long after a scan that caught up the next one runs.
const SCAN_EVERY_SECONDS: u64 = 1;

/// What one scan found.
pub(crate) struct Scanned {
    alert: String,
    /// The events to deliver, by seq.
    seqs: Vec<u64>,
    /// The seq the cursor moves to: the last event read.
    cursor: u64,
    /// Whether the batch was full: more events are waiting now.
    full: bool,
}

impl Engine {
    /// Reads alert `name`'s next batch of events.
    pub(crate) async fn act_alert_scan(&self, name: &str) -> Result<Effect, EngineError> {
        let Some(inst) = self.alerts().get(name).cloned() else {
            return Ok(Effect::Nothing);
        };
        let after = match self.store().alert_cursor(name).await? {
            Some(c) => c,
            // Started by `schedule_alert_scans`; a scan without one begins at the head.
            None => self.store().audit_head().await?.0,
        };
        let events = self.store().audit_after(after, SCAN_BATCH).await?;
        let full = events.len() >= usize::try_from(SCAN_BATCH).unwrap_or(usize::MAX);
        let cursor = events.last().map_or(after, |e| e.seq);
        let seqs = events
            .iter()
            .filter(|e| inst.config.wants(&e.action) && !is_about(name, e))
            .map(|e| e.seq)
            .collect();
        Ok(Effect::AlertScanned(Scanned {
            alert: name.to_owned(),
            seqs,
            cursor,
            full,
        }))
    }

    /// Schedules the scanned events' deliveries, moves the cursor, schedules the next scan.
    pub(crate) async fn apply_alert_scan(
        &self,
        tx: &mut Tx,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let Effect::AlertScanned(Scanned {
            alert,
            seqs,
            cursor,
            full,
        }) = effect
        else {
            return Ok(());
        };
        let Some(inst) = self.alerts().get(alert).cloned() else {
            return Ok(());
        };
        let now = self.now();
        // Only what no scan handed on yet: the cursor in this transaction is the truth.
        let done = tx.alert_cursor(alert).await?.unwrap_or(0);
        for &seq in seqs.iter().filter(|&&s| s > done) {
            if inst.sender.is_some() {
                let deliver = JobKey::AlertDeliver {
                    alert: alert.clone(),
                    seq,
                };
                schedule(tx, &deliver, now, now).await?;
            }
            if inst.config.itsm.is_some() {
                let ticket = JobKey::AlertTicket {
                    alert: alert.clone(),
                    seq,
                };
                schedule(tx, &ticket, now, now).await?;
            }
        }
        tx.set_alert_cursor(alert, *cursor).await?;
        let next = if *full {
            now
        } else {
            now.plus(Duration::from_seconds(SCAN_EVERY_SECONDS).unwrap_or(Duration::MIN))
        };
        let scan = JobKey::AlertScan {
            alert: alert.clone(),
        };
        schedule(tx, &scan, next, now).await
    }
}
