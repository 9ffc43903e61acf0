//! My access: the signed-in person's requests and grants (with a live countdown), their
//! credentials fetched once, and the form to ask for access with the decision previewed
//! before anything is filed.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::ExposeSecret as _;
use warden_engine::credential::CredentialStatus;
use warden_engine::grant::GrantQuery;
use warden_engine::intake::Filer;
use warden_model::{
    Duration, GrantState, IdentityId, Permission, Request, RoleId, SystemId, TaskId,
};

use super::inbox::Row;
use crate::Console;
use crate::explain::{self, Line};
use crate::page::{Layout, PageError, render};
use crate::session::{Posted, User, random_token};

/// The most requests and grants the page lists.
const LISTED: u32 = 50;

/// The `source` of requests filed in the console.
pub const SOURCE: &str = "console";

struct GrantRow {
    id: String,
    role: String,
    state: String,
    expires_at: String,
    expires_rfc3339: String,
    credential: &'static str,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    layout: Layout,
    csrf: String,
    requests: Vec<Row>,
    grants: Vec<GrantRow>,
}

/// `GET /ui/access`.
pub async fn page(State(console): State<Console>, user: User) -> Result<Response, PageError> {
    let engine = &console.engine;
    let requests = engine.requests_of(&user.identity, LISTED).await?;
    let grants = engine
        .grants(&GrantQuery {
            subject: Some(user.identity.clone()),
            limit: Some(LISTED),
            ..GrantQuery::default()
        })
        .await?;
    let mut rows = Vec::with_capacity(grants.len());
    for g in &grants {
        // Only a live grant can hold a credential waiting for its one delivery, so only
        // those are asked about: the page costs one query per live grant, not per grant.
        let credential = if g.state == GrantState::Active {
            match engine.credential_status(&g.id).await? {
                CredentialStatus::Waiting => "waiting",
                CredentialStatus::Gone => "gone",
                CredentialStatus::None => "none",
            }
        } else {
            "ended"
        };
        rows.push(GrantRow {
            id: g.id.clone(),
            role: g.role.to_string(),
            state: g.state.as_str().to_owned(),
            expires_at: g.expires_at.as_ref().map(super::when).unwrap_or_default(),
            expires_rfc3339: g.expires_at.map(|t| t.to_string()).unwrap_or_default(),
            credential,
        });
    }
    render(&AccessPage {
        layout: Layout::new("My access", &user, "access"),
        csrf: user.csrf.clone(),
        requests: requests.iter().map(Row::of).collect(),
        grants: rows,
    })
}

#[derive(Template)]
#[template(path = "credential.html")]
struct CredentialPage {
    layout: Layout,
    grant: String,
    username: String,
    password: String,
    expires_at: String,
}

/// `POST /ui/grants/{id}/credential`: the grant's credential, this once. Only its subject
/// (or a service's or workload's owner) gets it, as through the API; the page is never
/// cached, and reloading it cannot show it again.
pub async fn credential(
    State(console): State<Console>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let user = posted.user;
    let delivered = console
        .engine
        .credential(user.identity.as_str(), &id)
        .await?;
    render(&CredentialPage {
        layout: Layout::new("Your credential", &user, "access"),
        grant: id,
        username: delivered.username.clone(),
        password: delivered.password.expose_secret().to_owned(),
        expires_at: delivered
            .expires_at
            .as_ref()
            .map(super::when)
            .unwrap_or_default(),
    })
}

/// What the ask form holds, as typed.
#[derive(Default)]
struct Ask {
    system: String,
    role: String,
    task: String,
    needs: Vec<String>,
    subject: String,
    duration: String,
    purpose: String,
    ticket: String,
    emergency: bool,
}

impl Ask {
    fn from_fields(fields: &[(String, String)]) -> Self {
        let mut ask = Ask::default();
        for (k, v) in fields {
            let v = v.trim().to_owned();
            match k.as_str() {
                "system" => ask.system = v,
                "role" => ask.role = v,
                "task" => ask.task = v,
                "needs" if !v.is_empty() => ask.needs.push(v),
                "subject" => ask.subject = v,
                "duration" => ask.duration = v,
                "purpose" => ask.purpose = v,
                "ticket" => ask.ticket = v,
                "emergency" => ask.emergency = v == "yes",
                _ => {}
            }
        }
        ask
    }

