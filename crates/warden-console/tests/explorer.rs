//! The explorer: each role of a system decided for an identity without filing anything;
//! everyone explores themselves, administrators and auditors anyone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::StatusCode;
use common::Harness;
use warden_model::IdentityId;

/// The table row of role `role` on `page`.
fn row<'p>(page: &'p str, role: &str) -> &'p str {
    let start = page
        .find(&format!("<th scope=\"row\">{role}</th>"))
        .unwrap_or_else(|| panic!("no row for {role}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[tokio::test]
async fn alice_sees_what_she_can_get_on_a_system_and_nothing_is_filed() {
    let h = Harness::new().await;
    let mut alice = h.sign_in("alice").await;

    // Without a system: the form, with only herself to explore.
    let form = alice.get("/ui/explorer").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.text
            .contains("<option value=\"alice\" selected>alice</option>")
    );
    assert!(
        !form.text.contains("<option value=\"bob\""),
        "{}",
        form.text
    );
    assert!(
        form.text.contains("<option value=\"payments-db\">"),
        "{}",
        form.text
    );

    let page = alice.get("/ui/explorer?system=payments-db").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("What alice can get on payments-db"));
    let read = row(&page.text, "payments-db.read");
    // One approval by the role, one more by the second check of a high system.
    assert!(read.contains("Needs 2 approvals"), "{read}");
    assert!(read.contains("2 from payments-leads"), "{read}");
    assert!(
        read.contains("<span class=\"code\">second_check</span>"),
        "{read}"
    );
    assert!(read.contains("<td>2h</td>"), "{read}");
    let admin = row(&page.text, "payments-db.admin");
    // Asked for by role, admin is not hers: denied, and the reason names the policy step.
    assert!(admin.contains("Denied"), "{admin}");
    assert!(
        admin.contains("<span class=\"code\">not_permitted</span>"),
        "{admin}"
    );
    let explain = row(&page.text, "payments-db.explain");
    assert!(explain.contains("Denied"), "{explain}");
    // Every role of the system has its row.
    assert!(
        page.text
            .contains("<th scope=\"row\">payments-db.refund-approve</th>")
    );
    let cache = alice.get("/ui/explorer?system=session-cache").await;
    let read = row(&cache.text, "session-cache.read");
    assert!(read.contains("Granted without approval"), "{read}");
    assert!(
        read.contains("<td>4h</td>") && read.contains("<td>none</td>"),
        "{read}"
    );

    // Nothing was filed, nothing stored.
    assert!(
        h.engine
            .requests_of(&IdentityId::parse("alice").unwrap(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Someone else's access is not hers to explore, by any spelling.
    for q in [
        "identity=bob&system=payments-db",
        "identity=Bob!&system=payments-db",
    ] {
        let refused = alice.get(&format!("/ui/explorer?{q}")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{q}");
        assert!(!refused.text.contains("payments-db.read"), "{q}");
    }
    // A system the catalog does not have is named.
    let bad = alice.get("/ui/explorer?system=mainframe").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("`system`"), "{}", bad.text);
}

#[tokio::test]
async fn auditors_and_admins_explore_anyone() {
    let h = Harness::new().await;
    for who in ["grace", "erin"] {
        let mut b = h.sign_in(who).await;
        let page = b
            .get("/ui/explorer?identity=frank&system=session-cache")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{who}: {}", page.text);
        assert!(page.text.contains("<option value=\"bob\">bob</option>"));
        // frank left the company: every role is denied, and the reason says why.
        let r = row(&page.text, "session-cache.read");
        assert!(r.contains("Denied"), "{who}: {r}");
        let page = b
            .get("/ui/explorer?identity=alice&system=payments-db")
            .await;
        assert!(row(&page.text, "payments-db.read").contains("Needs 2 approvals"));
        let bad = b
            .get("/ui/explorer?identity=Not%20Valid&system=payments-db")
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{who}");
        assert!(bad.text.contains("`identity`"), "{}", bad.text);
    }
}
