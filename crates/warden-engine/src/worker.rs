//! The worker: claims due jobs from the durable job table and runs them. Each job's state
//! change, audit event, follow-up job and completion commit in one transaction, and the
//! completion is fenced by the job's lease, so a job whose lease passed to another worker
//! is never applied twice.

use std::time::Duration as StdDuration;

use warden_model::{Duration, GrantState, RequestState, Timestamp};
use warden_store::{GrantId, GrantRecord, GrantTimes, Job, NewAuditEvent, RequestId, Tx};

use crate::{Engine, EngineError, audit, job_kind};

/// The shortest pause between empty worker rounds.
pub const MIN_PAUSE: StdDuration = StdDuration::from_millis(20);

/// A grant that [`Engine::move_grant`] moved: as it was before, when, and the times set.
struct Moved {
    grant: GrantRecord,
    now: Timestamp,
    times: GrantTimes,
}

/// How a job ended.
enum Done {
    /// The job did its work, or found nothing left to do; complete it.
    Completed,
}

impl Engine {
    /// Claims and runs one batch of due jobs; returns how many were claimed.
    pub async fn run_due_jobs(&self, worker: &str) -> Result<usize, EngineError> {
        let now = self.now();
        let jobs = self
            .store()
            .claim_jobs(worker, now, self.config().lease, self.config().batch)
            .await?;
        let n = jobs.len();
        if n == 0 {
            return Ok(0);
        }
        // The whole batch in one transaction first: one commit and one hold of the audit
        // chain's head for up to `batch` jobs, instead of one each. The steps only touch
        // the store, so they can share a transaction. If any of them fails, nothing of the
        // batch lands and each job runs alone, so one bad job cannot hold back the others
        // and each failure is retried or reported on its own.
        if let Err(e) = self.run_batch(&jobs, worker).await {
            tracing::debug!(error = %e, jobs = n, "batch failed; running its jobs one by one");
            for job in &jobs {
                if let Err(e) = self.run_job(job, worker).await {
                    self.job_failed(job, worker, &e).await?;
                }
            }
        }
        Ok(n)
    }

