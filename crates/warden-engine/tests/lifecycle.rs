//! The request and grant lifecycle end to end on a real store (SQLite always, PostgreSQL
//! when `WARDEN_TEST_POSTGRES_URL` is set), driven by a manual clock — no sleeping.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use warden_engine::job::JobKind;
use warden_engine::{Engine, EngineConfig, EngineError, ManualClock};
use warden_model::{Duration, GrantState, IdentityId, Outcome, Request, RequestState, Timestamp};
use warden_policy::Bundle;
use warden_store::{ApprovalDecision, Store, testing};

struct Env {
    engine: Engine,
    clock: Arc<ManualClock>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

fn bundle() -> Bundle {
    // The lifecycle on its own: no system provisions through a connector here
    // (tests/provisioning.rs runs the lifecycle on real targets).
    warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    )
}

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-29T10:00:00Z").unwrap()
}

async fn engine_on(store: Store, clock: Arc<ManualClock>) -> Engine {
    Engine::new(store, bundle(), clock, EngineConfig::default())
        .await
        .unwrap()
}

impl Env {
    async fn sqlite() -> Env {
        let (store, dir) = testing::sqlite().await;
        let url = format!(
            "sqlite://{}",
            dir.path().join(testing::SQLITE_FILE).display()
        );
        let clock = Arc::new(ManualClock::new(t0()));
        Env {
            engine: engine_on(store, Arc::clone(&clock)).await,
            clock,
            url,
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<Env> {
        let (store, url) = testing::postgres().await?;
        let clock = Arc::new(ManualClock::new(t0()));
        Some(Env {
            engine: engine_on(store, Arc::clone(&clock)).await,
            clock,
            url,
            _dir: None,
        })
    }

    /// Another engine (its own pool, its own clock handle) on the same database, as a
    /// second `warden serve` process would be.
    async fn another_engine(&self) -> Engine {
        engine_on(
            Store::connect(&self.url).await.unwrap(),
            Arc::clone(&self.clock),
        )
        .await
    }

    async fn drain(&self) {
        while self.engine.run_due_jobs("w1").await.unwrap() > 0 {}
    }
}

macro_rules! both {
    ($name:ident, |$env:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $env = Env::sqlite().await;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some($env) = Env::postgres().await else {
                    return;
                };
                $body
            }
        }
    };
}

fn req(json: &str) -> Request {
    Request::from_json(json.as_bytes()).unwrap()
}

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

const CACHE_READ: &str = r#"{"source":"rt","ticket":"7","requester":"alice","role":"session-cache.read","duration":"2h","purpose":"debug"}"#;
const PAYMENTS_READ: &str = r#"{"source":"rt","ticket":"8","requester":"alice","task":"investigate-payment-incident","purpose":"INC-42"}"#;

both!(
    granted_request_is_activated_then_expires_and_is_revoked,
    |env| {
        let e = &env.engine;
        let intake = e.intake("alice", req(CACHE_READ)).await.unwrap();
        assert!(intake.created);
        assert_eq!(intake.view.state, RequestState::Approved);
        let grant = intake.view.grant.clone().unwrap();
        assert_eq!(grant.state, GrantState::Provisioning);

        env.clock.advance(Duration::parse("5s").unwrap());
        env.drain().await;
        let g = e.grant(&grant.id).await.unwrap();
        assert_eq!(g.state, GrantState::Active);
        // The clock starts at activation, not at the request.
        assert_eq!(
            g.activated_at,
            Some(t0().plus(Duration::parse("5s").unwrap()))
        );
        assert_eq!(
            g.expires_at,
            Some(t0().plus(Duration::parse("2h5s").unwrap()))
        );

        env.clock.advance(Duration::parse("1h").unwrap());
        env.drain().await;
        assert_eq!(e.grant(&grant.id).await.unwrap().state, GrantState::Active);

        env.clock.advance(Duration::parse("1h10s").unwrap());
        env.drain().await;
        let g = e.grant(&grant.id).await.unwrap();
        assert_eq!(g.state, GrantState::Revoked);
        assert!(g.revoked_at.unwrap() >= g.expires_at.unwrap());

        let report = e.store().verify_audit().await.unwrap();
        assert!(report.first_broken.is_none());
        let actions: Vec<String> = e
            .store()
            .audit_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        for expected in [
            "request.decided",
            "grant.created",
            "grant.activated",
            "grant.expired",
            "grant.revoked",
        ] {
            assert_eq!(
                actions.iter().filter(|a| *a == expected).count(),
                1,
                "{expected} in {actions:?}"
            );
        }
    }
);

