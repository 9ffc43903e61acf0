//! Request Tracker as the front door, end to end through `warden serve`: a requester opens a
//! ticket in a real RT 5 (`WARDEN_TEST_RT_URL`), RT's own scrip posts a signed webhook to the
//! server, Warden decides and comments, an approver approves on the ticket, the grant is
//! provisioned on a real PostgreSQL (`WARDEN_TEST_POSTGRES_URL`), and resolving the ticket
//! revokes it. Everything is observed from outside: RT through REST2, Warden through its API,
//! PostgreSQL through its catalog.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test, and a test may say what it saw"
)]

mod support;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use warden_connect::conformance::target_url;

use support::{Server, http, root};

/// How long any one step may take: RT's scrip, the worker, write-back and the target.
const STEP: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A prefix no other run shares, so runs never see (or sweep) each other's roles.
fn fresh_prefix() -> String {
    support::fresh_prefix("wr")
}

/// Polls `f` until it gives a value, failing after `limit`.
fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    support::wait_for(what, limit, Duration::from_millis(250), f)
}

// --- HTTP, spoken directly ---------------------------------------------------------------

/// `host:port` of an `http://host:port[/path]` URL, and its path.
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    match rest.split_once('/') {
        Some((a, p)) => (a.to_owned(), format!("/{p}")),
        None => (rest.to_owned(), "/".to_owned()),
    }
}

// --- Request Tracker, through REST2 ------------------------------------------------------

/// An RT account the test acts as.
struct RtUser {
    name: String,
    password: String,
}

impl RtUser {
    fn from_env(name_var: &str, name: &str, password_var: &str, password: &str) -> RtUser {
        RtUser {
            name: env_or(name_var, name),
            password: env_or(password_var, password),
        }
    }
}

struct Rt {
    addr: String,
    warden: RtUser,
}

