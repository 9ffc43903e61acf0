//! Group commit for intake: requests decided at the same time are stored in one
//! transaction, so the audit chain's head is locked, and the database commits, once per
//! batch instead of once per request.
//!
//! There is no writer task. Each caller queues its decided request and then either
//! receives its answer or becomes the leader: the one caller holding the leader lock takes
//! everything queued (up to [`MAX_BATCH`]) and stores it. While a batch commits, the next
//! one gathers, so under load batches grow by themselves and with one caller at a time a
//! batch is that one request, stored at once.
//!
//! Each request of a batch is stored exactly as alone ([`Engine::store_intake`]), in
//! arrival order, each with its own audit event on the one chain. If the batch's
//! transaction fails, nothing of it is stored, and each request is then stored in a
//! transaction of its own, so that one bad request cannot fail the others.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::intake::{NewRequest, Stored};
use crate::{Engine, EngineError};

/// The most requests stored in one transaction: bounds how long the chain's head is held.
const MAX_BATCH: usize = 128;

/// Requests waiting to be stored, and the lock whose holder stores them.
#[derive(Default)]
pub(crate) struct IntakeQueue {
    pending: Mutex<Vec<Pending>>,
    leader: Arc<tokio::sync::Mutex<()>>,
}

/// One decided request and where its answer goes.
struct Pending {
    new: Box<NewRequest>,
    answer: oneshot::Sender<Answer>,
}

/// The answer to one queued request: the request handed back with what was stored, or
/// `None` when its `(source, ticket)` was already taken and nothing was stored.
type Answer = Result<Option<(Box<NewRequest>, Stored)>, EngineError>;

impl Engine {
    /// Stores `new` in the next batch and hands it back with what was stored; `Ok(None)`
    /// when its `(source, ticket)` was already stored, by someone else or by an earlier
    /// request of the same batch.
    pub(crate) async fn store_intake_grouped(&self, new: Box<NewRequest>) -> Answer {
        let queue = &self.inner.intake_queue;
        let (answer, mut answered) = oneshot::channel();
        queue
            .pending
            .lock()
            .map_err(|_| EngineError::broken("the intake queue is poisoned"))?
            .push(Pending { new, answer });
        loop {
            tokio::select! {
                biased;
                result = &mut answered => {
                    return result.map_err(|_| EngineError::broken("an intake batch was dropped"))?;
                }
                leadership = Arc::clone(&queue.leader).lock_owned() => {
                    let batch: Vec<Pending> = {
                        let mut pending = queue
                            .pending
                            .lock()
                            .map_err(|_| EngineError::broken("the intake queue is poisoned"))?;
                        let n = pending.len().min(MAX_BATCH);
                        pending.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        // An earlier leader took this request; its answer has been sent.
                        continue;
                    }
                    // Stored by a task of its own: a caller that goes away (its client
                    // hung up) must not abandon the batch it leads for everyone else.
                    let engine = self.clone();
                    let stored = tokio::spawn(async move {
                        engine.store_batch(batch).await;
                        drop(leadership);
                    });
                    if stored.await.is_err() {
                        return Err(EngineError::broken("storing an intake batch panicked"));
                    }
                }
            }
        }
    }

    /// Stores `batch` in one transaction, or, if that fails, each request alone; answers
    /// every request.
    async fn store_batch(&self, batch: Vec<Pending>) {
        let together = if batch.len() > 1 {
            self.store_together(&batch).await.ok()
        } else {
            None
        };
        match together {
            Some(stored) => {
                for (p, s) in batch.into_iter().zip(stored) {
                    // A caller that went away no longer wants its answer.
                    let _ = p.answer.send(Ok(s.map(|s| (p.new, s))));
                }
            }
            None => {
                for p in batch {
                    let result = self.store_alone(&p.new).await;
                    let _ = p.answer.send(result.map(|s| s.map(|s| (p.new, s))));
                }
            }
        }
    }

