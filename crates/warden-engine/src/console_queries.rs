//! Small reads the web console needs besides the API's: where the audit chain ends, so that
//! its pages can count back from the newest event.

use crate::{Engine, EngineError};

impl Engine {
    /// The audit chain's head as stored: the last event's seq and hash (`0` and the genesis
    /// hash before the first event). Events are numbered from 1 with no gaps, so the head's
    /// seq is also how many there are.
    pub async fn audit_head(&self) -> Result<(u64, String), EngineError> {
        Ok(self.store().audit_head().await?)
    }
}
