//! What the connector does to login roles: provision one for a grant, remove one with every
//! session and object it left, and list Warden's. Each function takes the admin session and
//! names only roles that parsed as Warden's accounts or as `grants` entries.

use std::collections::BTreeSet;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::{Client, GenericClient};
use warden_connect::ConnectError;

use crate::admin::{Admin, run};
use crate::error::{Echo, map};

/// How long `remove` waits for the sessions it terminated to be gone before it reports
/// that a retry is needed.
const SESSION_WAIT: Duration = Duration::from_secs(10);
/// How long `pg_terminate_backend` waits for each backend, in milliseconds.
const TERMINATE_WAIT_MS: i64 = 5_000;

/// Attributes of an existing account that only a superuser may take away, so provisioning
/// refuses to hand out a password for it (Warden never sets them).
const SUPERUSER_ONLY: &str = "rolsuper OR rolreplication OR rolbypassrls";

/// What provisioning asks of the role besides its name, password and groups.
pub(crate) struct Shape<'a> {
    /// The most sessions the role may hold at once.
    pub connection_limit: u32,
    /// `VALID UNTIL`, RFC 3339: a backstop in case revocation never comes.
    pub valid_until: &'a str,
}

/// Creates `account` or brings it back to `groups` and a new password, in one transaction.
pub(crate) async fn provision(
    client: &mut Client,
    account: &str,
    password: &SecretString,
    groups: &[String],
    shape: &Shape<'_>,
) -> Result<(), ConnectError> {
    let what = |step: &str| format!("{step} for role `{account}`");
    let tx = client
        .transaction()
        .await
        .map_err(|e| map(&what("starting provisioning"), Echo::Show, &e))?;
    check_groups(&tx, account, groups).await?;

    // The verifier is computed here, so the password itself never crosses the wire and
    // never lands in the server's statement log or in an error message.
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    let limit = shape.connection_limit.to_string();
    let existing = tx
        .query_opt(
            &format!("SELECT oid, ({SUPERUSER_ONLY}) FROM pg_roles WHERE rolname = $1"),
            &[&account],
        )
        .await
        .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
    let oid: u32 = match existing {
        None => {
            run(
                &tx,
                "CREATE ROLE %I WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE \
                 NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %s PASSWORD %L VALID UNTIL %L",
                &[account, &limit, &verifier, shape.valid_until],
                &what("creating"),
                Echo::Hide,
            )
            .await?;
            let row = tx
                .query_one("SELECT oid FROM pg_roles WHERE rolname = $1", &[&account])
                .await
                .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
            row.try_get(0)
                .map_err(|e| map(&what("looking up"), Echo::Show, &e))?
        }
        Some(row) => {
            let escalated: bool = row
                .try_get(1)
                .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
            if escalated {
                // Someone gave Warden's account an attribute only a superuser may take
                // back; handing out a password for it would hand out that attribute.
                return Err(ConnectError::Permanent(format!(
                    "role `{account}` has an administrative attribute Warden never gives; remove the role by hand"
                )));
            }
            // PostgreSQL 15 refuses `NOSUPERUSER`, `NOREPLICATION` and `NOBYPASSRLS` in
            // `ALTER ROLE` from a non-superuser even when they change nothing; the check
            // above stands in for them.
            run(
                &tx,
                "ALTER ROLE %I WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE \
                 CONNECTION LIMIT %s PASSWORD %L VALID UNTIL %L",
                &[account, &limit, &verifier, shape.valid_until],
                &what("resetting"),
                Echo::Hide,
            )
            .await?;
            row.try_get(0)
                .map_err(|e| map(&what("looking up"), Echo::Show, &e))?
        }
    };

    let want: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
    let have = member_of(&tx, oid, account).await?;
    for group in have.iter().filter(|g| !want.contains(g.as_str())) {
        run(
            &tx,
            "REVOKE %I FROM %I",
            &[group, account],
            &what("revoking an extra group"),
            Echo::Show,
        )
        .await?;
    }
    for group in want.iter().filter(|g| !have.contains(**g)) {
        run(
            &tx,
            "GRANT %I TO %I",
            &[group, account],
            &what(&format!("granting `{group}`")),
            Echo::Show,
        )
        .await?;
    }
    // Nobody else may be a member of the account: a member could `SET ROLE` to it.
    for member in members_of(&tx, oid, account).await? {
        run(
            &tx,
            "REVOKE %I FROM %I",
            &[account, &member],
            &what("revoking a member"),
            Echo::Show,
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(|e| map(&what("committing"), Echo::Show, &e))
}

/// Every group must exist and give nothing a session could escalate with.
async fn check_groups(
    client: &impl GenericClient,
    account: &str,
    groups: &[String],
) -> Result<(), ConnectError> {
    let what = format!("checking the groups of role `{account}`");
    let rows = client
        .query(
            // A session of the grant's role may `SET ROLE` to any of its groups and then act
            // with the group's attributes, beyond the grant: groups holding them are refused.
            "SELECT g, r.oid IS NOT NULL, coalesce(r.rolsuper OR r.rolcreaterole \
             OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls, false) \
             FROM unnest($1::text[]) AS g LEFT JOIN pg_roles r ON r.rolname = g",
            &[&groups],
        )
        .await
        .map_err(|e| map(&what, Echo::Show, &e))?;
    for row in rows {
        let group: String = row.try_get(0).map_err(|e| map(&what, Echo::Show, &e))?;
        let exists: bool = row.try_get(1).map_err(|e| map(&what, Echo::Show, &e))?;
        let escalating: bool = row.try_get(2).map_err(|e| map(&what, Echo::Show, &e))?;
        if !exists {
            return Err(ConnectError::Permanent(format!(
                "group role `{group}` does not exist on the server"
            )));
        }
        if escalating {
            return Err(ConnectError::Permanent(format!(
                "group role `{group}` is superuser or may create roles or databases, replicate or bypass row security; a grant's session could `SET ROLE` to it"
            )));
        }
    }
    Ok(())
}

/// The roles `oid` is a direct member of.
async fn member_of(
    client: &impl GenericClient,
    oid: u32,
    account: &str,
) -> Result<BTreeSet<String>, ConnectError> {
    names(
        client,
        "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
         WHERE m.member = $1",
        oid,
        &format!("listing the groups of role `{account}`"),
    )
    .await
}

/// The roles that are direct members of `oid`.
async fn members_of(
    client: &impl GenericClient,
    oid: u32,
    account: &str,
) -> Result<BTreeSet<String>, ConnectError> {
    names(
        client,
        "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member \
         WHERE m.roleid = $1",
        oid,
        &format!("listing the members of role `{account}`"),
    )
    .await
}

async fn names(
    client: &impl GenericClient,
    query: &str,
    oid: u32,
    what: &str,
) -> Result<BTreeSet<String>, ConnectError> {
    let rows = client
        .query(query, &[&oid])
        .await
        .map_err(|e| map(what, Echo::Show, &e))?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(|e| map(what, Echo::Show, &e)))
        .collect()
}

/// Removes `account`: no login, no groups, no sessions, no objects, no role; and confirms.
///
/// Order matters. `DROP ROLE` leaves the role's open sessions running, and a session that
/// ran `SET ROLE <group>` keeps the group's rights after the membership is revoked, so
/// sessions are terminated, found by the role's oid (read before the drop: a dropped role
/// matches no name), after `NOLOGIN` has stopped new ones.
pub(crate) async fn remove(
    admin: &Admin,
    client: &mut Client,
    account: &str,
) -> Result<(), ConnectError> {
    let what = |step: &str| format!("{step} role `{account}`");
    let row = client
        .query_opt("SELECT oid FROM pg_roles WHERE rolname = $1", &[&account])
        .await
        .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;
    let Some(row) = row else {
        return Ok(());
    };
    let oid: u32 = row
        .try_get(0)
        .map_err(|e| map(&what("looking up"), Echo::Show, &e))?;

    // 1. No new logins, no group rights for new statements.
    let tx = client
        .transaction()
        .await
        .map_err(|e| map(&what("starting to remove"), Echo::Show, &e))?;
    run(
        &tx,
        "ALTER ROLE %I WITH NOLOGIN",
        &[account],
        &what("locking"),
        Echo::Show,
    )
    .await?;
    for group in member_of(&tx, oid, account).await? {
        run(
            &tx,
            "REVOKE %I FROM %I",
            &[&group, account],
            &what("revoking a group of"),
            Echo::Show,
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(|e| map(&what("locking"), Echo::Show, &e))?;

    // 2. Sessions opened before, including those that switched to a group with `SET ROLE`.
    end_sessions(client, oid, account).await?;

    // 3. Objects it owns and privileges granted to it, in every database that has any.
    let databases = owned_in(client, oid, account).await?;
    if !databases.is_empty() {
        // PostgreSQL 15 lets only members of a role reassign or drop what it owns; the
        // admin becomes a member of a role that, its groups revoked, holds only its own
        // objects. The membership goes with the role.
        run(
            client,
            "GRANT %I TO CURRENT_USER",
            &[account],
            &what("taking over"),
            Echo::Show,
        )
        .await?;
        let here: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| map(&what("taking over"), Echo::Show, &e))?;
        for db in &databases {
            if *db == here {
                clear_owned(client, account).await?;
            } else {
                let other = admin.open(Some(db)).await?;
                clear_owned(&other, account).await?;
            }
        }
    }

    // 4. The role.
    run(
        client,
        "DROP ROLE IF EXISTS %I",
        &[account],
        &what("dropping"),
        Echo::Show,
    )
    .await?;

    // 5. Confirm: no role by name or oid, no session by oid (a session that slipped in
    // between the steps is ended now).
    let left: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 OR oid = $2)",
            &[&account, &oid],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| map(&what("confirming the removal of"), Echo::Show, &e))?;
    if left {
        return Err(ConnectError::Transient(format!(
            "role `{account}` is still on the server after `DROP ROLE`"
        )));
    }
    end_sessions(client, oid, account).await
}

