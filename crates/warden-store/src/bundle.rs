//! Policy bundles, content-addressed: a decision names its bundle by hash, and the files
//! behind that hash are kept so that any decision can be replayed later.

use serde::{Deserialize, Serialize};
use warden_model::Timestamp;

use crate::conn::{Conn, RowExt, ms, on_conn};
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

/// The bundle that decides now, and since when.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActiveBundle {
    /// Its hash.
    pub hash: String,
    /// When it became active.
    pub activated_at: Timestamp,
    /// Who activated it (`cli:<user>`, `server:<pid>`, …).
    pub activated_by: String,
}

impl Tx {
    /// Makes stored bundle `hash` the active one, unless it is already (then nothing is
    /// written). Two activations racing on PostgreSQL collide on the sequence number and
    /// one fails with a conflict.
    pub async fn activate_bundle(
        &mut self,
        hash: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<Activated, StoreError> {
        let before = active(&mut self.conn()).await?;
        if before.as_ref().is_some_and(|b| b.hash == hash) {
            return Ok(Activated::Already);
        }
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO bundle_activations (seq, hash, activated_at, activated_by) \
             SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3 FROM bundle_activations",
        )
        .bind(hash)
        .bind(ms(at))
        .bind(by)
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)?;
        Ok(Activated::Now { before })
    }
}

/// What [`Tx::activate_bundle`] did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Activated {
    /// The bundle was active already; nothing was written.
    Already,
    /// The bundle is active now; this one was before.
    Now {
        /// The bundle active before, if any.
        before: Option<ActiveBundle>,
    },
}

async fn active(conn: &mut Conn<'_>) -> Result<Option<ActiveBundle>, StoreError> {
    on_conn!(conn, c => {
        let row = sqlx::query(
            "SELECT hash, activated_at, activated_by FROM bundle_activations \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut **c)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| {
                Ok(ActiveBundle {
                    hash: r.text("hash")?,
                    activated_at: r.time("activated_at")?,
                    activated_by: r.text("activated_by")?,
                })
            })
            .transpose()
    })
}

impl Store {
    /// The active bundle, if one was ever activated.
    pub async fn active_bundle(&self) -> Result<Option<ActiveBundle>, StoreError> {
        active(&mut self.acquire().await?.conn()).await
    }

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
