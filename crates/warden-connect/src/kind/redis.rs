//! The syntax of a Redis role's `grants` entries and the rules no role may hold.
//!
//! A grant's ACL user must never be able to administer the server or mint another user:
//! a user that may run `ACL SETUSER` makes itself a second user (a backdoor) that
//! outlives the grant's removal, and one that may run `CONFIG SET` can reach everything
//! else. So a rule that adds a command is checked against a list of refused commands,
//! and a rule that adds a category is accepted only for categories checked to hold none
//! of them. The lists were read from Redis 7.0.15 (`ACL CAT <category>`, `ACL CAT admin`)
//! and the connector's tests compare them with the server they run against.

/// Commands no role may be given, nor any of their subcommands. Each administers the
/// server (its users, configuration, modules, persistence, replication or life), reads
/// past every key pattern (`MONITOR`, the replication stream), or shows other clients'
/// commands (`SLOWLOG`).
pub const REDIS_REFUSED_COMMANDS: &[&str] = &[
    "acl",
    "config",
    "module",
    "debug",
    "shutdown",
    "failover",
    "replicaof",
    "slaveof",
    "monitor",
    "sync",
    "psync",
    "replconf",
    "save",
    "bgsave",
    "bgrewriteaof",
    "slowlog",
    "latency",
];

/// Subcommands no role may be given: those of `CLUSTER` that change the cluster's
/// topology. The read-only ones (`cluster|slots`, `cluster|shards`, …) that cluster
/// clients send stay available; plain `+cluster`, which holds all of them, is refused.
pub const REDIS_REFUSED_SUBCOMMANDS: &[&str] = &[
    "cluster|addslots",
    "cluster|addslotsrange",
    "cluster|bumpepoch",
    "cluster|count-failure-reports",
    "cluster|delslots",
    "cluster|delslotsrange",
    "cluster|failover",
    "cluster|flushslots",
    "cluster|forget",
    "cluster|meet",
    "cluster|replicas",
    "cluster|replicate",
    "cluster|reset",
    "cluster|saveconfig",
    "cluster|set-config-epoch",
    "cluster|setslot",
    "cluster|slaves",
];

/// Commands Redis 7.0 classes as `@admin` that a role may still be given: they act on
/// client connections or report a value, and never change the server's users,
/// configuration, persistence or replication. `@connection`, which clients need for
/// `HELLO` and `CLIENT SETNAME`, holds every `CLIENT` subcommand; `@fast` holds
/// `LASTSAVE` and `ROLE`; `@write` and `@hyperloglog` hold `PFDEBUG`.
pub const REDIS_ACCEPTED_ADMIN_COMMANDS: &[&str] = &[
    "client|kill",
    "client|list",
    "client|no-evict",
    "client|pause",
    "client|unblock",
    "client|unpause",
    "lastsave",
    "role",
    "pfdebug",
    "pfselftest",
];

/// Command categories a role may add (`+@read`). Each was checked to hold no command of
/// [`REDIS_REFUSED_COMMANDS`] or [`REDIS_REFUSED_SUBCOMMANDS`]. `@admin`, `@dangerous`
/// and `@slow` hold them, `@all` is every command, and a category not listed here (a
/// newer server's or a module's) is refused until it has been checked.
pub const REDIS_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "fast",
    "blocking",
    "connection",
    "transaction",
    "scripting",
];

/// What a role that could run `ACL SETUSER` could do, for the error messages.
const BACKDOOR: &str = "a grant's user could run `ACL SETUSER` or `CONFIG SET` and \
                        make itself a user that outlives the grant";

/// Checks one Redis ACL rule. Rules that set passwords or switch users on and off
/// (`>`, `<`, `#`, `!`, `nopass`, `on`, `off`, `reset`) belong to Warden, never to a
/// role; rules that add an administrative command or a category holding one are refused
/// (see the module's documentation and `docs/connectors/redis.md`).
pub fn redis_rule(s: &str) -> Result<&str, String> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a rule has no spaces or control characters".into());
    }
    // Redis reads command and category names without regard to case.
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "allcommands" => {
            return Err(format!(
                "`allcommands` gives every command, the administrative ones included: {BACKDOOR}"
            ));
        }
        "allkeys" | "allchannels" | "nocommands" | "resetkeys" | "resetchannels" => {
            return Ok(s);
        }
        _ => {}
    }
    let pattern = ["~", "%R~", "%W~", "%RW~", "&"]
        .iter()
        .any(|p| s.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
    if pattern {
        return Ok(s);
    }
    let (adds, name) = match lower.split_at_checked(1) {
        Some(("+", rest)) => (true, rest),
        Some(("-", rest)) => (false, rest),
        _ => return Err(SYNTAX.into()),
    };
    let (category, name) = match name.strip_prefix('@') {
        Some(c) => (true, c),
        None => (false, name),
    };
    let well_formed = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '|' || c == '-' || c == '_')
        && (!category || !name.contains('|'));
    if !well_formed {
        return Err(SYNTAX.into());
    }
    // Taking a command or category away never gives anything.
    if !adds {
        return Ok(s);
    }
    if category {
        refused_category(name)
    } else {
        refused_command(name)
    }
    .map_or(Ok(s), Err)
}

