//! The evidence report over a scripted month, on both stores, with a real Redis
//! (`WARDEN_TEST_REDIS_URL`) behind a proxy that can cut it: every figure is checked
//! against a count made by hand from the script, then each metric is pushed into breach in
//! turn — by editing the store behind the engine's back, by a window, a bundle or a goal —
//! and its status and its controls' statuses must flip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use warden_connect::conformance::target_url;
use warden_connect::proxy::Proxy;
use warden_connect::{AccountName, Connector, Held, Prefix, Spec};
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::report::{
    AccessNow, Evidence, Figure, Goal, Goals, MetricId, Report, Status, Window,
};
use warden_engine::review::{Closing, Viewer};
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Duration, GrantState, Request, Timestamp};
use warden_policy::Bundle;
use warden_store::{Store, testing};

use common::{authority, fresh_prefix, redis, stores};

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_seconds(n).unwrap()
}

fn bundle_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")
}

fn request(json: &str) -> Request {
    Request::from_json(json.as_bytes()).unwrap()
}

/// The month: what the script did, by name.
struct Month {
    engine: Engine,
    /// grant ids
    right_sized: String,
    clamped: String,
    glass: String,
    revoked_early: String,
    target_down: String,
    live: String,
    live_request: String,
    /// The report taken while the target was down, ten minutes after the expiry.
    during_outage: Report,
    /// The gauges' figures at that instant.
    now_during_outage: AccessNow,
    planted: Held,
    observer: Arc<dyn Connector>,
    prefix: Prefix,
}

impl Month {
    async fn report(&self, goals: &Goals) -> Report {
        self.engine.report(window(), goals).await.unwrap()
    }

    /// Removes what the test left on Redis.
    async fn clean(&self) {
        for h in self.observer.observe().await.unwrap() {
            if matches!(&h, Held::Account(n) if self.prefix.owns(n)) {
                self.observer.remove(&h).await.unwrap();
            }
        }
    }
}

fn all_reviews() -> Viewer {
    Viewer {
        identity: "erin".parse().unwrap(),
        reads_all: true,
    }
}

