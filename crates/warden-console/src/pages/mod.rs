//! The console's pages, one module each.

pub mod access;
pub mod audit;
pub mod evidence;
pub mod explorer;
pub mod grants;
pub mod inbox;
pub mod login;
pub mod request;
pub mod reviews;

use axum::response::{IntoResponse, Redirect, Response};

use crate::session::User;

/// `GET /ui`: the inbox for the signed-in, the sign-in page for anyone else.
pub async fn home(user: Result<User, Response>) -> Response {
    match user {
        Ok(_) => Redirect::to("/ui/inbox").into_response(),
        Err(_) => Redirect::to("/ui/login").into_response(),
    }
}

/// A console path to go back to after signing in: only a path of the console itself,
/// never another site (`//evil.example`) or a scheme.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/ui" || n.starts_with("/ui/"))
                && !n.contains("//")
                && !n.contains('\\')
                && n.chars().all(|c| !c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/ui/inbox".into(),
    }
}

/// Renders a timestamp for people: `2026-12-06 10:00 UTC`.
pub fn when(t: &warden_model::Timestamp) -> String {
    let s = t.to_string();
    // RFC 3339 `2026-12-06T10:00:00.000Z` → `2026-12-06 10:00 UTC`
    match (s.get(0..10), s.get(11..16)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => s,
    }
}
