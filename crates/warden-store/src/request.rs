//! Stored requests: intake (idempotent on `(source, ticket)`) and optimistic state changes.

use std::collections::{BTreeSet, HashMap};

use warden_model::{IdentityId, Outcome, RequestState, RoleId, SystemId, Timestamp};

use crate::conn::{Conn, RowExt, ms, on_conn, opt_ms};
use crate::error::{StoreError, db_err};
use crate::id::RequestId;
use crate::store::{Store, Tx};

/// A request as stored: what was asked, the decision taken on it, and where it stands.
#[derive(Clone, PartialEq, Debug)]
pub struct RequestRecord {
    /// Its id.
    pub id: RequestId,
    /// Where it came from (an ITSM name, `api`, …); with `ticket` it identifies the request.
    pub source: String,
    /// The source's ticket reference.
    pub ticket: String,
    /// Who asked.
    pub requester: IdentityId,
    /// Who would receive the access.
    pub subject: IdentityId,
    /// The target system, once known.
    pub system: Option<SystemId>,
    /// The role asked for, once known.
    pub role: Option<RoleId>,
    /// Where the request stands.
    pub state: RequestState,
    /// The request as received (JSON).
    pub request: serde_json::Value,
    /// The decision taken on it (JSON).
    pub decision: serde_json::Value,
    /// The decision's outcome, kept apart for queries.
    pub outcome: Outcome,
    /// Hash of the policy bundle that decided.
    pub bundle_hash: String,
    /// Hash of the decision's input.
    pub input_hash: String,
    /// When the decision was taken.
    pub decided_at: Timestamp,
    /// When the approval window lapses, if approvals are needed.
    pub approval_expires_at: Option<Timestamp>,
    /// When the request was stored.
    pub created_at: Timestamp,
    /// When the request last changed (equal to `created_at` on insert).
    pub updated_at: Timestamp,
    /// The authenticated caller who filed it: the requester, a broker acting for the
    /// requester, or `itsm:<adapter>`.
    pub filed_by: String,
}

/// The columns [`decode`] reads, as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, source, ticket, requester, subject, system, role, state, request_json, \
         decision_json, outcome, bundle_hash, input_hash, decided_at, approval_expires_at, \
         created_at, updated_at, filed_by"
    };
}

/// The most request ids one filer query binds.
const FILERS_PER_QUERY: usize = 500;

