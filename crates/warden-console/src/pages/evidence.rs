//! The evidence report, for administrators and auditors: whether access was right over a
//! window (`?from=&to=`, the 30 days to now unless given) — the controls and each metric
//! with its figure, goal, status and evidence — from the same `Engine::report` as
//! `GET /v1/report`.
//!
//! The report's own HTML writer makes a self-contained document with an inline `<style>`,
//! which the console's Content Security Policy forbids, so the page renders the figures
//! itself; the writer's document (and the CSV) are offered as downloads
//! (`GET /ui/evidence/report?format=html|csv`), saved rather than shown, to be kept or
//! sent on as they are. A report walks the window's grants and decisions and the whole
//! audit chain — seconds over a large store — so the page never makes one while a person
//! waits: it shows the report last made for the window asked (the window as typed, so "the
//! 30 days to now" is one report), if it is at most ten minutes old ([`FRESH_FOR_MS`]), and otherwise starts
//! making it in the background and says so, with a link to look again (the script looks
//! again by itself every few seconds; an automatic refresh without it would take the page
//! away from someone still reading it).
//! **Make it again** (a form) starts a new one. This process makes one report at a time,
//! as the API does. Downloads are made when asked.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use warden_engine::report::{Figure, Format, MetricId, Report, Status, Window};
use warden_model::{Duration, Timestamp};

use crate::Console;
use crate::page::{Layout, PageError, render};
use crate::session::User;

/// One report at a time in this process.
static REPORTS: Semaphore = Semaphore::const_new(1);

/// How long a report made for the page is shown before it is made again: ten minutes.
const FRESH_FOR_MS: i64 = 10 * 60 * 1_000;
/// The most windows whose reports are kept; past it they are all forgotten.
const KEPT: usize = 16;

/// The reports made for the page, by the window as typed (`from`, `to`).
#[derive(Default)]
pub struct Reports(std::sync::Mutex<HashMap<(String, String), Made>>);

#[derive(Clone)]
enum Made {
    /// Being made since this instant.
    Making(Timestamp),
    /// Made at this instant.
    Done(Arc<Report>, Timestamp),
}

impl Reports {
    fn get(&self, key: &(String, String)) -> Option<Made> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: (String, String), made: Made) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= KEPT && !map.contains_key(&key) {
                map.clear();
            }
            map.insert(key, made);
        }
    }

    fn forget(&self, key: &(String, String)) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(key);
        }
    }
}

/// How many evidence items the page lists per metric (the report keeps at most 100).
const EVIDENCE_SHOWN: usize = 100;

/// The window as typed.
#[derive(Default)]
struct Typed {
    from: String,
    to: String,
    format: String,
}

impl Typed {
    fn of(fields: &[(String, String)]) -> Self {
        let mut t = Typed::default();
        for (k, v) in fields {
            let v = v.trim().to_owned();
            match k.as_str() {
                "from" => t.from = v,
                "to" => t.to = v,
                "format" => t.format = v,
                _ => {}
            }
        }
        t
    }

    /// The window, or the field that is not valid, named. `to` defaults to `now` and `from`
    /// to 30 days before `to`; a bare date means its midnight (UTC), and for `to` the end
    /// of that day.
    fn window(&self, now: Timestamp) -> Result<Window, String> {
        let to = if self.to.is_empty() {
            now
        } else {
            instant("to", &self.to, true)?
        };
        if self.from.is_empty() {
            return Ok(Window::month_to(to));
        }
        let from = instant("from", &self.from, false)?;
        if from >= to {
            return Err(format!(
                "`from` ({}) must be before `to` ({})",
                self.from,
                if self.to.is_empty() { "now" } else { &self.to }
            ));
        }
        Window::new(from, to).map_err(|e| e.to_string())
    }
}

