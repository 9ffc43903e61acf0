//! What every ITSM adapter shares: the [`Adapter`] trait and the ticket it reads, webhook
//! verification over the raw body, the `[[itsm]]` configuration, mapping a ticket to a request,
//! and the write-back texts. The adapters themselves (Request Tracker 5, ServiceNow, Jira
//! Service Management and a generic adapter) and their HTTP client live in
//! `warden-itsm-adapters`.
//!
//! This crate does no I/O beyond reading secret files, names no HTTP library, and never
//! touches the engine, the store or the HTTP server. Wiring it in:
//!
//! 1. **Configuration.** The server config holds `itsm: Vec<ItsmConfig>` (`[[itsm]]` blocks,
//!    unknown keys rejected). For each block call [`ItsmConfig::load_secrets`] with an
//!    environment lookup (`&|k| std::env::var(k).ok()`), then build once:
//!    [`Verifier::new`] for the webhook and `warden_itsm_adapters::build` for the API client.
//! 2. **Webhook** `POST /v1/itsm/{name}`: take the raw body bytes and the headers (as
//!    [`Headers`], built from the server's header pairs), call
//!    [`Verifier::verify`]`(headers, body, clock_now)`. An error is a 401 with its message and
//!    nothing stored. The returned [`DeliveryId`] is the dedup key: a delivery id already seen
//!    for this adapter is answered 200 and ignored. Then [`Adapter::ticket_from_webhook`]`(body)`:
//!    - [`Intake::Ticket`]`(id)`: re-read with [`Adapter::read_ticket`]; if `ticket.closed` and
//!      `revoke_on_close`, revoke the grant of `(name, id)`; else [`map()`] it with
//!      `config.fields` and a resolver from email (or login) to identity. A [`MappingError`] is
//!      written back with [`writeback::mapping_error_comment`] and nothing is decided. A request
//!      goes to intake, idempotent on `(source, ticket)`. Then read [`Adapter::approvals`] and
//!      record each through the engine's own approval rules (never requester or subject, only
//!      eligible groups); an approval refused by those rules gets
//!      [`writeback::ignored_approval_comment`]. Approvals are keyed by [`TicketApproval::id`].
//!    - [`Intake::Request`]: the generic adapter's request; straight to intake.
//! 3. **Write-back** runs from durable jobs and never blocks or undoes a decision: after a
//!    decision, [`Adapter::comment`] with [`writeback::decision_comment`] and, when
//!    `status_field` is set, [`Adapter::set_status_field`] with [`writeback::outcome_word`];
//!    while more approvals are needed set the approval field back to `approval.pending` and
//!    comment [`writeback::approvals_pending_comment`]; on activation
//!    [`writeback::activation_comment`]; on confirmed revocation
//!    [`writeback::revocation_comment`]. Retry while [`ItsmError::is_transient`] (honouring
//!    `retry_after`); other errors are final and audited.
//! 4. **Polling** every `poll_every`: [`Adapter::updated_since`]`(cursor)` returns tickets changed
//!    at or after the cursor (inclusive). Process each exactly like a webhook's ticket (intake is
//!    idempotent, approvals keyed by id), then store the largest `updated_at` seen as the cursor.
//!
//! Nothing from a payload is trusted but the ticket id; a secret never reaches an error, a log,
//! `Debug` output or a ticket.

pub mod adapter;
pub mod config;
pub mod error;
pub mod header;
pub mod mapping;
pub mod signature;
pub mod ticket;
pub mod writeback;

pub use adapter::{Adapter, Intake};
pub use config::{
    ApprovalConfig, FieldMap, IdentityConfig, IdentityMatch, ItsmConfig, ItsmKind, RevokeOnClose,
    SignatureKind,
};
pub use error::{ItsmConfigError, ItsmError};
pub use header::Headers;
pub use mapping::{MappingError, map};
pub use signature::{DeliveryId, SignatureError, Verifier};
pub use ticket::{Ticket, TicketApproval, TicketRef};
// The model's type, re-exported because [`TicketApproval`] carries it.
pub use warden_model::ApprovalDecision;
