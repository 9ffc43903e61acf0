//! Transactions: all of a unit of work commits, or none of it.

use warden_store::JobId;

use crate::support::*;

both! {
    async fn rolled_back_transaction_leaves_nothing(db) {
        let req = request("jira", "SEC-1");
        let job: JobId;
        {
            let mut tx = db.store.begin().await.unwrap();
            assert!(tx.insert_request(&req).await.unwrap());
            tx.append_audit(&event(1)).await.unwrap();
            job = tx.schedule_job("expire", &req.id.to_string(), at(10), at(0)).await.unwrap();
            tx.rollback().await.unwrap();
        }
        assert_eq!(db.store.request(req.id).await.unwrap(), None);
        assert!(db.store.audit_after(0, 10).await.unwrap().is_empty());
        assert_eq!(db.store.job(job).await.unwrap(), None);
        assert!(db.store.claim_jobs("w", at(100), std::time::Duration::from_secs(30), 10).await.unwrap().is_empty());
        let report = db.store.verify_audit().await.unwrap();
        assert_eq!((report.checked, report.first_broken), (0, None));
    }
}

both! {
    async fn dropped_transaction_is_rolled_back(db) {
        let req = request("jira", "SEC-1");
        {
            let mut tx = db.store.begin().await.unwrap();
            assert!(tx.insert_request(&req).await.unwrap());
            tx.append_audit(&event(1)).await.unwrap();
        }
        assert_eq!(db.store.request(req.id).await.unwrap(), None);
        // The chain continues from genesis: the dropped event left no trace in the head.
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(tx.append_audit(&event(1)).await.unwrap().seq, 1);
        tx.commit().await.unwrap();
    }
}

both! {
    async fn committed_transaction_keeps_request_event_and_job_together(db) {
        let req = request("jira", "SEC-1");
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.insert_request(&req).await.unwrap());
        let ev = tx.append_audit(&event(1)).await.unwrap();
        let job = tx.schedule_job("expire", &req.id.to_string(), at(10), at(0)).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.store.request(req.id).await.unwrap().is_some());
        assert_eq!(db.store.audit_after(0, 10).await.unwrap(), vec![ev]);
        let stored = db.store.job(job).await.unwrap().unwrap();
        assert_eq!((stored.kind.as_str(), stored.key), ("expire", req.id.to_string()));
    }
}

both! {
    async fn bundles_and_tokens_round_trip(db) {
        use warden_store::{BundleFile, TokenId, TokenRecord, token_hash};
        let files = vec![
            BundleFile { name: "catalog.toml".to_owned(), text: "x = 1\n".to_owned() },
            BundleFile { name: "policies/a.cedar".to_owned(), text: "permit(principal, action, resource);".to_owned() },
        ];
        let token = TokenRecord {
            id: TokenId::new(),
            identity: identity("alice"),
            scopes: vec!["requests:write".to_owned(), "audit:read".to_owned()],
            hash: token_hash("s3cret"),
            created_at: at(0),
            revoked_at: None,
            expires_at: Some(at(86_400)),
            source: Some("portal".to_owned()),
        };
        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.put_bundle("sha256:abc", &files, at(0)).await.unwrap());
        assert!(!tx.put_bundle("sha256:abc", &files, at(1)).await.unwrap(), "content-addressed: stored once");
        tx.insert_token(&token).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(db.store.bundle("sha256:abc").await.unwrap(), Some(files));
        assert_eq!(db.store.bundle("sha256:def").await.unwrap(), None);
        assert_eq!(db.store.token_by_hash(&token_hash("s3cret")).await.unwrap(), Some(token.clone()));
        assert_eq!(db.store.token_by_hash(&token_hash("guess")).await.unwrap(), None);

        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.revoke_token(token.id, at(5)).await.unwrap());
        assert!(!tx.revoke_token(token.id, at(6)).await.unwrap(), "revoking twice changes nothing");
        tx.commit().await.unwrap();
        let revoked = db.store.token_by_hash(&token.hash).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at(5)));
    }
}
