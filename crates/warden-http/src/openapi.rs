//! The OpenAPI description, generated from the handlers' annotations and the schema types.

use axum::Json;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::schema;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden",
        description = "Just-in-time access: requests, decisions, approvals, grants and the audit trail"
    ),
    paths(
        crate::request::decide,
        crate::request::create,
        crate::request::get,
        crate::request::approve,
        crate::request::reject,
        crate::grant::list,
        crate::grant::get,
        crate::grant::revoke,
        crate::grant::credential,
        crate::revocation::create,
        crate::workload::create,
        crate::workload::get,
        crate::itsm::webhook,
        crate::review::list,
        crate::review::get,
        crate::review::decide,
        crate::review::close,
        crate::audit::list,
        crate::audit::verify,
        crate::report::report,
        crate::bundle::active,
        crate::health::health,
        crate::metrics::scrape,
        document,
    ),
    components(schemas(
        schema::ErrorBody,
        schema::ErrorDetail,
        schema::Health,
        schema::ActiveBundleDoc,
        schema::Grant,
        schema::RequestSummary,
        schema::Approval,
        schema::RequestDetail,
        schema::RevokeBody,
        schema::CredentialBody,
        schema::RevocationBody,
        schema::RevocationReport,
        schema::WorkloadRequest,
        schema::WorkloadIssued,
        schema::WorkloadPending,
        schema::WorkloadDenied,
        crate::workload::WorkloadBody,
        crate::itsm::WebhookAnswer,
        schema::AuditEntry,
        schema::AuditVerification,
        schema::BrokenEvent,
        schema::RequestStateDoc,
        schema::GrantStateDoc,
        schema::RequestDoc,
        schema::DecisionDoc,
        schema::OutcomeDoc,
        schema::ApprovalStepDoc,
        schema::SecondCheckDoc,
        schema::ReasonDoc,
        schema::ReviewDoc,
        schema::ReviewItemDoc,
        schema::DecideBody,
        schema::CloseBody,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "requests", description = "decisions, intake and approvals"),
        (name = "grants", description = "grants and revocation"),
        (name = "reviews", description = "break-glass reviews and access-review campaigns"),
        (name = "audit", description = "the hash-chained audit trail"),
        (name = "workloads", description = "CI/CD jobs signing in with their OIDC token"),
        (name = "itsm", description = "signed webhooks from ITSMs"),
        (name = "operations", description = "health, metrics and this description"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the `/v1` paths name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "oidc",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "a CI/CD job's OIDC token from a configured `[[oidc_issuer]]`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API's OpenAPI description.
pub fn openapi() -> Document {
    ApiDoc::openapi()
}

/// `GET /openapi.json`: this API's OpenAPI description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "the OpenAPI description", content_type = "application/json"))
)]
pub async fn document() -> Json<Document> {
    Json(openapi())
}
