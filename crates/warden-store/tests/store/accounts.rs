//! Accounts: the intent row survives a re-run, a credential is taken once, removal
//! clears what waits, and reconciliation sees live rows only.

use warden_store::NewAccount;

use crate::support::*;

both! {
    async fn credential_is_taken_once_and_cleared_on_removal(db) {
        let req = request("rt", "7");
        let g = grant(&req);
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.insert_request(&req).await.unwrap());
        tx.insert_grant(&g).await.unwrap();
        let a = NewAccount {
            grant_id: g.id,
            generation: 1,
            connector: "pg".into(),
            name: "warden_x_1".into(),
            holds: "[]".into(),
        };
        assert!(tx.insert_account(&a, at(1)).await.unwrap());
        // A re-run after a crash finds the intent and keeps it.
        assert!(!tx.insert_account(&a, at(2)).await.unwrap());
        tx.set_account_provisioned(g.id, 1, Some("sealed-1"), at(3)).await.unwrap();
        tx.commit().await.unwrap();

        let live = db.store.live_accounts("pg").await.unwrap();
        assert_eq!(live.len(), 1);
        // Reconciliation asks which of a connector's grants are active, in one query.
        assert!(db.store.active_grants_on("pg").await.unwrap().is_empty(), "still provisioning");
        let mut tx = db.store.begin().await.unwrap();
        let times = warden_store::GrantTimes { activated_at: Some(at(3)), expires_at: Some(at(3603)), revoked_at: None };
        assert!(tx.set_grant_state(g.id, warden_model::GrantState::Provisioning, warden_model::GrantState::Active, times, at(3)).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(db.store.active_grants_on("pg").await.unwrap().into_iter().collect::<Vec<_>>(), [g.id]);
        assert!(db.store.active_grants_on("redis").await.unwrap().is_empty());
        assert!(live[0].credential_waiting);
        assert_eq!(live[0].created_at, at(1));

        let mut tx = db.store.begin().await.unwrap();
        let taken = tx.take_credential(g.id, at(4)).await.unwrap().unwrap();
        assert_eq!((taken.generation, taken.name.as_str(), taken.sealed.as_str()), (1, "warden_x_1", "sealed-1"));
        assert!(tx.take_credential(g.id, at(5)).await.unwrap().is_none(), "taken twice");
        tx.commit().await.unwrap();

        // A rotation's newer generation is the one delivered next.
        let mut tx = db.store.begin().await.unwrap();
        let next = NewAccount { generation: 2, name: "warden_x_2".into(), ..a.clone() };
        tx.insert_account(&next, at(6)).await.unwrap();
        tx.set_account_provisioned(g.id, 2, Some("sealed-2"), at(6)).await.unwrap();
        tx.set_account_removed(g.id, 1, at(7)).await.unwrap();
        tx.commit().await.unwrap();
        let rows = db.store.accounts(g.id).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.removed_at.is_some()).collect::<Vec<_>>(), [true, false]);

        let mut tx = db.store.begin().await.unwrap();
        tx.set_account_removed(g.id, 2, at(8)).await.unwrap();
        assert!(tx.take_credential(g.id, at(9)).await.unwrap().is_none(), "removed account delivered");
        tx.commit().await.unwrap();
        assert!(db.store.live_accounts("pg").await.unwrap().is_empty());
        assert!(db.store.accounts(g.id).await.unwrap().iter().all(|r| !r.credential_waiting));
    }
}

both! {
    async fn itsm_marks_count_once_and_cursors_never_go_back(db) {
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.mark_itsm("rt", "delivery-1", at(1)).await.unwrap());
        assert!(!tx.mark_itsm("rt", "delivery-1", at(2)).await.unwrap(), "a repeat is new");
        assert!(tx.mark_itsm("jira", "delivery-1", at(2)).await.unwrap(), "marks are per adapter");
        tx.set_itsm_cursor("rt", at(50)).await.unwrap();
        tx.set_itsm_cursor("rt", at(40)).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.store.itsm_marked("rt", "delivery-1").await.unwrap());
        assert!(!db.store.itsm_marked("rt", "delivery-2").await.unwrap());
        assert_eq!(db.store.itsm_cursor("rt").await.unwrap(), Some(at(50)));
        assert_eq!(db.store.itsm_cursor("jira").await.unwrap(), None);
    }
}
