//! The LDAP connector: membership of the subject's entry in the role's groups.
//!
//! A grant adds the subject's existing entry (the `users` template with the subject id
//! escaped as one DN value) as a `member` of each `groupOfNames` its role lists, and only
//! of groups below `groups_base`. Nothing is minted: the subject keeps logging in with the
//! credentials it already has, and whatever reads the group decides what membership gives.
//! Revocation deletes the value and reads the group back until the member is gone.
//! Settings are described in `docs/connectors/ldap.md`.

pub mod config;
pub mod dn;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, Scope, SearchEntry,
};
use secrecy::ExposeSecret;
use tokio::sync::Mutex;
use warden_connect::{ConnectError, Connector, ConnectorKind, Credential, Held, Settings, Spec};

use crate::config::Config;
use crate::dn::Dn;

/// How long one connection attempt or one operation may take before it counts as the
/// directory being unavailable.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Entries per page when listing groups, below OpenLDAP's default size limit of 500.
const PAGE: i32 = 400;
/// The attribute `groupOfNames` lists its members in.
const MEMBER: &str = "member";

// LDAP result codes (RFC 4511 appendix A) the connector acts on.
const NO_SUCH_ATTRIBUTE: u32 = 16;
const VALUE_EXISTS: u32 = 20;
const NO_SUCH_OBJECT: u32 = 32;
const INVALID_DN_SYNTAX: u32 = 34;
const OBJECT_CLASS_VIOLATION: u32 = 65;

/// The LDAP connector. It holds at most one connection, bound as the admin DN, shared by
/// all operations (LDAP multiplexes requests on one connection).
pub struct LdapConnector {
    config: Config,
    conn: Mutex<Option<Ldap>>,
}

impl std::fmt::Debug for LdapConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Checks `settings` and makes the connector. The directory is reached on first use, so a
/// directory that is down when Warden starts delays grants rather than the start.
pub async fn connect(settings: &Settings) -> Result<LdapConnector, ConnectError> {
    Ok(LdapConnector {
        config: Config::parse(settings)?,
        conn: Mutex::new(None),
    })
}

impl LdapConnector {
    /// The DN of `subject`'s entry, once the directory shows that it exists. The subject
    /// id is escaped as one DN value, so no id can name another entry; an id without an
    /// entry is a permanent error naming it.
    pub async fn entry_of(&self, subject: &str) -> Result<String, ConnectError> {
        let dn = self.config.member(subject)?.to_string();
        let what = format!("look up entry `{dn}`");
        let target = dn.as_str();
        let (entries, result) = self
            .call(&what, move |mut l| async move {
                let r = l
                    .with_timeout(TIMEOUT)
                    .search(target, Scope::Base, "(objectClass=*)", vec!["1.1"])
                    .await?;
                Ok((r.0, r.1))
            })
            .await?;
        match result.rc {
            0 if !entries.is_empty() => Ok(dn),
            0 | NO_SUCH_OBJECT | INVALID_DN_SYNTAX => Err(ConnectError::Permanent(format!(
                "subject `{}` has no entry `{dn}` in the directory",
                subject.escape_debug()
            ))),
            _ => Err(refused(&what, &result)),
        }
    }

    /// `group` parsed and checked to be below `groups_base`.
    fn managed_group(&self, group: &str) -> Result<Dn, String> {
        let dn = Dn::parse(group).map_err(|why| format!("group `{group}` is not a DN: {why}"))?;
        if dn.is_under(&self.config.groups_base) {
            Ok(dn)
        } else {
            Err(format!(
                "group `{group}` is outside `groups_base` `{}`",
                self.config.groups_base
            ))
        }
    }

    async fn add_member(&self, group: &Dn, member: &str) -> Result<(), ConnectError> {
        let group = group.to_string();
        let what = format!("add `{member}` to `{group}`");
        let target = group.as_str();
        let result = self
            .call(&what, move |mut l| async move {
                l.with_timeout(TIMEOUT)
                    .modify(target, vec![Mod::Add(MEMBER, HashSet::from([member]))])
                    .await
            })
            .await?;
        match result.rc {
            0 | VALUE_EXISTS => Ok(()),
            NO_SUCH_OBJECT => Err(ConnectError::Permanent(format!(
                "group `{group}` does not exist"
            ))),
            _ => Err(refused(&what, &result)),
        }
    }

