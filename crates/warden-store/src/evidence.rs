//! What the evidence report reads: the grants live at an instant, the grants whose removal
//! was confirmed or whose expiry fell in a window, the decisions taken in a window, and the
//! audit events of one action in a window. Each walks an index and hands its rows to a
//! callback one at a time, so a report over a million grants never holds them all.

use futures::TryStreamExt as _;
use warden_model::{IdentityId, RoleId, SystemId, Timestamp};

use crate::conn::{RowExt, count, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::id::{GrantId, RequestId};
use crate::store::Store;

/// One grant with what the report judges it by.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GrantFacts {
    /// Its id.
    pub id: GrantId,
    /// The request it came from.
    pub request_id: RequestId,
    /// Who holds it.
    pub subject: IdentityId,
    /// Where.
    pub system: SystemId,
    /// What.
    pub role: RoleId,
    /// When it became active.
    pub activated_at: Option<Timestamp>,
    /// When it ends.
    pub expires_at: Option<Timestamp>,
    /// When its removal was asked for (expiry or a trigger).
    pub revoking_at: Option<Timestamp>,
    /// When the target confirmed its removal.
    pub revoked_at: Option<Timestamp>,
    /// Why it ended (`it expired`, `offboarded`, `revoked by erin: …`).
    pub end_reason: Option<String>,
    /// Whether its decision took the emergency path (read by the walks over ended grants
    /// only; `false` in [`GrantWalk::LiveAt`]).
    pub break_glass: bool,
    /// When its newest credential was issued (the newest account generation provisioned by
    /// the instant the walk asked about); read by [`GrantWalk::LiveAt`] only, `None` in
    /// the others.
    pub credential_at: Option<Timestamp>,
    /// Approvals given by the requester or the subject (refused by the engine; counted
    /// here so that a store edited behind its back shows); read by [`GrantWalk::LiveAt`]
    /// only, 0 in the others.
    pub self_approvals: u64,
}

/// One stored decision, as the report reads it.
#[derive(Clone, PartialEq, Debug)]
pub struct DecisionFacts {
    /// The request decided.
    pub request_id: RequestId,
    /// When.
    pub decided_at: Timestamp,
    /// The stored decision inputs (`{request, active_grants}`).
    pub input: serde_json::Value,
    /// The stored decision.
    pub decision: serde_json::Value,
}

/// One audit event's place and data.
#[derive(Clone, PartialEq, Debug)]
pub struct EventFacts {
    /// Its place in the chain.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// The grant it concerns, if any.
    pub grant_id: Option<GrantId>,
    /// Its data.
    pub data: serde_json::Value,
}

/// Approvals given by the requester or the subject of grant `g`. The approver is compared
/// as `approver || ''` so the planner keeps to the `request_id` prefix of the primary key
/// and reads the request only for a grant that has approvals: compared bare, an `OR` of two
/// approver equalities makes it read the request for every grant.
macro_rules! self_approvals {
    () => {
        "(SELECT COUNT(*) FROM approvals p WHERE p.request_id = g.request_id \
           AND p.decision = 'approve' \
           AND (p.approver || '' = g.subject \
             OR p.approver || '' = (SELECT q.requester FROM requests q WHERE q.id = g.request_id)))"
    };
}
pub(crate) use self_approvals;

/// The columns every walk reads, from `grants g`.
macro_rules! grant_columns {
    () => {
        "g.id, g.request_id, g.subject, g.system, g.role, g.activated_at, \
         g.expires_at, g.revoking_at, g.revoked_at, g.end_reason"
    };
}

/// The live walk's columns: [`grant_columns`], the newest credential provisioned by `$1`
/// and the self-approvals, each one probe of a primary key per grant.
macro_rules! live_columns {
    () => {
        concat!(
            grant_columns!(),
            ", (SELECT MAX(a.provisioned_at) FROM accounts a \
                WHERE a.grant_id = g.id AND a.provisioned_at <= $1) AS credential_at, ",
            self_approvals!(),
            " AS self_approved, CAST(0 AS BIGINT) AS break_glass FROM ",
            live_grants!()
        )
    };
}

/// The columns of the walks over ended grants: [`grant_columns`] and whether the decision
/// took the emergency path, which only break-glass hygiene asks — of the grants whose
/// expiry fell in the window. That test reads the stored decision's text (compact JSON,
/// where a string can hold `"break_glass":true` only with its quotes escaped). Credentials
/// and self-approvals are judged on live grants only, so these walks do not probe for them.
macro_rules! ended_columns {
    () => {
        concat!(
            grant_columns!(),
            ", CAST(NULL AS BIGINT) AS credential_at, CAST(0 AS BIGINT) AS self_approved, \
             CAST(CASE WHEN r.decision_json LIKE '%\"break_glass\":true%' THEN 1 ELSE 0 END \
               AS BIGINT) AS break_glass \
             FROM grants g JOIN requests r ON r.id = g.request_id"
        )
    };
}

