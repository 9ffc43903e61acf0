//! The worker: claims due jobs from the durable job table and runs them in two phases.
//!
//! First each claimed job's act step runs (`Engine::act`): the connector or ITSM call, the
//! only I/O outside the store, run for the whole batch concurrently. Then one transaction
//! applies every outcome (`Engine::apply`): the state change, its audit event, the
//! follow-up job and the job's own completion, retry or end. Completion is fenced by the
//! job's lease, so a job whose lease passed to another worker is never applied twice; the
//! act steps are idempotent, so running one twice changes nothing on the target.

use std::time::Duration as StdDuration;

use futures::StreamExt as _;
use warden_model::{Duration, GrantState};
use warden_store::{Job, NewAccount, Tx};

use crate::job::{Effect, JobKey, Plan, StepFailure};
use crate::{Engine, EngineError, audit, note};

/// The shortest pause between empty worker rounds.
pub const MIN_PAUSE: StdDuration = StdDuration::from_millis(20);

impl Engine {
    /// Claims and runs one batch of due jobs; returns how many were claimed.
    pub async fn run_due_jobs(&self, worker: &str) -> Result<usize, EngineError> {
        let now = self.now();
        let claimed = self
            .store()
            .claim_jobs(worker, now, self.config().lease, self.config().batch)
            .await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let mut jobs = Vec::with_capacity(n);
        for job in claimed {
            match JobKey::parse(&job.kind, &job.key) {
                Ok(key) => jobs.push((job, key)),
                Err(e) => self.job_failed(&job, worker, &EngineError::from(e)).await?,
            }
        }
        let parallel = self.config().act_parallelism.max(1);
        // Provisioning jobs are planned first and all their intent rows written in one
        // transaction, instead of one commit per job before its target call.
        // (Futures built in a loop rather than by a closure over `&Job`: such a closure
        // is not general enough over lifetimes for a worker that is spawned.)
        let planning: Vec<_> = jobs.iter().map(|(_, key)| self.plan_of(key)).collect();
        let plans: Vec<Option<Result<Plan, EngineError>>> = futures::stream::iter(planning)
            .buffered(parallel)
            .collect()
            .await;
        let intents: Vec<NewAccount> = plans
            .iter()
            .filter_map(|p| match p {
                Some(Ok(Plan::Call(c))) => Some(c.intent.clone()),
                _ => None,
            })
            .collect();
        self.write_intents(&intents).await?;
        let outcomes: Vec<(Job, JobKey, Result<Effect, EngineError>)> =
            futures::stream::iter(jobs.into_iter().zip(plans))
                .map(|((job, key), plan)| async move {
                    let step = async {
                        match plan {
                            Some(Err(e)) => Err(e),
                            Some(Ok(plan)) => self.act(&key, Some(plan)).await,
                            None => self.act(&key, None).await,
                        }
                    };
                    // An act step may not outlive two thirds of the job's lease: past the
                    // lease, another worker could take the job while this call is still on
                    // its way, and the rest is left for applying the outcome.
                    let limit = self.config().lease * 2 / 3;
                    let effect = match tokio::time::timeout(limit, step).await {
                        Ok(effect) => effect,
                        Err(_) => Ok(Effect::Failed(StepFailure::Timeout(limit))),
                    };
                    (job, key, effect)
                })
                .buffer_unordered(parallel)
                .collect()
                .await;
        let applied: Vec<(&Job, &JobKey, &Effect)> = outcomes
            .iter()
            .filter_map(|(job, key, effect)| effect.as_ref().ok().map(|e| (job, key, e)))
            .collect();
        let groups = apply_groups(applied, self.apply_parallelism());
        let applying = groups.iter().map(|group| self.apply_group(group, worker));
        for result in futures::future::join_all(applying).await {
            result?;
        }
        // A job whose act step could not even read the store is retried or ended on its
        // own.
        for (job, _, effect) in &outcomes {
            if let Err(e) = effect {
                self.job_failed(job, worker, e).await?;
            }
        }
        Ok(n)
    }

    /// The plan of a provisioning job; `None` for other kinds.
    async fn plan_of(&self, key: &JobKey) -> Option<Result<Plan, EngineError>> {
        match key {
            JobKey::Provision(g) => Some(self.plan_provision(*g).await),
            _ => None,
        }
    }

