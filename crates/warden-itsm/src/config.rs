//! One `[[itsm]]` block of the server configuration (DESIGN §8): which ITSM, how to reach its
//! API, how its webhooks are signed and which ticket field feeds which request field.
//! Secrets are never in the TOML itself: [`ItsmConfig::load_secrets`] reads them from files or
//! the environment, and `Debug` redacts them.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use warden_model::Duration;

use crate::error::ItsmConfigError;

/// Which ITSM an adapter talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItsmKind {
    /// Request Tracker 5 (REST2).
    Rt,
    /// ServiceNow (Table API, `sc_req_item`).
    Servicenow,
    /// Jira Service Management (`/rest/servicedeskapi`).
    Jira,
    /// A body that is already a Warden request (DESIGN §3.1); no ticket to re-read.
    Generic,
}

impl ItsmKind {
    /// The configuration word for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ItsmKind::Rt => "rt",
            ItsmKind::Servicenow => "servicenow",
            ItsmKind::Jira => "jira",
            ItsmKind::Generic => "generic",
        }
    }
}

/// How inbound webhooks prove they come from the ITSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureKind {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    StandardWebhooks,
    /// `sha256=<hex>` HMAC-SHA256 of the body in one header (GitHub, Jira).
    HmacSha256,
    /// A header whose value must equal the secret.
    SharedSecret,
}

/// Which ticket field feeds each request field (`[itsm.fields]`). Only catalog words
/// (`system`, `needs`, `task`, `role`) ever reach the decision: no free-form entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// Who asks; matched to an identity by email.
    pub requester: String,
    /// Who receives the access; the requester when absent.
    #[serde(default)]
    pub subject: Option<String>,
    /// The target system.
    #[serde(default)]
    pub system: Option<String>,
    /// The permissions needed, a comma or space separated list.
    #[serde(default)]
    pub needs: Option<String>,
    /// The standard task.
    #[serde(default)]
    pub task: Option<String>,
    /// The role asked for.
    #[serde(default)]
    pub role: Option<String>,
    /// Why the access is needed.
    pub purpose: String,
    /// How long (`8h` or ISO 8601 `PT8H`); the role's default when empty.
    #[serde(default)]
    pub duration: Option<String>,
}

/// Where approvals are recorded on the ticket (`[itsm.approval]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// RT: the field an approver sets (`CF.Approval` or `Status`); the author of the change is
    /// the approver. ServiceNow and Jira use their own approval records and ignore it.
    #[serde(default)]
    pub field: Option<String>,
    /// The value meaning yes (`approved`).
    #[serde(default = "default_approved")]
    pub approved: String,
    /// The value meaning no (`rejected`).
    #[serde(default = "default_rejected")]
    pub rejected: String,
    /// The value Warden sets back while more approvals are needed (`pending`).
    #[serde(default = "default_pending")]
    pub pending: String,
}

fn default_approved() -> String {
    "approved".into()
}
fn default_rejected() -> String {
    "rejected".into()
}
fn default_pending() -> String {
    "pending".into()
}

/// Request sources that are not ITSMs: `api` (the default of API requests) and `oidc`
/// (workloads signing in with their token). No adapter may be named after them.
pub const RESERVED_NAMES: [&str; 2] = ["api", "oidc"];

/// Which attribute of an ITSM user names a catalog identity (`[itsm.identity] match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMatch {
    /// The user's email equals the identity's `email` (compared case-insensitively).
    #[default]
    Email,
    /// The user's login name equals the identity's `id`.
    Login,
}

impl IdentityMatch {
    /// The configuration word (`email` or `login`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMatch::Email => "email",
            IdentityMatch::Login => "login",
        }
    }
}

/// How ticket users are matched to identities (`[itsm.identity]`). There is one attribute
/// and no fallback to the other: a login is never taken for an email or the reverse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The attribute compared (`email`, the default, or `login`).
    #[serde(rename = "match", default)]
    pub attribute: IdentityMatch,
}

