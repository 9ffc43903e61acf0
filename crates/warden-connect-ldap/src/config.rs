//! The connector's settings, read from the instance's URL and `options` and checked once,
//! when the server starts: a typo or a template that could let a subject id escape its
//! value stops the server instead of a provisioning job.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use warden_connect::url::percent_decode;
use warden_connect::{ConnectError, Settings};

use crate::dn::{Dn, escape_value};

/// Where `{subject}` goes in the `users` template.
pub const SUBJECT: &str = "{subject}";

const OPTIONS: &[&str] = &[
    "users",
    "groups_base",
    "bind_dn",
    "password_file",
    "placeholder",
    "starttls",
];

/// The checked settings of one LDAP connector instance.
#[derive(Debug)]
pub struct Config {
    /// `ldap://host:port` or `ldaps://host:port`, without credentials, for the driver.
    pub server: String,
    /// Upgrade a plain `ldap://` connection with StartTLS before binding.
    pub starttls: bool,
    /// The DN Warden binds as.
    pub bind_dn: String,
    /// Its password.
    pub password: SecretString,
    /// DN template of a subject's entry, `{subject}` standing for one escaped value.
    pub users: String,
    /// Warden adds and removes members only in groups below this DN.
    pub groups_base: Dn,
    /// The member every managed group keeps, so removing the last real member never
    /// leaves a `groupOfNames` empty (which the schema forbids); never reported or removed.
    pub placeholder: Dn,
}

impl Config {
    /// Reads `settings`: the URL (`ldap://` or `ldaps://`, the bind DN and password as its
    /// percent-encoded user info, or `bind_dn` and `password_file` options) and the options
    /// `users`, `groups_base`, `placeholder` (default: the bind DN) and `starttls`.
    pub fn parse(settings: &Settings) -> Result<Self, ConnectError> {
        let o = &settings.options;
        if let Some(unknown) = o.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown option `{unknown}`; expected one of {}",
                OPTIONS.join(", ")
            )));
        }
        let url = split_url(settings.url.expose_secret())?;
        let bind_dn = match (url.user, o.get("bind_dn")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "the bind DN is given both in the url and as `bind_dn`".into()
                ));
            }
            (Some(user), None) => user,
            (None, Some(dn)) => dn.clone(),
            (None, None) => {
                return Err(bad(
                    "no bind DN: give it as the url's user or as option `bind_dn`".into(),
                ));
            }
        };
        let bind = Dn::parse(&bind_dn).map_err(|why| bad(format!("bind DN `{bind_dn}`: {why}")))?;
        let password = match (url.password, o.get("password_file")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "the password is given both in the url and as `password_file`".into(),
                ));
            }
            (Some(pw), None) => pw,
            (None, Some(path)) => read_password(path)?,
            (None, None) => {
                return Err(bad(
                    "no bind password: give it in the url or as option `password_file`".into(),
                ));
            }
        };
        let users = required(o, "users")?;
        check_template(&users)?;
        let groups_base = required(o, "groups_base")?;
        let groups_base = Dn::parse(&groups_base)
            .map_err(|why| bad(format!("`groups_base` `{groups_base}`: {why}")))?;
        let placeholder = match o.get("placeholder") {
            Some(p) => Dn::parse(p).map_err(|why| bad(format!("`placeholder` `{p}`: {why}")))?,
            None => bind,
        };
        let starttls = match o.get("starttls").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(bad(format!(
                    "`starttls` is `true` or `false`, not `{other}`"
                )));
            }
        };
        if starttls && url.server.starts_with("ldaps:") {
            return Err(bad(
                "`starttls` is for `ldap://` urls; `ldaps://` is TLS already".into(),
            ));
        }
        Ok(Self {
            server: url.server,
            starttls,
            bind_dn,
            password,
            users,
            groups_base,
            placeholder,
        })
    }

    /// The DN of `subject`'s entry: the `users` template with the subject escaped as one
    /// DN value, so that no subject id can name another entry.
    pub fn member(&self, subject: &str) -> Result<Dn, ConnectError> {
        let text = self.users.replace(SUBJECT, &escape_value(subject));
        Dn::parse(&text).map_err(|why| {
            ConnectError::Permanent(format!(
                "subject `{}` makes no valid DN: {why}",
                subject.escape_debug()
            ))
        })
    }
}

