//! Reading the audit trail: pages of events in chain order, and a walk of the whole hash
//! chain that reports where it first breaks.

pub use warden_store::{AuditEvent, AuditReport, Broken};

use crate::{Engine, EngineError};

impl Engine {
    /// At most `limit` audit events with `seq > after`, in chain order.
    pub async fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<AuditEvent>, EngineError> {
        Ok(self.store().audit_after(after, limit).await?)
    }

    /// Walks the whole audit chain and reports the first break, if any.
    pub async fn verify_audit(&self) -> Result<AuditReport, EngineError> {
        Ok(self.store().verify_audit().await?)
    }
}