impl Rt {
    /// A REST2 call as `who`, failing on anything but a 2xx answer.
    fn call(&self, who: &RtUser, method: &str, path: &str, body: Option<&Value>) -> Value {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", who.name, who.password));
        let mut headers = vec![("Authorization", format!("Basic {auth}"))];
        let text = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json".to_owned()));
                b.to_string()
            }
            None => String::new(),
        };
        let (status, answer) = http(
            &self.addr,
            method,
            &format!("/REST/2.0{path}"),
            &headers,
            &text,
        );
        assert!(
            (200..300).contains(&status),
            "RT {method} {path} as {}: HTTP {status}: {answer}",
            who.name
        );
        serde_json::from_str(&answer).unwrap()
    }

    /// Opens a ticket in `Access Requests` as `who`; returns its id.
    fn create(&self, who: &RtUser, email: &str, subject: &str, purpose: &str) -> String {
        let created = self.call(
            who,
            "POST",
            "/ticket",
            Some(&json!({
                "Queue": "Access Requests",
                "Subject": subject,
                "Requestor": email,
                "CustomFields": {
                    "Target System": "payments-db",
                    "Access Level": "read",
                    "Purpose": purpose,
                    "Access Duration": "1h"
                }
            })),
        );
        created["id"]
            .as_str()
            .map_or_else(|| created["id"].to_string(), str::to_owned)
    }

    fn update(&self, who: &RtUser, ticket: &str, body: &Value) {
        let answer = self.call(who, "PUT", &format!("/ticket/{ticket}"), Some(body));
        let refused = answer.as_array().into_iter().flatten().any(|m| {
            let m = m.as_str().unwrap_or_default().to_ascii_lowercase();
            m.contains("permission denied") || m.contains("invalid")
        });
        assert!(
            !refused,
            "RT refused {body} on ticket {ticket} by {}: {answer}",
            who.name
        );
    }

    /// A custom field of ticket `ticket`, its values joined (empty when unset).
    fn field(&self, ticket: &str, name: &str) -> String {
        let t = self.call(&self.warden, "GET", &format!("/ticket/{ticket}"), None);
        t["CustomFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|cf| cf["name"] == name)
            .map(|cf| {
                cf["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }

    /// Every page of a REST2 collection (`total` is null for histories and attachments, so
    /// a short page is the last).
    fn all(&self, path_and_query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 1.. {
            let v = self.call(
                &self.warden,
                "GET",
                &format!("{path_and_query}&per_page=100&page={page}"),
                None,
            );
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let n = items.len();
            out.extend(items);
            if n < 100 {
                break;
            }
        }
        out
    }

    /// The ticket's history, with the values and authors of every transaction.
    fn history(&self, ticket: &str) -> Vec<Value> {
        self.all(&format!(
            "/ticket/{ticket}/history?fields=Type,Field,OldValue,NewValue,Data,Creator&fields%5BCreator%5D=Name"
        ))
    }

    /// Every attachment of the ticket: the text of every comment, reply and mail.
    fn attachments(&self, ticket: &str) -> Vec<Value> {
        self.all(&format!(
            "/ticket/{ticket}/attachments?fields=Content,ContentType,TransactionId,Subject"
        ))
    }

    /// The text of the comments the API account (Warden) wrote on the ticket, oldest first.
    fn warden_comments(&self, ticket: &str) -> Vec<String> {
        let mine: BTreeSet<String> = self
            .history(ticket)
            .iter()
            .filter(|t| t["Type"] == "Comment" && t["Creator"]["Name"] == self.warden.name.as_str())
            .map(|t| {
                t["id"]
                    .as_str()
                    .map_or_else(|| t["id"].to_string(), str::to_owned)
            })
            .collect();
        self.attachments(ticket)
            .iter()
            .filter(|a| {
                a["ContentType"] == "text/plain"
                    && a["TransactionId"]
                        .as_str()
                        .is_some_and(|id| mine.contains(id))
            })
            .map(|a| a["Content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until a comment by Warden starting with `head` is on the ticket; returns it.
    fn wait_comment(&self, ticket: &str, head: &str) -> String {
        wait_for(
            &format!("a comment `{head}…` on ticket {ticket}"),
            STEP,
            || {
                self.warden_comments(ticket)
                    .into_iter()
                    .find(|c| c.starts_with(head))
            },
        )
    }

    fn wait_field(&self, ticket: &str, name: &str, value: &str) {
        wait_for(
            &format!("`{name}` = `{value}` on ticket {ticket}"),
            STEP,
            || (self.field(ticket, name) == value).then_some(()),
        );
    }
}

// --- PostgreSQL, looked at through its catalog --------------------------------------------

/// The login roles whose names start with `prefix`.
async fn roles(pg: &sqlx::PgPool, prefix: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(pg)
    .await
    .unwrap()
}

/// Whether `role` can log in and is a direct member of `group`.
async fn login_member_of(pg: &sqlx::PgPool, role: &str, group: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_auth_members m \
           JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid \
          WHERE r.rolname = $1 AND r.rolcanlogin AND g.rolname = $2)",
    )
    .bind(role)
    .bind(group)
    .fetch_one(pg)
    .await
    .unwrap()
}

/// Drops every role with the run's prefix when the test ends, passed or not.
struct Sweep {
    url: String,
    prefix: String,
}

impl Drop for Sweep {
    fn drop(&mut self) {
        // Best effort and never a panic: this may run while a failed test unwinds.
        let Ok(rt) = tokio::runtime::Runtime::new() else {
            return;
        };
        rt.block_on(async {
            let Ok(pg) = sqlx::PgPool::connect(&self.url).await else {
                return;
            };
            let left: Vec<String> = sqlx::query_scalar(
                "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)",
            )
            .bind(&self.prefix)
            .fetch_all(&pg)
            .await
            .unwrap_or_default();
            for name in left {
                // Names with the prefix are the connector's own: a-z, 0-9 and `_` only.
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    continue;
                }
                eprintln!("sweeping role {name} left by the run");
                let _ = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                )
                .bind(&name)
                .execute(&pg)
                .await;
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP ROLE IF EXISTS \"{name}\""
                )))
                .execute(&pg)
                .await;
            }
            pg.close().await;
        });
    }
}

// --- the server ----------------------------------------------------------------------------

/// Everything `warden` needs to run: its config file and the secrets it takes from the
/// environment.
struct Setup {
    config: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    /// `warden` with only this run's configuration: no `WARDEN_*` or `RUST_LOG` from outside.
    fn warden(&self) -> Command {
        let mut cmd = support::warden(self.config.parent().unwrap());
        cmd.env("WARDEN_CONFIG", &self.config);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn token(&self, identity: &str, scopes: &[&str]) -> String {
        support::token(self.warden(), identity, scopes)
    }
}

/// Writes the server's configuration: the example bundle, a fresh SQLite database, the
/// PostgreSQL connector behind `payments-db`, and RT as an ITSM that polls too.
fn write_config(dir: &Path, listen: &str, rt_url: &str, rt_user: &str, prefix: &str) -> PathBuf {
    let path = dir.join("warden.toml");
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = {listen:?}

[database]
url = {database:?}

[bundle]
path = {bundle:?}

[worker]
poll_every = "1s"

[secrets]
key_file = {key:?}

[[connector]]
name = "pg-payments"
kind = "postgres"
prefix = {prefix:?}

[[itsm]]
name = "rt"
kind = "rt"
url = {rt_url:?}
username = {rt_user:?}
signature = "standard-webhooks"
revoke_on_close = true
poll_every = "5s"
poll_filter = "Queue = 'Access Requests'"
status_field = "CF.Warden Status"

[itsm.fields]
requester = "Requestor"
subject = "CF.Requested For"
system = "CF.Target System"
needs = "CF.Access Level"
task = "CF.Task"
purpose = "CF.Purpose"
duration = "CF.Access Duration"

[itsm.approval]
field = "CF.Approval"
"#,
            database = format!("sqlite://{}", dir.join("warden.db").display()),
            bundle = root().join("examples/bundle").display().to_string(),
            key = dir.join("secret.key").display().to_string(),
        ),
    )
    .unwrap();
    path
}

