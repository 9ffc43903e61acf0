//! The controls the report evidences (those of `docs/evidence.md`, after the frameworks'
//! own wording), each with the metrics that show it. A control is in breach when any of
//! its metrics is.

use std::collections::BTreeMap;

use super::ControlStatus;
use super::metric::{Figure, MetricId, Status};

use MetricId::*;

/// One control of a framework and the metrics that evidence it.
#[derive(Clone, Copy, Debug)]
pub struct Control {
    /// The framework.
    pub framework: &'static str,
    /// The control's id in it.
    pub control: &'static str,
    /// What it asks, in a few words.
    pub title: &'static str,
    /// The metrics that evidence it.
    pub metrics: &'static [MetricId],
}

const fn c(
    framework: &'static str,
    control: &'static str,
    title: &'static str,
    metrics: &'static [MetricId],
) -> Control {
    Control {
        framework,
        control,
        title,
        metrics,
    }
}

const CSF: &str = "NIST CSF 2.0";
const SP: &str = "NIST SP 800-53 r5";
const NHI: &str = "OWASP NHI Top 10 (2025)";
const CIS: &str = "CIS Controls v8";
const SOC: &str = "SOC 2";
const ISO: &str = "ISO/IEC 27001:2022";

/// Every control, in the order the report lists them.
pub const CONTROLS: &[Control] = &[
    c(
        CSF,
        "PR.AA-05",
        "Access permissions managed with least privilege and separation of duties",
        &[
            RightSizingRate,
            StandingPrivilege,
            SodViolations,
            Traceability,
        ],
    ),
    c(
        SP,
        "AC-2(2)",
        "Temporary and emergency accounts removed after a set period",
        &[
            ExpiryCoverage,
            OverdueGrants,
            TimeToRevoke,
            BreakGlassHygiene,
        ],
    ),
    c(
        SP,
        "AC-2(3)",
        "Accounts disabled when no longer needed",
        &[TimeToRemoveAfterTrigger, OrphanedNhis, Drift],
    ),
    c(SP, "AC-5", "Separation of duties", &[SodViolations]),
    c(
        SP,
        "AC-6",
        "Least privilege",
        &[
            RightSizingRate,
            DurationClampRate,
            StandingPrivilege,
            ReviewCompletion,
        ],
    ),
    c(
        SP,
        "IA-5",
        "Authenticator management: lifetime and rotation",
        &[CredentialAge],
    ),
    c(
        SP,
        "AU-9",
        "Protection of audit information",
        &[AuditIntegrity],
    ),
    c(
        NHI,
        "NHI1",
        "Improper offboarding",
        &[OrphanedNhis, TimeToRemoveAfterTrigger],
    ),
    c(
        NHI,
        "NHI5",
        "Overprivileged NHI",
        &[RightSizingRate, StandingPrivilege],
    ),
    c(
        NHI,
        "NHI7",
        "Long-lived secrets",
        &[CredentialAge, ExpiryCoverage],
    ),
    c(
        CIS,
        "5.3",
        "Disable dormant accounts",
        &[OverdueGrants, Drift, TimeToRemoveAfterTrigger],
    ),
    c(
        CIS,
        "6.2",
        "Establish an access revoking process",
        &[TimeToRevoke, TimeToRemoveAfterTrigger, OverdueGrants],
    ),
    c(
        SOC,
        "CC6.1",
        "Logical access restricted and traceable",
        &[Traceability, AuditIntegrity, Decisions],
    ),
    c(
        SOC,
        "CC6.2",
        "Access authorised before it is granted",
        &[Traceability, SodViolations, ExpiryCoverage],
    ),
    c(
        SOC,
        "CC6.3",
        "Access modified and removed as roles change",
        &[
            TimeToRevoke,
            TimeToRemoveAfterTrigger,
            ReviewCompletion,
            Drift,
        ],
    ),
    c(
        ISO,
        "A.5.15",
        "Access control",
        &[RightSizingRate, StandingPrivilege],
    ),
    c(
        ISO,
        "A.5.16",
        "Identity management, NHIs included",
        &[OrphanedNhis],
    ),
    c(
        ISO,
        "A.5.17",
        "Authentication information",
        &[CredentialAge],
    ),
    c(
        ISO,
        "A.5.18",
        "Access rights provided, reviewed and removed",
        &[ExpiryCoverage, TimeToRevoke, ReviewCompletion, Traceability],
    ),
];

/// Each control with its status, from the metrics' figures.
pub(crate) fn judge(metrics: &BTreeMap<MetricId, Figure>) -> Vec<ControlStatus> {
    CONTROLS
        .iter()
        .map(|c| ControlStatus {
            framework: c.framework,
            control: c.control,
            title: c.title,
            metrics: c.metrics.to_vec(),
            status: if c
                .metrics
                .iter()
                .any(|m| metrics.get(m).is_some_and(|f| f.status == Status::Breach))
            {
                Status::Breach
            } else {
                Status::Ok
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_evidences_some_control() {
        for m in MetricId::ALL {
            assert!(
                CONTROLS.iter().any(|c| c.metrics.contains(m)),
                "{m} evidences no control"
            );
        }
    }
}
