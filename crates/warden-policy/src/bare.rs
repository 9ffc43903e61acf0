//! Bare Cedar, for benchmarks: the questions `decide()` asks, put to
//! `cedar_policy::Authorizer::is_authorized` directly over the same entities, and the same
//! policies, schema and entities loaded by Cedar alone. Warden's own cost is measured as a
//! ratio against these, taken in the same run (`scripts/bench`).

use cedar_policy::{
    Authorizer, Decision as CedarDecision, Entities, PolicySet, Schema, ValidationMode, Validator,
};

use crate::authorization::Question;
use crate::bundle::Bundle;
use crate::decide::DecisionInput;

/// The policies bare Cedar is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// Every policy of the bundle, as an application calling Cedar directly would.
    Full,
    /// The policies `decide()` evaluates for the question, in one set: Cedar's own cost
    /// of the same evaluations.
    Slice,
}

/// The Cedar questions of a list of decisions, prepared in advance so that asking them
/// measures only `is_authorized`.
pub struct Questions<'b> {
    bundle: &'b Bundle,
    authorizer: Authorizer,
    cases: Vec<Vec<Question>>,
}

impl<'b> Questions<'b> {
    /// Records the questions `decide()` asks for each of `inputs`.
    pub fn record(bundle: &'b Bundle, inputs: &[DecisionInput<'_>]) -> Self {
        Self {
            bundle,
            authorizer: Authorizer::new(),
            cases: inputs.iter().map(|i| bundle.questions(i)).collect(),
        }
    }

    /// How many decisions were recorded.
    pub fn cases(&self) -> usize {
        self.cases.len()
    }

    /// How many questions they ask in all.
    pub fn count(&self) -> usize {
        self.cases.iter().map(Vec::len).sum()
    }

    /// The mean number of policies in the slices the questions are asked over.
    pub fn mean_slice(&self) -> f64 {
        let (n, total) = self
            .cases
            .iter()
            .flatten()
            .fold((0usize, 0usize), |(n, t), q| {
                let size = q.policies.policies().count();
                (n + 1, t + size)
            });
        if n == 0 { 0.0 } else { total as f64 / n as f64 }
    }

    /// Asks Cedar every question of decision `n` over `over`; returns how many calls
    /// allowed.
    pub fn ask(&self, n: usize, over: Over) -> usize {
        let (entities, full) = self.bundle.authorization.parts();
        let allowed = |set: &PolicySet, q: &Question| {
            usize::from(
                self.authorizer
                    .is_authorized(&q.request, set, entities)
                    .decision()
                    == CedarDecision::Allow,
            )
        };
        self.cases.get(n).map_or(0, |questions| {
            questions
                .iter()
                .map(|q| match over {
                    Over::Full => allowed(full, q),
                    Over::Slice => allowed(&q.policies, q),
                })
                .sum()
        })
    }
}

/// A bundle's policies, schema and entities as Cedar's own formats, for loading them with
/// Cedar alone: parse the policies, validate them strictly, build the entity store.
pub struct BareLoad {
    policies: String,
    schema: String,
    entities: String,
}

impl BareLoad {
    /// The texts `bundle` was loaded from, in Cedar's formats.
    pub fn of(bundle: &Bundle) -> Result<Self, String> {
        let policies: Vec<&str> = bundle
            .files()
            .iter()
            .filter(|f| f.name.ends_with(".cedar"))
            .map(|f| f.text.as_str())
            .collect();
        let (entities, _) = bundle.authorization.parts();
        let entities = entities
            .to_json_value()
            .map_err(|e| format!("cannot write the entities: {e}"))?
            .to_string();
        Ok(Self {
            policies: policies.join("\n"),
            schema: bundle.schema_text().to_owned(),
            entities,
        })
    }

    /// Loads it all with Cedar; returns the number of policies and entities.
    pub fn run(&self) -> Result<usize, String> {
        let (schema, _) = Schema::from_cedarschema_str(&self.schema)
            .map_err(|e| format!("cannot build the schema: {e}"))?;
        let set: PolicySet = self
            .policies
            .parse()
            .map_err(|e| format!("cannot parse the policies: {e}"))?;
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            return Err("the policies do not validate".into());
        }
        let entities = Entities::from_json_str(&self.entities, Some(&schema))
            .map_err(|e| format!("cannot build the entities: {e}"))?;
        Ok(set.policies().count() + entities.len())
    }
}
