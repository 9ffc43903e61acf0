//! The hash-chained audit table: appends that link each event to the one before, and a
//! verifier that walks the chain in batches and names the first broken event.
//!
//! An event's hash is `sha256:<hex>` of the canonical JSON (see
//! [`warden_model::canonical`]) of the object with every stored field but `hash`:
//! `seq`, `at` (unix milliseconds), `actor`, `action`, `request_id`, `grant_id`,
//! `before_state`, `after_state`, `bundle_hash` (each a string or `null`), `data` (the JSON
//! value) and `prev_hash`. The first event's `prev_hash` is [`GENESIS_HASH`]. Anyone holding
//! a copy of the table can recompute the chain from this description alone.

use serde::Serialize;
use warden_model::Timestamp;
use warden_model::canonical::hash_of;

use crate::conn::{Conn, RowExt, count, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::id::{GrantId, RequestId};
use crate::request::json_text;
use crate::store::{AuditHead, Store, Tx};

/// The `prev_hash` of the first event: no event hashes to it.
pub const GENESIS_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// How many events [`Store::verify_audit`] holds in memory at once.
const VERIFY_BATCH: i64 = 1000;

/// An audit event to append; the store assigns its place in the chain.
#[derive(Clone, PartialEq, Debug)]
pub struct NewAuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it (an identity, `system`, a worker).
    pub actor: String,
    /// What was done (`request.created`, `grant.activated`, …).
    pub action: String,
    /// The request concerned, if any.
    pub request_id: Option<RequestId>,
    /// The grant concerned, if any.
    pub grant_id: Option<GrantId>,
    /// The state before, if a state changed.
    pub before_state: Option<String>,
    /// The state after, if a state changed.
    pub after_state: Option<String>,
    /// The policy bundle involved, if any.
    pub bundle_hash: Option<String>,
    /// Anything else worth keeping (decision reasons, errors, …).
    pub data: serde_json::Value,
}

/// A stored audit event.
#[derive(Clone, PartialEq, Debug)]
pub struct AuditEvent {
    /// Its place in the chain, from 1 with no gaps.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The request concerned, if any.
    pub request_id: Option<RequestId>,
    /// The grant concerned, if any.
    pub grant_id: Option<GrantId>,
    /// The state before, if a state changed.
    pub before_state: Option<String>,
    /// The state after, if a state changed.
    pub after_state: Option<String>,
    /// The policy bundle involved, if any.
    pub bundle_hash: Option<String>,
    /// Anything else worth keeping.
    pub data: serde_json::Value,
    /// The previous event's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This event's hash (see the module documentation).
    pub hash: String,
}

/// What [`Store::verify_audit`] found.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditReport {
    /// How many events were checked and found sound, before the first break if any.
    pub checked: u64,
    /// The first broken event, if the chain is broken.
    pub first_broken: Option<Broken>,
}

/// Where and why the audit chain breaks.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Broken {
    /// The first seq at which the chain is not what it should be (for a deleted event,
    /// the seq that is missing).
    pub seq: u64,
    /// What is wrong there.
    pub reason: String,
}

/// An event exactly as stored, for hashing: nothing is re-encoded on the way.
struct Raw {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    request_id: Option<String>,
    grant_id: Option<String>,
    before_state: Option<String>,
    after_state: Option<String>,
    bundle_hash: Option<String>,
    data: String,
    prev_hash: String,
    hash: String,
}

/// The hashed object; field names are part of the chain's definition.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    request_id: Option<&'a str>,
    grant_id: Option<&'a str>,
    before_state: Option<&'a str>,
    after_state: Option<&'a str>,
    bundle_hash: Option<&'a str>,
    data: &'a serde_json::Value,
    prev_hash: &'a str,
}

impl Raw {
    fn hashed<'a>(&'a self, data: &'a serde_json::Value) -> Hashed<'a> {
        Hashed {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            request_id: self.request_id.as_deref(),
            grant_id: self.grant_id.as_deref(),
            before_state: self.before_state.as_deref(),
            after_state: self.after_state.as_deref(),
            bundle_hash: self.bundle_hash.as_deref(),
            data,
            prev_hash: &self.prev_hash,
        }
    }

