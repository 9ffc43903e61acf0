//! Workload sign-in: a CI/CD job presents its platform's OIDC token instead of a
//! long-lived Warden token, and asks for a credential of its own.
//!
//! The token is verified against the `[[oidc_issuer]]` it names (`warden-oidc`), and the
//! one catalog workload whose `oidc` pin it satisfies becomes both requester and subject.
//! From there the request is an ordinary one: the same `decide()`, owner consent, second
//! check, expiry and revocation as a person's, with `source = "oidc"`, `ticket` = the
//! token's `jti` (so a token is spent once) and the token's CI claims as `context.oidc`.
//! Every refusal before intake stores nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use warden_model::{
    Duration, GrantState, IdentityId, OIDC_CLAIMS, Outcome, Permission, Request, RoleId, SystemId,
    catalog::claim_text,
};
use warden_oidc::{Refusal, Verified, Verifier};

use crate::credential::Delivered;
use crate::standing::standing;
use crate::view::RequestView;
use crate::{Engine, EngineError};

/// The `source` of every request a workload files with its token; no API caller or ITSM
/// adapter may file under it.
pub const OIDC_SOURCE: &str = "oidc";

/// How long a workload waits for its grant to be provisioned unless it says otherwise.
pub const DEFAULT_WAIT: StdDuration = StdDuration::from_secs(20);
/// The longest wait a workload may ask for.
pub const MAX_WAIT: StdDuration = StdDuration::from_secs(60);
/// How often the grant is looked at while waiting.
const POLL: StdDuration = StdDuration::from_millis(50);

/// What a workload asks for: a role, or a system and the permissions it needs.
#[derive(Clone, Debug, Default)]
pub struct WorkloadAsk {
    /// The role asked for.
    pub role: Option<RoleId>,
    /// The system, when only `needs` are named.
    pub system: Option<SystemId>,
    /// The permissions needed.
    pub needs: Option<Vec<Permission>>,
    /// How long; the role's default otherwise (and never more than `[nhi] max_duration`).
    pub duration: Option<Duration>,
    /// Why.
    pub purpose: String,
    /// How long to wait for provisioning before answering without the credential.
    pub wait: Option<StdDuration>,
}

/// How a workload's request stands.
#[derive(Debug)]
pub enum WorkloadAnswer {
    /// Granted and provisioned: the credential, shown this once.
    Issued {
        /// The request.
        view: Box<RequestView>,
        /// The credential; `None` on a system Warden only records (no connector).
        credential: Option<Delivered>,
    },
    /// Waiting for approvals, or for provisioning past the wait: fetch it later at
    /// `GET /v1/workload/credentials/{request}` with a fresh token.
    Pending {
        /// The request.
        view: Box<RequestView>,
    },
    /// Denied, or the grant did not come to be: nothing will be issued.
    Denied {
        /// The request.
        view: Box<RequestView>,
    },
}

/// The workload sign-in's configuration.
#[derive(Clone)]
pub struct Workloads {
    /// The issuers whose tokens are accepted.
    pub verifier: Arc<Verifier>,
}

impl std::fmt::Debug for Workloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.verifier.issuers()).finish()
    }
}

