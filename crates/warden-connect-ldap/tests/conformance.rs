//! The LDAP connector against a real directory (`WARDEN_TEST_LDAP_URL`, set up by
//! `scripts/services.d/ldap.sh` with the entries of `scripts/ldap/seed.ldif`): the shared
//! membership suite, hostile subject ids, groups outside `groups_base`, and what a user
//! bound with their own password sees of their groups.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::{BTreeMap, HashSet};

use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};
use secrecy::SecretString;
use uuid::Uuid;
use warden_connect::conformance::{Setup, now, run_membership, target_url};
use warden_connect::{ConnectError, Connector, Held, Prefix, Settings};
use warden_connect_ldap::{LdapConnector, connect};
use warden_model::IdentityId;

const ADMIN: &str = "cn=admin,dc=warden,dc=test";
const GROUPS: &str = "ou=groups,dc=warden,dc=test";
const ALICE: &str = "uid=alice,ou=people,dc=warden,dc=test";
const ALICE_PASSWORD: &str = "alice-test-password";
const TRAP: &str = "uid=a,ou=x,ou=people,dc=warden,dc=test";

fn settings(url: &str) -> Settings {
    Settings {
        name: "directory".into(),
        url: SecretString::from(url.to_owned()),
        prefix: Prefix::default(),
        options: BTreeMap::from([
            (
                "users".into(),
                "uid={subject},ou=people,dc=warden,dc=test".into(),
            ),
            ("groups_base".into(), GROUPS.into()),
        ]),
    }
}

async fn connector(url: &str) -> LdapConnector {
    connect(&settings(url)).await.unwrap()
}

/// `ldap://host:port` and the admin's password from the test URL.
fn server_and_password(url: &str) -> (String, String) {
    let rest = url.strip_prefix("ldap://").unwrap();
    let (userinfo, host) = rest.rsplit_once('@').unwrap();
    let (_, pw) = userinfo.split_once(':').unwrap();
    (format!("ldap://{host}"), pw.to_owned())
}

async fn bind(url: &str, dn: &str, pw: &str) -> Ldap {
    let (server, _) = server_and_password(url);
    let (conn, mut ldap) = LdapConnAsync::new(&server).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dn, pw).await.unwrap().success().unwrap();
    ldap
}

async fn admin(url: &str) -> Ldap {
    let (_, pw) = server_and_password(url);
    bind(url, ADMIN, &pw).await
}

/// A new group of this test's own under `groups_base`, holding the placeholder and
/// `members`, so that tests running at once never share a group.
async fn fresh_group(ldap: &mut Ldap, members: &[&str]) -> String {
    let cn = format!("t-{}", Uuid::now_v7().simple());
    let dn = format!("cn={cn},{GROUPS}");
    let mut values: HashSet<&str> = members.iter().copied().collect();
    if values.is_empty() {
        values.insert(ADMIN);
    }
    ldap.add(
        &dn,
        vec![
            ("objectClass", HashSet::from(["groupOfNames"])),
            ("cn", HashSet::from([cn.as_str()])),
            ("member", values),
        ],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    dn
}

async fn drop_group(ldap: &mut Ldap, dn: &str) {
    ldap.delete(dn).await.unwrap().success().unwrap();
}

/// The DNs of the groups under `ou=groups` that list `member`, as the bound user sees them.
async fn groups_of(ldap: &mut Ldap, member: &str) -> Vec<String> {
    let filter = format!("(member={})", ldap3::ldap_escape(member));
    let (entries, _) = ldap
        .search(GROUPS, Scope::Subtree, &filter, vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn)
        .collect()
}

fn membership(group: &str, member: &str) -> Held {
    Held::Membership {
        group: group.to_owned(),
        member: member.to_owned(),
    }
}

#[tokio::test]
async fn conformance_suite_passes_on_membership() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    let (g1, g2) = (
        fresh_group(&mut admin, &[]).await,
        fresh_group(&mut admin, &[]).await,
    );
    let setup = Setup {
        prefix: Prefix::default(),
        subject: IdentityId::parse("bob").unwrap(),
        grants: vec![g1.clone(), g2.clone()],
    };
    c.check_grants(&setup.grants).unwrap();
    run_membership(&c, &setup).await;
    drop_group(&mut admin, &g1).await;
    drop_group(&mut admin, &g2).await;
}

#[tokio::test]
async fn alice_bound_as_herself_sees_her_membership_come_and_go() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    let group = fresh_group(&mut admin, &[]).await;
    let mut alice = bind(&url, ALICE, ALICE_PASSWORD).await;
    assert!(!groups_of(&mut alice, ALICE).await.contains(&group));

    let setup = Setup {
        prefix: Prefix::default(),
        subject: IdentityId::parse("alice").unwrap(),
        grants: vec![group.clone()],
    };
    let spec = setup.spec(now());
    assert_eq!(c.holds(&spec), vec![membership(&group, ALICE)]);
    assert!(c.provision(&spec).await.unwrap().is_none());
    assert!(groups_of(&mut alice, ALICE).await.contains(&group));
    assert!(
        c.observe()
            .await
            .unwrap()
            .contains(&membership(&group, ALICE))
    );

    c.revoke(&spec).await.unwrap();
    assert!(!groups_of(&mut alice, ALICE).await.contains(&group));
    assert!(
        !c.observe()
            .await
            .unwrap()
            .contains(&membership(&group, ALICE))
    );
    drop_group(&mut admin, &group).await;
}