    fn into_event(self) -> Result<AuditEvent, StoreError> {
        let corrupt = |col: &str, e: Box<dyn std::error::Error + Send + Sync>| {
            StoreError::corrupt(format!("audit event {} column `{col}`", self.seq), e)
        };
        Ok(AuditEvent {
            seq: count(self.seq),
            at: Timestamp::from_unix_millis(self.at).ok_or_else(|| StoreError::Corrupt {
                what: format!("audit event {} holds an impossible time", self.seq),
                source: None,
            })?,
            request_id: self
                .request_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| corrupt("request_id", Box::new(e)))?,
            grant_id: self
                .grant_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| corrupt("grant_id", Box::new(e)))?,
            data: serde_json::from_str(&self.data).map_err(|e| corrupt("data", Box::new(e)))?,
            actor: self.actor,
            action: self.action,
            before_state: self.before_state,
            after_state: self.after_state,
            bundle_hash: self.bundle_hash,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn hash_error(e: serde_json::Error) -> StoreError {
    StoreError::Invalid(format!("audit event cannot be hashed: {e}"))
}

impl Tx {
    /// Appends an event at the end of the chain and returns it as stored.
    ///
    /// Concurrent appenders are serialised: on PostgreSQL this locks the chain's head row
    /// until the transaction ends; on SQLite the transaction already holds the write lock.
    pub async fn append_audit(&mut self, e: &NewAuditEvent) -> Result<AuditEvent, StoreError> {
        self.append_queued_audit().await?;
        self.append_now(e).await
    }

    async fn append_now(&mut self, e: &NewAuditEvent) -> Result<AuditEvent, StoreError> {
        let mut raws = self.append_chained(std::slice::from_ref(e)).await?;
        raws.pop()
            .ok_or_else(|| StoreError::Invalid("no audit event was appended".to_owned()))?
            .into_event()
    }

    /// Appends `events` after the chain's head, in order, with as few statements as the
    /// backend's bound-parameter limit allows; returns them as stored. On failure the head
    /// is left where it was.
    async fn append_chained(&mut self, events: &[NewAuditEvent]) -> Result<Vec<Raw>, StoreError> {
        let held = match self.audit_head.take() {
            Some(held) => held,
            None => {
                let (seq, hash) = head(&mut self.conn(), true).await?;
                AuditHead {
                    seq,
                    hash,
                    moved: false,
                }
            }
        };
        let appended = async {
            let raws = chain_after(&held, events)?;
            for rows in raws.chunks(INSERT_ROWS) {
                insert_raws(&mut self.conn(), rows).await?;
            }
            Ok::<_, StoreError>(raws)
        }
        .await;
        match appended {
            Ok(raws) => {
                if let Some(last) = raws.last() {
                    self.audit_head = Some(AuditHead {
                        seq: last.seq,
                        hash: last.hash.clone(),
                        moved: true,
                    });
                } else {
                    self.audit_head = Some(held);
                }
                Ok(raws)
            }
            Err(e) => {
                // A failed insert leaves the head where it was (and still owed to the row
                // if an earlier append of this transaction moved it).
                self.audit_head = Some(held);
                Err(e)
            }
        }
    }

    /// Queues an event to be appended at the end of the chain when this transaction
    /// commits, after every event appended or queued before it.
    ///
    /// Why queue: the chain's head is locked from a transaction's first append until it
    /// ends, so appending last holds that lock only for the appends and the commit, and
    /// transactions that change different rows do the rest of their work side by side.
    /// The event's `at` is the caller's; its `seq` and hashes are given at commit.
    ///
    /// An event about a request that someone filed for another (a broker, or an ITSM)
    /// names both: at commit, `data.requester` and `data.filed_by` are added unless the
    /// event's data already has `filed_by`; the requests are read in one query.
    pub fn queue_audit(&mut self, e: NewAuditEvent) {
        self.queued_audit.push(e);
    }

    /// Appends the queued events, each naming its request's filer where it should;
    /// called by [`Tx::commit`].
    pub(crate) async fn append_queued_audit(&mut self) -> Result<(), StoreError> {
        let mut queued = std::mem::take(&mut self.queued_audit);
        if queued.is_empty() {
            return Ok(());
        }
        let about: Vec<RequestId> = queued
            .iter()
            .filter(|e| names_no_filer(e))
            .filter_map(|e| e.request_id)
            .collect();
        let filers = if about.is_empty() {
            std::collections::HashMap::new()
        } else {
            self.request_filers(&about).await?
        };
        for e in queued.iter_mut().filter(|e| names_no_filer(e)) {
            let filer = e.request_id.and_then(|rid| filers.get(&rid));
            if let Some((requester, filed_by)) = filer
                && filed_by != requester.as_str()
                && let Some(data) = e.data.as_object_mut()
            {
                data.insert("requester".into(), serde_json::json!(requester));
                data.insert("filed_by".into(), serde_json::json!(filed_by));
            }
        }
        self.append_chained(&queued).await?;
        Ok(())
    }

    /// Writes the head this transaction advanced back to its row; called by
    /// [`Tx::commit`].
    pub(crate) async fn write_audit_head(&mut self) -> Result<(), StoreError> {
        let Some(AuditHead {
            seq,
            hash,
            moved: true,
        }) = self.audit_head.take()
        else {
            return Ok(());
        };
        on_conn!(&mut self.conn(), c => {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(seq)
                .bind(&hash)
                .execute(&mut **c)
                .await
                .map_err(db_err)?;
        });
        Ok(())
    }
}

impl Store {
    /// The chain's head as stored: the last event's seq and hash (`0` and
    /// [`GENESIS_HASH`] before the first event). This is what an audit checkpoint signs.
    pub async fn audit_head(&self) -> Result<(u64, String), StoreError> {
        let (seq, hash) = head(&mut self.acquire().await?.conn(), false).await?;
        Ok((count(seq), hash))
    }

    /// Up to `limit` events with `seq > after`, in chain order.
    pub async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let raws = raw_after(
            &mut self.acquire().await?.conn(),
            after,
            i64::MAX,
            i64::from(limit),
        )
        .await?;
        raws.into_iter().map(Raw::into_event).collect()
    }

    /// Up to `limit` events about grant `grant`, in chain order: what a break-glass review
    /// shows of what was done.
    pub async fn audit_of_grant(
        &self,
        grant: crate::id::GrantId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let raws = on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(
                "SELECT seq, at, actor, action, request_id, grant_id, before_state, after_state, \
                    bundle_hash, data, prev_hash, hash FROM audit_events \
                 WHERE grant_id = $1 ORDER BY seq LIMIT $2",
            )
            .bind(grant.to_string())
            .bind(i64::from(limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode).collect::<Result<Vec<_>, _>>()
        })?;
        raws.into_iter().map(Raw::into_event).collect()
    }

