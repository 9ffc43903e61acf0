//! Warden's bundle and its decisions: the catalog, Cedar policies and policy tests are
//! loaded and validated here, and `decide()` turns a request into a decision — purely.
//!
//! This is the only crate that names `cedar_policy`.

pub mod authorization;
#[cfg(feature = "bench")]
pub mod bare;
pub mod bundle;
pub mod case;
pub mod catalog;
mod compiled;
mod cover;
pub mod decide;
pub mod policy_file;
pub mod schema;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;

pub use authorization::{Action, Answer, AuthContext, Evaluation};
pub use bundle::Bundle;
pub use catalog::Catalog;
pub use decide::{DecisionInput, input_hash};
pub use source::{LoadError, LoadErrors, SourceFile};
