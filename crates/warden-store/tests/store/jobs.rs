//! Jobs: claimed once, leases expire, finishing is fenced by the lease owner.

use std::collections::HashSet;
use std::time::Duration;

use warden_store::{JobId, JobState, Store};

use crate::support::*;

const LEASE: Duration = Duration::from_secs(30);

async fn schedule(store: &Store, due_secs: &[i64]) -> Vec<JobId> {
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for (i, due) in due_secs.iter().enumerate() {
        ids.push(
            tx.schedule_job("expire", &format!("grant-{i}"), at(*due), at(0))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    ids
}

fn ids(jobs: &[warden_store::Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

both! {
    async fn due_jobs_are_claimed_once_earliest_first(db) {
        let jobs = schedule(&db.store, &[20, 10, 30, 1000]).await;
        let claimed = db.store.claim_jobs("a", at(100), LEASE, 10).await.unwrap();
        assert_eq!(ids(&claimed), vec![jobs[1], jobs[0], jobs[2]]);
        assert!(claimed.iter().all(|j| j.attempts == 1 && j.lease_owner.as_deref() == Some("a")));
        assert_eq!(claimed[0].lease_until, Some(at(130)));
        assert!(db.store.claim_jobs("b", at(101), LEASE, 10).await.unwrap().is_empty());
        // The limit is honoured.
        let later = db.store.claim_jobs("b", at(2000), LEASE, 0).await.unwrap();
        assert!(later.is_empty());
    }
}

both! {
    async fn expired_lease_is_claimed_again(db) {
        let jobs = schedule(&db.store, &[0]).await;
        assert_eq!(ids(&db.store.claim_jobs("a", at(1), LEASE, 10).await.unwrap()), jobs);
        assert!(db.store.claim_jobs("b", at(30), LEASE, 10).await.unwrap().is_empty(), "lease still held");
        let again = db.store.claim_jobs("b", at(31), LEASE, 10).await.unwrap();
        assert_eq!(ids(&again), jobs);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(again[0].lease_owner.as_deref(), Some("b"));
    }
}

both! {
    async fn stale_worker_cannot_finish_a_job_taken_over(db) {
        let jobs = schedule(&db.store, &[0]).await;
        let job = jobs[0];
        db.store.claim_jobs("a", at(1), LEASE, 10).await.unwrap();
        db.store.claim_jobs("b", at(40), LEASE, 10).await.unwrap();

        let mut tx = db.store.begin().await.unwrap();
        assert!(!tx.complete_job(job, "a", at(41)).await.unwrap());
        assert!(!tx.retry_job(job, "a", at(100), "boom", at(41)).await.unwrap());
        assert!(!tx.kill_job(job, "a", "boom", at(41)).await.unwrap());
        assert!(tx.complete_job(job, "b", at(42)).await.unwrap());
        assert!(!tx.complete_job(job, "b", at(43)).await.unwrap(), "finished once");
        tx.commit().await.unwrap();

        let stored = db.store.job(job).await.unwrap().unwrap();
        assert_eq!(stored.state, JobState::Done);
        assert_eq!(stored.lease_owner, None);
        assert!(db.store.claim_jobs("c", at(1000), LEASE, 10).await.unwrap().is_empty());
    }
}

both! {
    async fn retried_job_waits_for_its_new_due_time_and_killed_job_never_runs(db) {
        let jobs = schedule(&db.store, &[0, 0]).await;
        db.store.claim_jobs("a", at(1), LEASE, 10).await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.retry_job(jobs[0], "a", at(60), "target unreachable", at(2)).await.unwrap());
        assert!(tx.kill_job(jobs[1], "a", "role does not exist", at(2)).await.unwrap());
        tx.commit().await.unwrap();

        assert!(db.store.claim_jobs("b", at(59), LEASE, 10).await.unwrap().is_empty());
        let again = db.store.claim_jobs("b", at(60), LEASE, 10).await.unwrap();
        assert_eq!(ids(&again), vec![jobs[0]]);
        assert_eq!(again[0].last_error.as_deref(), Some("target unreachable"));
        let dead = db.store.job(jobs[1]).await.unwrap().unwrap();
        assert_eq!((dead.state, dead.last_error.as_deref()), (JobState::Dead, Some("role does not exist")));
    }
}

both! {
    async fn two_stores_claiming_together_never_share_a_job(db) {
        let scheduled: HashSet<JobId> = schedule(&db.store, &[0; 500]).await.into_iter().collect();
        let other = db.another_store().await;
        let claimer = |store: Store, worker: &'static str| {
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_jobs(worker, at(1), LEASE, 7).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(ids(&batch));
                }
            })
        };
        let a = claimer(db.store.clone(), "a");
        let b = claimer(other, "b");
        let (a, b) = (a.await.unwrap(), b.await.unwrap());

        let mut seen = HashSet::new();
        for id in a.iter().chain(&b) {
            assert!(seen.insert(*id), "job {id} claimed twice");
        }
        assert_eq!(seen, scheduled, "every job claimed");
        assert!(db.store.claim_jobs("c", at(2), LEASE, 10).await.unwrap().is_empty());
    }
}

both! {
    async fn periodic_jobs_are_pending_at_most_once(db) {
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.schedule_job_once("reconcile", "pg", at(10), at(0)).await.unwrap());
        assert!(!tx.schedule_job_once("reconcile", "pg", at(20), at(0)).await.unwrap());
        assert!(tx.schedule_job_once("reconcile", "redis", at(10), at(0)).await.unwrap());
        assert!(tx.schedule_job_once("itsm_poll", "pg", at(10), at(0)).await.unwrap());
        tx.commit().await.unwrap();
        // Once done, the next one may be scheduled.
        let jobs = db.store.claim_jobs("w", at(10), std::time::Duration::from_secs(30), 10).await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        for j in &jobs {
            assert!(tx.complete_job(j.id, "w", at(11)).await.unwrap());
        }
        assert!(tx.schedule_job_once("reconcile", "pg", at(20), at(11)).await.unwrap());
        tx.commit().await.unwrap();
    }
}

both! {
    async fn the_store_knows_no_kind_names(db) {
        // Any kind may be scheduled once or freely: who schedules says which.
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.schedule_job_once("access_review", "q1", at(10), at(0)).await.unwrap());
        assert!(!tx.schedule_job_once("access_review", "q1", at(20), at(0)).await.unwrap());
        // A job scheduled freely never blocks, and is never blocked by, a once-only one.
        tx.schedule_job("access_review", "q1", at(10), at(0)).await.unwrap();
        tx.schedule_job("reconcile", "pg", at(10), at(0)).await.unwrap();
        tx.schedule_job("reconcile", "pg", at(10), at(0)).await.unwrap();
        assert!(tx.schedule_job_once("reconcile", "pg", at(10), at(0)).await.unwrap());
        tx.commit().await.unwrap();
        let jobs = db.store.claim_jobs("w", at(10), std::time::Duration::from_secs(30), 10).await.unwrap();
        assert_eq!(jobs.len(), 5);
    }
}
