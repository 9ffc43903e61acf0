//! The shared conformance suite and the RabbitMQ-specific traps, against the management
//! API in `WARDEN_TEST_RABBITMQ_URL` and the AMQP listener in `WARDEN_TEST_AMQP_URL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden_connect::conformance::{self, Probe, Setup};
use warden_connect::{Connector, Credential, Held, Prefix, Settings};
use warden_model::IdentityId;

const GRANT: &str = r"vhost=/ configure=^warden-test\. write=^warden-test\. read=^warden-test\.";

fn settings(url: &str) -> Settings {
    Settings {
        name: "events-rabbitmq".into(),
        url: SecretString::from(url.to_owned()),
        prefix: Prefix::parse("wt_rabbit_").unwrap(),
        options: BTreeMap::new(),
    }
}

fn setup() -> Setup {
    Setup {
        prefix: Prefix::parse("wt_rabbit_").unwrap(),
        subject: IdentityId::parse("alice").unwrap(),
        grants: vec![GRANT.into()],
    }
}

/// The management URL and the AMQP URL, or `None` (the test says it skipped).
fn targets() -> Option<(String, String)> {
    let api = conformance::target_url("rabbitmq")?;
    let amqp = conformance::target_url("amqp")?;
    Some((api, amqp))
}

/// A client of the broker: logs in over AMQP, declares a queue it may configure and
/// consumes from it, as an application would.
struct AmqpProbe {
    /// `amqp://host:port`, without credentials or vhost.
    server: String,
    /// Publishes to the session's queue from outside, to see whether its consumer still
    /// receives.
    admin: Admin,
}

impl AmqpProbe {
    fn new(api: &str, amqp: &str) -> Self {
        Self {
            server: amqp.to_owned(),
            admin: Admin::new(api),
        }
    }
}

/// An open AMQP session with a running consumer.
struct Session {
    connection: Connection,
    channel: Channel,
    queue: String,
    consumer: Consumer,
}

#[async_trait]
impl Probe for AmqpProbe {
    type Session = Session;

    async fn connect(&self, credential: &Credential) -> Result<Session, String> {
        let host = self
            .server
            .trim_start_matches("amqp://")
            .trim_end_matches('/');
        let uri = format!(
            "amqp://{}:{}@{host}/%2f",
            credential.username,
            credential.password()
        );
        let connection = Connection::connect(&uri, ConnectionProperties::default())
            .await
            .map_err(|e| e.to_string())?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| e.to_string())?;
        let queue = format!("warden-test.{}", uuid::Uuid::new_v4().simple());
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), options, FieldTable::default())
            .await
            .map_err(|e| e.to_string())?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                consume,
                FieldTable::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(Session {
            connection,
            channel,
            queue,
            consumer,
        })
    }

    /// Alive when the connection is open and the running consumer still receives a
    /// message published to its queue (the rights a consumer uses, checked from outside).
    async fn alive(&self, session: &mut Session) -> bool {
        if !session.connection.status().connected() {
            return false;
        }
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = session
            .channel
            .queue_declare(
                session.queue.as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await;
        if declared.is_err() {
            return false;
        }
        let body = json!({
            "properties": {},
            "routing_key": session.queue,
            "payload": "probe",
            "payload_encoding": "string",
        });
        let (status, routed) = self
            .admin
            .post("exchanges/%2F/amq.default/publish", body)
            .await;
        assert_eq!(
            (status, &routed["routed"]),
            (200, &json!(true)),
            "the probe's publish: {routed}"
        );
        // A consumer that still runs gets it at once; the deadline only bounds a dead one.
        let next = tokio::time::timeout(Duration::from_secs(5), session.consumer.next()).await;
        matches!(next, Ok(Some(Ok(_))))
    }
}

/// The management API as the test's admin, for setting up and checking from outside.
struct Admin {
    http: reqwest::Client,
    base: reqwest::Url,
}