both!(an_expiry_is_removed_and_confirmed_in_one_round, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(CACHE_READ)).await.unwrap().view;
    env.drain().await;
    let gid = v.grant.unwrap().id;
    env.clock.advance(Duration::parse("2h1s").unwrap());
    // One worker round: the `expire` job removes and confirms; nothing is left to run.
    assert_eq!(e.run_due_jobs("w").await.unwrap(), 1);
    assert_eq!(e.grant(&gid).await.unwrap().state, GrantState::Revoked);
    assert_eq!(e.run_due_jobs("w").await.unwrap(), 0);
    let kinds = [JobKind::Expire, JobKind::Revoke];
    for kind in kinds {
        assert!(!e.store().job_pending(kind.as_str(), &gid).await.unwrap());
    }
    let events = e.store().audit_after(0, 100).await.unwrap();
    let expired = events.iter().find(|a| a.action == "grant.expired").unwrap();
    let revoked = events.iter().find(|a| a.action == "grant.revoked").unwrap();
    assert!(expired.seq < revoked.seq);
    assert_eq!(expired.at, revoked.at, "one transaction, one instant");
});

both!(intake_is_idempotent_on_source_and_ticket, |env| {
    let e = &env.engine;
    let a = e.intake("alice", req(CACHE_READ)).await.unwrap();
    let b = e.intake("alice", req(CACHE_READ)).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.view.id, b.view.id);
    assert_eq!(a.view.grant.unwrap().id, b.view.grant.unwrap().id);
    let n = e.grants(&Default::default()).await.unwrap().len();
    assert_eq!(n, 1);
});

both!(
    approvals_come_only_from_eligible_people_and_count_once,
    |env| {
        let e = &env.engine;
        let v = e.intake("alice", req(PAYMENTS_READ)).await.unwrap().view;
        assert_eq!(v.state, RequestState::ApprovalRequired);
        assert_eq!(v.decision.approvals_needed(), 2);

        let refused = |r: Result<_, EngineError>| match r {
            Err(EngineError::Forbidden(why)) => why,
            other => panic!("expected forbidden, got {other:?}"),
        };
        let why = refused(
            e.answer(&id("alice"), &v.id, ApprovalDecision::Approve)
                .await,
        );
        assert!(why.contains("asked for this access"), "{why}");
        let why = refused(
            e.answer(&id("dave"), &v.id, ApprovalDecision::Approve)
                .await,
        );
        assert!(why.contains("cannot fill any approval"), "{why}");
        let why = refused(
            e.answer(&id("frank"), &v.id, ApprovalDecision::Approve)
                .await,
        );
        assert!(why.contains("disabled"), "{why}");

        let after_bob = e
            .answer(&id("bob"), &v.id, ApprovalDecision::Approve)
            .await
            .unwrap();
        assert_eq!(after_bob.state, RequestState::ApprovalRequired);
        let again = e
            .answer(&id("bob"), &v.id, ApprovalDecision::Approve)
            .await
            .unwrap();
        assert_eq!(
            again.approvals.len(),
            1,
            "a second approval by bob counts once"
        );
        assert_eq!(again.state, RequestState::ApprovalRequired);

        let done = e
            .answer(&id("carol"), &v.id, ApprovalDecision::Approve)
            .await
            .unwrap();
        assert_eq!(done.state, RequestState::Approved);
        assert_eq!(done.grant.unwrap().state, GrantState::Provisioning);
    }
);

both!(a_rejection_denies_the_request, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(PAYMENTS_READ)).await.unwrap().view;
    let done = e
        .answer(&id("bob"), &v.id, ApprovalDecision::Reject)
        .await
        .unwrap();
    assert_eq!(done.state, RequestState::Denied);
    assert!(done.grant.is_none());
    assert!(matches!(
        e.answer(&id("carol"), &v.id, ApprovalDecision::Approve)
            .await,
        Err(EngineError::Conflict(_))
    ));
});

both!(a_pending_request_lapses_after_the_approval_window, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(PAYMENTS_READ)).await.unwrap().view;
    env.clock.advance(Duration::parse("71h").unwrap());
    env.drain().await;
    assert_eq!(
        e.request(&v.id).await.unwrap().state,
        RequestState::ApprovalRequired
    );
    env.clock.advance(Duration::parse("2h").unwrap());
    env.drain().await;
    assert_eq!(e.request(&v.id).await.unwrap().state, RequestState::Expired);
});