#[tokio::test]
async fn hostile_subject_ids_are_escaped_and_name_no_other_entry() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    // The trap is real: spliced in raw, `a,ou=x` would name this entry.
    let (trap, _) = admin
        .search(TRAP, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(trap.len(), 1, "the seeded trap entry is missing");
    assert_eq!(
        format!("uid={},ou=people,dc=warden,dc=test", "a,ou=x"),
        TRAP
    );

    assert_eq!(c.entry_of("alice").await.unwrap(), ALICE);
    // (Not `" alice"`: it is one escaped value too, but `uid` matching ignores leading and
    // trailing spaces as it ignores case, so the directory itself takes it for `alice`.)
    for hostile in [
        "a,ou=x",
        "*",
        ")(uid=*",
        "\0",
        "alice,ou=people",
        "alice+cn=x",
        "a\\",
    ] {
        match c.entry_of(hostile).await {
            Err(ConnectError::Permanent(msg)) => {
                assert!(msg.contains("has no entry"), "{hostile:?}: {msg}");
            }
            other => panic!("{hostile:?} named an entry or failed oddly: {other:?}"),
        }
    }

    // Hostile member values in a removal reach the directory as one escaped value: the
    // removal succeeds (nothing matched) and the real member stays.
    let group = fresh_group(&mut admin, &[ADMIN, ALICE]).await;
    for member in [
        "uid=\\2a,ou=people,dc=warden,dc=test",
        "uid=)(uid\\3d*,ou=people,dc=warden,dc=test",
        "uid=\\00,ou=people,dc=warden,dc=test",
    ] {
        c.remove(&membership(&group, member)).await.unwrap();
        assert!(
            groups_of(&mut admin, ALICE).await.contains(&group),
            "{member} removed alice"
        );
    }
    drop_group(&mut admin, &group).await;
}

#[tokio::test]
async fn groups_outside_groups_base_are_refused_when_the_bundle_loads() {
    // Checked before any connection: no directory needed.
    let c = connector("ldap://cn=admin,dc=warden,dc=test:pw@127.0.0.1:9").await;
    c.check_grants(&[format!("cn=payments,{GROUPS}")]).unwrap();
    for outside in [
        "cn=outside,dc=warden,dc=test",
        "ou=groups,dc=warden,dc=test",
        "cn=x\\,ou=groups,dc=warden,dc=test",
        "cn=payments,ou=groups,dc=warden,dc=test,dc=evil",
        "cn=payments,ou=groups,dc=other,dc=test",
    ] {
        let e = c.check_grants(&[outside.to_owned()]).unwrap_err();
        assert!(matches!(e, ConnectError::Config(_)), "{outside}: {e}");
        assert!(e.to_string().contains(outside), "{e}");
    }
}

#[tokio::test]
async fn groups_outside_groups_base_are_never_touched() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    let outside = "cn=outside,dc=warden,dc=test";
    let setup = Setup {
        prefix: Prefix::default(),
        subject: IdentityId::parse("alice").unwrap(),
        grants: vec![outside.to_owned()],
    };
    let e = c.provision(&setup.spec(now())).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    assert!(e.to_string().contains("outside `groups_base`"), "{e}");
    let e = c.remove(&membership(outside, ADMIN)).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    let (members, _) = admin
        .search(outside, Scope::Base, "(objectClass=*)", vec!["member"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let members = &SearchEntry::construct(members.into_iter().next().unwrap()).attrs["member"];
    assert_eq!(
        members,
        &vec![ADMIN.to_owned()],
        "the outside group changed"
    );
    assert!(
        c.observe()
            .await
            .unwrap()
            .iter()
            .all(|h| !h.to_string().contains(outside))
    );
}

#[tokio::test]
async fn a_subject_without_an_entry_is_a_permanent_error_naming_it() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    let group = fresh_group(&mut admin, &[]).await;
    let subject = format!("nobody-{}", Uuid::now_v7().simple());
    let setup = Setup {
        prefix: Prefix::default(),
        subject: IdentityId::parse(&subject).unwrap(),
        grants: vec![group.clone()],
    };
    let e = c.provision(&setup.spec(now())).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    assert!(e.to_string().contains(&subject), "{e}");
    drop_group(&mut admin, &group).await;
}

#[tokio::test]
async fn the_placeholder_is_never_reported_nor_removed_and_a_last_member_is_explained() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let c = connector(&url).await;
    let mut admin = admin(&url).await;
    let seen = c.observe().await.unwrap();
    assert!(
        seen.iter()
            .all(|h| !matches!(h, Held::Membership { member, .. } if member == ADMIN)),
        "observe reports the placeholder"
    );
    let group = fresh_group(&mut admin, &[ALICE]).await;
    let e = c.remove(&membership(&group, ADMIN)).await.unwrap_err();
    assert!(e.to_string().contains("placeholder"), "{e}");
    // A group whose only member is the subject: the schema refuses an empty groupOfNames.
    let e = c.remove(&membership(&group, ALICE)).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    assert!(e.to_string().contains("without a member"), "{e}");
    drop_group(&mut admin, &group).await;
}

#[tokio::test]
async fn a_wrong_admin_password_is_permanent_and_never_echoed() {
    let Some(url) = target_url("ldap") else {
        return;
    };
    let (server, _) = server_and_password(&url);
    let host = server.strip_prefix("ldap://").unwrap();
    let c = connector(&format!("ldap://{ADMIN}:not-the-password-x9@{host}")).await;
    let e = c.observe().await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    assert!(e.to_string().contains("invalid credentials"), "{e}");
    assert!(!e.to_string().contains("not-the-password-x9"), "{e}");
    assert!(!format!("{c:?}").contains("not-the-password-x9"));
}

#[tokio::test]
async fn an_unreachable_directory_is_transient() {
    // Port 9 (discard) on loopback has no listener here: the connection is refused.
    let c = connector("ldap://cn=admin,dc=warden,dc=test:pw@127.0.0.1:9").await;
    let e = c.observe().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(!e.to_string().contains(":pw@"), "{e}");
}
