//! `review_due`: a review's reminder, or its due date. Store-only: the apply step audits
//! the reminder, or applies what silence decides (see `review::answer`).

use warden_store::{ReviewId, Tx};

use crate::{Engine, EngineError};

/// Which of a review's two instants a `review_due` job is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueStep {
    /// Three quarters of the time gone: remind.
    Remind,
    /// The due date.
    Due,
}

impl DueStep {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            DueStep::Remind => "remind",
            DueStep::Due => "due",
        }
    }

    /// The step stored as `s`.
    pub fn parse(s: &str) -> Option<DueStep> {
        [DueStep::Remind, DueStep::Due]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

impl Engine {
    /// Reminds, or applies the due date of, review `review` if it is still open.
    pub(crate) async fn apply_review_due(
        &self,
        tx: &mut Tx,
        review: ReviewId,
        step: DueStep,
        worker: &str,
    ) -> Result<(), EngineError> {
        // A review closed (or gone) since the job was scheduled needs neither.
        let Some(review) = tx.review(review).await?.filter(|r| r.open) else {
            return Ok(());
        };
        match step {
            DueStep::Remind => self.remind_review(tx, &review, worker).await,
            DueStep::Due => self.review_due(tx, &review, worker).await,
        }
    }
}
