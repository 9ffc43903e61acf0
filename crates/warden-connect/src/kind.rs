//! Kinds of target and the syntax of their `grants` entries. Parsing here is the one
//! check between a catalog and a target: an entry that does not parse never reaches a
//! connector, and the parsed parts are what connectors quote or bind.

mod redis;

use serde::Deserialize;

use crate::ConnectError;

pub use redis::{
    REDIS_ACCEPTED_ADMIN_COMMANDS, REDIS_CATEGORIES, REDIS_REFUSED_COMMANDS,
    REDIS_REFUSED_SUBCOMMANDS, redis_rule,
};

/// A kind of target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// PostgreSQL: a login role per grant, member of existing group roles.
    Postgres,
    /// MariaDB: a user per grant with the listed privileges.
    Mariadb,
    /// Redis: an ACL user per grant with the listed rules.
    Redis,
    /// RabbitMQ: a user per grant with vhost permissions.
    Rabbitmq,
    /// LDAP: membership of the subject's existing entry in groups.
    Ldap,
}

impl ConnectorKind {
    /// The kind's name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Postgres => "postgres",
            ConnectorKind::Mariadb => "mariadb",
            ConnectorKind::Redis => "redis",
            ConnectorKind::Rabbitmq => "rabbitmq",
            ConnectorKind::Ldap => "ldap",
        }
    }

    /// Whether grants on this kind mint a credential (LDAP only adds a membership).
    pub fn mints_credential(self) -> bool {
        !matches!(self, ConnectorKind::Ldap)
    }

    /// Checks every entry of one role's `grants` for this kind; the error names the
    /// first bad entry and says what was expected.
    pub fn check_grants(self, grants: &[String]) -> Result<(), ConnectError> {
        if grants.is_empty() {
            return Err(ConnectError::Config(format!(
                "a role on a {} target needs at least one `grants` entry",
                self.as_str()
            )));
        }
        for g in grants {
            let ok = match self {
                ConnectorKind::Postgres => postgres_role(g).map(|_| ()),
                ConnectorKind::Mariadb => mariadb_privilege(g).map(|_| ()),
                ConnectorKind::Redis => redis_rule(g).map(|_| ()),
                ConnectorKind::Rabbitmq => rabbitmq_permission(g).map(|_| ()),
                ConnectorKind::Ldap => ldap_group(g).map(|_| ()),
            };
            ok.map_err(|why| {
                ConnectError::Config(format!(
                    "`grants` entry `{}` is not valid for {}: {why}",
                    g.escape_debug(),
                    self.as_str()
                ))
            })?;
        }
        Ok(())
    }
}

/// A PostgreSQL group role name: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes.
pub fn postgres_role(s: &str) -> Result<&str, String> {
    let mut chars = s.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || s.len() > 63 {
        return Err("expected a role name of letters, digits and `_`, at most 63".into());
    }
    Ok(s)
}

/// Privileges a MariaDB role may give. Administrative ones (`SUPER`, `FILE`,
/// `PROCESS`, `GRANT OPTION`, `ALL`, …) are left out on purpose.
pub const MARIADB_PRIVILEGES: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "EXECUTE",
    "SHOW VIEW",
    "CREATE",
    "ALTER",
    "DROP",
    "INDEX",
    "CREATE VIEW",
    "TRIGGER",
    "REFERENCES",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "EVENT",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
];

/// A parsed MariaDB privilege spec, `SELECT, INSERT ON ledger.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MariadbPrivilege {
    /// Privileges, each one of [`MARIADB_PRIVILEGES`].
    pub privileges: Vec<&'static str>,
    /// The database (never `*`: a grant is scoped to one database).
    pub database: String,
    /// The table, or `None` for every table of the database.
    pub table: Option<String>,
}

fn mariadb_ident(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `PRIV[, PRIV…] ON db.table` (`table` may be `*`).
pub fn mariadb_privilege(s: &str) -> Result<MariadbPrivilege, String> {
    let upper = s.to_ascii_uppercase();
    let Some(at) = upper.find(" ON ") else {
        return Err("expected `PRIVILEGE[, …] ON database.table`".into());
    };
    let (privs, object) = (upper.get(..at).unwrap_or(""), s.get(at + 4..).unwrap_or(""));
    let mut privileges = Vec::new();
    for p in privs.split(',') {
        let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
        let known = MARIADB_PRIVILEGES
            .iter()
            .find(|k| **k == p)
            .ok_or_else(|| format!("privilege `{p}` is not one Warden grants"))?;
        privileges.push(*known);
    }
    let (db, table) = object
        .trim()
        .split_once('.')
        .ok_or("expected `database.table` after ON")?;
    if !mariadb_ident(db) {
        return Err(format!("database `{db}` must be letters, digits and `_`"));
    }
    let table = match table {
        "*" => None,
        t if mariadb_ident(t) => Some(t.to_owned()),
        t => {
            return Err(format!(
                "table `{t}` must be `*` or letters, digits and `_`"
            ));
        }
    };
    Ok(MariadbPrivilege {
        privileges,
        database: db.to_owned(),
        table,
    })
}

/// A parsed RabbitMQ permission, `vhost=/ configure=^$ write=^events\. read=^events\.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RabbitmqPermission {
    /// The virtual host.
    pub vhost: String,
    /// Regex of resources the user may configure.
    pub configure: String,
    /// Regex of resources the user may write.
    pub write: String,
    /// Regex of resources the user may read.
    pub read: String,
}

