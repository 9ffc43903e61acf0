//! Requests and approvals.

use warden_model::{RequestState, Timestamp};
use warden_store::{Approval, ApprovalDecision, RequestId, StoreError};

use crate::support::*;

both! {
    async fn request_round_trips_by_id_and_by_ticket(db) {
        let req = request("jira", "SEC-1");
        store_request(&db.store, &req).await;
        assert_eq!(db.store.request(req.id).await.unwrap(), Some(req.clone()));
        assert_eq!(db.store.request_by_ticket("jira", "SEC-1").await.unwrap(), Some(req));
        assert_eq!(db.store.request(RequestId::new()).await.unwrap(), None);
        assert_eq!(db.store.request_by_ticket("jira", "SEC-2").await.unwrap(), None);
    }
}

both! {
    async fn duplicate_source_and_ticket_is_not_stored_again(db) {
        let first = request("jira", "SEC-1");
        store_request(&db.store, &first).await;
        let retry = request("jira", "SEC-1");
        let mut tx = db.store.begin().await.unwrap();
        assert!(!tx.insert_request(&retry).await.unwrap());
        // The transaction stays usable after the no-op (PostgreSQL would abort it on an error).
        assert_eq!(tx.request_by_ticket("jira", "SEC-1").await.unwrap().map(|r| r.id), Some(first.id));
        tx.commit().await.unwrap();
        assert_eq!(db.store.request(retry.id).await.unwrap(), None);
        // The same ticket from another source is another request.
        store_request(&db.store, &request("servicenow", "SEC-1")).await;
    }
}

both! {
    async fn duplicate_request_id_is_a_conflict(db) {
        let first = request("jira", "SEC-1");
        store_request(&db.store, &first).await;
        let mut again = request("jira", "SEC-2");
        again.id = first.id;
        let mut tx = db.store.begin().await.unwrap();
        let err = tx.insert_request(&again).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    }
}

both! {
    async fn request_state_changes_only_from_the_expected_state(db) {
        let req = request("jira", "SEC-1");
        store_request(&db.store, &req).await;
        let later: Timestamp = at(60);

        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.set_request_state(req.id, RequestState::Requested, RequestState::ApprovalRequired, later).await.unwrap());
        // A second writer that still believes the request is `requested` loses.
        assert!(!tx.set_request_state(req.id, RequestState::Requested, RequestState::Denied, later).await.unwrap());
        assert!(!tx.set_request_state(RequestId::new(), RequestState::Requested, RequestState::Denied, later).await.unwrap());
        tx.commit().await.unwrap();

        let stored = db.store.request(req.id).await.unwrap().unwrap();
        assert_eq!(stored.state, RequestState::ApprovalRequired);
        assert_eq!(stored.updated_at, later);
        assert_eq!(stored.created_at, req.created_at);
    }
}

both! {
    async fn second_approval_by_the_same_person_counts_once(db) {
        let req = request("jira", "SEC-1");
        store_request(&db.store, &req).await;
        let first = Approval { request_id: req.id, approver: identity("carol"), decision: ApprovalDecision::Approve, at: at(10), comment: None };
        let again = Approval { decision: ApprovalDecision::Reject, at: at(20), ..first.clone() };
        let other = Approval { approver: identity("dave"), at: at(30), ..first.clone() };

        let mut tx = db.store.begin().await.unwrap();
        assert!(tx.insert_approval(&first).await.unwrap());
        assert!(!tx.insert_approval(&again).await.unwrap());
        assert!(tx.insert_approval(&other).await.unwrap());
        assert_eq!(tx.approvals(req.id).await.unwrap().len(), 2);
        tx.commit().await.unwrap();

        assert_eq!(db.store.approvals(req.id).await.unwrap(), vec![first, other]);
    }
}
