//! Accounts made on targets, one row per grant generation: the intent written before a
//! target is asked, the sealed credential waiting for its one delivery, and the removal
//! that confirms the end. Reconciliation compares a connector's live rows with what the
//! target shows.

use warden_model::Timestamp;

use crate::conn::{Conn, RowExt, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::id::GrantId;
use crate::store::{Store, Tx};

/// An account about to be made on a target.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewAccount {
    /// Whose grant.
    pub grant_id: GrantId,
    /// 1 for the first credential, one more per rotation.
    pub generation: u32,
    /// The connector instance's name.
    pub connector: String,
    /// The account's name on the target.
    pub name: String,
    /// What it holds there, as the engine encodes it (JSON).
    pub holds: String,
}

/// An account as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountRecord {
    /// Whose grant.
    pub grant_id: GrantId,
    /// Its generation.
    pub generation: u32,
    /// The connector instance's name.
    pub connector: String,
    /// The account's name on the target.
    pub name: String,
    /// What it holds there (JSON).
    pub holds: String,
    /// Whether a sealed credential waits for delivery.
    pub credential_waiting: bool,
    /// When the intent was written.
    pub created_at: Timestamp,
    /// When the target confirmed it made the account.
    pub provisioned_at: Option<Timestamp>,
    /// When its credential was delivered.
    pub delivered_at: Option<Timestamp>,
    /// When the target confirmed it gone.
    pub removed_at: Option<Timestamp>,
}

/// A credential taken for its one delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct TakenCredential {
    /// The generation it belongs to.
    pub generation: u32,
    /// The account name.
    pub name: String,
    /// The sealed secret.
    pub sealed: String,
}

impl std::fmt::Debug for TakenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TakenCredential")
            .field("generation", &self.generation)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

macro_rules! columns {
    () => {
        "grant_id, generation, connector, name, holds, \
         CAST(CASE WHEN sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS waiting, \
         created_at, provisioned_at, delivered_at, removed_at"
    };
}

impl Tx {
    /// Writes the intent to make `a`; a row for the same grant and generation already
    /// there is kept as it is (a re-run after a crash). Returns whether it was new.
    pub async fn insert_account(
        &mut self,
        a: &NewAccount,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO accounts (grant_id, generation, connector, name, holds, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (grant_id, generation) DO NOTHING",
        )
        .bind(a.grant_id.to_string())
        .bind(i64::from(a.generation))
        .bind(&a.connector)
        .bind(&a.name)
        .bind(&a.holds)
        .bind(ms(now))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Records that the target made generation `generation` of `grant`, with its sealed
    /// credential (if one was minted) waiting for delivery. A credential from an earlier
    /// attempt is replaced: the target now knows only the new one.
    pub async fn set_account_provisioned(
        &mut self,
        grant: GrantId,
        generation: u32,
        sealed: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE accounts SET sealed = $1, provisioned_at = $2, delivered_at = NULL \
             WHERE grant_id = $3 AND generation = $4 AND removed_at IS NULL",
        )
        .bind(sealed)
        .bind(ms(now))
        .bind(grant.to_string())
        .bind(i64::from(generation))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Records that the target confirmed generation `generation` of `grant` gone; any
    /// undelivered credential is dropped with it.
    pub async fn set_account_removed(
        &mut self,
        grant: GrantId,
        generation: u32,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE accounts SET sealed = NULL, removed_at = COALESCE(removed_at, $1) \
             WHERE grant_id = $2 AND generation = $3",
        )
        .bind(ms(now))
        .bind(grant.to_string())
        .bind(i64::from(generation))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Takes the newest waiting credential of `grant` for delivery: it is cleared from
    /// the store in this transaction, so it can be taken once.
    pub async fn take_credential(
        &mut self,
        grant: GrantId,
        now: Timestamp,
    ) -> Result<Option<TakenCredential>, StoreError> {
        // Read, then clear only if still there: RETURNING would hand back the cleared
        // value, and the guarded UPDATE makes a concurrent taker see nothing.
        let found = on_conn!(&mut self.conn(), c => {
            let row = sqlx::query(
                "SELECT generation, name, sealed FROM accounts \
                 WHERE grant_id = $1 AND sealed IS NOT NULL AND removed_at IS NULL \
                 ORDER BY generation DESC LIMIT 1",
            )
            .bind(grant.to_string())
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            row.map(|r| {
                Ok::<_, StoreError>(TakenCredential {
                    generation: generation(r.int("generation")?)?,
                    name: r.text("name")?,
                    sealed: r.text("sealed")?,
                })
            })
            .transpose()?
        });
        let Some(taken) = found else {
            return Ok(None);
        };
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE accounts SET sealed = NULL, delivered_at = $1 \
             WHERE grant_id = $2 AND generation = $3 AND sealed IS NOT NULL",
        )
        .bind(ms(now))
        .bind(grant.to_string())
        .bind(i64::from(taken.generation))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok((n == 1).then_some(taken))
    }

    /// The accounts of `grant`, oldest generation first.
    pub async fn accounts(&mut self, grant: GrantId) -> Result<Vec<AccountRecord>, StoreError> {
        of_grant(&mut self.conn(), grant).await
    }
}

impl Store {
    /// The accounts of `grant`, oldest generation first.
    pub async fn accounts(&self, grant: GrantId) -> Result<Vec<AccountRecord>, StoreError> {
        of_grant(&mut self.acquire().await?.conn(), grant).await
    }

    /// The grants that are `active` and hold a live account on connector `connector`.
    pub async fn active_grants_on(
        &self,
        connector: &str,
    ) -> Result<std::collections::BTreeSet<GrantId>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(
                "SELECT DISTINCT a.grant_id FROM accounts a JOIN grants g ON g.id = a.grant_id \
                 WHERE a.connector = $1 AND a.removed_at IS NULL AND g.state = 'active'",
            )
            .bind(connector)
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(|r| r.parsed("grant_id", str::parse)).collect()
        })
    }

    /// Every account of connector `connector` not yet confirmed removed.
    pub async fn live_accounts(&self, connector: &str) -> Result<Vec<AccountRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(concat!(
                "SELECT ", columns!(), " FROM accounts \
                 WHERE connector = $1 AND removed_at IS NULL ORDER BY grant_id, generation"
            ))
            .bind(connector)
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect()
        })
    }
}

async fn of_grant(conn: &mut Conn<'_>, grant: GrantId) -> Result<Vec<AccountRecord>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(concat!(
            "SELECT ", columns!(), " FROM accounts WHERE grant_id = $1 ORDER BY generation"
        ))
        .bind(grant.to_string())
        .fetch_all(&mut **c)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode).collect()
    })
}

fn generation(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt {
        what: format!("column `generation` holds an impossible generation {n}"),
        source: None,
    })
}

fn decode(row: &impl RowExt) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        grant_id: row.parsed("grant_id", str::parse)?,
        generation: generation(row.int("generation")?)?,
        connector: row.text("connector")?,
        name: row.text("name")?,
        holds: row.text("holds")?,
        credential_waiting: row.int("waiting")? != 0,
        created_at: row.time("created_at")?,
        provisioned_at: row.opt_time("provisioned_at")?,
        delivered_at: row.opt_time("delivered_at")?,
        removed_at: row.opt_time("removed_at")?,
    })
}
