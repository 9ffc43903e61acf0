//! Signing in and out. With no identity provider, `warden login-link --identity ID` prints
//! a one-time link to `/ui/login/link`; its page posts the link's secret back with a form
//! bound to this browser, so that neither a link scanner's GET nor a third-party page can
//! spend it or sign a victim in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Console;
use crate::page::{Layout, PageError, render};
use crate::session::{self, Posted};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    oidc: bool,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /ui/login`: how to sign in.
pub async fn form(
    State(console): State<Console>,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    render(&LoginPage {
        layout: Layout::anonymous("Sign in"),
        oidc: console.oidc.is_some(),
        next: super::safe_next(q.next.as_deref()),
    })
}

#[derive(Template)]
#[template(path = "login_link.html")]
struct LinkPage {
    layout: Layout,
    token: String,
    binding: String,
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// `GET /ui/login/link?token=…`: a page with one button that signs in with the link.
/// Nothing is spent here.
pub async fn link_form(
    State(console): State<Console>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, PageError> {
    let binding = session::random_token()?;
    let mut response = render(&LinkPage {
        layout: Layout::anonymous("Sign in with a link"),
        token: q.token,
        binding: binding.clone(),
    })?;
    if let Ok(v) = session::login_set_cookie(&console, &binding).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    binding: String,
}

/// `POST /ui/login/link`: spends the link and starts a session.
pub async fn link(
    State(console): State<Console>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LinkForm>,
) -> Result<Response, PageError> {
    if !session::login_bound(&headers, &f.binding) {
        return Err(PageError::forbidden(
            "this sign-in form was not loaded by this browser; open the link again",
        ));
    }
    let started = console
        .engine
        .sign_in_with_link(f.token.trim(), console.config.session)
        .await?;
    end_previous(&console, &headers).await?;
    Ok(signed_in(&console, started.secret.expose(), "/ui/inbox"))
}

/// Ends the session this browser held before signing in again, if any: a new sign-in
/// never leaves an older session of the same browser alive behind it.
pub async fn end_previous(console: &Console, headers: &HeaderMap) -> Result<(), PageError> {
    if let Some(old) = session::cookie(headers, session::session_cookie_name(console)) {
        console.engine.sign_out(old).await?;
    }
    Ok(())
}

/// Where a successful sign-in goes, with its session cookie set.
pub fn signed_in(console: &Console, secret: &str, next: &str) -> Response {
    let mut response = Redirect::to(&super::safe_next(Some(next))).into_response();
    if let Ok(v) = session::session_set_cookie(console, secret).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /ui/logout`: ends the session here and in the store.
pub async fn logout(
    State(console): State<Console>,
    headers: HeaderMap,
    _posted: Posted<Empty>,
) -> Result<Response, PageError> {
    end_previous(&console, &headers).await?;
    let mut response = Redirect::to("/ui/login").into_response();
    if let Ok(v) = session::session_clear_cookie(&console).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
