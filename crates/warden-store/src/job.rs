//! The durable job table: work scheduled in the same transaction as the state change that
//! needs it, claimed under a lease by any number of workers, and finished with fenced
//! updates so that a worker whose lease was taken over cannot overwrite the new owner.

use std::fmt;

use warden_model::Timestamp;

use crate::conn::{RowExt, count, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::id::JobId;
use crate::store::{Store, Tx};

/// Where a job stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum JobState {
    /// Waiting to run (or running, while leased).
    Pending,
    /// Finished.
    Done,
    /// Given up on; needs a person.
    Dead,
}

/// A stored word that is not a job state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state `{0}`")]
pub struct UnknownJobState(String);

impl JobState {
    /// The word used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Result<Self, UnknownJobState> {
        match s {
            "pending" => Ok(JobState::Pending),
            "done" => Ok(JobState::Done),
            "dead" => Ok(JobState::Dead),
            other => Err(UnknownJobState(other.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheduled job.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What to do (`expire`, `provision`, …); the engine defines the words.
    pub kind: String,
    /// What it is about, as the engine wrote it (usually a grant or request id).
    pub key: String,
    /// When it should run.
    pub due_at: Timestamp,
    /// Where it stands.
    pub state: JobState,
    /// How many times it has been claimed.
    pub attempts: u64,
    /// The worker holding it, if claimed.
    pub lease_owner: Option<String>,
    /// Until when that worker holds it.
    pub lease_until: Option<Timestamp>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was scheduled.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The columns [`decode`] reads, as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, kind, job_key, due_at, state, attempts, lease_owner, lease_until, last_error, \
         created_at, updated_at"
    };
}

/// Claims on PostgreSQL: rows another worker is claiming right now are skipped rather than
/// waited for, and re-checked against the lease after locking, so no job is claimed twice.
const CLAIM_POSTGRES: &str = concat!(
    "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT id FROM jobs \
        WHERE state = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
        ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING ",
    columns!()
);

/// Claims on SQLite: the transaction is `BEGIN IMMEDIATE`, so it is the only writer.
const CLAIM_SQLITE: &str = concat!(
    "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT id FROM jobs \
        WHERE state = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
        ORDER BY due_at LIMIT $4) \
     RETURNING ",
    columns!()
);

impl Tx {
    /// Schedules a job of `kind` with key `key` to run at `due_at`.
    pub async fn schedule_job(
        &mut self,
        kind: &str,
        key: &str,
        due_at: Timestamp,
        now: Timestamp,
    ) -> Result<JobId, StoreError> {
        let id = JobId::new();
        self.insert_job(id, kind, key, due_at, now, false).await?;
        Ok(id)
    }

    /// Schedules a job that may be pending at most once per kind and key (periodic work),
    /// unless one is pending already. Returns whether it was scheduled.
    pub async fn schedule_job_once(
        &mut self,
        kind: &str,
        key: &str,
        due_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.insert_job(JobId::new(), kind, key, due_at, now, true)
            .await
    }

    /// Inserts a pending job; a `singleton` one is skipped (returning `false`) while one
    /// with the same kind and key is pending.
    async fn insert_job(
        &mut self,
        id: JobId,
        kind: &str,
        key: &str,
        due_at: Timestamp,
        now: Timestamp,
        singleton: bool,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO jobs (id, kind, job_key, due_at, state, attempts, created_at, updated_at, singleton) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $6) \
             ON CONFLICT (kind, job_key) WHERE state = 'pending' AND singleton = 1 \
             DO NOTHING",
        )
        .bind(id.to_string())
        .bind(kind)
        .bind(key)
        .bind(ms(due_at))
        .bind(ms(now))
        .bind(i64::from(singleton))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Marks job `id` done, if `worker` still holds its lease. Returns whether it did;
    /// `false` means the lease was taken over (or the job is gone), and this worker's
    /// transaction should be rolled back.
    pub async fn complete_job(
        &mut self,
        id: JobId,
        worker: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.finish(id, worker, JobState::Done, None, None, now)
            .await
    }

    /// Puts job `id` back to run again at `next_due_at`, noting `error`, if `worker` still
    /// holds its lease. Returns whether it did.
    pub async fn retry_job(
        &mut self,
        id: JobId,
        worker: &str,
        next_due_at: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.finish(
            id,
            worker,
            JobState::Pending,
            Some(next_due_at),
            Some(error),
            now,
        )
        .await
    }

    /// Gives up on job `id`, noting `error`, if `worker` still holds its lease. Returns
    /// whether it did.
    pub async fn kill_job(
        &mut self,
        id: JobId,
        worker: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.finish(id, worker, JobState::Dead, None, Some(error), now)
            .await
    }

    /// The fenced update behind complete, retry and kill: it matches only while the lease
    /// owner is still `worker`, and releases the lease.
    async fn finish(
        &mut self,
        id: JobId,
        worker: &str,
        to: JobState,
        due_at: Option<Timestamp>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE jobs SET state = $1, due_at = COALESCE($2, due_at), \
                last_error = COALESCE($3, last_error), lease_owner = NULL, lease_until = NULL, \
                updated_at = $4 \
             WHERE id = $5 AND state = 'pending' AND lease_owner = $6",
        )
        .bind(to.as_str())
        .bind(due_at.map(ms))
        .bind(error)
        .bind(ms(now))
        .bind(id.to_string())
        .bind(worker)
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }
}

impl Store {
    /// Claims up to `limit` pending jobs due at `now` that no live lease holds, earliest
    /// first, leasing them to `worker` until `now + lease` and counting an attempt.
    ///
    /// Safe to call from any number of workers and processes at once: each job is handed
    /// to one of them. A worker that does not finish before its lease ends loses the job
    /// to the next claim.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let until = ms(now).saturating_add(lease_ms);
        let mut tx = self.begin().await?;
        let mut conn = tx.conn();
        let sql = if conn.is_postgres() {
            CLAIM_POSTGRES
        } else {
            CLAIM_SQLITE
        };
        let mut jobs = on_conn!(&mut conn, c => {
            let rows = sqlx::query(sql)
                .bind(worker)
                .bind(until)
                .bind(ms(now))
                .bind(i64::from(limit))
                .fetch_all(&mut **c)
                .await
                .map_err(db_err)?;
            rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?
        });
        tx.commit().await?;
        // RETURNING gives no order; hand them out earliest first as documented.
        jobs.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    /// When the earliest pending job falls due (leased or not), so a worker can sleep
    /// exactly until then instead of polling blindly.
    pub async fn next_job_due(&self) -> Result<Option<Timestamp>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT due_at FROM jobs WHERE state = 'pending' ORDER BY due_at LIMIT 1",
            )
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            row.as_ref().map(|r| r.time("due_at")).transpose()
        })
    }

    /// Whether a job of `kind` with key `key` is pending.
    pub async fn job_pending(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT id FROM jobs WHERE state = 'pending' AND kind = $1 AND job_key = $2 LIMIT 1",
            )
            .bind(kind)
            .bind(key)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            Ok(row.is_some())
        })
    }

    /// Job `id`.
    pub async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(concat!("SELECT ", columns!(), " FROM jobs WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&mut **c)
                .await
                .map_err(db_err)?;
            row.as_ref().map(decode).transpose()
        })
    }
}

fn decode(row: &impl RowExt) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.parsed("id", str::parse)?,
        kind: row.text("kind")?,
        key: row.text("job_key")?,
        due_at: row.time("due_at")?,
        state: row.parsed("state", JobState::parse)?,
        attempts: count(row.int("attempts")?),
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_time("lease_until")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
