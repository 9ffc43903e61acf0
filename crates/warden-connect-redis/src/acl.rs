//! The pure part of the Redis connector: the `ACL SETUSER` arguments for a spec and the
//! reading of `CLIENT LIST`, kept apart from I/O so both are tested without a server.

use secrecy::{ExposeSecret, SecretString};
use warden_connect::{ConnectError, kind};

/// The arguments after `ACL SETUSER <account>`: `reset` first so a user that exists is
/// brought back to exactly these rules and this password (it clears passwords, keys,
/// channels, selectors and commands, and switches the user off), then `on`, the password
/// and the role's rules, each its own argument so no rule can smuggle in another.
pub(crate) fn setuser_rules(
    grants: &[String],
    password: &SecretString,
) -> Result<Vec<SecretString>, ConnectError> {
    let mut rules = vec![
        SecretString::from("reset"),
        SecretString::from("on"),
        SecretString::from(format!(">{}", password.expose_secret())),
    ];
    for g in grants {
        let rule = kind::redis_rule(g).map_err(|why| {
            ConnectError::Config(format!(
                "`grants` entry `{}` is not valid for redis: {why}",
                g.escape_debug()
            ))
        })?;
        rules.push(SecretString::from(rule.to_owned()));
    }
    Ok(rules)
}

/// The ids of the clients `CLIENT LIST` shows logged in as `user`. Each line is
/// `key=value` fields separated by spaces; client names cannot hold spaces, so splitting
/// on them is exact.
pub(crate) fn sessions_of(client_list: &str, user: &str) -> Vec<u64> {
    client_list
        .lines()
        .filter_map(|line| {
            let mut id = None;
            let mut theirs = false;
            for field in line.split_ascii_whitespace() {
                if let Some(v) = field.strip_prefix("id=") {
                    id = v.parse().ok();
                } else if let Some(v) = field.strip_prefix("user=") {
                    theirs = v == user;
                }
            }
            id.filter(|_| theirs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    fn exposed(rules: &[SecretString]) -> Vec<&str> {
        rules.iter().map(|r| r.expose_secret()).collect()
    }

    #[test]
    fn rules_are_separate_arguments_after_reset_and_password() {
        let pw = SecretString::from("pw");
        let rules = setuser_rules(&["~cache:*".into(), "+@read".into()], &pw).unwrap();
        assert_eq!(
            exposed(&rules),
            ["reset", "on", ">pw", "~cache:*", "+@read"]
        );
    }

    #[test]
    fn a_rule_holding_a_space_never_reaches_the_server() {
        let pw = SecretString::from("pw");
        for bad in ["~a:* nopass", "on", ">other", "nopass", "+@all allkeys", ""] {
            assert!(setuser_rules(&[bad.into()], &pw).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rule_that_administers_the_server_never_reaches_it() {
        let pw = SecretString::from("pw");
        for bad in ["+@all", "allcommands", "+acl|setuser", "+config", "+@admin"] {
            let e = setuser_rules(&["~*".into(), bad.into()], &pw).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn client_list_is_read_by_user_field() {
        let list = "id=3 addr=127.0.0.1:5 laddr=127.0.0.1:6379 fd=8 name= age=1 user=default cmd=client|list\n\
                    id=7 addr=127.0.0.1:6 name=x user=warden_ab_1 cmd=get\n\
                    id=9 addr=127.0.0.1:7 name= user=warden_ab_10 cmd=get\n\
                    id=11 addr=127.0.0.1:8 name= user=warden_ab_1 cmd=NULL\n";
        assert_eq!(sessions_of(list, "warden_ab_1"), [7, 11]);
        assert_eq!(sessions_of(list, "nobody"), Vec::<u64>::new());
    }
}
