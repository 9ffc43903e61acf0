//! Single sign-on against a real OIDC provider: oidc-provider from scripts/oidc, started
//! by scripts/services (`WARDEN_TEST_OIDC_URL`). The console is served over TCP and a
//! `reqwest` client walks the provider's sign-in and consent pages like a browser (its
//! own cookies, one redirect at a time), then comes back to the console's callback.
//!
//! Without the provider these tests say why and pass, except under `CI=true`, where they
//! fail. The tests at the end need no provider.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a failed unwrap is a failed test"
)]

mod common;

use axum::http::StatusCode;
use common::{Harness, LiveConsole};
use reqwest::Url;
use reqwest::header::{LOCATION, SET_COOKIE};
use secrecy::SecretString;
use warden_console::{Console, ConsoleConfig, SESSION_COOKIE};
use warden_engine::EngineError;
use warden_model::Duration;
use warden_oidc::{SignIn, SignInConfig};

const CLIENT_ID: &str = "warden-console";
/// The provider's test client's secret (scripts/oidc/provider.mjs).
const CLIENT_SECRET: &str = "warden-console-test-secret";

/// The provider's issuer, or `None` (having said why) when it is not running.
fn provider() -> Option<String> {
    warden_model::testing::service_url("oidc")
}

/// A console with single sign-on through `issuer`, finding people by `email`.
async fn console(issuer: &str) -> LiveConsole {
    LiveConsole::start(|engine, base| {
        let sign_in = SignIn::new(SignInConfig {
            issuer: issuer.to_owned(),
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(CLIENT_SECRET),
            redirect_url: format!("{base}/ui/login/oidc/callback"),
        })
        .unwrap();
        let config = ConsoleConfig {
            public_url: base.to_owned(),
            ..common::config()
        };
        Console::new(engine, config).with_oidc(sign_in, "email")
    })
    .await
}

/// A browser: its own cookie jar, and redirects left to the test.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a redirect answer to a request for `from` points, resolved against `from`.
fn next_url(from: &str, resp: &reqwest::Response) -> String {
    let to = resp
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("{from} answered {} without Location", resp.status()))
        .to_str()
        .unwrap();
    Url::parse(from).unwrap().join(to).unwrap().to_string()
}

/// The `Set-Cookie` values of an answer.
fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Starts a sign-in at the console (`/ui/login/oidc?next=…`) and walks the provider's
/// pages as `login`, until the provider sends the browser back: the callback URL, not
/// yet opened.
async fn to_callback(b: &reqwest::Client, c: &LiveConsole, login: &str, next: &str) -> String {
    let start = format!(
        "{}/ui/login/oidc?{}",
        c.base,
        serde_urlencoded::to_string([("next", next)]).unwrap()
    );
    let resp = b.get(&start).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with("warden_oidc=") && c.contains("HttpOnly")),
        "the attempt is bound to this browser"
    );
    let mut url = next_url(&start, &resp);
    for _ in 0..12 {
        if url.starts_with(&c.base) {
            return url;
        }
        let resp = b.get(&url).send().await.unwrap();
        if resp.status().is_redirection() {
            url = next_url(&url, &resp);
            continue;
        }
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let page = resp.text().await.unwrap();
        let form: Vec<(&str, &str)> = if page.contains(r#"name="prompt" value="login""#) {
            vec![("prompt", "login"), ("login", login), ("password", "x")]
        } else if page.contains(r#"name="prompt" value="consent""#) {
            vec![("prompt", "consent")]
        } else {
            panic!("an unexpected provider page at {url}: {page}");
        };
        let resp = b.post(&url).form(&form).send().await.unwrap();
        assert!(resp.status().is_redirection(), "{url}: {}", resp.status());
        url = next_url(&url, &resp);
    }
    panic!("the provider never sent the browser back (last at {url})");
}

/// Opens the callback URL: the console's answer.
async fn open(b: &reqwest::Client, url: &str) -> reqwest::Response {
    b.get(url).send().await.unwrap()
}

/// Whether `b` holds a console session: the inbox answers it rather than redirecting
/// to the sign-in page.
async fn signed_in_as(b: &reqwest::Client, c: &LiveConsole) -> Option<String> {
    let resp = b.get(format!("{}/ui/inbox", c.base)).send().await.unwrap();
    if resp.status() != StatusCode::OK {
        return None;
    }
    let page = resp.text().await.unwrap();
    ["alice", "erin", "bob"]
        .into_iter()
        .find(|who| page.contains(&format!(">{who}<")))
        .map(str::to_owned)
}

