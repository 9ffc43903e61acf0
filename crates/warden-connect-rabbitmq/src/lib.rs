//! The RabbitMQ connector: a user per grant with the role's vhost permissions, through the
//! management API.
//!
//! Provisioning puts the user (password, no tags) and exactly the role's permissions,
//! taking away any other vhost's. Removal deletes the user **and closes its connections**:
//! RabbitMQ checks permissions when a channel is opened or a resource first used, so a
//! consumer that is already running keeps receiving after its user or permissions are
//! gone. The connector returns only once the API shows no user and no connection of it.

mod api;
mod error;

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use warden_connect::kind::{self, RabbitmqPermission};
use warden_connect::url::percent_decode;
use warden_connect::{
    AccountName, ConnectError, Connector, ConnectorKind, Credential, Held, Prefix, Settings, Spec,
    generate_password,
};

use api::Api;

/// The first pause between two reads while closed connections are still listed; it
/// doubles up to [`CONFIRM_PAUSE_MAX`].
const CONFIRM_PAUSE: Duration = Duration::from_millis(20);
/// The longest pause between two reads.
const CONFIRM_PAUSE_MAX: Duration = Duration::from_millis(500);
/// How long removal waits, in all, for the API to show the user's connections gone
/// (its statistics can lag by seconds) before it fails as transient.
const CONFIRM_DEADLINE: Duration = Duration::from_secs(15);

/// A RabbitMQ broker Warden provisions users on, through its management API.
pub struct RabbitmqConnector {
    api: Api,
    prefix: Prefix,
}

impl std::fmt::Debug for RabbitmqConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitmqConnector")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Checks `settings` and makes the connector; nothing is sent until the first call.
///
/// `url` is the management API with the admin's credentials,
/// `http://admin:PASSWORD@host:15672`; or it is the broker's `amqp://admin:PASSWORD@host`
/// and the option `management_url` names the API (without credentials).
pub async fn connect(settings: &Settings) -> Result<RabbitmqConnector, ConnectError> {
    let config = |why: &str| ConnectError::Config(format!("connector `{}`: {why}", settings.name));
    if let Some(key) = settings.options.keys().find(|k| *k != "management_url") {
        return Err(config(&format!("rabbitmq takes no option `{key}`")));
    }
    // The parser's error could quote the url and its password, so it is left out.
    let url = reqwest::Url::parse(settings.url.expose_secret())
        .map_err(|_| config("the url is not a valid url"))?;
    let mut management = match (url.scheme(), settings.options.get("management_url")) {
        ("http" | "https", None) => url.clone(),
        ("http" | "https", Some(_)) => {
            return Err(config(
                "`management_url` is for an amqp url; this url is the management API already",
            ));
        }
        ("amqp" | "amqps", Some(m)) => {
            let m = reqwest::Url::parse(m)
                .map_err(|_| config("`management_url` is not a valid url"))?;
            if !m.username().is_empty() || m.password().is_some() {
                return Err(config(
                    "`management_url` holds no credentials; they belong in the url",
                ));
            }
            if !matches!(m.scheme(), "http" | "https") {
                return Err(config("`management_url` must be http or https"));
            }
            m
        }
        ("amqp" | "amqps", None) => {
            return Err(config(
                "an amqp url needs the option `management_url` (the management API)",
            ));
        }
        _ => {
            return Err(config(
                "the url must be the management API, `http://user:password@host:15672`",
            ));
        }
    };
    let user = percent_decode(url.username()).filter(|u| !u.is_empty());
    let password = url
        .password()
        .and_then(percent_decode)
        .filter(|p| !p.is_empty());
    let (Some(user), Some(password)) = (user, password) else {
        return Err(config("the url must hold the admin user and password"));
    };
    // Only the scheme, host, port and path prefix remain, so the base can never leak them.
    let _ = management.set_username("");
    let _ = management.set_password(None);
    management.set_query(None);
    management.set_fragment(None);
    let base = management.as_str().trim_end_matches('/').to_owned();
    Ok(RabbitmqConnector {
        api: Api::new(base, user, SecretString::from(password))?,
        prefix: settings.prefix.clone(),
    })
}

