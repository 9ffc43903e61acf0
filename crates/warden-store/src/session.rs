//! The web console's sign-in records: browser sessions, one-time sign-in links and OIDC
//! sign-ins under way. Like tokens, each is found by the SHA-256 of its secret
//! ([`crate::token_hash`]); the secret itself is never stored.

use warden_model::{IdentityId, Timestamp};

use crate::conn::{RowExt, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::store::{Store, Tx};

/// A stored console session (never its secret).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SessionRecord {
    /// The hash of the session's secret (the cookie's value).
    pub hash: String,
    /// Who signed in.
    pub identity: IdentityId,
    /// How: `login_link` or `oidc`.
    pub method: String,
    /// The form token bound to this session.
    pub csrf: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it was last used.
    pub seen_at: Timestamp,
    /// When it ends whatever its use.
    pub expires_at: Timestamp,
    /// When it was signed out, if it was.
    pub ended_at: Option<Timestamp>,
}

/// An OIDC sign-in under way: what the browser's `state` must come back to.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcLogin {
    /// The hash of the `state` parameter.
    pub state_hash: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The console path to return to after signing in.
    pub return_to: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it can no longer be completed.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verifier is a secret until it is spent.
        f.debug_struct("OidcLogin")
            .field("state_hash", &self.state_hash)
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Tx {
    /// Stores a new session.
    pub async fn insert_session(&mut self, s: &SessionRecord) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO console_sessions \
             (hash, identity, method, csrf, created_at, seen_at, expires_at, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&s.hash)
        .bind(s.identity.as_str())
        .bind(&s.method)
        .bind(&s.csrf)
        .bind(ms(s.created_at))
        .bind(ms(s.seen_at))
        .bind(ms(s.expires_at))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Ends the session with `hash`; returns `false` if there is none or it had ended.
    pub async fn end_session(&mut self, hash: &str, at: Timestamp) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE console_sessions SET ended_at = $1 WHERE hash = $2 AND ended_at IS NULL",
        )
        .bind(ms(at))
        .bind(hash)
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Stores a one-time sign-in link for `identity`, usable until `expires_at`.
    pub async fn insert_login_link(
        &mut self,
        hash: &str,
        identity: &IdentityId,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO login_links (hash, identity, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(hash)
        .bind(identity.as_str())
        .bind(ms(created_at))
        .bind(ms(expires_at))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Spends the sign-in link with `hash` at `at`: the identity it names if it was unused
    /// and unexpired, and `None` otherwise. A link is spent once even when two browsers
    /// race for it: the update that marks it used is the check.
    pub async fn spend_login_link(
        &mut self,
        hash: &str,
        at: Timestamp,
    ) -> Result<Option<IdentityId>, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE login_links SET used_at = $1 \
             WHERE hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(ms(at))
        .bind(hash)
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        if n != 1 {
            return Ok(None);
        }
        on_conn!(&mut self.conn(), c => {
            let row = sqlx::query("SELECT identity FROM login_links WHERE hash = $1")
                .bind(hash)
                .fetch_one(&mut **c)
                .await
                .map_err(db_err)?;
            row.parsed("identity", IdentityId::parse).map(Some)
        })
    }

    /// Stores an OIDC sign-in under way.
    pub async fn insert_oidc_login(&mut self, l: &OidcLogin) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO oidc_logins (state_hash, nonce, verifier, return_to, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&l.state_hash)
        .bind(&l.nonce)
        .bind(&l.verifier)
        .bind(&l.return_to)
        .bind(ms(l.created_at))
        .bind(ms(l.expires_at))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Takes the OIDC sign-in whose `state` hashes to `state_hash`, deleting it, and
    /// returns it if it had not expired at `at`. Each is taken once.
    pub async fn spend_oidc_login(
        &mut self,
        state_hash: &str,
        at: Timestamp,
    ) -> Result<Option<OidcLogin>, StoreError> {
        let row = on_conn!(&mut self.conn(), c => {
            sqlx::query(
                "SELECT state_hash, nonce, verifier, return_to, created_at, expires_at \
                 FROM oidc_logins WHERE state_hash = $1",
            )
            .bind(state_hash)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?
            .map(|r| -> Result<OidcLogin, StoreError> {
                Ok(OidcLogin {
                    state_hash: r.text("state_hash")?,
                    nonce: r.text("nonce")?,
                    verifier: r.text("verifier")?,
                    return_to: r.text("return_to")?,
                    created_at: r.time("created_at")?,
                    expires_at: r.time("expires_at")?,
                })
            })
            .transpose()
        })?;
        let Some(login) = row else { return Ok(None) };
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1",
        )
        .bind(state_hash)
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok((n == 1 && at < login.expires_at).then_some(login))
    }

    /// Deletes OIDC sign-ins that expired before `at`; returns how many.
    pub async fn purge_oidc_logins(&mut self, at: Timestamp) -> Result<u64, StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
            .bind(ms(at))
            .execute(&mut **c)
            .await
            .map(|d| d.rows_affected()))
        .map_err(db_err)
    }
}

impl Store {
    /// The session whose secret hashes to `hash`, ended or not.
    pub async fn session_by_hash(&self, hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT hash, identity, method, csrf, created_at, seen_at, expires_at, ended_at \
                 FROM console_sessions WHERE hash = $1",
            )
            .bind(hash)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            row.as_ref().map(decode).transpose()
        })
    }

    /// Records that the session with `hash` was used at `at`.
    pub async fn touch_session(&self, hash: &str, at: Timestamp) -> Result<(), StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => sqlx::query(
            "UPDATE console_sessions SET seen_at = $1 WHERE hash = $2 AND seen_at < $1",
        )
        .bind(ms(at))
        .bind(hash)
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }
}

fn decode(row: &impl RowExt) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        hash: row.text("hash")?,
        identity: row.parsed("identity", IdentityId::parse)?,
        method: row.text("method")?,
        csrf: row.text("csrf")?,
        created_at: row.time("created_at")?,
        seen_at: row.time("seen_at")?,
        expires_at: row.time("expires_at")?,
        ended_at: row.opt_time("ended_at")?,
    })
}
