//! Grants: insert, optimistic state changes with their times, and the indexed queries
//! (by subject, overdue, due for expiry) that keep a million grants on disk, not in memory.

use warden_model::{ActiveGrant, Duration, GrantState, IdentityId, RoleId, SystemId, Timestamp};

use crate::conn::{Conn, RowExt, count, ms, on_conn, opt_ms};
use crate::error::{StoreError, db_err};
use crate::id::{GrantId, RequestId};
use crate::store::{Store, Tx};

/// A grant as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GrantRecord {
    /// Its id.
    pub id: GrantId,
    /// The request it came from (one grant per request).
    pub request_id: RequestId,
    /// Who holds it.
    pub subject: IdentityId,
    /// Where.
    pub system: SystemId,
    /// What.
    pub role: RoleId,
    /// Where it stands.
    pub state: GrantState,
    /// How long it lasts once active.
    pub duration: Duration,
    /// When it became active.
    pub activated_at: Option<Timestamp>,
    /// When it ends (set on activation, never extended).
    pub expires_at: Option<Timestamp>,
    /// When the target confirmed its removal.
    pub revoked_at: Option<Timestamp>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it last changed (equal to `created_at` on insert).
    pub updated_at: Timestamp,
}

/// Times to set along with a grant's state change; `None` leaves the stored value as is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct GrantTimes {
    /// When it became active.
    pub activated_at: Option<Timestamp>,
    /// When it ends.
    pub expires_at: Option<Timestamp>,
    /// When its removal was confirmed.
    pub revoked_at: Option<Timestamp>,
}

/// Which grants [`Store::grants`] lists; `None` matches anything.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GrantFilter {
    /// Only this subject's.
    pub subject: Option<IdentityId>,
    /// Only on this system.
    pub system: Option<SystemId>,
    /// Only in this state.
    pub state: Option<GrantState>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The columns [`decode`] reads, as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, request_id, subject, system, role, state, duration_seconds, activated_at, \
         expires_at, revoked_at, created_at, updated_at"
    };
}

impl Tx {
    /// Stores a new grant. A second grant for the same request, or a duplicate id, is
    /// [`StoreError::Conflict`] (on PostgreSQL that also aborts the transaction).
    pub async fn insert_grant(&mut self, g: &GrantRecord) -> Result<(), StoreError> {
        let duration = i64::try_from(g.duration.seconds())
            .map_err(|_| StoreError::Invalid("grant duration is too long".to_owned()))?;
        on_conn!(&mut self.conn(), c => sqlx::query(concat!(
            "INSERT INTO grants (", columns!(), ") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(g.id.to_string())
        .bind(g.request_id.to_string())
        .bind(g.subject.as_str())
        .bind(g.system.as_str())
        .bind(g.role.as_str())
        .bind(g.state.as_str())
        .bind(duration)
        .bind(opt_ms(g.activated_at))
        .bind(opt_ms(g.expires_at))
        .bind(opt_ms(g.revoked_at))
        .bind(ms(g.created_at))
        .bind(ms(g.updated_at))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)?;
        Ok(())
    }

    /// Moves grant `id` from `from` to `to`, only if it is still in `from`, setting the
    /// given `times`. Returns whether it moved. The first move to `revoking` records when
    /// removal was asked for (`revoking_at`), which the evidence report counts from.
    pub async fn set_grant_state(
        &mut self,
        id: GrantId,
        from: GrantState,
        to: GrantState,
        times: GrantTimes,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE grants SET state = $1, updated_at = $2, \
                activated_at = COALESCE($3, activated_at), \
                expires_at = COALESCE($4, expires_at), \
                revoked_at = COALESCE($5, revoked_at), \
                revoking_at = CASE WHEN $1 = 'revoking' THEN COALESCE(revoking_at, $2) \
                                   ELSE revoking_at END \
             WHERE id = $6 AND state = $7",
        )
        .bind(to.as_str())
        .bind(ms(at))
        .bind(opt_ms(times.activated_at))
        .bind(opt_ms(times.expires_at))
        .bind(opt_ms(times.revoked_at))
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }

    /// Records why grant `id` is ending, unless a reason is already recorded.
    pub async fn set_grant_end_reason(
        &mut self,
        id: GrantId,
        reason: &str,
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE grants SET end_reason = $1 WHERE id = $2 AND end_reason IS NULL",
        )
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Grant `id`, as this transaction sees it.
    pub async fn grant(&mut self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        one(&mut self.conn(), Key::Id(id)).await
    }

    /// The grant of request `request_id`, as this transaction sees it.
    pub async fn grant_by_request(
        &mut self,
        request_id: RequestId,
    ) -> Result<Option<GrantRecord>, StoreError> {
        one(&mut self.conn(), Key::Request(request_id)).await
    }
}

impl Store {
    /// Grant `id`.
    pub async fn grant(&self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        one(&mut self.acquire().await?.conn(), Key::Id(id)).await
    }

