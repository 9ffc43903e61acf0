//! The `Adapter` trait every ITSM implements, and what a verified webhook asks for. The
//! adapters themselves, and the HTTP client they share, live in `warden-itsm-adapters`.

use async_trait::async_trait;
use warden_model::{Request, Timestamp};

use crate::error::ItsmError;
use crate::ticket::{Ticket, TicketApproval, TicketRef};

/// What a verified webhook asks Warden to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intake {
    /// Re-read this ticket (the ITSM's id) and act on what the API says, not on the payload.
    Ticket(String),
    /// The generic adapter's body: a request that needs no re-read.
    Request(Box<Request>),
}

/// One ITSM. Every call re-reads or writes through the ITSM's API; nothing from a webhook
/// payload is trusted except the ticket id taken by [`Adapter::ticket_from_webhook`].
#[async_trait]
pub trait Adapter: Send + Sync {
    /// The adapter's name (`[[itsm]] name`), which is every request's `source`.
    fn name(&self) -> &str;

    /// Takes the ticket id out of a verified webhook body (or, for `generic`, the request).
    fn ticket_from_webhook(&self, body: &[u8]) -> Result<Intake, ItsmError>;

    /// Re-reads a ticket with its fields and custom fields.
    async fn read_ticket(&self, id: &str) -> Result<Ticket, ItsmError>;

    /// Adds an internal comment or work note.
    async fn comment(&self, id: &str, text: &str) -> Result<(), ItsmError>;

    /// Sets one field of the ticket (the outcome word in the status field, or the approval
    /// field back to `pending`).
    async fn set_status_field(&self, id: &str, field: &str, value: &str) -> Result<(), ItsmError>;

    /// The approvals and rejections recorded on the ticket, oldest first.
    async fn approvals(&self, id: &str) -> Result<Vec<TicketApproval>, ItsmError>;

    /// Opens a new ticket with `subject` and `text` and returns its id: an outbound alert
    /// that did not come from a ticket of this ITSM. Kinds that cannot open tickets keep
    /// this default, a permanent error.
    async fn open_ticket(&self, subject: &str, text: &str) -> Result<String, ItsmError> {
        let _ = (subject, text);
        Err(ItsmError::invalid(format!(
            "this ITSM kind cannot open tickets (itsm `{}`)",
            self.name()
        )))
    }

    /// Tickets changed at or after `cursor` (inclusive, so a change in the cursor's own second is
    /// never missed); the poller keeps the largest `updated_at` it saw as the next cursor.
    async fn updated_since(&self, cursor: Timestamp) -> Result<Vec<TicketRef>, ItsmError>;
}