fn window() -> Window {
    Window::new(at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")).unwrap()
}

/// Takes a request in; its id and its grant's, if it got one.
async fn intake(engine: &Engine, who: &str, json: &str) -> (String, Option<String>) {
    let done = engine.intake(who, request(json)).await.unwrap();
    (done.view.id, done.view.grant.map(|g| g.id))
}

/// Runs the month of November 2026. Each expiry is handled 30 s after it comes, except
/// while Redis is down.
async fn month(store: Store, url: &str, proxy: &Proxy) -> Month {
    let prefix = fresh_prefix("we");
    let via = format!("redis://{}", proxy.addr());
    let mut by_name = HashMap::new();
    by_name.insert(
        "cache-redis".to_owned(),
        ConnectorInstance {
            connector: redis(&via, &prefix).await,
            prefix: prefix.clone(),
        },
    );
    let observer = redis(url, &prefix).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-01T00:00:00Z")));
    let engine = Engine::new(
        store,
        Bundle::load(&bundle_dir()).unwrap(),
        clock.clone(),
        EngineConfig {
            connectors: Connectors::new(by_name),
            reconcile_every: Some(secs(30 * 86_400)),
            retry_base: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(2),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let drain = || async { while engine.run_due_jobs("w1").await.unwrap() > 0 {} };
    let at_ = |t: &str| clock.set(at(t));
    let take = |who: &'static str, json: &'static str| {
        let engine = &engine;
        async move { intake(engine, who, json).await }
    };
    let active = |gid: String| {
        let engine = &engine;
        async move {
            assert_eq!(engine.grant(&gid).await.unwrap().state, GrantState::Active);
            gid
        }
    };

    // Nov 2: alice asks for write but needs only read: right-sized to read, 1 h.
    at_("2026-11-02T10:00:00Z");
    let right_sized = take("alice", r#"{"source":"jira","ticket":"M-1","requester":"alice","role":"session-cache.write","needs":["read"],"duration":"1h","purpose":"debug sessions"}"#).await.1.unwrap();
    drain().await;
    let right_sized = active(right_sized).await;
    at_("2026-11-02T11:00:30Z");
    drain().await;

    // Nov 3: alice asks for 12 h of read: clamped to the 4 h her policy allows.
    at_("2026-11-03T09:00:00Z");
    let clamped = take("alice", r#"{"source":"jira","ticket":"M-2","requester":"alice","role":"session-cache.read","duration":"12h","purpose":"long migration"}"#).await.1.unwrap();
    drain().await;
    let clamped = active(clamped).await;
    at_("2026-11-03T13:00:30Z");
    drain().await;

    // Nov 5: dave breaks glass for write, 1 h.
    at_("2026-11-05T03:00:00Z");
    let glass = take("dave", r#"{"source":"jira","ticket":"M-3","requester":"dave","role":"session-cache.write","duration":"1h","emergency":true,"purpose":"INC-7 sessions corrupt"}"#).await.1.unwrap();
    drain().await;
    let glass = active(glass).await;
    at_("2026-11-05T04:00:30Z");
    drain().await;
    // Henry, the other on-call engineer, reviews it the same morning.
    at_("2026-11-05T09:00:00Z");
    let review = engine
        .reviews(&all_reviews(), true, 10)
        .await
        .unwrap()
        .remove(0);
    engine
        .close_review(
            &Viewer {
                identity: "henry".parse().unwrap(),
                reads_all: false,
            },
            &review.id,
            Closing::Justified,
            Some("INC-7"),
        )
        .await
        .unwrap();

    // Nov 8: alice asks for admin: denied.
    at_("2026-11-08T12:00:00Z");
    assert!(take("alice", r#"{"source":"jira","ticket":"M-4","requester":"alice","role":"session-cache.admin","duration":"1h","purpose":"curious"}"#).await.1.is_none());

    // Nov 10: alice reads for 2 h; erin revokes at 09:30, confirmed 20 s later.
    at_("2026-11-10T09:00:00Z");
    let revoked_early = take("alice", r#"{"source":"jira","ticket":"M-5","requester":"alice","role":"session-cache.read","duration":"2h","purpose":"support case"}"#).await.1.unwrap();
    drain().await;
    let revoked_early = active(revoked_early).await;
    at_("2026-11-10T09:30:00Z");
    engine
        .revoke("erin", &revoked_early, "case closed")
        .await
        .unwrap();
    at_("2026-11-10T09:30:20Z");
    drain().await;

    // Nov 20: alice reads for 1 h; Redis is down when it expires and for 20 minutes after.
    at_("2026-11-20T10:00:00Z");
    let target_down = take("alice", r#"{"source":"jira","ticket":"M-6","requester":"alice","role":"session-cache.read","duration":"1h","purpose":"support case"}"#).await.1.unwrap();
    drain().await;
    let target_down = active(target_down).await;
    proxy.cut();
    at_("2026-11-20T11:00:30Z");
    drain().await;
    assert_eq!(
        engine.grant(&target_down).await.unwrap().state,
        GrantState::Revoking
    );
    at_("2026-11-20T11:10:30Z");
    drain().await;
    let during_outage = engine
        .report(
            Window::new(at("2026-11-01T00:00:00Z"), at("2026-11-20T11:10:30Z")).unwrap(),
            &Goals::default(),
        )
        .await
        .unwrap();
    let now_during_outage = engine.access_now().await.unwrap();
    proxy.restore();
    at_("2026-11-20T11:20:00Z");
    drain().await;
    assert_eq!(
        engine.grant(&target_down).await.unwrap().state,
        GrantState::Revoked
    );

    // Nov 25: an ACL user with Warden's prefix appears on Redis behind Warden's back.
    at_("2026-11-25T08:00:00Z");
    let planted = AccountName::derive(&prefix, uuid::Uuid::new_v4(), 1);
    observer
        .provision(&Spec {
            account: planted.clone(),
            subject: "alice".parse().unwrap(),
            grants: vec!["~session:*".into(), "+@read".into()],
            valid_until: at("2026-12-25T00:00:00Z"),
        })
        .await
        .unwrap();
    engine.schedule_reconciliation().await.unwrap();
    drain().await;

    // Nov 30: dave reads for 8 h, still live when the month ends.
    at_("2026-11-30T20:00:00Z");
    let (live_request, live) = take("dave", r#"{"source":"jira","ticket":"M-7","requester":"dave","role":"session-cache.read","duration":"8h","purpose":"capacity review"}"#).await;
    drain().await;
    let live = active(live.unwrap()).await;
    at_("2026-12-01T00:00:00Z");

    Month {
        engine,
        right_sized,
        clamped,
        glass,
        revoked_early,
        target_down,
        live,
        live_request,
        during_outage,
        now_during_outage,
        planted: Held::Account(planted.as_str().to_owned()),
        observer,
        prefix,
    }
}

fn figure(r: &Report, id: MetricId) -> &Figure {
    r.metrics.get(&id).unwrap()
}

fn control(r: &Report, id: &str) -> Status {
    r.controls.iter().find(|c| c.control == id).unwrap().status
}

fn grant(id: &str) -> Evidence {
    Evidence::Grant(id.to_owned())
}

fn value(r: &Report, id: MetricId) -> Option<f64> {
    figure(r, id).value
}

fn ratio(r: &Report, id: MetricId) -> (Option<u64>, Option<u64>) {
    let f = figure(r, id);
    (f.numerator, f.denominator)
}

fn status(r: &Report, id: MetricId) -> Status {
    figure(r, id).status
}

/// The gauges (summed by the database) and the report (judged grant by grant in Rust) give
/// the same instant figures.
fn same_figures(now: &AccessNow, r: &Report) {
    use MetricId::*;
    let why = || format!("{now:?} against {}", report_text(r));
    let f = |id| figure(r, id);
    assert_eq!(
        Some(now.live_grants),
        f(ExpiryCoverage).denominator,
        "{}",
        why()
    );
    assert_eq!(
        Some(now.expiry_coverage),
        f(ExpiryCoverage).value.or(Some(1.0)),
        "{}",
        why()
    );
    assert_eq!(
        Some(now.overdue_late as f64),
        f(OverdueGrants).value,
        "{}",
        why()
    );
    assert_eq!(
        now.overdue_grants,
        f(OverdueGrants).detail["all"],
        "{}",
        why()
    );
    assert_eq!(
        now.overdue_oldest_seconds,
        f(OverdueGrants).detail["oldest_age_seconds"],
        "{}",
        why()
    );
    assert_eq!(
        Some(now.standing_privilege as f64),
        f(StandingPrivilege).value,
        "{}",
        why()
    );
    assert_eq!(
        Some(now.credential_age),
        f(CredentialAge).value.or(Some(1.0)),
        "{}",
        why()
    );
    assert_eq!(
        Some(now.sod_violations as f64),
        f(SodViolations).value,
        "{}",
        why()
    );
    assert_eq!(
        Some(now.orphaned_nhis as f64),
        f(OrphanedNhis).value,
        "{}",
        why()
    );
}

fn report_text(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

#[tokio::test]
async fn a_scripted_month_reports_every_figure_as_counted_by_hand() {
    let Some(url) = target_url("redis") else {
        return;
    };
    for (backend, store, _dir) in stores().await {
        let proxy = Proxy::start(&authority(&url)).await.unwrap();
        let m = month(store, &url, &proxy).await;
        let r = m.report(&Goals::default()).await;
        let why = format!("{backend}: {}", report_text(&r));
        use MetricId::*;

        // Seven decisions: six grants (one of them break-glass) and one denial; every one
        // named a role; one right-sized, one clamped.
        let d = figure(&r, Decisions);
        assert_eq!(d.detail["total"], 7, "{why}");
        assert_eq!(
            d.detail["by_outcome"],
            serde_json::json!({"grant": 6, "deny": 1}),
            "{why}"
        );
        assert_eq!(ratio(&r, Decisions), (Some(1), Some(7)), "{why}");
        assert_eq!(ratio(&r, RightSizingRate), (Some(1), Some(7)), "{why}");
        assert_eq!(ratio(&r, DurationClampRate), (Some(1), Some(7)), "{why}");
        assert_eq!(d.detail["by_reason"]["right_sized"], 1, "{why}");
        assert_eq!(d.detail["by_reason"]["break_glass"], 1, "{why}");

        // Expired and confirmed: three 30 s after expiry, one 20 minutes after (Redis was
        // down). Nearest rank over [30, 30, 30, 1200]: p50 30, p95 1200.
        let ttr = figure(&r, TimeToRevoke);
        assert_eq!(ttr.value, Some(1_200.0), "{why}");
        assert_eq!(ttr.detail["p50"], 30, "{why}");
        assert_eq!(ttr.detail["p95"], 1_200, "{why}");
        assert_eq!(ttr.detail["count"], 4, "{why}");
        assert_eq!(ttr.evidence_total, 4);
        assert_eq!(ttr.evidence[0], grant(&m.target_down), "slowest first");
        for g in [&m.right_sized, &m.clamped, &m.glass] {
            assert!(ttr.evidence.contains(&grant(g)), "{why}");
        }
        assert_eq!(ttr.status, Status::Breach);
        let peak: f64 = ttr.trend.iter().filter_map(|p| p.value).fold(0.0, f64::max);
        assert_eq!(peak, 1_200.0);
        assert_eq!(ttr.trend.len(), 30);

        // Revoked by erin at 09:30, confirmed 20 s later.
        let trig = figure(&r, TimeToRemoveAfterTrigger);
        assert_eq!(trig.value, Some(20.0), "{why}");
        assert_eq!(trig.evidence, vec![grant(&m.revoked_early)]);
        assert_eq!(trig.status, Status::Ok);

        // The break-glass grant was removed 30 s after its expiry.
        assert_eq!(ratio(&r, BreakGlassHygiene), (Some(1), Some(1)), "{why}");
        assert_eq!(
            figure(&r, BreakGlassHygiene).evidence,
            vec![grant(&m.glass)]
        );

        // At the month's end only dave's grant is live: within its cap, fresh, traceable.
        for id in [ExpiryCoverage, CredentialAge, Traceability] {
            assert_eq!(ratio(&r, id), (Some(1), Some(1)), "{id}: {why}");
            assert_eq!(figure(&r, id).evidence, vec![grant(&m.live)], "{id}");
            assert_eq!(status(&r, id), Status::Ok);
        }
        assert_eq!(value(&r, OverdueGrants), Some(0.0));
        assert_eq!(value(&r, StandingPrivilege), Some(0.0));
        assert_eq!(value(&r, SodViolations), Some(0.0));

        // The planted user, seen once; the example's service whose owner left.
        assert_eq!(value(&r, Drift), Some(1.0), "{why}");
        let Evidence::Event(seq) = figure(&r, Drift).evidence[0] else {
            panic!("drift evidence is an audit event")
        };
        let event = m
            .engine
            .store()
            .audit_after(seq - 1, 1)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(event.action, "drift.orphan");
        assert_eq!(
            event.data["held"],
            serde_json::to_value(&m.planted).unwrap()
        );
        assert_eq!(status(&r, Drift), Status::Breach);
        assert_eq!(
            figure(&r, OrphanedNhis).evidence,
            vec![Evidence::Identity("svc-legacy-reports".into())]
        );
        assert_eq!(value(&r, AuditIntegrity), Some(0.0), "{why}");
        assert!(
            figure(&r, AuditIntegrity).detail["events_checked"]
                .as_u64()
                .unwrap()
                > 20
        );
        // The one review item due, the break-glass grant's, was decided in time.
        assert_eq!(value(&r, ReviewCompletion), Some(1.0), "{why}");
        assert_eq!(figure(&r, ReviewCompletion).denominator, Some(1));
        assert_eq!(status(&r, ReviewCompletion), Status::Ok);

        // The breaches, and the controls they take with them.
        let breached: Vec<MetricId> = r
            .metrics
            .iter()
            .filter(|(_, f)| f.status == Status::Breach)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(breached, vec![TimeToRevoke, OrphanedNhis, Drift], "{why}");
        for c in [
            "AC-2(2)", "AC-2(3)", "NHI1", "5.3", "6.2", "CC6.3", "A.5.16", "A.5.18",
        ] {
            assert_eq!(control(&r, c), Status::Breach, "{c}");
        }
        for c in [
            "PR.AA-05", "AC-5", "AC-6", "IA-5", "AU-9", "NHI5", "NHI7", "CC6.1", "CC6.2", "A.5.15",
            "A.5.17",
        ] {
            assert_eq!(control(&r, c), Status::Ok, "{c}");
        }

        // Ten and a half minutes after the expiry, with Redis down, the grant is overdue.
        let o = figure(&m.during_outage, OverdueGrants);
        assert_eq!(o.value, Some(1.0));
        assert_eq!(o.detail["oldest_age_seconds"], 630);
        assert_eq!(o.evidence, vec![grant(&m.target_down)]);
        assert_eq!(o.status, Status::Breach);

        // The gauges agree, now and during the outage.
        same_figures(&m.engine.access_now().await.unwrap(), &r);
        same_figures(&m.now_during_outage, &m.during_outage);

        // The JSON carries the shape the docs describe.
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["metrics"]["traceability"]["numerator"].is_u64());
        assert_eq!(json["window"]["since"], "2026-11-01T00:00:00Z");
        assert_eq!(json["controls"].as_array().unwrap().len(), 19);

        // Every stored decision replays.
        let tally = m.engine.replay_all(100, |_| {}).await.unwrap();
        assert_eq!((tally.identical, tally.different), (7, 0), "{backend}");
        m.clean().await;
    }
}

/// Asserts that `metric` and `control` are ok in `before` and in breach in `after`.
fn flips(before: &Report, after: &Report, metric: MetricId, control_id: &str) {
    assert_eq!(
        status(before, metric),
        Status::Ok,
        "{metric} before: {}",
        report_text(before)
    );
    assert_eq!(
        status(after, metric),
        Status::Breach,
        "{metric} after: {}",
        report_text(after)
    );
    assert_eq!(
        control(before, control_id),
        Status::Ok,
        "{control_id} before ({metric})"
    );
    assert_eq!(
        control(after, control_id),
        Status::Breach,
        "{control_id} after ({metric})"
    );
}

#[tokio::test]
async fn a_breach_of_each_metric_flips_it_and_its_controls() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let (store, _dir) = testing::sqlite().await;
    let proxy = Proxy::start(&authority(&url)).await.unwrap();
    let m = month(store.clone(), &url, &proxy).await;
    let e = &m.engine;
    let sql = |q: String| {
        let store = store.clone();
        async move { testing::execute(&store, &q).await }
    };
    let ok = Goals::default();
    let month = m.report(&ok).await;
    let mid = |until: &str| {
        let until = at(until);
        async move {
            e.report(
                Window::new(at("2026-11-01T00:00:00Z"), until).unwrap(),
                &Goals::default(),
            )
            .await
            .unwrap()
        }
    };
    let early = mid("2026-11-15T00:00:00Z").await;
    use MetricId::*;

    // Windows: the outage, the slow removal and the planted drift.
    flips(&early, &m.during_outage, OverdueGrants, "5.3");
    flips(&early, &month, TimeToRevoke, "6.2");
    flips(
        &mid("2026-11-24T00:00:00Z").await,
        &mid("2026-11-26T00:00:00Z").await,
        Drift,
        "5.3",
    );

    // The store edited behind the engine's back.
    let (live, req) = (&m.live, &m.live_request);
    let now_matches =
        || async { same_figures(&e.access_now().await.unwrap(), &m.report(&ok).await) };
    now_matches().await;
    sql(format!(
        "UPDATE grants SET expires_at = activated_at + 32400000 WHERE id = '{live}'"
    ))
    .await;
    flips(&month, &m.report(&ok).await, ExpiryCoverage, "CC6.2");
    now_matches().await;
    sql(format!(
        "UPDATE grants SET expires_at = activated_at + 28800000 WHERE id = '{live}'"
    ))
    .await;

    let early_trigger = |r: &Report| figure(r, TimeToRemoveAfterTrigger).value;
    let trig = &m.revoked_early;
    sql(format!(
        "UPDATE grants SET revoking_at = revoked_at - 600000 WHERE id = '{trig}'"
    ))
    .await;
    let after = mid("2026-11-15T00:00:00Z").await;
    assert_eq!(early_trigger(&after), Some(600.0));
    flips(&early, &after, TimeToRemoveAfterTrigger, "6.2");
    sql(format!(
        "UPDATE grants SET revoking_at = revoked_at - 20000 WHERE id = '{trig}'"
    ))
    .await;

    let glass = &m.glass;
    sql(format!(
        "UPDATE grants SET revoked_at = expires_at + 600000 WHERE id = '{glass}'"
    ))
    .await;
    flips(
        &early,
        &mid("2026-11-15T00:00:00Z").await,
        BreakGlassHygiene,
        "AC-2(2)",
    );
    sql(format!(
        "UPDATE grants SET revoked_at = expires_at + 30000 WHERE id = '{glass}'"
    ))
    .await;

    sql(format!(
        "UPDATE accounts SET provisioned_at = provisioned_at - 32400000 WHERE grant_id = '{live}'"
    ))
    .await;
    flips(&month, &m.report(&ok).await, CredentialAge, "IA-5");
    now_matches().await;
    sql(format!(
        "UPDATE accounts SET provisioned_at = provisioned_at + 32400000 WHERE grant_id = '{live}'"
    ))
    .await;

    sql(format!("INSERT INTO approvals (request_id, approver, decision, at) VALUES ('{req}', 'dave', 'approve', 0)")).await;
    let after = m.report(&ok).await;
    assert_eq!(
        figure(&after, SodViolations).evidence,
        vec![Evidence::Request(req.clone())]
    );
    flips(&month, &after, SodViolations, "AC-5");
    now_matches().await;
    sql(format!("DELETE FROM approvals WHERE request_id = '{req}'")).await;

    sql(format!("UPDATE requests SET decision_json = REPLACE(decision_json, '\"duration_seconds\":28800', '\"duration_seconds\":28799') WHERE id = '{req}'")).await;
    flips(&month, &m.report(&ok).await, Traceability, "CC6.1");
    sql(format!("UPDATE requests SET decision_json = REPLACE(decision_json, '\"duration_seconds\":28799', '\"duration_seconds\":28800') WHERE id = '{req}'")).await;

    let second = e.store().audit_after(1, 1).await.unwrap().remove(0);
    sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2".into()).await;
    let after = m.report(&ok).await;
    assert_eq!(
        figure(&after, AuditIntegrity).evidence,
        vec![Evidence::Event(2)]
    );
    flips(&month, &after, AuditIntegrity, "AU-9");
    sql(format!(
        "UPDATE audit_events SET actor = '{}' WHERE seq = 2",
        second.actor
    ))
    .await;

    // A grant on a high system longer than a 4 h just-in-time cap.
    sql(format!(
        "UPDATE grants SET system = 'payments-db', role = 'payments-db.read' WHERE id = '{live}'"
    ))
    .await;
    let jit = Goals {
        jit_cap: secs(4 * 3_600),
        ..Goals::default()
    };
    flips(&month, &m.report(&jit).await, StandingPrivilege, "PR.AA-05");
    // Past the default JIT cap too: nine hours on a high system.
    sql(format!(
        "UPDATE grants SET expires_at = activated_at + 32400000 WHERE id = '{live}'"
    ))
    .await;
    let nine = m.report(&ok).await;
    assert_eq!(value(&nine, StandingPrivilege), Some(1.0));
    now_matches().await;
    sql(format!(
        "UPDATE grants SET expires_at = activated_at + 28800000 WHERE id = '{live}'"
    ))
    .await;
    sql(format!("UPDATE grants SET system = 'session-cache', role = 'session-cache.read' WHERE id = '{live}'")).await;

    // The reported rates breach only a goal someone set.
    for (id, control_id) in [
        (RightSizingRate, "PR.AA-05"),
        (DurationClampRate, "AC-6"),
        (Decisions, "CC6.1"),
    ] {
        let mut strict = Goals::default();
        strict.goals.insert(id, Goal::AtMost(0.1));
        flips(&month, &m.report(&strict).await, id, control_id);
    }

    // A bundle in which the legacy service has an owner again: no orphan, then back.
    let files = e
        .bundle()
        .files()
        .iter()
        .map(|f| warden_policy::SourceFile {
            name: f.name.clone(),
            text: f.text.replace("owner = \"frank\"", "owner = \"alice\""),
        })
        .collect();
    e.activate(Bundle::from_files(files).unwrap(), "test")
        .await
        .unwrap();
    let owned = m.report(&ok).await;
    e.activate(Bundle::load(&bundle_dir()).unwrap(), "test")
        .await
        .unwrap();
    flips(&owned, &m.report(&ok).await, OrphanedNhis, "A.5.16");

    // dave holds both roles of the maker-checker set: the live grant becomes the maker's,
    // and the grant that expired on Nov 20 comes back as the checker's, live.
    let old = e.grant(&m.target_down).await.unwrap();
    let ms = |t: Option<Timestamp>| t.unwrap().unix_millis();
    sql(format!(
        "UPDATE grants SET system = 'payments-db', role = 'payments-db.write' WHERE id = '{live}'"
    ))
    .await;
    sql(format!(
        "UPDATE grants SET state = 'active', subject = 'dave', system = 'payments-db', \
         role = 'payments-db.refund-approve', revoked_at = NULL WHERE id = '{}'",
        m.target_down
    ))
    .await;
    let after = m.report(&ok).await;
    assert_eq!(
        figure(&after, SodViolations).evidence,
        vec![Evidence::Identity("dave".into())]
    );
    assert_eq!(
        figure(&after, SodViolations).detail["conflicting_identities"],
        1
    );
    flips(&month, &after, SodViolations, "AC-5");
    now_matches().await;
    sql(format!("UPDATE grants SET system = 'session-cache', role = 'session-cache.read' WHERE id = '{live}'")).await;
    sql(format!(
        "UPDATE grants SET state = 'revoked', subject = 'alice', system = 'session-cache', \
         role = 'session-cache.read', revoked_at = {} WHERE id = '{}'",
        ms(old.revoked_at),
        m.target_down
    ))
    .await;

    // The break-glass review decided a day after it fell due.
    sql("UPDATE review_items SET decided_at = decided_at + 86400000".into()).await;
    let after = m.report(&ok).await;
    assert_eq!(
        figure(&after, ReviewCompletion).evidence,
        vec![Evidence::Grant(m.glass.clone())]
    );
    flips(&month, &after, ReviewCompletion, "AC-6");
    sql("UPDATE review_items SET decided_at = decided_at - 86400000".into()).await;

    // Everything restored: the month reads as it did.
    let again = m.report(&ok).await;
    for id in MetricId::ALL {
        assert_eq!(
            status(&again, *id),
            status(&month, *id),
            "{id} after restoring"
        );
    }
    m.clean().await;
}
