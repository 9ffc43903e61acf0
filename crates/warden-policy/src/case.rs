//! Policy tests (`tests/*.toml`): each case is a request at an instant and what the
//! decision must say about it.

use serde::Deserialize;
use toml::Spanned;
use warden_model::{
    ActiveGrant, Duration, OpenReview, Outcome, PolicyId, ReasonCode, Request, RoleId, Timestamp,
};

use crate::bundle::Bundle;
use crate::decide::DecisionInput;
use crate::source::{LoadError, LoadErrors, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    case: Vec<Spanned<Case>>,
}

/// One policy test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The instant of the decision.
    pub at: Timestamp,
    /// The request.
    pub request: Request,
    /// The subject's active grants.
    #[serde(default)]
    pub grants: Vec<ActiveGrant>,
    /// Break-glass reviews open for the requester or subject.
    #[serde(default)]
    pub open_reviews: Vec<OpenReview>,
    /// What the decision must say.
    pub expect: Expect,
}

/// What a case expects. Only the keys given are checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The outcome.
    pub outcome: Outcome,
    /// The role chosen.
    pub role: Option<RoleId>,
    /// The granted duration.
    pub duration: Option<Duration>,
    /// Reason codes that must all be present.
    #[serde(default)]
    pub reasons: Vec<ReasonCode>,
    /// Total approvals needed.
    pub approvals: Option<u32>,
    /// Policies that must be named.
    #[serde(default)]
    pub policies: Vec<PolicyId>,
}

/// How one case went.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case name.
    pub name: String,
    /// `file:line` of the case.
    pub location: String,
    /// What did not match; empty when the case passed.
    pub mismatches: Vec<String>,
}

impl CaseResult {
    /// Whether the decision matched every expectation.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Reads the cases of one test file.
pub fn parse(file: &SourceFile) -> Result<Vec<(usize, Case)>, LoadError> {
    let parsed: CaseFile = toml::from_str(&file.text).map_err(|e| LoadError {
        file: file.name.clone(),
        line: e.span().map(|s| file.line_of(s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut cases = Vec::new();
    for c in parsed.case {
        let line = file.line_of(c.span().start);
        let case = c.into_inner();
        case.request.validate().map_err(|e| LoadError {
            file: file.name.clone(),
            line: Some(line),
            message: format!("case `{}`: request {e}", case.name),
        })?;
        cases.push((line, case));
    }
    Ok(cases)
}

/// Runs one case against `bundle`.
pub fn run(bundle: &Bundle, case: &Case, location: String) -> CaseResult {
    let decision = bundle.decide(&DecisionInput {
        request: &case.request,
        grants: &case.grants,
        open_reviews: &case.open_reviews,
        at: case.at,
    });
    let e = &case.expect;
    let mut m = Vec::new();
    if decision.outcome != e.outcome {
        m.push(format!(
            "outcome: expected {}, got {}",
            e.outcome, decision.outcome
        ));
    }
    if let Some(role) = &e.role
        && decision.role.as_ref() != Some(role)
    {
        m.push(format!(
            "role: expected `{role}`, got {}",
            decision
                .role
                .as_ref()
                .map_or("none".into(), |r| format!("`{r}`"))
        ));
    }
    if let Some(d) = e.duration
        && decision.duration_seconds != Some(d.seconds())
    {
        m.push(format!(
            "duration: expected {d}, got {}",
            decision
                .duration_seconds
                .and_then(Duration::from_seconds)
                .map_or("none".into(), |g| g.to_string())
        ));
    }
    for code in &e.reasons {
        if !decision.has_reason(*code) {
            m.push(format!("reasons: expected `{code}` among them"));
        }
    }
    if let Some(n) = e.approvals
        && decision.approvals_needed() != n
    {
        m.push(format!(
            "approvals: expected {n}, got {}",
            decision.approvals_needed()
        ));
    }
    for p in &e.policies {
        if !decision
            .reasons
            .iter()
            .any(|r| r.policy_id.as_ref() == Some(p))
        {
            m.push(format!("policies: expected `{p}` to be named"));
        }
    }
    if !m.is_empty() {
        let got: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
        m.push(format!("the decision's reasons were [{}]", got.join(", ")));
    }
    CaseResult {
        name: case.name.clone(),
        location,
        mismatches: m,
    }
}

/// Runs every test file of `bundle`. A file that cannot be read is an error.
pub fn run_all(bundle: &Bundle) -> Result<Vec<CaseResult>, LoadErrors> {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for file in bundle.test_files() {
        match parse(file) {
            Ok(cases) => {
                for (line, case) in cases {
                    results.push(run(bundle, &case, format!("{}:{line}", file.name)));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(results)
    } else {
        Err(LoadErrors(errors))
    }
}