impl Engine {
    /// Verifies `token` and files what it asks for as its workload: see the module docs.
    pub async fn workload_request(
        &self,
        token: &str,
        ask: WorkloadAsk,
    ) -> Result<WorkloadAnswer, EngineError> {
        let (workload, verified) = self.sign_in(token).await?;
        if self
            .store()
            .request_by_ticket(OIDC_SOURCE, &verified.jti)
            .await?
            .is_some()
        {
            return Err(spent());
        }
        let wait = ask.wait.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT);
        let request = request_of(&workload, &verified, ask)?;
        let intake = self.intake(workload.as_str(), request).await?;
        if !intake.created {
            // The same token raced itself; the first delivery filed, this one gets nothing.
            return Err(spent());
        }
        self.issue_when_ready(&workload, intake.view, wait).await
    }

    /// The credential of request `id`, for the workload `token` signs in as: issued once,
    /// when the request was granted and its grant is active.
    pub async fn workload_credential(
        &self,
        token: &str,
        id: &str,
    ) -> Result<WorkloadAnswer, EngineError> {
        let (workload, _) = self.sign_in(token).await?;
        let view = self.request(id).await?;
        // Another identity's request is not this workload's business, nor is its existence.
        if view.request.subject() != &workload {
            return Err(EngineError::NotFound(format!("no request `{id}`")));
        }
        self.issue_when_ready(&workload, view, StdDuration::ZERO)
            .await
    }

    /// Verifies `token` and finds the one active workload it signs in as.
    async fn sign_in(&self, token: &str) -> Result<(IdentityId, Verified), EngineError> {
        let Some(workloads) = &self.config().workloads else {
            return Err(EngineError::Unauthorized(
                "workload sign-in is not configured: no `[[oidc_issuer]]`".into(),
            ));
        };
        let verified = workloads
            .verifier
            .verify(token, self.now())
            .await
            .map_err(|r| match r {
                Refusal::KeysUnavailable(_) => EngineError::Unreachable(r.to_string()),
                other => EngineError::Unauthorized(other.to_string()),
            })?;
        let bundle = self.bundle();
        let pinned =
            bundle
                .catalog
                .workloads_pinned(&verified.issuer, &verified.subject, &verified.claims);
        let workload = match pinned.as_slice() {
            [one] => one.id.clone(),
            [] => {
                return Err(EngineError::Unauthorized(format!(
                    "no workload pins a token of `{}` for `{}` with these claims",
                    verified.issuer, verified.subject
                )));
            }
            many => {
                let names: Vec<String> = many.iter().map(|w| format!("`{}`", w.id)).collect();
                return Err(EngineError::Unauthorized(format!(
                    "the token's claims match more than one workload ({}); pin more claims",
                    names.join(", ")
                )));
            }
        };
        standing(&bundle.catalog, &workload)
            .map_err(|b| EngineError::Unauthorized(b.describe(&workload)))?;
        Ok((workload, verified))
    }

    /// Answers with the credential once the grant is active, waiting up to `wait` for it.
    async fn issue_when_ready(
        &self,
        workload: &IdentityId,
        view: RequestView,
        wait: StdDuration,
    ) -> Result<WorkloadAnswer, EngineError> {
        match view.decision.outcome {
            Outcome::Deny => {
                return Ok(WorkloadAnswer::Denied {
                    view: Box::new(view),
                });
            }
            Outcome::ApprovalRequired | Outcome::Grant => {}
        }
        let Some(grant) = &view.grant else {
            return Ok(WorkloadAnswer::Pending {
                view: Box::new(view),
            });
        };
        let state = match tokio::time::timeout(wait, self.settled(&grant.id)).await {
            Ok(state) => state?,
            Err(_) => grant.state,
        };
        let id = view.id.clone();
        match state {
            GrantState::Active => {
                let credential = match self.credential(workload.as_str(), &grant.id).await {
                    Ok(d) => Some(d),
                    // A system without a connector mints nothing to hand out.
                    Err(EngineError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                Ok(WorkloadAnswer::Issued {
                    view: Box::new(self.request(&id).await?),
                    credential,
                })
            }
            GrantState::Provisioning => Ok(WorkloadAnswer::Pending {
                view: Box::new(self.request(&id).await?),
            }),
            GrantState::Failed | GrantState::Revoking | GrantState::Revoked => {
                Ok(WorkloadAnswer::Denied {
                    view: Box::new(self.request(&id).await?),
                })
            }
        }
    }

    /// The grant's state once it has left `provisioning`.
    async fn settled(&self, grant: &str) -> Result<GrantState, EngineError> {
        let gid = grant
            .parse()
            .map_err(|_| EngineError::broken(format!("grant id `{grant}` does not parse")))?;
        loop {
            let g = self
                .store()
                .grant(gid)
                .await?
                .ok_or_else(|| EngineError::broken("a request's grant vanished"))?;
            if g.state != GrantState::Provisioning {
                return Ok(g.state);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The request `workload` files with its verified token: its own, under `oidc` with the
/// token's `jti` as ticket, its CI claims as policy context.
pub fn request_of(
    workload: &IdentityId,
    verified: &Verified,
    ask: WorkloadAsk,
) -> Result<Request, EngineError> {
    let request = Request {
        source: Some(OIDC_SOURCE.to_owned()),
        ticket: Some(verified.jti.clone()),
        requester: workload.clone(),
        subject: None,
        system: ask.system,
        role: ask.role,
        needs: ask.needs,
        task: None,
        purpose: ask.purpose,
        duration: ask.duration,
        emergency: false,
        requested_at: Some(verified.issued_at),
        oidc: policy_claims(verified),
    };
    request
        .validate()
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok(request)
}

fn spent() -> EngineError {
    EngineError::Conflict(
        "this token's `jti` was used before: a token asks once; nothing new was minted".into(),
    )
}

/// The claims of [`OIDC_CLAIMS`] the token carries, as [`claim_text`], for `context.oidc`.
fn policy_claims(verified: &Verified) -> BTreeMap<String, String> {
    OIDC_CLAIMS
        .iter()
        .filter_map(|name| {
            let value = claim_text(verified.claims.get(*name)?)?;
            Some(((*name).to_owned(), value.into_owned()))
        })
        .collect()
}