/// The `session.started` events of the audit trail.
async fn sessions_started(c: &LiveConsole) -> Vec<serde_json::Value> {
    c.engine
        .audit_page(0, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "session.started")
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn a_person_signs_in_with_the_provider() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();

    let login_page = b
        .get(format!("{}/ui/login", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login_page.contains("/ui/login/oidc?next="),
        "the sign-in page offers single sign-on"
    );

    let callback = to_callback(&b, &c, "alice@example.com", "/ui/inbox").await;
    assert!(
        callback.starts_with(&format!("{}/ui/login/oidc/callback?code=", c.base)),
        "{callback}"
    );
    let resp = open(&b, &callback).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/inbox");
    let cookies = set_cookies(&resp);
    let session = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=wds_")))
        .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{attr} missing: {session}");
    }
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("warden_oidc=;") && c.contains("Max-Age=0")),
        "the binding cookie is cleared: {cookies:?}"
    );
    assert_eq!(signed_in_as(&b, &c).await.as_deref(), Some("alice"));

    let started = sessions_started(&c).await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["identity"], "alice");
    assert_eq!(started[0]["method"], "oidc");
    assert_eq!(started[0]["provider"]["issuer"], issuer.as_str());
    assert_eq!(started[0]["provider"]["subject"], "alice@example.com");
    let code = Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let trail = format!("{:?}", c.engine.audit_page(0, 500).await.unwrap());
    assert!(!trail.contains(&code), "the code reached the audit trail");
}

#[tokio::test]
async fn another_person_comes_back_where_she_was_going() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();
    let callback = to_callback(&b, &c, "erin@example.com", "/ui/access").await;
    let resp = open(&b, &callback).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/access");
    assert_eq!(signed_in_as(&b, &c).await.as_deref(), Some("erin"));

    // Somewhere off the console is never where a sign-in goes back to.
    let b = browser();
    let callback = to_callback(&b, &c, "bob@example.com", "//evil.example/ui").await;
    let resp = open(&b, &callback).await;
    assert_eq!(resp.headers()[LOCATION], "/ui/inbox");
    assert_eq!(signed_in_as(&b, &c).await.as_deref(), Some("bob"));
}

/// Asserts that `resp` is a refusal page with `status` saying `why`, that it starts no
/// session, and that `b` is not signed in.
async fn refused(
    b: &reqwest::Client,
    c: &LiveConsole,
    resp: reqwest::Response,
    status: StatusCode,
    why: &str,
) {
    assert_eq!(resp.status(), status);
    assert!(
        !set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with(SESSION_COOKIE)),
        "a refusal set a session cookie"
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains(why), "{why:?} not in {page}");
    assert_eq!(signed_in_as(b, c).await, None);
}

/// Signs in at the provider as `login`, and asserts the console refuses 403 saying `why`.
async fn refused_at_the_console(issuer: &str, login: &str, why: &str) {
    let c = console(issuer).await;
    let b = browser();
    let callback = to_callback(&b, &c, login, "/ui/inbox").await;
    let resp = open(&b, &callback).await;
    refused(&b, &c, resp, StatusCode::FORBIDDEN, why).await;
    assert!(sessions_started(&c).await.is_empty());
}

#[tokio::test]
async fn someone_the_catalog_does_not_know_is_refused() {
    let Some(issuer) = provider() else { return };
    refused_at_the_console(
        &issuer,
        "stranger@example.com",
        "no identity of the catalog has the email `stranger@example.com`",
    )
    .await;
}

#[tokio::test]
async fn a_disabled_person_is_refused() {
    let Some(issuer) = provider() else { return };
    // frank left the company: `status = "disabled"` in the example catalog.
    refused_at_the_console(
        &issuer,
        "frank@example.com",
        "`frank` is disabled in the active catalog",
    )
    .await;
}

#[tokio::test]
async fn a_callback_works_once() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();
    let callback = to_callback(&b, &c, "alice@example.com", "/ui/inbox").await;
    assert_eq!(open(&b, &callback).await.status(), StatusCode::SEE_OTHER);

    // The same callback again, from another browser and from the same one.
    let other = browser();
    let again = open(&other, &callback).await;
    refused(
        &other,
        &c,
        again,
        StatusCode::UNAUTHORIZED,
        "unknown, already used or expired",
    )
    .await;
    let again = open(&b, &callback).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sessions_started(&c).await.len(), 1);
}

