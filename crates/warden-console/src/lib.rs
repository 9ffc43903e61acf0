//! Warden's web console (`docs/console.md`): server-rendered pages under `/ui` for people
//! who ask for access, approve it, review it and audit it, built into `warden serve`.
//!
//! Every page is HTML rendered here from the same engine calls the JSON API makes, with
//! compiled templates (askama) and the stylesheet and script embedded in the binary. Forms
//! work without JavaScript; the script only adds countdowns, a copy button and a live
//! decision preview. A browser proves who it is with a session cookie started by a
//! one-time sign-in link or by the configured OIDC provider; every POST carries the
//! session's form token. The active catalog decides, on every page, whether the person may
//! still act and whether they may administer or audit.

mod assets;
mod explain;
mod oidc;
mod page;
mod pages;
mod security;
mod session;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use warden_engine::Engine;
use warden_engine::session::SessionRules;
use warden_model::GroupId;

pub use page::PageError;
pub use session::{SESSION_COOKIE, User};

/// The largest form the console accepts: 16 KiB.
const FORM_LIMIT: usize = 16 * 1024;

/// How the console is set up (`[ui]` in the configuration).
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The console's address as browsers reach it, without a trailing slash
    /// (`http://127.0.0.1:8080`). Sign-in links are made from it, and when it is
    /// `https://` the session cookie is `Secure`.
    pub public_url: String,
    /// How long sessions last.
    pub session: SessionRules,
    /// Members of these catalog groups may administer: see every grant and revoke.
    pub admin_groups: BTreeSet<GroupId>,
    /// Members of these catalog groups may audit: read every request, grant, event and
    /// the evidence.
    pub audit_groups: BTreeSet<GroupId>,
}

impl ConsoleConfig {
    /// Whether cookies must be `Secure`: the console is reached over TLS.
    pub fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What every console handler shares.
#[derive(Clone)]
pub struct Console {
    /// The engine behind every page.
    pub engine: Engine,
    /// The console's settings.
    pub config: Arc<ConsoleConfig>,
    /// Single sign-on, when `[ui.oidc]` is configured.
    pub oidc: Option<Arc<oidc::OidcSignIn>>,
    /// The evidence reports made for the page.
    pub(crate) evidence: Arc<pages::evidence::Reports>,
}

impl Console {
    /// A console over `engine`.
    pub fn new(engine: Engine, config: ConsoleConfig) -> Self {
        Self {
            engine,
            config: Arc::new(config),
            oidc: None,
            evidence: Arc::default(),
        }
    }
}

/// The console's routes, all under `/ui`, with its security headers and form limit. It
/// has no fallback, so it merges into the API's router.
pub fn router(console: Console) -> Router {
    Router::new()
        .route("/ui", get(pages::home))
        .route("/ui/", get(pages::home))
        .route("/ui/assets/{name}", get(assets::serve))
        .route("/ui/login", get(pages::login::form))
        .route(
            "/ui/login/link",
            get(pages::login::link_form).post(pages::login::link),
        )
        .route("/ui/login/oidc", get(oidc::start))
        .route("/ui/login/oidc/callback", get(oidc::callback))
        .route("/ui/logout", post(pages::login::logout))
        .route("/ui/inbox", get(pages::inbox::page))
        .route("/ui/requests/{id}", get(pages::request::page))
        .route("/ui/requests/{id}/answer", post(pages::request::answer))
        .route("/ui/access", get(pages::access::page))
        .route(
            "/ui/access/new",
            get(pages::access::form).post(pages::access::file),
        )
        .route("/ui/access/preview", post(pages::access::preview))
        .route(
            "/ui/grants/{id}/credential",
            post(pages::access::credential),
        )
        .route("/ui/grants", get(pages::grants::page))
        .route("/ui/grants/{id}/revoke", post(pages::grants::revoke))
        .route("/ui/revocations", post(pages::grants::revoke_matching))
        .route("/ui/audit", get(pages::audit::page))
        .route("/ui/audit/verify", get(pages::audit::verify))
        .route(
            "/ui/evidence",
            get(pages::evidence::page).post(pages::evidence::again),
        )
        .route("/ui/evidence/report", get(pages::evidence::download))
        .route("/ui/explorer", get(pages::explorer::page))
        .route("/ui/reviews", get(pages::reviews::list))
        .route("/ui/reviews/{id}", get(pages::reviews::page))
        .route(
            "/ui/reviews/{id}/items/{item}/decide",
            post(pages::reviews::decide),
        )
        .route("/ui/reviews/{id}/close", post(pages::reviews::close))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(console)
}