/// Which grants closing their ticket revokes (`revoke_on_close`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "RevokeOnCloseFile")]
pub enum RevokeOnClose {
    /// None (`false`, the default).
    #[default]
    Never,
    /// Every grant from this ITSM (`true`).
    Always,
    /// Grants of these roles, or for these tasks (`["payments-db.write", "deploy-hotfix"]`).
    For(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RevokeOnCloseFile {
    Flag(bool),
    Ids(Vec<String>),
}

impl From<RevokeOnCloseFile> for RevokeOnClose {
    fn from(f: RevokeOnCloseFile) -> Self {
        match f {
            RevokeOnCloseFile::Flag(false) => RevokeOnClose::Never,
            RevokeOnCloseFile::Flag(true) => RevokeOnClose::Always,
            RevokeOnCloseFile::Ids(ids) => RevokeOnClose::For(ids),
        }
    }
}

impl RevokeOnClose {
    /// Whether closing the ticket revokes a grant of `role`, requested for `task`.
    pub fn applies(&self, role: Option<&str>, task: Option<&str>) -> bool {
        match self {
            RevokeOnClose::Never => false,
            RevokeOnClose::Always => true,
            RevokeOnClose::For(ids) => ids
                .iter()
                .any(|id| Some(id.as_str()) == role || Some(id.as_str()) == task),
        }
    }
}

/// One `[[itsm]]` block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItsmConfig {
    /// The adapter's name: the webhook path `/v1/itsm/{name}` and every request's `source`.
    pub name: String,
    /// Which ITSM.
    pub kind: ItsmKind,
    /// The ITSM's base URL (`http://127.0.0.1:8080`, `https://acme.service-now.com`); not for
    /// `generic`.
    #[serde(default)]
    pub url: Option<String>,
    /// The API account. With no username, the password is sent as a token
    /// (RT `Authorization: token …`, others `Bearer …`).
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the API password or token (or `WARDEN_ITSM_<NAME>_PASSWORD`).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The API password or token, filled by [`ItsmConfig::load_secrets`].
    #[serde(skip)]
    pub password: Option<SecretString>,
    /// How webhooks are signed.
    pub signature: SignatureKind,
    /// A file with one webhook secret per line; several lines while a secret is rotated
    /// (or `WARDEN_ITSM_<NAME>_SECRET`, one secret per line).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The webhook secrets, filled by [`ItsmConfig::load_secrets`].
    #[serde(skip)]
    pub secrets: Vec<SecretString>,
    /// The header carrying the HMAC or the shared secret (defaults: `X-Hub-Signature-256`;
    /// `X-Hub-Signature` for Jira; `X-Warden-Secret` for a shared secret).
    #[serde(default)]
    pub signature_header: Option<String>,
    /// Whether closing or resolving the ticket revokes the grant it created: `true` for
    /// every grant, or a list of the role and task ids it applies to.
    #[serde(default)]
    pub revoke_on_close: RevokeOnClose,
    /// How often the poller looks for tickets the webhooks missed; no polling when absent.
    #[serde(default)]
    pub poll_every: Option<Duration>,
    /// An extra filter for polling in the ITSM's own query language
    /// (RT TicketSQL `Queue = 'Access Requests'`, a ServiceNow encoded query, Jira JQL).
    #[serde(default)]
    pub poll_filter: Option<String>,
    /// The ticket field Warden sets to the outcome (`CF.Decision`, `u_warden_state`, `customfield_10060`).
    #[serde(default)]
    pub status_field: Option<String>,
    /// The queue outbound alerts open tickets in (RT; `General` when absent).
    #[serde(default)]
    pub queue: Option<String>,
    /// Which ticket field feeds which request field; required except for `generic`.
    #[serde(default)]
    pub fields: Option<FieldMap>,
    /// Where approvals are recorded.
    #[serde(default)]
    pub approval: Option<ApprovalConfig>,
    /// How requesters, subjects and approvers are matched to identities.
    #[serde(default)]
    pub identity: IdentityConfig,
}

impl fmt::Debug for ItsmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "[redacted]" } else { "none" };
        f.debug_struct("ItsmConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &redacted(self.password.is_some()))
            .field("signature", &self.signature)
            .field("secrets", &format!("[{} redacted]", self.secrets.len()))
            .field("signature_header", &self.signature_header)
            .field("revoke_on_close", &self.revoke_on_close)
            .field("poll_every", &self.poll_every)
            .field("poll_filter", &self.poll_filter)
            .field("status_field", &self.status_field)
            .field("queue", &self.queue)
            .field("fields", &self.fields)
            .field("approval", &self.approval)
            .field("identity", &self.identity)
            .finish()
    }
}

