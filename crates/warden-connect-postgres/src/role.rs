//! What the connector does to login roles: provision one for a grant, remove one with every
//! session and object it left, and list Warden's. Each function takes the admin session and
//! names only roles that parsed as Warden's accounts or as `grants` entries.
//!
//! Round trips and commits are what an operation costs on a nearby server, so each one
//! reads the state it needs in one query, has the server build every utility statement
//! there (`format()` quotes each name and literal, nothing is spliced here), and sends the
//! statements as one batch: a batch of several statements is one transaction.

use std::collections::BTreeSet;
use std::time::Duration;

use secrecy::SecretString;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};
use warden_connect::ConnectError;

use crate::admin::{Admin, Session};
use crate::error::{Echo, map, map_holding};
use crate::scram;

/// How long `remove` waits for the sessions it terminated to be gone before it reports
/// that a retry is needed.
const SESSION_WAIT: Duration = Duration::from_secs(10);
/// The longest pause between two looks at the sessions being ended.
const SESSION_POLL_MAX: Duration = Duration::from_millis(50);

/// What provisioning asks of the role besides its name, password and groups.
pub(crate) struct Shape<'a> {
    /// The most sessions the role may hold at once.
    pub connection_limit: u32,
    /// `VALID UNTIL`, RFC 3339: a backstop in case revocation never comes.
    pub valid_until: &'a str,
}

/// `reach(root, oid, path, custom, why)`: every role a `want` entry reaches through
/// `pg_auth_members`, transitively (a member of `a`, which is a member of `b`, may `SET
/// ROLE b` and holds its attributes and privileges), each with the chain of names that
/// leads there. `why` marks a role no grant may reach: one with an attribute a session
/// could use after `SET ROLE` (`attribute`), one of the refused server-file roles in
/// `$6` (`server files`), or a predefined `pg_*` role reached through a role that is not
/// itself predefined (`predefined`). An entry that names a predefined role is not refused
/// for that, nor for the predefined roles it is a member of (`pg_monitor` is a member of
/// `pg_read_all_stats`): what the bundle names is what it grants. Role names starting with
/// `pg_` are reserved for predefined roles, so the prefix tells them apart. A chain stops
/// at its first refused role; PostgreSQL refuses circular memberships, and a chain never
/// revisits a name all the same.
macro_rules! reach_sql {
    () => {
        "reach(root, oid, path, custom, why) AS ( \
           SELECT w.g, r.oid, ARRAY[r.rolname::text], NOT starts_with(r.rolname::text, 'pg_'), \
             CASE WHEN r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication \
                       OR r.rolbypassrls THEN 'attribute' \
                  WHEN r.rolname::text = ANY ($6::text[]) THEN 'server files' END \
           FROM want w JOIN pg_roles r ON r.rolname = w.g \
           UNION ALL \
           SELECT c.root, g.oid, c.path || g.rolname::text, \
             c.custom OR NOT starts_with(g.rolname::text, 'pg_'), \
             CASE WHEN g.rolsuper OR g.rolcreaterole OR g.rolcreatedb OR g.rolreplication \
                       OR g.rolbypassrls THEN 'attribute' \
                  WHEN g.rolname::text = ANY ($6::text[]) THEN 'server files' \
                  WHEN c.custom AND starts_with(g.rolname::text, 'pg_') THEN 'predefined' END \
           FROM reach c JOIN pg_auth_members m ON m.member = c.oid \
           JOIN pg_roles g ON g.oid = m.roleid \
           WHERE c.why IS NULL AND g.rolname::text <> ALL (c.path))"
    };
}

