//! Intake: decide a request and store it, with its audit event, its grant (when granted
//! outright) and the job that follows — in one transaction. Idempotent on
//! `(source, ticket)`.

use warden_model::{Decision, GrantState, IdentityId, Outcome, Request, RequestState};
use warden_policy::DecisionInput;
use warden_store::{GrantId, GrantRecord, NewAuditEvent, RequestId, RequestRecord, Tx};

use crate::job::{JobKey, WriteBack, schedule};
use crate::metrics::OutcomeLabel;
use crate::view::{RequestView, StoredInput};
use crate::workload::OIDC_SOURCE;
use crate::{Engine, EngineError, Stopwatch, audit};

/// The source recorded for requests that name none.
pub const DEFAULT_SOURCE: &str = "api";

/// What intake did.
#[derive(Debug)]
pub struct Intake {
    /// The request, as stored.
    pub view: RequestView,
    /// `false` when `(source, ticket)` was already known and nothing new was stored.
    pub created: bool,
    /// Who filed the request as stored (for a known one, whoever filed it first).
    pub filed_by: String,
}

/// A request decided by [`Engine::decide_intake`].
pub(crate) enum Decided {
    /// Its `(source, ticket)` is stored already.
    Known(Box<RequestRecord>),
    /// A new request, ready to store.
    New(Box<NewRequest>),
}

/// A new request and its decision, not yet stored.
pub(crate) struct NewRequest {
    pub(crate) record: RequestRecord,
    pub(crate) decision: Decision,
}

/// A request [`Engine::store_intake`] stored.
#[derive(Debug)]
pub(crate) struct Stored {
    /// The grant it created, when it was granted outright, as stored.
    pub(crate) grant: Option<GrantRecord>,
}

/// An authenticated API caller filing a request.
#[derive(Clone, Debug)]
pub struct Filer {
    /// The identity its token acts as.
    pub identity: IdentityId,
    /// For a `broker` token: the one `source` it files under.
    pub broker_source: Option<String>,
    /// Whether it may read any request (scopes `admin` and `audit`), and so be shown a
    /// duplicate someone else filed.
    pub reads_all: bool,
}

impl Engine {
    /// Decides `request` without storing anything (against the subject's stored active
    /// grants, at the engine's current instant).
    pub async fn dry_run(&self, request: &Request) -> Result<Decision, EngineError> {
        let now = self.now();
        let grants = self.store().active_grants(request.subject(), now).await?;
        let open_reviews = self.open_reviews_for(request).await?;
        Ok(self.timed_decide(&DecisionInput {
            request,
            grants: &grants,
            open_reviews: &open_reviews,
            at: now,
        }))
    }

    fn timed_decide(&self, input: &DecisionInput<'_>) -> Decision {
        let watch = Stopwatch::start();
        let d = self.bundle().decide(input);
        self.metrics().decision_seconds.observe(watch.seconds());
        self.metrics()
            .decisions
            .get_or_create(&OutcomeLabel {
                outcome: d.outcome.as_str().to_owned(),
            })
            .inc();
        d
    }

