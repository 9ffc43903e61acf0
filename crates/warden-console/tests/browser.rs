//! The console in a real browser: headless Chromium over WebDriver against the console
//! served on a loopback port, with grants provisioned on a real Redis by the worker loop.
//! People sign in, ask for access (the decision previewed by the page's script as they
//! type, and by the form's button without it), approve from the inbox, fetch a credential
//! once, revoke and audit, each with real clicks and typing. Every page visited is checked
//! with axe-core (WCAG 2.1 A and AA: no serious or critical violation) and at 375 px (no
//! horizontal scroll of the page), and photographed into `target/console-screenshots/`;
//! with `WARDEN_UPDATE_DOCS_SCREENSHOTS=1`, the pictures `docs/console.md` shows are
//! copied to `docs/console/` as well.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test, and a page's problems are said at once"
)]

mod common;
#[path = "browser/driver.rs"]
mod driver;

use std::path::PathBuf;

use common::Harness;
use driver::{Browser, Driver, eventually};
use fantoccini::Locator;
use warden_model::{Duration, IdentityId};

/// The pages `docs/console.md` shows, by the names the tour gives them.
const DOCS_PAGES: &[&str] = &[
    "login", "inbox", "request", "ask", "access", "grants", "audit",
];

/// Everything the test needs from this machine, or `None` (skipped) when one is missing.
struct Services {
    chromium: String,
    chromedriver: String,
    axe: String,
    redis: String,
    oidc: String,
}

impl Services {
    fn get() -> Option<Self> {
        let chromium = warden_model::testing::service_url("chromium")?;
        let chromedriver = warden_model::testing::service_url("chromedriver")?;
        let axe = warden_model::testing::service_url("axe")?;
        let redis = warden_model::testing::service_url("redis")?;
        let oidc = warden_model::testing::service_url("oidc")?;
        let axe = std::fs::read_to_string(&axe)
            .unwrap_or_else(|e| panic!("cannot read axe-core at {axe}: {e}"));
        Some(Self {
            chromium,
            chromedriver,
            axe,
            redis,
            oidc,
        })
    }
}

/// What is checked on every page: axe-core, the width at 375 px, a picture.
struct Tour {
    axe: String,
    shots: PathBuf,
    docs: bool,
    taken: usize,
    problems: Vec<String>,
    pages: Vec<String>,
}

impl Tour {
    fn new(axe: String) -> Self {
        let shots = driver::screenshot_dir();
        std::fs::create_dir_all(&shots).unwrap();
        // Only this run's pictures: numbers shift as pages come and go.
        for old in std::fs::read_dir(&shots).unwrap() {
            let old = old.unwrap().path();
            if old.extension().is_some_and(|e| e == "png") {
                std::fs::remove_file(old).unwrap();
            }
        }
        let docs = std::env::var("WARDEN_UPDATE_DOCS_SCREENSHOTS").as_deref() == Ok("1");
        if docs {
            std::fs::create_dir_all(driver::docs_dir()).unwrap();
        }
        Self {
            axe,
            shots,
            docs,
            taken: 0,
            problems: Vec::new(),
            pages: Vec::new(),
        }
    }

    /// Notes `problem`, and says it at once: a later failure may end the test first.
    fn problem(&mut self, problem: String) {
        eprintln!("problem: {problem}");
        self.problems.push(problem);
    }

    /// Checks the page `b` shows, named `name`: axe-core's serious and critical
    /// violations and a page wider than 375 px are noted as problems; pictures are taken
    /// at 1280 px (and at 375 px too when `narrow_picture`).
    async fn check(&mut self, b: &Browser, name: &str, narrow_picture: bool) {
        let path = b.path().await;
        let bare = path.split('?').next().unwrap_or_default();
        self.pages.push(format!("{name} ({bare})"));
        for v in b.axe(&self.axe).await {
            self.problem(format!("{name} ({path}): axe {v}"));
        }

        b.resize(375, 800).await;
        let (scroll, inner) = b.widths().await;
        if scroll > 375 {
            let wide = b
                .run(
                    "return Array.from(document.querySelectorAll('body *'))
                       .filter(e => e.getBoundingClientRect().right > 375 && (!(e.parentElement && e.parentElement.closest('.scroll'))
                         || ['absolute', 'fixed'].includes(getComputedStyle(e).position)))
                       .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                         + (e.className ? '.' + String(e.className).split(' ').join('.') : ''));",
                )
                .await;
            self.problem(format!(
                "{name} ({path}): {scroll} px wide at an inner width of {inner} px; wider: {wide}"
            ));
        }
        b.resize(1280, 900).await;

