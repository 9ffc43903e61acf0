//! What operators watch: whether the database answers, and how many grants are live in each
//! state (read through the state index, never by loading grants).

pub use warden_store::LiveGrants;

use crate::{Engine, EngineError};

impl Engine {
    /// Succeeds when the database answers; any failure is [`EngineError::Unavailable`],
    /// with the database's error as its source.
    pub async fn health(&self) -> Result<(), EngineError> {
        self.store().ping().await.map_err(EngineError::Unavailable)
    }

    /// Grants not yet ended, by state, now; of those revoking, how many are past their
    /// `expires_at`.
    pub async fn live_grants(&self) -> Result<LiveGrants, EngineError> {
        Ok(self.store().live_grant_counts(self.now()).await?)
    }
}