    async fn store_together(&self, batch: &[Pending]) -> Result<Vec<Option<Stored>>, EngineError> {
        let mut tx = self.store().begin().await?;
        let mut stored = Vec::with_capacity(batch.len());
        for p in batch {
            stored.push(self.store_intake(&mut tx, &p.new).await?);
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn store_alone(&self, new: &NewRequest) -> Result<Option<Stored>, EngineError> {
        let mut tx = self.store().begin().await?;
        let stored = self.store_intake(&mut tx, new).await?;
        if stored.is_some() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use std::path::Path;

    use warden_model::{Request, Timestamp};
    use warden_policy::Bundle;

    use super::*;
    use crate::intake::Decided;
    use crate::{EngineConfig, ManualClock};

    async fn engine() -> (Engine, tempfile::TempDir) {
        let (store, dir) = warden_store::testing::sqlite().await;
        let bundle = warden_policy::testing::record_only(
            &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
                .unwrap(),
        );
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-11-29T10:00:00Z").unwrap(),
        ));
        let engine = Engine::new(store, bundle, clock, EngineConfig::default())
            .await
            .unwrap();
        (engine, dir)
    }

    /// A request granted outright (so storing it also creates a grant), decided for `ticket`.
    async fn decided(e: &Engine, ticket: &str) -> Box<NewRequest> {
        let json = format!(
            r#"{{"source":"rt","ticket":"{ticket}","requester":"alice","role":"session-cache.read","duration":"2h","purpose":"debug"}}"#
        );
        match e
            .decide_intake("alice", Request::from_json(json.as_bytes()).unwrap())
            .await
            .unwrap()
        {
            Decided::New(new) => new,
            Decided::Known(_) => panic!("ticket {ticket} is already stored"),
        }
    }

    /// Stores `requests` as one batch and returns each one's answer, in order: whether it
    /// was stored.
    async fn store_as_batch(
        e: &Engine,
        requests: impl IntoIterator<Item = Box<NewRequest>>,
    ) -> Vec<Result<bool, EngineError>> {
        let mut batch = Vec::new();
        let mut answers = Vec::new();
        for new in requests {
            let (answer, answered) = oneshot::channel();
            batch.push(Pending { new, answer });
            answers.push(answered);
        }
        e.store_batch(batch).await;
        let mut results = Vec::new();
        for a in answers {
            results.push(a.await.unwrap().map(|s| s.is_some()));
        }
        results
    }

    async fn chain_is_whole(e: &Engine) -> bool {
        e.store()
            .verify_audit()
            .await
            .unwrap()
            .first_broken
            .is_none()
    }

    async fn tickets_stored(e: &Engine) -> Vec<String> {
        let mut tickets = Vec::new();
        for event in e.store().audit_after(0, 1_000).await.unwrap() {
            if event.action == "request.decided" {
                tickets.push(event.data["ticket"].as_str().unwrap().to_owned());
            }
        }
        tickets
    }

    #[tokio::test]
    async fn a_batch_is_stored_together_in_order_and_a_repeated_ticket_only_once() {
        let (e, _dir) = engine().await;
        let mut requests = Vec::new();
        for ticket in ["1", "2", "1", "3"] {
            requests.push(decided(&e, ticket).await);
        }
        let stored: Vec<bool> = store_as_batch(&e, requests)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored, [true, true, false, true]);
        assert_eq!(tickets_stored(&e).await, ["1", "2", "3"]);
        assert!(chain_is_whole(&e).await);
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_stored_does_not_fail_the_rest_of_its_batch() {
        let (e, _dir) = engine().await;
        let mut bad = decided(&e, "bad").await;
        // Approved, but without a role: creating its grant fails, and with it the batch.
        bad.decision.role = None;
        let requests = vec![decided(&e, "1").await, bad, decided(&e, "2").await];
        let results = store_as_batch(&e, requests).await;
        assert!(matches!(results[0], Ok(true)));
        assert!(results[1].is_err(), "{:?}", results[1]);
        assert!(matches!(results[2], Ok(true)));
        assert_eq!(tickets_stored(&e).await, ["1", "2"]);
        assert!(
            e.store()
                .request_by_ticket("rt", "bad")
                .await
                .unwrap()
                .is_none()
        );
        assert!(chain_is_whole(&e).await);
    }
}