/// Provisioning's one look at the server. Parameters: the account, the `grants` entries,
/// the connection limit, the password verifier, `VALID UNTIL`, the group roles no grant
/// may hold ([`crate::REFUSED_GROUPS`]). Returns the entries that name no role; for each
/// entry a session could escalate through (see `reach_sql!`), the entry, the chain of
/// memberships that leads to the refused role (`a → b → c`) and why (`attribute`,
/// `server files`, `predefined`); whether the account exists with an attribute only a
/// superuser may take away (Warden never gives one); and the statements that make the
/// account exactly what the grant says: `CREATE ROLE`, or `ALTER ROLE` and the
/// membership changes.
///
/// `ALTER ROLE` leaves out `NOSUPERUSER`, `NOREPLICATION` and `NOBYPASSRLS`: PostgreSQL 15
/// refuses them from a non-superuser even when they change nothing, and the returned flag
/// stands in for them.
const PLAN_PROVISION: &str = concat!(
    "WITH RECURSIVE want AS (SELECT DISTINCT g FROM unnest($2::text[]) AS g), ",
    reach_sql!(),
    ", \
     refused AS (SELECT DISTINCT ON (root) root, array_to_string(path, ' → ') AS chain, why \
              FROM reach WHERE why IS NOT NULL ORDER BY root, cardinality(path)), \
     acct AS (SELECT oid, rolsuper OR rolreplication OR rolbypassrls AS escalated \
              FROM pg_roles WHERE rolname = $1), \
     held AS (SELECT g.rolname::text AS name FROM acct a \
              JOIN pg_auth_members m ON m.member = a.oid JOIN pg_roles g ON g.oid = m.roleid), \
     holders AS (SELECT r.rolname::text AS name FROM acct a \
              JOIN pg_auth_members m ON m.roleid = a.oid JOIN pg_roles r ON r.oid = m.member) \
SELECT \
  (SELECT array_agg(w.g) FROM want w \
   WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = w.g)), \
  (SELECT array_agg(root ORDER BY root) FROM refused), \
  (SELECT array_agg(chain ORDER BY root) FROM refused), \
  (SELECT array_agg(why ORDER BY root) FROM refused), \
  coalesce((SELECT escalated FROM acct), false), \
  concat_ws('; ', \
    CASE WHEN EXISTS (SELECT 1 FROM acct) \
      THEN format('ALTER ROLE %I WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE \
                   CONNECTION LIMIT %s PASSWORD %L VALID UNTIL %L', $1, $3, $4, $5) \
      ELSE format('CREATE ROLE %I WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE \
                   NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %s PASSWORD %L VALID UNTIL %L', \
                  $1, $3, $4, $5) \
    END, \
    (SELECT string_agg(format('REVOKE %I FROM %I', name, $1), '; ') FROM held \
     WHERE name <> ALL ($2::text[])), \
    (SELECT string_agg(format('GRANT %I TO %I', w.g, $1), '; ') FROM want w \
     WHERE w.g NOT IN (SELECT name FROM held)), \
    (SELECT string_agg(format('REVOKE %I FROM %I', $1, name), '; ') FROM holders))"
);

/// Creates `account` or brings it back to `groups` and a new password, in one transaction.
pub(crate) async fn provision(
    session: &Session,
    account: &str,
    password: &SecretString,
    groups: &[String],
    shape: &Shape<'_>,
) -> Result<(), ConnectError> {
    let what = format!("provisioning role `{account}`");
    // The verifier is computed here, so the password itself never crosses the wire and
    // never lands in the server's statement log or in an error message.
    let verifier = scram::verifier(password)?;
    let limit = i32::try_from(shape.connection_limit).map_err(|_| {
        ConnectError::Config(format!(
            "connection limit `{}` is too large",
            shape.connection_limit
        ))
    })?;
    // The query holds the verifier as a parameter: only its SQLSTATE is ever shown.
    let hide = |e: tokio_postgres::Error| map(&what, Echo::Hide, &e);
    let client = &session.client;
    let refused_groups: &[&str] = crate::REFUSED_GROUPS;
    let row = client
        .query_one(
            &session.statements.plan_provision,
            &[
                &account,
                &groups,
                &limit,
                &verifier,
                &shape.valid_until,
                &refused_groups,
            ],
        )
        .await
        .map_err(hide)?;
    let missing: Option<Vec<String>> = row.try_get(0).map_err(hide)?;
    let refused: Option<Vec<String>> = row.try_get(1).map_err(hide)?;
    let chains: Option<Vec<String>> = row.try_get(2).map_err(hide)?;
    let whys: Option<Vec<String>> = row.try_get(3).map_err(hide)?;
    let escalated: bool = row.try_get(4).map_err(hide)?;
    let statements: String = row.try_get(5).map_err(hide)?;
    for group in groups {
        if missing.as_ref().is_some_and(|m| m.contains(group)) {
            return Err(ConnectError::Permanent(format!(
                "group role `{group}` does not exist on the server"
            )));
        }
        let at = refused
            .as_ref()
            .and_then(|r| r.iter().position(|g| g == group));
        if let Some(at) = at {
            let chain = chains.as_ref().and_then(|c| c.get(at));
            let why = whys.as_ref().and_then(|w| w.get(at));
            return Err(escalation(
                group,
                chain.map_or("", String::as_str),
                why.map_or("", String::as_str),
            ));
        }
    }
    if escalated {
        // Handing out a password for such a role would hand out that attribute.
        return Err(ConnectError::Permanent(format!(
            "role `{account}` has an administrative attribute Warden never gives; remove the role by hand"
        )));
    }
    // One batch, so one transaction and one commit: on any error nothing is changed.
    client
        .batch_execute(&statements)
        .await
        .map_err(|e| map_holding(&what, &verifier, &e))
}

