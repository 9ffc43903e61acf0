//! The audit trail, for administrators and auditors: `GET /ui/audit` pages through it,
//! newest first or in chain order, and `GET /ui/audit/verify` walks the hash chain.
//!
//! **Paging.** Events are numbered from 1 with no gaps, so a page is read with
//! `Engine::audit_page` counting back from the chain's head (newest first) or forward from
//! a seq (chain order); the links carry the last seq read (`before=` or `after=`).
//!
//! **Filtering** by action prefix and actor is done on the events a page reads: no index
//! serves "actor is X" or "action starts with P" in seq order (the one index on actions,
//! `(action, at)`, serves the evidence report's walks of one exact action). A filtered page
//! reads at most [`SCAN`] events, shows those that match, and says which span of the
//! chain it searched; its links carry on from there. A page costs the same however long
//! the trail is.
//!
//! **Verification** walks every event of the chain and recomputes its hash, so it is not
//! part of the trail page: with half a million events that would make every page view
//! slow. It has a page of its own, `GET /ui/audit/verify`, which walks the chain when it is
//! asked (one walk at a time in this process; a second viewer waits for the first) and shows
//! whether the chain is sound, how many events were checked, where it first breaks, its
//! head, and the signed checkpoints when this server holds the checkpoint file — the
//! figures of `GET /v1/audit/verify` and of the evidence report's `audit_integrity`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::Semaphore;
use warden_engine::trail::AuditEvent;
use warden_engine::{Engine, EngineError};

use crate::Console;
use crate::page::{Layout, PageError, render};
use crate::session::User;

/// Events per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;
/// The most events one page shows.
const MAX_LIMIT: u32 = 200;
/// The most events a filtered page reads looking for matches.
pub const SCAN: u64 = 2_000;
/// Events read from the store at once.
const CHUNK: u64 = 500;
/// How much of an event's details a row shows.
const DATA_SHOWN: usize = 240;

/// One chain walk at a time in this process.
static VERIFYING: Semaphore = Semaphore::const_new(1);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Newest,
    Chain,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Newest => "newest",
            Order::Chain => "chain",
        }
    }
}

/// What the page was asked for.
struct Params {
    order: Order,
    before: Option<u64>,
    after: Option<u64>,
    action: String,
    actor: String,
    limit: u32,
}

impl Params {
    /// The parameters as given, or the first that is not valid, named.
    fn parse(fields: &[(String, String)], typed: &mut Typed) -> Result<Self, String> {
        let mut p = Params {
            order: Order::Newest,
            before: None,
            after: None,
            action: String::new(),
            actor: String::new(),
            limit: DEFAULT_LIMIT,
        };
        let seq = |name: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("`{name}`: `{v}` is not an event number"))
        };
        let (mut before, mut after) = (String::new(), String::new());
        for (k, v) in fields {
            let v = v.trim().to_owned();
            match k.as_str() {
                "order" => typed.order = v,
                "action" => typed.action = v,
                "actor" => typed.actor = v,
                "limit" => typed.limit = v,
                "before" => before = v,
                "after" => after = v,
                _ => {}
            }
        }
        if !before.is_empty() {
            p.before = Some(seq("before", &before)?);
        }
        if !after.is_empty() {
            p.after = Some(seq("after", &after)?);
        }
        p.order = match typed.order.as_str() {
            "" | "newest" => Order::Newest,
            "chain" => Order::Chain,
            other => return Err(format!("`order`: `{other}` is not `newest` or `chain`")),
        };
        if typed.action.len() > 100
            || !typed
                .action
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(
                "`action`: an action or the start of one, such as `grant.` or `request.decided`"
                    .into(),
            );
        }
        p.action = typed.action.clone();
        if typed.actor.len() > 200 || typed.actor.chars().any(char::is_control) {
            return Err("`actor`: an identity or another actor's name, such as `bob`".into());
        }
        p.actor = typed.actor.clone();
        if !typed.limit.is_empty() {
            p.limit = typed
                .limit
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("`limit`: a whole number from 1 to {MAX_LIMIT}"))?;
        }
        if p.before.is_some() && p.after.is_some() {
            return Err("give `before` or `after`, not both".into());
        }
        Ok(p)
    }

    fn filtered(&self) -> bool {
        !self.action.is_empty() || !self.actor.is_empty()
    }

    fn matches(&self, e: &AuditEvent) -> bool {
        e.action.starts_with(&self.action) && (self.actor.is_empty() || e.actor == self.actor)
    }

    /// The query string of a link to the page at `cursor` (`before=…` or `after=…`).
    fn link(&self, cursor: (&str, u64)) -> String {
        let mut fields = vec![("order", self.order.as_str().to_owned())];
        if !self.action.is_empty() {
            fields.push(("action", self.action.clone()));
        }
        if !self.actor.is_empty() {
            fields.push(("actor", self.actor.clone()));
        }
        if self.limit != DEFAULT_LIMIT {
            fields.push(("limit", self.limit.to_string()));
        }
        fields.push((cursor.0, cursor.1.to_string()));
        format!(
            "/ui/audit?{}",
            serde_urlencoded::to_string(&fields).unwrap_or_default()
        )
    }
}

