//! What every store test shares: a database of either backend, raw SQL for tampering, and
//! sample rows.

use serde_json::json;
use sqlx::{Connection, PgConnection, SqliteConnection};
use warden_model::{
    Duration, GrantState, IdentityId, Outcome, RequestState, RoleId, SystemId, Timestamp,
};
use warden_store::testing;
use warden_store::{GrantId, GrantRecord, NewAuditEvent, RequestId, RequestRecord, Store};

/// One test database: the store under test, and the URL to open more connections to it.
pub struct Db {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let (store, dir) = testing::sqlite().await;
        let url = format!(
            "sqlite://{}",
            dir.path().join(testing::SQLITE_FILE).display()
        );
        Db {
            store,
            url,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Option<Db> {
        let (store, url) = testing::postgres().await?;
        Some(Db {
            store,
            url,
            _dir: None,
        })
    }

    /// A second, independent store (its own pool) on the same database.
    pub async fn another_store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    /// Runs `sql` behind the store's back, as an attacker with database access would.
    pub async fn raw(&self, sql: &'static str) {
        if self.url.starts_with("sqlite:") {
            let mut c = SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// Defines `mod $name` with one `sqlite` and one `postgres` test running the same body.
macro_rules! both {
    (async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: $crate::support::Db) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::support::Db::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::support::Db::postgres().await {
                    body(db).await;
                }
            }
        }
    };
}

/// A fixed instant plus `secs` seconds: tests pass time explicitly, never read a clock.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + secs * 1000).unwrap()
}

pub fn identity(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

pub fn request(source: &str, ticket: &str) -> RequestRecord {
    RequestRecord {
        id: RequestId::new(),
        source: source.to_owned(),
        ticket: ticket.to_owned(),
        requester: identity("alice"),
        subject: identity("bob"),
        system: Some(SystemId::parse("payments-db").unwrap()),
        role: Some(RoleId::parse("payments-db.read").unwrap()),
        state: RequestState::Requested,
        request: json!({"requester": "alice", "role": "payments-db.read", "purpose": "x"}),
        decision: json!({"outcome": "approval_required", "reasons": []}),
        outcome: Outcome::ApprovalRequired,
        bundle_hash: "sha256:b".to_owned(),
        input_hash: "sha256:i".to_owned(),
        decided_at: at(0),
        approval_expires_at: Some(at(3600)),
        created_at: at(0),
        updated_at: at(0),
        filed_by: "alice".to_owned(),
    }
}

pub fn grant(request: &RequestRecord) -> GrantRecord {
    GrantRecord {
        id: GrantId::new(),
        request_id: request.id,
        subject: request.subject.clone(),
        system: request.system.clone().unwrap(),
        role: request.role.clone().unwrap(),
        state: GrantState::Provisioning,
        duration: Duration::from_seconds(3600).unwrap(),
        activated_at: None,
        expires_at: None,
        revoked_at: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn event(n: u64) -> NewAuditEvent {
    NewAuditEvent {
        at: at(i64::try_from(n).unwrap()),
        actor: "alice".to_owned(),
        action: "request.created".to_owned(),
        request_id: Some(RequestId::new()),
        grant_id: None,
        before_state: None,
        after_state: Some("requested".to_owned()),
        bundle_hash: Some("sha256:b".to_owned()),
        data: json!({"n": n, "reasons": ["a", "b"], "nested": {"z": 1, "a": 2.5}}),
    }
}

/// Stores `req` in its own committed transaction.
pub async fn store_request(store: &Store, req: &RequestRecord) {
    let mut tx = store.begin().await.unwrap();
    assert!(tx.insert_request(req).await.unwrap());
    tx.commit().await.unwrap();
}
