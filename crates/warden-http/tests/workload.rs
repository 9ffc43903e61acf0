//! Workload sign-in end to end: real signed JWTs (RS256 from a committed test key, ES256
//! from a key made here) served from a JWK set on the loopback interface, through
//! `POST /v1/workload/credentials` to a real Redis ACL user (`WARDEN_TEST_REDIS_URL`) that
//! the workload uses and that is removed at expiry (on SQLite, and on PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set). Every refusal is its own test and
//! stores nothing; each test ends by replaying every stored decision.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use warden_connect::conformance::target_url;
use warden_engine::connectors::Connectors;
use warden_engine::workload::Workloads;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Duration, Timestamp};
use warden_oidc::testing::{JwksServer, Signer, jwks};
use warden_oidc::{IssuerConfig, Verifier};
use warden_policy::{Bundle, SourceFile};
use warden_store::testing;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str = "repo:northwind/payments:environment:prod";
const PATH: &str = "/v1/workload/credentials";

/// One engine with workload sign-in, its router, and the keys its issuer signs with.
struct World {
    h: common::Harness,
    rsa: Signer,
    ec: Signer,
    jwks: JwksServer,
    worker: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

fn example() -> Bundle {
    Bundle::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
        .unwrap()
}

/// `bundle` with `extra` appended to its catalog.
fn with_catalog(bundle: &Bundle, extra: &str) -> Bundle {
    let files = bundle
        .files()
        .iter()
        .map(|f| SourceFile {
            name: f.name.clone(),
            text: if f.name == "catalog.toml" {
                format!("{}\n{extra}\n", f.text)
            } else {
                f.text.clone()
            },
        })
        .collect();
    Bundle::from_files(files).unwrap()
}

impl World {
    /// A world on SQLite over `bundle`, with a worker; with `redis`, the cache provisions
    /// there, and otherwise every system is only recorded.
    async fn new(bundle: Bundle, redis: Option<&str>) -> Self {
        let (store, dir) = testing::sqlite().await;
        Self::on(store, Some(dir), bundle, redis).await
    }

    /// [`World::new`] on `store`.
    async fn on(
        store: warden_store::Store,
        dir: Option<tempfile::TempDir>,
        bundle: Bundle,
        redis: Option<&str>,
    ) -> Self {
        let rsa = Signer::rs256();
        let ec = Signer::es256("ec-1");
        let jwks = JwksServer::start(jwks(&[&rsa, &ec])).await;
        let verifier = Verifier::new(vec![IssuerConfig {
            issuer: ISSUER.into(),
            jwks_url: Some(jwks.url.clone()),
            jwks_file: None,
            audience: "warden".into(),
            max_token_age: Duration::parse("10m").unwrap(),
        }])
        .unwrap();
        let (connectors, bundle) = match redis {
            Some(url) => (common::redis_connectors(url, "wl").await, bundle),
            None => (
                Connectors::default(),
                warden_policy::testing::record_only(&bundle),
            ),
        };
        let clock = Arc::new(ManualClock::new(Timestamp::parse(common::START).unwrap()));
        let engine = Engine::new(
            store,
            bundle,
            clock.clone(),
            EngineConfig {
                connectors,
                workloads: Some(Workloads {
                    verifier: Arc::new(verifier),
                }),
                ..EngineConfig::default()
            },
        )
        .await
        .unwrap();
        let worker = {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let e = engine.clone();
            let task = tokio::spawn(async move {
                e.run_worker("w".into(), std::time::Duration::from_millis(20), stopped)
                    .await;
            });
            Some((stop, task))
        };
        let h = common::Harness::with_engine(engine, clock, dir).await;
        Self {
            h,
            rsa,
            ec,
            jwks,
            worker,
        }
    }

    fn now(&self) -> i64 {
        self.h.engine.now().unix_seconds()
    }