fn bad(msg: String) -> ConnectError {
    ConnectError::Config(format!("ldap connector: {msg}"))
}

fn required(o: &BTreeMap<String, String>, key: &str) -> Result<String, ConnectError> {
    o.get(key)
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .ok_or_else(|| bad(format!("option `{key}` is required")))
}

/// The template must hold `{subject}` once, as (part of) a value: substituting a subject
/// full of DN syntax must then still give a DN of the same shape.
fn check_template(users: &str) -> Result<(), ConnectError> {
    if users.matches(SUBJECT).count() != 1 {
        return Err(bad(format!(
            "`users` `{users}` must hold `{SUBJECT}` exactly once"
        )));
    }
    let plain = Dn::parse(&users.replace(SUBJECT, "x"))
        .map_err(|why| bad(format!("`users` `{users}`: {why}")))?;
    let hostile = Dn::parse(&users.replace(SUBJECT, &escape_value(",x=y+z=w\\ ")))
        .map_err(|_| bad(format!("`users` `{users}` must put `{SUBJECT}` in a value")))?;
    if plain.depth() != hostile.depth() {
        return Err(bad(format!(
            "`users` `{users}` must put `{SUBJECT}` in a value"
        )));
    }
    Ok(())
}

fn read_password(path: &str) -> Result<SecretString, ConnectError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read `password_file` `{path}`: {e}")))?;
    let pw = text.trim_end_matches(['\n', '\r']);
    if pw.is_empty() {
        return Err(bad(format!("`password_file` `{path}` is empty")));
    }
    Ok(SecretString::from(pw.to_owned()))
}

struct Url {
    server: String,
    user: Option<String>,
    password: Option<SecretString>,
}

