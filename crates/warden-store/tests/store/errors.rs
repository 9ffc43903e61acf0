//! Errors callers must tell apart: an unreachable database is `Unavailable` (the HTTP layer
//! answers 503), an unknown URL scheme is refused before connecting.

use std::time::Duration;

use warden_store::{Store, StoreError, StoreOptions};

use crate::support::*;

#[tokio::test]
async fn refused_connection_is_unavailable() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once. A
    // short acquire timeout only keeps the test quick; the default keeps retrying for 10 s.
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let err = Store::connect_with("postgres://postgres@127.0.0.1:1/warden", &options)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn unknown_url_scheme_is_refused() {
    let err = Store::connect("mysql://root:hunter2@db/warden")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedUrl { ref scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("hunter2"),
        "the password is not echoed: {err}"
    );
}

both! {
    async fn closed_store_is_unavailable(db) {
        db.store.close().await;
        let err = db.store.request(warden_store::RequestId::new()).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(db.store.begin().await.is_err());
    }
}

both! {
    async fn reconnecting_to_a_migrated_database_keeps_its_rows(db) {
        store_request(&db.store, &request("jira", "SEC-1")).await;
        let again = db.another_store().await;
        assert!(again.request_by_ticket("jira", "SEC-1").await.unwrap().is_some());
        again.ping().await.unwrap();
    }
}
