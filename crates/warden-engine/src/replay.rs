//! Replay: re-decide a stored request with its stored bundle, inputs and instant, and say
//! whether the decision is the same, byte for byte.

use warden_model::Decision;
use warden_policy::DecisionInput;

use crate::view::StoredInput;
use crate::{Engine, EngineError};

/// The outcome of a replay.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replay {
    /// The request replayed.
    pub request_id: String,
    /// Whether the replayed decision is byte-identical to the stored one.
    pub identical: bool,
    /// The decision as stored.
    pub stored: Decision,
    /// The decision taken again now.
    pub replayed: Decision,
}

impl Engine {
    /// Replays request `id`.
    pub async fn replay(&self, id: &str) -> Result<Replay, EngineError> {
        let record = self.request_record(id).await?;
        let input: StoredInput = serde_json::from_value(record.request.clone())?;
        let stored: Decision = serde_json::from_value(record.decision.clone())?;
        let bundle = self.bundle_by_hash(&record.bundle_hash).await?;
        let replayed = bundle.decide(&DecisionInput {
            request: &input.request,
            grants: &input.active_grants,
            at: record.decided_at,
        });
        let identical = serde_json::to_string(&stored)? == serde_json::to_string(&replayed)?;
        Ok(Replay {
            request_id: id.to_owned(),
            identical,
            stored,
            replayed,
        })
    }
}
