//! Console sign-in records: a sign-in link is spent once (also by racing spenders) and not
//! after its expiry, a session reads back and ends once, an OIDC sign-in's state is taken
//! once and not after its expiry, and requests list by state and by person.

use warden_model::IdentityId;
use warden_store::{OidcLogin, SessionRecord};

use crate::support::*;

both! {
    async fn a_sign_in_link_is_spent_once_and_not_late(db) {
        let bob = IdentityId::parse("bob").unwrap();
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_login_link("sha256:link", &bob, at(0), at(600)).await.unwrap();
        tx.insert_login_link("sha256:late", &bob, at(0), at(600)).await.unwrap();
        tx.commit().await.unwrap();
        // Two spenders at once: exactly one gets the identity.
        let (a, b) = tokio::join!(
            async {
                let mut tx = db.store.begin().await.unwrap();
                let got = tx.spend_login_link("sha256:link", at(10)).await.unwrap();
                tx.commit().await.unwrap();
                got
            },
            async {
                let mut tx = db.store.begin().await.unwrap();
                let got = tx.spend_login_link("sha256:link", at(10)).await.unwrap();
                tx.commit().await.unwrap();
                got
            }
        );
        assert_eq!([a.clone(), b.clone()].iter().filter(|x| x.is_some()).count(), 1, "{a:?} {b:?}");
        assert_eq!(a.or(b), Some(bob.clone()));
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(tx.spend_login_link("sha256:late", at(600)).await.unwrap(), None, "spent at its expiry");
        assert_eq!(tx.spend_login_link("sha256:nope", at(1)).await.unwrap(), None);
        tx.commit().await.unwrap();
    }
}

both! {
    async fn a_session_reads_back_is_touched_and_ends_once(db) {
        let s = SessionRecord {
            hash: "sha256:s".into(),
            identity: IdentityId::parse("carol").unwrap(),
            method: "login_link".into(),
            csrf: "token".into(),
            created_at: at(0),
            seen_at: at(0),
            expires_at: at(3600),
            ended_at: None,
        };
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_session(&s).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(db.store.session_by_hash("sha256:s").await.unwrap(), Some(s.clone()));
        db.store.touch_session("sha256:s", at(60)).await.unwrap();
        // Never backwards.
        db.store.touch_session("sha256:s", at(30)).await.unwrap();
        assert_eq!(db.store.session_by_hash("sha256:s").await.unwrap().unwrap().seen_at, at(60));
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.end_session("sha256:s", at(70)).await.unwrap());
        assert!(!tx.end_session("sha256:s", at(80)).await.unwrap(), "ended twice");
        tx.commit().await.unwrap();
        assert_eq!(db.store.session_by_hash("sha256:s").await.unwrap().unwrap().ended_at, Some(at(70)));
        assert!(db.store.session_by_hash("sha256:other").await.unwrap().is_none());
    }
}

both! {
    async fn an_oidc_state_is_taken_once_and_not_late(db) {
        let login = |hash: &str| OidcLogin {
            state_hash: hash.into(),
            nonce: "n".into(),
            verifier: "v".into(),
            return_to: "/ui/inbox".into(),
            created_at: at(0),
            expires_at: at(600),
        };
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_oidc_login(&login("sha256:a")).await.unwrap();
        tx.insert_oidc_login(&login("sha256:b")).await.unwrap();
        tx.insert_oidc_login(&login("sha256:c")).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        let got = tx.spend_oidc_login("sha256:a", at(5)).await.unwrap().unwrap();
        assert_eq!((got.nonce.as_str(), got.verifier.as_str()), ("n", "v"));
        assert!(tx.spend_oidc_login("sha256:a", at(6)).await.unwrap().is_none(), "taken twice");
        assert!(tx.spend_oidc_login("sha256:b", at(600)).await.unwrap().is_none(), "taken late");
        assert_eq!(tx.purge_oidc_logins(at(601)).await.unwrap(), 1, "c is left to purge");
        tx.commit().await.unwrap();
    }
}

both! {
    async fn requests_list_by_state_and_by_person_newest_first(db) {
        let mut tx = db.store.begin().await.unwrap();
        let mut ids = Vec::new();
        for n in 0..3 {
            let mut r = request("api", &format!("L-{n}"));
            r.created_at = at(n);
            ids.push(r.id);
            assert!(tx.insert_request(&r).await.unwrap());
        }
        tx.commit().await.unwrap();
        let state = request("api", "x").state;
        let listed: Vec<_> = db.store.requests_in_state(state, 2).await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(listed, [ids[2], ids[1]]);
        let who = request("api", "x").requester;
        let mine: Vec<_> = db.store.requests_of(&who, 10).await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(mine, [ids[2], ids[1], ids[0]]);
        let nobody = IdentityId::parse("nobody").unwrap();
        assert!(db.store.requests_of(&nobody, 10).await.unwrap().is_empty());
    }
}