/// The filter form as typed, shown back.
#[derive(Default)]
struct Typed {
    order: String,
    action: String,
    actor: String,
    limit: String,
}

/// What one page read: the matching events in seq order and the span searched.
struct Scanned {
    events: Vec<AuditEvent>,
    low: u64,
    high: u64,
    read: u64,
}

/// Reads the page `p` asks for from a chain whose head is `head`.
async fn scan(engine: &Engine, head: u64, p: &Params) -> Result<Scanned, EngineError> {
    let budget = if p.filtered() {
        SCAN
    } else {
        u64::from(p.limit)
    };
    let want = p.limit as usize;
    let mut out = Scanned {
        events: Vec::new(),
        low: 0,
        high: 0,
        read: 0,
    };
    let downward = match (p.before, p.after, p.order) {
        (Some(_), _, _) => true,
        (None, Some(_), _) => false,
        (None, None, order) => order == Order::Newest,
    };
    if downward {
        // From just below `before` (the head when not given) towards the first event.
        let mut top = p
            .before
            .unwrap_or(u64::MAX)
            .min(head.saturating_add(1))
            .saturating_sub(1);
        out.high = top;
        'read: while top >= 1 && out.read < budget && out.events.len() < want {
            let n = CHUNK.min(top).min(budget - out.read);
            let from = top - n;
            let batch = engine
                .audit_page(from, u32::try_from(n).unwrap_or(u32::MAX))
                .await?;
            if batch.is_empty() {
                break;
            }
            for e in batch.into_iter().rev() {
                out.read += 1;
                out.low = e.seq;
                let hit = p.matches(&e);
                if hit {
                    out.events.push(e);
                }
                if out.events.len() >= want || out.read >= budget {
                    break 'read;
                }
            }
            top = from;
        }
        out.events.reverse();
    } else {
        // From just above `after` (the start when not given) towards the head.
        let mut cursor = p.after.unwrap_or(0).min(head);
        out.low = cursor.saturating_add(1);
        'read: while cursor < head && out.read < budget && out.events.len() < want {
            let n = CHUNK.min(head - cursor).min(budget - out.read);
            let batch = engine
                .audit_page(cursor, u32::try_from(n).unwrap_or(u32::MAX))
                .await?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                out.read += 1;
                out.high = e.seq;
                cursor = e.seq;
                let hit = p.matches(&e);
                if hit {
                    out.events.push(e);
                }
                if out.events.len() >= want || out.read >= budget {
                    break 'read;
                }
            }
        }
    }
    Ok(out)
}

struct Row {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    request: String,
    grant: String,
    change: String,
    data: String,
}

