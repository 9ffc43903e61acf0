//! Policies ready to evaluate: each policy's condition built once at load, and a question
//! put to Cedar's own evaluator over a list of them, combined as Cedar's authorizer
//! combines them.
//!
//! `Authorizer::is_authorized` rebuilds every policy's condition (scope and body joined
//! into one expression) on each call, drops it afterwards and collects its answer into
//! hash maps. Here the condition is built once and each question runs
//! `Evaluator::partial_interpret` over it, the step `is_authorized` itself runs, then
//! applies the authorizer's rule: a policy that errors is skipped and its error kept; any
//! satisfied forbid denies; else any satisfied permit allows. The error lines are Cedar's
//! own (`AuthorizationError`'s text). That alone took 22 % off a decision's instructions
//! (BENCHMARKS.md, change 22).
//!
//! A policy whose first test is the principal's kind (`principal.kind == "human" && …`,
//! or `!=`) is false, without error, for principals of every other kind: Cedar evaluates
//! the scope, which cannot fail, then the body from the left, and stops at the first false
//! operand of `&&`. Such a policy is never evaluated for those kinds.
//!
//! `tests/index.rs` holds every answer to the full set's answer from `is_authorized`,
//! errors included.

use cedar_policy_core::ast::{
    BinaryOp, Expr, ExprKind, Literal, PartialValue, Policy, PolicyID, Request, SlotEnv, UnaryOp,
    ValueKind, Var,
};
use cedar_policy_core::authorizer::AuthorizationError as CoreError;
use cedar_policy_core::entities::Entities;
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;
use warden_model::{IdentityKind, PolicyId};

use crate::cover::kind_mask;

/// Every principal kind (`tests::all_kinds_are_every_kind_bit` holds it to the kinds).
const ALL_KINDS: u8 = 0b1111;

/// One policy, its condition built.
pub(crate) struct Compiled {
    /// Cedar's id, for error lines.
    cedar_id: PolicyID,
    /// Warden's id, for the policies that decided; `None` if Cedar's id is not one.
    id: Option<PolicyId>,
    condition: Expr,
    env: SlotEnv,
    permit: bool,
    /// The principal kinds (bits of [`crate::cover::kind_bit`]) for which the policy can
    /// hold.
    kinds: u8,
}

impl Compiled {
    pub(crate) fn new(policy: &cedar_policy::Policy) -> Self {
        let core: &Policy = policy.as_ref();
        Self {
            cedar_id: core.id().clone(),
            id: PolicyId::parse(core.id().as_ref()).ok(),
            condition: core.condition(),
            env: core.env().clone(),
            permit: policy.effect() == cedar_policy::Effect::Permit,
            kinds: core.non_scope_constraints().map_or(ALL_KINDS, kinds_of),
        }
    }

    /// Whether the policy can hold for a principal of kind `kind` (a
    /// [`crate::cover::kind_bit`]); when not, it is false without error and need not be
    /// evaluated.
    pub(crate) fn can_hold(&self, kind: u8) -> bool {
        self.kinds & kind != 0
    }

    /// Cedar's id of the policy.
    pub(crate) fn cedar_id(&self) -> &PolicyID {
        &self.cedar_id
    }
}

/// The kinds for which `body` can hold, judged by its first operand alone.
fn kinds_of(body: &Expr) -> u8 {
    let mut first = body;
    while let ExprKind::And { left, .. } = first.expr_kind() {
        first = left;
    }
    let (test, negated) = match first.expr_kind() {
        ExprKind::UnaryApp {
            op: UnaryOp::Not,
            arg,
        } => (arg.as_ref(), true),
        _ => (first, false),
    };
    let Some(word) = kind_test(test) else {
        return ALL_KINDS;
    };
    let equal = kind_mask(IdentityKind::ALL.into_iter().filter(|k| k.as_str() == word));
    if negated { ALL_KINDS & !equal } else { equal }
}