    async fn remove_member(&self, group: &Dn, member: &Dn) -> Result<(), ConnectError> {
        if member.same(&self.config.placeholder) {
            return Err(ConnectError::Permanent(format!(
                "`{member}` is the placeholder member of every managed group and is never removed"
            )));
        }
        let (group, member) = (group.to_string(), member.to_string());
        let what = format!("remove `{member}` from `{group}`");
        let (target, value) = (group.as_str(), member.as_str());
        let result = self
            .call(&what, move |mut l| async move {
                l.with_timeout(TIMEOUT)
                    .modify(target, vec![Mod::Delete(MEMBER, HashSet::from([value]))])
                    .await
            })
            .await?;
        match result.rc {
            // Not a member, or no such group: either way the membership is gone.
            0 | NO_SUCH_ATTRIBUTE | NO_SUCH_OBJECT => {}
            OBJECT_CLASS_VIOLATION => {
                return Err(ConnectError::Permanent(format!(
                    "removing `{member}` would leave `{group}` without a member; give the group \
                     the placeholder member `{}` (option `placeholder`)",
                    self.config.placeholder
                )));
            }
            _ => return Err(refused(&what, &result)),
        }
        // Confirm from the directory, matching as the server matches DNs.
        let what = format!("confirm `{member}` left `{group}`");
        let filter = format!("({MEMBER}={})", ldap3::ldap_escape(value));
        let filter = filter.as_str();
        let (entries, result) = self
            .call(&what, move |mut l| async move {
                let r = l
                    .with_timeout(TIMEOUT)
                    .search(target, Scope::Base, filter, vec!["1.1"])
                    .await?;
                Ok((r.0, r.1))
            })
            .await?;
        match result.rc {
            0 if entries.is_empty() => Ok(()),
            0 => Err(ConnectError::Transient(format!(
                "`{member}` still shows in `{group}` after its removal"
            ))),
            NO_SUCH_OBJECT => Ok(()),
            _ => Err(refused(&what, &result)),
        }
    }

    /// A bound connection: the shared one, or a new one when there is none or it closed.
    /// Also says whether it is new.
    async fn handle(&self) -> Result<(Ldap, bool), ConnectError> {
        let mut slot = self.conn.lock().await;
        if let Some(ldap) = slot.as_mut()
            && !ldap.is_closed()
        {
            return Ok((ldap.clone(), false));
        }
        *slot = None;
        let ldap = self.open().await?;
        *slot = Some(ldap.clone());
        Ok((ldap, true))
    }

    async fn open(&self) -> Result<Ldap, ConnectError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_starttls(self.config.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.server)
            .await
            .map_err(|e| failed(&format!("connect to `{}`", self.config.server), e))?;
        // The connection's own task; when it ends, `is_closed` tells the next caller, and an
        // operation in flight gets a transport error, which is transient.
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        let what = format!("bind as `{}`", self.config.bind_dn);
        let result = ldap
            .with_timeout(TIMEOUT)
            .simple_bind(&self.config.bind_dn, self.config.password.expose_secret())
            .await
            .map_err(|e| failed(&what, e))?;
        if result.rc != 0 {
            return Err(refused(&what, &result));
        }
        Ok(ldap)
    }

    /// Runs `op` on the shared connection. A connection that broke since its last use
    /// (the directory restarted, say) is replaced once and `op` run again: every
    /// operation here is idempotent.
    async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ConnectError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let (ldap, new) = self.handle().await?;
        match op(ldap).await {
            Ok(v) => Ok(v),
            Err(e) if is_transport(&e) => {
                *self.conn.lock().await = None;
                if new {
                    return Err(failed(what, e));
                }
                let (ldap, _) = self.handle().await?;
                let again = op(ldap).await;
                if again.as_ref().is_err_and(is_transport) {
                    *self.conn.lock().await = None;
                }
                again.map_err(|e| failed(what, e))
            }
            Err(e) => Err(failed(what, e)),
        }
    }

    fn member_text(&self, subject: &str) -> String {
        match self.config.member(subject) {
            Ok(dn) => dn.to_string(),
            // Unreachable for identity ids (letters, digits, `._@-`) and a template that
            // passed `connect`; the escaped text still never names another entry.
            Err(_) => self
                .config
                .users
                .replace(config::SUBJECT, &dn::escape_value(subject)),
        }
    }
}