/// The refusal of `group`, which reaches a role no grant may reach through `chain`
/// (`a → b → c`, or just `a` when the group itself is the problem) for reason `why`.
fn escalation(group: &str, chain: &str, why: &str) -> ConnectError {
    let reached = chain.rsplit(" → ").next().unwrap_or(group);
    // A session of the grant's role may `SET ROLE` to any role it reaches through its
    // groups and then act with that role's attributes and privileges, beyond the grant.
    let what = match why {
        "attribute" => {
            "is superuser or may create roles or databases, replicate or bypass row security"
        }
        "server files" => "gives the server's operating-system account",
        _ => {
            "is a predefined role; a grant may name one itself but never get one through another group"
        }
    };
    let how = if reached == group {
        String::new()
    } else {
        format!(" reaches `{reached}` through `{chain}`, which")
    };
    ConnectError::Permanent(format!(
        "group role `{group}`{how} {what}; a grant's session could `SET ROLE` to it"
    ))
}

/// `SELECT … FROM pg_shdepend` naming the databases where role `$1` owns objects or holds
/// privileges. Entries on shared objects (a database's own privileges) are cleared from
/// the admin's database.
macro_rules! owned_in_sql {
    () => {
        "SELECT DISTINCT coalesce(d.datname, current_database())::text AS datname \
         FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid \
         WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1"
    };
}

/// The sessions of role `$1` (named `$2`), each signalled to terminate; the query returns
/// how many there were. `usesysid` is the session user: it stays the role's oid after
/// `SET ROLE` and after the role is dropped, when `usename` is null.
macro_rules! end_sessions_sql {
    () => {
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE (usesysid = $1 OR usename = $2) AND pid <> pg_backend_pid()"
    };
}

/// Removal's one look at the server. Parameter: the account. Returns no row when there is
/// no such role, else its oid, the admin's database and the statements of each step.
/// The lock is committed without waiting for the disk (`synchronous_commit = off`): it
/// takes effect for other sessions at once all the same, and the `DROP ROLE` that ends a
/// removal commits synchronously, which makes every earlier commit durable too.
const PLAN_REMOVAL: &str = "\
SELECT r.oid, current_database()::text, \
  concat_ws('; ', 'SET LOCAL synchronous_commit = off', \
    format('ALTER ROLE %I WITH NOLOGIN', r.rolname), \
    (SELECT string_agg(format('REVOKE %I FROM %I', g.rolname, r.rolname), '; ') \
     FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)), \
  format('SET LOCAL synchronous_commit = off; GRANT %I TO CURRENT_USER', r.rolname), \
  format('REASSIGN OWNED BY %I TO CURRENT_USER; DROP OWNED BY %I', r.rolname, r.rolname), \
  format('DROP ROLE IF EXISTS %I', r.rolname) \
FROM pg_roles r WHERE r.rolname = $1";

