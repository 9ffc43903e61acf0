//! Maps a re-read ticket to a Warden request through `[itsm.fields]`. Only catalog words
//! (`system`, `needs`, `task`, `role`) reach the request, never a free-form entitlement; a field
//! that is missing or invalid gives an error naming the ticket field, worded for a ticket comment.

use warden_model::{Duration, IdentityId, Permission, Request, RoleId, SystemId, TaskId};

use crate::config::FieldMap;
use crate::ticket::Ticket;

/// A ticket that does not map to a request; its message is fit for a ticket comment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct MappingError {
    /// The ticket field at fault, as `[itsm.fields]` names it (`CF.Access Duration`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl MappingError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Maps `ticket` to a request whose `source` is `source` (the adapter's name) and whose `ticket`
/// is the ITSM's id. `resolve` turns the requester's and subject's email or login into an
/// identity; `None` means no identity matches.
pub fn map(
    ticket: &Ticket,
    source: &str,
    fields: &FieldMap,
    resolve: &dyn Fn(&str) -> Option<IdentityId>,
) -> Result<Request, MappingError> {
    let required = |name: &str| {
        ticket
            .field(name)
            .ok_or_else(|| MappingError::new(name, "is missing"))
    };

    let requester_value = required(&fields.requester)?;
    let requester = resolve(requester_value).ok_or_else(|| {
        MappingError::new(
            &fields.requester,
            format!(
                "names `{}`, who is not a known identity",
                clip(requester_value)
            ),
        )
    })?;
    let subject = match optional(ticket, &fields.subject) {
        Some((name, value)) => Some(resolve(value).ok_or_else(|| {
            MappingError::new(
                name,
                format!("names `{}`, who is not a known identity", clip(value)),
            )
        })?),
        None => None,
    };
    let system = optional(ticket, &fields.system)
        .map(|(name, v)| SystemId::parse(v).map_err(|e| invalid(name, &e)))
        .transpose()?;
    let role = optional(ticket, &fields.role)
        .map(|(name, v)| RoleId::parse(v).map_err(|e| invalid(name, &e)))
        .transpose()?;
    let task = optional(ticket, &fields.task)
        .map(|(name, v)| TaskId::parse(v).map_err(|e| invalid(name, &e)))
        .transpose()?;
    let needs = optional(ticket, &fields.needs)
        .map(|(name, v)| {
            v.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(|p| Permission::parse(p).map_err(|e| invalid(name, &e)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .filter(|n| !n.is_empty());
    let duration = optional(ticket, &fields.duration)
        .map(|(name, v)| Duration::parse(v).map_err(|e| invalid(name, &e)))
        .transpose()?;
    let purpose = required(&fields.purpose)?.to_owned();

    if role.is_none() && needs.is_none() && task.is_none() {
        let named: Vec<String> = [&fields.needs, &fields.task, &fields.role]
            .into_iter()
            .flatten()
            .map(|n| format!("`{n}`"))
            .collect();
        let first = [&fields.needs, &fields.task, &fields.role]
            .into_iter()
            .flatten()
            .next()
            .map_or("needs", String::as_str);
        return Err(MappingError::new(
            first,
            format!(
                "is missing: one of {} must say what access is needed",
                named.join(", ")
            ),
        ));
    }

    let request = Request {
        source: Some(source.to_owned()),
        ticket: Some(ticket.id.clone()),
        requester,
        subject,
        system,
        role,
        needs,
        task,
        purpose,
        duration,
        // Break-glass is never taken from a ticket: an emergency is declared through Warden.
        emergency: false,
        requested_at: ticket.created_at,
        oidc: Default::default(),
    };
    request.validate().map_err(|e| {
        let field = e
            .field
            .as_deref()
            .and_then(|f| ticket_field_for(fields, f))
            .unwrap_or(&fields.purpose);
        MappingError::new(field, format!("is invalid: {}", e.message))
    })?;
    Ok(request)
}

/// The configured ticket field `name` and its value, when both are there.
fn optional<'a>(ticket: &'a Ticket, name: &'a Option<String>) -> Option<(&'a str, &'a str)> {
    name.as_deref()
        .and_then(|n| ticket.field(n).map(|v| (n, v)))
}

/// The ticket field that feeds a request field.
fn ticket_field_for<'f>(fields: &'f FieldMap, request_field: &str) -> Option<&'f str> {
    match request_field {
        "requester" => Some(fields.requester.as_str()),
        "subject" => fields.subject.as_deref(),
        "system" => fields.system.as_deref(),
        "role" => fields.role.as_deref().or(fields.needs.as_deref()),
        "needs" => fields.needs.as_deref(),
        "task" => fields.task.as_deref(),
        "purpose" => Some(fields.purpose.as_str()),
        "duration" => fields.duration.as_deref(),
        _ => None,
    }
}

fn invalid(field: &str, e: &dyn std::fmt::Display) -> MappingError {
    MappingError::new(field, format!("is invalid: {e}"))
}

/// Ticket text quoted in a message, cut short so a comment stays readable.
fn clip(s: &str) -> String {
    s.chars().take(80).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn fields() -> FieldMap {
        FieldMap {
            requester: "Requestor".into(),
            subject: Some("CF.Requested For".into()),
            system: Some("CF.Target System".into()),
            needs: Some("CF.Access Level".into()),
            task: Some("CF.Task".into()),
            role: None,
            purpose: "CF.Purpose".into(),
            duration: Some("CF.Access Duration".into()),
        }
    }

    fn ticket(pairs: &[(&str, &str)]) -> Ticket {
        Ticket {
            id: "42".into(),
            status: "new".into(),
            closed: false,
            requester: None,
            fields: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            created_at: None,
            updated_at: None,
        }
    }

    fn directory(value: &str) -> Option<IdentityId> {
        match value {
            "alice@example.com" => IdentityId::parse("alice").ok(),
            "bob@example.com" => IdentityId::parse("bob").ok(),
            _ => None,
        }
    }

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Requestor", "alice@example.com"),
            ("CF.Requested For", "bob@example.com"),
            ("CF.Target System", "payments-db"),
            ("CF.Access Level", "read, explain"),
            ("CF.Purpose", "INC-42 investigation"),
            ("CF.Access Duration", "PT8H"),
        ]
    }

    #[test]
    fn a_complete_ticket_maps_to_a_request() {
        let r = map(&ticket(&full()), "rt", &fields(), &directory).unwrap();
        assert_eq!(r.source.as_deref(), Some("rt"));
        assert_eq!(r.ticket.as_deref(), Some("42"));
        assert_eq!(r.requester.as_str(), "alice");
        assert_eq!(r.subject().as_str(), "bob");
        assert_eq!(r.system.as_ref().unwrap().as_str(), "payments-db");
        let needs: Vec<_> = r
            .needs
            .unwrap()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        assert_eq!(needs, ["read", "explain"]);
        assert_eq!(r.duration.unwrap().seconds(), 8 * 3600);
        assert!(r.task.is_none() && r.role.is_none() && !r.emergency);
    }

    #[test]
    fn warden_durations_are_accepted_and_an_empty_duration_means_the_default() {
        let mut t = full();
        t[5].1 = "8h";
        let r = map(&ticket(&t), "rt", &fields(), &directory).unwrap();
        assert_eq!(r.duration.unwrap().seconds(), 8 * 3600);
        t[5].1 = "  ";
        let r = map(&ticket(&t), "rt", &fields(), &directory).unwrap();
        assert!(r.duration.is_none());
    }

    fn err(t: &[(&str, &str)]) -> String {
        map(&ticket(t), "rt", &fields(), &directory)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn missing_or_invalid_fields_are_named() {
        let mut t = full();
        t.retain(|(k, _)| *k != "CF.Purpose");
        assert_eq!(err(&t), "`CF.Purpose` is missing");

        let mut t = full();
        t[5].1 = "8 hours";
        let e = err(&t);
        assert!(
            e.starts_with("`CF.Access Duration` is invalid: invalid duration `8 hours`"),
            "{e}"
        );

        let mut t = full();
        t[0].1 = "mallory@example.com";
        assert_eq!(
            err(&t),
            "`Requestor` names `mallory@example.com`, who is not a known identity"
        );

        let mut t = full();
        t[3].1 = "read; DROP TABLE";
        assert!(
            err(&t).starts_with("`CF.Access Level` is invalid"),
            "{}",
            err(&t)
        );

        let mut t = full();
        t[2].1 = "payments db";
        assert!(err(&t).starts_with("`CF.Target System` is invalid"));

        let mut t = full();
        t.retain(|(k, _)| *k != "CF.Access Level");
        assert_eq!(
            err(&t),
            "`CF.Access Level` is missing: one of `CF.Access Level`, `CF.Task` must say what access is needed"
        );

        let mut t = full();
        t.retain(|(k, _)| *k != "Requestor");
        assert_eq!(err(&t), "`Requestor` is missing");
    }

    #[test]
    fn a_task_alone_is_enough() {
        let t = [
            ("Requestor", "alice@example.com"),
            ("CF.Task", "investigate-payment-incident"),
            ("CF.Purpose", "INC-42"),
        ];
        let r = map(&ticket(&t), "rt", &fields(), &directory).unwrap();
        assert_eq!(r.task.unwrap().as_str(), "investigate-payment-incident");
        assert!(r.subject.is_none());
    }

    #[test]
    fn needs_without_a_system_names_the_system_field() {
        let mut t = full();
        t.retain(|(k, _)| *k != "CF.Target System");
        assert!(
            err(&t).starts_with("`CF.Target System` is invalid: is required"),
            "{}",
            err(&t)
        );
    }
}