    /// The grant of request `request_id`.
    pub async fn grant_by_request(
        &self,
        request_id: RequestId,
    ) -> Result<Option<GrantRecord>, StoreError> {
        one(&mut self.acquire().await?.conn(), Key::Request(request_id)).await
    }

    /// Why grant `id` ended or is ending, if recorded.
    pub async fn grant_end_reason(&self, id: GrantId) -> Result<Option<String>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query("SELECT end_reason FROM grants WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut **c)
                .await
                .map_err(db_err)?;
            row.map(|r| r.opt_text("end_reason")).transpose().map(Option::flatten)
        })
    }

    /// Grants matching `filter`, newest first.
    pub async fn grants(&self, filter: &GrantFilter) -> Result<Vec<GrantRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            // One statement for every filter combination: a NULL parameter matches all.
            let rows = sqlx::query(concat!(
                "SELECT ", columns!(), " FROM grants \
                 WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR system = $2) \
                   AND ($3 IS NULL OR state = $3) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ))
            .bind(filter.subject.as_ref().map(IdentityId::as_str))
            .bind(filter.system.as_ref().map(SystemId::as_str))
            .bind(filter.state.map(GrantState::as_str))
            .bind(i64::from(filter.limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect()
        })
    }

    /// The active grants on `system`, oldest first: what a review campaign asks about.
    /// Reads the state index and the grants of one system, never the whole table.
    pub async fn active_grants_of_system(
        &self,
        system: &SystemId,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(concat!(
                "SELECT ", columns!(), " FROM grants \
                 WHERE state = 'active' AND system = $1 ORDER BY created_at, id"
            ))
            .bind(system.as_str())
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect()
        })
    }

    /// `subject`'s latest grant on `system`, in any state.
    pub async fn latest_grant_on(
        &self,
        subject: &IdentityId,
        system: &SystemId,
    ) -> Result<Option<GrantRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(concat!(
                "SELECT ", columns!(), " FROM grants \
                 WHERE subject = $1 AND system = $2 ORDER BY created_at DESC, id DESC LIMIT 1"
            ))
            .bind(subject.as_str())
            .bind(system.as_str())
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            row.as_ref().map(decode).transpose()
        })
    }

    /// The grants `subject` holds or is about to hold (`active` or `provisioning`), as
    /// separation of duties sees them, sorted.
    ///
    /// A provisioning grant has no `expires_at` yet; it is reported as ending `now` plus
    /// its duration, which is the latest it could end if it became active now.
    pub async fn active_grants(
        &self,
        subject: &IdentityId,
        now: Timestamp,
    ) -> Result<Vec<ActiveGrant>, StoreError> {
        // Two index seeks rather than `state IN (…)`, for which SQLite builds a temporary
        // table on every run (its page cache created, sized and freed each time).
        const SQL: &str = "SELECT role, duration_seconds, expires_at FROM grants \
                           WHERE subject = $1 AND state = 'active' \
                           UNION ALL \
                           SELECT role, duration_seconds, expires_at FROM grants \
                           WHERE subject = $1 AND state = 'provisioning'";
        // Read on every decision: on SQLite, on this thread, and kept while nothing commits.
        let key = subject.as_str();
        let local = self
            .local_reads()
            .and_then(|l| l.query_memo(&l.held, key, SQL, [key], |row| held(row)));
        let mut out = match local {
            Some(rows) => rows.iter().map(|h| h.at(now)).collect(),
            None => on_conn!(&mut self.acquire().await?.conn(), c => {
                let rows = sqlx::query(SQL)
                    .bind(key)
                    .fetch_all(&mut **c)
                    .await
                    .map_err(db_err)?;
                rows.iter()
                    .map(|row| Ok(held(row)?.at(now)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            }),
        };
        out.sort();
        Ok(out)
    }

    /// How many grants are in each state (states with none are left out). This counts the
    /// whole table: for tools and tests, not for every scrape ([`Store::live_grant_counts`]).
    pub async fn grant_counts(&self) -> Result<Vec<(GrantState, u64)>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM grants GROUP BY state ORDER BY state")
                .fetch_all(&mut **c)
                .await
                .map_err(db_err)?;
            rows.iter()
                .map(|r| Ok((r.parsed("state", GrantState::parse)?, count(r.int("n")?))))
                .collect()
        })
    }

    /// Grants in each live state (`provisioning`, `active`, `revoking`) and how many of them
    /// are past `expires_at`, read through the `(state, expires_at)` index: the cost follows
    /// the live grants, never the ended ones however many are stored.
    pub async fn live_grant_counts(&self, now: Timestamp) -> Result<LiveGrants, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(
                "SELECT state, COUNT(*) AS n, \
                        COALESCE(SUM(CASE WHEN expires_at < $1 THEN 1 ELSE 0 END), 0) AS overdue \
                 FROM grants WHERE state IN ('provisioning', 'active', 'revoking') \
                 GROUP BY state",
            )
            .bind(ms(now))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            let mut live = LiveGrants::default();
            for r in &rows {
                let n = count(r.int("n")?);
                live.overdue += count(r.int("overdue")?);
                match r.parsed("state", GrantState::parse)? {
                    GrantState::Provisioning => live.provisioning = n,
                    GrantState::Active => live.active = n,
                    GrantState::Revoking => live.revoking = n,
                    GrantState::Revoked | GrantState::Failed => {}
                }
            }
            Ok(live)
        })
    }

    /// How many grants are past `expires_at` but not yet confirmed removed (`active`,
    /// `revoking` or `provisioning` with `expires_at < now`).
    pub async fn overdue_grants(&self, now: Timestamp) -> Result<u64, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM grants \
                 WHERE state IN ('active', 'revoking', 'provisioning') AND expires_at < $1",
            )
            .bind(ms(now))
            .fetch_one(&mut **c)
            .await
            .map_err(db_err)?;
            Ok(count(n))
        })
    }
}