impl Tx {
    /// Stores a new request.
    ///
    /// Returns `Ok(false)`, storing nothing, if a request with the same `(source, ticket)`
    /// exists already, so that a retried webhook is a no-op (read the existing one with
    /// [`Tx::request_by_ticket`]). A duplicate `id` is [`StoreError::Conflict`].
    pub async fn insert_request(&mut self, r: &RequestRecord) -> Result<bool, StoreError> {
        let request_json = json_text(&r.request)?;
        let decision_json = json_text(&r.decision)?;
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO requests (id, source, ticket, requester, subject, system, role, state, \
                request_json, decision_json, outcome, bundle_hash, input_hash, decided_at, \
                approval_expires_at, created_at, updated_at, filed_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                $18) \
             ON CONFLICT (source, ticket) DO NOTHING",
        )
        .bind(r.id.to_string())
        .bind(&r.source)
        .bind(&r.ticket)
        .bind(r.requester.as_str())
        .bind(r.subject.as_str())
        .bind(r.system.as_ref().map(SystemId::as_str))
        .bind(r.role.as_ref().map(RoleId::as_str))
        .bind(r.state.as_str())
        .bind(&request_json)
        .bind(&decision_json)
        .bind(r.outcome.as_str())
        .bind(&r.bundle_hash)
        .bind(&r.input_hash)
        .bind(ms(r.decided_at))
        .bind(opt_ms(r.approval_expires_at))
        .bind(ms(r.created_at))
        .bind(ms(r.updated_at))
        .bind(&r.filed_by)
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }

    /// Moves request `id` from `from` to `to`, only if it is still in `from`.
    ///
    /// Returns whether it moved; `false` means another writer changed it first (or it
    /// does not exist), and the caller should re-read it.
    pub async fn set_request_state(
        &mut self,
        id: RequestId,
        from: RequestState,
        to: RequestState,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(ms(at))
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }

    /// Ends every request waiting for approvals whose requester or subject is `identity`
    /// as `withdrawn`; returns their ids.
    pub async fn withdraw_pending_requests(
        &mut self,
        identity: &IdentityId,
        at: Timestamp,
    ) -> Result<Vec<RequestId>, StoreError> {
        on_conn!(&mut self.conn(), c => {
            let rows = sqlx::query(
                "UPDATE requests SET state = 'withdrawn', updated_at = $1 \
                 WHERE state = 'approval_required' AND (requester = $2 OR subject = $2) \
                 RETURNING id",
            )
            .bind(ms(at))
            .bind(identity.as_str())
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            let mut ids = rows
                .iter()
                .map(|r| r.parsed("id", str::parse))
                .collect::<Result<Vec<RequestId>, _>>()?;
            ids.sort();
            Ok(ids)
        })
    }

    /// Who asked for and who filed each stored request of `ids`, in one query per few
    /// hundred distinct ids.
    pub(crate) async fn request_filers(
        &mut self,
        ids: &[RequestId],
    ) -> Result<HashMap<RequestId, (IdentityId, String)>, StoreError> {
        let distinct: Vec<String> = ids
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(ToString::to_string)
            .collect();
        let mut filers = HashMap::with_capacity(distinct.len());
        for chunk in distinct.chunks(FILERS_PER_QUERY) {
            let found = on_conn!(&mut self.conn(), c => {
                let mut select = sqlx::QueryBuilder::new(
                    "SELECT id, requester, filed_by FROM requests WHERE id IN (",
                );
                let mut list = select.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                select.push(")");
                let rows = select.build().fetch_all(&mut **c).await.map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        Ok::<_, StoreError>((
                            r.parsed("id", |s| s.parse::<RequestId>())?,
                            (r.parsed("requester", IdentityId::parse)?, r.text("filed_by")?),
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            filers.extend(found);
        }
        Ok(filers)
    }

    /// Request `id`, as this transaction sees it.
    pub async fn request(&mut self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        by_id(&mut self.conn(), id).await
    }

    /// The request with this `(source, ticket)`, as this transaction sees it.
    pub async fn request_by_ticket(
        &mut self,
        source: &str,
        ticket: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        by_ticket(&mut self.conn(), source, ticket).await
    }
}

impl Store {
    /// Request `id`.
    pub async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        by_id(&mut self.acquire().await?.conn(), id).await
    }

    /// The request with this `(source, ticket)`.
    pub async fn request_by_ticket(
        &self,
        source: &str,
        ticket: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        by_ticket(&mut self.acquire().await?.conn(), source, ticket).await
    }
}

impl Store {
    /// Up to `limit` requests in `state`, newest first (the `requests_state` index): what
    /// waits for approval, for an approver's inbox.
    pub async fn requests_in_state(
        &self,
        state: warden_model::RequestState,
        limit: u32,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(concat!(
                "SELECT ", columns!(),
                " FROM requests WHERE state = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(state.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect()
        })
    }

    /// Up to `limit` requests `who` asked for or would receive, newest first.
    pub async fn requests_of(
        &self,
        who: &IdentityId,
        limit: u32,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            // Two ordered walks of at most `limit` rows each (one per index), merged: an
            // `OR` would read every request of a busy person to sort them.
            let rows = sqlx::query(concat!(
                "SELECT ", columns!(), " FROM (",
                "SELECT * FROM (SELECT ", columns!(), " FROM requests WHERE requester = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2) AS asked \
                 UNION \
                 SELECT * FROM (SELECT ", columns!(), " FROM requests WHERE subject = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2) AS received",
                ") AS mine ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(who.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect()
        })
    }
}

impl Store {
    /// Up to `limit` request ids after `after` (from the first when `None`), in id order:
    /// a page of a walk over every stored request that never holds more than one page.
    pub async fn request_ids_after(
        &self,
        after: Option<RequestId>,
        limit: u32,
    ) -> Result<Vec<RequestId>, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query("SELECT id FROM requests WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut **c)
                .await
                .map_err(db_err)?;
            rows.iter().map(|r| r.parsed("id", str::parse)).collect()
        })
    }
}

async fn by_id(conn: &mut Conn<'_>, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
    on_conn!(conn, c => {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM requests WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    })
}

async fn by_ticket(
    conn: &mut Conn<'_>,
    source: &str,
    ticket: &str,
) -> Result<Option<RequestRecord>, StoreError> {
    on_conn!(conn, c => {
        let row = sqlx::query(concat!(
            "SELECT ", columns!(), " FROM requests WHERE source = $1 AND ticket = $2"
        ))
        .bind(source)
        .bind(ticket)
        .fetch_optional(&mut **c)
        .await
        .map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    })
}

fn decode(row: &impl RowExt) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: row.parsed("id", str::parse)?,
        source: row.text("source")?,
        ticket: row.text("ticket")?,
        requester: row.parsed("requester", IdentityId::parse)?,
        subject: row.parsed("subject", IdentityId::parse)?,
        system: row.opt_parsed("system", SystemId::parse)?,
        role: row.opt_parsed("role", RoleId::parse)?,
        state: row.parsed("state", RequestState::parse)?,
        request: row.json("request_json")?,
        decision: row.json("decision_json")?,
        outcome: row.parsed("outcome", |s| {
            serde_json::from_value(serde_json::Value::String(s.to_owned()))
        })?,
        bundle_hash: row.text("bundle_hash")?,
        input_hash: row.text("input_hash")?,
        decided_at: row.time("decided_at")?,
        approval_expires_at: row.opt_time("approval_expires_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        filed_by: row.text("filed_by")?,
    })
}

/// JSON as the store keeps it in a TEXT column.
pub(crate) fn json_text(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("value is not json: {e}")))
}
