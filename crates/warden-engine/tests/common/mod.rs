//! What the engine's tests against a real Redis share: a fresh account prefix, the
//! connector, its target's address, and the stores to run on.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by test files that each use a part; a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;
use warden_connect::{Connector, Prefix, Settings};
use warden_store::{Store, testing};

/// A prefix no other run shares: `tag`, twelve random letters (`a`–`p`, one per nibble, so
/// no two runs share one by chance of digits) and `_`.
pub fn fresh_prefix(tag: &str) -> Prefix {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let letters: String = b
        .iter()
        .flat_map(|x| [x >> 4, x & 0x0f])
        .map(|n| char::from(b'a' + n))
        .collect();
    Prefix::parse(&format!("{tag}{letters}_")).unwrap()
}

/// `host:port` of a `redis://host:port` URL.
pub fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    host.split('/').next().unwrap().to_owned()
}

/// The example's `cache-redis` connector on `url`, owning `prefix`.
pub async fn redis(url: &str, prefix: &Prefix) -> Arc<dyn Connector> {
    Arc::new(
        warden_connect_redis::connect(&Settings {
            name: "cache-redis".into(),
            url: SecretString::from(url.to_owned()),
            prefix: prefix.clone(),
            options: BTreeMap::new(),
        })
        .await
        .unwrap(),
    )
}

/// The stores under test: SQLite always, PostgreSQL when configured.
pub async fn stores() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let (sqlite, dir) = testing::sqlite().await;
    let mut out = vec![("sqlite", sqlite, Some(dir))];
    if let Some((pg, _)) = testing::postgres().await {
        out.push(("postgres", pg, None));
    }
    out
}
