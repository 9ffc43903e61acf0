//! The grants live now, summed per (system, role) inside the database, for the
//! `warden_access_*` gauges. The evidence report judges each live grant in Rust and keeps
//! the ones behind each figure; a scrape needs only the figures, and handing ten thousand
//! rows to the application costs more than the scrape may take. So the same judgements are
//! made here in SQL, over the catalog's limits passed in as bound values (never spliced),
//! and one row per (system, role) comes back. `crates/warden-engine/tests/evidence.rs`
//! holds the two to the same figures.

use warden_model::{IdentityId, RoleId, SystemId, Timestamp};

use crate::conn::{RowExt, count, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::evidence::{live_grants, self_approvals};
use crate::store::Store;

/// A role's limits, as the catalog sets them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoleLimits {
    /// The role's system.
    pub system: SystemId,
    /// The role.
    pub role: RoleId,
    /// `max_duration`, in milliseconds.
    pub cap_ms: i64,
    /// `rotate_every`, in milliseconds.
    pub rotate_ms: Option<i64>,
}

/// What the summary judges live grants by.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SummaryRules {
    /// Every role of the catalog.
    pub roles: Vec<RoleLimits>,
    /// Services and workloads.
    pub nhis: Vec<IdentityId>,
    /// The removal grace, in milliseconds.
    pub grace_ms: i64,
    /// The just-in-time cap, in milliseconds.
    pub jit_ms: i64,
}

/// The live grants of one (system, role), summed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoleSummary {
    /// The system.
    pub system: SystemId,
    /// The role.
    pub role: RoleId,
    /// Live grants.
    pub live: u64,
    /// With an expiry within the role's cap.
    pub covered: u64,
    /// Past their expiry.
    pub overdue: u64,
    /// Past their expiry by more than the grace.
    pub late: u64,
    /// The earliest expiry among the overdue.
    pub oldest_overdue: Option<Timestamp>,
    /// Running longer than the JIT cap or without an expiry, or unrotated (below): the
    /// standing privilege when the system is high or critical, which the caller knows.
    pub long_or_unrotated: u64,
    /// Held by a service or workload whose newest credential is older than the role's
    /// rotation period plus the grace.
    pub unrotated: u64,
    /// Holding a credential.
    pub credentials: u64,
    /// Of those, within the role's rotation period (or cap) plus the grace.
    pub fresh: u64,
    /// Approvals given by the requester or the subject.
    pub self_approvals: u64,
}

