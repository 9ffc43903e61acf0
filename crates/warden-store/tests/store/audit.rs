//! The audit chain: appends link up, and tampering of any kind is found at its first seq.

use warden_store::{AuditReport, GENESIS_HASH, Store};

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
