//! A ticket as Warden reads it back from the ITSM, its approvals, and the references the poller
//! sees. Only these re-read values are ever trusted, never a webhook payload.

use std::collections::BTreeMap;

use warden_model::{ApprovalDecision, Timestamp};

/// A ticket re-read through the ITSM's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The ITSM's own id: RT ticket number, ServiceNow `number`, Jira key.
    pub id: String,
    /// The ITSM's status word (`open`, `resolved`, `Waiting for support`, …).
    pub status: String,
    /// Whether the ticket is closed or resolved (what `revoke_on_close` acts on).
    pub closed: bool,
    /// The requester as the ITSM knows them: an email where the ITSM has one, else a login.
    pub requester: Option<String>,
    /// Every field and custom field, keyed the way `[itsm.fields]` names them
    /// (`CF.Access Duration`, `variables.access_duration`, `customfield_10050`, …).
    pub fields: BTreeMap<String, String>,
    /// When the ticket was created, if the ITSM says.
    pub created_at: Option<Timestamp>,
    /// When the ticket last changed, if the ITSM says.
    pub updated_at: Option<Timestamp>,
}

impl Ticket {
    /// The trimmed, non-empty value of `field`.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

impl TicketApproval {
    /// The approver's value of `attribute`, the only thing matched to an identity.
    pub fn attribute(&self, attribute: crate::IdentityMatch) -> Option<&str> {
        match attribute {
            crate::IdentityMatch::Email => self.email.as_deref(),
            crate::IdentityMatch::Login => self.login.as_deref(),
        }
        .map(str::trim)
        .filter(|v| !v.is_empty())
    }
}

/// One approval recorded in the ITSM. It counts only once Warden's own rules accept the approver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketApproval {
    /// A stable id for this approval in the ITSM (transaction id, `sysapproval_approver` sys_id,
    /// Jira approval id and approver), so the same approval is never counted twice.
    pub id: String,
    /// Who approved, as shown in comments: their email where the ITSM has one, else their
    /// login or account id.
    pub approver: String,
    /// The approver's email, if the ITSM has one.
    pub email: Option<String>,
    /// The approver's login name, if the ITSM has one.
    pub login: Option<String>,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// When it was recorded, if the ITSM says.
    pub at: Option<Timestamp>,
}

/// A ticket the poller found changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRef {
    /// The ITSM's id of the ticket.
    pub id: String,
    /// When it last changed.
    pub updated_at: Timestamp,
}