both!(a_dry_run_sees_the_grants_another_process_changes, |env| {
    // The subject's grants, read for every decision, may be kept between decisions; never
    // past a change another process commits.
    let e = &env.engine;
    let other = env.another_engine().await;
    let ask = req(CACHE_READ);
    let none = e.dry_run(&ask).await.unwrap().input_hash;
    assert_eq!(e.dry_run(&ask).await.unwrap().input_hash, none);

    let granted = other.intake("alice", req(CACHE_READ)).await.unwrap().view;
    let gid = granted.grant.unwrap().id;
    let holding = e.dry_run(&ask).await.unwrap().input_hash;
    assert_ne!(
        holding, none,
        "the new grant is part of the decision's input"
    );
    assert_eq!(holding, other.dry_run(&ask).await.unwrap().input_hash);

    let revoking = other.revoke("admin", &gid, "done").await.unwrap();
    assert_eq!(revoking.state, GrantState::Revoking);
    assert_eq!(e.dry_run(&ask).await.unwrap().input_hash, none);
});

both!(explicit_revoke_is_confirmed_and_idempotent, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(CACHE_READ)).await.unwrap().view;
    env.drain().await;
    let gid = v.grant.unwrap().id;
    let g = e.revoke("admin", &gid, "incident").await.unwrap();
    assert_eq!(g.state, GrantState::Revoking);
    let again = e.revoke("admin", &gid, "incident").await.unwrap();
    assert_eq!(again.state, GrantState::Revoking);
    env.drain().await;
    assert_eq!(e.grant(&gid).await.unwrap().state, GrantState::Revoked);
    let revoked_events = e
        .store()
        .audit_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "grant.revoked")
        .count();
    assert_eq!(revoked_events, 1);
});

both!(
    a_denied_request_stores_no_grant_and_replays_identically,
    |env| {
        let e = &env.engine;
        let v = e
            .intake(
                "mallory-proxy",
                req(r#"{"requester":"mallory","role":"session-cache.read","purpose":"x"}"#),
            )
            .await
            .unwrap()
            .view;
        assert_eq!(v.decision.outcome, Outcome::Deny);
        assert_eq!(v.state, RequestState::Denied);
        assert!(v.grant.is_none());
        let r = e.replay(&v.id).await.unwrap();
        assert!(r.identical);
        let v2 = e.intake("alice", req(PAYMENTS_READ)).await.unwrap().view;
        assert!(e.replay(&v2.id).await.unwrap().identical);
    }
);

both!(overdue_work_is_picked_up_after_a_restart, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(CACHE_READ)).await.unwrap().view;
    env.drain().await;
    let gid = v.grant.unwrap().id;
    // The process stops; the grant falls due while nothing runs.
    env.clock.advance(Duration::parse("3h").unwrap());
    let restarted = env.another_engine().await;
    while restarted.run_due_jobs("w2").await.unwrap() > 0 {}
    assert_eq!(
        restarted.grant(&gid).await.unwrap().state,
        GrantState::Revoked
    );
    assert_eq!(
        restarted
            .store()
            .overdue_grants(env.clock_now())
            .await
            .unwrap(),
        0
    );
});

impl Env {
    fn clock_now(&self) -> Timestamp {
        use warden_engine::Clock;
        self.clock.now()
    }
}

/// Two engines (two pools, as two `warden serve` processes) share one PostgreSQL and run
/// their workers at the same time: every grant is activated and revoked exactly once.
#[tokio::test]
async fn two_workers_on_one_postgres_never_process_a_job_twice() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    let other = env.another_engine().await;
    let n = 120;
    for i in 0..n {
        let body = format!(
            r#"{{"source":"load","ticket":"{i}","requester":"alice","role":"session-cache.read","duration":"1h","purpose":"load"}}"#
        );
        env.engine.intake("alice", req(&body)).await.unwrap();
    }
    let run = |e: Engine, w: &'static str| async move {
        let mut total = 0;
        loop {
            let k = e.run_due_jobs(w).await.unwrap();
            if k == 0 {
                return total;
            }
            total += k;
        }
    };
    let (a, b) = tokio::join!(run(env.engine.clone(), "w1"), run(other.clone(), "w2"));
    assert_eq!(a + b, n, "each provision job ran once in all");
    env.clock.advance(Duration::parse("2h").unwrap());
    let (a, b) = tokio::join!(run(env.engine.clone(), "w1"), run(other.clone(), "w2"));
    // Expiry removes in one round: one `expire` job per grant, no `revoke` job after it.
    assert_eq!(a + b, n, "each expire job ran once in all");
    let events = env.engine.store().audit_after(0, 10_000).await.unwrap();
    for action in ["grant.activated", "grant.expired", "grant.revoked"] {
        assert_eq!(
            events.iter().filter(|e| e.action == action).count(),
            n,
            "{action}"
        );
    }
    let revoked = env
        .engine
        .store()
        .grants(&warden_store::GrantFilter {
            subject: None,
            system: None,
            state: Some(GrantState::Revoked),
            limit: 1_000,
        })
        .await
        .unwrap();
    assert_eq!(revoked.len(), n);
    assert!(
        env.engine
            .store()
            .verify_audit()
            .await
            .unwrap()
            .first_broken
            .is_none()
    );
}