impl Admin {
    fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: reqwest::Url::parse(url).unwrap(),
        }
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut u = self.base.join(&format!("/api/{path}")).unwrap();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        r.basic_auth(self.base.username(), self.base.password())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .auth(self.http.get(self.url(path)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, body: Value) -> u16 {
        let r = self
            .auth(self.http.put(self.url(path)))
            .json(&body)
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .auth(self.http.post(self.url(path)))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, path: &str) -> u16 {
        self.auth(self.http.delete(self.url(path)))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn rabbitmq_connector_meets_the_contract() {
    let Some((api, amqp)) = targets() else { return };
    let c = warden_connect_rabbitmq::connect(&settings(&api))
        .await
        .unwrap();
    conformance::run(&c, &AmqpProbe::new(&api, &amqp), &setup()).await;
}

#[tokio::test]
async fn clearing_permissions_alone_leaves_the_consumer_running_removal_ends_it() {
    let Some((api, amqp)) = targets() else { return };
    let c = warden_connect_rabbitmq::connect(&settings(&api))
        .await
        .unwrap();
    let admin = Admin::new(&api);
    let probe = AmqpProbe::new(&api, &amqp);
    let spec = setup().spec(conformance::now());
    let name = spec.account.as_str();
    let cred = c.provision(&spec).await.unwrap().unwrap();
    let mut session = probe.connect(&cred).await.unwrap();
    // More sessions, so a removal that returned before the broker closed them all would
    // be seen: the broker closes a deleted user's connections itself, but asynchronously.
    let mut more = Vec::new();
    for _ in 0..10 {
        more.push(probe.connect(&cred).await.unwrap());
    }

    // The trap: a consumer that runs keeps receiving once its permissions are taken away
    // (permissions are checked when it starts, not per delivery).
    assert_eq!(admin.delete(&format!("permissions/%2F/{name}")).await, 204);
    assert!(
        probe.alive(&mut session).await,
        "clearing permissions ended the session (the broker changed)"
    );

    c.remove(&Held::Account(name.into())).await.unwrap();
    let (_, conns) = admin.get(&format!("connections/username/{name}")).await;
    assert_eq!(
        conns,
        json!([]),
        "a connection of the removed user is still tracked"
    );
    assert!(
        !probe.alive(&mut session).await,
        "the consumer survived the connector's removal"
    );
    for s in &mut more {
        assert!(
            !probe.alive(s).await,
            "a session survived the connector's removal"
        );
    }
    assert_eq!(admin.get(&format!("users/{name}")).await.0, 404);
}

#[tokio::test]
async fn reprovisioning_restores_exactly_the_roles_permissions_password_and_tags() {
    let Some((api, amqp)) = targets() else { return };
    let c = warden_connect_rabbitmq::connect(&settings(&api))
        .await
        .unwrap();
    let admin = Admin::new(&api);
    let vhost = "warden-test/other";
    assert!(matches!(
        admin.put("vhosts/warden-test%2Fother", json!({})).await,
        201 | 204
    ));

    let mut spec = setup().spec(conformance::now());
    let name = spec.account.as_str().to_owned();
    spec.grants = vec![
        GRANT.into(),
        "vhost=warden-test/other configure=.* write=.* read=.*".into(),
    ];
    let first = c.provision(&spec).await.unwrap().unwrap();
    let (_, perms) = admin.get(&format!("users/{name}/permissions")).await;
    assert_eq!(perms.as_array().unwrap().len(), 2, "{perms}");
    // Rights the role never gave, added behind Warden's back.
    let topic = json!({ "exchange": "amq.topic", "write": ".*", "read": ".*" });
    assert_eq!(
        admin
            .put(
                &format!("topic-permissions/warden-test%2Fother/{name}"),
                topic
            )
            .await,
        201
    );
    assert!(matches!(
        admin
            .put(
                &format!("users/{name}"),
                json!({ "password": "x", "tags": "administrator" })
            )
            .await,
        201 | 204
    ));

    spec.grants = vec![GRANT.into()];
    let second = c.provision(&spec).await.unwrap().unwrap();
    let (_, perms) = admin.get(&format!("users/{name}/permissions")).await;
    let vhosts: Vec<&str> = perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["vhost"].as_str().unwrap())
        .collect();
    assert_eq!(
        vhosts,
        ["/"],
        "permissions the role no longer gives survived"
    );
    assert_eq!(perms[0]["write"], r"^warden-test\.");
    let (_, topics) = admin.get(&format!("users/{name}/topic-permissions")).await;
    assert_eq!(topics, json!([]), "topic permissions survived");
    let (_, user) = admin.get(&format!("users/{name}")).await;
    assert_eq!(user["tags"], json!([]), "tags survived");

    let probe = AmqpProbe::new(&api, &amqp);
    assert!(
        probe.connect(&first).await.is_err(),
        "the replaced password still logs in"
    );
    let mut session = probe.connect(&second).await.unwrap();
    assert!(probe.alive(&mut session).await);
    c.revoke(&spec).await.unwrap();
    assert_eq!(
        admin
            .delete(&format!("vhosts/{}", vhost.replace('/', "%2F")))
            .await,
        204
    );
}

#[tokio::test]
async fn a_missing_vhost_is_a_permanent_error() {
    let Some((api, _)) = targets() else { return };
    let c = warden_connect_rabbitmq::connect(&settings(&api))
        .await
        .unwrap();
    let mut spec = setup().spec(conformance::now());
    spec.grants = vec!["vhost=warden-test-absent configure=^$ write=^$ read=^$".into()];
    let e = c.provision(&spec).await.unwrap_err();
    assert!(!e.is_transient(), "{e}");
    c.revoke(&spec).await.unwrap();
}

#[tokio::test]
async fn foreign_accounts_are_neither_observed_nor_removed() {
    let Some((api, _)) = targets() else { return };
    let c = warden_connect_rabbitmq::connect(&settings(&api))
        .await
        .unwrap();
    let admin = Admin::new(&api);
    let foreign = "wt_rabbit_not_derived";
    assert!(matches!(
        admin
            .put(
                &format!("users/{foreign}"),
                json!({ "password": "x", "tags": "" })
            )
            .await,
        201 | 204
    ));
    assert!(
        !c.observe()
            .await
            .unwrap()
            .contains(&Held::Account(foreign.into()))
    );
    assert!(
        !c.remove(&Held::Account(foreign.into()))
            .await
            .unwrap_err()
            .is_transient()
    );
    assert_eq!(
        admin.get(&format!("users/{foreign}")).await.0,
        200,
        "a foreign user was removed"
    );
    assert_eq!(admin.delete(&format!("users/{foreign}")).await, 204);
}

#[tokio::test]
async fn refused_admin_credentials_are_permanent_and_not_echoed() {
    let Some((api, _)) = targets() else { return };
    let mut url = reqwest::Url::parse(&api).unwrap();
    url.set_username("nobody").unwrap();
    url.set_password(Some("s3cret-admin-pw")).unwrap();
    let c = warden_connect_rabbitmq::connect(&settings(url.as_str()))
        .await
        .unwrap();
    let e = c.observe().await.unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("admin credentials"), "{e}");
    assert!(!e.to_string().contains("s3cret-admin-pw"), "{e}");
    assert!(!format!("{c:?}").contains("s3cret-admin-pw"));
}

