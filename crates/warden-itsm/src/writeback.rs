//! The plain-text comments Warden writes back on a ticket: the decision, the grant's activation
//! and its revocation, mapping errors and ignored approvals. Inputs are plain values so the
//! caller passes what it has; a credential is never an input, so it can never reach a ticket.

use std::fmt::Write as _;

use warden_model::{Decision, Duration, Outcome, Timestamp};

use crate::mapping::MappingError;

/// The word set in the ticket's status field for an outcome: `approved`, `pending` or `denied`.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Grant => "approved",
        Outcome::ApprovalRequired => "pending",
        Outcome::Deny => "denied",
    }
}

/// The decision as a ticket comment: outcome, role, duration, approvals needed and from whom,
/// and every reason. `request_id` is Warden's id for the request, when it has one.
pub fn decision_comment(decision: &Decision, request_id: Option<&str>) -> String {
    let mut s = String::new();
    let head = match decision.outcome {
        Outcome::Grant => "Warden granted this request.",
        Outcome::ApprovalRequired => "Warden needs approval before granting this request.",
        Outcome::Deny => "Warden denied this request.",
    };
    s.push_str(head);
    s.push('\n');
    if let Some(id) = request_id {
        let _ = writeln!(s, "Request: {id}");
    }
    if let Some(role) = &decision.role {
        let system = decision
            .system
            .as_ref()
            .map(|x| format!(" on {x}"))
            .unwrap_or_default();
        let _ = writeln!(s, "Role: {role}{system}");
    }
    if !decision.permissions.is_empty() {
        let p: Vec<&str> = decision.permissions.iter().map(|p| p.as_str()).collect();
        let _ = writeln!(s, "Permissions: {}", p.join(", "));
    }
    if decision.outcome != Outcome::Deny
        && let Some(d) = decision.duration_seconds.and_then(Duration::from_seconds)
    {
        let _ = writeln!(s, "Duration: {d} (counted from activation)");
    }
    if decision.outcome == Outcome::ApprovalRequired {
        let _ = writeln!(s, "Approvals needed: {}", decision.approvals_needed());
        for step in &decision.approvals {
            let mut from: Vec<String> = step
                .from_groups
                .iter()
                .map(|g| format!("group {g}"))
                .collect();
            from.extend(step.from_identities.iter().map(|i| i.to_string()));
            let excluded: Vec<&str> = step.excluded.iter().map(|i| i.as_str()).collect();
            let _ = write!(s, "- {} from {}", step.count, or_none(&from.join(", ")));
            if !excluded.is_empty() {
                let _ = write!(s, " (never {})", excluded.join(", "));
            }
            s.push('\n');
        }
    }
    if decision.break_glass {
        s.push_str("Break-glass: yes, a review follows\n");
    }
    let reasons: Vec<String> = decision
        .reasons
        .iter()
        .map(|r| match (&r.message, &r.policy_id) {
            (Some(m), _) => format!("- {}: {m}", r.code),
            (None, Some(p)) => format!("- {}: {p}", r.code),
            (None, None) => format!("- {}", r.code),
        })
        .collect();
    if !reasons.is_empty() {
        s.push_str("Reasons:\n");
        s.push_str(&reasons.join("\n"));
        s.push('\n');
    }
    s
}

/// The grant became active on the target.
pub fn activation_comment(
    role: &str,
    system: &str,
    activated_at: Timestamp,
    expires_at: Timestamp,
) -> String {
    format!(
        "Warden activated {role} on {system} at {activated_at}.\nIt expires at {expires_at} and will be revoked then.\n"
    )
}

/// The target confirmed the revocation. `why` says what triggered it (`expired`,
/// `ticket closed`, `revoked by alice`).
pub fn revocation_comment(role: &str, system: &str, why: &str, confirmed_at: Timestamp) -> String {
    format!(
        "Warden revoked {role} on {system} ({why}).\nThe target confirmed the removal at {confirmed_at}.\n"
    )
}

