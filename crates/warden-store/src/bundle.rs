//! Policy bundles, content-addressed: a decision names its bundle by hash, and the files
//! behind that hash are kept so that any decision can be replayed later.

use serde::{Deserialize, Serialize};
use warden_model::Timestamp;

use crate::conn::{RowExt, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::request::json_text;
use crate::store::{Store, Tx};

/// One file of a bundle.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BundleFile {
    /// Its path inside the bundle.
    pub name: String,
    /// Its contents.
    pub text: String,
}

impl Tx {
    /// Stores the files of bundle `hash` unless that hash is stored already; returns whether
    /// it was new. The caller computes `hash`; the store does not check it.
    pub async fn put_bundle(
        &mut self,
        hash: &str,
        files: &[BundleFile],
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let text = json_text(&files)?;
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO bundles (hash, files, stored_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(&text)
        .bind(ms(at))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }
}

impl Store {
    /// The files of bundle `hash`, if stored.
    pub async fn bundle(&self, hash: &str) -> Result<Option<Vec<BundleFile>>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query("SELECT files FROM bundles WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&mut **c)
                .await
                .map_err(db_err)?;
            row.as_ref()
                .map(|r| r.parsed("files", |s| serde_json::from_str(s)))
                .transpose()
        })
    }
}
