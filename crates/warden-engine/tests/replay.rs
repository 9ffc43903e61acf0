//! Replay holds for every stored decision, even when the clock that decided had more
//! precision than the store keeps: on SQLite always, on PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use warden_engine::replay::ReplayTally;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Outcome, Request, Timestamp};
use warden_policy::Bundle;
use warden_store::{Store, testing};

fn bundle() -> Bundle {
    warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    )
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn req(json: &str) -> Request {
    Request::from_json(json.as_bytes()).unwrap()
}

async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let (store, dir) = testing::sqlite().await;
    let mut out = vec![(store, Some(dir))];
    if let Some((store, _)) = testing::postgres().await {
        out.push((store, None));
    }
    out
}

/// The wall clock reads nanoseconds; the store keeps milliseconds. Every decision taken
/// between sub-millisecond instants — granted outright (so later decisions see its grant),
/// pending, denied — replays byte for byte, one by one and all together.
#[tokio::test]
async fn decisions_taken_at_sub_millisecond_instants_replay_identically() {
    for (store, _dir) in stores().await {
        let clock = Arc::new(ManualClock::new(at("2026-11-29T10:00:00.123456789Z")));
        let engine = Engine::new(store, bundle(), clock.clone(), EngineConfig::default())
            .await
            .unwrap();
        let requests = [
            (
                "2026-11-29T10:00:00.123456789Z",
                r#"{"requester":"alice","role":"session-cache.read","duration":"2h","purpose":"debug"}"#,
                Outcome::Grant,
            ),
            (
                "2026-11-29T10:00:01.987654321Z",
                r#"{"requester":"alice","role":"session-cache.read","purpose":"again","requested_at":"2026-11-29T09:59:59.000000001Z"}"#,
                Outcome::Grant,
            ),
            (
                "2026-11-29T10:00:02.000999999Z",
                r#"{"requester":"alice","role":"payments-db.admin","needs":["read"],"purpose":"INC-42"}"#,
                Outcome::ApprovalRequired,
            ),
            (
                "2026-11-29T10:00:03.000000500Z",
                r#"{"requester":"mallory","role":"session-cache.read","purpose":"x"}"#,
                Outcome::Deny,
            ),
        ];
        let mut ids = Vec::new();
        for (now, json, outcome) in requests {
            clock.set(at(now));
            let view = engine.intake("alice", req(json)).await.unwrap().view;
            assert_eq!(view.decision.outcome, outcome, "{json}");
            // What the decision used is what was stored, to the millisecond.
            assert_eq!(view.decided_at, at(now).truncated_to_millis());
            ids.push(view.id);
        }
        for id in &ids {
            let r = engine.replay(id).await.unwrap();
            assert!(
                r.identical,
                "{id}: stored {:?}, replayed {:?}",
                r.stored.input_hash, r.replayed.input_hash
            );
        }
        let mut seen = Vec::new();
        let tally = engine
            .replay_all(3, |v| seen.push((v.request_id.clone(), v.identical)))
            .await
            .unwrap();
        assert_eq!(
            tally,
            ReplayTally {
                identical: 4,
                different: 0
            }
        );
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(
            seen.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
            sorted,
            "every request once, in id order, across pages"
        );
    }
}