/// Ends the sessions of role `$1` (named `$2`) and lists where it owns objects: the count
/// on every row, a database name or null.
const END_AND_LIST: &str = concat!(
    "WITH ended AS (",
    end_sessions_sql!(),
    ") SELECT ended.count, owned.datname FROM ended LEFT JOIN (",
    owned_in_sql!(),
    ") owned ON true"
);

/// Whether role `$1` (named `$2`) is still there by name or oid, and how many of its
/// sessions were still there (each signalled to terminate).
const CONFIRM: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2 OR oid = $1), (",
    end_sessions_sql!(),
    ")"
);

/// Removes `account`: no login, no groups, no sessions, no objects, no role; and confirms.
///
/// Order matters. `DROP ROLE` leaves the role's open sessions running, and a session that
/// ran `SET ROLE <group>` keeps the group's rights after the membership is revoked, so
/// sessions are terminated, found by the role's oid (read before the drop: a dropped role
/// matches no name), after `NOLOGIN` has stopped new ones. Steps that need no answer from
/// the one before are pipelined: sent together, run by the server in order.
pub(crate) async fn remove(
    admin: &Admin,
    session: &Session,
    account: &str,
) -> Result<(), ConnectError> {
    let what = |step: &str| format!("{step} role `{account}`");
    let (client, st) = (&session.client, &session.statements);
    let row = client
        .query_opt(&st.plan_removal, &[&account])
        .await
        .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
    let Some(row) = row else {
        return Ok(());
    };
    let field = |i: usize| -> Result<String, ConnectError> {
        row.try_get(i)
            .map_err(|e| map(&what("looking up"), Echo::Show, &e))
    };
    let oid: u32 = row
        .try_get(0)
        .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
    let here = field(1)?;
    let lock = field(2)?;
    let take_over = field(3)?;
    let clear = field(4)?;
    let drop_role = field(5)?;
    let params: [&(dyn ToSql + Sync); 2] = [&oid, &account];

    // 1. No new logins, no group rights for new statements; committed before
    // 2. the sessions opened before are terminated, including those that switched to a
    // group with `SET ROLE`.
    let (locked, ended) = tokio::join!(
        client.batch_execute(&lock),
        client.query(&st.end_and_list, &params)
    );
    locked.map_err(|e| map(&what("locking"), Echo::Show, &e))?;
    let ending = what("ending the sessions of");
    let rows = ended.map_err(|e| map(&ending, Echo::Show, &e))?;
    let mut signalled = 0i64;
    let mut databases = BTreeSet::new();
    for r in &rows {
        signalled = r.try_get(0).map_err(|e| map(&ending, Echo::Show, &e))?;
        let db: Option<String> = r.try_get(1).map_err(|e| map(&ending, Echo::Show, &e))?;
        databases.extend(db);
    }
    if signalled > 0 {
        end_sessions(session, &params, account).await?;
        // What the ended sessions created before they went is listed only now.
        databases = owned_in(session, oid, account).await?;
    }

    // 3. Objects it owns and privileges granted to it, in every database that has any.
    let mut last = drop_role;
    if !databases.is_empty() {
        // PostgreSQL 15 lets only members of a role reassign or drop what it owns; the
        // admin becomes a member of a role that, its groups revoked, holds only its own
        // objects. The membership goes with the role.
        client
            .batch_execute(&take_over)
            .await
            .map_err(|e| map(&what("taking over"), Echo::Show, &e))?;
        for db in databases.iter().filter(|db| **db != here) {
            let other = admin.open(Some(db)).await?;
            other
                .batch_execute(&format!("SET LOCAL synchronous_commit = off; {clear}"))
                .await
                .map_err(|e| map(&what("reassigning what is owned by"), Echo::Show, &e))?;
        }
        if databases.contains(&here) {
            last = format!("{clear}; {last}");
        }
    }

    // 4. The role, committed and flushed; then 5. confirm: no role by name or oid, no
    // session by oid (a session that slipped in between the steps is ended now).
    let (dropped, confirmed) = tokio::join!(
        client.batch_execute(&last),
        client.query_one(&st.confirm, &params)
    );
    dropped.map_err(|e| map(&what("dropping"), Echo::Show, &e))?;
    let confirming = what("confirming the removal of");
    let row = confirmed.map_err(|e| map(&confirming, Echo::Show, &e))?;
    let left: bool = row
        .try_get(0)
        .map_err(|e| map(&confirming, Echo::Show, &e))?;
    let sessions: i64 = row
        .try_get(1)
        .map_err(|e| map(&confirming, Echo::Show, &e))?;
    if left {
        return Err(ConnectError::Transient(format!(
            "role `{account}` is still on the server after `DROP ROLE`"
        )));
    }
    if sessions > 0 {
        end_sessions(session, &params, account).await?;
    }
    Ok(())
}

