//! Latency of the MariaDB connector against bare statements: provisioning (create
//! locked, revoke all, grant, set password and unlock) against `CREATE USER … IDENTIFIED BY`
//! plus one `GRANT`, and removal (lock, kill, drop, confirm) against `DROP USER`, with
//! and without an open session of the account.
//!
//! `WARDEN_TEST_MARIADB_URL=mysql://root@127.0.0.1:3306/ cargo run --release -p
//! warden-connect-mariadb --example latency [-- ROUNDS]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a measurement tool"
)]

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use warden_connect::conformance::{self, Setup};
use warden_connect::{Connector, Prefix, Settings};
use warden_model::IdentityId;

#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn start() -> Instant {
    Instant::now()
}

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1e3;
    let pick = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<44} median {:>7.2} ms   p90 {:>7.2} ms   max {:>7.2} ms",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(1.0))
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("WARDEN_TEST_MARIADB_URL").expect("set WARDEN_TEST_MARIADB_URL");
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(50, |s| s.parse().expect("ROUNDS"));
    let root =
        Opts::from(OptsBuilder::from_opts(Opts::from_url(&url).unwrap()).prefer_socket(false));
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let db = format!("wt_{tag}");
    let mut admin = Conn::new(root.clone()).await.unwrap();
    admin
        .query_drop(format!("CREATE DATABASE `{db}`"))
        .await
        .unwrap();
    admin
        .query_drop(format!("CREATE TABLE `{db}`.t (a INT)"))
        .await
        .unwrap();

    let settings = Settings {
        name: "bench".into(),
        url: format!(
            "{url}{}prefer_socket=false",
            if url.contains('?') { '&' } else { '?' }
        )
        .into(),
        prefix: Prefix::parse(&format!("wt_{tag}_")).unwrap(),
        options: Default::default(),
    };
    let c = warden_connect_mariadb::connect(&settings).await.unwrap();
    let setup = Setup {
        prefix: settings.prefix.clone(),
        subject: IdentityId::parse("bench@example.com").unwrap(),
        grants: vec![format!("SELECT ON {db}.*")],
    };
    // Warm the pool so the first round does not pay for the connection.
    c.observe().await.unwrap();

    let (mut bare_create, mut bare_drop) = (Vec::new(), Vec::new());
    let (mut provision, mut revoke, mut revoke_open) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let user = format!("wt_{tag}_bare{i}");
        let t = start();
        admin
            .query_drop(format!(
                "CREATE USER '{user}'@'%' IDENTIFIED BY 'Bench{i}Password'"
            ))
            .await
            .unwrap();
        admin
            .query_drop(format!("GRANT SELECT ON `{db}`.* TO '{user}'@'%'"))
            .await
            .unwrap();
        bare_create.push(t.elapsed());
        let t = start();
        admin
            .query_drop(format!("DROP USER '{user}'@'%'"))
            .await
            .unwrap();
        bare_drop.push(t.elapsed());

        let spec = setup.spec(conformance::now());
        let t = start();
        let cred = c.provision(&spec).await.unwrap().unwrap();
        provision.push(t.elapsed());
        // Every other round revokes with a session of the account open, so the kill
        // and its confirmation are measured too.
        if i % 2 == 0 {
            let t = start();
            c.revoke(&spec).await.unwrap();
            revoke.push(t.elapsed());
        } else {
            let opts = OptsBuilder::from_opts(root.clone())
                .user(Some(cred.username.clone()))
                .pass(Some(cred.password().to_owned()))
                .db_name(Some(db.clone()));
            let mut session = Conn::new(opts).await.unwrap();
            session
                .query_drop(format!("SELECT 1 FROM `{db}`.t"))
                .await
                .unwrap();
            let t = start();
            c.revoke(&spec).await.unwrap();
            revoke_open.push(t.elapsed());
            drop(session);
        }
    }
    println!(
        "{rounds} rounds, MariaDB at {}:{}",
        root.ip_or_hostname(),
        root.tcp_port()
    );
    summary("bare CREATE USER + GRANT", bare_create);
    summary("connector provision", provision);
    summary("bare DROP USER", bare_drop);
    summary("connector revoke, no session open", revoke);
    summary("connector revoke, one session open", revoke_open);

    c.disconnect().await.unwrap();
    admin
        .query_drop(format!("DROP DATABASE `{db}`"))
        .await
        .unwrap();
    admin.disconnect().await.unwrap();
}