/// A user or a connection as the API lists it.
#[derive(Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    user: Option<String>,
}

/// One vhost's permissions of a user, as the API lists them.
#[derive(Deserialize)]
struct OnVhost {
    vhost: String,
}

/// `result`, with a transient error taken as done: for closing calls whose effect the
/// caller confirms by reading afterwards.
fn tolerate_transient<T>(result: Result<T, ConnectError>) -> Result<(), ConnectError> {
    match result {
        Err(e) if !e.is_transient() => Err(e),
        _ => Ok(()),
    }
}

/// The role's permissions, one per vhost.
fn permissions(grants: &[String]) -> Result<Vec<RabbitmqPermission>, ConnectError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        let p = kind::rabbitmq_permission(g).map_err(|why| {
            ConnectError::Config(format!(
                "`grants` entry `{}` is not valid for rabbitmq: {why}",
                g.escape_debug()
            ))
        })?;
        if !seen.insert(p.vhost.clone()) {
            return Err(ConnectError::Config(format!(
                "two `grants` entries name vhost `{}`; a user has one set of permissions per vhost",
                p.vhost.escape_debug()
            )));
        }
        out.push(p);
    }
    Ok(out)
}

impl RabbitmqConnector {
    /// The name in `held` if it is an account this connector may touch.
    fn ours<'a>(&self, held: &'a Held) -> Result<&'a str, ConnectError> {
        match held {
            Held::Account(name) if AccountName::parse(&self.prefix, name).is_some() => Ok(name),
            Held::Account(name) => Err(ConnectError::Permanent(format!(
                "rabbitmq: account `{name}` is not one this connector created"
            ))),
            Held::Membership { .. } => Err(ConnectError::Permanent(format!(
                "rabbitmq: {held} is not something rabbitmq holds"
            ))),
        }
    }

    /// Takes every permission and topic permission of `name` away except on `keep`.
    async fn drop_other_permissions(
        &self,
        name: &str,
        keep: &BTreeSet<&str>,
    ) -> Result<(), ConnectError> {
        for (list, delete) in [
            ("permissions", "permissions"),
            ("topic-permissions", "topic-permissions"),
        ] {
            let what = format!("listing the {list} of `{name}`");
            let held: Vec<OnVhost> = self
                .api
                .get(&what, &["users", name, list], &[])
                .await?
                .unwrap_or_default();
            for p in held {
                // Warden grants no topic permissions, so every one found is stale.
                if delete == "permissions" && keep.contains(p.vhost.as_str()) {
                    continue;
                }
                let what = format!("removing the {list} of `{name}` on vhost `{}`", p.vhost);
                self.api
                    .send(
                        &what,
                        Method::DELETE,
                        &[delete, &p.vhost, name],
                        &[],
                        None,
                        None,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The names of `name`'s connections the broker lists: from its connection tracking
    /// (`/api/connections/username/…`, exact and current) and from the management
    /// statistics (`/api/connections`, which can lag), so neither view is trusted alone.
    async fn connections_of(&self, name: &str) -> Result<BTreeSet<String>, ConnectError> {
        let what = format!("listing the connections of `{name}`");
        let tracked: Vec<Named> = self
            .api
            .get(&what, &["connections", "username", name], &[])
            .await?
            .unwrap_or_default();
        let all: Vec<Named> = self
            .api
            .get(&what, &["connections"], &[("columns", "name,user")])
            .await?
            .unwrap_or_default();
        Ok(tracked
            .into_iter()
            .chain(all.into_iter().filter(|c| c.user.as_deref() == Some(name)))
            .map(|c| c.name)
            .collect())
    }

    /// Deletes `name`, closes its connections and returns once the API shows neither.
    async fn delete_user(&self, name: &str) -> Result<(), ConnectError> {
        let (mut pause, mut waited) = (CONFIRM_PAUSE, Duration::ZERO);
        loop {
            let what = format!("deleting user `{name}`");
            self.api
                .send(&what, Method::DELETE, &["users", name], &[], None, None)
                .await?;
            // Closes every tracked connection of the user at once; a broker too old for
            // this endpoint answers 404, and the per-connection closing below remains.
            // The broker closes a deleted user's connections itself too, and this call
            // can then answer 500 for a connection already closing: a transient answer
            // here (and below) is left to the re-reading, which decides.
            let what = format!("closing the connections of `{name}`");
            tolerate_transient(
                self.api
                    .send(
                        &what,
                        Method::DELETE,
                        &["connections", "username", name],
                        &[],
                        None,
                        None,
                    )
                    .await,
            )?;
            let what = format!("reading user `{name}`");
            let user: Option<serde_json::Value> =
                self.api.get(&what, &["users", name], &[]).await?;
            let open = self.connections_of(name).await?;
            if user.is_none() && open.is_empty() {
                return Ok(());
            }
            for conn in &open {
                let what = format!("closing a connection of `{name}`");
                tolerate_transient(
                    self.api
                        .send(
                            &what,
                            Method::DELETE,
                            &["connections", conn],
                            &[],
                            None,
                            None,
                        )
                        .await,
                )?;
            }
            if waited >= CONFIRM_DEADLINE {
                return Err(ConnectError::Transient(format!(
                    "rabbitmq: user `{name}` or {} connection(s) of it still listed {}s after removal",
                    open.len(),
                    CONFIRM_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            waited += pause;
            pause = (pause * 2).min(CONFIRM_PAUSE_MAX);
        }
    }
}

#[async_trait]
impl Connector for RabbitmqConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Rabbitmq
    }

    fn check_grants(&self, grants: &[String]) -> Result<(), ConnectError> {
        self.kind().check_grants(grants)?;
        permissions(grants).map(|_| ())
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        self.check_grants(&spec.grants)?;
        let perms = permissions(&spec.grants)?;
        let name = spec.account.as_str();
        let password = generate_password()?;
        let body = serde_json::json!({ "password": password.expose_secret(), "tags": "" });
        let what = format!("putting user `{name}`");
        self.api
            .send(
                &what,
                Method::PUT,
                &["users", name],
                &[],
                Some(&body),
                Some(&password),
            )
            .await?;
        let keep: BTreeSet<&str> = perms.iter().map(|p| p.vhost.as_str()).collect();
        self.drop_other_permissions(name, &keep).await?;
        for p in &perms {
            let body =
                serde_json::json!({ "configure": p.configure, "write": p.write, "read": p.read });
            let what = format!("setting the permissions of `{name}` on vhost `{}`", p.vhost);
            let set = self
                .api
                .send(
                    &what,
                    Method::PUT,
                    &["permissions", &p.vhost, name],
                    &[],
                    Some(&body),
                    None,
                )
                .await?;
            if set.is_none() {
                return Err(ConnectError::Permanent(format!(
                    "rabbitmq: {what}: no such vhost"
                )));
            }
        }
        Ok(Some(Credential {
            username: name.to_owned(),
            password,
        }))
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        let name = self.ours(held)?;
        self.delete_user(name).await
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        let users: Vec<Named> = self
            .api
            .get("listing users", &["users"], &[])
            .await?
            .unwrap_or_default();
        Ok(users
            .into_iter()
            .filter(|u| AccountName::parse(&self.prefix, &u.name).is_some())
            .map(|u| Held::Account(u.name))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn a_role_names_each_vhost_once() {
        let one = ["vhost=/ configure=^$ write=^a read=^a".to_owned()];
        assert_eq!(permissions(&one).unwrap().len(), 1);
        let twice = [
            one[0].clone(),
            "vhost=/ configure=^$ write=^b read=^b".to_owned(),
        ];
        assert!(permissions(&twice).is_err());
        assert!(permissions(&["vhost=/ write=x".to_owned()]).is_err());
    }
}