/// Terminates every backend of the role (`params`: its oid and name) and waits until the
/// server shows none, looking again after 1, 2, 4 … up to 50 ms.
async fn end_sessions(
    session: &Session,
    params: &[&(dyn ToSql + Sync)],
    account: &str,
) -> Result<(), ConnectError> {
    let what = format!("ending the sessions of role `{account}`");
    let wait = async {
        let mut pause = Duration::from_millis(1);
        loop {
            let left: i64 = session
                .client
                .query_one(&session.statements.end_sessions, params)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(|e| map(&what, Echo::Show, &e))?;
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(SESSION_POLL_MAX);
        }
    };
    tokio::time::timeout(SESSION_WAIT, wait)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Transient(format!(
                "role `{account}` still has open sessions after they were terminated"
            )))
        })
}

/// Databases where role `oid` owns objects or holds privileges (`pg_shdepend`).
async fn owned_in(
    session: &Session,
    oid: u32,
    account: &str,
) -> Result<BTreeSet<String>, ConnectError> {
    let what = format!("finding what role `{account}` owns");
    let rows = session
        .client
        .query(&session.statements.owned_in, &[&oid])
        .await
        .map_err(|e| map(&what, Echo::Show, &e))?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(|e| map(&what, Echo::Show, &e)))
        .collect()
}

/// The connector's queries, prepared once per admin session: parsing and planning the
/// catalog views they read costs more than running them.
pub(crate) struct Statements {
    plan_provision: Statement,
    plan_removal: Statement,
    end_and_list: Statement,
    confirm: Statement,
    end_sessions: Statement,
    owned_in: Statement,
}

impl Statements {
    /// Prepares every query on `client`, in one round trip.
    pub(crate) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let text = [Type::TEXT];
        let oid_and_name = [Type::OID, Type::TEXT];
        let (plan_provision, plan_removal, end_and_list, confirm, end_sessions, owned_in) = tokio::try_join!(
            client.prepare_typed(
                PLAN_PROVISION,
                &[
                    Type::TEXT,
                    Type::TEXT_ARRAY,
                    Type::INT4,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT_ARRAY
                ],
            ),
            client.prepare_typed(PLAN_REMOVAL, &text),
            client.prepare_typed(END_AND_LIST, &oid_and_name),
            client.prepare_typed(CONFIRM, &oid_and_name),
            client.prepare_typed(end_sessions_sql!(), &oid_and_name),
            client.prepare_typed(owned_in_sql!(), &[Type::OID]),
        )?;
        Ok(Self {
            plan_provision,
            plan_removal,
            end_and_list,
            confirm,
            end_sessions,
            owned_in,
        })
    }
}

/// Warden's accounts: roles named with `prefix` that parse as derived account names.
pub(crate) async fn observe(
    client: &Client,
    prefix: &warden_connect::Prefix,
) -> Result<Vec<String>, ConnectError> {
    let rows = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname::text, $1) ORDER BY 1",
            &[&prefix.as_str()],
        )
        .await
        .map_err(|e| map("listing roles", Echo::Show, &e))?;
    let mut out = Vec::new();
    for row in rows {
        let name: String = row
            .try_get(0)
            .map_err(|e| map("listing roles", Echo::Show, &e))?;
        if warden_connect::AccountName::parse(prefix, &name).is_some() {
            out.push(name);
        }
    }
    Ok(out)
}
