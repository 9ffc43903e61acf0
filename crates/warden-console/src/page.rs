//! What every page shares: the layout around it, rendering a template, and one error page
//! for every failure, with the status code the JSON API would give.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use warden_engine::EngineError;

use crate::session::User;

/// What the layout around every page needs.
pub struct Layout {
    /// The page's title.
    pub title: String,
    /// Who is signed in, if anyone: the navigation and the sign-out form need it.
    pub user: Option<User>,
    /// The navigation entry to mark as current.
    pub current: &'static str,
}

impl Layout {
    /// The layout of a page titled `title` for `user`, under navigation entry `current`.
    pub fn new(title: impl Into<String>, user: &User, current: &'static str) -> Self {
        Self {
            title: title.into(),
            user: Some(user.clone()),
            current,
        }
    }

    /// The layout of a page for someone not signed in.
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            user: None,
            current: "",
        }
    }
}

/// Renders `page` as an HTML answer.
pub fn render(page: &impl Template) -> Result<Response, PageError> {
    match page.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            Err(PageError::internal())
        }
    }
}

/// A failed page: its status and what to tell the person.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl PageError {
    /// A failure with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 403 saying why.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 400 saying why.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 saying what.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500, with nothing more said: the cause is logged where it happened.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "something went wrong on the server; it has been logged",
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the person is told.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<EngineError> for PageError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Gone(_) => StatusCode::GONE,
            EngineError::Invalid(_) => StatusCode::BAD_REQUEST,
            EngineError::Unreachable(_) => StatusCode::BAD_GATEWAY,
            EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Internal(_) => {
                tracing::error!(error = %e.describe(), "a console page failed");
                return Self::internal();
            }
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: Layout::anonymous(self.status.canonical_reason().unwrap_or("Error")),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", self.status.as_u16(), self.message));
        (self.status, Html(body)).into_response()
    }
}
