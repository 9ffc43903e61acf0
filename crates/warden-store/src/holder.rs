//! Who holds anything: the identities with a live token, a request waiting for approvals
//! or a grant that exists or is being created — the ones offboarding has work for.

use std::collections::BTreeSet;

use warden_model::IdentityId;

use crate::conn::{Conn, RowExt, on_conn};
use crate::error::{StoreError, db_err};
use crate::grant::GrantRecord;
use crate::store::{Store, Tx};

/// Every identity that holds something offboarding takes away.
const HOLDERS: &str = "SELECT DISTINCT identity AS id FROM tokens WHERE revoked_at IS NULL \
     UNION SELECT DISTINCT requester FROM requests WHERE state = 'approval_required' \
     UNION SELECT DISTINCT subject FROM requests WHERE state = 'approval_required' \
     UNION SELECT DISTINCT subject FROM grants WHERE state IN ('provisioning', 'active')";

impl Store {
    /// Every identity that holds a live token, is the requester or subject of a request
    /// waiting for approvals, or is the subject of a provisioning or active grant. Each
    /// part is read from an index; the result has one entry per identity, sorted.
    pub async fn holders(&self) -> Result<BTreeSet<IdentityId>, StoreError> {
        holders(&mut self.acquire().await?.conn()).await
    }
}

async fn holders(conn: &mut Conn<'_>) -> Result<BTreeSet<IdentityId>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(HOLDERS)
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.parsed("id", IdentityId::parse)).collect()
    })
}

impl Tx {
    /// [`Store::holders`], as this transaction sees them.
    pub async fn holders(&mut self) -> Result<BTreeSet<IdentityId>, StoreError> {
        holders(&mut self.conn()).await
    }

    /// The active grants of `subject`, oldest first, as this transaction sees them.
    pub async fn active_grants_of(
        &mut self,
        subject: &IdentityId,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        crate::grant::active_of(&mut self.conn(), subject).await
    }
}