#[async_trait]
impl Connector for LdapConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Ldap
    }

    fn check_grants(&self, grants: &[String]) -> Result<(), ConnectError> {
        ConnectorKind::Ldap.check_grants(grants)?;
        for g in grants {
            self.managed_group(g).map_err(|why| {
                ConnectError::Config(format!(
                    "`grants` entry `{}` is refused: {why}",
                    g.escape_debug()
                ))
            })?;
        }
        Ok(())
    }

    fn holds(&self, spec: &Spec) -> Vec<Held> {
        let member = self.member_text(spec.subject.as_str());
        spec.grants
            .iter()
            .map(|g| Held::Membership {
                group: Dn::parse(g).map_or_else(|_| g.clone(), |dn| dn.to_string()),
                member: member.clone(),
            })
            .collect()
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        let groups = spec
            .grants
            .iter()
            .map(|g| self.managed_group(g).map_err(ConnectError::Permanent))
            .collect::<Result<Vec<_>, _>>()?;
        let member = self.entry_of(spec.subject.as_str()).await?;
        for group in &groups {
            self.add_member(group, &member).await?;
        }
        Ok(None)
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        match held {
            Held::Account(name) => Err(ConnectError::Permanent(format!(
                "the ldap connector holds memberships, not accounts such as `{name}`"
            ))),
            Held::Membership { group, member } => {
                let group = self.managed_group(group).map_err(ConnectError::Permanent)?;
                let member = Dn::parse(member).map_err(|why| {
                    ConnectError::Permanent(format!("member `{member}` is not a DN: {why}"))
                })?;
                self.remove_member(&group, &member).await
            }
        }
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        let base = self.config.groups_base.to_string();
        let what = format!("list the groups under `{base}`");
        let target = base.as_str();
        let (entries, result) = self
            .call(&what, move |mut l| async move {
                let adapters: Vec<Box<dyn Adapter<'_, &str, Vec<&str>>>> = vec![
                    Box::new(EntriesOnly::new()),
                    Box::new(PagedResults::new(PAGE)),
                ];
                let mut stream = l
                    .with_timeout(TIMEOUT)
                    .streaming_search_with(
                        adapters,
                        target,
                        Scope::Subtree,
                        "(objectClass=groupOfNames)",
                        vec![MEMBER],
                    )
                    .await?;
                let mut entries = Vec::new();
                while let Some(entry) = stream.next().await? {
                    entries.push(SearchEntry::construct(entry));
                }
                Ok((entries, stream.finish().await))
            })
            .await?;
        match result.rc {
            0 => {}
            NO_SUCH_OBJECT => {
                return Err(ConnectError::Permanent(format!(
                    "`groups_base` `{base}` does not exist"
                )));
            }
            _ => return Err(refused(&what, &result)),
        }
        let mut held = Vec::new();
        for entry in entries {
            let Ok(group) = Dn::parse(&entry.dn) else {
                continue;
            };
            if !group.is_under(&self.config.groups_base) {
                continue;
            }
            let members = entry
                .attrs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(MEMBER))
                .flat_map(|(_, v)| v);
            for m in members {
                let member = match Dn::parse(m) {
                    Ok(dn) if dn.same(&self.config.placeholder) => continue,
                    Ok(dn) => dn.to_string(),
                    // Reported as the server has it, so a stray value is still seen.
                    Err(_) => m.clone(),
                };
                held.push(Held::Membership {
                    group: group.to_string(),
                    member,
                });
            }
        }
        held.sort();
        held.dedup();
        Ok(held)
    }
}

/// Whether `e` means the connection, not the directory, failed: retrying can help.
fn is_transport(e: &LdapError) -> bool {
    matches!(
        e,
        LdapError::Io { .. }
            | LdapError::Timeout { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::IdScrubSend { .. }
            | LdapError::MiscSend { .. }
            | LdapError::EndOfStream
    )
}

/// A driver error as a connector error. Driver messages hold no secret: the password only
/// travels in the bind request, never in a message about it.
fn failed(what: &str, e: LdapError) -> ConnectError {
    match e {
        LdapError::LdapResult { result } => refused(what, &result),
        e if is_transport(&e) => ConnectError::Transient(format!("{what}: {e}")),
        e => ConnectError::Permanent(format!("{what}: {e}")),
    }
}

/// A result code other than success: transient when the directory is busy, unavailable or
/// out of time, permanent otherwise (bad credentials, no rights, bad syntax, …).
fn refused(what: &str, r: &LdapResult) -> ConnectError {
    let name = match r.rc {
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        11 => "admin limit exceeded",
        16 => "no such attribute",
        17 => "undefined attribute type",
        19 => "constraint violation",
        20 => "value exists",
        21 => "invalid attribute syntax",
        32 => "no such object",
        34 => "invalid DN syntax",
        48 => "inappropriate authentication",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        65 => "object class violation",
        _ => "error",
    };
    let text = if r.text.is_empty() {
        String::new()
    } else {
        format!(": {}", r.text)
    };
    let msg = format!("{what}: {name} (result code {}){text}", r.rc);
    if matches!(r.rc, 3 | 51 | 52) {
        ConnectError::Transient(msg)
    } else {
        ConnectError::Permanent(msg)
    }
}