/// Terminates every backend of role `oid` and waits until the server shows none.
async fn end_sessions(client: &Client, oid: u32, account: &str) -> Result<(), ConnectError> {
    let what = format!("ending the sessions of role `{account}`");
    let wait = async {
        loop {
            // `usesysid` is the session user: it stays the role's oid after `SET ROLE`
            // and after the role is dropped, when `usename` is null.
            let rows = client
                .query(
                    "SELECT pid, pg_terminate_backend(pid, $2) FROM pg_stat_activity \
                     WHERE (usesysid = $1 OR usename = $3) AND pid <> pg_backend_pid()",
                    &[&oid, &TERMINATE_WAIT_MS, &account],
                )
                .await
                .map_err(|e| map(&what, Echo::Show, &e))?;
            if rows.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Databases where role `oid` owns objects or holds privileges (`pg_shdepend`). Entries on
/// shared objects (a database's own privileges) are cleared from the admin's database.
async fn owned_in(
    client: &Client,
    oid: u32,
    account: &str,
) -> Result<BTreeSet<String>, ConnectError> {
    names(
        client,
        "SELECT DISTINCT coalesce(d.datname, current_database())::text FROM pg_shdepend s \
         LEFT JOIN pg_database d ON d.oid = s.dbid \
         WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1",
        oid,
        &format!("finding what role `{account}` owns"),
    )
    .await
}

/// Hands the role's objects in the session's database to the admin, then drops its
/// remaining privileges there.
async fn clear_owned(client: &impl GenericClient, account: &str) -> Result<(), ConnectError> {
    let what = format!("reassigning what role `{account}` owns");
    run(
        client,
        "REASSIGN OWNED BY %I TO CURRENT_USER",
        &[account],
        &what,
        Echo::Show,
    )
    .await?;
    run(client, "DROP OWNED BY %I", &[account], &what, Echo::Show).await
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
