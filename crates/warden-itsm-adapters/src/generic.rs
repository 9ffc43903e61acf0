//! The generic adapter: the webhook body is already a Warden request (DESIGN §3.1). There is no
//! ticket to re-read, so the signature is the only trust; write-back and polling do nothing.

use async_trait::async_trait;
use warden_model::{Request, Timestamp};

use warden_itsm::{Adapter, Intake, ItsmConfig, ItsmError, Ticket, TicketApproval, TicketRef};

/// The generic adapter.
pub struct Generic {
    name: String,
}

impl Generic {
    /// An adapter for one `[[itsm]]` block of kind `generic`.
    pub fn new(config: &ItsmConfig) -> Self {
        Self {
            name: config.name.clone(),
        }
    }
}

#[async_trait]
impl Adapter for Generic {
    fn name(&self) -> &str {
        &self.name
    }

    fn ticket_from_webhook(&self, body: &[u8]) -> Result<Intake, ItsmError> {
        let mut r = Request::from_json(body).map_err(|e| ItsmError::invalid(e.to_string()))?;
        if r.ticket.is_none() {
            return Err(ItsmError::invalid(
                "`ticket`: is required so that retried deliveries are recognised",
            ));
        }
        // The source is the adapter, whatever the body says, so `(source, ticket)` stays unique
        // per sender and one sender cannot pose as another.
        r.source = Some(self.name.clone());
        Ok(Intake::Request(Box::new(r)))
    }

    async fn read_ticket(&self, id: &str) -> Result<Ticket, ItsmError> {
        Err(ItsmError::NotFound {
            what: format!("ticket `{id}` (the generic adapter has no ticket to read)"),
        })
    }

    async fn comment(&self, _id: &str, _text: &str) -> Result<(), ItsmError> {
        Ok(())
    }

    async fn set_status_field(
        &self,
        _id: &str,
        _field: &str,
        _value: &str,
    ) -> Result<(), ItsmError> {
        Ok(())
    }

    async fn approvals(&self, _id: &str) -> Result<Vec<TicketApproval>, ItsmError> {
        Ok(Vec::new())
    }

    async fn updated_since(&self, _cursor: Timestamp) -> Result<Vec<TicketRef>, ItsmError> {
        Ok(Vec::new())
    }
}