/// Splits `ldap[s]://[user[:password]@]host[:port][/]`. Errors never quote the URL, which
/// may hold the password.
fn split_url(url: &str) -> Result<Url, ConnectError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("ldap://") {
        ("ldap", rest)
    } else if let Some(rest) = url.strip_prefix("ldaps://") {
        ("ldaps", rest)
    } else {
        return Err(bad("the url must start with `ldap://` or `ldaps://`".into()));
    };
    // The last `@` ends the user info: a password may hold `@` only percent-encoded, but
    // a host never holds one.
    let (userinfo, hostpart) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let host = hostpart.strip_suffix('/').unwrap_or(hostpart);
    if host.is_empty() || host.contains(['/', '?', '#', '@']) {
        return Err(bad(
            "the url must be `ldap[s]://[bind DN[:password]@]host[:port]`, with no path".into(),
        ));
    }
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pw) = match u.split_once(':') {
                Some((user, pw)) => (user, Some(pw)),
                None => (u, None),
            };
            let user = percent_decode(user)
                .ok_or_else(|| bad("the url's user is not valid percent-encoded UTF-8".into()))?;
            let pw = match pw {
                Some(pw) => Some(SecretString::from(percent_decode(pw).ok_or_else(|| {
                    bad("the url's password is not valid percent-encoded UTF-8".into())
                })?)),
                None => None,
            };
            (
                (!user.is_empty()).then_some(user),
                pw.filter(|p| !p.expose_secret().is_empty()),
            )
        }
    };
    Ok(Url {
        server: format!("{scheme}://{host}"),
        user,
        password,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn settings(url: &str, options: &[(&str, &str)]) -> Settings {
        Settings {
            name: "dir".into(),
            url: SecretString::from(url.to_owned()),
            prefix: warden_connect::Prefix::default(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    const BASE: [(&str, &str); 2] = [
        ("users", "uid={subject},ou=people,dc=warden,dc=test"),
        ("groups_base", "ou=groups,dc=warden,dc=test"),
    ];

    #[test]
    fn url_user_info_gives_the_bind_dn_and_password() {
        let c = Config::parse(&settings(
            "ldap://cn=admin,dc=warden,dc=test:p%40ss%3Aw@127.0.0.1:3890/",
            &BASE,
        ))
        .unwrap();
        assert_eq!(c.server, "ldap://127.0.0.1:3890");
        assert_eq!(c.bind_dn, "cn=admin,dc=warden,dc=test");
        assert_eq!(c.password.expose_secret(), "p@ss:w");
        assert_eq!(c.placeholder.to_string(), "cn=admin,dc=warden,dc=test");
        assert!(!c.starttls);
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn bind_dn_and_password_file_come_from_options() {
        let dir = std::env::temp_dir().join(format!("warden-ldap-pw-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let path = dir.to_str().unwrap();
        let mut opts = BASE.to_vec();
        opts.extend([
            ("bind_dn", "cn=warden,ou=services,dc=warden,dc=test"),
            ("password_file", path),
            ("placeholder", "cn=nobody,dc=warden,dc=test"),
            ("starttls", "true"),
        ]);
        let c = Config::parse(&settings("ldap://ldap.example.com", &opts)).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(c.bind_dn, "cn=warden,ou=services,dc=warden,dc=test");
        assert_eq!(c.password.expose_secret(), "s3cret");
        assert_eq!(c.placeholder.to_string(), "cn=nobody,dc=warden,dc=test");
        assert!(c.starttls);
    }

    #[test]
    fn bad_settings_are_refused_without_quoting_the_password() {
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("http://cn=a:hunter2@h", BASE.to_vec()),
            ("ldap://cn=a:hunter2@h/dc=x?cn", BASE.to_vec()),
            ("ldap://h", BASE.to_vec()),
            ("ldap://cn=a@h", BASE.to_vec()),
            ("ldap://cn=a:hunter2@h", vec![BASE[1]]),
            ("ldap://cn=a:hunter2@h", vec![BASE[0]]),
            (
                "ldap://cn=a:hunter2@h",
                [BASE.as_slice(), &[("bind_dn", "cn=b")]].concat(),
            ),
            (
                "ldap://cn=a:hunter2@h",
                [BASE.as_slice(), &[("colour", "red")]].concat(),
            ),
            (
                "ldap://cn=a:hunter2@h",
                [BASE.as_slice(), &[("starttls", "yes")]].concat(),
            ),
            (
                "ldaps://cn=a:hunter2@h",
                [BASE.as_slice(), &[("starttls", "true")]].concat(),
            ),
            ("ldap://not a dn:hunter2@h", BASE.to_vec()),
            (
                "ldap://cn=a:hunter2@h",
                vec![("users", "uid=x,dc=t"), BASE[1]],
            ),
            (
                "ldap://cn=a:hunter2@h",
                vec![("users", "{subject},dc=t"), BASE[1]],
            ),
            (
                "ldap://cn=a:hunter2@h",
                vec![("users", "uid={subject}{subject},dc=t"), BASE[1]],
            ),
            (
                "ldap://cn=a:hunter2@h",
                vec![BASE[0], ("groups_base", "groups")],
            ),
        ];
        for (url, opts) in cases {
            let e = Config::parse(&settings(url, &opts)).unwrap_err();
            assert!(matches!(e, ConnectError::Config(_)), "{url} {opts:?}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn members_are_built_with_the_subject_escaped() {
        let c = Config::parse(&settings("ldap://cn=a:pw@h", &BASE)).unwrap();
        assert_eq!(
            c.member("alice").unwrap().to_string(),
            "uid=alice,ou=people,dc=warden,dc=test"
        );
        assert_eq!(
            c.member("a,ou=x").unwrap().to_string(),
            "uid=a\\,ou\\=x,ou=people,dc=warden,dc=test"
        );
        assert_eq!(c.member("\0").unwrap().depth(), 4);
    }
}
