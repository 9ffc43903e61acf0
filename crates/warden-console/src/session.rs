//! Who the browser is: the session cookie, judged by the engine on every page, the roles
//! the active catalog gives its identity, and the form token every POST must carry.
//!
//! Handlers never read cookies themselves: a page takes a [`User`], and a form takes a
//! [`Posted`], which is a `User` whose POST carried the session's form token. A POST
//! without a session or with a wrong token is refused with 403 before its handler runs.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;
use warden_engine::EngineError;
use warden_model::IdentityId;

use crate::page::PageError;
use crate::{Console, FORM_LIMIT};

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "warden_session";
/// Its name over TLS: the `__Host-` prefix makes browsers refuse it unless it is `Secure`,
/// host-only and for `/`.
const SECURE_SESSION_COOKIE: &str = "__Host-warden_session";
/// The cookie that binds a sign-in form to the browser that loaded it (double submit),
/// so a third-party page cannot sign a victim in as someone else.
const LOGIN_COOKIE: &str = "warden_login";

/// The signed-in person of a console page.
#[derive(Clone, Debug)]
pub struct User {
    /// Who is signed in.
    pub identity: IdentityId,
    /// The form token of the session.
    pub csrf: String,
    /// Whether the active catalog puts them in an admin group.
    pub admin: bool,
    /// Whether the active catalog puts them in an audit group.
    pub audit: bool,
}

impl User {
    /// Whether they may read every request, grant and event (admin or audit).
    pub fn reads_all(&self) -> bool {
        self.admin || self.audit
    }

    /// Succeeds for an admin; otherwise 403.
    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.admin {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "this page is for administrators (a group of `[ui] admin_groups`)",
            ))
        }
    }

    /// Succeeds for an admin or an auditor; otherwise 403.
    pub fn require_reader(&self) -> Result<(), PageError> {
        if self.reads_all() {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "this page is for administrators and auditors (a group of `[ui] admin_groups` or `[ui] audit_groups`)",
            ))
        }
    }
}

/// The value of cookie `name` in `headers`, if sent.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session cookie's name for this console.
pub fn session_cookie_name(console: &Console) -> &'static str {
    if console.config.secure() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value that hands the browser its session. `Lax`: sent on top-level
/// navigations from elsewhere (a link in a ticket), never on another site's POST.
pub fn session_set_cookie(console: &Console, secret: &str) -> String {
    let max_age = console.config.session.absolute.seconds();
    format!(
        "{}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        session_cookie_name(console),
        if console.config.secure() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn session_clear_cookie(console: &Console) -> String {
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        session_cookie_name(console),
        if console.config.secure() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// A fresh random value for a form binding, from the operating system's CSPRNG.
pub fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|_| PageError::internal())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The `Set-Cookie` value binding a sign-in form to this browser for ten minutes.
pub fn login_set_cookie(console: &Console, value: &str) -> String {
    format!(
        "{LOGIN_COOKIE}={value}; Path=/ui/login; HttpOnly; SameSite=Strict; Max-Age=600{}",
        if console.config.secure() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// Whether `sent` (a sign-in form's hidden field) is the value of this browser's login
/// cookie.
pub fn login_bound(headers: &HeaderMap, sent: &str) -> bool {
    cookie(headers, LOGIN_COOKIE).is_some_and(|c| !c.is_empty() && same(c, sent))
}

/// Constant-time equality of two secrets.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Where a refused page sends the browser: to sign in (then back) for a page read, 403
/// for anything else.
pub struct NotSignedIn {
    method: Method,
    next: String,
    why: Option<String>,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        if self.method == Method::GET || self.method == Method::HEAD {
            let next =
                serde_urlencoded::to_string([("next", self.next.as_str())]).unwrap_or_default();
            Redirect::to(&format!("/ui/login?{next}")).into_response()
        } else {
            PageError::forbidden(
                self.why
                    .unwrap_or_else(|| "sign in first: this form needs a session".into()),
            )
            .into_response()
        }
    }
}

impl FromRequestParts<Console> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        let refuse = |why: Option<String>| NotSignedIn {
            method: parts.method.clone(),
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/ui".into()),
            why,
        };
        let Some(secret) = cookie(&parts.headers, session_cookie_name(console)) else {
            return Err(refuse(None).into_response());
        };
        let session = match console
            .engine
            .console_session(secret, console.config.session.idle)
            .await
        {
            Ok(s) => s,
            Err(EngineError::Unauthorized(why)) => return Err(refuse(Some(why)).into_response()),
            Err(e) => return Err(PageError::from(e).into_response()),
        };
        let bundle = console.engine.bundle();
        let groups = bundle
            .catalog
            .identities
            .get(&session.identity)
            .map(|i| &i.groups);
        let member_of = |set: &std::collections::BTreeSet<warden_model::GroupId>| {
            groups.is_some_and(|g| g.iter().any(|x| set.contains(x)))
        };
        Ok(User {
            admin: member_of(&console.config.admin_groups),
            audit: member_of(&console.config.audit_groups),
            identity: session.identity,
            csrf: session.csrf,
        })
    }
}

/// A form POSTed by a signed-in person, with the session's form token checked: the
/// fields (`csrf` besides) and who sent them.
pub struct Posted<T> {
    /// Who posted.
    pub user: User,
    /// The form's fields.
    pub form: T,
}

#[derive(serde::Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<Console> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, console: &Console) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = User::from_request_parts(&mut parts, console).await?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| PageError::bad_request("the form is too large").into_response())?;
        let token: Token = serde_urlencoded::from_bytes(&bytes).unwrap_or(Token {
            csrf: String::new(),
        });
        if token.csrf.is_empty() || !same(&token.csrf, &user.csrf) {
            return Err(PageError::forbidden(
                "the form's token is missing or not this session's; reload the page and try again",
            )
            .into_response());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::bad_request(format!("the form is not valid: {e}")).into_response()
        })?;
        Ok(Posted { user, form })
    }
}
