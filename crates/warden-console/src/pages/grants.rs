//! Grants, for administrators and auditors: every grant, filtered by subject, system and
//! state, newest first, with the time each has left. Administrators also revoke: one grant
//! (`POST /ui/grants/{id}/revoke`) or every live grant of an identity, a system or a ticket
//! at once (`POST /ui/revocations`, after a confirmation box) — the engine calls and the
//! checks of `POST /v1/grants/{id}/revoke` and `POST /v1/revocations`. Auditors see no
//! revoke forms, and their POSTs are refused.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use warden_engine::GrantView;
use warden_engine::grant::GrantQuery;
use warden_engine::revocation::Revocation;
use warden_model::{GrantState, IdentityId, SystemId};

use crate::Console;
use crate::page::{Layout, PageError, render};
use crate::session::{Posted, User};

/// The most grants the page lists: the newest ones matching.
const LISTED: u32 = 100;

/// The ticket source bulk revocation assumes when none is given, as the API does.
const DEFAULT_SOURCE: &str = "api";

/// Every grant state, in lifecycle order, for the filter.
const STATES: [GrantState; 5] = [
    GrantState::Provisioning,
    GrantState::Active,
    GrantState::Revoking,
    GrantState::Revoked,
    GrantState::Failed,
];

struct Row {
    id: String,
    subject: String,
    role: String,
    system: String,
    state: &'static str,
    activated: String,
    expires: String,
    expires_rfc3339: String,
    /// Whether a revocation would change anything (it is provisioning or active).
    revocable: bool,
}

impl Row {
    fn of(g: &GrantView) -> Self {
        let live = matches!(g.state, GrantState::Provisioning | GrantState::Active);
        Self {
            id: g.id.clone(),
            subject: g.subject.to_string(),
            role: g.role.to_string(),
            system: g.system.to_string(),
            state: g.state.as_str(),
            activated: g.activated_at.as_ref().map(super::when).unwrap_or_default(),
            expires: g.expires_at.as_ref().map(super::when).unwrap_or_default(),
            // Only a grant whose clock runs gets the live countdown.
            expires_rfc3339: match (g.state, g.expires_at) {
                (GrantState::Active, Some(t)) => t.to_string(),
                _ => String::new(),
            },
            revocable: live,
        }
    }
}

struct Choice {
    value: String,
    selected: bool,
}

/// The bulk revocation form as typed.
#[derive(Default, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    identity: String,
    #[serde(default)]
    system: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    layout: Layout,
    csrf: String,
    admin: bool,
    notice: String,
    problem: String,
    subject: String,
    systems: Vec<Choice>,
    states: Vec<Choice>,
    rows: Vec<Row>,
    listed: u32,
    bulk: BulkForm,
    bulk_problem: String,
}

/// The filter as typed: `(subject, system, state)`.
#[derive(Default)]
struct Filter {
    subject: String,
    system: String,
    state: String,
}

impl Filter {
    fn of(fields: &[(String, String)]) -> Self {
        let mut f = Filter::default();
        for (k, v) in fields {
            let v = v.trim().to_owned();
            match k.as_str() {
                "subject" => f.subject = v,
                "system" => f.system = v,
                "state" => f.state = v,
                _ => {}
            }
        }
        f
    }

    /// The engine's query, or the first field that is not valid, named.
    fn query(&self) -> Result<GrantQuery, String> {
        let mut q = GrantQuery {
            limit: Some(LISTED),
            ..GrantQuery::default()
        };
        if !self.subject.is_empty() {
            q.subject =
                Some(IdentityId::parse(&self.subject).map_err(|e| format!("`subject`: {e}"))?);
        }
        if !self.system.is_empty() {
            q.system = Some(SystemId::parse(&self.system).map_err(|e| format!("`system`: {e}"))?);
        }
        if !self.state.is_empty() {
            q.state = Some(GrantState::parse(&self.state).map_err(|_| {
                format!(
                    "`state`: `{}` is not one of provisioning, active, revoking, revoked or failed",
                    self.state
                )
            })?);
        }
        Ok(q)
    }
}

/// What a `?done=` notice says. Only known words are shown; anything else is ignored.
fn notice(fields: &[(String, String)]) -> String {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    match get("done") {
        Some("revoked") => "The grant is being revoked: it stays `revoking` until its target \
                           confirms the removal."
            .into(),
        Some("bulk") => {
            let count = number("count");
            let confirmed = number("confirmed");
            format!(
                "{count} grant{} matched and {} being revoked; {confirmed} confirmed removed so far.",
                if count == 1 { "" } else { "s" },
                if count == 1 { "is" } else { "are" },
            )
        }
        _ => String::new(),
    }
}

