//! The audit chain: appends link up, and tampering of any kind is found at its first seq.

use warden_store::{AuditReport, GENESIS_HASH, NewAuditEvent, Store};

use crate::support::*;

async fn append(store: &Store, n: u64) {
    let mut tx = store.begin().await.unwrap();
    for i in 1..=n {
        tx.append_audit(&event(i)).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn broken_at(report: &AuditReport) -> Option<u64> {
    report.first_broken.as_ref().map(|b| b.seq)
}

both! {
    async fn audit_chain_verifies_after_many_appends(db) {
        // More than one verification batch.
        append(&db.store, 1100).await;
        append(&db.store, 5).await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(report, AuditReport { checked: 1105, first_broken: None });

        let first = db.store.audit_after(0, 2).await.unwrap();
        assert_eq!(first[0].seq, 1);
        assert_eq!(first[0].prev_hash, GENESIS_HASH);
        assert_eq!(first[1].prev_hash, first[0].hash);
        let tail = db.store.audit_after(1100, 10).await.unwrap();
        assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1101, 1102, 1103, 1104, 1105]);
        assert_eq!(tail[0].data, event(1).data);
    }
}

both! {
    async fn concurrent_appenders_keep_one_chain(db) {
        let other = db.another_store().await;
        let a = tokio::spawn({
            let store = db.store.clone();
            async move { for _ in 0..40 { append(&store, 2).await } }
        });
        let b = tokio::spawn(async move { for _ in 0..40 { append(&other, 2).await } });
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!(db.store.verify_audit().await.unwrap(), AuditReport { checked: 160, first_broken: None });
    }
}

both! {
    async fn altered_audit_event_is_found_at_its_seq(db) {
        append(&db.store, 10).await;
        db.raw("UPDATE audit_events SET data = '{\"n\":4,\"forged\":true}' WHERE seq = 4").await;
        db.raw("UPDATE audit_events SET actor = 'mallory' WHERE seq = 8").await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(broken_at(&report), Some(4), "{report:?}");
        assert_eq!(report.checked, 3);
    }
}

both! {
    async fn deleted_audit_event_is_found_at_the_missing_seq(db) {
        append(&db.store, 10).await;
        db.raw("DELETE FROM audit_events WHERE seq = 5").await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(broken_at(&report), Some(5), "{report:?}");
        assert!(report.first_broken.unwrap().reason.contains("missing"));
    }
}

both! {
    async fn deleted_last_audit_event_is_found_by_the_head(db) {
        append(&db.store, 10).await;
        db.raw("DELETE FROM audit_events WHERE seq = 10").await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(broken_at(&report), Some(10), "{report:?}");
        assert_eq!(report.checked, 9);
    }
}

both! {
    async fn reordered_audit_events_are_found_at_the_first_moved_seq(db) {
        append(&db.store, 10).await;
        db.raw(
            "UPDATE audit_events SET seq = -1 WHERE seq = 3; \
             UPDATE audit_events SET seq = 3 WHERE seq = 7; \
             UPDATE audit_events SET seq = 7 WHERE seq = -1;",
        )
        .await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(broken_at(&report), Some(3), "{report:?}");
        assert_eq!(report.checked, 2);
    }
}

both! {
    async fn rehashed_forgery_is_found_where_the_links_break(db) {
        // Recomputing one event's hash after altering it still breaks the next link.
        append(&db.store, 6).await;
        db.raw("UPDATE audit_events SET hash = 'sha256:forged' WHERE seq = 2").await;
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!(broken_at(&report), Some(2), "{report:?}");
    }
}

both! {
    async fn queued_events_are_appended_at_commit_in_order_after_direct_ones(db) {
        // More than one INSERT's worth of queued events, around a direct append.
        let mut tx = db.store.begin().await.unwrap();
        for i in 1..=300 {
            tx.queue_audit(event(i));
        }
        // A direct append first appends what was queued before it.
        assert_eq!(tx.append_audit(&event(301)).await.unwrap().seq, 301);
        for i in 302..=600 {
            tx.queue_audit(event(i));
        }
        // Nothing is visible before the commit.
        assert!(db.store.audit_after(0, 10).await.unwrap().is_empty());
        tx.commit().await.unwrap();
        let stored = db.store.audit_after(0, 1_000).await.unwrap();
        let ns: Vec<u64> = stored.iter().map(|e| e.data["n"].as_u64().unwrap()).collect();
        assert_eq!(ns, (1..=600).collect::<Vec<_>>());
        assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=600).collect::<Vec<_>>());
        assert_eq!(db.store.verify_audit().await.unwrap(), AuditReport { checked: 600, first_broken: None });
        assert_eq!(db.store.audit_head().await.unwrap(), (600, stored[599].hash.clone()));
        // The next transaction continues the chain from the head the commit wrote.
        append(&db.store, 1).await;
        assert_eq!(db.store.verify_audit().await.unwrap(), AuditReport { checked: 601, first_broken: None });
    }
}

both! {
    async fn queued_events_of_a_rolled_back_transaction_leave_nothing(db) {
        append(&db.store, 2).await;
        {
            let mut tx = db.store.begin().await.unwrap();
            tx.queue_audit(event(3));
            tx.append_audit(&event(4)).await.unwrap();
            tx.queue_audit(event(5));
        }
        assert_eq!(db.store.audit_head().await.unwrap().0, 2);
        append(&db.store, 1).await;
        assert_eq!(db.store.verify_audit().await.unwrap(), AuditReport { checked: 3, first_broken: None });
    }
}

both! {
    async fn a_queued_event_about_a_request_filed_for_another_names_both(db) {
        let mut brokered = request("jira", "SEC-1");
        brokered.filed_by = "itsm:jira".to_owned();
        let own = request("api", "own");
        store_request(&db.store, &brokered).await;
        store_request(&db.store, &own).await;
        let about = |rid, data| NewAuditEvent { request_id: Some(rid), data, ..event(1) };
        let mut tx = db.store.begin().await.unwrap();
        tx.queue_audit(about(brokered.id, serde_json::json!({"n": 1})));
        tx.queue_audit(about(brokered.id, serde_json::json!({"n": 2})));
        // One that says who filed it already is left as it is.
        tx.queue_audit(about(brokered.id, serde_json::json!({"n": 3, "filed_by": "x"})));
        // Filed by the requester: nothing to add.
        tx.queue_audit(about(own.id, serde_json::json!({"n": 4})));
        tx.commit().await.unwrap();
        let data: Vec<serde_json::Value> =
            db.store.audit_after(0, 10).await.unwrap().into_iter().map(|e| e.data).collect();
        assert_eq!(
            data,
            [
                serde_json::json!({"n": 1, "requester": "alice", "filed_by": "itsm:jira"}),
                serde_json::json!({"n": 2, "requester": "alice", "filed_by": "itsm:jira"}),
                serde_json::json!({"n": 3, "filed_by": "x"}),
                serde_json::json!({"n": 4}),
            ]
        );
    }
}