/// `value` as an instant: RFC 3339, or a date (`2026-11-01`) at its midnight, UTC — the
/// next midnight when `end_of_day`.
fn instant(name: &str, value: &str, end_of_day: bool) -> Result<Timestamp, String> {
    let bad = || format!("`{name}`: `{value}` is not a date (2026-11-01) or an RFC 3339 instant");
    if let Ok(t) = Timestamp::parse(value) {
        return Ok(t);
    }
    let is_date = value.len() == 10
        && value.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !is_date {
        return Err(bad());
    }
    let midnight = Timestamp::parse(&format!("{value}T00:00:00Z")).map_err(|_| bad())?;
    Ok(if end_of_day {
        midnight.plus(Duration::from_seconds(86_400).ok_or_else(bad)?)
    } else {
        midnight
    })
}

struct ControlRow {
    framework: &'static str,
    control: &'static str,
    title: &'static str,
    metrics: Vec<&'static str>,
    status: &'static str,
}

struct MetricRow {
    id: &'static str,
    title: &'static str,
    value: String,
    ratio: String,
    goal: String,
    status: &'static str,
    detail: Vec<(String, String)>,
    evidence: Vec<String>,
    evidence_more: u64,
    evidence_total: u64,
}

/// `v` for people: whole numbers as they are, others to four places.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

impl MetricRow {
    fn of(id: MetricId, f: &Figure) -> Self {
        let value = match (f.value, f.numerator, f.denominator) {
            (None, _, _) => "—".to_owned(),
            (Some(v), Some(_), Some(_)) => format!("{}%", number((v * 1_000.0).round() / 10.0)),
            (Some(v), _, _) => number(v),
        };
        let ratio = match (f.numerator, f.denominator) {
            (Some(n), Some(d)) => format!("{n} of {d}"),
            _ => String::new(),
        };
        let evidence: Vec<String> = f
            .evidence
            .iter()
            .take(EVIDENCE_SHOWN)
            .map(ToString::to_string)
            .collect();
        Self {
            id: id.as_str(),
            title: id.title(),
            value,
            ratio,
            goal: f.goal.to_string(),
            status: f.status.as_str(),
            detail: f
                .detail
                .iter()
                .map(|(k, v)| {
                    let shown = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), shown)
                })
                .collect(),
            evidence_more: f.evidence_total.saturating_sub(evidence.len() as u64),
            evidence_total: f.evidence_total,
            evidence,
        }
    }
}

#[derive(Template)]
#[template(path = "evidence.html")]
struct EvidencePage {
    layout: Layout,
    problem: String,
    from: String,
    to: String,
    /// The window's query string, for the download links.
    query: String,
    report: Option<Shown>,
    /// Being made: the page offers to look again (and the script does).
    making: bool,
    /// When the report shown was made, in words.
    made_at: String,
    csrf: String,
}

/// The report as the page shows it.
struct Shown {
    since: String,
    until: String,
    generated_at: String,
    bundle_hash: String,
    controls_met: usize,
    controls: Vec<ControlRow>,
    metrics_met: usize,
    metrics: Vec<MetricRow>,
    live: u64,
}

impl Shown {
    fn of(r: &Report) -> Self {
        let controls: Vec<ControlRow> = r
            .controls
            .iter()
            .map(|c| ControlRow {
                framework: c.framework,
                control: c.control,
                title: c.title,
                metrics: c.metrics.iter().map(|m| m.as_str()).collect(),
                status: c.status.as_str(),
            })
            .collect();
        let metrics: Vec<MetricRow> = r
            .metrics
            .iter()
            .map(|(id, f)| MetricRow::of(*id, f))
            .collect();
        Self {
            since: r.window.since.to_string(),
            until: r.window.until.to_string(),
            generated_at: super::when(&r.generated_at),
            bundle_hash: r.bundle_hash.clone(),
            controls_met: r.controls.iter().filter(|c| c.status == Status::Ok).count(),
            controls,
            metrics_met: r
                .metrics
                .values()
                .filter(|f| f.status == Status::Ok)
                .count(),
            metrics,
            live: r
                .metrics
                .get(&MetricId::ExpiryCoverage)
                .and_then(|f| f.denominator)
                .unwrap_or(0),
        }
    }
}