/// The grants live at `$1`, as a table `g`: active or revoking, and — only for an instant
/// in the past — revoked after it. Two index ranges joined without overlap (only a revoked
/// grant has a `revoked_at`), written as a `UNION ALL` because an `OR` of the two lets the
/// planner choose a scan of every grant.
macro_rules! live_grants {
    () => {
        "(SELECT * FROM grants WHERE state IN ('active', 'revoking') AND activated_at <= $1 \
          UNION ALL \
          SELECT * FROM grants WHERE revoked_at > $1 AND activated_at <= $1) g"
    };
}
pub(crate) use live_grants;

/// Which grants a walk reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GrantWalk {
    /// Active at this instant, or revoking and not yet confirmed removed: access that
    /// existed on the target then. Two index ranges: the live states through
    /// `(state, expires_at)`, and grants confirmed removed after the instant through
    /// `revoked_at` (only a revoked grant has one) — never a scan of every revoked grant.
    LiveAt(Timestamp),
    /// Whose removal was confirmed in `(since, until]` (through `revoked_at`).
    RemovedIn(Timestamp, Timestamp),
    /// Whose expiry fell in `(since, until]` (through `expires_at`).
    DueIn(Timestamp, Timestamp),
}

impl Store {
    /// Hands each grant `walk` selects to `each`, in no particular order.
    pub async fn walk_grants(
        &self,
        walk: GrantWalk,
        mut each: impl FnMut(GrantFacts),
    ) -> Result<(), StoreError> {
        // The live walk binds its instant as `$1`; the others their window as `$1`, `$2`.
        let (sql, binds) = match walk {
            GrantWalk::LiveAt(t) => (concat!("SELECT ", live_columns!()), vec![ms(t)]),
            GrantWalk::RemovedIn(since, until) => (
                concat!(
                    "SELECT ",
                    ended_columns!(),
                    " WHERE g.revoked_at > $1 AND g.revoked_at <= $2"
                ),
                vec![ms(since), ms(until)],
            ),
            GrantWalk::DueIn(since, until) => (
                concat!(
                    "SELECT ",
                    ended_columns!(),
                    " WHERE g.expires_at > $1 AND g.expires_at <= $2 AND g.activated_at IS NOT NULL"
                ),
                vec![ms(since), ms(until)],
            ),
        };
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let mut query = sqlx::query(sql);
            for b in &binds {
                query = query.bind(*b);
            }
            let mut rows = query.fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(db_err)? {
                each(facts(&row)?);
            }
            Ok(())
        })
    }

    /// Hands each decision taken in `(since, until]` to `each`, oldest first.
    pub async fn walk_decisions(
        &self,
        since: Timestamp,
        until: Timestamp,
        mut each: impl FnMut(DecisionFacts),
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let mut rows = sqlx::query(
                "SELECT id, decided_at, request_json, decision_json FROM requests \
                 WHERE decided_at > $1 AND decided_at <= $2 ORDER BY decided_at, id",
            )
            .bind(ms(since))
            .bind(ms(until))
            .fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(db_err)? {
                each(DecisionFacts {
                    request_id: row.parsed("id", str::parse)?,
                    decided_at: row.time("decided_at")?,
                    input: row.json("request_json")?,
                    decision: row.json("decision_json")?,
                });
            }
            Ok(())
        })
    }

    /// Hands each audit event with `action` written in `(since, until]` to `each`, in chain
    /// order.
    pub async fn walk_events(
        &self,
        action: &str,
        since: Timestamp,
        until: Timestamp,
        mut each: impl FnMut(EventFacts),
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let mut rows = sqlx::query(
                "SELECT seq, at, grant_id, data FROM audit_events \
                 WHERE action = $1 AND at > $2 AND at <= $3 ORDER BY seq",
            )
            .bind(action)
            .bind(ms(since))
            .bind(ms(until))
            .fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(db_err)? {
                each(EventFacts {
                    seq: count(row.int("seq")?),
                    at: row.time("at")?,
                    grant_id: row.opt_parsed("grant_id", str::parse)?,
                    data: row.json("data")?,
                });
            }
            Ok(())
        })
    }
}

fn facts(row: &impl RowExt) -> Result<GrantFacts, StoreError> {
    Ok(GrantFacts {
        id: row.parsed("id", str::parse)?,
        request_id: row.parsed("request_id", str::parse)?,
        subject: row.parsed("subject", IdentityId::parse)?,
        system: row.parsed("system", SystemId::parse)?,
        role: row.parsed("role", RoleId::parse)?,
        activated_at: row.opt_time("activated_at")?,
        expires_at: row.opt_time("expires_at")?,
        revoking_at: row.opt_time("revoking_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        end_reason: row.opt_text("end_reason")?,
        break_glass: row.int("break_glass")? != 0,
        credential_at: row.opt_time("credential_at")?,
        self_approvals: count(row.int("self_approved")?),
    })
}