const SYNTAX: &str =
    "expected a key pattern (`~…`), channel (`&…`) or command rule (`+@read`, `-flushall`)";

/// Why adding category `name` (lower case, without `@`) is refused, if it is.
fn refused_category(name: &str) -> Option<String> {
    if REDIS_CATEGORIES.contains(&name) {
        return None;
    }
    Some(match name {
        "all" => {
            format!("`+@all` gives every command, the administrative ones included: {BACKDOOR}")
        }
        "admin" | "dangerous" | "slow" => format!(
            "category `@{name}` holds `ACL SETUSER`, `CONFIG SET`, `MODULE LOAD` and other administrative commands: {BACKDOOR}; list the commands the role needs instead"
        ),
        _ => format!(
            "category `@{name}` is not one Warden has checked for administrative commands; the categories a role may add are {}",
            REDIS_CATEGORIES.join(", ")
        ),
    })
}

/// Why adding command `name` (lower case; `command` or `command|subcommand`) is refused,
/// if it is.
fn refused_command(name: &str) -> Option<String> {
    let mut parts = name.split('|');
    let command = parts.next().unwrap_or(name);
    if REDIS_REFUSED_COMMANDS.contains(&command) {
        return Some(format!(
            "command `{command}` administers the server, its users or its replication: {BACKDOOR}"
        ));
    }
    match parts.next() {
        // The whole command, every subcommand with it.
        None => REDIS_REFUSED_SUBCOMMANDS
            .iter()
            .any(|refused| refused.split('|').next() == Some(command))
            .then(|| {
                format!(
                    "command `{command}` includes subcommands that administer the server; list the subcommands the role needs (`+{command}|…`)"
                )
            }),
        Some(sub) => {
            let pair = format!("{command}|{sub}");
            REDIS_REFUSED_SUBCOMMANDS
                .contains(&pair.as_str())
                .then(|| format!("`{pair}` administers the server: {BACKDOOR}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn data_rules_and_safe_categories_are_accepted() {
        for ok in [
            "~session:*",
            "%R~reports:*",
            "&events:*",
            "allkeys",
            "allchannels",
            "nocommands",
            "resetkeys",
            "+get",
            "+client|setname",
            "+cluster|slots",
            "+info",
            "+select|0",
            "-@all",
            "-@admin",
            "-acl",
            "-config|set",
            "-flushall",
            "+@Read",
        ] {
            assert_eq!(redis_rule(ok), Ok(ok), "{ok}");
        }
        for category in REDIS_CATEGORIES {
            let rule = format!("+@{category}");
            assert!(redis_rule(&rule).is_ok(), "{rule}");
        }
    }

    #[test]
    fn rules_that_administer_the_server_or_mint_users_are_refused() {
        for bad in [
            "+@all",
            "+@ALL",
            "allcommands",
            "AllCommands",
            "+@admin",
            "+@dangerous",
            "+@slow",
            "+@search",
            "+acl",
            "+ACL",
            "+acl|setuser",
            "+Acl|SetUser",
            "+acl|whoami",
            "+config",
            "+config|set",
            "+config|get",
            "+module",
            "+module|load",
            "+debug",
            "+debug|sleep",
            "+shutdown",
            "+failover",
            "+replicaof",
            "+slaveof",
            "+monitor",
            "+sync",
            "+psync",
            "+save",
            "+bgsave",
            "+slowlog|get",
            "+cluster",
            "+cluster|meet",
            "+CLUSTER|SetSlot",
        ] {
            let why = redis_rule(bad).unwrap_err();
            assert!(!why.is_empty(), "{bad}");
        }
    }

    #[test]
    fn the_refusal_says_why() {
        assert!(redis_rule("+@all").unwrap_err().contains("ACL SETUSER"));
        assert!(redis_rule("+@slow").unwrap_err().contains("`@slow`"));
        assert!(redis_rule("+acl|setuser").unwrap_err().contains("`acl`"));
        assert!(
            redis_rule("+@json")
                .unwrap_err()
                .contains("not one Warden has checked")
        );
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            "+", "-", "+@", "+@read|x", "get", "+get;", "+@re ad", "(+@read)",
        ] {
            assert!(redis_rule(bad).is_err(), "{bad}");
        }
    }
}