    /// Files `request` for an authenticated API caller: the requester must be the caller
    /// (a broker may name anyone, but only under its bound `source`), a source that names
    /// a configured ITSM is that ITSM's alone, and a `(source, ticket)` that someone else
    /// filed is a conflict that says nothing about the existing request. Nothing is stored
    /// for a refused request.
    pub async fn file(&self, filer: &Filer, mut request: Request) -> Result<Intake, EngineError> {
        match &filer.broker_source {
            Some(bound) if bound.is_empty() => {
                return Err(EngineError::Forbidden(
                    "this broker token is bound to no source; mint it with `--source`".into(),
                ));
            }
            Some(bound) => match request.source.as_deref() {
                None => request.source = Some(bound.clone()),
                Some(s) if s == bound => {}
                Some(s) => {
                    return Err(EngineError::Forbidden(format!(
                        "`source`: this broker token files only under `{bound}`, not `{s}`"
                    )));
                }
            },
            None if request.requester != filer.identity => {
                return Err(EngineError::Forbidden(format!(
                    "`requester`: `{}` is not the caller `{}`; only a `broker` token files for \
                     someone else",
                    request.requester, filer.identity
                )));
            }
            None => {}
        }
        if let Some(s) = request.source.as_deref()
            && self.itsms().get(s).is_some()
        {
            return Err(EngineError::Forbidden(format!(
                "`source`: `{s}` is reserved for the ITSM adapter of that name"
            )));
        }
        // Only a verified workload token speaks for CI claims, and only it files under
        // `oidc`: otherwise a caller could claim `ref = main`, or spend a job's `jti` first.
        if request.source.as_deref() == Some(OIDC_SOURCE) {
            return Err(EngineError::Forbidden(format!(
                "`source`: `{OIDC_SOURCE}` is reserved for workloads signing in with their OIDC token"
            )));
        }
        if !request.oidc.is_empty() {
            return Err(EngineError::Forbidden(
                "`oidc`: claims come only from a verified workload token".into(),
            ));
        }
        let intake = self.intake(filer.identity.as_str(), request).await?;
        if intake.created || intake.filed_by == filer.identity.as_str() || filer.reads_all {
            return Ok(intake);
        }
        Err(EngineError::Conflict(
            "`ticket`: this `(source, ticket)` is already taken".into(),
        ))
    }

    /// Takes in a request filed by `filed_by` (an identity, or `itsm:<adapter>`): decides
    /// it and stores the outcome. A request whose `(source, ticket)` is already stored is
    /// answered from the store, unchanged; [`Engine::file`] decides who may see it.
    pub async fn intake(&self, filed_by: &str, request: Request) -> Result<Intake, EngineError> {
        let new = match self.decide_intake(filed_by, request).await? {
            Decided::Known(existing) => return self.known(&existing).await,
            Decided::New(new) => new,
        };
        let (source, ticket) = (new.record.source.clone(), new.record.ticket.clone());
        // Stored together with whatever other requests are being filed now.
        let Some((new, stored)) = self.store_intake_grouped(new).await? else {
            // Another delivery of the same ticket won the race; answer with its result.
            let existing = self
                .store()
                .request_by_ticket(&source, &ticket)
                .await?
                .ok_or_else(|| EngineError::broken("duplicate ticket vanished"))?;
            return self.known(&existing).await;
        };
        // Answered from what was just stored, without reading it back: a new request has
        // no approvals yet, and its grant (if any) is the one its transaction created.
        Ok(Intake {
            view: RequestView::build(&new.record, &[], stored.grant.as_ref())?,
            created: true,
            filed_by: new.record.filed_by.clone(),
        })
    }

    /// Decides a request filed by `filed_by`, reading the store but writing nothing: the
    /// request already stored under its `(source, ticket)`, or a new one to store.
    pub(crate) async fn decide_intake(
        &self,
        filed_by: &str,
        request: Request,
    ) -> Result<Decided, EngineError> {
        let id = RequestId::new();
        let source = request
            .source
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
        let ticket = request.ticket.clone().unwrap_or_else(|| id.to_string());
        if let Some(existing) = self.store().request_by_ticket(&source, &ticket).await? {
            return Ok(Decided::Known(Box::new(existing)));
        }
        let now = self.now();
        let grants = self.store().active_grants(request.subject(), now).await?;
        let open_reviews = self.open_reviews_for(&request).await?;
        let decision = self.timed_decide(&DecisionInput {
            request: &request,
            grants: &grants,
            open_reviews: &open_reviews,
            at: now,
        });
        let state = match decision.outcome {
            Outcome::Grant => RequestState::Approved,
            Outcome::ApprovalRequired => RequestState::ApprovalRequired,
            Outcome::Deny => RequestState::Denied,
        };
        let approval_expires_at = (state == RequestState::ApprovalRequired)
            .then(|| now.plus(self.config().approval_window));
        let record = RequestRecord {
            id,
            source,
            ticket,
            requester: request.requester.clone(),
            subject: request.subject().clone(),
            system: decision.system.clone(),
            role: decision.role.clone(),
            state,
            request: serde_json::to_value(StoredInput {
                request: request.clone(),
                active_grants: grants,
                open_reviews,
            })?,
            decision: serde_json::to_value(&decision)?,
            outcome: decision.outcome,
            bundle_hash: decision.bundle_hash.clone(),
            input_hash: decision.input_hash.clone(),
            decided_at: now,
            approval_expires_at,
            created_at: now,
            updated_at: now,
            filed_by: filed_by.to_owned(),
        };
        Ok(Decided::New(Box::new(NewRequest { record, decision })))
    }

