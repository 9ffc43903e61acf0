//! A decision in plain words, for the person who must approve it: what was asked and what
//! was given, and why — right-sizing, the duration cap, the second check, separation of
//! duties, the emergency path — with the policies and the bundle behind it.

use warden_model::{Decision, Duration, Outcome, ReasonCode, Request};

/// One sentence of an explanation, with the policy behind it when one decided.
pub struct Line {
    /// What happened, in words.
    pub text: String,
    /// The reason code, for those who know them.
    pub code: &'static str,
    /// The policy id, if a policy decided.
    pub policy: Option<String>,
}

fn duration(seconds: u64) -> String {
    Duration::from_seconds(seconds).map_or_else(|| format!("{seconds}s"), |d| d.to_string())
}

/// The outcome in words.
pub fn outcome(decision: &Decision) -> String {
    match decision.outcome {
        Outcome::Grant => "Granted without approval".into(),
        Outcome::ApprovalRequired => {
            let n = decision.approvals_needed();
            format!("Needs {n} approval{}", if n == 1 { "" } else { "s" })
        }
        Outcome::Deny => "Denied".into(),
    }
}

/// The decision of `request` explained, one line per thing decided, in the order the
/// decision took its steps.
pub fn explain(request: &Request, decision: &Decision) -> Vec<Line> {
    let mut lines = Vec::new();
    let message = |code: ReasonCode| {
        decision
            .reasons
            .iter()
            .find(|r| r.code == code)
            .and_then(|r| r.message.clone())
    };
    match (&request.role, &decision.role) {
        (Some(asked), Some(got)) if asked != got => lines.push(Line {
            text: format!(
                "Asked for {asked} and got {got}: right-sized, because {}.",
                message(ReasonCode::RightSized)
                    .unwrap_or_else(|| "a smaller role covers what was needed".into())
            ),
            code: ReasonCode::RightSized.as_str(),
            policy: None,
        }),
        (None, Some(got)) => lines.push(Line {
            text: format!(
                "Asked for {} and got {got}, the least role that covers it{}.",
                request
                    .needs
                    .as_ref()
                    .map(|n| n
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .or_else(|| request.task.as_ref().map(|t| format!("task {t}")))
                    .unwrap_or_else(|| "access".into()),
                message(ReasonCode::RightSized)
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
            code: ReasonCode::RightSized.as_str(),
            policy: None,
        }),
        (Some(asked), Some(_)) => lines.push(Line {
            text: format!("Asked for {asked} and got it: no smaller role covers the need."),
            code: "role",
            policy: None,
        }),
        _ => {}
    }
    if let Some(got) = decision.duration_seconds {
        let got = duration(got);
        let clamped = decision.has_reason(ReasonCode::DurationClamped);
        let text = match (request.duration, clamped) {
            (Some(asked), true) => format!(
                "Asked for {asked} and got {got}: clamped, because {}.",
                message(ReasonCode::DurationClamped).unwrap_or_else(|| "of a cap".into())
            ),
            (Some(asked), false) => format!("Asked for {asked} and got {got}."),
            (None, _) => format!("No duration asked for; the role's default, {got}, applies."),
        };
        lines.push(Line {
            text,
            code: if clamped {
                ReasonCode::DurationClamped.as_str()
            } else {
                "duration"
            },
            policy: None,
        });
    }
    if decision.second_check.required {
        lines.push(Line {
            text: if decision.second_check.passed {
                "The system is high or critical, so a second check was made: policy permits provisioning, and an owner's approval is added.".into()
            } else {
                "The system is high or critical, so a second check was made, and policy does not permit provisioning.".into()
            },
            code: if decision.second_check.passed {
                ReasonCode::SecondCheck.as_str()
            } else {
                ReasonCode::SecondCheckFailed.as_str()
            },
            policy: None,
        });
    }
    for step in &decision.approvals {
        let mut from: Vec<String> = step
            .from_groups
            .iter()
            .map(|g| format!("group {g}"))
            .collect();
        from.extend(step.from_identities.iter().map(ToString::to_string));
        lines.push(Line {
            text: format!(
                "{} approval{} from {}; never from {}.",
                step.count,
                if step.count == 1 { "" } else { "s" },
                from.join(" or "),
                step.excluded
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            code: "approval",
            policy: None,
        });
    }
    for reason in &decision.reasons {
        if matches!(
            reason.code,
            ReasonCode::RightSized | ReasonCode::DurationClamped | ReasonCode::SecondCheck
        ) {
            continue;
        }
        let what = match reason.code {
            ReasonCode::SodConflict => "Separation of duties",
            ReasonCode::BreakGlass => "Emergency (break-glass) path",
            ReasonCode::BreakGlassReviewOpen => "Emergency path closed",
            ReasonCode::OwnerConsented => "Owner consent",
            ReasonCode::NotPermitted => "Not permitted",
            ReasonCode::NoCoveringRole => "No covering role",
            ReasonCode::SecondCheckFailed => "Second check failed",
            ReasonCode::Policy => "Policy",
            _ => "Catalog",
        };
        lines.push(Line {
            text: match (&reason.message, &reason.policy_id) {
                (Some(m), _) => format!("{what}: {m}"),
                (None, Some(_)) => format!("{what}: this policy took part in the decision."),
                (None, None) => format!("{what}: {}", reason.code.as_str()),
            },
            code: reason.code.as_str(),
            policy: reason.policy_id.as_ref().map(ToString::to_string),
        });
    }
    lines
}