    /// The request this form asks for, as `requester`; a bad field is named.
    fn request(&self, requester: &IdentityId) -> Result<Request, PageError> {
        let bad = |field: &str, e: String| PageError::bad_request(format!("`{field}`: {e}"));
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let system = opt(&self.system)
            .map(|s| SystemId::parse(&s).map_err(|e| bad("system", e.to_string())))
            .transpose()?;
        let role = opt(&self.role)
            .map(|s| RoleId::parse(&s).map_err(|e| bad("role", e.to_string())))
            .transpose()?;
        let task = opt(&self.task)
            .map(|s| TaskId::parse(&s).map_err(|e| bad("task", e.to_string())))
            .transpose()?;
        let needs = if self.needs.is_empty() {
            None
        } else {
            Some(
                self.needs
                    .iter()
                    .map(|n| Permission::parse(n).map_err(|e| bad("needs", e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        let subject = opt(&self.subject)
            .map(|s| IdentityId::parse(&s).map_err(|e| bad("subject", e.to_string())))
            .transpose()?;
        let duration = opt(&self.duration)
            .map(|s| Duration::parse(&s).map_err(|e| bad("duration", e.to_string())))
            .transpose()?;
        if self.purpose.is_empty() {
            return Err(bad("purpose", "say why the access is needed".into()));
        }
        if role.is_none() && needs.is_none() && task.is_none() {
            return Err(bad(
                "needs",
                "name a role, a task or at least one permission".into(),
            ));
        }
        if self.ticket.is_empty() || self.ticket.len() > warden_model::request::MAX_REF_LEN {
            return Err(bad("ticket", "reload the form".into()));
        }
        Ok(Request {
            source: Some(SOURCE.into()),
            ticket: Some(self.ticket.clone()),
            requester: requester.clone(),
            subject,
            system,
            role,
            needs,
            task,
            purpose: self.purpose.clone(),
            duration,
            emergency: self.emergency,
            requested_at: None,
            oidc: Default::default(),
        })
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct Preview {
    outcome: String,
    role: String,
    duration: String,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "ask.html")]
struct AskPage {
    layout: Layout,
    csrf: String,
    systems: Vec<Choice>,
    roles: Vec<Choice>,
    tasks: Vec<Choice>,
    permissions: Vec<Choice>,
    subject: String,
    duration: String,
    purpose: String,
    ticket: String,
    emergency: bool,
    preview: Option<Preview>,
    problem: String,
}

fn ask_page(console: &Console, user: &User, ask: &Ask) -> AskPage {
    let bundle = console.engine.bundle();
    let catalog = &bundle.catalog;
    let choice = |value: String, label: String, selected: bool| Choice {
        value,
        label,
        selected,
    };
    let mut permissions: std::collections::BTreeSet<String> = Default::default();
    for role in catalog.roles.values() {
        if ask.system.is_empty() || role.system.as_str() == ask.system {
            permissions.extend(role.permissions.iter().map(ToString::to_string));
        }
    }
    AskPage {
        layout: Layout::new("Ask for access", user, "ask"),
        csrf: user.csrf.clone(),
        systems: catalog
            .systems
            .values()
            .map(|s| {
                choice(
                    s.id.to_string(),
                    format!("{} ({:?})", s.id, s.sensitivity).to_lowercase(),
                    s.id.as_str() == ask.system,
                )
            })
            .collect(),
        roles: catalog
            .roles
            .values()
            .map(|r| {
                choice(
                    r.id.to_string(),
                    r.id.to_string(),
                    r.id.as_str() == ask.role,
                )
            })
            .collect(),
        tasks: catalog
            .tasks
            .values()
            .map(|t| {
                choice(
                    t.id.to_string(),
                    t.id.to_string(),
                    t.id.as_str() == ask.task,
                )
            })
            .collect(),
        permissions: permissions
            .into_iter()
            .map(|p| {
                let on = ask.needs.contains(&p);
                choice(p.clone(), p, on)
            })
            .collect(),
        subject: ask.subject.clone(),
        duration: ask.duration.clone(),
        purpose: ask.purpose.clone(),
        ticket: ask.ticket.clone(),
        emergency: ask.emergency,
        preview: None,
        problem: String::new(),
    }
}

/// `GET /ui/access/new`: the form, with a fresh ticket so that submitting twice files once.
pub async fn form(State(console): State<Console>, user: User) -> Result<Response, PageError> {
    let ask = Ask {
        ticket: format!("ask-{}", random_token()?),
        ..Ask::default()
    };
    render(&ask_page(&console, &user, &ask))
}

/// `POST /ui/access/preview`: the form as filled in, with the decision it would get now.
/// Nothing is stored. Scripts ask this as the form changes; without them, it is the
/// form's "Preview" button.
pub async fn preview(
    State(console): State<Console>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let ask = Ask::from_fields(&posted.form);
    let mut page = ask_page(&console, &posted.user, &ask);
    match ask.request(&posted.user.identity) {
        Ok(request) => {
            let decision = console.engine.dry_run(&request).await?;
            page.preview = Some(Preview {
                outcome: explain::outcome(&decision),
                role: decision
                    .role
                    .as_ref()
                    .map_or_else(|| "—".into(), ToString::to_string),
                duration: decision
                    .duration_seconds
                    .and_then(Duration::from_seconds)
                    .map_or_else(|| "—".into(), |d| d.to_string()),
                lines: explain::explain(&request, &decision),
            });
        }
        Err(e) => page.problem = e.message().to_owned(),
    }
    render(&page)
}

/// `POST /ui/access/new`: files the request as the signed-in person and shows it.
pub async fn file(
    State(console): State<Console>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let ask = Ask::from_fields(&posted.form);
    let request = match ask.request(&posted.user.identity) {
        Ok(r) => r,
        Err(e) => {
            let mut page = ask_page(&console, &posted.user, &ask);
            page.problem = e.message().to_owned();
            let mut response = render(&page)?;
            *response.status_mut() = e.status();
            return Ok(response);
        }
    };
    let filer = Filer {
        identity: posted.user.identity.clone(),
        broker_source: None,
        reads_all: posted.user.reads_all(),
    };
    let intake = console.engine.file(&filer, request).await?;
    Ok(Redirect::to(&format!("/ui/requests/{}", intake.view.id)).into_response())
}