impl Store {
    /// The grants live at `at`, summed per (system, role) and judged by `rules`.
    pub async fn live_summary(
        &self,
        at: Timestamp,
        rules: &SummaryRules,
    ) -> Result<Vec<RoleSummary>, StoreError> {
        // $1 the instant, $2 the grace, $3 the JIT cap; then four values per role (system,
        // role, cap, rotation period) and one per service or workload. A role's limits are
        // picked by a CASE over the bound values: a join on a list, or a subquery, costs
        // twice as much per grant. A NULL entry keeps the NHI list valid when it is empty.
        let mut caps = Vec::new();
        let mut rotations = Vec::new();
        let mut n = 3;
        for _ in &rules.roles {
            let (system, role, cap, rotate) = (n + 1, n + 2, n + 3, n + 4);
            let when = format!("WHEN g.system = ${system} AND g.role = ${role}");
            caps.push(format!("{when} THEN CAST(${cap} AS BIGINT)"));
            rotations.push(format!("{when} THEN CAST(${rotate} AS BIGINT)"));
            n += 4;
        }
        let pick = |whens: &[String]| {
            if whens.is_empty() {
                "CAST(NULL AS BIGINT)".to_owned()
            } else {
                format!("CASE {} END", whens.join(" "))
            }
        };
        let mut nhis = vec!["CAST(NULL AS TEXT)".to_owned()];
        for _ in &rules.nhis {
            n += 1;
            nhis.push(format!("CAST(${n} AS TEXT)"));
        }
        let sql = format!(
            "WITH x AS ( \
                SELECT g.system, g.role, g.expires_at, g.expires_at - g.activated_at AS span, \
                  {cap} AS cap, {rotate} AS rotate, \
                  CASE WHEN g.subject IN ({nhis}) THEN 1 ELSE 0 END AS nhi, \
                  (SELECT MAX(a.provisioned_at) FROM accounts a \
                    WHERE a.grant_id = g.id AND a.provisioned_at <= $1) AS cred, \
                  {selfs} AS selfs \
                FROM {live}) \
             SELECT system, role, COUNT(*) AS live, \
               SUM(CASE WHEN span <= cap THEN 1 ELSE 0 END) AS covered, \
               SUM(CASE WHEN expires_at <= $1 THEN 1 ELSE 0 END) AS overdue, \
               SUM(CASE WHEN $1 - expires_at > $2 THEN 1 ELSE 0 END) AS late, \
               MIN(CASE WHEN expires_at <= $1 THEN expires_at END) AS oldest, \
               SUM(CASE WHEN span IS NULL OR span > $3 OR (nhi = 1 AND $1 - cred > rotate + $2) \
                   THEN 1 ELSE 0 END) AS long_or_unrotated, \
               SUM(CASE WHEN nhi = 1 AND $1 - cred > rotate + $2 THEN 1 ELSE 0 END) AS unrotated, \
               SUM(CASE WHEN cred IS NOT NULL THEN 1 ELSE 0 END) AS credentials, \
               SUM(CASE WHEN $1 - cred <= COALESCE(rotate, cap) + $2 THEN 1 ELSE 0 END) AS fresh, \
               CAST(SUM(selfs) AS BIGINT) AS self_approvals \
             FROM x GROUP BY system, role ORDER BY system, role",
            cap = pick(&caps),
            rotate = pick(&rotations),
            nhis = nhis.join(", "),
            live = live_grants!(),
            selfs = self_approvals!(),
        );
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(ms(at))
                .bind(rules.grace_ms)
                .bind(rules.jit_ms);
            for r in &rules.roles {
                q = q
                    .bind(r.system.as_str().to_owned())
                    .bind(r.role.as_str().to_owned())
                    .bind(r.cap_ms)
                    .bind(r.rotate_ms);
            }
            for i in &rules.nhis {
                q = q.bind(i.as_str().to_owned());
            }
            let rows = q.fetch_all(&mut **c).await.map_err(db_err)?;
            rows.iter().map(summary).collect()
        })
    }

    /// The (subject, role) pairs of grants live at `at` among `roles`, for separation of
    /// duties; empty when `roles` is.
    pub async fn live_holders(
        &self,
        at: Timestamp,
        roles: &[RoleId],
    ) -> Result<Vec<(IdentityId, RoleId)>, StoreError> {
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..roles.len()).map(|i| format!("${}", i + 2)).collect();
        let list = list.join(", ");
        // The live-grant walk with the roles inside both branches, so each reads the
        // `(role, state)` index for the few roles of `[[sod]]` sets only.
        let sql = format!(
            "SELECT DISTINCT subject, role FROM ( \
               SELECT subject, role FROM grants WHERE role IN ({list}) \
                 AND state IN ('active', 'revoking') AND activated_at <= $1 \
               UNION ALL \
               SELECT subject, role FROM grants WHERE role IN ({list}) \
                 AND revoked_at > $1 AND activated_at <= $1) h"
        );
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(ms(at));
            for r in roles {
                q = q.bind(r.as_str().to_owned());
            }
            let rows = q.fetch_all(&mut **c).await.map_err(db_err)?;
            rows.iter()
                .map(|r| Ok((r.parsed("subject", IdentityId::parse)?, r.parsed("role", RoleId::parse)?)))
                .collect()
        })
    }
}

fn summary(row: &impl RowExt) -> Result<RoleSummary, StoreError> {
    let sum = |col: &str| Ok::<_, StoreError>(count(row.opt_int(col)?.unwrap_or(0)));
    Ok(RoleSummary {
        system: row.parsed("system", SystemId::parse)?,
        role: row.parsed("role", RoleId::parse)?,
        live: sum("live")?,
        covered: sum("covered")?,
        overdue: sum("overdue")?,
        late: sum("late")?,
        oldest_overdue: row.opt_time("oldest")?,
        long_or_unrotated: sum("long_or_unrotated")?,
        unrotated: sum("unrotated")?,
        credentials: sum("credentials")?,
        fresh: sum("fresh")?,
        self_approvals: sum("self_approvals")?,
    })
}
