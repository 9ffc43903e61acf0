//! Single sign-on with an OIDC provider (authorization code with PKCE).
//!
//! `GET /ui/login/oidc` makes a fresh `state`, `nonce` and PKCE verifier, keeps them in
//! the store (the state only as its hash, for ten minutes), binds the attempt to this
//! browser with a cookie holding the state, and sends the browser to the provider.
//! `GET /ui/login/oidc/callback` takes the stored attempt by the `state` the provider sent
//! back (once: a replayed callback finds nothing), checks the browser is the one that
//! started it, redeems the code and verifies the ID token (`warden_oidc::SignIn`), finds
//! the catalog identity its configured claim names, and starts a session only for a
//! person the active catalog lets sign in. Every refusal is a page that says why, and no
//! session is started by one.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq as _;
use warden_model::{Duration, IdentityId};
use warden_oidc::{Claims, SignIn, SignInError};

use crate::Console;
use crate::page::PageError;
use crate::pages::login::signed_in;
use crate::pages::safe_next;
use crate::session;

/// How long a browser has to come back from the provider: ten minutes.
const ATTEMPT_SECONDS: u64 = 600;

/// The cookie that binds a sign-in attempt to the browser that started it, so that a
/// callback URL another person's attempt produced cannot sign this browser in as them.
/// `Lax`, not `Strict`: the callback is a navigation that comes from the provider's site.
const BINDING_COOKIE: &str = "warden_oidc";

/// The most characters of a provider's or a token's text a page repeats.
const SHOWN_CHARS: usize = 120;

/// The configured single sign-on: the provider's client and the ID token claim that
/// names a catalog identity.
pub struct OidcSignIn {
    sign_in: SignIn,
    identity_claim: String,
}

impl OidcSignIn {
    /// Whether identities are found by their catalog `email` (else by their id).
    fn by_email(&self) -> bool {
        self.identity_claim == "email"
    }

    /// The catalog identity the verified `claims` name, or a 403 saying why there is none.
    fn identity(&self, console: &Console, claims: &Claims) -> Result<IdentityId, PageError> {
        let claim = self.identity_claim.as_str();
        let value = match claims.claims.get(claim) {
            Some(Value::String(v)) if !v.trim().is_empty() => v.trim(),
            _ => {
                return Err(PageError::forbidden(format!(
                    "the single sign-on provider's ID token has no `{claim}` claim to find you in the catalog by"
                )));
            }
        };
        if self.by_email() && claims.claims.get("email_verified") == Some(&Value::Bool(false)) {
            return Err(PageError::forbidden(format!(
                "the single sign-on provider has not verified the email address `{}`",
                shown(value)
            )));
        }
        console
            .engine
            .identity_for_claim(self.by_email(), value)
            .ok_or_else(|| {
                PageError::forbidden(format!(
                    "no identity of the catalog has the {} `{}`; ask an administrator to add you",
                    if self.by_email() { "email" } else { "id" },
                    shown(value)
                ))
            })
    }
}

