//! API tokens. Only a hash of each secret is stored, so a leaked database does not leak
//! working tokens.

use warden_model::canonical::sha256_tagged;
use warden_model::{IdentityId, Timestamp};

use crate::conn::{RowExt, ms, on_conn, opt_ms};
use crate::error::{StoreError, db_err};
use crate::id::TokenId;
use crate::store::{Store, Tx};

/// A stored token (never its secret).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenRecord {
    /// Its id.
    pub id: TokenId,
    /// The identity it acts as.
    pub identity: IdentityId,
    /// What it may do; each scope is one word without spaces.
    pub scopes: Vec<String>,
    /// [`token_hash`] of the secret.
    pub hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it stops working; `None` only for tokens minted before expiry was recorded.
    pub expires_at: Option<Timestamp>,
    /// For a `broker` token, the one request `source` it may file under.
    pub source: Option<String>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`: not revoked, not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// The stored form of a token secret: `sha256:<hex>` of its bytes.
///
/// A plain hash (no salt, no slow KDF) is enough because secrets are long random strings,
/// and lookups must be by hash.
pub fn token_hash(secret: &str) -> String {
    sha256_tagged(secret.as_bytes())
}

impl Tx {
    /// Stores a token. A token whose id or hash exists already is [`StoreError::Conflict`];
    /// a scope that is empty or holds whitespace is [`StoreError::Invalid`].
    pub async fn insert_token(&mut self, t: &TokenRecord) -> Result<(), StoreError> {
        if let Some(bad) = t
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
        {
            return Err(StoreError::Invalid(format!(
                "scope `{bad}` must be one word without spaces"
            )));
        }
        let scopes = t.scopes.join(" ");
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO tokens (id, identity, scopes, hash, created_at, revoked_at, expires_at, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.id.to_string())
        .bind(t.identity.as_str())
        .bind(&scopes)
        .bind(&t.hash)
        .bind(ms(t.created_at))
        .bind(opt_ms(t.revoked_at))
        .bind(opt_ms(t.expires_at))
        .bind(t.source.as_deref())
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)?;
        Ok(())
    }

    /// Revokes token `id`; returns `false` if it does not exist or was revoked already.
    pub async fn revoke_token(&mut self, id: TokenId, at: Timestamp) -> Result<bool, StoreError> {
        let done = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(id.to_string())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(done == 1)
    }
}

impl Tx {
    /// Revokes every live token of `identity`; returns how many.
    pub async fn revoke_tokens_of(
        &mut self,
        identity: &IdentityId,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE identity = $2 AND revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(identity.as_str())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)
    }
}

impl Store {
    /// The token whose secret hashes to `hash` (see [`token_hash`]), revoked or not.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT id, identity, scopes, hash, created_at, revoked_at, expires_at, source \
                 FROM tokens WHERE hash = $1",
            )
            .bind(hash)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            row.as_ref().map(decode).transpose()
        })
    }
}

fn decode(row: &impl RowExt) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.parsed("id", str::parse)?,
        identity: row.parsed("identity", IdentityId::parse)?,
        scopes: row
            .text("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        hash: row.text("hash")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        expires_at: row.opt_time("expires_at")?,
        source: row.opt_text("source")?,
    })
}
