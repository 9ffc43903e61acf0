//! Reviews: the list, one review with its items (and, for a break-glass review, what was
//! done with the grant), deciding a campaign item (keep or revoke) and closing a
//! break-glass review (justified or not) — the engine calls of `/v1/reviews`.
//!
//! Administrators and auditors read every review and item, as `admin` and `audit` tokens
//! do; everyone else sees the reviews and items they are named a reviewer of, and a
//! review with none of those does not exist for them (404). Anyone may decide what they
//! are named a reviewer of, as with an `approve` token: the engine judges each decision
//! against the active catalog (not their own access, not a grant they asked for, standing,
//! named reviewer, Cedar's `review` action).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use warden_engine::EngineError;
use warden_engine::review::{Closing, ItemDecision, ReviewView, Viewer};

use crate::Console;
use crate::page::{Layout, PageError, render};
use crate::session::{Posted, User};

/// The most reviews the list shows.
const LISTED: u32 = 100;

/// Who is looking: administrators and auditors read everything.
fn viewer(user: &User) -> Viewer {
    Viewer {
        identity: user.identity.clone(),
        reads_all: user.reads_all(),
    }
}

struct Row {
    id: String,
    kind: &'static str,
    about: String,
    state: &'static str,
    overdue: bool,
    opened: String,
    due: String,
    outcome: String,
}

impl Row {
    fn of(r: &ReviewView) -> Self {
        Self {
            id: r.id.clone(),
            kind: kind_words(r.kind),
            about: match (&r.campaign, &r.subject) {
                (Some(c), _) => format!("campaign {c}"),
                (None, Some(s)) => format!("{s}'s emergency grant"),
                (None, None) => String::new(),
            },
            state: r.state,
            overdue: r.overdue,
            opened: super::when(&r.opened_at),
            due: super::when(&r.due_at),
            outcome: r.outcome.clone().unwrap_or_default(),
        }
    }
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "break_glass" => "break-glass",
        "campaign" => "campaign run",
        _ => "review",
    }
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    layout: Layout,
    open_only: bool,
    problem: String,
    reads_all: bool,
    rows: Vec<Row>,
}

