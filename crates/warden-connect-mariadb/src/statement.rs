//! The statements the connector sends, built from parsed, validated parts. MariaDB takes
//! no placeholder in account-management statements (`CREATE USER … IDENTIFIED BY ?` is a
//! syntax error, checked on 10.11), so names, hosts and the password are quoted here, and
//! this module is the one place that quotes.
//!
//! The quoting works under any `sql_mode`: string literals never hold a backslash (the one
//! character whose meaning `NO_BACKSLASH_ESCAPES` changes), so doubling `'` is the whole
//! escape; identifiers are backtick-quoted with backticks doubled, which `ANSI_QUOTES`
//! leaves alone.

use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};
use warden_connect::kind::MariadbPrivilege;
use warden_connect::{AccountName, ConnectError};

/// The longest host part MariaDB 10.11 keeps for an account.
const MAX_HOST: usize = 255;

/// A backtick-quoted identifier, backticks doubled. Identifiers holding NUL cannot be
/// written at all and are refused.
pub fn ident(name: &str) -> Result<String, ConnectError> {
    if name.is_empty() || name.contains('\0') {
        return Err(ConnectError::Config(format!(
            "identifier `{}` is empty or holds NUL",
            name.escape_debug()
        )));
    }
    Ok(format!("`{}`", name.replace('`', "``")))
}

