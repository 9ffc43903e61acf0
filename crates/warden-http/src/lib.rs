//! Warden's JSON API over HTTP (DESIGN §5): the `/v1` routes behind bearer tokens,
//! `/healthz`, `/metrics` and `/openapi.json`. The only crate that names `axum`.
//!
//! Build an [`AppState`] around the [`Engine`], then either mount [`router`] yourself or let
//! [`serve`] run it on a listener until a shutdown future completes. Every failure becomes
//! `{ "error": { "code", "message" } }` in one place, [`ApiError`].

mod audit;
mod auth;
mod body;
mod bundle;
mod error;
mod grant;
mod health;
mod itsm;
mod metrics;
mod openapi;
mod path;
mod query;
mod report;
mod request;
mod review;
mod revocation;
pub mod schema;
mod server;
mod workload;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use prometheus_client::registry::Registry;
use warden_engine::Engine;

pub use auth::{Caller, Scope, TokenCache};
pub use error::ApiError;
pub use metrics::HttpMetrics;
pub use openapi::openapi;
pub use server::{BodyTimeout, ServerLimits, serve, serve_router};

/// The largest request body accepted unless configured otherwise: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares: the engine, the body limit, and the metrics registry.
#[derive(Clone)]
pub struct AppState {
    /// The engine that runs the use cases (and owns the store and the clock).
    pub engine: Engine,
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub body_limit: usize,
    /// The registry `/metrics` exposes, with the HTTP layer's own metrics.
    pub metrics: Arc<HttpMetrics>,
    /// Tokens recently read from the store.
    pub tokens: Arc<auth::TokenCache>,
    /// The bearer token `/metrics` requires; open to all when `None`.
    pub metrics_token: Option<Arc<secrecy::SecretString>>,
    /// One evidence report at a time: each walks a window of the store and the whole audit
    /// chain, so a second waits for the first instead of doubling the load.
    pub reports: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State with a fresh registry holding the engine's metrics and the HTTP layer's.
    pub fn new(engine: Engine, body_limit: usize) -> Self {
        Self::with_registry(engine, body_limit, Registry::default())
    }

    /// State exposing `registry` (which may already hold the caller's own metrics), to which
    /// the engine's metrics and the HTTP layer's are added.
    pub fn with_registry(engine: Engine, body_limit: usize, registry: Registry) -> Self {
        let metrics = Arc::new(HttpMetrics::new(&engine, registry));
        Self {
            engine,
            body_limit,
            metrics,
            tokens: Arc::default(),
            metrics_token: None,
            reports: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// This state with `/metrics` behind `token`.
    #[must_use]
    pub fn with_metrics_token(mut self, token: secrecy::SecretString) -> Self {
        self.metrics_token = Some(Arc::new(token));
        self
    }
}

/// The API's routes, with request metrics and JSON answers for unknown paths and methods.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/decisions", post(request::decide))
        .route("/v1/requests", post(request::create))
        .route("/v1/requests/{id}", get(request::get))
        .route("/v1/requests/{id}/approve", post(request::approve))
        .route("/v1/requests/{id}/reject", post(request::reject))
        .route("/v1/grants", get(grant::list))
        .route("/v1/grants/{id}", get(grant::get))
        .route("/v1/grants/{id}/revoke", post(grant::revoke))
        .route("/v1/grants/{id}/credential", get(grant::credential))
        .route("/v1/revocations", post(revocation::create))
        .route("/v1/workload/credentials", post(workload::create))
        .route("/v1/workload/credentials/{id}", get(workload::get))
        .route("/v1/itsm/{name}", post(itsm::webhook))
        .route("/v1/reviews", get(review::list))
        .route("/v1/reviews/{id}", get(review::get))
        .route("/v1/reviews/{id}/close", post(review::close))
        .route("/v1/reviews/{id}/items/{item}/decide", post(review::decide))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/report", get(report::report))
        .route("/v1/bundle", get(bundle::active))
        .route("/healthz", get(health::health))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
