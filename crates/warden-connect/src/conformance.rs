//! The conformance suite every connector runs against its real target. A connector's
//! test supplies the connector and a [`Probe`] (how a client logs in with a minted
//! credential and uses the granted rights); [`run`] then checks the whole contract:
//! provisioning works and is idempotent, revocation ends the login **and** sessions
//! already open, revoking twice is once, rotation overlaps before the old generation
//! ends, and `observe` sees exactly Warden's accounts.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    reason = "a test suite: a failed check panics with what it saw"
)]

use async_trait::async_trait;
use uuid::Uuid;
use warden_model::{IdentityId, Timestamp};

use crate::{AccountName, Connector, Credential, Held, Prefix, Spec};

/// How a client of the target uses a credential, for the suite to check from outside.
#[async_trait]
pub trait Probe: Send + Sync {
    /// An open client session.
    type Session: Send;

    /// Logs in as `credential`; `Err` with the target's answer when refused.
    async fn connect(&self, credential: &Credential) -> Result<Self::Session, String>;

    /// Whether `session` can still use the granted rights (runs one command that needs
    /// them). A closed or killed session is not alive.
    async fn alive(&self, session: &mut Self::Session) -> bool;
}

/// The URL of test target `name` from `WARDEN_TEST_<NAME>_URL`, and giving up on a test
/// that cannot run here: the workspace's one rule for skipping (and for failing under CI).
pub use warden_model::testing::{service_url as target_url, skip};

/// What a suite run provisions with.
pub struct Setup {
    /// The connector's prefix.
    pub prefix: Prefix,
    /// Whose grant it is (membership targets need an existing entry for it).
    pub subject: IdentityId,
    /// A role's `grants` entries the probe's check command needs.
    pub grants: Vec<String>,
}

impl Setup {
    /// A spec for a fresh grant, generation 1, ending in an hour.
    pub fn spec(&self, now: Timestamp) -> Spec {
        self.spec_for(Uuid::now_v7(), 1, now)
    }

    /// The spec of generation `generation` of grant `grant`.
    pub fn spec_for(&self, grant: Uuid, generation: u32, now: Timestamp) -> Spec {
        Spec {
            account: AccountName::derive(&self.prefix, grant, generation),
            subject: self.subject.clone(),
            grants: self.grants.clone(),
            valid_until: now.plus(warden_model::Duration::from_seconds(3_600).unwrap()),
        }
    }
}

/// The instant the suite treats as now.
pub fn now() -> Timestamp {
    #[expect(
        clippy::disallowed_methods,
        reason = "a test suite against a real target"
    )]
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

async fn provision(c: &dyn Connector, spec: &Spec) -> Credential {
    c.provision(spec)
        .await
        .unwrap_or_else(|e| panic!("provision {}: {e}", spec.account))
        .unwrap_or_else(|| panic!("provision {} minted no credential", spec.account))
}

async fn observed(c: &dyn Connector) -> Vec<Held> {
    c.observe().await.unwrap_or_else(|e| panic!("observe: {e}"))
}

/// Runs every case of the contract for a connector that mints credentials.
pub async fn run<P: Probe>(c: &dyn Connector, probe: &P, setup: &Setup) {
    assert!(
        c.kind().mints_credential(),
        "use run_membership for {:?}",
        c.kind()
    );
    provisioned_credential_works(c, probe, setup).await;
    provisioning_twice_is_one_account(c, probe, setup).await;
    revocation_ends_login_and_open_sessions(c, probe, setup).await;
    revoking_twice_is_once(c, setup).await;
    rotation_overlaps_then_old_generation_ends(c, probe, setup).await;
    observe_sees_exactly_our_accounts(c, setup).await;
}

/// A minted credential logs in and can use the granted rights.
pub async fn provisioned_credential_works<P: Probe>(c: &dyn Connector, probe: &P, s: &Setup) {
    let spec = s.spec(now());
    let cred = provision(c, &spec).await;
    assert_eq!(cred.username, spec.account.as_str());
    let mut session = probe
        .connect(&cred)
        .await
        .unwrap_or_else(|e| panic!("login as {} refused: {e}", spec.account));
    assert!(
        probe.alive(&mut session).await,
        "fresh session cannot use its rights"
    );
    c.revoke(&spec).await.unwrap();
}

/// Provisioning an existing grant again keeps one account and the new credential works
/// (the old one is lost with whoever asked first).
pub async fn provisioning_twice_is_one_account<P: Probe>(c: &dyn Connector, probe: &P, s: &Setup) {
    let spec = s.spec(now());
    let _first = provision(c, &spec).await;
    let second = provision(c, &spec).await;
    let mut session = probe
        .connect(&second)
        .await
        .expect("second credential works");
    assert!(probe.alive(&mut session).await);
    let ours: Vec<_> = observed(c)
        .await
        .into_iter()
        .filter(|h| c.holds(&spec).contains(h))
        .collect();
    assert_eq!(ours, c.holds(&spec), "one account after provisioning twice");
    c.revoke(&spec).await.unwrap();
}