/// Warden's request id, from its decision comment (`Request: …`).
fn request_id(decision: &str) -> String {
    decision
        .lines()
        .find_map(|l| l.strip_prefix("Request: "))
        .unwrap_or_else(|| panic!("no request id in {decision:?}"))
        .trim()
        .to_owned()
}

#[test]
fn rt_request_is_decided_approved_provisioned_and_revoked_through_the_ticket() {
    let Some(rt_url) = target_url("rt") else {
        return;
    };
    let Some(pg_url) = target_url("postgres") else {
        return;
    };
    let rt_url = rt_url
        .trim_end_matches('/')
        .trim_end_matches("/REST/2.0")
        .to_owned();
    let hook = env_or(
        "WARDEN_TEST_RT_WEBHOOK_URL",
        "http://127.0.0.1:18080/v1/itsm/rt",
    );
    let (listen, hook_path) = split_url(&hook);
    assert_eq!(
        hook_path, "/v1/itsm/rt",
        "RT posts its webhooks to {hook}; this test serves `[[itsm]] name = \"rt\"`"
    );
    // RT's scrip posts to a fixed address: Warden must be the one listening there.
    if let Err(e) = TcpListener::bind(&listen) {
        panic!(
            "{listen} is taken ({e}): RT posts its webhooks there and this test must serve them; \
             stop whatever listens on it (`ss -ltnp 'sport = :{}'`)",
            listen.rsplit(':').next().unwrap_or_default()
        );
    }

    let rt = Rt {
        addr: split_url(&rt_url).0,
        warden: RtUser::from_env(
            "WARDEN_TEST_RT_USER",
            "warden",
            "WARDEN_TEST_RT_PASSWORD",
            "warden-rt-test-password",
        ),
    };
    let alice = RtUser::from_env(
        "WARDEN_TEST_RT_REQUESTER",
        "alice",
        "WARDEN_TEST_RT_REQUESTER_PASSWORD",
        "alice-rt-test-password",
    );
    let bob = RtUser::from_env(
        "WARDEN_TEST_RT_APPROVER",
        "bob",
        "WARDEN_TEST_RT_APPROVER_PASSWORD",
        "bob-rt-test-password",
    );
    let carol = RtUser::from_env(
        "WARDEN_TEST_RT_APPROVER2",
        "carol",
        "WARDEN_TEST_RT_APPROVER2_PASSWORD",
        "carol-rt-test-password",
    );

    let prefix = fresh_prefix();
    let _sweep = Sweep {
        url: pg_url.clone(),
        prefix: prefix.clone(),
    };
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let pg = tokio.block_on(sqlx::PgPool::connect(&pg_url)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        config: write_config(dir.path(), &listen, &rt_url, &rt.warden.name, &prefix),
        env: vec![
            ("WARDEN_CONNECTOR_PG_PAYMENTS_URL", pg_url.clone()),
            ("WARDEN_ITSM_RT_PASSWORD", rt.warden.password.clone()),
            (
                "WARDEN_ITSM_RT_SECRET",
                std::env::var("WARDEN_TEST_RT_WEBHOOK_SECRET")
                    .expect("WARDEN_TEST_RT_WEBHOOK_SECRET (scripts/services sets it)"),
            ),
        ],
    };
    let admin = setup.token("erin", &["admin", "audit"]);
    let alice_token = setup.token("alice", &["intake"]);
    let mut server = Server::start(setup.warden(), &dir.path().join("serve.log"));
    let db = format!("sqlite://{}", dir.path().join("warden.db").display());
    let sqlite = tokio.block_on(sqlx::SqlitePool::connect(&db)).unwrap();
    let run = prefix.trim_end_matches('_');

    // 1. Alice asks for read access to payments-db in RT; bob, a payments lead, asks for it
    // for himself.
    let ticket = rt.create(
        &alice,
        "alice@example.com",
        &format!("read access to payments-db ({run})"),
        "investigate INC-42",
    );
    let own = rt.create(
        &bob,
        "bob@example.com",
        &format!("read access to payments-db for myself ({run})"),
        "check the nightly reconciliation",
    );

    // 2. RT's webhook reaches Warden, which decides and says so on each ticket.
    let decision = rt.wait_comment(
        &ticket,
        "Warden needs approval before granting this request.",
    );
    // The role asks one payments lead; the bundle's second check on a high system asks one
    // more from its owner group: two distinct payments leads, never alice.
    assert!(
        decision.contains("Role: payments-db.read on payments-db")
            && decision
                .contains("Approvals needed: 2\n- 2 from group payments-leads (never alice)"),
        "{decision}"
    );
    rt.wait_field(&ticket, "Warden Status", "pending");
    let rid = request_id(&decision);
    let request = server.json("GET", &format!("/v1/requests/{rid}"), &admin, "");
    assert_eq!(request["state"], "approval_required", "{request}");
    assert_eq!(request["source"], "rt", "{request}");
    assert_eq!(request["ticket"], ticket.as_str(), "{request}");

    let own_decision = rt.wait_comment(&own, "Warden needs approval before granting this request.");
    rt.wait_field(&own, "Warden Status", "pending");
    let own_rid = request_id(&own_decision);

    // 3. Bob approves his own request in RT, which lets him set the field; Warden's rules
    // do not, and it says so on the ticket.
    rt.update(
        &bob,
        &own,
        &json!({ "CustomFields": { "Approval": "approved" } }),
    );
    let ignored = rt.wait_comment(&own, "Warden ignored the approval by ");
    assert!(
        ignored.contains("bob") && ignored.contains("cannot approve"),
        "{ignored}"
    );
    let own_request = server.json("GET", &format!("/v1/requests/{own_rid}"), &admin, "");
    assert_eq!(own_request["state"], "approval_required", "{own_request}");
    assert!(
        own_request["approvals"].as_array().unwrap().is_empty(),
        "{own_request}"
    );
    assert!(own_request["grant"].is_null(), "{own_request}");

    // 4. Bob approves alice's request: Warden counts him, asks for one more and sets the
    // approval field back to pending, so carol's approval is a change of its own.
    rt.update(
        &bob,
        &ticket,
        &json!({ "CustomFields": { "Approval": "approved" } }),
    );
    let counted = rt.wait_comment(&ticket, "Warden counted approvals from bob.");
    assert!(
        counted.contains("1 more approval(s) needed from payments-leads"),
        "{counted}"
    );
    rt.wait_field(&ticket, "Approval", "pending");
    assert_eq!(rt.field(&ticket, "Warden Status"), "pending");
    let request = server.json("GET", &format!("/v1/requests/{rid}"), &admin, "");
    assert_eq!(request["state"], "approval_required", "{request}");

    // Carol approves: the grant is provisioned and the ticket says so.
    rt.update(
        &carol,
        &ticket,
        &json!({ "CustomFields": { "Approval": "approved" } }),
    );
    let activated = rt.wait_comment(
        &ticket,
        "Warden activated payments-db.read on payments-db at ",
    );
    rt.wait_field(&ticket, "Warden Status", "active");
    let request = server.json("GET", &format!("/v1/requests/{rid}"), &admin, "");
    assert_eq!(request["state"], "approved", "{request}");
    let approvers: Vec<&str> = request["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap())
        .collect();
    assert_eq!(approvers, ["bob", "carol"], "{request}");
    let grant = request["grant"]["id"].as_str().unwrap().to_owned();
    let g = server.json("GET", &format!("/v1/grants/{grant}"), &admin, "");
    assert_eq!(g["state"], "active", "{g}");
    assert_eq!(g["subject"], "alice", "{g}");
    let active = server.json(
        "GET",
        "/v1/grants?state=active&system=payments-db",
        &admin,
        "",
    );
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == grant.as_str()),
        "{active}"
    );
    assert!(activated.contains("It expires at "), "{activated}");

    // Alice takes her credential from Warden, the only place it is ever shown.
    let cred = server.json(
        "GET",
        &format!("/v1/grants/{grant}/credential"),
        &alice_token,
        "",
    );
    let login = cred["username"].as_str().unwrap().to_owned();
    let password = cred["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 16, "a real password to look for");
    assert!(login.starts_with(&prefix), "{login}");
    tokio.block_on(async {
        assert_eq!(roles(&pg, &prefix).await, std::slice::from_ref(&login));
        assert!(
            login_member_of(&pg, &login, "pg_read_all_data").await,
            "{login} is not a login role in pg_read_all_data"
        );
    });

    // 5. Bob resolves the ticket: Warden revokes, PostgreSQL confirms, the ticket says so.
    rt.update(&bob, &ticket, &json!({ "Status": "resolved" }));
    let revoked = rt.wait_comment(
        &ticket,
        "Warden revoked payments-db.read on payments-db (the ticket was closed)",
    );
    assert!(
        revoked.contains("The target confirmed the removal at "),
        "{revoked}"
    );
    rt.wait_field(&ticket, "Warden Status", "revoked");
    let g = server.json("GET", &format!("/v1/grants/{grant}"), &admin, "");
    assert_eq!(g["state"], "revoked", "{g}");
    assert!(tokio.block_on(roles(&pg, &prefix)).is_empty());

    // Bob's own ticket is closed too; it had no grant, so nothing is revoked.
    rt.update(&bob, &own, &json!({ "Status": "resolved" }));

    // 6. Two more polls see both tickets (Warden's own write-backs moved them) and change
    // nothing: one request per ticket, each comment once.
    let polls = || -> i64 {
        tokio
            .block_on(
                sqlx::query_scalar(
                    "SELECT count(*) FROM jobs WHERE kind = 'itsm_poll' AND state = 'done'",
                )
                .fetch_one(&sqlite),
            )
            .unwrap()
    };
    let seen = polls();
    wait_for("two more polls of RT", STEP, || {
        (polls() >= seen + 2).then_some(())
    });
    wait_for("the ITSM jobs to finish", STEP, || {
        let pending: i64 = tokio
            .block_on(
                sqlx::query_scalar(
                    "SELECT count(*) FROM jobs \
                     WHERE kind IN ('itsm_sync', 'itsm_write') AND state = 'pending'",
                )
                .fetch_one(&sqlite),
            )
            .unwrap();
        (pending == 0).then_some(())
    });
    for t in [&ticket, &own] {
        let n: i64 = tokio
            .block_on(
                sqlx::query_scalar(
                    "SELECT count(*) FROM requests WHERE source = 'rt' AND ticket = $1",
                )
                .bind(t)
                .fetch_one(&sqlite),
            )
            .unwrap();
        assert_eq!(n, 1, "requests for ticket {t}");
    }
    let comments = rt.warden_comments(&ticket);
    for head in [
        "Warden needs approval before granting this request.",
        "Warden counted approvals from bob.",
        "Warden activated ",
        "Warden revoked ",
    ] {
        let n = comments.iter().filter(|c| c.starts_with(head)).count();
        assert_eq!(n, 1, "`{head}` on ticket {ticket}: {comments:#?}");
    }
    let own_comments = rt.warden_comments(&own);
    assert_eq!(
        own_comments
            .iter()
            .filter(|c| c.starts_with("Warden ignored the approval by "))
            .count(),
        1,
        "{own_comments:#?}"
    );
    let dead: Vec<(String, String, Option<String>)> = tokio
        .block_on(
            sqlx::query_as("SELECT kind, job_key, last_error FROM jobs WHERE state = 'dead'")
                .fetch_all(&sqlite),
        )
        .unwrap();
    assert!(dead.is_empty(), "jobs given up: {dead:?}");
    // Retried failures are allowed (RT or PostgreSQL may be slow), but shown.
    let retried: Vec<(String, String, i64, Option<String>)> = tokio
        .block_on(
            sqlx::query_as(
                "SELECT kind, job_key, attempts, last_error FROM jobs \
                 WHERE last_error IS NOT NULL ORDER BY created_at",
            )
            .fetch_all(&sqlite),
        )
        .unwrap();
    for r in &retried {
        eprintln!("retried job: {r:?}");
    }

    // 7. The credential is on no ticket: not in a comment, a field or any transaction.
    for t in [&ticket, &own] {
        let everything = format!(
            "{}{}",
            serde_json::to_string(&rt.history(t)).unwrap(),
            serde_json::to_string(&rt.attachments(t)).unwrap()
        );
        assert!(
            !everything.contains(&password),
            "the credential is on ticket {t}"
        );
    }

    let audit = server.json("GET", "/v1/audit/verify", &admin, "");
    assert_eq!(audit["ok"], true, "{audit}");
    tokio.block_on(sqlite.close());
    server.stop();
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        !log.contains(&password),
        "the credential is in the server's log"
    );
    for l in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        eprintln!("server: {l}");
    }
    support::audit_verifies(setup.warden());
    assert!(support::replays_identically(setup.warden(), Some(&setup.config)) >= 1);
    tokio.block_on(pg.close());
}