/// The ticket does not map to a request.
pub fn mapping_error_comment(error: &MappingError) -> String {
    format!(
        "Warden cannot act on this ticket: {error}.\nCorrect the field and update the ticket; no access is granted until then.\n"
    )
}

/// An approval recorded on the ticket that Warden's rules do not accept.
pub fn ignored_approval_comment(approver: &str, why: &str) -> String {
    format!("Warden ignored the approval by {approver}: {why}.\n")
}

/// More approvals are needed after one was counted.
pub fn approvals_pending_comment(counted: &[String], still_needed: u32, from: &[String]) -> String {
    let mut s = String::new();
    if !counted.is_empty() {
        let _ = writeln!(s, "Warden counted approvals from {}.", counted.join(", "));
    }
    let _ = writeln!(
        s,
        "{still_needed} more approval(s) needed from {}.",
        or_none(&from.join(", "))
    );
    s
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "(no eligible approver)"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use warden_model::{ApprovalStep, GroupId, IdentityId, Reason, ReasonCode, RoleId, SystemId};

    use super::*;

    fn decision(outcome: Outcome) -> Decision {
        Decision {
            outcome,
            role: Some(RoleId::parse("payments-db.read").unwrap()),
            system: Some(SystemId::parse("payments-db").unwrap()),
            permissions: vec![warden_model::Permission::parse("read").unwrap()],
            duration_seconds: Some(4 * 3600),
            approvals: vec![ApprovalStep {
                count: 2,
                from_groups: vec![GroupId::parse("payments-leads").unwrap()],
                from_identities: vec![],
                excluded: vec![IdentityId::parse("alice").unwrap()],
            }],
            second_check: Default::default(),
            break_glass: false,
            reasons: vec![
                Reason::new(ReasonCode::DurationClamped, "asked for 6h; capped at 4h"),
                Reason::policy(warden_model::PolicyId::parse("eng-read-prod").unwrap()),
            ],
            bundle_hash: "sha256:b".into(),
            input_hash: "sha256:i".into(),
        }
    }

    #[test]
    fn approval_required_names_who_may_approve_and_why() {
        let text = decision_comment(&decision(Outcome::ApprovalRequired), Some("req-1"));
        assert_eq!(
            text,
            "Warden needs approval before granting this request.\n\
             Request: req-1\n\
             Role: payments-db.read on payments-db\n\
             Permissions: read\n\
             Duration: 4h (counted from activation)\n\
             Approvals needed: 2\n\
             - 2 from group payments-leads (never alice)\n\
             Reasons:\n\
             - duration_clamped: asked for 6h; capped at 4h\n\
             - policy: eng-read-prod\n"
        );
    }

    #[test]
    fn a_denial_has_no_duration_or_approvals() {
        let text = decision_comment(&decision(Outcome::Deny), None);
        assert!(
            text.starts_with("Warden denied this request.\nRole:"),
            "{text}"
        );
        assert!(
            !text.contains("Duration") && !text.contains("Approvals"),
            "{text}"
        );
        assert_eq!(outcome_word(Outcome::Deny), "denied");
    }

    #[test]
    fn activation_and_revocation_carry_their_times() {
        let t = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
        let e = Timestamp::parse("2026-11-29T14:00:00Z").unwrap();
        let a = activation_comment("payments-db.read", "payments-db", t, e);
        assert!(a.contains("expires at 2026-11-29T14:00:00Z"), "{a}");
        let r = revocation_comment("payments-db.read", "payments-db", "ticket closed", e);
        assert!(
            r.contains("confirmed the removal at 2026-11-29T14:00:00Z"),
            "{r}"
        );
        let m = mapping_error_comment(&MappingError {
            field: "CF.Access Duration".into(),
            message: "is missing".into(),
        });
        assert!(m.contains("`CF.Access Duration` is missing"), "{m}");
    }
}
