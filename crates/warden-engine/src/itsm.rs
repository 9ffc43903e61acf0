//! The ITSM as the front door: the configured ITSMs, verified webhooks (which only queue a
//! re-read of the ticket), the write-backs a change schedules, and the identity a ticket's
//! name or email stands for. The jobs that re-read tickets (`itsm_sync`), write outcomes
//! (`itsm_write`, `itsm_comment`) and poll (`itsm_poll`) are in [`crate::job`].
//!
//! Nothing from a webhook payload is trusted but the ticket id.

use std::collections::HashMap;
use std::sync::Arc;

/// A webhook delivery's headers, as [`Engine::itsm_webhook`] reads them.
pub use warden_itsm::Headers;
use warden_itsm::{Adapter, IdentityMatch, ItsmConfig, Verifier};
use warden_model::{IdentityId, Timestamp};
use warden_store::{RequestId, RequestRecord, Tx};

use crate::intake::Intake;
use crate::job::{JobKey, WriteBack, schedule};
use crate::{Engine, EngineError};

/// One configured ITSM.
#[derive(Clone)]
pub struct ItsmInstance {
    /// Its API client.
    pub adapter: Arc<dyn Adapter>,
    /// Its webhook verifier.
    pub verifier: Arc<Verifier>,
    /// Its settings (field mapping, approval field, closure, polling).
    pub config: Arc<ItsmConfig>,
}

/// ITSM instances by name (`[[itsm]] name`, the requests' `source`).
#[derive(Clone, Default)]
pub struct Itsms(Arc<HashMap<String, ItsmInstance>>);

impl std::fmt::Debug for Itsms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_list().entries(names).finish()
    }
}

impl Itsms {
    /// The instances in `by_name`.
    pub fn new(by_name: HashMap<String, ItsmInstance>) -> Self {
        Self(Arc::new(by_name))
    }

    /// The instance named `name`.
    pub fn get(&self, name: &str) -> Option<&ItsmInstance> {
        self.0.get(name)
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

/// What a webhook delivery led to.
#[derive(Debug)]
pub enum Delivery {
    /// The same delivery came before; nothing was done.
    Duplicate,
    /// The ticket will be re-read and acted on by the worker.
    Queued {
        /// The ITSM's id of the ticket.
        ticket: String,
    },
    /// A generic adapter's request was taken in at once.
    Taken(Box<Intake>),
}

/// How long a webhook delivery is remembered, so that a replay of it is refused: a day.
/// Standard Webhooks deliveries are also refused once their timestamp is five minutes old.
pub const DELIVERY_MEMORY_SECONDS: i64 = 24 * 3_600;

impl Engine {
    /// Checks a webhook delivery for adapter `name` over its raw `body` and queues what it
    /// asks for. A bad or stale signature is [`EngineError::Unauthorized`] and nothing is
    /// stored; a delivery seen in the last [`DELIVERY_MEMORY_SECONDS`] (the same signed
    /// `webhook-id`, or for HMAC and shared secrets the same body) is
    /// [`Delivery::Duplicate`], and nothing is stored or queued.
    pub async fn itsm_webhook(
        &self,
        name: &str,
        headers: &warden_itsm::Headers,
        body: &[u8],
    ) -> Result<Delivery, EngineError> {
        let inst = self
            .itsms()
            .get(name)
            .ok_or_else(|| EngineError::NotFound(format!("no ITSM adapter `{name}`")))?;
        let now = self.now();
        let delivery = inst
            .verifier
            .verify(headers, body, now)
            .map_err(|e| EngineError::Unauthorized(e.to_string()))?;
        let asked = inst
            .adapter
            .ticket_from_webhook(body)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut tx = self.store().begin().await?;
        let forget_before = Timestamp::from_unix_millis(
            now.unix_millis()
                .saturating_sub(DELIVERY_MEMORY_SECONDS * 1_000),
        )
        .unwrap_or(now);
        if !tx
            .mark_delivery(name, &delivery.0, now, forget_before)
            .await?
        {
            tx.rollback().await?;
            return Ok(Delivery::Duplicate);
        }
        match asked {
            warden_itsm::Intake::Ticket(ticket) => {
                self.queue_sync(&mut tx, name, &ticket, now).await?;
                tx.commit().await?;
                Ok(Delivery::Queued { ticket })
            }
            warden_itsm::Intake::Request(request) => {
                tx.commit().await?;
                let taken = self.intake(&format!("itsm:{name}"), *request).await?;
                Ok(Delivery::Taken(Box::new(taken)))
            }
        }
    }

    async fn queue_sync(
        &self,
        tx: &mut Tx,
        name: &str,
        ticket: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let sync = JobKey::ItsmSync {
            itsm: name.to_owned(),
            ticket: ticket.to_owned(),
        };
        schedule(tx, &sync, now, now).await
    }

    /// Schedules a write-back of `event` on the ticket of request `r`, if its source is a
    /// configured ITSM and that ITSM took it in: a request filed some other way never
    /// writes on a ticket, however its `(source, ticket)` reads. Runs inside the
    /// transaction of the change it reports.
    pub(crate) async fn schedule_writeback(
        &self,
        tx: &mut Tx,
        r: &RequestRecord,
        event: WriteBack,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.itsms().get(&r.source).is_some() && r.filed_by == format!("itsm:{}", r.source) {
            let write = JobKey::ItsmWrite {
                request: r.id,
                event,
            };
            schedule(tx, &write, now, now).await?;
        }
        Ok(())
    }

    /// [`Engine::schedule_writeback`] for the request of a grant.
    pub(crate) async fn schedule_grant_writeback(
        &self,
        tx: &mut Tx,
        rid: RequestId,
        event: WriteBack,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.itsms().is_empty() {
            return Ok(());
        }
        if let Some(r) = tx.request(rid).await? {
            self.schedule_writeback(tx, &r, event, now).await?;
        }
        Ok(())
    }

    /// The active catalog identity whose `attribute` is `value`: by email through the
    /// catalog's email index, by login as the identity's id. Never one for the other.
    pub(crate) fn identity_named(
        &self,
        attribute: IdentityMatch,
        value: &str,
    ) -> Option<IdentityId> {
        let value = value.trim();
        let catalog = &self.bundle().catalog;
        let found = match attribute {
            IdentityMatch::Email => catalog.identity_by_email(value),
            IdentityMatch::Login => IdentityId::parse(value)
                .ok()
                .and_then(|id| catalog.identities.get(&id)),
        };
        found.filter(|i| i.is_active()).map(|i| i.id.clone())
    }
}
