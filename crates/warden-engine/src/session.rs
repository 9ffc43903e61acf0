//! The web console's sign-in: one-time sign-in links, sessions started by them or by an
//! OIDC provider's word, and judging a session on every use.
//!
//! A session is a random secret held in the browser's cookie; the store keeps its SHA-256
//! only. It ends at its absolute expiry, after `idle` without use, or when signed out, and
//! on every use the active catalog decides whether its identity may still act — exactly as
//! for bearer tokens. Only people sign in: a service or a workload has no browser.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warden_model::{Duration, IdentityId, IdentityKind, Timestamp};
use warden_store::{NewAuditEvent, SessionRecord, token_hash};

use crate::error::Fault;
use crate::standing::standing;
use crate::{Engine, EngineError, audit};

/// The prefix of a console session's secret (the cookie's value).
const SESSION_PREFIX: &str = "wds_";
/// The prefix of a sign-in link's secret.
const LINK_PREFIX: &str = "wdl_";

/// A session's use is written back at most this often, so that browsing is not a write
/// per page; the idle expiry is therefore judged to within this much.
const TOUCH_EVERY_MS: i64 = 30_000;

/// How long sessions last.
#[derive(Clone, Copy, Debug)]
pub struct SessionRules {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// A session ends this long after it started, used or not.
    pub absolute: Duration,
}

/// How a session was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    /// A one-time sign-in link (`warden login-link`).
    LoginLink,
    /// The configured OIDC provider.
    Oidc,
}

impl SignInMethod {
    /// The stored and audited name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::LoginLink => "login_link",
            SignInMethod::Oidc => "oidc",
        }
    }
}

/// A secret made here: a session's or a sign-in link's. Never printed by `Debug`.
pub struct Secret(String);

impl Secret {
    /// The secret's text, to put in a cookie or a URL once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A session that is live and whose identity may act.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Who is signed in.
    pub identity: IdentityId,
    /// How they signed in.
    pub method: String,
    /// The form token every POST of this session must carry.
    pub csrf: String,
    /// When the session ends at the latest.
    pub expires_at: Timestamp,
}

/// A session just started: its secret, for the cookie, and what it is.
#[derive(Debug)]
pub struct Started {
    /// The cookie's value, shown to the browser once.
    pub secret: Secret,
    /// The session.
    pub session: Session,
}

const NO_SESSION: &str = "the session is unknown, ended or expired; sign in again";

fn mint(prefix: &str) -> Result<Secret, EngineError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Fault::Random("a console secret", e))?;
    let secret = Secret(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)));
    bytes.fill(0);
    Ok(secret)
}

impl Engine {
    /// Whether `who` may sign in to the console now: a person (or a third party's person)
    /// of the active catalog with standing. The refusal says why.
    pub fn may_sign_in(&self, who: &IdentityId) -> Result<(), EngineError> {
        let bundle = self.bundle();
        let Some(identity) = bundle.catalog.identities.get(who) else {
            return Err(EngineError::Forbidden(format!(
                "`{who}` is not an identity of the active catalog"
            )));
        };
        if matches!(
            identity.kind,
            IdentityKind::Service | IdentityKind::Workload
        ) {
            return Err(EngineError::Forbidden(format!(
                "`{who}` is not a person; services and workloads do not sign in to the console"
            )));
        }
        standing(&bundle.catalog, who)
            .map_err(|barred| EngineError::Forbidden(barred.describe(who)))
    }

    /// The active catalog's identity whose `email` is `value` (when `by_email`), or whose
    /// id is `value`; `None` when there is none.
    pub fn identity_for_claim(&self, by_email: bool, value: &str) -> Option<IdentityId> {
        let value = value.trim();
        let bundle = self.bundle();
        let catalog = &bundle.catalog;
        let found = if by_email {
            catalog.identity_by_email(value)
        } else {
            IdentityId::parse(value)
                .ok()
                .and_then(|id| catalog.identities.get(&id))
        };
        found.map(|i| i.id.clone())
    }

