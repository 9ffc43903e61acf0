//! Outbound alerts: audit events that leave the building. This crate holds what one
//! `[[alert]]` is — its configuration and the event patterns it subscribes to — how a
//! delivery is signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), and the sender that POSTs one signed JSON body and says whether it
//! was delivered. It knows nothing of the store or the engine: the engine reads the audit
//! trail, builds the body and schedules the durable jobs that call [`Sender::send`].
//!
//! Secrets are held in `secrecy` types and never appear in `Debug` output, logs or errors.

mod config;
mod pattern;
mod send;
mod sign;

pub use config::{AlertConfig, AlertConfigError};
pub use pattern::{EventPattern, PatternError};
pub use send::{DeliveryError, Sender};
pub use sign::{SecretError, Signer};