    /// Walks the whole chain in seq order, a batch at a time, and reports the first event
    /// that is missing, out of place, unlinked from its predecessor or altered, and whether
    /// the chain's head matches its last event.
    ///
    /// Events appended after the walk starts are left for the next run.
    pub async fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let mut pooled = self.acquire().await?;
        let mut conn = pooled.conn();
        let (head_seq, head_hash) = head(&mut conn, false).await?;
        let mut last_seq: i64 = 0;
        let mut last_hash = GENESIS_HASH.to_owned();
        let mut checked: u64 = 0;
        let broken = |checked: u64, seq: i64, reason: String| AuditReport {
            checked,
            first_broken: Some(Broken {
                seq: count(seq),
                reason,
            }),
        };
        loop {
            let batch = raw_after(&mut conn, last_seq, head_seq, VERIFY_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for raw in batch {
                let expected = last_seq.saturating_add(1);
                if raw.seq != expected {
                    return Ok(broken(
                        checked,
                        expected,
                        format!(
                            "event {expected} is missing; the next stored event is {}",
                            raw.seq
                        ),
                    ));
                }
                if raw.prev_hash != last_hash {
                    return Ok(broken(
                        checked,
                        raw.seq,
                        format!("prev_hash does not match the hash of event {last_seq}"),
                    ));
                }
                let data: serde_json::Value = match serde_json::from_str(&raw.data) {
                    Ok(v) => v,
                    Err(_) => {
                        return Ok(broken(checked, raw.seq, "data is not json".to_owned()));
                    }
                };
                let hash = hash_of(&raw.hashed(&data)).map_err(hash_error)?;
                if hash != raw.hash {
                    return Ok(broken(
                        checked,
                        raw.seq,
                        "hash does not match the event's contents".to_owned(),
                    ));
                }
                last_seq = raw.seq;
                last_hash = raw.hash;
                checked += 1;
            }
        }
        if last_seq != head_seq {
            return Ok(broken(
                checked,
                last_seq.saturating_add(1),
                format!("the chain ends at event {last_seq} but its head says {head_seq}"),
            ));
        }
        if last_hash != head_hash {
            return Ok(broken(
                checked,
                head_seq,
                format!("the chain's head hash does not match event {head_seq}"),
            ));
        }
        Ok(AuditReport {
            checked,
            first_broken: None,
        })
    }
}

