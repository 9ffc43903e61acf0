//! Prometheus metrics: the engine's, HTTP requests by route and status class, and gauges
//! read from the store: live grants by state and overdue grants at scrape time, through the
//! state index, so a scrape never costs the million grants that ended; the
//! `warden_access_*` figures (the database's per-(system, role) sums over every live grant)
//! at most once per [`ACCESS_EVERY`], in the background. An optional bearer token guards
//! the endpoint.

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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use warden_engine::Engine;
use warden_engine::report::AccessNow;
use warden_model::{GrantState, Timestamp};

use crate::AppState;
use crate::error::ApiError;

/// The live grant states, so that states without grants read 0 rather than vanish. Ended
/// states (`revoked`, `failed`) are running counters of the engine instead.
const LIVE_STATES: [GrantState; 3] = [
    GrantState::Provisioning,
    GrantState::Active,
    GrantState::Revoking,
];

/// How old the `warden_access_*` figures may be before a scrape has them recomputed.
///
/// They sum every live grant's judgement (expiry, overdue, standing privilege, separation
/// of duties, credentials, reviews): tens of milliseconds with 10,000 live grants, too much
/// for every scrape of every Prometheus replica. They are goals measured in minutes (the
/// removal grace is 5 minutes by default), so figures up to this old, plus one scrape
/// interval, say the same; `warden_access_computed_timestamp_seconds` says when they were
/// computed.
pub const ACCESS_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

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
    access: AccessGauges,
    figures: AccessFigures,
}

/// The last `warden_access_*` figures, when and under which bundle they were computed, and
/// whether a recomputation is under way.
#[derive(Default)]
struct AccessFigures {
    last: Mutex<Option<Figures>>,
    refreshing: AtomicBool,
}

#[derive(Clone)]
struct Figures {
    at: Timestamp,
    bundle_hash: String,
    access: AccessNow,
}

impl Figures {
    /// The figures as of now, under the active bundle.
    async fn compute(engine: &Engine) -> Result<Self, warden_engine::EngineError> {
        let (at, bundle_hash) = (engine.now(), engine.bundle().hash().to_owned());
        Ok(Self {
            at,
            bundle_hash,
            access: engine.access_now().await?,
        })
    }
}

/// The `warden_access_*` gauges: the evidence report's instant figures, read at scrape time
/// from the database's per-(system, role) sums of the live grants.
#[derive(Default)]
struct AccessGauges {
    computed_at: Gauge<f64, AtomicU64>,
    live: Gauge,
    expiry_coverage: Gauge<f64, AtomicU64>,
    overdue: Gauge,
    overdue_oldest: Gauge,
    standing: Gauge,
    credential_age: Gauge<f64, AtomicU64>,
    review_completion: Gauge<f64, AtomicU64>,
    sod: Gauge,
    orphaned: Gauge,
}

impl AccessGauges {
    fn register(&self, r: &mut Registry) {
        let ints: [(&str, &str, &Gauge); 6] = [
            (
                "warden_access_live_grants",
                "Grants live now (active, or revoking and not yet confirmed removed)",
                &self.live,
            ),
            (
                "warden_access_overdue_grants",
                "Grants past their expiry by more than the removal grace, not confirmed removed",
                &self.overdue,
            ),
            (
                "warden_access_overdue_oldest_seconds",
                "How long ago the oldest grant not yet confirmed removed expired",
                &self.overdue_oldest,
            ),
            (
                "warden_access_standing_privilege",
                "Grants on high or critical systems longer than the JIT cap, and NHI credentials past their rotation",
                &self.standing,
            ),
            (
                "warden_access_sod_violations",
                "Identities whose live grants complete a separation-of-duties set, plus self-approvals behind live grants",
                &self.sod,
            ),
            (
                "warden_access_orphaned_nhis",
                "Services and workloads whose owner is missing or inactive",
                &self.orphaned,
            ),
        ];
        for (name, help, g) in ints {
            r.register(name, help, g.clone());
        }
        r.register(
            "warden_access_computed_timestamp_seconds",
            "When the warden_access_* figures were computed, in seconds since the Unix epoch",
            self.computed_at.clone(),
        );
        r.register(
            "warden_access_expiry_coverage",
            "Share of live grants with an expiry within their role's cap",
            self.expiry_coverage.clone(),
        );
        r.register(
            "warden_access_credential_age",
            "Share of live credentials within their maximum age",
            self.credential_age.clone(),
        );
        r.register(
            "warden_access_review_completion",
            "Share of review items, of reviews due in the last 90 days, decided by a reviewer by the due date",
            self.review_completion.clone(),
        );
    }

