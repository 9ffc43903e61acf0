//! One `[[alert]]` block: its name, where it is delivered (a URL signed with a secret from
//! a private file, and optionally a ticket through a configured ITSM), and the events it
//! subscribes to. Errors name the alert and the field.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::pattern::EventPattern;
use crate::send::Sender;
use crate::sign::Signer;

/// One `[[alert]]` block as written.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The alert's name: `[a-z0-9-]`, unique; the cursor and job keys are kept under it.
    pub name: String,
    /// Where deliveries are POSTed (http or https); optional when `itsm` is set.
    #[serde(default)]
    pub url: Option<String>,
    /// A file holding the Standard Webhooks secret `whsec_<base64>` (first line), readable
    /// by its owner only; required with `url`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The events delivered: exact action names, prefixes ending in `*`, or `*`.
    pub events: Vec<EventPattern>,
    /// A configured `[[itsm]]` through which each event also opens a ticket (or comments on
    /// the ticket its request came from).
    #[serde(default)]
    pub itsm: Option<String>,
}

/// What is wrong with one `[[alert]]` block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("alert `{name}`: `alert.{field}`: {message}")]
pub struct AlertConfigError {
    /// The alert's name as written.
    pub name: String,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// The longest alert name.
const MAX_NAME: usize = 40;

impl AlertConfig {
    fn error(&self, field: &'static str, message: impl Into<String>) -> AlertConfigError {
        AlertConfigError {
            name: self.name.chars().take(MAX_NAME).collect(),
            field,
            message: message.into(),
        }
    }

    /// Checks what serde alone cannot: the name's characters, the URL's scheme, a secret
    /// file with every URL, at least one event, and somewhere to deliver. Whether `itsm`
    /// names a configured ITSM is the caller's to check: only it knows them.
    pub fn validate(&self) -> Result<(), AlertConfigError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(self.error(
                "name",
                format!("may hold only 1 to {MAX_NAME} lowercase letters, digits and `-`"),
            ));
        }
        match &self.url {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                if self.secret_file.is_none() {
                    return Err(self.error("secret_file", "is required with `url`"));
                }
            }
            Some(_) => return Err(self.error("url", "must be an http:// or https:// address")),
            None if self.itsm.is_none() => {
                return Err(self.error("url", "is required unless `itsm` is set"));
            }
            None => {
                if self.secret_file.is_some() {
                    return Err(self.error("secret_file", "is only used with `url`"));
                }
            }
        }
        if self.events.is_empty() {
            return Err(self.error("events", "must list at least one event pattern"));
        }
        if self.itsm.as_deref().is_some_and(str::is_empty) {
            return Err(self.error("itsm", "must name a configured `[[itsm]]`"));
        }
        Ok(())
    }

    /// Whether an event with `action` is one this alert delivers.
    pub fn wants(&self, action: &str) -> bool {
        self.events.iter().any(|p| p.matches(action))
    }

    /// The sender for `url`, its secret read from `secret_file`; `None` without a URL. A
    /// secret file open to group or others is refused, like every secret file Warden reads.
    pub fn sender(&self) -> Result<Option<Sender>, AlertConfigError> {
        self.validate()?;
        let (Some(url), Some(file)) = (&self.url, &self.secret_file) else {
            return Ok(None);
        };
        let secret = read_secret(file).map_err(|m| self.error("secret_file", m))?;
        let signer = Signer::new(&secret).map_err(|e| self.error("secret_file", e.to_string()))?;
        Sender::new(url, signer)
            .map(Some)
            .map_err(|m| self.error("url", m))
    }
}

/// The first line of a private secret file. Messages name the file, never its content.
fn read_secret(path: &Path) -> Result<SecretString, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {}", e.kind()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "`{shown}` is open to group or others (mode {:o}); run `chmod 600 {shown}`",
                mode & 0o777
            ));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{shown}`: {}", e.kind()))?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    Ok(SecretString::from(first.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AlertConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_block_is_checked_field_by_field() {
        let ok = parse(
            "name = \"secops\"\nurl = \"https://h/x\"\nsecret_file = \"/s\"\nevents = [\"alert.*\"]\n",
        );
        ok.validate().unwrap();
        assert!(ok.wants("alert.break_glass"));
        assert!(!ok.wants("grant.activated"));
        for (text, field) in [
            (
                "name = \"Sec_Ops\"\nurl = \"https://h\"\nsecret_file = \"/s\"\nevents = [\"*\"]",
                "name",
            ),
            (
                "name = \"a\"\nurl = \"ftp://h\"\nsecret_file = \"/s\"\nevents = [\"*\"]",
                "url",
            ),
            (
                "name = \"a\"\nurl = \"https://h\"\nevents = [\"*\"]",
                "secret_file",
            ),
            ("name = \"a\"\nevents = [\"*\"]", "url"),
            (
                "name = \"a\"\nurl = \"https://h\"\nsecret_file = \"/s\"\nevents = []",
                "events",
            ),
            ("name = \"a\"\nitsm = \"\"\nevents = [\"*\"]", "itsm"),
        ] {
            let e = parse(text).validate().unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.to_string().contains(&format!("`alert.{field}`")), "{e}");
        }
        parse("name = \"t\"\nitsm = \"rt\"\nevents = [\"*\"]")
            .validate()
            .unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_patterns_are_refused() {
        assert!(
            toml::from_str::<AlertConfig>("name = \"a\"\nevents = [\"*\"]\ncolour = 1").is_err()
        );
        let e = toml::from_str::<AlertConfig>("name = \"a\"\nevents = [\"a*b\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`a*b`"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_must_be_private_and_is_never_quoted() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("warden-alert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "whsec_c2VjcmV0LWtleQ==\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = AlertConfig {
            name: "a".into(),
            url: Some("http://127.0.0.1:1/".into()),
            secret_file: Some(file.clone()),
            events: vec![EventPattern::All],
            itsm: None,
        };
        let e = c.sender().unwrap_err();
        assert_eq!(e.field, "secret_file");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(c.sender().unwrap().is_some());
        std::fs::write(&file, "hunter2\n").unwrap();
        let e = c.sender().unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