    async fn run_batch(&self, jobs: &[Job], worker: &str) -> Result<(), EngineError> {
        let mut tx = self.store().begin().await?;
        for job in jobs {
            // Completion first, in the same transaction: a job whose lease passed to
            // another worker is skipped and none of its work is done here.
            if !tx.complete_job(job.id, worker, self.now()).await? {
                continue;
            }
            self.dispatch(&mut tx, job, worker).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn dispatch(&self, tx: &mut Tx, job: &Job, worker: &str) -> Result<Done, EngineError> {
        match job.kind.as_str() {
            job_kind::PROVISION => self.provision(tx, job, worker).await,
            job_kind::EXPIRE => self.expire(tx, job, worker).await,
            job_kind::REVOKE => self.confirm_revoked(tx, job, worker).await,
            job_kind::APPROVAL_EXPIRE => self.lapse(tx, job, worker).await,
            other => Err(EngineError::Internal(format!("unknown job kind `{other}`"))),
        }
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

    async fn run_job(&self, job: &Job, worker: &str) -> Result<(), EngineError> {
        let mut tx = self.store().begin().await?;
        let Done::Completed = self.dispatch(&mut tx, job, worker).await?;
        if tx.complete_job(job.id, worker, self.now()).await? {
            tx.commit().await?;
        } else {
            // The lease passed to another worker: nothing of this run may land.
            tx.rollback().await?;
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
        let mut tx = self.store().begin().await?;
        match e {
            EngineError::Unavailable(_) => {
                let delay = backoff(
                    self.config().retry_base,
                    self.config().retry_max,
                    job.attempts,
                    &job.id.to_string(),
                );
                let next = now
                    .plus(Duration::from_seconds(delay.as_secs().max(1)).unwrap_or(Duration::MIN));
                tx.retry_job(job.id, worker, next, &e.to_string(), now)
                    .await?;
                self.metrics().job_retries.inc();
            }
            _ => {
                tx.kill_job(job.id, worker, &e.to_string(), now).await?;
                audit(
                    &mut tx,
                    NewAuditEvent {
                        at: now,
                        actor: format!("worker:{worker}"),
                        action: "alert.job_failed".into(),
                        request_id: None,
                        grant_id: None,
                        before_state: None,
                        after_state: None,
                        bundle_hash: None,
                        data: serde_json::json!({
                            "job": job.id.to_string(),
                            "kind": job.kind,
                            "target": job.target_id,
                            "error": e.to_string(),
                        }),
                    },
                )
                .await?;
                tracing::error!(job = %job.id, kind = %job.kind, error = %e, "job failed for good");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves the job's grant from `from` to `to`, with the times and audit data `shape`
    /// derives from the grant and the current instant, and audits it as `action`. Returns
    /// what moved, or `None` — changing nothing — when the grant is gone or no longer in
    /// `from` (another path got there first).
    async fn move_grant(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
        (from, to): (GrantState, GrantState),
        action: &str,
        shape: impl FnOnce(&GrantRecord, Timestamp) -> (GrantTimes, serde_json::Value),
    ) -> Result<Option<Moved>, EngineError> {
        let gid = grant_id(job)?;
        let Some(grant) = tx.grant(gid).await? else {
            return Ok(None);
        };
        if grant.state != from {
            return Ok(None);
        }
        let now = self.now();
        let (times, data) = shape(&grant, now);
        if !tx.set_grant_state(gid, from, to, times, now).await? {
            return Ok(None);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: format!("worker:{worker}"),
                action: action.into(),
                request_id: Some(grant.request_id),
                grant_id: Some(gid),
                before_state: Some(from.as_str().into()),
                after_state: Some(to.as_str().into()),
                bundle_hash: None,
                data,
            },
        )
        .await?;
        Ok(Some(Moved { grant, now, times }))
    }

    /// Provisioning (a no-op step until connectors exist): the grant becomes active and
    /// its clock starts now.
    async fn provision(&self, tx: &mut Tx, job: &Job, worker: &str) -> Result<Done, EngineError> {
        let moved = self
            .move_grant(
                tx,
                job,
                worker,
                (GrantState::Provisioning, GrantState::Active),
                "grant.activated",
                |g, now| {
                    let mut expires = now.plus(g.duration);
                    // A third party's hard end caps the grant even if time passed since the
                    // decision.
                    if let Some(ends) = self
                        .bundle()
                        .catalog
                        .identities
                        .get(&g.subject)
                        .and_then(|i| i.access_ends)
                    {
                        expires = expires.min(ends.max(now));
                    }
                    let times = GrantTimes {
                        activated_at: Some(now),
                        expires_at: Some(expires),
                        revoked_at: None,
                    };
                    let data = serde_json::json!({ "activated_at": now, "expires_at": expires });
                    (times, data)
                },
            )
            .await?;
        if let Some(Moved { grant, now, times }) = moved {
            let expires = times.expires_at.unwrap_or(now);
            tx.schedule_job(job_kind::EXPIRE, &grant.id.to_string(), expires, now)
                .await?;
        }
        Ok(Done::Completed)
    }

    /// A grant's expiry has come: it moves to `revoking` and revocation is scheduled.
    async fn expire(&self, tx: &mut Tx, job: &Job, worker: &str) -> Result<Done, EngineError> {
        let moved = self
            .move_grant(
                tx,
                job,
                worker,
                (GrantState::Active, GrantState::Revoking),
                "grant.expired",
                |g, _| {
                    let data = serde_json::json!({ "expires_at": g.expires_at });
                    (GrantTimes::default(), data)
                },
            )
            .await?;
        if let Some(Moved { grant, now, .. }) = moved {
            tx.schedule_job(job_kind::REVOKE, &grant.id.to_string(), now, now)
                .await?;
        }
        Ok(Done::Completed)
    }

    /// Revocation (a no-op step until connectors exist, which confirms at once): the grant
    /// becomes `revoked`.
    async fn confirm_revoked(
        &self,
        tx: &mut Tx,
        job: &Job,
        worker: &str,
    ) -> Result<Done, EngineError> {
        let lag = |g: &GrantRecord, now: Timestamp| {
            g.expires_at
                .filter(|e| *e <= now)
                .map(|e| now.unix_millis() - e.unix_millis())
        };
        let moved = self
            .move_grant(
                tx,
                job,
                worker,
                (GrantState::Revoking, GrantState::Revoked),
                "grant.revoked",
                |g, now| {
                    let times = GrantTimes {
                        revoked_at: Some(now),
                        ..GrantTimes::default()
                    };
                    let data = serde_json::json!({
                        "confirmed_at": now,
                        "expires_at": g.expires_at,
                        "lag_ms": lag(g, now),
                    });
                    (times, data)
                },
            )
            .await?;
        if let Some(ms) = moved.and_then(|m| lag(&m.grant, m.now)) {
            #[expect(clippy::cast_precision_loss, reason = "a metric in seconds")]
            self.metrics()
                .expiry_lag_seconds
                .observe(ms as f64 / 1_000.0);
        }
        Ok(Done::Completed)
    }

    /// A pending request's approval window has lapsed.
    async fn lapse(&self, tx: &mut Tx, job: &Job, worker: &str) -> Result<Done, EngineError> {
        let rid: RequestId = job.target_id.parse().map_err(|_| {
            EngineError::Internal(format!("bad request id `{}` in job", job.target_id))
        })?;
        let now = self.now();
        if tx
            .set_request_state(
                rid,
                RequestState::ApprovalRequired,
                RequestState::Expired,
                now,
            )
            .await?
        {
            audit(
                tx,
                NewAuditEvent {
                    at: now,
                    actor: format!("worker:{worker}"),
                    action: "request.expired".into(),
                    request_id: Some(rid),
                    grant_id: None,
                    before_state: Some(RequestState::ApprovalRequired.as_str().into()),
                    after_state: Some(RequestState::Expired.as_str().into()),
                    bundle_hash: None,
                    data: serde_json::json!({}),
                },
            )
            .await?;
        }
        Ok(Done::Completed)
    }
}

fn grant_id(job: &Job) -> Result<GrantId, EngineError> {
    job.target_id
        .parse()
        .map_err(|_| EngineError::Internal(format!("bad grant id `{}` in job", job.target_id)))
}

/// Exponential backoff with jitter: `base · 2^(attempt−1)`, capped at `max`, then spread
/// over 50–100% of that by a hash of the job id and attempt (no RNG needed, and different
/// jobs failing together do not retry in lockstep).
pub fn backoff(base: StdDuration, max: StdDuration, attempt: u64, salt: &str) -> StdDuration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let fraction = 0.5 + (h % 1_000) as f64 / 2_000.0;
    full.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
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
}
