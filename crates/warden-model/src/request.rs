//! The request (DESIGN §3.1): one ask, usually from a ticket. Parsed strictly: unknown
//! fields, malformed values and missing required fields are errors naming the field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Duration, IdentityId, Permission, RoleId, SystemId, TaskId, Timestamp};

/// The longest free-text purpose accepted.
pub const MAX_PURPOSE_LEN: usize = 2_000;
/// The longest `source` or `ticket` accepted.
pub const MAX_REF_LEN: usize = 200;

/// The claims of a workload's OIDC token that reach policy as `context.oidc.<name>`: the
/// ones GitHub Actions, GitLab CI and Kubernetes use to say which job, branch and
/// environment is running. A fixed list, so the Cedar schema can name each one and a
/// policy that misspells one fails validation at load.
pub const OIDC_CLAIMS: [&str; 16] = [
    "iss",
    "sub",
    "ref",
    "ref_type",
    "ref_protected",
    "environment",
    "repository",
    "repository_owner",
    "workflow",
    "job_workflow_ref",
    "actor",
    "event_name",
    "sha",
    "project_path",
    "namespace_path",
    "pipeline_source",
];

/// One ask for access.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Where the request came from (`servicenow`, `rt`, `cli`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The ITSM's id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Who asks.
    pub requester: IdentityId,
    /// Who receives the access; defaults to the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<IdentityId>,
    /// The target system; may be left out when a role or task names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemId>,
    /// The role asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleId>,
    /// The permissions needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<Vec<Permission>>,
    /// The standard task this request is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    /// Why the access is needed.
    pub purpose: String,
    /// How long the access is needed; defaults to the role's `default_duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// The break-glass path.
    #[serde(default)]
    pub emergency: bool,
    /// When the ask was made (informational; decisions take their instant separately).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    /// For a workload's request: the claims of its verified OIDC token named in
    /// [`OIDC_CLAIMS`]. Set only by the workload sign-in, never taken from a caller's body;
    /// left out of the encoding when empty, so requests without it hash as they always did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub oidc: BTreeMap<String, String>,
}

/// A request that cannot be read, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
pub struct InputError {
    /// The path of the offending field, if one is to blame.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl InputError {
    /// An error about `field`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// Deserialises JSON into `T`, naming the path of any field at fault.
pub fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, InputError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return InputError {
                field: None,
                message: format!("malformed JSON: {inner}"),
            };
        }
        InputError {
            field: (path != "." && !path.is_empty()).then_some(path),
            message: strip_position(&inner.to_string()),
        }
    })?;
    de.end().map_err(|e| InputError {
        field: None,
        message: format!("malformed JSON: {e}"),
    })?;
    Ok(value)
}

/// serde_json appends " at line 1 column 52" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

impl Request {
    /// Parses and validates a JSON request.
    pub fn from_json(bytes: &[u8]) -> Result<Self, InputError> {
        let r: Request = from_json(bytes)?;
        r.validate()?;
        Ok(r)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.role.is_none() && self.needs.is_none() && self.task.is_none() {
            return Err(InputError {
                field: Some("role".into()),
                message: "one of `role`, `needs` or `task` is required".into(),
            });
        }
        if let Some(needs) = &self.needs
            && needs.is_empty()
        {
            return Err(InputError::field(
                "needs",
                "must name at least one permission",
            ));
        }
        if self.system.is_none() && self.role.is_none() && self.task.is_none() {
            return Err(InputError::field(
                "system",
                "is required when the request names only `needs`",
            ));
        }
        if self.purpose.trim().is_empty() {
            return Err(InputError::field("purpose", "must not be empty"));
        }
        if self.purpose.chars().count() > MAX_PURPOSE_LEN {
            return Err(InputError::field(
                "purpose",
                format!("must be at most {MAX_PURPOSE_LEN} characters"),
            ));
        }
        for (name, value) in [("source", &self.source), ("ticket", &self.ticket)] {
            if let Some(v) = value
                && (v.is_empty()
                    || v.chars().count() > MAX_REF_LEN
                    || v.chars().any(char::is_control))
            {
                return Err(InputError::field(
                    name,
                    format!("must be 1 to {MAX_REF_LEN} printable characters"),
                ));
            }
        }
        for (name, value) in &self.oidc {
            if !OIDC_CLAIMS.contains(&name.as_str()) {
                return Err(InputError::field(
                    &format!("oidc.{name}"),
                    format!(
                        "is not one of the claims policy sees: {}",
                        OIDC_CLAIMS.join(", ")
                    ),
                ));
            }
            if value.chars().count() > MAX_REF_LEN || value.chars().any(char::is_control) {
                return Err(InputError::field(
                    &format!("oidc.{name}"),
                    format!("must be at most {MAX_REF_LEN} printable characters"),
                ));
            }
        }
        Ok(())
    }

    /// The identity that receives the access.
    pub fn subject(&self) -> &IdentityId {
        self.subject.as_ref().unwrap_or(&self.requester)
    }
}

/// One of the subject's grants that is in force, as separation of duties sees it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveGrant {
    /// The role held.
    pub role: RoleId,
    /// When it ends.
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> InputError {
        Request::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn minimal_request_parses() {
        let r =
            Request::from_json(br#"{"requester":"alice","role":"db.read","purpose":"x"}"#).unwrap();
        assert_eq!(r.subject().as_str(), "alice");
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(r#"{"requester":"alice","role":"db.read","purpose":"x","colour":"red"}"#);
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let e = err(r#"{"requester":"alice","role":"db.read","purpose":"x","duration":"6x"}"#);
        assert_eq!(e.field.as_deref(), Some("duration"), "{e}");
        let e = err(r#"{"requester":"alice","purpose":"x"}"#);
        assert!(
            e.to_string().contains("one of `role`, `needs` or `task`"),
            "{e}"
        );
        let e = err(r#"{"role":"db.read","purpose":"x"}"#);
        assert!(e.message.contains("missing field `requester`"), "{e}");
        let e = err(r#"{"requester":"al ice","role":"db.read","purpose":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("requester"), "{e}");
        let e = err(r#"{"requester":"alice","needs":["read"],"purpose":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("system"), "{e}");
        let e = err(r#"{"requester":"alice","role":"db.read","purpose":"x","emergency":"yes"}"#);
        assert_eq!(e.field.as_deref(), Some("emergency"), "{e}");
        let e = err(r#"{"requester":"alice","role":"db.read","#);
        assert!(e.field.is_none());
        assert!(e.message.starts_with("malformed JSON"), "{e}");
    }
}
