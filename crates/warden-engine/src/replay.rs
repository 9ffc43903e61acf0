//! Replay: re-decide a stored request with its stored bundle, inputs and instant, and say
//! whether the decision is the same, byte for byte — one request, or every stored request
//! a page at a time.

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

/// How many stored requests [`Engine::replay_all`] reads per page.
pub const REPLAY_PAGE: u32 = 500;

/// One request's verdict in [`Engine::replay_all`].
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The request replayed.
    pub request_id: String,
    /// Whether the replayed decision is byte-identical to the stored one.
    pub identical: bool,
    /// Why the request could not be replayed at all (then `identical` is false).
    pub problem: Option<String>,
}

/// What [`Engine::replay_all`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayTally {
    /// Requests whose decision replayed byte for byte.
    pub identical: u64,
    /// Requests whose decision differs or could not be replayed.
    pub different: u64,
}

impl Engine {
    /// Replays every stored request, `page` at a time, in id order, handing each verdict
    /// to `each`. Only one page of ids is held at once. A request that cannot be replayed
    /// (its stored JSON or bundle unreadable) counts as different; a database that cannot
    /// be reached ends the walk with an error.
    pub async fn replay_all(
        &self,
        page: u32,
        mut each: impl FnMut(&Verdict),
    ) -> Result<ReplayTally, EngineError> {
        let mut tally = ReplayTally::default();
        let mut after = None;
        loop {
            let ids = self.store().request_ids_after(after, page.max(1)).await?;
            let Some(last) = ids.last().copied() else {
                return Ok(tally);
            };
            for id in ids {
                let request_id = id.to_string();
                let verdict = match self.replay(&request_id).await {
                    Ok(r) => Verdict {
                        request_id,
                        identical: r.identical,
                        problem: None,
                    },
                    Err(e @ EngineError::Unavailable(_)) => return Err(e),
                    Err(e) => Verdict {
                        request_id,
                        identical: false,
                        problem: Some(e.to_string()),
                    },
                };
                if verdict.identical {
                    tally.identical += 1;
                } else {
                    tally.different += 1;
                }
                each(&verdict);
            }
            after = Some(last);
        }
    }

    /// Replays request `id`.
    pub async fn replay(&self, id: &str) -> Result<Replay, EngineError> {
        self.replay_record(&self.request_record(id).await?).await
    }

    /// Replays the stored request `record`.
    pub(crate) async fn replay_record(
        &self,
        record: &warden_store::RequestRecord,
    ) -> Result<Replay, EngineError> {
        let input: StoredInput = serde_json::from_value(record.request.clone())?;
        let stored: Decision = serde_json::from_value(record.decision.clone())?;
        let bundle = self.bundle_by_hash(&record.bundle_hash).await?;
        let replayed = bundle.decide(&DecisionInput {
            request: &input.request,
            grants: &input.active_grants,
            open_reviews: &input.open_reviews,
            at: record.decided_at,
        });
        let identical = serde_json::to_string(&stored)? == serde_json::to_string(&replayed)?;
        Ok(Replay {
            request_id: record.id.to_string(),
            identical,
            stored,
            replayed,
        })
    }
}
