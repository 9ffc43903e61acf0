//! Outbound alerts as the engine holds them: the configured alerts by name and how long a
//! delivery is retried, starting every alert's scan when a server starts, and what one
//! audit event becomes on the way out — the signed body's JSON, its stable `webhook-id`,
//! the text of its ticket — and what happens when a delivery is given up on.
//!
//! The audit trail is the outbox: nothing is queued beside it. An `alert_scan` job reads
//! the events after the alert's cursor and schedules one `alert_deliver` (and one
//! `alert_ticket`) job per matching event, in the transaction that moves the cursor
//! ([`crate::job`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_alert::{AlertConfig, Sender};
use warden_model::{Duration, Timestamp};
use warden_store::{AuditEvent, Job, Tx};

use crate::job::{JobKey, StepFailure, schedule};
use crate::{Engine, EngineError, audit, note};

/// The action audited when an alert's delivery of an event is given up on.
pub const UNDELIVERABLE: &str = "alert.undeliverable";

/// One configured alert.
#[derive(Clone)]
pub struct AlertInstance {
    /// Its settings: name, URL, event patterns, ITSM.
    pub config: Arc<AlertConfig>,
    /// Its signed sender; `None` when it only opens tickets.
    pub sender: Option<Arc<Sender>>,
}

/// The configured alerts by name, and how long each delivery is retried.
#[derive(Clone)]
pub struct Alerts {
    by_name: Arc<BTreeMap<String, AlertInstance>>,
    /// How long after an event's own time its delivery is retried before it is given up on
    /// and `alert.undeliverable` is audited.
    pub give_up_after: Duration,
}

/// The default of [`Alerts::give_up_after`]: a day.
pub const GIVE_UP_AFTER_SECONDS: u64 = 24 * 3_600;

impl Default for Alerts {
    fn default() -> Self {
        Self {
            by_name: Arc::default(),
            give_up_after: Duration::from_seconds(GIVE_UP_AFTER_SECONDS).unwrap_or(Duration::MIN),
        }
    }
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .field("give_up_after", &self.give_up_after)
            .finish()
    }
}

impl Alerts {
    /// The alerts in `by_name`, each delivery retried for `give_up_after`.
    pub fn new(by_name: BTreeMap<String, AlertInstance>, give_up_after: Duration) -> Self {
        Self {
            by_name: Arc::new(by_name),
            give_up_after,
        }
    }

    /// The alert named `name`.
    pub fn get(&self, name: &str) -> Option<&AlertInstance> {
        self.by_name.get(name)
    }

    /// Every alert's name, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// The `webhook-id` of an event's deliveries: the same on every attempt and after a
/// restart, so a receiver drops repeats.
pub(crate) fn webhook_id(e: &AuditEvent) -> String {
    format!("evt_{}", e.hash.strip_prefix("sha256:").unwrap_or(&e.hash))
}

/// The delivered body (docs/alerts.md): the event's action as `type`, its time, and the
/// event itself.
pub(crate) fn payload(e: &AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "type": e.action,
        "timestamp": e.at.to_string(),
        "data": {
            "seq": e.seq,
            "hash": e.hash,
            "actor": e.actor,
            "action": e.action,
            "request_id": e.request_id.map(|r| r.to_string()),
            "grant_id": e.grant_id.map(|g| g.to_string()),
            "before_state": e.before_state,
            "after_state": e.after_state,
            "data": e.data,
        },
    })
}

/// A ticket's subject and text for an event: what happened, when, by whom, about which
/// request and grant, and the event's data. Audit data never holds a secret.
pub(crate) fn ticket_text(e: &AuditEvent) -> (String, String) {
    let subject = format!("Warden alert: {}", e.action);
    let none = || "none".to_owned();
    let data = serde_json::to_string_pretty(&e.data).unwrap_or_else(|_| e.data.to_string());
    let text = format!(
        "Warden audited `{}` at {}.\n\nActor: {}\nRequest: {}\nGrant: {}\nAudit event: #{} ({})\n\nData:\n{data}\n",
        e.action,
        e.at,
        e.actor,
        e.request_id.map_or_else(none, |r| r.to_string()),
        e.grant_id.map_or_else(none, |g| g.to_string()),
        e.seq,
        e.hash,
    );
    (subject, text)
}

/// Whether `e` says that delivering to alert `name` failed: sending it to that alert would
/// fail again and say so again, without end.
pub(crate) fn is_about(name: &str, e: &AuditEvent) -> bool {
    e.action == UNDELIVERABLE && e.data.get("alert").and_then(|a| a.as_str()) == Some(name)
}

impl Engine {
    /// The configured alerts.
    pub fn alerts(&self) -> &Alerts {
        &self.config().alerts
    }

    /// Starts every alert's cursor that has none at the chain's current head (a new alert
    /// delivers what happens from now on, not the history), and schedules each alert's
    /// scan unless one is pending.
    pub async fn schedule_alert_scans(&self) -> Result<(), EngineError> {
        let names: Vec<String> = self.alerts().names().map(str::to_owned).collect();
        if names.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let (head, _) = self.store().audit_head().await?;
        let mut tx = self.store().begin().await?;
        for alert in names {
            tx.start_alert_cursor(&alert, head).await?;
            schedule(&mut tx, &JobKey::AlertScan { alert }, now, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The audit event at `seq`.
    pub(crate) async fn audit_event(&self, seq: u64) -> Result<Option<AuditEvent>, EngineError> {
        let found = self
            .store()
            .audit_after(seq.saturating_sub(1), 1)
            .await?
            .into_iter()
            .find(|e| e.seq == seq);
        Ok(found)
    }

    /// An alert job's delivery failed. It is retried with the worker's backoff (no sooner
    /// than a `Retry-After`) while the next attempt still falls within `give_up_after` of
    /// the event; then, or on a failure no retry can mend, the job ends and
    /// `alert.undeliverable` is audited. A retry is not audited: that event would itself be
    /// one to deliver, and a receiver that is down would be sent a growing pile of them.
    pub(crate) async fn alert_failed(
        &self,
        tx: &mut Tx,
        job: &Job,
        key: &JobKey,
        worker: &str,
        e: &StepFailure,
        next: Timestamp,
    ) -> Result<(), EngineError> {
        let Some((alert, seq)) = key.alert_event() else {
            return Err(EngineError::broken(
                "an alert failure for a job of another kind",
            ));
        };
        let now = self.now();
        let event = self.audit_event(seq).await?;
        let deadline = event
            .as_ref()
            .map(|ev| ev.at.plus(self.alerts().give_up_after));
        if e.is_transient() && deadline.is_some_and(|d| next <= d) {
            if tx
                .retry_job(job.id, worker, next, &e.to_string(), now)
                .await?
            {
                self.metrics().job_retries.inc();
            }
            return Ok(());
        }
        if !tx.kill_job(job.id, worker, &e.to_string(), now).await? {
            return Ok(());
        }
        let via = match key {
            JobKey::AlertTicket { .. } => "ticket",
            _ => "webhook",
        };
        audit(
            tx,
            note(
                now,
                format!("worker:{worker}"),
                UNDELIVERABLE,
                None,
                None,
                serde_json::json!({
                    "alert": alert,
                    "seq": seq,
                    "action": event.as_ref().map(|ev| ev.action.as_str()),
                    "via": via,
                    "attempts": job.attempts,
                    "last_error": e.to_string(),
                }),
            ),
        )
        .await?;
        tracing::error!(alert, seq, via, error = %e, "alert delivery given up");
        Ok(())
    }
}