    /// The claims of a job of the payments repository's prod environment on main.
    fn claims(&self, jti: &str) -> Value {
        let now = self.now();
        json!({
            "iss": ISSUER, "aud": "warden", "sub": SUBJECT, "jti": jti,
            "iat": now, "nbf": now, "exp": now + 300,
            "repository": "northwind/payments", "repository_owner": "northwind",
            "ref": "refs/heads/main", "ref_type": "branch", "environment": "prod",
            "workflow": "release", "actor": "dave", "event_name": "push",
        })
    }

    fn claims_with(&self, jti: &str, key: &str, value: Value) -> Value {
        let mut c = self.claims(jti);
        c[key] = value;
        c
    }

    async fn ask(&self, token: &str, body: &Value) -> common::Answer {
        self.h.post_json(PATH, token, body).await
    }

    /// Asks with `token` and expects a 401 that stores nothing; returns the message.
    async fn refused(&self, token: &str, status: StatusCode, code: &str) -> String {
        let (requests, events) = (self.requests().await, self.h.audit_len().await);
        let a = self.ask(token, &read_cache()).await;
        let message = common::error(&a, status, code);
        assert_eq!(self.requests().await, requests, "a request was stored");
        assert_eq!(
            self.h.audit_len().await,
            events,
            "an audit event was written"
        );
        message
    }

    async fn requests(&self) -> usize {
        self.h
            .engine
            .store()
            .audit_after(0, 100_000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "request.created")
            .count()
    }