    /// Makes a one-time sign-in link's secret for `who`, valid for `ttl`; audited
    /// `login_link.created` by `actor`. Refused for anyone who may not sign in.
    pub async fn create_login_link(
        &self,
        who: &IdentityId,
        ttl: Duration,
        actor: &str,
    ) -> Result<Secret, EngineError> {
        self.may_sign_in(who)?;
        let now = self.now();
        let expires_at = now.plus(ttl);
        let secret = mint(LINK_PREFIX)?;
        let mut tx = self.store().begin().await?;
        tx.insert_login_link(&token_hash(secret.expose()), who, now, expires_at)
            .await?;
        audit(
            &mut tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "login_link.created".into(),
                request_id: None,
                grant_id: None,
                before_state: None,
                after_state: None,
                bundle_hash: Some(self.bundle().hash().to_owned()),
                data: serde_json::json!({
                    "identity": who.as_str(),
                    "expires_at": expires_at.to_string(),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Spends a sign-in link and starts a session for the identity it names, in one
    /// transaction. An unknown, used or expired link is [`EngineError::Unauthorized`]; an
    /// identity that may no longer sign in is [`EngineError::Forbidden`], and the link is
    /// spent all the same.
    pub async fn sign_in_with_link(
        &self,
        link: &str,
        rules: SessionRules,
    ) -> Result<Started, EngineError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let Some(who) = tx.spend_login_link(&token_hash(link), now).await? else {
            tx.rollback().await?;
            return Err(EngineError::Unauthorized(
                "this sign-in link is unknown, used or expired; ask for a new one".into(),
            ));
        };
        if let Err(e) = self.may_sign_in(&who) {
            tx.commit().await?;
            return Err(e);
        }
        let started = self
            .start_session(&mut tx, &who, SignInMethod::LoginLink, rules, now, None)
            .await?;
        tx.commit().await?;
        Ok(started)
    }

    /// Starts a session for `who`, whom the OIDC provider `issuer` vouched for as `subject`.
    pub async fn sign_in_oidc(
        &self,
        who: &IdentityId,
        issuer: &str,
        subject: &str,
        rules: SessionRules,
    ) -> Result<Started, EngineError> {
        self.may_sign_in(who)?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let started = self
            .start_session(
                &mut tx,
                who,
                SignInMethod::Oidc,
                rules,
                now,
                Some(serde_json::json!({ "issuer": issuer, "subject": subject })),
            )
            .await?;
        tx.commit().await?;
        Ok(started)
    }

    async fn start_session(
        &self,
        tx: &mut warden_store::Tx,
        who: &IdentityId,
        method: SignInMethod,
        rules: SessionRules,
        now: Timestamp,
        provider: Option<serde_json::Value>,
    ) -> Result<Started, EngineError> {
        let secret = mint(SESSION_PREFIX)?;
        let csrf = mint("")?;
        let record = SessionRecord {
            hash: token_hash(secret.expose()),
            identity: who.clone(),
            method: method.as_str().to_owned(),
            csrf: csrf.expose().to_owned(),
            created_at: now,
            seen_at: now,
            expires_at: now.plus(rules.absolute),
            ended_at: None,
        };
        tx.insert_session(&record).await?;
        let mut data = serde_json::json!({
            "identity": who.as_str(),
            "method": method.as_str(),
            "expires_at": record.expires_at.to_string(),
        });
        if let (Some(p), Some(d)) = (provider, data.as_object_mut()) {
            d.insert("provider".into(), p);
        }
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: who.as_str().to_owned(),
                action: "session.started".into(),
                request_id: None,
                grant_id: None,
                before_state: None,
                after_state: None,
                bundle_hash: Some(self.bundle().hash().to_owned()),
                data,
            },
        )
        .await?;
        Ok(Started {
            secret,
            session: Session {
                identity: record.identity,
                method: record.method,
                csrf: record.csrf,
                expires_at: record.expires_at,
            },
        })
    }

    /// The live session whose cookie is `secret`. Unknown, signed out, expired or idle for
    /// `idle` is [`EngineError::Unauthorized`]; so is a session whose identity may no
    /// longer sign in under the active catalog.
    pub async fn console_session(
        &self,
        secret: &str,
        idle: Duration,
    ) -> Result<Session, EngineError> {
        let hash = token_hash(secret);
        let now = self.now();
        let record = self
            .store()
            .session_by_hash(&hash)
            .await?
            .ok_or_else(|| EngineError::Unauthorized(NO_SESSION.into()))?;
        if record.ended_at.is_some() || now >= record.expires_at || now >= record.seen_at.plus(idle)
        {
            return Err(EngineError::Unauthorized(NO_SESSION.into()));
        }
        if let Err(e) = self.may_sign_in(&record.identity) {
            return Err(EngineError::Unauthorized(format!(
                "the session's identity may not act: {e}"
            )));
        }
        if record.seen_at.millis_until(now) >= TOUCH_EVERY_MS {
            self.store().touch_session(&hash, now).await?;
        }
        Ok(Session {
            identity: record.identity,
            method: record.method,
            csrf: record.csrf,
            expires_at: record.expires_at,
        })
    }

    /// Ends the session whose cookie is `secret`; audited `session.ended`. Ending one that
    /// is unknown or already ended changes nothing.
    pub async fn sign_out(&self, secret: &str) -> Result<(), EngineError> {
        let hash = token_hash(secret);
        let Some(record) = self.store().session_by_hash(&hash).await? else {
            return Ok(());
        };
        let now = self.now();
        let mut tx = self.store().begin().await?;
        if tx.end_session(&hash, now).await? {
            audit(
                &mut tx,
                NewAuditEvent {
                    at: now,
                    actor: record.identity.as_str().to_owned(),
                    action: "session.ended".into(),
                    request_id: None,
                    grant_id: None,
                    before_state: None,
                    after_state: None,
                    bundle_hash: None,
                    data: serde_json::json!({ "identity": record.identity.as_str() }),
                },
            )
            .await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(())
    }
}

/// Why a single sign-on callback is refused when its `state` is not one waiting here.
const NO_OIDC_LOGIN: &str =
    "this single sign-on attempt is unknown, already used or expired; sign in again";

impl Engine {
    /// Remembers a single sign-on the console is sending a browser off to start: the
    /// `state` it sent (only its SHA-256 is kept), the `nonce` the ID token must carry,
    /// the PKCE `verifier`, and the console path to return to, for `ttl`. Sign-ins that
    /// have expired are deleted in the same transaction. Nothing is audited: nobody has
    /// signed in yet, and anyone may start a sign-in.
    pub async fn begin_oidc_login(
        &self,
        state: &str,
        nonce: &str,
        verifier: &str,
        return_to: &str,
        ttl: Duration,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let login = warden_store::OidcLogin {
            state_hash: token_hash(state),
            nonce: nonce.to_owned(),
            verifier: verifier.to_owned(),
            return_to: return_to.to_owned(),
            created_at: now,
            expires_at: now.plus(ttl),
        };
        let mut tx = self.store().begin().await?;
        tx.purge_oidc_logins(now).await?;
        tx.insert_oidc_login(&login).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the single sign-on whose `state` the provider sent back, once: it is deleted
    /// whatever follows. Unknown, already taken or expired is
    /// [`EngineError::Unauthorized`].
    pub async fn take_oidc_login(
        &self,
        state: &str,
    ) -> Result<warden_store::OidcLogin, EngineError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let login = tx.spend_oidc_login(&token_hash(state), now).await?;
        // Committed even when expired: the row is gone either way.
        tx.commit().await?;
        login.ok_or_else(|| EngineError::Unauthorized(NO_OIDC_LOGIN.into()))
    }
}