        self.taken += 1;
        let png = b.picture(1280, 4000).await;
        let file = self.shots.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&file, &png).unwrap();
        if self.docs && DOCS_PAGES.contains(&name) {
            // The documentation shows the top of a long page.
            let png = b.picture(1280, 1400).await;
            std::fs::write(driver::docs_dir().join(format!("{name}.png")), &png).unwrap();
        }
        if narrow_picture {
            let png = b.picture(375, 4000).await;
            let file = self.shots.join(format!("{:02}-{name}-375.png", self.taken));
            std::fs::write(file, &png).unwrap();
        }
    }
}

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

/// Single sign-on through the test provider at `issuer` for the console at `base`.
fn single_sign_on(issuer: &str, base: &str) -> warden_oidc::SignIn {
    warden_oidc::SignIn::new(warden_oidc::SignInConfig {
        issuer: issuer.to_owned(),
        client_id: "warden-console".into(),
        // The test provider's client secret (scripts/oidc/provider.mjs).
        client_secret: secrecy::SecretString::from("warden-console-test-secret"),
        redirect_url: format!("{base}/ui/login/oidc/callback"),
    })
    .unwrap()
}

/// Signs `who` in on `b` with a one-time link, as a person opening it would: the link's
/// page, then its one button.
async fn sign_in_with_link(h: &Harness, b: &Browser, who: &str) {
    let link = h
        .engine
        .create_login_link(
            &id(who),
            Duration::from_seconds(600).unwrap(),
            "browser test",
        )
        .await
        .unwrap();
    b.goto(&format!("/ui/login/link?token={}", link.expose()))
        .await;
    b.wait_title("Sign in with a link").await;
    b.click_button("main form", "Sign in").await;
    b.wait_path("/ui/inbox").await;
    b.wait_text("header .who", who).await;
}

/// Fills the ask form with `role` and `purpose` (and `duration` when given).
async fn fill_ask(b: &Browser, role: &str, duration: Option<&str>, purpose: &str) {
    b.choose("#role", role).await;
    if let Some(d) = duration {
        b.fill("#duration", d).await;
    }
    b.fill("#purpose", purpose).await;
}