impl ItsmConfig {
    /// The prefix of this adapter's environment variables: `WARDEN_ITSM_<NAME>_`.
    pub fn env_prefix(&self) -> String {
        format!(
            "WARDEN_ITSM_{}_",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// Fills [`Self::password`] and [`Self::secrets`] from the environment (looked up through
    /// `env`, so tests and the binary choose the source) or else from `password_file` and
    /// `secret_file`, then checks the whole block with [`Self::validate`].
    pub fn load_secrets(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ItsmConfigError> {
        let prefix = self.env_prefix();
        if self.password.is_none() {
            self.password = match env(&format!("{prefix}PASSWORD")) {
                Some(p) if !p.trim().is_empty() => Some(SecretString::from(p.trim().to_owned())),
                _ => match &self.password_file {
                    Some(path) => Some(SecretString::from(
                        read_secret_file(&self.name, path)?.trim().to_owned(),
                    )),
                    None => None,
                },
            };
        }
        if self.secrets.is_empty() {
            let text = match env(&format!("{prefix}SECRET")) {
                Some(s) if !s.trim().is_empty() => s,
                _ => match &self.secret_file {
                    Some(path) => read_secret_file(&self.name, path)?,
                    None => String::new(),
                },
            };
            // One secret per line: a shared secret may hold spaces.
            self.secrets = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|s| SecretString::from(s.to_owned()))
                .collect();
        }
        self.validate()
    }

    /// Checks what serde alone cannot: the name (not one of [`RESERVED_NAMES`]), the URL, that a secret is present and of the
    /// right form, and that the ITSM kinds that re-read tickets have a field mapping.
    pub fn validate(&self) -> Result<(), ItsmConfigError> {
        let err = |m: &str| ItsmConfigError::new(&self.name, m);
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 40
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(ItsmConfigError::new(
                &self.name,
                "`name` may hold only 1 to 40 lowercase letters, digits and `-`",
            ));
        }
        // Requests are keyed by `(source, ticket)`; these sources belong to other front doors.
        if RESERVED_NAMES.contains(&self.name.as_str()) {
            return Err(err(&format!(
                "`name` may not be one of {}: those sources are Warden's own",
                RESERVED_NAMES.join(", ")
            )));
        }
        if self.secrets.is_empty() {
            return Err(err(
                "no webhook secret: set `secret_file` or the environment variable",
            ));
        }
        if self.signature == SignatureKind::StandardWebhooks {
            crate::signature::standard_webhooks_keys(&self.secrets).map_err(|m| err(&m))?;
        }
        if self.kind == ItsmKind::Generic {
            return Ok(());
        }
        match &self.url {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
            _ => return Err(err("`url` must be the ITSM's http:// or https:// address")),
        }
        let Some(fields) = &self.fields else {
            return Err(err(
                "`[itsm.fields]` is required to map tickets to requests",
            ));
        };
        if fields.needs.is_none() && fields.task.is_none() && fields.role.is_none() {
            return Err(err(
                "`[itsm.fields]` must map at least one of `needs`, `task` or `role`",
            ));
        }
        if self.password.is_none() {
            return Err(err(
                "no API password or token: set `password_file` or the environment variable",
            ));
        }
        Ok(())
    }

    /// The header holding the HMAC or shared secret.
    pub fn signature_header(&self) -> String {
        match (&self.signature_header, self.signature, self.kind) {
            (Some(h), _, _) => h.clone(),
            (None, SignatureKind::HmacSha256, ItsmKind::Jira) => "X-Hub-Signature".into(),
            (None, SignatureKind::SharedSecret, _) => "X-Warden-Secret".into(),
            (None, _, _) => "X-Hub-Signature-256".into(),
        }
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> Result<String, ItsmConfigError> {
        self.url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_owned())
            .ok_or_else(|| ItsmConfigError::new(&self.name, "`url` is required"))
    }
}

fn read_secret_file(name: &str, path: &Path) -> Result<String, ItsmConfigError> {
    // The error names the file but never its content.
    std::fs::read_to_string(path).map_err(|e| {
        ItsmConfigError::new(
            name,
            format!("cannot read `{}`: {}", path.display(), e.kind()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_on_close_is_a_flag_or_a_list_of_roles_and_tasks() {
        #[derive(serde::Deserialize)]
        struct W {
            r: RevokeOnClose,
        }
        let r = |t: &str| toml::from_str::<W>(&format!("r = {t}")).map(|w| w.r);
        assert_eq!(r("false").unwrap(), RevokeOnClose::Never);
        assert_eq!(r("true").unwrap(), RevokeOnClose::Always);
        let only = r(r#"["payments-db.write", "deploy-hotfix"]"#).unwrap();
        assert!(only.applies(Some("payments-db.write"), None));
        assert!(only.applies(Some("payments-db.read"), Some("deploy-hotfix")));
        assert!(!only.applies(Some("payments-db.read"), Some("other")));
        assert!(!RevokeOnClose::Never.applies(Some("x"), Some("y")));
        assert!(RevokeOnClose::Always.applies(None, None));
        assert!(r("3").is_err());
    }

    const RT: &str = r#"
name = "rt"
kind = "rt"
url = "http://127.0.0.1:8080"
username = "warden"
signature = "standard-webhooks"
revoke_on_close = true
poll_every = "30s"
poll_filter = "Queue = 'Access Requests'"
status_field = "CF.Decision"

[fields]
requester = "Requestor"
subject = "CF.Requested For"
system = "CF.Target System"
needs = "CF.Access Level"
task = "CF.Task"
purpose = "CF.Purpose"
duration = "CF.Access Duration"

[approval]
field = "CF.Approval"
"#;

    fn env(k: &str) -> Option<String> {
        match k {
            "WARDEN_ITSM_RT_PASSWORD" => Some("hunter2-password".into()),
            "WARDEN_ITSM_RT_SECRET" => Some(
                "whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5\nwhsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5\n".into(),
            ),
            _ => None,
        }
    }

    #[test]
    fn the_design_example_loads_with_secrets_from_the_environment() {
        let mut c: ItsmConfig = toml::from_str(RT).unwrap();
        c.load_secrets(&env).unwrap();
        assert_eq!(c.secrets.len(), 2);
        assert_eq!(c.poll_every.unwrap().seconds(), 30);
        assert_eq!(c.approval.as_ref().unwrap().pending, "pending");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("whsec_"),
            "{debug}"
        );
        assert!(debug.contains("[2 redacted]"), "{debug}");
    }

    #[test]
    fn unknown_keys_missing_secrets_and_bad_names_are_refused() {
        let e = toml::from_str::<ItsmConfig>(&format!("colour = 1\n{RT}")).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");

        let mut c: ItsmConfig = toml::from_str(RT).unwrap();
        let e = c.load_secrets(&|_| None).unwrap_err();
        assert!(e.to_string().contains("no webhook secret"), "{e}");

        let mut c: ItsmConfig = toml::from_str(RT).unwrap();
        let e = c
            .load_secrets(&|k| {
                (k == "WARDEN_ITSM_RT_SECRET")
                    .then(|| "not-whsec-at-all".to_owned())
                    .or_else(|| env(k))
            })
            .unwrap_err();
        assert!(
            e.to_string().contains("does not start with `whsec_`"),
            "{e}"
        );
        assert!(!e.to_string().contains("not-whsec-at-all"), "{e}");

        let mut c: ItsmConfig =
            toml::from_str(&RT.replace("name = \"rt\"", "name = \"R T\"")).unwrap();
        let e = c.load_secrets(&env).unwrap_err();
        assert!(e.to_string().contains("`name` may hold only"), "{e}");
    }

    #[test]
    fn jira_hmac_defaults_to_x_hub_signature() {
        let text = RT
            .replace("kind = \"rt\"", "kind = \"jira\"")
            .replace("standard-webhooks", "hmac-sha256");
        let c: ItsmConfig = toml::from_str(&text).unwrap();
        assert_eq!(c.signature_header(), "X-Hub-Signature");
    }
}