    /// Into how many transactions a batch's outcomes are applied at once.
    fn apply_parallelism(&self) -> usize {
        match self.store().backend() {
            warden_store::Backend::Sqlite => 1,
            warden_store::Backend::Postgres => self.config().apply_parallelism.max(1),
        }
    }

    /// Applies `group` in one transaction, or, if that fails, each job in its own.
    async fn apply_group(
        &self,
        group: &[(&Job, &JobKey, &Effect)],
        worker: &str,
    ) -> Result<(), EngineError> {
        if let Err(e) = self.apply_batch(group, worker).await {
            tracing::debug!(error = %e, jobs = group.len(), "batch failed; applying its jobs one by one");
            for &(job, key, effect) in group {
                if let Err(e) = self.apply_alone(job, key, worker, effect).await {
                    self.job_failed(job, worker, &e).await?;
                }
            }
        }
        Ok(())
    }

    async fn apply_batch(
        &self,
        applied: &[(&Job, &JobKey, &Effect)],
        worker: &str,
    ) -> Result<(), EngineError> {
        let mut tx = self.store().begin().await?;
        for &(job, key, effect) in applied {
            self.finish(&mut tx, job, key, worker, effect).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn apply_alone(
        &self,
        job: &Job,
        key: &JobKey,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        let mut tx = self.store().begin().await?;
        self.finish(&mut tx, job, key, worker, effect).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finishes one job inside `tx`: completed with its outcome applied, retried after a
    /// transient target failure, or ended after a permanent one.
    async fn finish(
        &self,
        tx: &mut Tx,
        job: &Job,
        key: &JobKey,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        if let Effect::Failed(e) = effect {
            return self.step_failed(tx, job, key, worker, e).await;
        }
        // Completion first, in the same transaction: a job whose lease passed to another
        // worker is skipped and none of its work is applied here.
        if !tx.complete_job(job.id, worker, self.now()).await? {
            return Ok(());
        }
        self.apply(tx, key, worker, effect).await
    }

    /// Runs jobs until `shutdown` says stop, sleeping `poll` between empty rounds.
    pub async fn run_worker(
        &self,
        worker: String,
        poll: StdDuration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let claimed = match self.run_due_jobs(&worker).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "worker round failed");
                    0
                }
            };
            if claimed == 0 {
                let pause = self.pause_before_next_round(poll).await;
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// How long to wait after an empty round: until the next job falls due, but at least
    /// [`MIN_PAUSE`] (a due job may be leased by another worker) and at most `poll`.
    async fn pause_before_next_round(&self, poll: StdDuration) -> StdDuration {
        let Ok(Some(due)) = self.store().next_job_due().await else {
            return poll;
        };
        let wait_ms = u64::try_from(self.now().millis_until(due)).unwrap_or(0);
        StdDuration::from_millis(wait_ms).clamp(MIN_PAUSE, poll.max(MIN_PAUSE))
    }

    fn retry_at(&self, job: &Job) -> warden_model::Timestamp {
        let delay = backoff(
            self.config().retry_base,
            self.config().retry_max,
            job.attempts,
            &job.id.to_string(),
        );
        self.now()
            .plus(Duration::from_seconds(delay.as_secs().max(1)).unwrap_or(Duration::MIN))
    }

    /// When a job that failed transiently runs next: after the backoff, and no sooner than
    /// the other side's `Retry-After`.
    fn next_attempt(&self, job: &Job, e: &StepFailure) -> warden_model::Timestamp {
        let mut at = self.retry_at(job);
        if let Some(after) = e.not_before() {
            let secs = after.as_secs().max(1);
            at = at.max(
                self.now()
                    .plus(Duration::from_seconds(secs).unwrap_or(Duration::MIN)),
            );
        }
        at
    }

    /// An act step's target or ITSM refused or could not be reached. Transient: the job
    /// runs again after a backoff (no sooner than an ITSM's `Retry-After`) and the grant
    /// stays where it is (a revoking grant keeps counting as overdue; an expiring one moves
    /// to `revoking`). Permanent: the job ends, an alert is raised, and a grant that was
    /// being provisioned fails; one being revoked stays `revoking`, never shown as revoked.
    /// An alert's delivery has its own rule ([`Engine::alert_failed`]).
    async fn step_failed(
        &self,
        tx: &mut Tx,
        job: &Job,
        key: &JobKey,
        worker: &str,
        e: &StepFailure,
    ) -> Result<(), EngineError> {
        if key.alert_event().is_some() {
            let next = self.next_attempt(job, e);
            return self.alert_failed(tx, job, key, worker, e, next).await;
        }
        let now = self.now();
        let grant_id = key.grant();
        let transient = e.is_transient();
        let finished = if transient {
            let at = self.next_attempt(job, e);
            tx.retry_job(job.id, worker, at, &e.to_string(), now)
                .await?
        } else {
            tx.kill_job(job.id, worker, &e.to_string(), now).await?
        };
        if !finished {
            return Ok(());
        }
        // An expiring grant is overdue from now on, whatever the target says: it shows as
        // `revoking` while its removal is retried.
        if let JobKey::Expire(g) = key {
            self.mark_expired(tx, *g, worker).await?;
        }
        let action = if transient {
            "target.retry"
        } else {
            "alert.target_failed"
        };
        audit(
            tx,
            note(
                now,
                format!("worker:{worker}"),
                action,
                None,
                grant_id,
                serde_json::json!({
                    "job": job.id.to_string(),
                    "kind": job.kind,
                    "attempt": job.attempts,
                    "error": e.to_string(),
                }),
            ),
        )
        .await?;
        if transient {
            self.metrics().job_retries.inc();
            return Ok(());
        }
        self.metrics().target_failures.inc();
        tracing::error!(job = %job.id, kind = %job.kind, error = %e, "act step failed for good");
        if let JobKey::Provision(g) = key
            && self
                .move_grant(
                    tx,
                    *g,
                    worker,
                    (GrantState::Provisioning, GrantState::Failed),
                    "grant.failed",
                    |_, _| {
                        (
                            warden_store::GrantTimes::default(),
                            serde_json::json!({ "error": e.to_string() }),
                        )
                    },
                )
                .await?
                .is_some()
        {
            self.metrics().grants_failed.inc();
        }
        Ok(())
    }

    async fn job_failed(
        &self,
        job: &Job,
        worker: &str,
        e: &EngineError,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let error = e.describe();
        let mut tx = self.store().begin().await?;
        match e {
            // The database was away, or the job's apply step raced another change (an
            // answer recorded while the request moved on): running it again can succeed.
            EngineError::Unavailable(_) | EngineError::Conflict(_) => {
                tx.retry_job(job.id, worker, self.retry_at(job), &error, now)
                    .await?;
                self.metrics().job_retries.inc();
            }
            _ => {
                tx.kill_job(job.id, worker, &error, now).await?;
                audit(
                    &mut tx,
                    note(
                        now,
                        format!("worker:{worker}"),
                        "alert.job_failed",
                        None,
                        None,
                        serde_json::json!({
                            "job": job.id.to_string(),
                            "kind": job.kind,
                            "key": job.key,
                            "error": error,
                        }),
                    ),
                )
                .await?;
                tracing::error!(job = %job.id, kind = %job.kind, error = %error, "job failed for good");
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The fewest jobs worth a transaction of their own: below this, splitting a batch costs
/// more commits than it saves in waiting.
const MIN_APPLY_GROUP: usize = 16;

/// Splits a batch's outcomes into at most `parallelism` groups, to be applied side by
/// side. Jobs about the same grant always share a group, so their transactions do not wait
/// on each other; a job about many (offboarding, reconciliation) may wait for another
/// group's, and a deadlock PostgreSQL breaks sends its group to the one-by-one fallback.
/// Order within a group is the batch's.
fn apply_groups<'a>(
    applied: Vec<(&'a Job, &'a JobKey, &'a Effect)>,
    parallelism: usize,
) -> Vec<Vec<(&'a Job, &'a JobKey, &'a Effect)>> {
    let n = parallelism
        .min(applied.len().div_ceil(MIN_APPLY_GROUP))
        .max(1);
    if n == 1 {
        return vec![applied];
    }
    let mut groups = vec![Vec::new(); n];
    for item in applied {
        let (job, key, _) = item;
        let about = key
            .grant()
            .map_or_else(|| job.key.clone(), |g| g.to_string());
        let slot = usize::try_from(fnv1a(about.bytes()) % n as u64).unwrap_or(0);
        if let Some(group) = groups.get_mut(slot) {
            group.push(item);
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// FNV-1a: a small, stable hash (the same in every process and release).
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Exponential backoff with jitter: `base · 2^(attempt−1)`, capped at `max`, then spread
/// over 50–100% of that by a hash of the job id and attempt (no RNG needed, and different
/// jobs failing together do not retry in lockstep).
pub fn backoff(base: StdDuration, max: StdDuration, attempt: u64, salt: &str) -> StdDuration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let h = fnv1a(salt.bytes().chain(attempt.to_le_bytes()));
    let fraction = 0.5 + (h % 1_000) as f64 / 2_000.0;
    full.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use warden_store::JobId;

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = StdDuration::from_secs(1);
        let max = StdDuration::from_secs(60);
        let d1 = backoff(base, max, 1, "j");
        let d4 = backoff(base, max, 4, "j");
        let d20 = backoff(base, max, 20, "j");
        assert!(d1 >= StdDuration::from_millis(500) && d1 <= base);
        assert!(d4 >= StdDuration::from_secs(4) && d4 <= StdDuration::from_secs(8));
        assert!(d20 <= max && d20 >= max / 2);
        assert_ne!(backoff(base, max, 3, "a"), backoff(base, max, 3, "b"));
    }

    fn job(key: &JobKey) -> Job {
        let at = warden_model::Timestamp::from_unix_millis(0).unwrap();
        Job {
            id: warden_store::JobId::new(),
            kind: "expire".into(),
            key: key.key(),
            due_at: at,
            state: warden_store::JobState::Pending,
            attempts: 1,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_batch_is_split_by_grant_and_small_ones_stay_whole() {
        use warden_store::GrantId;
        let grants: Vec<GrantId> = (0..40).map(|_| GrantId::new()).collect();
        // Each grant's expire job, and for every fourth its retire job as well.
        let mut keys: Vec<JobKey> = grants.iter().map(|g| JobKey::Expire(*g)).collect();
        keys.extend(grants.iter().step_by(4).map(|g| JobKey::Retire {
            grant: *g,
            generation: 2,
        }));
        keys.push(JobKey::Reconcile {
            connector: "cache-redis".into(),
        });
        let jobs: Vec<Job> = keys.iter().map(job).collect();
        let effect = Effect::Nothing;
        let applied: Vec<(&Job, &JobKey, &Effect)> = jobs
            .iter()
            .zip(&keys)
            .map(|(j, k)| (j, k, &effect))
            .collect();

        let groups = apply_groups(applied.clone(), 4);
        assert!(
            groups.len() > 1 && groups.len() <= 4,
            "{} groups",
            groups.len()
        );
        // Every job once, each group in the batch's order.
        let mut seen: Vec<JobId> = groups.iter().flatten().map(|(j, _, _)| j.id).collect();
        seen.sort();
        let mut all: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
        all.sort();
        assert_eq!(seen, all);
        let position = |id: JobId| jobs.iter().position(|j| j.id == id);
        for g in &groups {
            let order: Vec<_> = g.iter().map(|(j, _, _)| position(j.id)).collect();
            assert!(order.is_sorted(), "{order:?}");
        }
        // A grant's jobs share a group.
        for grant in &grants {
            let holding: Vec<usize> = (0..groups.len())
                .filter(|i| groups[*i].iter().any(|(_, k, _)| k.grant() == Some(*grant)))
                .collect();
            assert_eq!(holding.len(), 1, "grant {grant} is in groups {holding:?}");
        }
        // Fewer jobs than two groups' worth, or one writer: one group, as it came.
        let few: Vec<_> = applied.iter().take(MIN_APPLY_GROUP).copied().collect();
        assert_eq!(apply_groups(few, 4).len(), 1);
        let whole = apply_groups(applied.clone(), 1);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].len(), applied.len());
    }
}