/// The word of `principal.kind == "word"` (either way round).
fn kind_test(e: &Expr) -> Option<&str> {
    let ExprKind::BinaryApp {
        op: BinaryOp::Eq,
        arg1,
        arg2,
    } = e.expr_kind()
    else {
        return None;
    };
    let is_kind = |e: &Expr| {
        matches!(e.expr_kind(), ExprKind::GetAttr { expr, attr }
            if attr == "kind" && matches!(expr.expr_kind(), ExprKind::Var(Var::Principal)))
    };
    fn word(e: &Expr) -> Option<&str> {
        match e.expr_kind() {
            ExprKind::Lit(Literal::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }
    if is_kind(arg1) {
        word(arg2)
    } else if is_kind(arg2) {
        word(arg1)
    } else {
        None
    }
}

/// What the policies of one question said.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) permits: Vec<PolicyId>,
    pub(crate) forbids: Vec<PolicyId>,
    pub(crate) errors: Vec<String>,
}

/// One question's run over compiled policies.
pub(crate) struct Run<'e> {
    evaluator: Evaluator<'e>,
}

impl<'e> Run<'e> {
    /// For `request` over `entities`.
    pub(crate) fn new(request: &cedar_policy::Request, entities: &'e Entities) -> Self {
        let request: &Request = request.as_ref();
        Self {
            evaluator: Evaluator::new(request.clone(), entities, Extensions::all_available()),
        }
    }

    /// Evaluates `policy` into `out`. `None` when the condition gives something other
    /// than a boolean, which a policy Cedar accepted cannot: the caller must then ask
    /// Cedar's authorizer instead.
    pub(crate) fn add(&self, policy: &Compiled, out: &mut Outcome) -> Option<()> {
        match self
            .evaluator
            .partial_interpret(&policy.condition, &policy.env)
        {
            Ok(PartialValue::Value(v)) => match v.value {
                ValueKind::Lit(Literal::Bool(true)) => {
                    let into = if policy.permit {
                        &mut out.permits
                    } else {
                        &mut out.forbids
                    };
                    into.extend(policy.id.clone());
                    Some(())
                }
                ValueKind::Lit(Literal::Bool(false)) => Some(()),
                _ => None,
            },
            Ok(PartialValue::Residual(_)) => None,
            Err(error) => {
                let error =
                    cedar_policy::AuthorizationError::from(CoreError::PolicyEvaluationError {
                        id: policy.cedar_id.clone(),
                        error,
                    });
                out.errors.push(error.to_string());
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use crate::cover::kind_bit;

    fn kinds(body: &str) -> u8 {
        let text = format!("permit(principal, action, resource) when {{ {body} }};");
        Compiled::new(&cedar_policy::Policy::parse(None, text).unwrap()).kinds
    }

    #[test]
    fn a_first_test_of_the_kind_names_the_kinds_it_can_hold_for() {
        let human = kind_bit(IdentityKind::Human);
        let workload = kind_bit(IdentityKind::Workload);
        assert_eq!(kinds(r#"principal.kind == "human""#), human);
        assert_eq!(kinds(r#""human" == principal.kind && context.x"#), human);
        assert_eq!(
            kinds(r#"(principal.kind == "workload" && context.a) && context.b"#),
            workload
        );
        assert_eq!(kinds(r#"principal.kind != "human""#), ALL_KINDS & !human);
        assert_eq!(kinds(r#"principal.kind == "robot""#), 0);
    }

    #[test]
    fn all_kinds_are_every_kind_bit() {
        assert_eq!(kind_mask(IdentityKind::ALL), ALL_KINDS);
    }

    #[test]
    fn any_other_first_operand_leaves_every_kind() {
        for body in [
            "true",
            r#"context.x && principal.kind == "human""#,
            r#"principal.kind == "human" || context.x"#,
            r#"resource.kind == "human""#,
            r#"principal.kind like "hu*""#,
            r#"if context.x then principal.kind == "human" else false"#,
        ] {
            assert_eq!(kinds(body), ALL_KINDS, "{body}");
        }
    }
}