/// The request id of the request page `b` shows.
async fn request_id(b: &Browser) -> String {
    let path = b.wait_path("/ui/requests/").await;
    path.trim_start_matches("/ui/requests/").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_ask_approve_fetch_revoke_and_audit_in_a_real_browser() {
    let Some(services) = Services::get() else {
        return;
    };
    let (listener, base) = common::loopback().await;
    let h = Harness::with_console(
        warden_engine::EngineConfig {
            connectors: common::redis_connectors(&services.redis).await,
            ..warden_engine::EngineConfig::default()
        },
        common::bundle_with_connector("cache-redis"),
        common::wall_clock(),
        |engine| {
            warden_console::Console::new(engine, common::config_at(&base))
                .with_oidc(single_sign_on(&services.oidc, &base), "email")
        },
    )
    .await;
    let clock = h.follow_wall_clock();
    let server = h.serve(listener);
    let worker = h.spawn_worker();
    let driver = Driver::start(&services.chromedriver).await;
    let mut tour = Tour::new(services.axe.clone());

    // 1. Alice signs in through the identity provider.
    let alice = driver.browser(&services.chromium, &base).await;
    alice.goto("/ui/inbox").await;
    // Not signed in: the console sends her to sign in, and back afterwards.
    alice.wait_path("/ui/login?next=").await;
    alice.wait_title("Sign in").await;
    check_security(&alice).await;
    tour.check(&alice, "login", true).await;
    alice.click_link("Sign in with single sign-on").await;
    alice
        .wait_url(&format!("{}/interaction/", services.oidc))
        .await;
    alice.wait_text("h1", "Sign-in").await;
    alice.fill("input[name=login]", "alice@example.com").await;
    alice.fill("input[name=password]", "any password").await;
    alice.click_button("form", "Sign-in").await;
    alice.wait_text("h1", "Authorize").await;
    alice.click_button("form", "Continue").await;
    alice.wait_url(&format!("{base}/ui/inbox")).await;
    alice.wait_text("header .who", "alice").await;
    alice.wait_title("Inbox").await;
    alice.wait_text("main", "Nothing is waiting for you.").await;

    // 2. She asks for access: the script previews the decision as she types.
    alice.click_link("Ask for access").await;
    alice.wait_title("Ask for access").await;
    alice
        .wait_text("#preview", "Fill in the form to see what you would get")
        .await;
    fill_ask(
        &alice,
        "payments-db.read",
        Some("2h"),
        "INC-7 check a refund",
    )
    .await;
    alice.wait_text("#preview", "Needs 2 approvals").await;
    alice
        .wait_text("#preview", "Nothing is filed until you press Ask.")
        .await;
    assert_eq!(
        alice.path().await,
        "/ui/access/new",
        "the preview came without leaving the page"
    );
    tour.check(&alice, "ask", true).await;
    // Without the script, the form's own button asks the console for the same preview.
    alice.click_button("form.ask", "Preview the decision").await;
    alice.wait_path("/ui/access/preview").await;
    alice.wait_text("#preview", "Needs 2 approvals").await;
    let kept = alice.find("#purpose").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("INC-7 check a refund"));
    alice.click_button("form.ask", "Ask").await;
    let asked = request_id(&alice).await;
    alice.wait_title(&format!("Request {asked}")).await;
    alice.wait_text("#summary-h", "Needs 2 approvals").await;
    alice.wait_text("main", "You may not answer").await;
    tour.check(&alice, "request", false).await;

    // A read of the session cache needs nobody: granted, and provisioned on Redis.
    alice.click_link("Ask for access").await;
    alice.wait_title("Ask for access").await;
    fill_ask(&alice, "session-cache.read", None, "debug a cache miss").await;
    alice
        .wait_text("#preview", "Granted without approval")
        .await;
    alice.click_button("form.ask", "Ask").await;
    let granted = request_id(&alice).await;
    alice
        .wait_text("#summary-h", "Granted without approval")
        .await;
    eventually("the cache grant to be active", || async {
        alice.client.refresh().await.unwrap();
        alice
            .text_of("#grant-h + p")
            .await
            .filter(|t| t.contains("active"))
    })
    .await;

    // 3. Bob approves her first request from his inbox, with a comment.
    let bob = driver.browser(&services.chromium, &base).await;
    let link = h
        .engine
        .create_login_link(
            &id("bob"),
            Duration::from_seconds(600).unwrap(),
            "browser test",
        )
        .await
        .unwrap();
    bob.goto(&format!("/ui/login/link?token={}", link.expose()))
        .await;
    bob.wait_title("Sign in with a link").await;
    tour.check(&bob, "login-link", false).await;
    bob.click_button("main form", "Sign in").await;
    bob.wait_path("/ui/inbox").await;
    bob.wait_text("header .who", "bob").await;
    bob.wait_title("Inbox").await;
    bob.wait_text("main table", &asked).await;
    let bob_inbox = bob.body().await;
    assert!(!bob_inbox.contains(&granted), "{bob_inbox}");
    tour.check(&bob, "inbox", true).await;
    bob.click_link(&asked).await;
    bob.wait_path(&format!("/ui/requests/{asked}")).await;
    bob.wait_text("main", "You may answer this request.").await;
    bob.fill("#comment", "Checked INC-7 with the payments team")
        .await;
    bob.click_button("form.answer", "Approve").await;
    bob.wait_text("ul.answers", "bob approved").await;
    bob.wait_text("ul.answers", "Checked INC-7 with the payments team")
        .await;
    bob.wait_text("main", "1 more approval needed.").await;
    bob.wait_text("main", "Who still may: carol.").await;
    tour.check(&bob, "request-answered", false).await;
    // The database is highly sensitive: its owners' second approval, carol's.
    let carol = driver.browser(&services.chromium, &base).await;
    sign_in_with_link(&h, &carol, "carol").await;
    carol.wait_text("main table", &asked).await;
    carol.click_link(&asked).await;
    carol
        .wait_text("main", "You may answer this request.")
        .await;
    carol.click_button("form.answer", "Approve").await;
    carol.wait_text("ul.answers", "carol approved").await;
    carol.wait_text("dl.facts .state", "approved").await;
    let approved = h.engine.request(&asked).await.unwrap();
    assert_eq!(approved.state.as_str(), "approved");

    // 4. Alice sees her grant's time run out live, fetches its credential once.
    alice.click_link("My access").await;
    alice.wait_title("My access").await;
    let first = alice.wait_text("[data-expires]", "left").await;
    eventually("the countdown to tick", || async {
        alice
            .text_of("[data-expires]")
            .await
            .filter(|t| *t != first && t.ends_with("left"))
    })
    .await;
    tour.check(&alice, "access", true).await;
    // The database's grant is recorded only (no target here): no credential to fetch.
    alice
        .client
        .find(Locator::XPath(
            "//tr[td[normalize-space()='session-cache.read']]//button[normalize-space()='Fetch credential']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    alice.wait_title("Your credential").await;
    let username = alice.text_of("#username").await.unwrap();
    let password = alice.text_of("#password").await.unwrap();
    assert_eq!(password.len(), 32, "{password}");
    alice.wait_text("main", "This is the only time").await;
    tour.check(&alice, "credential", false).await;
    // It really works on the target.
    let redis = redis::Client::open(services.redis.as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let ok: String = redis::cmd("AUTH")
        .arg(&username)
        .arg(&password)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    alice.click_link("Back to my access").await;
    alice.wait_title("My access").await;
    alice.wait_text("main table", "gone (fetched once)").await;
    let source = alice.client.source().await.unwrap();
    assert!(!source.contains(&password), "the password was shown again");

    let grant = h
        .engine
        .request(&granted)
        .await
        .unwrap()
        .grant
        .expect("a grant");

    // 5. An administrator revokes it.
    let erin = driver.browser(&services.chromium, &base).await;
    sign_in_with_link(&h, &erin, "erin").await;
    erin.click_link("Grants").await;
    erin.wait_title("Grants").await;
    erin.wait_text("main table", &grant.id).await;
    tour.check(&erin, "grants", true).await;
    erin.fill(&format!("#reason-{}", grant.id), "INC-7 closed")
        .await;
    let row = format!("//tr[th/code[normalize-space()='{}']]", grant.id);
    erin.client
        .find(Locator::XPath(&format!(
            "{row}//button[normalize-space()='Revoke']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    erin.wait_text(".notice", "The grant is being revoked")
        .await;
    // The worker removes the account; the filter, as typed, finds the grant revoked.
    erin.fill("#subject", "alice").await;
    erin.choose("#state", "revoked").await;
    eventually("the grant to be revoked", || async {
        erin.click_button("form.filters", "Filter").await;
        erin.wait_path("/ui/grants?").await;
        erin.text_of("main table")
            .await
            .filter(|t| t.contains(&grant.id))
    })
    .await;
    let refused: redis::RedisResult<String> = redis::cmd("AUTH")
        .arg(&username)
        .arg(&password)
        .query_async(&mut conn)
        .await;
    assert!(refused.is_err(), "the revoked account still signs in");
    tour.check(&erin, "grants-revoked", false).await;

    // 6. Grace, an auditor, sees what happened and a verified chain.
    let grace = driver.browser(&services.chromium, &base).await;
    sign_in_with_link(&h, &grace, "grace").await;
    grace.click_link("Audit").await;
    grace.wait_title("Audit trail").await;
    for action in ["credential.delivered", "grant.revoked", "request.approved"] {
        grace.wait_text("main", action).await;
    }
    tour.check(&grace, "audit", true).await;
    grace.click_link("Verify the chain").await;
    grace.wait_path("/ui/audit/verify").await;
    grace.wait_text("#verdict-h", "Chain: ok").await;
    tour.check(&grace, "audit-verified", false).await;

    // The other pages of the navigation.
    for (b, link, name) in [
        (&alice, "Explorer", "explorer"),
        (&alice, "Reviews", "reviews"),
        (&grace, "Evidence", "evidence"),
    ] {
        b.click_link(link).await;
        b.wait_title(link).await;
        tour.check(b, name, false).await;
    }

    // Signing out ends the session: the inbox sends her to sign in again.
    alice.goto("/ui/access").await;
    alice.click_button("form.signout", "Sign out").await;
    alice.wait_path("/ui/login").await;
    alice.goto("/ui/inbox").await;
    alice.wait_path("/ui/login?next=").await;

    for b in [alice, bob, carol, erin, grace] {
        b.close().await;
    }
    let _ = worker.send(true);
    server.abort();
    clock.abort();
    drop(driver);

    assert!(
        tour.problems.is_empty(),
        "problems on the pages:\n{}",
        tour.problems.join("\n")
    );
    println!("pages checked: {}", tour.pages.join(", "));
    // 10. Every stored decision replays byte for byte.
    assert!(h.replay_all().await >= 2);
}

/// The console's security headers reach the browser, and it enforces the policy: a script
/// written into the page does not run.
async fn check_security(b: &Browser) {
    let headers = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(location.href, {credentials: 'same-origin'}).then(r => done({
               csp: r.headers.get('content-security-policy'),
               frame: r.headers.get('x-frame-options'),
               sniff: r.headers.get('x-content-type-options'),
               referrer: r.headers.get('referrer-policy'),
               cache: r.headers.get('cache-control')}));",
            vec![],
        )
        .await
        .unwrap();
    let csp = headers["csp"].as_str().unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{headers}"
    );
    assert_eq!(headers["frame"], "DENY", "{headers}");
    assert_eq!(headers["sniff"], "nosniff", "{headers}");
    assert_eq!(headers["referrer"], "no-referrer", "{headers}");
    assert_eq!(headers["cache"], "no-store", "{headers}");
    let refused = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             document.addEventListener('securitypolicyviolation',
               e => done({directive: e.violatedDirective, ran: window.injectedRan === true}),
               {once: true});
             const s = document.createElement('script');
             s.textContent = 'window.injectedRan = true;';
             document.body.appendChild(s);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused["ran"], false, "{refused}");
    assert!(
        refused["directive"]
            .as_str()
            .is_some_and(|d| d.starts_with("script-src")),
        "{refused}"
    );
}
