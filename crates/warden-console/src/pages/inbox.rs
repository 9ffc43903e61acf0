//! The inbox: requests waiting for an answer the signed-in person may give now.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use warden_engine::view::RequestView;

use crate::Console;
use crate::explain;
use crate::page::{Layout, PageError, render};
use crate::session::User;

/// One waiting request, as the inbox lists it.
pub struct Row {
    pub(crate) id: String,
    pub(crate) requester: String,
    pub(crate) subject: String,
    pub(crate) role: String,
    pub(crate) duration: String,
    pub(crate) purpose: String,
    pub(crate) decided_at: String,
    pub(crate) outcome: String,
    pub(crate) emergency: bool,
}

impl Row {
    /// The row of `view`.
    pub fn of(view: &RequestView) -> Self {
        let requester = view.request.requester.to_string();
        Self {
            id: view.id.clone(),
            subject: view
                .request
                .subject
                .as_ref()
                .map_or_else(|| requester.clone(), ToString::to_string),
            requester,
            role: view
                .decision
                .role
                .as_ref()
                .map_or_else(|| "—".into(), ToString::to_string),
            duration: view
                .decision
                .duration_seconds
                .and_then(warden_model::Duration::from_seconds)
                .map_or_else(|| "—".into(), |d| d.to_string()),
            purpose: view.request.purpose.clone(),
            decided_at: super::when(&view.decided_at),
            outcome: explain::outcome(&view.decision),
            emergency: view.request.emergency,
        }
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    rows: Vec<Row>,
    more: bool,
}

/// The most requests the inbox shows: the newest waiting for this approver.
const SHOWN: usize = 50;

/// `GET /ui/inbox`.
pub async fn page(State(console): State<Console>, user: User) -> Result<Response, PageError> {
    let (waiting, more) = console.engine.inbox(&user.identity, SHOWN).await?;
    render(&InboxPage {
        layout: Layout::new("Inbox", &user, "inbox"),
        rows: waiting.iter().map(Row::of).collect(),
        more,
    })
}