/// The name of database `name` as a database-level grant (`ON db.*`) must spell it:
/// there MariaDB reads `_` and `%` as wildcards, so ``GRANT SELECT ON `pay_ledger`.*``
/// also gives `payXledger`. Each of them, and the escape character `\` itself, is
/// escaped with `\`, which MariaDB reads as an escape in a grant's database name whatever
/// the `sql_mode` (checked on 10.11 with and without `NO_BACKSLASH_ESCAPES`). Table-level
/// grants (`ON db.table`) take the name literally and must not be escaped.
pub fn database_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if matches!(c, '\\' | '_' | '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A single-quoted string literal, `'` doubled. Backslashes and control characters are
/// refused rather than escaped, because a backslash means one thing with
/// `NO_BACKSLASH_ESCAPES` and another without it. The error never repeats the text: it
/// may be a password.
pub fn literal(text: &str) -> Result<String, ConnectError> {
    if text.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(ConnectError::Config(
            "a quoted value holds a backslash or a control character".into(),
        ));
    }
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// The host part of every account the connector creates (`options.host`, `%` by
/// default): a host name, IP address, netmask or `%`/`_` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountHost(String);

impl AccountHost {
    /// Any host.
    pub const ANY: &'static str = "%";

    /// Checks `s` as an account host: letters, digits and `.`, `-`, `_`, `%`, `:`, `/`.
    /// Kept in lower case, as MariaDB stores it, so it compares equal to what the
    /// server lists.
    pub fn parse(s: &str) -> Result<Self, ConnectError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_HOST
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%' | ':' | '/')
            });
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(ConnectError::Config(format!(
                "option `host` = `{}` must be a host name, address, netmask or `%` pattern",
                s.escape_debug()
            )))
        }
    }

    /// The host as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountHost {
    fn default() -> Self {
        Self(Self::ANY.to_owned())
    }
}

/// `'user'@'host'`, as account-management statements name an account.
pub fn account(user: &str, host: &str) -> Result<String, ConnectError> {
    Ok(format!("{}@{}", literal(user)?, literal(host)?))
}

/// Creates the account locked and without a password, so it cannot log in before its
/// privileges are exactly the role's; does nothing to an account that exists.
pub fn create_locked(name: &AccountName, host: &AccountHost) -> Result<String, ConnectError> {
    Ok(format!(
        "CREATE USER IF NOT EXISTS {} ACCOUNT LOCK",
        account(name.as_str(), host.as_str())?
    ))
}

/// Takes every privilege from the account, so the grants that follow are all it holds.
pub fn revoke_all(name: &AccountName, host: &AccountHost) -> Result<String, ConnectError> {
    Ok(format!(
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM {}",
        account(name.as_str(), host.as_str())?
    ))
}

/// Grants one parsed privilege spec. Privilege words come from the allow-list the parser
/// matched against; database and table are quoted identifiers, and the database of a
/// database-level grant is escaped so it names that one database only
/// ([`database_pattern`]).
pub fn grant(
    privilege: &MariadbPrivilege,
    name: &AccountName,
    host: &AccountHost,
) -> Result<String, ConnectError> {
    if privilege.privileges.is_empty() {
        return Err(ConnectError::Config(
            "a privilege spec names no privilege".into(),
        ));
    }
    for p in &privilege.privileges {
        if !warden_connect::kind::MARIADB_PRIVILEGES.contains(p) {
            return Err(ConnectError::Config(format!(
                "privilege `{p}` is not one Warden grants"
            )));
        }
    }
    let (database, table) = match &privilege.table {
        Some(t) => (ident(&privilege.database)?, ident(t)?),
        None => (
            ident(&database_pattern(&privilege.database))?,
            "*".to_owned(),
        ),
    };
    Ok(format!(
        "GRANT {} ON {database}.{table} TO {}",
        privilege.privileges.join(", "),
        account(name.as_str(), host.as_str())?
    ))
}

/// The `mysql_native_password` hash of `password`, as MariaDB's `PASSWORD()` computes it:
/// `*` and the upper-case hex of SHA1(SHA1(password)).
pub fn native_password_hash(password: &SecretString) -> SecretString {
    let inner = Sha1::digest(password.expose_secret().as_bytes());
    let outer = Sha1::digest(inner.as_slice());
    let mut hex = String::with_capacity(41);
    hex.push('*');
    for b in outer.iter() {
        hex.push_str(&format!("{b:02X}"));
    }
    SecretString::from(hex)
}

/// Sets the password and unlocks the account: the last step of provisioning. The
/// statement carries the password's hash, not the password: MariaDB writes statements to
/// the general log, the binary log and the process list as sent, and without TLS the
/// wire carries them too. Still secret, as the hash is what a login is checked against.
pub fn set_password_unlock(
    name: &AccountName,
    host: &AccountHost,
    password: &SecretString,
) -> Result<SecretString, ConnectError> {
    let hash = native_password_hash(password);
    Ok(SecretString::from(format!(
        "ALTER USER {} IDENTIFIED BY PASSWORD {} ACCOUNT UNLOCK",
        account(name.as_str(), host.as_str())?,
        literal(hash.expose_secret())?
    )))
}

/// Locks an account so no new session can open; sessions already open are untouched.
pub fn lock(user: &str, host: &str) -> Result<String, ConnectError> {
    Ok(format!(
        "ALTER USER IF EXISTS {} ACCOUNT LOCK",
        account(user, host)?
    ))
}

/// Ends every connection of `user`, from any host (`'user'@'%'` in `KILL … USER` matches
/// the user name whatever the host). `HARD` does not wait for a statement to reach a
/// point where it can stop cleanly.
pub fn kill_sessions(user: &str) -> Result<String, ConnectError> {
    Ok(format!("KILL HARD CONNECTION USER {}", account(user, "%")?))
}

/// Drops the account if it exists.
pub fn drop_user(user: &str, host: &str) -> Result<String, ConnectError> {
    Ok(format!("DROP USER IF EXISTS {}", account(user, host)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use warden_connect::Prefix;
    use warden_connect::kind::mariadb_privilege;

    fn name() -> AccountName {
        AccountName::derive(&Prefix::default(), uuid::Uuid::nil(), 1)
    }

    #[test]
    fn identifiers_double_backticks() {
        assert_eq!(ident("ledger").unwrap(), "`ledger`");
        assert_eq!(ident("a`b").unwrap(), "`a``b`");
        assert_eq!(
            ident("`; DROP USER root; --").unwrap(),
            "```; DROP USER root; --`"
        );
        assert!(ident("").is_err());
        assert!(ident("a\0b").is_err());
    }

    #[test]
    fn literals_double_quotes_and_refuse_backslashes() {
        assert_eq!(literal("abc").unwrap(), "'abc'");
        assert_eq!(literal("o'brien").unwrap(), "'o''brien'");
        assert_eq!(
            literal("'; DROP USER root; --").unwrap(),
            "'''; DROP USER root; --'"
        );
        // A backslash would escape the closing quote unless NO_BACKSLASH_ESCAPES is on.
        for bad in ["a\\", "\\'", "a\nb", "a\0b", "\u{1b}"] {
            assert!(literal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literal_errors_do_not_repeat_the_value() {
        let e = literal("s3cret\\").unwrap_err().to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn quoted_literals_hold_no_lone_quote() {
        // Between the outer quotes, every `'` is part of a `''` pair.
        for s in ["'", "''", "a'b'c", "'''", "x'"] {
            let q = literal(s).unwrap();
            let inner = &q[1..q.len() - 1];
            assert!(inner.replace("''", "").chars().all(|c| c != '\''), "{q}");
        }
    }

    #[test]
    fn hosts_are_checked() {
        for ok in [
            "%",
            "localhost",
            "10.0.0.%",
            "192.168.0.0/255.255.255.0",
            "::1",
            "app-1.example.com",
        ] {
            assert_eq!(AccountHost::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a'b", "a b", "a\\b", "a`b", "x@y", &"h".repeat(256)] {
            assert!(AccountHost::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(AccountHost::default().as_str(), "%");
        assert_eq!(
            AccountHost::parse("App-1.Example.COM").unwrap().as_str(),
            "app-1.example.com"
        );
    }

    #[test]
    fn statements_quote_every_name() {
        let n = name();
        let h = AccountHost::default();
        let u = n.as_str();
        assert_eq!(
            create_locked(&n, &h).unwrap(),
            format!("CREATE USER IF NOT EXISTS '{u}'@'%' ACCOUNT LOCK")
        );
        assert_eq!(
            revoke_all(&n, &h).unwrap(),
            format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{u}'@'%'")
        );
        let p = mariadb_privilege("select, show  view ON ledger.entries").unwrap();
        assert_eq!(
            grant(&p, &n, &h).unwrap(),
            format!("GRANT SELECT, SHOW VIEW ON `ledger`.`entries` TO '{u}'@'%'")
        );
        let p = mariadb_privilege("INSERT ON ledger.*").unwrap();
        assert_eq!(
            grant(&p, &n, &h).unwrap(),
            format!("GRANT INSERT ON `ledger`.* TO '{u}'@'%'")
        );
        assert_eq!(
            lock(u, "%").unwrap(),
            format!("ALTER USER IF EXISTS '{u}'@'%' ACCOUNT LOCK")
        );
        assert_eq!(
            kill_sessions(u).unwrap(),
            format!("KILL HARD CONNECTION USER '{u}'@'%'")
        );
        assert_eq!(
            drop_user(u, "h").unwrap(),
            format!("DROP USER IF EXISTS '{u}'@'h'")
        );
    }

    #[test]
    fn database_level_grants_escape_wildcards_and_table_level_ones_do_not() {
        let n = name();
        let h = AccountHost::default();
        let u = n.as_str();
        let p = mariadb_privilege("SELECT ON pay_ledger.*").unwrap();
        assert_eq!(
            grant(&p, &n, &h).unwrap(),
            format!("GRANT SELECT ON `pay\\_ledger`.* TO '{u}'@'%'")
        );
        let p = mariadb_privilege("SELECT ON pay_ledger.entries_2026").unwrap();
        assert_eq!(
            grant(&p, &n, &h).unwrap(),
            format!("GRANT SELECT ON `pay_ledger`.`entries_2026` TO '{u}'@'%'")
        );
        assert_eq!(database_pattern("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(database_pattern("ledger"), "ledger");
    }

    #[test]
    fn grants_refuse_privileges_off_the_allow_list() {
        let n = name();
        let h = AccountHost::default();
        let mut p = mariadb_privilege("SELECT ON ledger.*").unwrap();
        p.privileges = vec!["ALL"];
        assert!(grant(&p, &n, &h).is_err());
        p.privileges = vec![];
        assert!(grant(&p, &n, &h).is_err());
    }

    #[test]
    fn native_hashes_match_the_servers_password_function() {
        // SELECT PASSWORD('password'), PASSWORD('Abc123xyz') on MariaDB 10.11.
        let h = native_password_hash(&SecretString::from("password"));
        assert_eq!(
            h.expose_secret(),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
        let h = native_password_hash(&SecretString::from("Abc123xyz"));
        assert_eq!(
            h.expose_secret(),
            "*4A94A79C38A775C55692304C95699B5129ACA7C1"
        );
    }

    #[test]
    fn the_password_statement_holds_only_the_hash_and_is_secret() {
        let pw = SecretString::from("password");
        let s = set_password_unlock(&name(), &AccountHost::default(), &pw).unwrap();
        assert!(
            s.expose_secret().ends_with(
                "IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' ACCOUNT UNLOCK"
            ),
            "{}",
            s.expose_secret()
        );
        assert!(!s.expose_secret().contains("'password'"));
        assert!(!format!("{s:?}").contains("2470C0C0"));
    }
}
