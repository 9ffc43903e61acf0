//! The explorer: what could an identity get on a system now? For each role of the system
//! in the active catalog, the decision a request for it would get (`Engine::dry_run`, the
//! call behind the ask form's preview): the outcome, the role and duration given, the
//! approvals needed and the first reason. Nothing is stored. Everyone may explore
//! themselves; administrators and auditors may explore anyone.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use warden_model::{Duration, IdentityId, Request, SystemId};

use crate::Console;
use crate::explain;
use crate::page::{Layout, PageError, render};
use crate::session::User;

/// The purpose, source and ticket of every explored request.
const PURPOSE: &str = "explorer";
const SOURCE: &str = "console";
const TICKET: &str = "explorer";

struct Choice {
    value: String,
    selected: bool,
}

struct Row {
    asked: String,
    outcome: String,
    /// `grant`, `approval_required` or `deny`, for styling.
    state: &'static str,
    given: String,
    duration: String,
    approvals: String,
    reason_code: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "explorer.html")]
struct ExplorerPage {
    layout: Layout,
    problem: String,
    identities: Vec<Choice>,
    systems: Vec<Choice>,
    identity: String,
    system: String,
    explored: bool,
    rows: Vec<Row>,
}

/// `GET /ui/explorer?identity=&system=`.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (mut identity, mut system) = (String::new(), String::new());
    for (k, v) in &fields {
        match k.as_str() {
            "identity" => identity = v.trim().to_owned(),
            "system" => system = v.trim().to_owned(),
            _ => {}
        }
    }
    if identity.is_empty() {
        identity = user.identity.to_string();
    }
    let refused = || {
        PageError::forbidden(
            "you may explore your own access only; administrators and auditors may explore anyone's",
        )
    };
    let who = match IdentityId::parse(&identity) {
        Ok(who) => who,
        Err(_) if !user.reads_all() => return Err(refused()),
        Err(e) => {
            return problem(
                &console,
                &user,
                &identity,
                &system,
                format!("`identity`: {e}"),
            );
        }
    };
    if who != user.identity && !user.reads_all() {
        return Err(refused());
    }
    let mut page = form(&console, &user, &identity, &system);
    if system.is_empty() {
        return render(&page);
    }
    let sid = match SystemId::parse(&system) {
        Ok(s) => s,
        Err(e) => {
            return problem(
                &console,
                &user,
                &identity,
                &system,
                format!("`system`: {e}"),
            );
        }
    };
    let bundle = console.engine.bundle();
    if !bundle.catalog.systems.contains_key(&sid) {
        return problem(
            &console,
            &user,
            &identity,
            &system,
            format!("`system`: the active catalog has no system `{sid}`"),
        );
    }
    for role in bundle.catalog.roles_of(&sid) {
        let request = Request {
            source: Some(SOURCE.into()),
            ticket: Some(TICKET.into()),
            requester: who.clone(),
            subject: None,
            system: None,
            role: Some(role.clone()),
            needs: None,
            task: None,
            purpose: PURPOSE.into(),
            duration: None,
            emergency: false,
            requested_at: None,
            oidc: Default::default(),
        };
        let d = console.engine.dry_run(&request).await?;
        let first = d.reasons.first();
        let steps: Vec<String> = d
            .approvals
            .iter()
            .map(|s| {
                let from: Vec<String> = s
                    .from_groups
                    .iter()
                    .map(ToString::to_string)
                    .chain(s.from_identities.iter().map(ToString::to_string))
                    .collect();
                format!("{} from {}", s.count, from.join(" or "))
            })
            .collect();
        page.rows.push(Row {
            asked: role.to_string(),
            outcome: explain::outcome(&d),
            state: match d.outcome {
                warden_model::Outcome::Grant => "granted",
                warden_model::Outcome::ApprovalRequired => "approval_required",
                warden_model::Outcome::Deny => "denied",
            },
            given: d
                .role
                .as_ref()
                .map_or_else(|| "—".into(), ToString::to_string),
            duration: d
                .duration_seconds
                .and_then(Duration::from_seconds)
                .map_or_else(|| "—".into(), |d| d.to_string()),
            approvals: if steps.is_empty() {
                "none".into()
            } else {
                steps.join("; ")
            },
            reason_code: first
                .map(|r| r.code.as_str().to_owned())
                .unwrap_or_default(),
            reason: first.and_then(|r| r.message.clone()).unwrap_or_default(),
        });
    }
    page.explored = true;
    render(&page)
}

/// The form, with the identities `user` may explore and every system of the catalog.
fn form(console: &Console, user: &User, identity: &str, system: &str) -> ExplorerPage {
    let bundle = console.engine.bundle();
    let identities = if user.reads_all() {
        bundle
            .catalog
            .identities
            .keys()
            .map(|i| Choice {
                value: i.to_string(),
                selected: i.as_str() == identity,
            })
            .collect()
    } else {
        vec![Choice {
            value: user.identity.to_string(),
            selected: true,
        }]
    };
    let systems = bundle
        .catalog
        .systems
        .keys()
        .map(|s| Choice {
            value: s.to_string(),
            selected: s.as_str() == system,
        })
        .collect();
    ExplorerPage {
        layout: Layout::new("Explorer", user, "explorer"),
        problem: String::new(),
        identities,
        systems,
        identity: identity.to_owned(),
        system: system.to_owned(),
        explored: false,
        rows: Vec::new(),
    }
}

/// The form again, saying what is wrong, with status 400.
fn problem(
    console: &Console,
    user: &User,
    identity: &str,
    system: &str,
    why: String,
) -> Result<Response, PageError> {
    let mut page = form(console, user, identity, system);
    page.problem = why;
    let mut response = render(&page)?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}
