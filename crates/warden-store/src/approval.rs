//! Approvals: one per `(request, approver)`, so a repeated click counts once.

use warden_model::{ApprovalDecision, IdentityId, Timestamp};

use crate::conn::{Conn, RowExt, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::id::RequestId;
use crate::store::{Store, Tx};

/// One approver's answer on one request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Approval {
    /// The request answered.
    pub request_id: RequestId,
    /// Who answered.
    pub approver: IdentityId,
    /// What they said.
    pub decision: ApprovalDecision,
    /// When.
    pub at: Timestamp,
    /// What they said with it, if anything.
    pub comment: Option<String>,
}

impl Tx {
    /// Records an approval. Returns `false`, changing nothing, if this approver has
    /// answered this request before (their first answer stands).
    pub async fn insert_approval(&mut self, a: &Approval) -> Result<bool, StoreError> {
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO approvals (request_id, approver, decision, at, comment) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (request_id, approver) DO NOTHING",
        )
        .bind(a.request_id.to_string())
        .bind(a.approver.as_str())
        .bind(a.decision.as_str())
        .bind(ms(a.at))
        .bind(a.comment.as_deref())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }

    /// The approvals of `request_id` as this transaction sees them, oldest first.
    pub async fn approvals(&mut self, request_id: RequestId) -> Result<Vec<Approval>, StoreError> {
        of_request(&mut self.conn(), request_id).await
    }
}

impl Store {
    /// The approvals of `request_id`, oldest first.
    pub async fn approvals(&self, request_id: RequestId) -> Result<Vec<Approval>, StoreError> {
        of_request(&mut self.acquire().await?.conn(), request_id).await
    }
}

async fn of_request(conn: &mut Conn<'_>, id: RequestId) -> Result<Vec<Approval>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(
            "SELECT request_id, approver, decision, at, comment FROM approvals \
             WHERE request_id = $1 ORDER BY at, approver",
        )
        .bind(id.to_string())
        .fetch_all(&mut **c)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode).collect()
    })
}

fn decode(row: &impl RowExt) -> Result<Approval, StoreError> {
    Ok(Approval {
        request_id: row.parsed("request_id", str::parse)?,
        approver: row.parsed("approver", IdentityId::parse)?,
        decision: row.parsed("decision", ApprovalDecision::parse)?,
        at: row.time("at")?,
        comment: row.opt_text("comment")?,
    })
}
