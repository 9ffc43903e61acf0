//! Prometheus metrics: the engine's, HTTP requests by route and status class, and gauges
//! read from the store at scrape time (live grants by state, overdue grants) through the
//! state index, so a scrape costs the same with a million ended grants as with none. An
//! optional bearer token guards the endpoint.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;
use subtle::ConstantTimeEq;
use warden_engine::Engine;
use warden_model::GrantState;

use crate::AppState;
use crate::error::ApiError;

/// The live grant states, so that states without grants read 0 rather than vanish. Ended
/// states (`revoked`, `failed`) are running counters of the engine instead.
const LIVE_STATES: [GrantState; 3] = [
    GrantState::Provisioning,
    GrantState::Active,
    GrantState::Revoking,
];

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// The route template (`/v1/requests/{id}`), or `unmatched`.
    pub route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: String,
}

/// Labels of a grant state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// The grant state.
    pub state: String,
}

/// The registry the server exposes, and the metrics this crate updates.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<RouteLabel, Counter>,
    grants: Family<StateLabel, Gauge>,
    overdue: Gauge,
    orphaned_nhis: Gauge,
}

impl HttpMetrics {
    /// Registers the engine's metrics and this crate's in `registry`.
    pub fn new(engine: &Engine, mut registry: Registry) -> Self {
        engine.metrics().register(&mut registry);
        let requests = Family::<RouteLabel, Counter>::default();
        let grants = Family::<StateLabel, Gauge>::default();
        let overdue = Gauge::default();
        let orphaned_nhis = Gauge::default();
        registry.register(
            "warden_orphaned_nhis",
            "Services and workloads in the active catalog whose owner is missing or disabled",
            orphaned_nhis.clone(),
        );
        registry.register(
            "warden_http_requests",
            "HTTP requests answered, by route and status class",
            requests.clone(),
        );
        registry.register(
            "warden_grants",
            "Live grants (provisioning, active, revoking) by state, read at scrape time",
            grants.clone(),
        );
        registry.register(
            "warden_grants_overdue",
            "Grants past their expiry and not yet confirmed removed, read at scrape time",
            overdue.clone(),
        );
        Self {
            registry,
            requests,
            grants,
            overdue,
            orphaned_nhis,
        }
    }

    fn count(&self, route: &str, status: u16) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
                status: class.to_owned(),
            })
            .inc();
    }
}

/// Counts every answered request by its route template and status class.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.count(&route, response.status().as_u16());
    response
}

/// `GET /metrics`: the Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 401, description = "`server.metrics_token` is set and the request does not carry it", body = crate::schema::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::schema::ErrorBody),
    )
)]
pub async fn scrape(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.metrics_token {
        check_token(&headers, token)?;
    }
    let live = state.engine.live_grants().await?;
    let m = &state.metrics;
    for s in LIVE_STATES {
        let n = match s {
            GrantState::Provisioning => live.provisioning,
            GrantState::Active => live.active,
            _ => live.revoking,
        };
        m.grants
            .get_or_create(&StateLabel {
                state: s.as_str().to_owned(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    m.overdue
        .set(i64::try_from(live.overdue).unwrap_or(i64::MAX));
    // From the active catalog in memory: no query.
    let orphaned = warden_engine::standing::orphaned_nhis(&state.engine.bundle().catalog).count();
    m.orphaned_nhis
        .set(i64::try_from(orphaned).unwrap_or(i64::MAX));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &m.registry)
        .map_err(|e| warden_engine::EngineError::broken(format!("encoding metrics: {e}")))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in constant time.
fn check_token(headers: &HeaderMap, token: &SecretString) -> Result<(), ApiError> {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("`/metrics` needs its bearer token".into()))?;
    // Hashing first makes the comparison independent of the lengths as well.
    let a = sha2::Sha256::digest(sent.as_bytes());
    let b = sha2::Sha256::digest(token.expose_secret().as_bytes());
    if bool::from(a.as_slice().ct_eq(b.as_slice())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("the metrics token is wrong".into()))
    }
}
