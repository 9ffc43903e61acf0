//! One request: its decision explained, who has answered and who still may, whether the
//! signed-in person may answer and why, and the form to approve or reject with a comment.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use warden_model::ApprovalDecision;

use crate::Console;
use crate::explain::{self, Line};
use crate::page::{Layout, PageError, render};
use crate::session::{Posted, User};

struct Answer {
    approver: String,
    decision: String,
    at: String,
    comment: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    layout: Layout,
    id: String,
    state: String,
    source: String,
    ticket: String,
    requester: String,
    subject: String,
    system: String,
    purpose: String,
    emergency: bool,
    outcome: String,
    lines: Vec<Line>,
    bundle_hash: String,
    input_hash: String,
    decided_at: String,
    approval_expires_at: String,
    answers: Vec<Answer>,
    remaining: usize,
    candidates: Vec<String>,
    may_answer: bool,
    why_not: String,
    grant: Option<GrantLine>,
    csrf: String,
}

struct GrantLine {
    id: String,
    state: String,
    role: String,
    expires_at: String,
}

/// `GET /ui/requests/{id}`.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let engine = &console.engine;
    let view = engine
        .request_for(&user.identity, user.reads_all(), &id)
        .await?;
    let needed = engine.still_needed(&view).await?;
    let (may_answer, why_not) = match engine.may_answer(&user.identity, &view.id).await {
        Ok(()) => (true, String::new()),
        Err(e) => (false, PageError::from(e).message().to_owned()),
    };
    let requester = view.request.requester.to_string();
    render(&RequestPage {
        layout: Layout::new(format!("Request {}", view.id), &user, "inbox"),
        id: view.id.clone(),
        state: view.state.as_str().to_owned(),
        source: view.source.clone(),
        ticket: view.ticket.clone(),
        subject: view
            .request
            .subject
            .as_ref()
            .map_or_else(|| requester.clone(), ToString::to_string),
        requester,
        system: view
            .decision
            .system
            .as_ref()
            .map_or_else(|| "—".into(), ToString::to_string),
        purpose: view.request.purpose.clone(),
        emergency: view.request.emergency,
        outcome: explain::outcome(&view.decision),
        lines: explain::explain(&view.request, &view.decision),
        bundle_hash: view.decision.bundle_hash.clone(),
        input_hash: view.decision.input_hash.clone(),
        decided_at: super::when(&view.decided_at),
        approval_expires_at: view
            .approval_expires_at
            .as_ref()
            .map(super::when)
            .unwrap_or_default(),
        answers: view
            .approvals
            .iter()
            .map(|a| Answer {
                approver: a.approver.to_string(),
                decision: if a.decision == "reject" {
                    "rejected".into()
                } else {
                    "approved".into()
                },
                at: super::when(&a.at),
                comment: a.comment.clone().unwrap_or_default(),
            })
            .collect(),
        remaining: needed.remaining,
        candidates: needed.candidates.iter().map(ToString::to_string).collect(),
        may_answer,
        why_not,
        grant: view.grant.as_ref().map(|g| GrantLine {
            id: g.id.clone(),
            state: g.state.as_str().to_owned(),
            role: g.role.to_string(),
            expires_at: g.expires_at.as_ref().map(super::when).unwrap_or_default(),
        }),
        csrf: user.csrf.clone(),
    })
}

#[derive(Deserialize)]
pub struct AnswerForm {
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `POST /ui/requests/{id}/answer`: approve or reject, with a comment.
pub async fn answer(
    State(console): State<Console>,
    Path(id): Path<String>,
    posted: Posted<AnswerForm>,
) -> Result<Response, PageError> {
    let decision = match posted.form.decision.as_str() {
        "approve" => ApprovalDecision::Approve,
        "reject" => ApprovalDecision::Reject,
        _ => {
            return Err(PageError::bad_request(
                "`decision`: must be approve or reject",
            ));
        }
    };
    let view = console
        .engine
        .answer_with(
            &posted.user.identity,
            &id,
            decision,
            Some(posted.form.comment.as_str()),
        )
        .await?;
    Ok(Redirect::to(&format!("/ui/requests/{}", view.id)).into_response())
}