/// `GET /ui/reviews?state=open`.
pub async fn list(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let state = fields
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    let mut page = ReviewsPage {
        layout: Layout::new("Reviews", &user, "reviews"),
        open_only: state == "open",
        problem: String::new(),
        reads_all: user.reads_all(),
        rows: Vec::new(),
    };
    if !matches!(state, "" | "all" | "open") {
        page.problem = format!("`state`: `{state}` is not `open` or `all`");
        let mut response = render(&page)?;
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let reviews = console
        .engine
        .reviews(&viewer(&user), page.open_only, LISTED)
        .await?;
    page.rows = reviews.iter().map(Row::of).collect();
    render(&page)
}

struct ItemRow {
    id: String,
    grant: String,
    identity: String,
    system: String,
    role: String,
    reviewers: String,
    decision: String,
    decided_by: String,
    decided_at: String,
    comment: String,
    /// Whether the signed-in person is named a reviewer of it and it is undecided in an
    /// open campaign run.
    may_decide: bool,
}

struct EventRow {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    data: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    csrf: String,
    notice: String,
    id: String,
    kind: &'static str,
    break_glass: bool,
    campaign: String,
    subject: String,
    grant: String,
    state: &'static str,
    overdue: bool,
    opened: String,
    due: String,
    outcome: String,
    closed_at: String,
    closed_by: String,
    comment: String,
    on_no_answer: String,
    items: Vec<ItemRow>,
    events: Vec<EventRow>,
    /// Whether the signed-in person may try to close this break-glass review.
    may_close: bool,
}

/// `GET /ui/reviews/{id}`.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Path(id): Path<String>,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let engine = &console.engine;
    let view = engine.review_for(&viewer(&user), &id).await?;
    // The items the person is named a reviewer of, as an `approve` token would see them.
    let theirs: BTreeSet<String> = if user.reads_all() {
        let as_reviewer = Viewer {
            identity: user.identity.clone(),
            reads_all: false,
        };
        match engine.review_for(&as_reviewer, &view.id).await {
            Ok(v) => v
                .items
                .unwrap_or_default()
                .into_iter()
                .map(|i| i.id)
                .collect(),
            Err(EngineError::NotFound(_)) => BTreeSet::new(),
            Err(e) => return Err(e.into()),
        }
    } else {
        view.items.iter().flatten().map(|i| i.id.clone()).collect()
    };
    let open = view.state == "open";
    let break_glass = view.kind == "break_glass";
    let items: Vec<ItemRow> = view
        .items
        .iter()
        .flatten()
        .map(|i| {
            let reviewers = i
                .reviewers
                .groups
                .iter()
                .map(|g| format!("group {g}"))
                .chain(i.reviewers.identities.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join(", ");
            ItemRow {
                id: i.id.clone(),
                grant: i.grant.clone().unwrap_or_default(),
                identity: i.identity.to_string(),
                system: i
                    .system
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                role: i.role.as_ref().map(ToString::to_string).unwrap_or_default(),
                reviewers,
                decision: i.decision.clone().unwrap_or_default(),
                decided_by: i.decided_by.clone().unwrap_or_default(),
                decided_at: i.decided_at.as_ref().map(super::when).unwrap_or_default(),
                comment: i.comment.clone().unwrap_or_default(),
                may_decide: open && !break_glass && i.decision.is_none() && theirs.contains(&i.id),
            }
        })
        .collect();
    let may_close = open && break_glass && !theirs.is_empty();
    let done = fields
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.as_str());
    render(&ReviewPage {
        layout: Layout::new(
            format!("{} review {}", capitalised(kind_words(view.kind)), view.id),
            &user,
            "reviews",
        ),
        csrf: user.csrf.clone(),
        notice: match done {
            Some("decided") => "Your decision is recorded.".into(),
            Some("closed") => "The review is closed.".into(),
            _ => String::new(),
        },
        id: view.id.clone(),
        kind: kind_words(view.kind),
        break_glass,
        campaign: view.campaign.clone().unwrap_or_default(),
        subject: view
            .subject
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        grant: view.grant.clone().unwrap_or_default(),
        state: view.state,
        overdue: view.overdue,
        opened: super::when(&view.opened_at),
        due: super::when(&view.due_at),
        outcome: view.outcome.clone().unwrap_or_default(),
        closed_at: view.closed_at.as_ref().map(super::when).unwrap_or_default(),
        closed_by: view.closed_by.clone().unwrap_or_default(),
        comment: view.comment.clone().unwrap_or_default(),
        on_no_answer: view.on_no_answer.clone().unwrap_or_default(),
        items,
        events: view
            .events
            .iter()
            .flatten()
            .map(|e| EventRow {
                seq: e.seq,
                at: super::when(&e.at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                data: match &e.data {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::Object(m) if m.is_empty() => String::new(),
                    other => other.to_string(),
                },
            })
            .collect(),
        may_close,
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `comment`, or none when left empty.
fn comment(c: &str) -> Option<&str> {
    let c = c.trim();
    (!c.is_empty()).then_some(c)
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `POST /ui/reviews/{id}/items/{item}/decide`: keep or revoke one item of a campaign run.
pub async fn decide(
    State(console): State<Console>,
    Path((id, item)): Path<(String, String)>,
    posted: Posted<DecideForm>,
) -> Result<Response, PageError> {
    let decision = match posted.form.decision.as_str() {
        "keep" => ItemDecision::Keep,
        "revoke" => ItemDecision::Revoke,
        _ => return Err(PageError::bad_request("`decision`: must be keep or revoke")),
    };
    let view = console
        .engine
        .decide_review_item(
            &viewer(&posted.user),
            &id,
            &item,
            decision,
            comment(&posted.form.comment),
        )
        .await?;
    Ok(Redirect::to(&format!("/ui/reviews/{}?done=decided", view.id)).into_response())
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    comment: String,
}

/// `POST /ui/reviews/{id}/close`: close a break-glass review as justified or not.
pub async fn close(
    State(console): State<Console>,
    Path(id): Path<String>,
    posted: Posted<CloseForm>,
) -> Result<Response, PageError> {
    let closing = match posted.form.outcome.as_str() {
        "justified" => Closing::Justified,
        "unjustified" => Closing::Unjustified,
        _ => {
            return Err(PageError::bad_request(
                "`outcome`: must be justified or unjustified",
            ));
        }
    };
    let view = console
        .engine
        .close_review(
            &viewer(&posted.user),
            &id,
            closing,
            comment(&posted.form.comment),
        )
        .await?;
    Ok(Redirect::to(&format!("/ui/reviews/{}?done=closed", view.id)).into_response())
}