/// Makes the report over `window`, waiting for any other report of this process first.
async fn make(console: &Console, window: Window) -> Result<Report, PageError> {
    let goals = console.engine.config().goals.clone();
    let _turn = REPORTS.acquire().await.map_err(|_| PageError::internal())?;
    Ok(console.engine.report(window, &goals).await?)
}

/// `GET /ui/evidence?from=&to=`: the report last made for this window, or a page that
/// reloads itself while it is made.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    user.require_reader()?;
    let typed = Typed::of(&fields);
    let mut page = EvidencePage {
        layout: Layout::new("Evidence", &user, "evidence"),
        problem: String::new(),
        from: typed.from.clone(),
        to: typed.to.clone(),
        query: String::new(),
        report: None,
        making: false,
        made_at: String::new(),
        csrf: user.csrf.clone(),
    };
    let now = console.engine.now();
    let window = match typed.window(now) {
        Ok(w) => w,
        Err(problem) => {
            page.problem = problem;
            let mut response = render(&page)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let key = (typed.from.clone(), typed.to.clone());
    match console.evidence.get(&key) {
        Some(Made::Done(report, at)) if at.millis_until(now) < FRESH_FOR_MS => {
            page.query = serde_urlencoded::to_string([
                ("from", report.window.since.to_string()),
                ("to", report.window.until.to_string()),
            ])
            .unwrap_or_default();
            page.made_at = super::when(&at);
            page.report = Some(Shown::of(&report));
        }
        // One already on its way (a made report is never older than a making one).
        Some(Made::Making(since)) if since.millis_until(now) < FRESH_FOR_MS => {
            page.making = true;
        }
        _ => {
            start(&console, key, window);
            page.making = true;
        }
    }
    render(&page)
}

/// Starts making the report of `window` for the page, in the background.
fn start(console: &Console, key: (String, String), window: Window) {
    console
        .evidence
        .put(key.clone(), Made::Making(console.engine.now()));
    let console = console.clone();
    tokio::spawn(async move {
        match make(&console, window).await {
            Ok(report) => {
                let at = console.engine.now();
                console.evidence.put(key, Made::Done(Arc::new(report), at));
            }
            Err(e) => {
                tracing::error!(why = e.message(), "the evidence report could not be made");
                console.evidence.forget(&key);
            }
        }
    });
}

/// The window of a "make it again" form.
#[derive(serde::Deserialize)]
pub struct Again {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /ui/evidence`: makes the window's report again, then shows it as it comes.
pub async fn again(
    State(console): State<Console>,
    posted: crate::session::Posted<Again>,
) -> Result<Response, PageError> {
    posted.user.require_reader()?;
    let typed = Typed {
        from: posted.form.from.trim().to_owned(),
        to: posted.form.to.trim().to_owned(),
        format: String::new(),
    };
    let window = typed
        .window(console.engine.now())
        .map_err(PageError::bad_request)?;
    let key = (typed.from.clone(), typed.to.clone());
    if !matches!(console.evidence.get(&key), Some(Made::Making(_))) {
        start(&console, key, window);
    }
    let query =
        serde_urlencoded::to_string([("from", typed.from), ("to", typed.to)]).unwrap_or_default();
    Ok(axum::response::Redirect::to(&format!("/ui/evidence?{query}")).into_response())
}

/// `GET /ui/evidence/report?from=&to=&format=html|csv`: the report's own HTML document or
/// its CSV, as a file to save.
pub async fn download(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    user.require_reader()?;
    let typed = Typed::of(&fields);
    let window = typed
        .window(console.engine.now())
        .map_err(PageError::bad_request)?;
    let (format, extension) = match typed.format.as_str() {
        "" | "html" => (Format::Html, "html"),
        "csv" => (Format::Csv, "csv"),
        other => {
            return Err(PageError::bad_request(format!(
                "`format`: `{other}` is not `html` or `csv`"
            )));
        }
    };
    let report = make(&console, window).await?;
    let mut response = format.render(&report)?.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let name = format!(
        "attachment; filename=\"warden-evidence-{}.{extension}\"",
        report
            .window
            .until
            .to_string()
            .get(..10)
            .unwrap_or("report")
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