/// Grants not yet ended, by state, from [`Store::live_grant_counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveGrants {
    /// Waiting for their target.
    pub provisioning: u64,
    /// Held on their target.
    pub active: u64,
    /// Being removed, not yet confirmed.
    pub revoking: u64,
    /// Of those, past `expires_at`.
    pub overdue: u64,
}

enum Key {
    Id(GrantId),
    Request(RequestId),
}

async fn one(conn: &mut Conn<'_>, key: Key) -> Result<Option<GrantRecord>, StoreError> {
    let (sql, value) = match key {
        Key::Id(id) => (
            concat!("SELECT ", columns!(), " FROM grants WHERE id = $1"),
            id.to_string(),
        ),
        Key::Request(id) => (
            concat!("SELECT ", columns!(), " FROM grants WHERE request_id = $1"),
            id.to_string(),
        ),
    };
    on_conn!(conn, c => {
        let row = sqlx::query(sql)
            .bind(value)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    })
}

/// A grant held, as [`Store::active_grants`] reads it: what it becomes at an instant is
/// left to [`Held::at`], so that the read can be kept across instants.
#[derive(Debug)]
pub(crate) struct Held {
    role: RoleId,
    /// `None` while provisioning: it ends its duration after it becomes active.
    expires_at: Option<Timestamp>,
    duration: Duration,
}

impl Held {
    /// The grant as separation of duties sees it at `now`.
    fn at(&self, now: Timestamp) -> ActiveGrant {
        ActiveGrant {
            role: self.role.clone(),
            expires_at: self.expires_at.unwrap_or_else(|| now.plus(self.duration)),
        }
    }
}

fn held(row: &impl RowExt) -> Result<Held, StoreError> {
    Ok(Held {
        role: row.parsed("role", RoleId::parse)?,
        expires_at: row.opt_time("expires_at")?,
        duration: duration(row)?,
    })
}

fn duration(row: &impl RowExt) -> Result<Duration, StoreError> {
    let secs = row.int("duration_seconds")?;
    u64::try_from(secs)
        .ok()
        .and_then(Duration::from_seconds)
        .ok_or_else(|| StoreError::Corrupt {
            what: format!("column `duration_seconds` holds an impossible duration {secs}"),
            source: None,
        })
}

/// The active grants of `subject`, oldest first.
pub(crate) async fn active_of(
    conn: &mut Conn<'_>,
    subject: &IdentityId,
) -> Result<Vec<GrantRecord>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(concat!(
            "SELECT ", columns!(), " FROM grants \
             WHERE subject = $1 AND state = 'active' ORDER BY created_at, id"
        ))
        .bind(subject.as_str())
        .fetch_all(&mut **c)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode).collect()
    })
}

fn decode(row: &impl RowExt) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: row.parsed("id", str::parse)?,
        request_id: row.parsed("request_id", str::parse)?,
        subject: row.parsed("subject", IdentityId::parse)?,
        system: row.parsed("system", SystemId::parse)?,
        role: row.parsed("role", RoleId::parse)?,
        state: row.parsed("state", GrantState::parse)?,
        duration: duration(row)?,
        activated_at: row.opt_time("activated_at")?,
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