    /// Stores a decided request inside `tx`: the request, its audit event, its grant (when
    /// granted outright) or its approval deadline, and the ticket's write-back. Returns
    /// `None`, storing nothing, when its `(source, ticket)` is already stored.
    pub(crate) async fn store_intake(
        &self,
        tx: &mut Tx,
        new: &NewRequest,
    ) -> Result<Option<Stored>, EngineError> {
        let NewRequest { record, decision } = new;
        if !tx.insert_request(record).await? {
            return Ok(None);
        }
        let (id, now, actor) = (record.id, record.decided_at, record.filed_by.as_str());
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "request.decided".into(),
                request_id: Some(id),
                grant_id: None,
                before_state: None,
                after_state: Some(record.state.as_str().into()),
                bundle_hash: Some(decision.bundle_hash.clone()),
                data: serde_json::json!({
                    "source": record.source,
                    "ticket": record.ticket,
                    "requester": record.requester,
                    "filed_by": record.filed_by,
                    "subject": record.subject,
                    "outcome": decision.outcome,
                    "role": decision.role,
                    "duration_seconds": decision.duration_seconds,
                    "approvals": decision.approvals,
                    "reasons": decision.reasons,
                    "input_hash": decision.input_hash,
                }),
            },
        )
        .await?;
        let mut grant = None;
        match record.state {
            RequestState::Approved => {
                grant = Some(self.create_grant(tx, record, decision, actor).await?);
            }
            RequestState::ApprovalRequired => {
                if let Some(due) = record.approval_expires_at {
                    schedule(tx, &JobKey::ApprovalExpire(id), due, now).await?;
                }
            }
            _ => {}
        }
        self.schedule_writeback(tx, record, WriteBack::Decision, now)
            .await?;
        Ok(Some(Stored { grant }))
    }

    async fn known(&self, existing: &RequestRecord) -> Result<Intake, EngineError> {
        Ok(Intake {
            view: self.view_of(existing).await?,
            created: false,
            filed_by: existing.filed_by.clone(),
        })
    }

    /// Creates the grant of an approved request, audits it, and schedules provisioning
    /// (and, for break-glass, raises the alert) — inside `tx`. Returns the grant as stored.
    pub(crate) async fn create_grant(
        &self,
        tx: &mut Tx,
        record: &RequestRecord,
        decision: &Decision,
        actor: &str,
    ) -> Result<GrantRecord, EngineError> {
        let now = self.now();
        let (Some(role), Some(system), Some(secs)) = (
            decision.role.clone(),
            decision.system.clone(),
            decision.duration_seconds,
        ) else {
            return Err(EngineError::broken(
                "an approved decision lacks role, system or duration",
            ));
        };
        let duration = warden_model::Duration::from_seconds(secs)
            .ok_or_else(|| EngineError::broken(format!("bad stored duration {secs}")))?;
        let id = GrantId::new();
        let grant = GrantRecord {
            id,
            request_id: record.id,
            subject: record.subject.clone(),
            system,
            role: role.clone(),
            state: GrantState::Provisioning,
            duration,
            activated_at: None,
            expires_at: None,
            revoked_at: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_grant(&grant).await?;
        audit(
            tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "grant.created".into(),
                request_id: Some(record.id),
                grant_id: Some(id),
                before_state: None,
                after_state: Some(GrantState::Provisioning.as_str().into()),
                bundle_hash: Some(decision.bundle_hash.clone()),
                data: serde_json::json!({
                    "subject": record.subject,
                    "requester": record.requester,
                    "filed_by": record.filed_by,
                    "role": role,
                    "duration_seconds": secs,
                    "break_glass": decision.break_glass,
                }),
            },
        )
        .await?;
        if decision.break_glass {
            audit(
                tx,
                NewAuditEvent {
                    at: now,
                    actor: actor.to_owned(),
                    action: "alert.break_glass".into(),
                    request_id: Some(record.id),
                    grant_id: Some(id),
                    before_state: None,
                    after_state: None,
                    bundle_hash: Some(decision.bundle_hash.clone()),
                    data: serde_json::json!({
                        "subject": record.subject,
                        "role": role,
                        "reasons": decision.reasons,
                    }),
                },
            )
            .await?;
        }
        if decision.break_glass {
            self.open_break_glass_review(tx, record, decision, id, actor)
                .await?;
        }
        schedule(tx, &JobKey::Provision(id), now, now).await?;
        Ok(grant)
    }

    /// The full view of a stored request.
    pub async fn view_of(&self, r: &RequestRecord) -> Result<RequestView, EngineError> {
        let approvals = self.store().approvals(r.id).await?;
        let grant = self.store().grant_by_request(r.id).await?;
        RequestView::build(r, &approvals, grant.as_ref())
    }

    /// Up to `limit` requests `who` asked for or would receive, newest first, as a list
    /// shows them: each with its decision and state, without its approvals and grant (one
    /// query for the whole list; [`Engine::request_for`] has the full view).
    pub async fn requests_of(
        &self,
        who: &IdentityId,
        limit: u32,
    ) -> Result<Vec<RequestView>, EngineError> {
        let records = self.store().requests_of(who, limit).await?;
        records
            .iter()
            .map(|r| RequestView::build(r, &[], None))
            .collect()
    }

    /// The request with id `id`.
    pub async fn request(&self, id: &str) -> Result<RequestView, EngineError> {
        let r = self.request_record(id).await?;
        self.view_of(&r).await
    }

    /// The request with id `id` as `who` may see it: its requester, its subject, whoever
    /// filed it, the owner of a service or workload subject, and anyone eligible to approve
    /// it; anyone with `reads_all` (scopes `admin`, `audit`). To anyone else it does not
    /// exist.
    pub async fn request_for(
        &self,
        who: &IdentityId,
        reads_all: bool,
        id: &str,
    ) -> Result<RequestView, EngineError> {
        let r = self.request_record(id).await?;
        if !reads_all && !self.may_read(who, &r).await? {
            return Err(EngineError::NotFound(format!("no request `{id}`")));
        }
        self.view_of(&r).await
    }

    async fn may_read(&self, who: &IdentityId, r: &RequestRecord) -> Result<bool, EngineError> {
        if *who == r.requester || *who == r.subject || who.as_str() == r.filed_by {
            return Ok(true);
        }
        let current = self.bundle();
        let owner = current
            .catalog
            .identities
            .get(&r.subject)
            .and_then(|s| s.owner.as_ref());
        if owner == Some(who) {
            return Ok(true);
        }
        let decision: Decision = serde_json::from_value(r.decision.clone())?;
        if decision.approvals.is_empty() {
            return Ok(false);
        }
        let decided = self.bundle_by_hash(&r.bundle_hash).await?;
        Ok(decision
            .approvals
            .iter()
            .any(|step| crate::approval::fits(&decided, who, step)))
    }

    /// The stored request with id `id`; a malformed id is as unknown as a missing one.
    pub(crate) async fn request_record(&self, id: &str) -> Result<RequestRecord, EngineError> {
        let not_found = || EngineError::NotFound(format!("no request `{id}`"));
        let rid: RequestId = id.parse().map_err(|_| not_found())?;
        self.store().request(rid).await?.ok_or_else(not_found)
    }
}