/// After revocation the credential can no longer log in and a session opened before the
/// revocation is gone (the trap every target has: dropping an account leaves sessions).
pub async fn revocation_ends_login_and_open_sessions<P: Probe>(
    c: &dyn Connector,
    probe: &P,
    s: &Setup,
) {
    let spec = s.spec(now());
    let cred = provision(c, &spec).await;
    let mut open = probe.connect(&cred).await.expect("login before revocation");
    assert!(probe.alive(&mut open).await);
    c.revoke(&spec)
        .await
        .unwrap_or_else(|e| panic!("revoke {}: {e}", spec.account));
    assert!(
        !probe.alive(&mut open).await,
        "a session opened before revocation still works after it"
    );
    assert!(
        probe.connect(&cred).await.is_err(),
        "the revoked credential still logs in"
    );
    let left: Vec<_> = observed(c)
        .await
        .into_iter()
        .filter(|h| c.holds(&spec).contains(h))
        .collect();
    assert!(
        left.is_empty(),
        "observe still sees {left:?} after revocation"
    );
}

/// Revoking what is already revoked succeeds and changes nothing.
pub async fn revoking_twice_is_once(c: &dyn Connector, s: &Setup) {
    let spec = s.spec(now());
    provision(c, &spec).await;
    c.revoke(&spec).await.unwrap();
    c.revoke(&spec)
        .await
        .unwrap_or_else(|e| panic!("second revoke failed: {e}"));
    let never = s.spec(now());
    c.revoke(&never)
        .await
        .unwrap_or_else(|e| panic!("revoking a never-provisioned grant failed: {e}"));
}

/// Rotation: the next generation works while the old one still does; removing the old
/// generation ends its sessions and leaves the new one working.
pub async fn rotation_overlaps_then_old_generation_ends<P: Probe>(
    c: &dyn Connector,
    probe: &P,
    s: &Setup,
) {
    let grant = Uuid::now_v7();
    let at = now();
    let g1 = s.spec_for(grant, 1, at);
    let g2 = s.spec_for(grant, 2, at);
    let old = provision(c, &g1).await;
    let mut old_session = probe.connect(&old).await.expect("generation 1 logs in");
    let new = c
        .rotate(&g1, &g2)
        .await
        .unwrap_or_else(|e| panic!("rotate: {e}"))
        .expect("rotation mints a credential");
    assert_ne!(
        new.password(),
        old.password(),
        "rotation reused the password"
    );
    let mut new_session = probe.connect(&new).await.expect("generation 2 logs in");
    assert!(
        probe.alive(&mut old_session).await,
        "old generation ended before switch-over"
    );
    c.revoke(&g1).await.unwrap();
    assert!(
        !probe.alive(&mut old_session).await,
        "old generation's session survived"
    );
    assert!(
        probe.connect(&old).await.is_err(),
        "old generation still logs in"
    );
    assert!(
        probe.alive(&mut new_session).await,
        "new generation died with the old"
    );
    c.revoke(&g2).await.unwrap();
}

/// `observe` lists provisioned accounts, only ones with the prefix, and drops them once
/// revoked.
pub async fn observe_sees_exactly_our_accounts(c: &dyn Connector, s: &Setup) {
    let a = s.spec(now());
    let b = s.spec(now());
    provision(c, &a).await;
    provision(c, &b).await;
    let seen = observed(c).await;
    for spec in [&a, &b] {
        for h in c.holds(spec) {
            assert!(seen.contains(&h), "observe misses {h}");
        }
    }
    for h in &seen {
        if let Held::Account(name) = h {
            assert!(
                s.prefix.owns(name),
                "observe reports foreign account `{name}`"
            );
        }
    }
    c.revoke(&a).await.unwrap();
    c.revoke(&b).await.unwrap();
    let seen = observed(c).await;
    assert!(c.holds(&a).iter().all(|h| !seen.contains(h)));
}

/// Runs the contract for a membership target (no credential minted): provisioning adds
/// exactly what `holds` says, twice is once, revocation removes it and twice is once.
pub async fn run_membership(c: &dyn Connector, s: &Setup) {
    let spec = s.spec(now());
    let minted = c
        .provision(&spec)
        .await
        .unwrap_or_else(|e| panic!("provision: {e}"));
    assert!(minted.is_none(), "a membership target minted a credential");
    c.provision(&spec).await.expect("provisioning twice");
    let seen = observed(c).await;
    for h in c.holds(&spec) {
        assert_eq!(seen.iter().filter(|x| **x == h).count(), 1, "{h} once");
    }
    c.revoke(&spec).await.expect("revoke");
    c.revoke(&spec).await.expect("revoking twice");
    let seen = observed(c).await;
    assert!(
        c.holds(&spec).iter().all(|h| !seen.contains(h)),
        "membership left after revoke"
    );
}