/// Parses `vhost=… configure=… write=… read=…` (all four, each once, no spaces inside).
pub fn rabbitmq_permission(s: &str) -> Result<RabbitmqPermission, String> {
    let mut fields: [Option<String>; 4] = [None, None, None, None];
    const NAMES: [&str; 4] = ["vhost", "configure", "write", "read"];
    for part in s.split_whitespace() {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not `key=value`"))?;
        let i = NAMES
            .iter()
            .position(|n| *n == k)
            .ok_or_else(|| format!("unknown key `{k}`; expected vhost, configure, write, read"))?;
        if v.chars().any(char::is_control) {
            return Err(format!("`{k}` holds a control character"));
        }
        let slot = fields.get_mut(i).ok_or("unreachable")?;
        if slot.replace(v.to_owned()).is_some() {
            return Err(format!("`{k}` is given twice"));
        }
    }
    let [Some(vhost), Some(configure), Some(write), Some(read)] = fields else {
        return Err("all of vhost, configure, write and read are required".into());
    };
    if vhost.is_empty() {
        return Err("`vhost` is empty".into());
    }
    Ok(RabbitmqPermission {
        vhost,
        configure,
        write,
        read,
    })
}

/// Checks an LDAP group DN: `attr=value` parts separated by commas, no control
/// characters. The connector also requires it under its managed base.
pub fn ldap_group(s: &str) -> Result<&str, String> {
    if s.chars().any(char::is_control) {
        return Err("a DN has no control characters".into());
    }
    let parts_ok = !s.is_empty()
        && s.split(',').all(|rdn| {
            rdn.split_once('=').is_some_and(|(a, v)| {
                !a.trim().is_empty()
                    && a.trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !v.trim().is_empty()
            })
        });
    if parts_ok {
        Ok(s)
    } else {
        Err("expected a DN such as `cn=payments,ou=groups,dc=example,dc=com`".into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn check(kind: ConnectorKind, g: &str) -> Result<(), ConnectError> {
        kind.check_grants(&[g.to_owned()])
    }

    #[test]
    fn example_entries_are_accepted() {
        for (kind, g) in [
            (ConnectorKind::Postgres, "pg_read_all_data"),
            (ConnectorKind::Mariadb, "SELECT ON ledger.*"),
            (
                ConnectorKind::Mariadb,
                "select, show view ON ledger.entries",
            ),
            (ConnectorKind::Redis, "~session:*"),
            (ConnectorKind::Redis, "+@read"),
            (ConnectorKind::Redis, "-flushall"),
            (
                ConnectorKind::Rabbitmq,
                r"vhost=/ configure=^$ write=^events\. read=^events\.",
            ),
            (
                ConnectorKind::Ldap,
                "cn=payments,ou=groups,dc=example,dc=com",
            ),
        ] {
            check(kind, g).unwrap();
        }
    }

    #[test]
    fn hostile_entries_are_refused_with_the_entry_named() {
        for (kind, g) in [
            (ConnectorKind::Postgres, "x; DROP ROLE postgres"),
            (ConnectorKind::Postgres, "\"admin\""),
            (ConnectorKind::Postgres, ""),
            (ConnectorKind::Mariadb, "ALL ON *.*"),
            (ConnectorKind::Mariadb, "SUPER ON *.*"),
            (ConnectorKind::Mariadb, "SELECT ON *.*"),
            (ConnectorKind::Mariadb, "SELECT ON `x`.*; DROP USER root"),
            (
                ConnectorKind::Mariadb,
                "SELECT ON ledger.* WITH GRANT OPTION",
            ),
            (ConnectorKind::Redis, ">password"),
            (ConnectorKind::Redis, "nopass"),
            (ConnectorKind::Redis, "on"),
            (ConnectorKind::Redis, "~a b"),
            (ConnectorKind::Redis, "+@read\n+@all"),
            (ConnectorKind::Redis, "+@all"),
            (ConnectorKind::Redis, "allcommands"),
            (ConnectorKind::Redis, "+acl|setuser"),
            (ConnectorKind::Redis, "+@slow"),
            (ConnectorKind::Rabbitmq, "vhost=/ configure=.* write=.*"),
            (
                ConnectorKind::Rabbitmq,
                "vhost=/ configure=.* write=.* read=.* tags=administrator",
            ),
            (ConnectorKind::Ldap, "cn=x\n,dc=y"),
            (ConnectorKind::Ldap, "no-equals-sign"),
        ] {
            let e = check(kind, g).unwrap_err().to_string();
            assert!(e.contains(&g.escape_debug().to_string()), "{e}");
        }
        assert!(ConnectorKind::Redis.check_grants(&[]).is_err());
    }

    #[test]
    fn mariadb_specs_parse_into_parts() {
        let p = mariadb_privilege("select, Show View ON ledger.entries").unwrap();
        assert_eq!(p.privileges, vec!["SELECT", "SHOW VIEW"]);
        assert_eq!(p.database, "ledger");
        assert_eq!(p.table.as_deref(), Some("entries"));
    }
}