impl Row {
    fn of(e: &AuditEvent) -> Self {
        let mut data = match &e.data {
            serde_json::Value::Null => String::new(),
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            other => other.to_string(),
        };
        if data.chars().count() > DATA_SHOWN {
            data = data.chars().take(DATA_SHOWN).collect::<String>() + "…";
        }
        Self {
            seq: e.seq,
            at: super::when(&e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            request: e.request_id.map(|r| r.to_string()).unwrap_or_default(),
            grant: e.grant_id.map(|g| g.to_string()).unwrap_or_default(),
            change: match (&e.before_state, &e.after_state) {
                (Some(b), Some(a)) => format!("{b} → {a}"),
                (None, Some(a)) => format!("→ {a}"),
                (Some(b), None) => format!("{b} →"),
                (None, None) => String::new(),
            },
            data,
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    problem: String,
    chain_order: bool,
    action: String,
    actor: String,
    limit: String,
    head: u64,
    rows: Vec<Row>,
    filtered: bool,
    scan: u64,
    read: u64,
    low: u64,
    high: u64,
    newer: String,
    older: String,
    /// Set on the verification page, which shows only that.
    verification: Option<Verification>,
}

impl AuditPage {
    fn empty(layout: Layout, head: u64) -> Self {
        Self {
            layout,
            problem: String::new(),
            chain_order: false,
            action: String::new(),
            actor: String::new(),
            limit: String::new(),
            head,
            rows: Vec::new(),
            filtered: false,
            scan: SCAN,
            read: 0,
            low: 0,
            high: 0,
            newer: String::new(),
            older: String::new(),
            verification: None,
        }
    }
}

/// `GET /ui/audit?order=&action=&actor=&limit=&before=|after=`.
pub async fn page(
    State(console): State<Console>,
    user: User,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    user.require_reader()?;
    let engine = &console.engine;
    let (head, _) = engine.audit_head().await?;
    let mut typed = Typed::default();
    let parsed = Params::parse(&fields, &mut typed);
    let mut page = AuditPage::empty(Layout::new("Audit trail", &user, "audit"), head);
    page.chain_order = typed.order == "chain";
    page.action = typed.action.clone();
    page.actor = typed.actor.clone();
    page.limit = typed.limit.clone();
    let p = match parsed {
        Ok(p) => p,
        Err(problem) => {
            page.problem = problem;
            let mut response = render(&page)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let scanned = scan(engine, head, &p).await?;
    let mut rows: Vec<Row> = scanned.events.iter().map(Row::of).collect();
    if p.order == Order::Newest {
        rows.reverse();
    }
    page.rows = rows;
    page.filtered = p.filtered();
    page.read = scanned.read;
    page.low = scanned.low;
    page.high = scanned.high;
    if scanned.read > 0 {
        if scanned.low > 1 {
            page.older = p.link(("before", scanned.low));
        }
        if scanned.high < head {
            page.newer = p.link(("after", scanned.high));
        }
    } else if head > 0 {
        // Nothing read: past either end. Offer the way back.
        match (p.before, p.after) {
            (Some(_), _) => page.newer = p.link(("after", 0)),
            (_, Some(_)) => page.older = p.link(("before", head.saturating_add(1))),
            _ => {}
        }
    }
    render(&page)
}

/// What a walk of the chain found.
struct Verification {
    ok: bool,
    checked: u64,
    broken_seq: u64,
    broken_reason: String,
    head_hash: String,
    checkpoints: Option<Checkpoints>,
}

struct Checkpoints {
    checked: u64,
    problem: String,
    /// The newest checkpoint verified: the seq it signed and when, in words.
    last: String,
}

/// `GET /ui/audit/verify`: walks the whole chain now and shows what it found.
pub async fn verify(State(console): State<Console>, user: User) -> Result<Response, PageError> {
    user.require_reader()?;
    let engine = &console.engine;
    let _turn = VERIFYING
        .acquire()
        .await
        .map_err(|_| PageError::internal())?;
    let chain = engine.verify_audit().await?;
    let checkpoints = match &engine.config().checkpoints {
        Some(v) => {
            let c = v.verify(engine.store(), &chain).await;
            Some(Checkpoints {
                checked: c.checked,
                problem: c.problem.unwrap_or_default(),
                last: c
                    .last
                    .map(|(seq, at)| format!("event {seq}, signed {}", super::when(&at)))
                    .unwrap_or_default(),
            })
        }
        None => None,
    };
    let (head, head_hash) = engine.audit_head().await?;
    let mut page = AuditPage::empty(
        Layout::new("Audit chain verification", &user, "audit"),
        head,
    );
    page.verification = Some(Verification {
        ok: chain.first_broken.is_none(),
        checked: chain.checked,
        broken_seq: chain.first_broken.as_ref().map_or(0, |b| b.seq),
        broken_reason: chain.first_broken.map(|b| b.reason).unwrap_or_default(),
        head_hash,
        checkpoints,
    });
    render(&page)
}