/// The page for `user`: the grants matching `filter`, or the filter's problem.
async fn grants_page(
    console: &Console,
    user: &User,
    filter: &Filter,
) -> Result<(GrantsPage, bool), PageError> {
    let catalog_systems: Vec<String> = console
        .engine
        .bundle()
        .catalog
        .systems
        .keys()
        .map(ToString::to_string)
        .collect();
    let mut systems: Vec<Choice> = catalog_systems
        .iter()
        .map(|s| Choice {
            value: s.clone(),
            selected: *s == filter.system,
        })
        .collect();
    if !filter.system.is_empty() && !catalog_systems.contains(&filter.system) {
        // A system the active catalog no longer names may still have grants.
        systems.push(Choice {
            value: filter.system.clone(),
            selected: true,
        });
    }
    let states = STATES
        .iter()
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            selected: s.as_str() == filter.state,
        })
        .collect();
    let (rows, problem) = match filter.query() {
        Ok(q) => (
            console
                .engine
                .grants(&q)
                .await?
                .iter()
                .map(Row::of)
                .collect(),
            String::new(),
        ),
        Err(problem) => (Vec::new(), problem),
    };
    let bad = !problem.is_empty();
    Ok((
        GrantsPage {
            layout: Layout::new("Grants", user, "grants"),
            csrf: user.csrf.clone(),
            admin: user.admin,
            notice: String::new(),
            problem,
            subject: filter.subject.clone(),
            systems,
            states,
            rows,
            listed: LISTED,
            bulk: BulkForm {
                source: DEFAULT_SOURCE.into(),
                ..BulkForm::default()
            },
            bulk_problem: String::new(),
        },
        bad,
    ))
}

/// `GET /ui/grants?subject=&system=&state=`.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    user.require_reader()?;
    let (mut page, bad) = grants_page(&console, &user, &Filter::of(&fields)).await?;
    page.notice = notice(&fields);
    let mut response = render(&page)?;
    if bad {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
}

/// `POST /ui/grants/{id}/revoke`: starts revoking one grant now, for administrators.
pub async fn revoke(
    State(console): State<Console>,
    Path(id): Path<String>,
    posted: Posted<RevokeForm>,
) -> Result<Response, PageError> {
    posted.user.require_admin()?;
    console
        .engine
        .revoke(
            posted.user.identity.as_str(),
            &id,
            posted.form.reason.trim(),
        )
        .await?;
    Ok(Redirect::to("/ui/grants?done=revoked").into_response())
}

impl BulkForm {
    /// The engine's revocation, or the first field that is not valid, named.
    fn revocation(&self) -> Result<Revocation, String> {
        let identity = self.identity.trim();
        let system = self.system.trim();
        let ticket = self.ticket.trim();
        let source = self.source.trim();
        let identity = (!identity.is_empty())
            .then(|| IdentityId::parse(identity).map_err(|e| format!("`identity`: {e}")))
            .transpose()?;
        let system = (!system.is_empty())
            .then(|| SystemId::parse(system).map_err(|e| format!("`system`: {e}")))
            .transpose()?;
        if ticket.is_empty() && !source.is_empty() && source != DEFAULT_SOURCE {
            return Err("`ticket`: name the ticket of that source".into());
        }
        if identity.is_none() && system.is_none() && ticket.is_empty() {
            return Err("name at least one of `identity`, `system` or `ticket`".into());
        }
        if self.confirm != "yes" {
            return Err("`confirm`: tick the box to confirm revoking every matching grant".into());
        }
        Ok(Revocation {
            identity,
            system,
            ticket: (!ticket.is_empty()).then(|| {
                let source = if source.is_empty() {
                    DEFAULT_SOURCE
                } else {
                    source
                };
                (source.to_owned(), ticket.to_owned())
            }),
            reason: self.reason.trim().to_owned(),
            wait: None,
        })
    }
}

/// `POST /ui/revocations`: revokes every live grant of an identity, a system or a ticket,
/// for administrators, once confirmed; then says how many.
pub async fn revoke_matching(
    State(console): State<Console>,
    posted: Posted<BulkForm>,
) -> Result<Response, PageError> {
    let user = posted.user;
    user.require_admin()?;
    let form = posted.form;
    let r = match form.revocation() {
        Ok(r) => r,
        Err(problem) => {
            let (mut page, _) = grants_page(&console, &user, &Filter::default()).await?;
            page.bulk = form;
            page.bulk_problem = problem;
            let mut response = render(&page)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let grants = console
        .engine
        .revoke_matching(user.identity.as_str(), &r)
        .await?;
    let confirmed = grants
        .iter()
        .filter(|g| g.state == GrantState::Revoked)
        .count();
    Ok(Redirect::to(&format!(
        "/ui/grants?done=bulk&count={}&confirmed={confirmed}",
        grants.len()
    ))
    .into_response())
}