    /// Waits (at most 10 s) for grant `id` to reach `state`.
    async fn until(&self, id: &str, state: warden_model::GrantState) {
        let mut tries = 0;
        while self.h.engine.grant(id).await.unwrap().state != state {
            tries += 1;
            assert!(
                tries < 400,
                "grant {id} did not become {state:?} within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    async fn stop(mut self) {
        if let Some((stop, task)) = self.worker.take() {
            stop.send(true).unwrap();
            task.await.unwrap();
        }
        self.h.replays_identically().await;
    }
}

fn read_cache() -> Value {
    json!({"role": "session-cache.read", "purpose": "smoke test"})
}

/// A token with this header and payload and signature, whatever they say.
fn forge(header: &Value, payload: &Value, signature: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(signature)
    )
}

#[tokio::test]
async fn a_job_on_main_gets_its_own_redis_user_which_ends_at_expiry() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let (sqlite, dir) = testing::sqlite().await;
    job_on_main(
        World::on(sqlite, Some(dir), example(), Some(&url)).await,
        &url,
    )
    .await;
    if let Some((pg, _)) = testing::postgres().await {
        job_on_main(World::on(pg, None, example(), Some(&url)).await, &url).await;
    }
}

/// The whole flow on `w`, whose cache provisions on the Redis at `url`.
async fn job_on_main(w: World, url: &str) {
    let token = w.rsa.sign(&w.claims("run-1"));
    let a = w
        .ask(
            &token,
            &json!({"role": "session-cache.read", "duration": "2h", "purpose": "smoke test"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers["cache-control"], "no-store");
    let d = &a.body["decision"];
    assert_eq!(d["outcome"], "grant");
    // The ci-smoke-read-cache policy caps it at 15 minutes, and the owner consented in
    // advance: no person was asked.
    assert_eq!(d["duration_seconds"], 900, "{}", a.text);
    let codes: Vec<&str> = d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"owner_consented"), "{codes:?}");
    assert!(codes.contains(&"duration_clamped"), "{codes:?}");
    let user = a.body["credential"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = a.body["credential"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = a.body["request"].as_str().unwrap().to_owned();

    // The request is the workload's own, filed under `oidc` with the token's jti, and
    // its CI claims are the policy context it was decided with.
    let stored = w.h.engine.request(&request).await.unwrap();
    assert_eq!(stored.source, "oidc");
    assert_eq!(stored.ticket, "run-1");
    assert_eq!(stored.request.requester.as_str(), "ci-deploy");
    assert_eq!(stored.request.oidc["ref"], "refs/heads/main");

    // The workload uses it: a real ACL user that reads sessions and nothing else.
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let auth: redis::RedisResult<String> = redis::cmd("AUTH")
        .arg(&user)
        .arg(&password)
        .query_async(&mut conn)
        .await;
    assert_eq!(auth.unwrap(), "OK");
    let read: redis::RedisResult<Option<String>> = redis::cmd("GET")
        .arg("session:x")
        .query_async(&mut conn)
        .await;
    assert!(read.is_ok(), "{read:?}");
    let write: redis::RedisResult<String> = redis::cmd("SET")
        .arg("session:x")
        .arg("1")
        .query_async(&mut conn)
        .await;
    assert!(write.is_err(), "a read role wrote");

    // The owner sees the workload's request with their own token.
    let dave = w.h.token("dave", &["intake"]).await;
    let seen = w.h.get(&format!("/v1/requests/{request}"), &dave).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);

    // The secret is nowhere in the audit trail.
    assert!(!w.h.audit_text().await.contains(&password));

    // Expiry: the clock passes 15 minutes; the user is removed and confirmed.
    w.h.clock.advance(Duration::parse("16m").unwrap());
    let grant = a.body["grant"]["id"].as_str().unwrap().to_owned();
    w.until(&grant, warden_model::GrantState::Revoked).await;
    let mut fresh = client.get_multiplexed_async_connection().await.unwrap();
    let after: redis::RedisResult<String> = redis::cmd("AUTH")
        .arg(&user)
        .arg(&password)
        .query_async(&mut fresh)
        .await;
    assert!(
        after.is_err(),
        "the workload's user still signs in after expiry"
    );
    w.stop().await;
}

#[tokio::test]
async fn es256_tokens_and_a_rotated_key_are_accepted_after_refresh() {
    let w = World::new(example(), None).await;
    let first = w.ask(&w.ec.sign(&w.claims("es-1")), &read_cache()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // Issued on a system Warden only records here: no credential to hand out.
    assert!(first.body["credential"].is_null());
    assert_eq!(w.jwks.fetches(), 1);

    // The platform rotates: a new key, published beside the old one.
    let rotated = Signer::es256("ec-2");
    w.jwks.serve(200, jwks(&[&w.rsa, &w.ec, &rotated]));
    // Within 30 s of the last fetch the unknown kid is refused without a fetch…
    let early = w
        .refused(
            &rotated.sign(&w.claims("es-2")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    assert!(early.contains("ec-2"), "{early}");
    assert_eq!(w.jwks.fetches(), 1);
    // …and accepted once the interval has passed, after one more fetch.
    w.h.clock.advance(Duration::parse("31s").unwrap());
    let later = w.ask(&rotated.sign(&w.claims("es-3")), &read_cache()).await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.text);
    assert_eq!(w.jwks.fetches(), 2);
    w.stop().await;
}

#[tokio::test]
async fn a_token_is_spent_once() {
    let w = World::new(example(), None).await;
    let token = w.rsa.sign(&w.claims("once"));
    let a = w.ask(&token, &read_cache()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let message = w.refused(&token, StatusCode::CONFLICT, "conflict").await;
    assert!(message.contains("jti"), "{message}");
    // Another token with the same jti is spent too.
    let again = w.rsa.sign(&w.claims("once"));
    w.refused(&again, StatusCode::CONFLICT, "conflict").await;
    w.stop().await;
}

/// A world over `bundle` refuses the token `token` makes with 401 naming `says`, storing
/// nothing; returns the world for further checks.
async fn refusal(bundle: Bundle, token: impl FnOnce(&World) -> String, says: &str) -> World {
    let w = World::new(bundle, None).await;
    let token = token(&w);
    let m = w
        .refused(&token, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    assert!(m.contains(says), "expected {says:?} in {m:?}");
    w
}

/// A token of `w`'s RSA key with the good claims, `key` set to `value`.
fn signed_with(w: &World, key: &str, value: Value) -> String {
    w.rsa.sign(&w.claims_with(key, key, value))
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let w = refusal(
        example(),
        |w| {
            // Same header and signature, another payload: the signature no longer covers it.
            let good = w.rsa.sign(&w.claims("sig"));
            let parts: Vec<&str> = good.split('.').collect();
            let evil = w.claims_with("sig", "ref", json!("refs/heads/evil"));
            let forged = forge(&json!({}), &evil, b"");
            let payload = forged.split('.').nth(1).unwrap().to_owned();
            format!("{}.{payload}.{}", parts[0], parts[2])
        },
        "signature",
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused_after_refresh() {
    let stranger = Signer::es256("stranger");
    let w = refusal(example(), |w| stranger.sign(&w.claims("kid")), "stranger").await;
    // The set was fetched for it (the first fetch), and still does not hold it.
    assert_eq!(w.jwks.fetches(), 1);
    w.stop().await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let none = |w: &World| {
        forge(
            &json!({"alg": "none", "typ": "JWT"}),
            &w.claims("none"),
            b"",
        )
    };
    refusal(example(), none, "none").await.stop().await;
}

#[tokio::test]
async fn hmac_is_refused_even_keyed_with_a_public_key() {
    // The classic confusion: HS256 "signed" with the issuer's public key as the secret.
    let hmac = |w: &World| {
        let secret = w.rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &w.claims("hmac"),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap()
    };
    refusal(example(), hmac, "HMAC").await.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let expired = |w: &World| {
        let mut c = w.claims("exp");
        c["iat"] = json!(w.now() - 400);
        c["nbf"] = json!(w.now() - 400);
        c["exp"] = json!(w.now() - 61);
        w.rsa.sign(&c)
    };
    refusal(example(), expired, "expired").await.stop().await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let early = |w: &World| signed_with(w, "nbf", json!(w.now() + 61));
    refusal(example(), early, "not valid yet")
        .await
        .stop()
        .await;
}

#[tokio::test]
async fn a_token_issued_too_long_ago_is_refused() {
    let old = |w: &World| {
        let mut c = w.claims("old");
        c["iat"] = json!(w.now() - 11 * 60);
        c["nbf"] = json!(w.now() - 11 * 60);
        w.rsa.sign(&c)
    };
    refusal(example(), old, "too long ago").await.stop().await;
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let other = |w: &World| signed_with(w, "iss", json!("https://gitlab.example"));
    refusal(example(), other, "issuer").await.stop().await;
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let aws = |w: &World| signed_with(w, "aud", json!("sts.amazonaws.com"));
    refusal(example(), aws, "audience").await.stop().await;
}

#[tokio::test]
async fn claims_no_workload_pins_are_refused() {
    // A fork of the repository, with the same environment name.
    let fork = |w: &World| signed_with(w, "repository", json!("mallory/payments"));
    refusal(example(), fork, "no workload pins")
        .await
        .stop()
        .await;
}

#[tokio::test]
async fn claims_two_workloads_pin_are_refused_as_ambiguous() {
    let lax = format!(
        "[[identity]]\nid = \"ci-lax\"\nkind = \"workload\"\nowner = \"dave\"\ngroups = [\"ci\"]\noidc = {{ issuer = \"{ISSUER}\", subject = \"{SUBJECT}\" }}\n"
    );
    let bundle = with_catalog(&example(), &lax);
    let good = |w: &World| w.rsa.sign(&w.claims("two"));
    refusal(bundle, good, "(`ci-deploy`, `ci-lax`)")
        .await
        .stop()
        .await;
}

#[tokio::test]
async fn a_disabled_workload_is_refused() {
    let bundle = warden_policy::testing::with_disabled(&example(), &["ci-deploy"]);
    let good = |w: &World| w.rsa.sign(&w.claims("off"));
    refusal(bundle, good, "disabled").await.stop().await;
}

#[tokio::test]
async fn a_workload_whose_owner_is_gone_is_refused() {
    let bundle = warden_policy::testing::with_disabled(&example(), &["dave"]);
    let good = |w: &World| w.rsa.sign(&w.claims("orphan"));
    refusal(bundle, good, "owner").await.stop().await;
}

#[tokio::test]
async fn a_denial_is_403_with_the_decision() {
    let w = World::new(example(), None).await;
    let claims = w.claims_with("branch", "ref", json!("refs/heads/feature"));
    let a = w.ask(&w.rsa.sign(&claims), &read_cache()).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "denied");
    assert_eq!(a.body["decision"]["outcome"], "deny");
    assert!(a.text.contains("ci-main-only"), "{}", a.text);
    w.stop().await;
}

#[tokio::test]
async fn a_role_without_consent_waits_for_the_owner_then_a_fresh_token_fetches_it() {
    let w = World::new(example(), None).await;
    let a = w
        .ask(
            &w.rsa.sign(&w.claims("pub-1")),
            &json!({"role": "events-broker.publish", "purpose": "release 4.2"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["decision"]["outcome"], "approval_required");
    let request = a.body["request"].as_str().unwrap().to_owned();
    let url = a.body["credential_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{PATH}/{request}"));

    // Before the owner answers, a fresh token sees it still pending.
    let pending =
        w.h.call(
            Method::GET,
            &url,
            Some(&w.ec.sign(&w.claims("pub-2"))),
            None,
        )
        .await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{}", pending.text);

    // The owner consents with their own token.
    let dave = w.h.token("dave", &["approve"]).await;
    let ok =
        w.h.post_json(
            &format!("/v1/requests/{request}/approve"),
            &dave,
            &json!({}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // The worker provisions the grant the approval made.
    let grant = ok.body["grant"]["id"].as_str().unwrap().to_owned();
    w.until(&grant, warden_model::GrantState::Active).await;

    let fetched =
        w.h.call(
            Method::GET,
            &url,
            Some(&w.ec.sign(&w.claims("pub-3"))),
            None,
        )
        .await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.text);
    assert_eq!(fetched.body["grant"]["state"], "active");

    // Once only.
    let again =
        w.h.call(
            Method::GET,
            &url,
            Some(&w.ec.sign(&w.claims("pub-4"))),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    w.stop().await;
}

#[tokio::test]
async fn api_callers_cannot_file_as_a_workload_token() {
    let w = World::new(example(), None).await;
    let dave = w.h.token("dave", &["intake"]).await;
    let broker = w.h.broker_token("dave", "oidc").await;
    for (token, body) in [
        (
            &dave,
            json!({"source": "oidc", "ticket": "stolen-jti", "requester": "dave", "role": "session-cache.read", "purpose": "x"}),
        ),
        (
            &dave,
            json!({"requester": "dave", "role": "session-cache.read", "purpose": "x", "oidc": {"ref": "refs/heads/main"}}),
        ),
        (
            &broker,
            json!({"source": "oidc", "ticket": "t", "requester": "ci-deploy", "role": "session-cache.read", "purpose": "x"}),
        ),
    ] {
        let a = w.h.post_json("/v1/requests", token, &body).await;
        common::error(&a, StatusCode::FORBIDDEN, "forbidden");
    }
    // A Warden token is not a workload token.
    let m = w
        .refused(&dave, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    assert!(m.contains("malformed") || m.contains("token"), "{m}");
    w.stop().await;
}

#[tokio::test]
async fn offboarding_the_owner_ends_the_workloads_grant_and_its_sign_in() {
    let w = World::new(example(), None).await;
    let a = w.ask(&w.rsa.sign(&w.claims("ob-1")), &read_cache()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let grant = a.body["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body["grant"]["state"], "active");

    // dave leaves: the bundle that disables him bars his workload too.
    let next = warden_policy::testing::record_only(&warden_policy::testing::with_disabled(
        &example(),
        &["dave"],
    ));
    w.h.engine.activate(next, "test").await.unwrap();
    w.until(&grant, warden_model::GrantState::Revoked).await;
    let events = w.h.engine.store().audit_after(0, 100_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "identity.offboarded" && e.data.to_string().contains("ci-deploy")),
        "no offboarding of ci-deploy in the trail"
    );
    let m = w
        .refused(
            &w.rsa.sign(&w.claims("ob-2")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    assert!(m.contains("owner"), "{m}");
    w.stop().await;
}