    fn set(&self, at: Timestamp, a: &AccessNow) {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        #[expect(clippy::cast_precision_loss, reason = "a timestamp in seconds")]
        self.computed_at.set(at.unix_millis() as f64 / 1_000.0);
        self.live.set(int(a.live_grants));
        self.expiry_coverage.set(a.expiry_coverage);
        self.overdue.set(int(a.overdue_late));
        self.overdue_oldest.set(int(a.overdue_oldest_seconds));
        self.standing.set(int(a.standing_privilege));
        self.credential_age.set(a.credential_age);
        self.review_completion.set(a.review_completion);
        self.sod.set(int(a.sod_violations));
        self.orphaned.set(int(a.orphaned_nhis));
    }
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
        let access = AccessGauges::default();
        access.register(&mut registry);
        Self {
            registry,
            requests,
            grants,
            overdue,
            orphaned_nhis,
            access,
            figures: AccessFigures::default(),
        }
    }

    /// The `warden_access_*` figures to show now, and when they were computed: the last
    /// ones while younger than [`ACCESS_EVERY`]; older, the last ones while a task of its
    /// own recomputes them (one at a time); none yet, or made under another bundle than the
    /// active one (whose catalog judges them), computed here.
    async fn access_figures(
        self: &Arc<Self>,
        engine: &Engine,
    ) -> Result<(Timestamp, AccessNow), warden_engine::EngineError> {
        let bundle_hash = engine.bundle().hash().to_owned();
        let last = self
            .figures
            .last
            .lock()
            .map_err(|_| warden_engine::EngineError::broken("the access figures are poisoned"))?
            .clone();
        let Some(last) = last.filter(|f| f.bundle_hash == bundle_hash) else {
            let figures = Figures::compute(engine).await?;
            let (at, access) = (figures.at, figures.access);
            self.keep_figures(figures);
            return Ok((at, access));
        };
        let every = i64::try_from(ACCESS_EVERY.as_millis()).unwrap_or(i64::MAX);
        if last.at.millis_until(engine.now()) >= every
            && !self.figures.refreshing.swap(true, Ordering::AcqRel)
        {
            let (metrics, engine) = (Arc::clone(self), engine.clone());
            tokio::spawn(async move {
                match Figures::compute(&engine).await {
                    Ok(figures) => metrics.keep_figures(figures),
                    Err(e) => tracing::warn!(error = %e, "recomputing the access gauges failed"),
                }
                metrics.figures.refreshing.store(false, Ordering::Release);
            });
        }
        Ok((last.at, last.access))
    }

    fn keep_figures(&self, figures: Figures) {
        if let Ok(mut last) = self.figures.last.lock() {
            // A slower recomputation that started earlier under the same bundle never
            // replaces a newer one.
            let older = last
                .as_ref()
                .is_some_and(|l| l.bundle_hash == figures.bundle_hash && l.at > figures.at);
            if !older {
                *last = Some(figures);
            }
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
    let (at, access) = m.access_figures(&state.engine).await?;
    m.orphaned_nhis
        .set(i64::try_from(access.orphaned_nhis).unwrap_or(i64::MAX));
    m.access.set(at, &access);
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