#[tokio::test]
async fn an_unreachable_api_is_a_transient_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://admin:s3cret-admin-pw@127.0.0.1:{port}");
    let c = warden_connect_rabbitmq::connect(&settings(&url))
        .await
        .unwrap();
    let e = c
        .provision(&setup().spec(conformance::now()))
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(!e.to_string().contains("s3cret-admin-pw"), "{e}");
    assert!(c.observe().await.unwrap_err().is_transient());
}

#[tokio::test]
async fn settings_are_checked() {
    let ok = |url: &str, options: &[(&str, &str)]| {
        let mut s = settings(url);
        s.options = options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        s
    };
    for (url, options) in [
        ("http://127.0.0.1:15672", &[][..]),
        ("http://guest@127.0.0.1:15672", &[]),
        ("amqp://guest:guest@127.0.0.1:5672", &[]),
        (
            "amqp://guest:guest@127.0.0.1:5672",
            &[("management_url", "http://u:p@127.0.0.1:15672")],
        ),
        (
            "http://guest:guest@127.0.0.1:15672",
            &[("management_url", "http://127.0.0.1:15672")],
        ),
        ("http://guest:guest@127.0.0.1:15672", &[("vhost", "/")]),
        ("ftp://guest:guest@127.0.0.1", &[]),
        ("not a url", &[]),
    ] {
        assert!(
            warden_connect_rabbitmq::connect(&ok(url, options))
                .await
                .is_err(),
            "{url} {options:?}"
        );
    }
    let amqp = ok(
        "amqp://guest:guest@127.0.0.1:5672",
        &[("management_url", "http://127.0.0.1:15672")],
    );
    assert!(warden_connect_rabbitmq::connect(&amqp).await.is_ok());
}

#[tokio::test]
async fn the_admin_url_may_be_an_amqp_url_with_a_management_url() {
    let Some((api, amqp)) = targets() else { return };
    let mut url = reqwest::Url::parse(&amqp).unwrap();
    let api = reqwest::Url::parse(&api).unwrap();
    url.set_username(api.username()).unwrap();
    url.set_password(api.password()).unwrap();
    let mut management = api.clone();
    let _ = management.set_username("");
    let _ = management.set_password(None);
    let mut s = settings(url.as_str());
    s.options
        .insert("management_url".into(), management.to_string());
    let c = warden_connect_rabbitmq::connect(&s).await.unwrap();
    c.observe().await.unwrap();
}