#[tokio::test]
async fn a_state_never_issued_is_refused() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();
    let resp = open(
        &b,
        &format!(
            "{}/ui/login/oidc/callback?code=made-up&state=never-issued",
            c.base
        ),
    )
    .await;
    refused(
        &b,
        &c,
        resp,
        StatusCode::UNAUTHORIZED,
        "unknown, already used or expired",
    )
    .await;
    let resp = open(&b, &format!("{}/ui/login/oidc/callback", c.base)).await;
    refused(&b, &c, resp, StatusCode::BAD_REQUEST, "no code or no state").await;
    assert!(sessions_started(&c).await.is_empty());
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_is_refused_and_spent() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    // Mallory signs in at the provider and sends her callback link to a victim, whose
    // browser did not start that sign-in.
    let mallory = browser();
    let callback = to_callback(&mallory, &c, "alice@example.com", "/ui/inbox").await;
    let victim = browser();
    let resp = open(&victim, &callback).await;
    refused(
        &victim,
        &c,
        resp,
        StatusCode::FORBIDDEN,
        "was not started in this browser",
    )
    .await;
    // The attempt is spent: not even the browser that started it can finish it now.
    let resp = open(&mallory, &callback).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(sessions_started(&c).await.is_empty());
}

#[tokio::test]
async fn the_provider_declining_is_shown() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();
    let start = format!("{}/ui/login/oidc", c.base);
    let resp = b.get(&start).send().await.unwrap();
    let mut url = next_url(&start, &resp);
    // Follow the provider to its sign-in page, then press its Cancel link.
    loop {
        let resp = b.get(&url).send().await.unwrap();
        if !resp.status().is_redirection() {
            break;
        }
        url = next_url(&url, &resp);
    }
    assert!(url.contains("/interaction/"), "{url}");
    url = format!("{url}/abort");
    while !url.starts_with(&c.base) {
        let resp = b.get(&url).send().await.unwrap();
        assert!(resp.status().is_redirection(), "{url}: {}", resp.status());
        url = next_url(&url, &resp);
    }
    assert!(url.contains("error=access_denied"), "{url}");
    let resp = open(&b, &url).await;
    refused(
        &b,
        &c,
        resp,
        StatusCode::UNAUTHORIZED,
        "the single sign-on provider did not sign you in: access_denied",
    )
    .await;
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_page() {
    // No provider needed: nothing listens where this one is configured.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let c = console(&issuer).await;
    let b = browser();
    let resp = open(&b, &format!("{}/ui/login/oidc", c.base)).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("the single sign-on provider is unavailable"),
        "{page}"
    );
}

#[tokio::test]
async fn without_single_sign_on_its_pages_are_not_found() {
    let h = Harness::new().await;
    let mut b = h.anonymous();
    let login = b.get("/ui/login").await;
    assert!(!login.text.contains("/ui/login/oidc"), "{}", login.text);
    assert_eq!(b.get("/ui/login/oidc").await.status, StatusCode::NOT_FOUND);
    let callback = b.get("/ui/login/oidc/callback?code=c&state=s").await;
    assert_eq!(callback.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stored_attempt_is_taken_once_and_expires() {
    let h = Harness::new().await;
    let ttl = Duration::from_seconds(600).unwrap();
    h.engine
        .begin_oidc_login("state-1", "nonce-1", "verifier-1", "/ui/access", ttl)
        .await
        .unwrap();
    let login = h.engine.take_oidc_login("state-1").await.unwrap();
    assert_eq!(
        (
            login.nonce.as_str(),
            login.verifier.as_str(),
            login.return_to.as_str()
        ),
        ("nonce-1", "verifier-1", "/ui/access")
    );
    assert_ne!(login.state_hash, "state-1", "only the state's hash is kept");
    assert!(matches!(
        h.engine.take_oidc_login("state-1").await,
        Err(EngineError::Unauthorized(_))
    ));

    h.engine
        .begin_oidc_login("state-2", "n", "v", "/ui/inbox", ttl)
        .await
        .unwrap();
    h.clock.advance(Duration::from_seconds(600).unwrap());
    assert!(matches!(
        h.engine.take_oidc_login("state-2").await,
        Err(EngineError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn a_callback_naming_another_provider_is_refused() {
    let Some(issuer) = provider() else { return };
    let c = console(&issuer).await;
    let b = browser();
    let callback = to_callback(&b, &c, "alice@example.com", "/ui/inbox").await;
    let mut url = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://another-provider.example".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    assert!(pairs.iter().any(|(k, _)| k == "iss"), "{callback}");
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = open(&b, url.as_str()).await;
    refused(
        &b,
        &c,
        resp,
        StatusCode::UNAUTHORIZED,
        "names another single sign-on provider",
    )
    .await;
    assert!(sessions_started(&c).await.is_empty());
}