/// Whether `e` is about a request and its data does not say who filed it.
fn names_no_filer(e: &NewAuditEvent) -> bool {
    e.request_id.is_some()
        && e.data
            .as_object()
            .is_some_and(|data| !data.contains_key("filed_by"))
}

/// The most events one `INSERT` carries: 12 bound values each stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535.
const INSERT_ROWS: usize = 256;

/// `events` as the stored rows that follow `held` on the chain, each linked to and hashed
/// after the one before.
fn chain_after(held: &AuditHead, events: &[NewAuditEvent]) -> Result<Vec<Raw>, StoreError> {
    let mut raws: Vec<Raw> = Vec::with_capacity(events.len());
    let (mut seq, mut prev_hash) = (held.seq, held.hash.clone());
    for e in events {
        seq = seq
            .checked_add(1)
            .ok_or_else(|| StoreError::Invalid("the audit chain is full".to_owned()))?;
        let mut raw = Raw {
            seq,
            at: ms(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            request_id: e.request_id.map(|id| id.to_string()),
            grant_id: e.grant_id.map(|id| id.to_string()),
            before_state: e.before_state.clone(),
            after_state: e.after_state.clone(),
            bundle_hash: e.bundle_hash.clone(),
            data: json_text(&e.data)?,
            prev_hash,
            hash: String::new(),
        };
        raw.hash = hash_of(&raw.hashed(&e.data)).map_err(hash_error)?;
        prev_hash = raw.hash.clone();
        raws.push(raw);
    }
    Ok(raws)
}

/// Inserts `rows` in one statement.
async fn insert_raws(conn: &mut Conn<'_>, rows: &[Raw]) -> Result<(), StoreError> {
    on_conn!(conn, c => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, \
                before_state, after_state, bundle_hash, data, prev_hash, hash) ",
        );
        insert.push_values(rows, |mut row, raw| {
            row.push_bind(raw.seq)
                .push_bind(raw.at)
                .push_bind(raw.actor.as_str())
                .push_bind(raw.action.as_str())
                .push_bind(raw.request_id.as_deref())
                .push_bind(raw.grant_id.as_deref())
                .push_bind(raw.before_state.as_deref())
                .push_bind(raw.after_state.as_deref())
                .push_bind(raw.bundle_hash.as_deref())
                .push_bind(raw.data.as_str())
                .push_bind(raw.prev_hash.as_str())
                .push_bind(raw.hash.as_str());
        });
        insert.build().execute(&mut **c).await.map(|_| ()).map_err(db_err)
    })
}

/// The chain's head: the last seq and its hash. `lock` takes the row lock on PostgreSQL.
async fn head(conn: &mut Conn<'_>, lock: bool) -> Result<(i64, String), StoreError> {
    let sql = if lock && conn.is_postgres() {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    on_conn!(conn, c => {
        let row = sqlx::query(sql)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::Corrupt {
                what: "the audit chain's head row is missing".to_owned(),
                source: None,
            })?;
        Ok((row.int("seq")?, row.text("hash")?))
    })
}

/// Up to `limit` stored events with `after < seq <= until`, in seq order.
async fn raw_after(
    conn: &mut Conn<'_>,
    after: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<Raw>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, request_id, grant_id, before_state, after_state, \
                bundle_hash, data, prev_hash, hash FROM audit_events \
             WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(until)
        .bind(limit)
        .fetch_all(&mut **c)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode).collect()
    })
}

fn decode(row: &impl RowExt) -> Result<Raw, StoreError> {
    Ok(Raw {
        seq: row.int("seq")?,
        at: row.int("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        request_id: row.opt_text("request_id")?,
        grant_id: row.opt_text("grant_id")?,
        before_state: row.opt_text("before_state")?,
        after_state: row.opt_text("after_state")?,
        bundle_hash: row.opt_text("bundle_hash")?,
        data: row.text("data")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}
