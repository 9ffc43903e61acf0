//! Intake: decide a request and store it, with its audit event, its grant (when granted
//! outright) and the job that follows — in one transaction. Idempotent on
//! `(source, ticket)`.

use warden_model::{Decision, GrantState, Outcome, Request, RequestState};
use warden_policy::DecisionInput;
use warden_store::{GrantId, GrantRecord, NewAuditEvent, RequestId, RequestRecord, Tx};

use crate::metrics::OutcomeLabel;
use crate::view::{RequestView, StoredInput};
use crate::{Engine, EngineError, Stopwatch, audit, job_kind};

/// The source recorded for requests that name none.
pub const DEFAULT_SOURCE: &str = "api";

/// What intake did.
#[derive(Debug)]
pub struct Intake {
    /// The request, as stored.
    pub view: RequestView,
    /// `false` when `(source, ticket)` was already known and nothing new was stored.
    pub created: bool,
}

impl Engine {
    /// Decides `request` without storing anything (against the subject's stored active
    /// grants, at the engine's current instant).
    pub async fn dry_run(&self, request: &Request) -> Result<Decision, EngineError> {
        let now = self.now();
        let grants = self.store().active_grants(request.subject(), now).await?;
        Ok(self.timed_decide(&DecisionInput {
            request,
            grants: &grants,
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

    /// Takes in a request: decides it and stores the outcome. A request whose
    /// `(source, ticket)` is already stored is answered from the store, unchanged.
    pub async fn intake(&self, actor: &str, request: Request) -> Result<Intake, EngineError> {
        let id = RequestId::new();
        let source = request
            .source
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
        let ticket = request.ticket.clone().unwrap_or_else(|| id.to_string());
        if let Some(existing) = self.store().request_by_ticket(&source, &ticket).await? {
            return Ok(Intake {
                view: self.view_of(&existing).await?,
                created: false,
            });
        }
        let now = self.now();
        let grants = self.store().active_grants(request.subject(), now).await?;
        let decision = self.timed_decide(&DecisionInput {
            request: &request,
            grants: &grants,
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
            })?,
            decision: serde_json::to_value(&decision)?,
            outcome: decision.outcome,
            bundle_hash: decision.bundle_hash.clone(),
            input_hash: decision.input_hash.clone(),
            decided_at: now,
            approval_expires_at,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().begin().await?;
        if !tx.insert_request(&record).await? {
            // Another delivery of the same ticket won the race; answer with its result.
            tx.rollback().await?;
            let existing = self
                .store()
                .request_by_ticket(&record.source, &record.ticket)
                .await?
                .ok_or_else(|| EngineError::Internal("duplicate ticket vanished".into()))?;
            return Ok(Intake {
                view: self.view_of(&existing).await?,
                created: false,
            });
        }
        audit(
            &mut tx,
            NewAuditEvent {
                at: now,
                actor: actor.to_owned(),
                action: "request.decided".into(),
                request_id: Some(id),
                grant_id: None,
                before_state: None,
                after_state: Some(state.as_str().into()),
                bundle_hash: Some(decision.bundle_hash.clone()),
                data: serde_json::json!({
                    "source": record.source,
                    "ticket": record.ticket,
                    "requester": record.requester,
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
        match state {
            RequestState::Approved => {
                self.create_grant(&mut tx, &record, &decision, actor)
                    .await?;
            }
            RequestState::ApprovalRequired => {
                if let Some(due) = approval_expires_at {
                    tx.schedule_job(job_kind::APPROVAL_EXPIRE, &id.to_string(), due, now)
                        .await?;
                }
            }
            _ => {}
        }
        self.schedule_writeback(&mut tx, &record.source, id, crate::itsm::DECISION, now)
            .await?;
        tx.commit().await?;
        let stored = self
            .store()
            .request(id)
            .await?
            .ok_or_else(|| EngineError::Internal("stored request vanished".into()))?;
        Ok(Intake {
            view: self.view_of(&stored).await?,
            created: true,
        })
    }

    /// Creates the grant of an approved request, audits it, and schedules provisioning
    /// (and, for break-glass, raises the alert) — inside `tx`.
    pub(crate) async fn create_grant(
        &self,
        tx: &mut Tx,
        record: &RequestRecord,
        decision: &Decision,
        actor: &str,
    ) -> Result<GrantId, EngineError> {
        let now = self.now();
        let (Some(role), Some(system), Some(secs)) = (
            decision.role.clone(),
            decision.system.clone(),
            decision.duration_seconds,
        ) else {
            return Err(EngineError::Internal(
                "an approved decision lacks role, system or duration".into(),
            ));
        };
        let duration = warden_model::Duration::from_seconds(secs)
            .ok_or_else(|| EngineError::Internal(format!("bad stored duration {secs}")))?;
        let id = GrantId::new();
        tx.insert_grant(&GrantRecord {
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
        })
        .await?;
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
        tx.schedule_job(job_kind::PROVISION, &id.to_string(), now, now)
            .await?;
        Ok(id)
    }

    /// The full view of a stored request.
    pub async fn view_of(&self, r: &RequestRecord) -> Result<RequestView, EngineError> {
        let approvals = self.store().approvals(r.id).await?;
        let grant = self.store().grant_by_request(r.id).await?;
        RequestView::build(r, &approvals, grant.as_ref())
    }

    /// The request with id `id`.
    pub async fn request(&self, id: &str) -> Result<RequestView, EngineError> {
        let r = self.request_record(id).await?;
        self.view_of(&r).await
    }

    /// The stored request with id `id`; a malformed id is as unknown as a missing one.
    pub(crate) async fn request_record(&self, id: &str) -> Result<RequestRecord, EngineError> {
        let not_found = || EngineError::NotFound(format!("no request `{id}`"));
        let rid: RequestId = id.parse().map_err(|_| not_found())?;
        self.store().request(rid).await?.ok_or_else(not_found)
    }
}