impl Console {
    /// This console with single sign-on through `sign_in`, finding people by the ID
    /// token claim `identity_claim`: `email` matches identities' `email` in the catalog,
    /// any other claim matches identity ids.
    pub fn with_oidc(mut self, sign_in: SignIn, identity_claim: impl Into<String>) -> Self {
        self.oidc = Some(Arc::new(OidcSignIn {
            sign_in,
            identity_claim: identity_claim.into(),
        }));
        self
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /ui/login/oidc?next=…`: starts a sign-in at the provider.
pub async fn start(
    State(console): State<Console>,
    Query(q): Query<StartQuery>,
) -> Result<Response, PageError> {
    let oidc = configured(&console)?;
    let (url, pending) = oidc
        .sign_in
        .begin(console.engine.now())
        .await
        .map_err(|e| refused(&e))?;
    let ttl = Duration::from_seconds(ATTEMPT_SECONDS).ok_or_else(PageError::internal)?;
    console
        .engine
        .begin_oidc_login(
            &pending.state,
            &pending.nonce,
            &pending.verifier,
            &safe_next(q.next.as_deref()),
            ttl,
        )
        .await?;
    let mut response = Redirect::to(&url).into_response();
    let cookie = binding_cookie(&console, &pending.state, ATTEMPT_SECONDS);
    if let Ok(v) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /ui/login/oidc/callback?code=…&state=…` (or `error=…`): where the provider sends
/// the browser back. Signs in, or says why not; the binding cookie is cleared either way.
pub async fn callback(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let mut response = match finish(&console, &headers, q).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                status = e.status().as_u16(),
                why = e.message(),
                "single sign-on refused"
            );
            e.into_response()
        }
    };
    if let Ok(v) = binding_cookie(&console, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn finish(
    console: &Console,
    headers: &HeaderMap,
    q: CallbackQuery,
) -> Result<Response, PageError> {
    let oidc = configured(console)?;
    if let Some(error) = q.error {
        // The attempt is over: spend it, if it is one of ours.
        if let Some(state) = q.state.as_deref().filter(|s| !s.is_empty()) {
            let _ = console.engine.take_oidc_login(state).await;
        }
        let detail = q
            .error_description
            .map(|d| format!(" ({})", shown(&d)))
            .unwrap_or_default();
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the single sign-on provider did not sign you in: {}{detail}; start again from the sign-in page",
                shown(&error)
            ),
        ));
    }
    let (Some(code), Some(state)) = (
        q.code.filter(|c| !c.is_empty()),
        q.state.filter(|s| !s.is_empty()),
    ) else {
        return Err(PageError::bad_request(
            "the single sign-on provider's answer has no code or no state; start again from the sign-in page",
        ));
    };
    // Taken first, so that it is spent whatever follows: a callback works once.
    let login = console.engine.take_oidc_login(&state).await?;
    if !started_here(headers, &state) {
        return Err(PageError::forbidden(
            "this single sign-on was not started in this browser; start again from the sign-in page",
        ));
    }
    // RFC 9207: a provider that names itself on the callback must be the configured one.
    if q.iss
        .as_deref()
        .is_some_and(|iss| iss != oidc.sign_in.issuer())
    {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "the answer names another single sign-on provider than the configured one",
        ));
    }
    // The engine's clock judges the ID token's `exp` and `iat`, like every other instant.
    let claims = oidc
        .sign_in
        .finish(&code, &login.verifier, &login.nonce, console.engine.now())
        .await
        .map_err(|e| refused(&e))?;
    let who = oidc.identity(console, &claims)?;
    console.engine.may_sign_in(&who)?;
    let started = console
        .engine
        .sign_in_oidc(
            &who,
            &claims.issuer,
            &claims.subject,
            console.config.session,
        )
        .await?;
    crate::pages::login::end_previous(console, headers).await?;
    Ok(signed_in(
        console,
        started.secret.expose(),
        &login.return_to,
    ))
}

/// The configured single sign-on, or 404.
fn configured(console: &Console) -> Result<Arc<OidcSignIn>, PageError> {
    console.oidc.clone().ok_or_else(|| {
        PageError::not_found("single sign-on is not configured here; sign in with a link")
    })
}

/// The page for a sign-in the provider's side failed: 502 when the provider could not
/// be used (try later), 401 when what it sent does not pass.
fn refused(e: &SignInError) -> PageError {
    match e {
        SignInError::Random(_) => {
            tracing::error!(error = %e, "single sign-on failed");
            PageError::internal()
        }
        _ if e.is_unavailable() => {
            tracing::warn!(error = %e, "single sign-on provider unavailable");
            PageError::new(
                StatusCode::BAD_GATEWAY,
                format!("{e}; try again later, or sign in with a link"),
            )
        }
        _ => PageError::new(StatusCode::UNAUTHORIZED, e.to_string()),
    }
}

/// The `Set-Cookie` value binding an attempt to this browser (`max_age` 0 removes it).
fn binding_cookie(console: &Console, state: &str, max_age: u64) -> String {
    format!(
        "{BINDING_COOKIE}={state}; Path=/ui/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if console.config.secure() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// Whether this browser's binding cookie holds `state`.
fn started_here(headers: &HeaderMap, state: &str) -> bool {
    session::cookie(headers, BINDING_COOKIE).is_some_and(|c| {
        !c.is_empty() && c.len() == state.len() && bool::from(c.as_bytes().ct_eq(state.as_bytes()))
    })
}

/// A provider's or a token's text as a page repeats it: no control characters, cut short.
fn shown(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", clean.get(..cut).unwrap_or_default()),
        None => clean,
    }
}
