//! Grants: transitions with their times, one grant per request, and the indexed queries.

use warden_model::{ActiveGrant, GrantState, RoleId, SystemId};
use warden_store::{GrantFilter, GrantTimes, StoreError};

use crate::support::*;

both! {
    async fn grant_transitions_record_their_times(db) {
        let req = request("jira", "SEC-1");
        let g = grant(&req);
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.insert_request(&req).await.unwrap());
        tx.insert_grant(&g).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(db.store.grant(g.id).await.unwrap(), Some(g.clone()));
        assert_eq!(db.store.grant_by_request(req.id).await.unwrap(), Some(g.clone()));

        let mut tx = db.store.begin().await.unwrap();
        let activated = GrantTimes { activated_at: Some(at(10)), expires_at: Some(at(3610)), revoked_at: None };
        assert!(tx.set_grant_state(g.id, GrantState::Provisioning, GrantState::Active, activated, at(10)).await.unwrap());
        // Stale: the grant is no longer provisioning.
        assert!(!tx.set_grant_state(g.id, GrantState::Provisioning, GrantState::Failed, GrantTimes::default(), at(11)).await.unwrap());
        assert!(tx.set_grant_state(g.id, GrantState::Active, GrantState::Revoking, GrantTimes::default(), at(3610)).await.unwrap());
        let revoked = GrantTimes { revoked_at: Some(at(3620)), ..GrantTimes::default() };
        assert!(tx.set_grant_state(g.id, GrantState::Revoking, GrantState::Revoked, revoked, at(3620)).await.unwrap());
        tx.commit().await.unwrap();

        let stored = db.store.grant(g.id).await.unwrap().unwrap();
        assert_eq!(stored.state, GrantState::Revoked);
        // Times not given on a later transition are kept.
        assert_eq!(stored.activated_at, Some(at(10)));
        assert_eq!(stored.expires_at, Some(at(3610)));
        assert_eq!(stored.revoked_at, Some(at(3620)));
        assert_eq!(stored.updated_at, at(3620));
    }
}

both! {
    async fn second_grant_for_a_request_is_a_conflict(db) {
        let req = request("jira", "SEC-1");
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.insert_request(&req).await.unwrap());
        tx.insert_grant(&grant(&req)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.store.begin().await.unwrap();
        let err = tx.insert_grant(&grant(&req)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    }
}

both! {
    async fn grant_queries_filter_count_and_find_overdue(db) {
        // bob: one active (expires at 100s), one provisioning; carol: one revoking (expired
        // at 50s), one revoked.
        let mut tx = db.store.begin().await.unwrap();
        let mut ids = Vec::new();
        for (i, (subject, state, expires)) in [
            ("bob", GrantState::Active, Some(100)),
            ("bob", GrantState::Provisioning, None),
            ("carol", GrantState::Revoking, Some(50)),
            ("carol", GrantState::Revoked, Some(40)),
        ]
        .into_iter()
        .enumerate()
        {
            let mut req = request("jira", &format!("SEC-{i}"));
            req.subject = identity(subject);
            let mut g = grant(&req);
            g.state = state;
            g.expires_at = expires.map(at);
            g.created_at = at(i64::try_from(i).unwrap());
            g.role = RoleId::parse(&format!("payments-db.r{i}")).unwrap();
            assert!(tx.insert_request(&req).await.unwrap());
            tx.insert_grant(&g).await.unwrap();
            ids.push(g.id);
        }
        tx.commit().await.unwrap();

        let all = GrantFilter { subject: None, system: None, state: None, limit: 10 };
        let listed: Vec<_> = db.store.grants(&all).await.unwrap().into_iter().map(|g| g.id).collect();
        assert_eq!(listed, ids.iter().rev().copied().collect::<Vec<_>>(), "newest first");
        let bobs = GrantFilter { subject: Some(identity("bob")), ..all.clone() };
        assert_eq!(db.store.grants(&bobs).await.unwrap().len(), 2);
        let revoking = GrantFilter { state: Some(GrantState::Revoking), ..all.clone() };
        assert_eq!(db.store.grants(&revoking).await.unwrap().into_iter().map(|g| g.id).collect::<Vec<_>>(), vec![ids[2]]);
        let elsewhere = GrantFilter { system: Some(SystemId::parse("crm").unwrap()), ..all.clone() };
        assert!(db.store.grants(&elsewhere).await.unwrap().is_empty());
        assert_eq!(db.store.grants(&GrantFilter { limit: 1, ..all }).await.unwrap().len(), 1);

        let active = db.store.active_grants(&identity("bob"), at(10)).await.unwrap();
        assert_eq!(active, vec![
            ActiveGrant { role: RoleId::parse("payments-db.r0").unwrap(), expires_at: at(100) },
            // Provisioning: ends at the latest `now` plus its duration.
            ActiveGrant { role: RoleId::parse("payments-db.r1").unwrap(), expires_at: at(10 + 3600) },
        ]);
        assert!(db.store.active_grants(&identity("carol"), at(10)).await.unwrap().is_empty());

        let mut counts = db.store.grant_counts().await.unwrap();
        counts.sort_by_key(|(s, _)| s.as_str());
        assert_eq!(counts, vec![
            (GrantState::Active, 1),
            (GrantState::Provisioning, 1),
            (GrantState::Revoked, 1),
            (GrantState::Revoking, 1),
        ]);

        assert_eq!(db.store.overdue_grants(at(10)).await.unwrap(), 0);
        assert_eq!(db.store.overdue_grants(at(60)).await.unwrap(), 1, "revoking past its end");
        assert_eq!(db.store.overdue_grants(at(101)).await.unwrap(), 2, "and active past its end");
    }
}

both! {
    async fn a_grant_another_process_writes_is_seen_by_the_next_read(db) {
        // The first read opens this store's connections (on SQLite, the ones it reads on
        // its own thread); what another process commits after it is in the next read.
        assert!(db.store.active_grants(&identity("bob"), at(10)).await.unwrap().is_empty());
        let cli = db.another_store().await;
        let req = request("jira", "SEC-9");
        let mut tx = cli.begin().await.unwrap();
        assert!(tx.insert_request(&req).await.unwrap());
        tx.insert_grant(&grant(&req)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            db.store.active_grants(&identity("bob"), at(10)).await.unwrap(),
            vec![ActiveGrant { role: RoleId::parse("payments-db.read").unwrap(), expires_at: at(10 + 3600) }],
        );
        let mut tx = cli.begin().await.unwrap();
        let gone = GrantTimes { revoked_at: Some(at(20)), ..GrantTimes::default() };
        let g = cli.grant_by_request(req.id).await.unwrap().unwrap();
        assert!(tx.set_grant_state(g.id, GrantState::Provisioning, GrantState::Failed, gone, at(20)).await.unwrap());
        tx.commit().await.unwrap();
        assert!(db.store.active_grants(&identity("bob"), at(20)).await.unwrap().is_empty());
    }
}
