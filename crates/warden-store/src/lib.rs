//! Warden's storage: one [`Store`] over SQLite (the embedded default) and PostgreSQL (to
//! scale out), with the same schema on both.
//!
//! Reads are methods on [`Store`]; writes go through a [`Tx`] so that a state change, its
//! audit event and the job it schedules commit together (DESIGN §4). This is the only crate
//! that names the database driver; its errors surface as [`StoreError`].

mod account;
mod alert;
mod approval;
mod audit;
mod bundle;
mod conn;
mod error;
mod evidence;
mod grant;
mod holder;
mod id;
mod itsm;
mod job;
mod local;
mod memo;
mod request;
mod review;
mod session;
mod store;
mod summary;
mod token;
mod wal_index;

#[cfg(feature = "testing")]
pub mod testing;

pub use account::{AccountRecord, NewAccount, TakenCredential};
pub use approval::Approval;
pub use audit::{AuditEvent, AuditReport, Broken, GENESIS_HASH, NewAuditEvent};
pub use bundle::{Activated, ActiveBundle, BundleFile};
pub use error::{Cause, StoreError};
pub use evidence::{DecisionFacts, EventFacts, GrantFacts, GrantWalk};
pub use grant::{GrantFilter, GrantRecord, GrantTimes, LiveGrants};
pub use id::{BadId, GrantId, ItemId, JobId, RequestId, ReviewId, TokenId};
pub use job::{Job, JobState, UnknownJobState};
pub use request::RequestRecord;
pub use review::{ItemRecord, ReviewKind, ReviewRecord, UnknownReviewKind};
pub use session::{OidcLogin, SessionRecord};
pub use store::{Backend, Store, StoreOptions, Tx};
pub use summary::{RoleLimits, RoleSummary, SummaryRules};
pub use token::{TokenRecord, token_hash};
// The model's type, re-exported because [`Approval`] carries it.
pub use warden_model::{ApprovalDecision, UnknownDecision};