both!(one_failing_job_does_not_hold_back_its_batch, |env| {
    let e = &env.engine;
    let v = e.intake("alice", req(CACHE_READ)).await.unwrap().view;
    let now = env.clock_now();
    let mut tx = e.store().begin().await.unwrap();
    let bad = tx
        .schedule_job("no-such-kind", "x", now, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    env.drain().await;
    // The good job in the same batch landed; the bad one is dead and raised an alert.
    let gid = v.grant.unwrap().id;
    assert_eq!(e.grant(&gid).await.unwrap().state, GrantState::Active);
    let job = e.store().job(bad).await.unwrap().unwrap();
    assert_eq!(job.state, warden_store::JobState::Dead);
    let alerts = e
        .store()
        .audit_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "alert.job_failed")
        .count();
    assert_eq!(alerts, 1);
});

// Intake stores requests filed at the same time together (group commit): each is stored
// once, with its own audit event on one unbroken chain, and a ticket filed several times at
// once is created once and answered from the store the other times.
both!(
    requests_filed_at_once_are_each_stored_once_on_one_chain,
    |env| {
        let mut filings = tokio::task::JoinSet::new();
        for n in 0..48 {
            let e = env.engine.clone();
            let ticket = if n % 12 == 0 {
                "same".to_owned()
            } else {
                format!("t{n}")
            };
            filings.spawn(async move {
            let json = format!(
                r#"{{"source":"rt","ticket":"{ticket}","requester":"alice","role":"session-cache.read","duration":"2h","purpose":"debug"}}"#
            );
            let intake = e.intake("alice", req(&json)).await.unwrap();
            (ticket, intake.created, intake.view.id)
        });
        }
        let mut created = std::collections::BTreeMap::<String, usize>::new();
        let mut ids =
            std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        while let Some(done) = filings.join_next().await {
            let (ticket, was_created, id) = done.unwrap();
            *created.entry(ticket.clone()).or_default() += usize::from(was_created);
            ids.entry(ticket).or_default().insert(id.to_string());
        }
        assert_eq!(created.len(), 45);
        assert!(created.values().all(|&n| n == 1), "{created:?}");
        // Every filing of the same ticket was answered with the one stored request.
        assert!(ids.values().all(|set| set.len() == 1), "{ids:?}");

        let e = &env.engine;
        let events = e.store().audit_after(0, 1_000).await.unwrap();
        let decided: Vec<&str> = events
            .iter()
            .filter(|a| a.action == "request.decided")
            .map(|a| a.data["ticket"].as_str().unwrap())
            .collect();
        assert_eq!(decided.len(), 45);
        assert_eq!(
            events
                .iter()
                .filter(|a| a.action == "grant.created")
                .count(),
            45
        );
        assert!(
            e.store()
                .verify_audit()
                .await
                .unwrap()
                .first_broken
                .is_none()
        );
    }
);

// Intake answers from what it just stored instead of reading it back: the answer is what a
// later read of the same request shows, for each outcome.
both!(intake_answers_with_the_request_as_stored, |env| {
    let e = &env.engine;
    let filings = [
        (
            "alice",
            r#"{"requester":"alice","role":"session-cache.read","duration":"2h","purpose":"debug"}"#,
            Outcome::Grant,
        ),
        (
            "alice",
            r#"{"requester":"alice","role":"payments-db.admin","needs":["read"],"purpose":"INC-42"}"#,
            Outcome::ApprovalRequired,
        ),
        (
            "mallory-proxy",
            r#"{"requester":"mallory","role":"session-cache.read","purpose":"x"}"#,
            Outcome::Deny,
        ),
    ];
    for (filer, json, outcome) in filings {
        let intake = e.intake(filer, req(json)).await.unwrap();
        assert!(intake.created);
        assert_eq!(intake.view.decision.outcome, outcome);
        assert_eq!(intake.view.grant.is_some(), outcome == Outcome::Grant);
        let read = e.request(&intake.view.id.to_string()).await.unwrap();
        assert_eq!(
            serde_json::to_value(&intake.view).unwrap(),
            serde_json::to_value(&read).unwrap(),
            "{outcome:?}"
        );
    }
});
