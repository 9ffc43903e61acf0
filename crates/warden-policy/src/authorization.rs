//! Asking Cedar: the entity store and the policy slices, both built once per bundle, so
//! that each question evaluates only the policies whose scope can match it.
//!
//! Cedar evaluates every policy of the set it is given. With hundreds of policies most of
//! them are about other systems and other people, so while the bundle loads every policy is
//! placed, per action, in the slice of each system whose roles its resource scope can match
//! (every system's slice when its resource scope is open), and within a slice in the part of
//! its principal scope (open, or the identity or group it names). A question is evaluated
//! over the open part and the parts of its principal and the principal's groups, less the
//! policies whose first test of the principal's kind fails, by Cedar's evaluator over
//! conditions built at load (`compiled`). Slices only ever over-approximate and Cedar
//! checks every scope again, so the answer is exactly the full set's answer from Cedar's
//! authorizer, errors included (a property test in `tests/index.rs` holds it to that).
//!
//! Slices never change after the load: no lock, no cache. The full set is still built, for
//! [`Evaluation::Full`] and as the load's check: a policy Cedar refuses to add fails the
//! load instead of being left out (a forbid left out would widen access).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Effect, Entities, EntityId,
    EntityTypeName, EntityUid, PolicySet, PrincipalConstraint, ResourceConstraint, Schema,
};
use cedar_policy_core::ast::{Context as CoreContext, Entity as CoreEntity, PartialValue, Value};
use cedar_policy_core::entities::{Entities as CoreEntities, TCComputation};
use cedar_policy_core::extensions::Extensions;
use cedar_policy_core::validator::CoreSchema;
use smol_str::SmolStr;
use warden_model::{GroupId, IdentityId, PolicyId, RoleId, SystemId};

use crate::catalog::{Catalog, Hasher};
use crate::compiled::{Compiled, Outcome, Run};
use crate::cover::kind_bit;
use crate::policy_file::LoadedPolicy;
use crate::schema::ACTIONS;
use crate::source::LoadError;

/// One of the five actions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// May this identity get this role at all.
    Request,
    /// The emergency path.
    BreakGlass,
    /// The second check for high and critical systems.
    Provision,
    /// May this identity approve this role.
    Approve,
    /// May this identity review a grant of this role (keep it or revoke it, or close the
    /// review of an emergency grant).
    Review,
}

impl Action {
    fn index(self) -> usize {
        match self {
            Action::Request => 0,
            Action::BreakGlass => 1,
            Action::Provision => 2,
            Action::Approve => 3,
            Action::Review => 4,
        }
    }
}

/// How to evaluate: through the scope index, or the full set (for equivalence tests).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Evaluation {
    /// Only the policies whose scope can match.
    #[default]
    Indexed,
    /// Every policy, as Cedar would without an index.
    Full,
}

/// The context of DESIGN §2.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext<'a> {
    /// The requested duration, or the role's default.
    pub duration_seconds: i64,
    /// The break-glass flag.
    pub emergency: bool,
    /// The request's purpose.
    pub purpose: &'a str,
    /// The ticket id, or empty.
    pub ticket: &'a str,
    /// The source, or empty.
    pub source: &'a str,
    /// Whether requester and subject are the same identity.
    pub requester_is_subject: bool,
    /// Approvals recorded so far.
    pub approvals: i64,
    /// A workload's OIDC claims ([`warden_model::OIDC_CLAIMS`]); every other request has
    /// none, and policy sees each claim as the empty string.
    pub oidc: Option<&'a std::collections::BTreeMap<String, String>>,
}

/// Cedar's answer to one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Allowed or not.
    pub allowed: bool,
    /// The policies that decided (satisfied permits if allowed, satisfied forbids if not), sorted.
    pub policies: Vec<PolicyId>,
    /// Evaluation errors, one line each (a policy that errors is skipped, as in Cedar).
    pub errors: Vec<String>,
}

/// Cedar's form of an [`AuthContext`], built once and reusable for several questions.
#[derive(Clone)]
pub(crate) struct PreparedContext(Context);

/// Builds Cedar's context for `ctx`.
///
/// The record is written as Cedar values directly: `Context::from_pairs` would build an
/// expression of literals and then run Cedar's evaluator over it to get the same values,
/// which cost a quarter of a decision. Every field is a literal, so the result is the same
/// context (`tests::prepared_contexts_equal_cedars_own` holds it to `from_pairs`).
pub(crate) fn prepare(ctx: &AuthContext<'_>) -> PreparedContext {
    // Most requests carry no workload token: share one record of empty claims.
    let oidc = match ctx.oidc {
        Some(claims) if !claims.is_empty() => oidc_value(Some(claims)),
        _ => NO_OIDC_CLAIMS.clone(),
    };
    let record: BTreeMap<SmolStr, Value> = BTreeMap::from([
        (
            SmolStr::new_static("duration_seconds"),
            Value::from(ctx.duration_seconds),
        ),
        (SmolStr::new_static("emergency"), Value::from(ctx.emergency)),
        (SmolStr::new_static("purpose"), Value::from(ctx.purpose)),
        (SmolStr::new_static("ticket"), Value::from(ctx.ticket)),
        (SmolStr::new_static("source"), Value::from(ctx.source)),
        (
            SmolStr::new_static("requester_is_subject"),
            Value::from(ctx.requester_is_subject),
        ),
        (SmolStr::new_static("approvals"), Value::from(ctx.approvals)),
        (SmolStr::new_static("oidc"), oidc),
    ]);
    PreparedContext(Context::from(CoreContext::Value(Arc::new(record))))
}

/// `context.oidc` of every request without a workload token: each claim empty.
static NO_OIDC_CLAIMS: LazyLock<Value> = LazyLock::new(|| oidc_value(None));

/// `context.oidc`: every claim of [`warden_model::OIDC_CLAIMS`], empty when the token did
/// not carry it or there is no token, so a policy can compare without `has`.
fn oidc_value(claims: Option<&std::collections::BTreeMap<String, String>>) -> Value {
    Value::record(
        warden_model::OIDC_CLAIMS.iter().map(|name| {
            let value = claims.and_then(|c| c.get(*name)).map_or("", String::as_str);
            (*name, Value::from(value))
        }),
        None,
    )
}

/// The entity store, the policies and their slices for one bundle.
pub struct Authorization {
    authorizer: Authorizer,
    entities: Entities,
    full: PolicySet,
    /// Every policy, in load order, its condition built; slices hold positions in it.
    compiled: Vec<Compiled>,
    actions: [EntityUid; 5],
    identities: HashMap<IdentityId, Principal, Hasher>,
    roles: HashMap<RoleId, RoleEntry, Hasher>,
}

/// An identity as Cedar knows it.
struct Principal {
    uid: EntityUid,
    /// Its principal keys: its own, then its groups'.
    keys: Vec<u32>,
    /// Its kind, as a [`kind_bit`].
    kind: u8,
}

/// The principal key of policies whose principal scope is open.
const OPEN: u32 = 0;

/// The policies of one action whose resource scope can reach the roles of one system, in
/// parts by principal scope: [`OPEN`], or the identity or group the scope names. Each part
/// holds positions in [`Authorization::compiled`]. A question is asked over the open part
/// and the parts of its principal and the principal's groups; a policy sits in one part
/// only, so together they are the union Cedar would be given.
#[derive(Default)]
pub(crate) struct Slice {
    parts: HashMap<u32, Vec<usize>, Hasher>,
}

/// A role as Cedar knows it, with the slices its questions are asked over.
struct RoleEntry {
    uid: EntityUid,
    /// Per action (in [`Action::index`] order), the slice of the role's system; roles of
    /// one system share them.
    slices: [Arc<Slice>; 5],
}

/// One question as Cedar sees it, with the policies `decide()` evaluates for it, for
/// putting it to bare Cedar. Only the `bench` feature reads the fields.
#[derive(Clone)]
#[cfg_attr(
    not(feature = "bench"),
    allow(dead_code, reason = "read by the bench feature only")
)]
pub(crate) struct Question {
    /// Principal, action, resource and context.
    pub(crate) request: cedar_policy::Request,
    /// The policies of its slice's parts that can hold for its principal's kind.
    pub(crate) policies: PolicySet,
}

/// What [`Authorization::lookup`] finds for a question.
struct Found<'a> {
    request: cedar_policy::Request,
    slice: &'a Slice,
    principal: &'a Principal,
}

/// Which roles a policy's resource scope can match.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Reach {
    /// Any role.
    All,
    /// The roles of one system.
    System(SystemId),
    /// None: the scope names something no role is, or is in.
    Nothing,
}

/// Builds the set of every policy. A policy Cedar refuses to add is an error naming it,
/// never skipped: the bundle does not load, as one without one of its forbids would widen
/// access.
fn full_set<'p>(
    policies: impl IntoIterator<Item = &'p LoadedPolicy>,
) -> Result<PolicySet, LoadError> {
    let mut set = PolicySet::new();
    for lp in policies {
        set.add(lp.policy.clone()).map_err(|e| LoadError {
            file: lp.file.clone(),
            line: Some(lp.line),
            message: format!("policy `{}` cannot be added to a policy set: {e}", lp.id),
        })?;
    }
    Ok(set)
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

fn type_name(name: &str) -> Result<EntityTypeName, LoadError> {
    EntityTypeName::from_str(name)
        .map_err(|e| LoadError::file("catalog", format!("bad entity type `{name}`: {e}")))
}

/// A catalog entity, its attributes written as Cedar values directly.
///
/// `Entity::new` takes restricted *expressions* and runs Cedar's evaluator over each
/// attribute to get its value, which cost a third of building the entity store for 10,000
/// identities. Every attribute here is a string or a set of strings, so the entity is the
/// same (`tests::catalog_entities_equal_cedars_own` holds it to `Entity::new`).
fn entity(
    uid: EntityUid,
    attrs: impl IntoIterator<Item = (&'static str, Value)>,
    parents: impl IntoIterator<Item = EntityUid>,
) -> CoreEntity {
    CoreEntity::new_with_attr_partial_value(
        uid.into(),
        attrs
            .into_iter()
            .map(|(name, value)| (SmolStr::new_static(name), PartialValue::Value(value))),
        HashSet::new(),
        parents.into_iter().map(Into::into).collect(),
        [],
    )
}

/// The entity store of the catalog's entities, checked against `schema`.
///
/// The catalog's hierarchy is one level deep: an identity's parents are its groups, which
/// are not entities of their own, and a role's parent is its system, which has none. The
/// parents therefore already are the transitive closure, so Cedar is asked to check that
/// (`EnforceAlreadyComputed`: the load fails if it ever stops being so) instead of computing
/// it, which cost more than half of building the store for 10,000 identities.
/// `tests::the_entity_store_is_already_closed` holds the store to Cedar's own computation.
fn entity_store(entities: Vec<CoreEntity>, schema: &Schema) -> Result<Entities, LoadError> {
    CoreEntities::from_entities(
        entities,
        Some(&CoreSchema::new(schema.as_ref())),
        TCComputation::EnforceAlreadyComputed,
        Extensions::all_available(),
    )
    .map(Entities::from)
    .map_err(|e| LoadError::file("catalog", format!("cannot build entities: {e}")))
}

fn strings(items: impl IntoIterator<Item = impl AsRef<str>>) -> Value {
    Value::set(items.into_iter().map(|s| Value::from(s.as_ref())), None)
}

fn str_attr(name: &'static str, value: &str) -> (&'static str, Value) {
    (name, Value::from(value))
}

impl Authorization {
    /// Builds the entity store, the full policy set and every slice.
    pub fn new(
        catalog: &Catalog,
        schema: &Schema,
        loaded: &[LoadedPolicy],
    ) -> Result<Self, LoadError> {
        let identity_t = type_name("Warden::Identity")?;
        let group_t = type_name("Warden::Group")?;
        let role_t = type_name("Warden::Role")?;
        let system_t = type_name("Warden::System")?;
        let action_t = type_name("Warden::Action")?;

        // The identities and groups a principal scope can name and still match someone,
        // by key (0 is `OPEN`).
        let mut principals: HashMap<EntityUid, u32> = HashMap::new();
        let mut key = |u: &EntityUid| -> u32 {
            let next = u32::try_from(principals.len() + 1).unwrap_or(u32::MAX);
            *principals.entry(u.clone()).or_insert(next)
        };
        // The system of every role and system entity, for resource scopes.
        let mut reach_of: HashMap<EntityUid, SystemId> = HashMap::new();

        let mut entities = Vec::new();
        let mut identities =
            HashMap::with_capacity_and_hasher(catalog.identities.len(), Hasher::default());
        for i in catalog.identities.values() {
            let me = uid(&identity_t, i.id.as_str());
            let groups: Vec<EntityUid> = i
                .groups
                .iter()
                .map(|g: &GroupId| uid(&group_t, g.as_str()))
                .collect();
            let mut keys = vec![OPEN, key(&me)];
            keys.extend(groups.iter().map(&mut key));
            let mut attrs = vec![str_attr("kind", i.kind.as_str())];
            if let Some(o) = &i.owner {
                attrs.push(str_attr("owner", o.as_str()));
            }
            if let Some(s) = &i.sponsor {
                attrs.push(str_attr("sponsor", s.as_str()));
            }
            entities.push(entity(me.clone(), attrs, groups));
            identities.insert(
                i.id.clone(),
                Principal {
                    uid: me,
                    keys,
                    kind: kind_bit(i.kind),
                },
            );
        }
        let mut systems: HashMap<SystemId, EntityUid> = HashMap::new();
        for s in catalog.systems.values() {
            let me = uid(&system_t, s.id.as_str());
            reach_of.insert(me.clone(), s.id.clone());
            let attrs = [
                str_attr("sensitivity", s.sensitivity.as_str()),
                str_attr("environment", s.environment.as_str()),
                ("data_classes", strings(&s.data_classes)),
            ];
            entities.push(entity(me.clone(), attrs, []));
            systems.insert(s.id.clone(), me);
        }
        let mut role_uids: Vec<(RoleId, SystemId, EntityUid)> = Vec::new();
        for r in catalog.roles.values() {
            let (Some(system), Some(sys_uid)) =
                (catalog.systems.get(&r.system), systems.get(&r.system))
            else {
                continue;
            };
            let me = uid(&role_t, r.id.as_str());
            reach_of.insert(me.clone(), r.system.clone());
            let attrs = [
                str_attr("system", r.system.as_str()),
                str_attr("sensitivity", system.sensitivity.as_str()),
                str_attr("environment", system.environment.as_str()),
                ("permissions", strings(&r.permissions)),
                ("data_classes", strings(&system.data_classes)),
            ];
            entities.push(entity(me.clone(), attrs, [sys_uid.clone()]));
            role_uids.push((r.id.clone(), r.system.clone(), me));
        }
        let entities = entity_store(entities, schema)?;

        let actions = ACTIONS.map(|a| uid(&action_t, a));
        // Per action: the policies every system's slice holds, and those of one system.
        // Policies by position in `loaded`, with their principal keys.
        type Parts = [Vec<(u32, usize)>; 5];
        let mut everywhere: Parts = Default::default();
        let mut by_system: HashMap<SystemId, Parts> = HashMap::new();
        for (position, lp) in loaded.iter().enumerate() {
            let p = &lp.policy;
            // A scope naming an entity the catalog lacks can never match; such policies
            // are load errors anyway, so leaving them out here is only defensive.
            let principal = match p.principal_constraint() {
                PrincipalConstraint::Any => Some(OPEN),
                PrincipalConstraint::Is(t) => (t == identity_t).then_some(OPEN),
                PrincipalConstraint::In(u)
                | PrincipalConstraint::Eq(u)
                | PrincipalConstraint::IsIn(_, u) => principals.get(&u).copied(),
            };
            let reach = match p.resource_constraint() {
                ResourceConstraint::Any => Reach::All,
                ResourceConstraint::Is(t) if t == role_t => Reach::All,
                ResourceConstraint::Is(_) => Reach::Nothing,
                ResourceConstraint::In(u)
                | ResourceConstraint::Eq(u)
                | ResourceConstraint::IsIn(_, u) => reach_of
                    .get(&u)
                    .cloned()
                    .map_or(Reach::Nothing, Reach::System),
            };
            let Some(principal) = principal else {
                continue;
            };
            for (slot, action) in actions.iter().enumerate() {
                let applies = match p.action_constraint() {
                    ActionConstraint::Any => true,
                    ActionConstraint::Eq(a) => a == *action,
                    ActionConstraint::In(list) => list.contains(action),
                };
                let list = match (&reach, applies) {
                    (Reach::All, true) => everywhere.get_mut(slot),
                    (Reach::System(s), true) => {
                        by_system.entry(s.clone()).or_default().get_mut(slot)
                    }
                    _ => None,
                };
                if let Some(list) = list {
                    list.push((principal, position));
                }
            }
        }
        let mut slices: HashMap<&SystemId, [Arc<Slice>; 5]> = HashMap::new();
        for s in catalog.systems.keys() {
            let own = by_system.get(s);
            let mut built: [Arc<Slice>; 5] = Default::default();
            for (slot, out) in built.iter_mut().enumerate() {
                let global = everywhere.get(slot).into_iter().flatten();
                let local = own.and_then(|o| o.get(slot)).into_iter().flatten();
                let mut parts: HashMap<u32, Vec<usize>, Hasher> = HashMap::default();
                for (k, position) in global.chain(local) {
                    parts.entry(*k).or_default().push(*position);
                }
                *out = Arc::new(Slice { parts });
            }
            slices.insert(s, built);
        }
        let full = full_set(loaded)?;
        let compiled = loaded.iter().map(|lp| Compiled::new(&lp.policy)).collect();
        let roles = role_uids
            .into_iter()
            .filter_map(|(id, system, uid)| {
                let slices = slices.get(&system)?.clone();
                Some((id, RoleEntry { uid, slices }))
            })
            .collect();
        Ok(Self {
            authorizer: Authorizer::new(),
            entities,
            full,
            compiled,
            actions,
            identities,
            roles,
        })
    }

    /// Asks whether `identity` may take `action` on `role`. Unknown ids are never allowed.
    pub fn ask(
        &self,
        identity: &IdentityId,
        action: Action,
        role: &RoleId,
        ctx: &AuthContext<'_>,
        evaluation: Evaluation,
    ) -> Answer {
        self.ask_prepared(identity, action, role, prepare(ctx), evaluation)
    }

    /// [`Authorization::ask`] with a context already prepared.
    pub(crate) fn ask_prepared(
        &self,
        identity: &IdentityId,
        action: Action,
        role: &RoleId,
        context: PreparedContext,
        evaluation: Evaluation,
    ) -> Answer {
        let found = match self.lookup(identity, action, role, context) {
            Ok(q) => q,
            Err(why) => {
                return Answer {
                    allowed: false,
                    policies: Vec::new(),
                    errors: vec![why],
                };
            }
        };
        let outcome = match evaluation {
            Evaluation::Indexed => self.over_slice(&found),
            Evaluation::Full => None,
        }
        .unwrap_or_else(|| self.over_full_set(&found.request));
        let Outcome {
            permits,
            forbids,
            errors,
        } = outcome;
        let allowed = forbids.is_empty() && !permits.is_empty();
        let mut policies = if allowed { permits } else { forbids };
        policies.sort();
        policies.dedup();
        let errors: BTreeSet<String> = errors.into_iter().collect();
        Answer {
            allowed,
            policies,
            errors: errors.into_iter().collect(),
        }
    }

    /// The positions of the policies a question is evaluated over: the parts of its
    /// principal's keys, less those that cannot hold for its principal's kind.
    fn positions<'s>(&'s self, found: &'s Found<'_>) -> impl Iterator<Item = usize> + 's {
        found
            .principal
            .keys
            .iter()
            .filter_map(|k| found.slice.parts.get(k))
            .flatten()
            .copied()
            .filter(|p| {
                self.compiled
                    .get(*p)
                    .is_some_and(|c| c.can_hold(found.principal.kind))
            })
    }

    /// The question over its slice, through the compiled policies; `None` if a condition
    /// gave something other than a boolean (see [`Run::add`]).
    fn over_slice(&self, found: &Found<'_>) -> Option<Outcome> {
        let run = Run::new(&found.request, self.entities.as_ref());
        let mut outcome = Outcome::default();
        for position in self.positions(found) {
            run.add(self.compiled.get(position)?, &mut outcome)?;
        }
        Some(outcome)
    }

    /// The question over every policy, by Cedar's authorizer.
    fn over_full_set(&self, request: &cedar_policy::Request) -> Outcome {
        let response = self
            .authorizer
            .is_authorized(request, &self.full, &self.entities);
        let reasons = response
            .diagnostics()
            .reason()
            .filter_map(|id| PolicyId::parse(id.as_ref()).ok())
            .collect();
        let errors = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        // The reasons are the satisfied permits when it allows, the satisfied forbids when not.
        let (permits, forbids) = if response.decision() == CedarDecision::Allow {
            (reasons, Vec::new())
        } else {
            (Vec::new(), reasons)
        };
        Outcome {
            permits,
            forbids,
            errors,
        }
    }

    /// The request for a question, the slice it is asked over and its principal; an
    /// error (the reason it is denied) when an id is unknown or Cedar refuses the context
    /// or the request.
    fn lookup(
        &self,
        identity: &IdentityId,
        action: Action,
        role: &RoleId,
        context: PreparedContext,
    ) -> Result<Found<'_>, String> {
        let (Some(principal), Some(resource)) =
            (self.identities.get(identity), self.roles.get(role))
        else {
            return Err(format!("unknown identity `{identity}` or role `{role}`"));
        };
        let (Some(action_uid), Some(slice)) = (
            self.actions.get(action.index()),
            resource.slices.get(action.index()),
        ) else {
            return Err("unknown action".into());
        };
        let request = cedar_policy::Request::new(
            principal.uid.clone(),
            action_uid.clone(),
            resource.uid.clone(),
            context.0,
            None,
        )
        .map_err(|e| format!("cannot build the request: {e}"))?;
        Ok(Found {
            request,
            slice,
            principal,
        })
    }

    /// The question Cedar is asked, and the policies `decide()` evaluates for it; an error
    /// (the reason it is denied) when an id is unknown or Cedar refuses the context or the
    /// request.
    pub(crate) fn question(
        &self,
        identity: &IdentityId,
        action: Action,
        role: &RoleId,
        context: PreparedContext,
    ) -> Result<Question, String> {
        let found = self.lookup(identity, action, role, context)?;
        let policies = self
            .positions(&found)
            .filter_map(|p| self.compiled.get(p))
            .filter_map(|c| {
                self.full
                    .policy(&cedar_policy::PolicyId::new(c.cedar_id().as_ref()))
            })
            .cloned();
        let policies = PolicySet::from_policies(policies)
            .map_err(|e| format!("cannot build the question's policy set: {e}"))?;
        Ok(Question {
            request: found.request,
            policies,
        })
    }

    /// The entity store and the full policy set, for putting recorded questions to Cedar
    /// directly.
    #[cfg(feature = "bench")]
    pub(crate) fn parts(&self) -> (&Entities, &PolicySet) {
        (&self.entities, &self.full)
    }

    /// The effect of the policy with id `id`.
    pub fn effect_of(&self, id: &PolicyId) -> Option<Effect> {
        self.full
            .policy(&cedar_policy::PolicyId::new(id.as_str()))
            .map(cedar_policy::Policy::effect)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use cedar_policy::RestrictedExpression;

    use super::*;
    use crate::source::SourceFile;

    const CATALOG: &str = r#"
[[group]]
id = "g1"

[[identity]]
id = "i1"
kind = "human"
groups = ["g1"]

[[system]]
id = "s1"
sensitivity = "low"
environment = "dev"
owner = "g1"

[[role]]
id = "r1"
system = "s1"
permissions = ["read"]
max_duration = "1h"
"#;

    /// A loaded policy whose Cedar id is `cedar_id`, as the loader would hand it over.
    fn loaded(id: &str, cedar_id: &str, text: &str, line: usize) -> LoadedPolicy {
        let policy =
            cedar_policy::Policy::parse(Some(cedar_policy::PolicyId::new(cedar_id)), text).unwrap();
        LoadedPolicy {
            effect: policy.effect(),
            policy,
            id: PolicyId::parse(id).unwrap(),
            max_duration: None,
            approvals: None,
            file: "policies/p.cedar".into(),
            line,
        }
    }

    /// A permit and a forbid that Cedar cannot hold in one set (they share a Cedar id).
    fn clashing() -> Vec<LoadedPolicy> {
        vec![
            loaded(
                "allow-all",
                "same",
                "permit(principal, action, resource);",
                1,
            ),
            loaded(
                "deny-all",
                "same",
                "forbid(principal, action, resource);",
                4,
            ),
        ]
    }

    #[test]
    fn a_policy_cedar_refuses_fails_the_set_instead_of_being_left_out() {
        let policies = clashing();
        let err = full_set(&policies).expect_err("the forbid cannot be added, so no set");
        assert_eq!(err.file, "policies/p.cedar");
        assert_eq!(err.line, Some(4));
        assert!(err.message.contains("`deny-all`"), "{}", err.message);
    }

    #[test]
    fn a_bundle_whose_policy_set_cannot_be_built_does_not_load() {
        let catalog = crate::catalog::load(&[SourceFile {
            name: "catalog.toml".into(),
            text: CATALOG.into(),
        }])
        .unwrap();
        let schema = crate::schema::build(&catalog).unwrap();
        let policies = clashing();
        let Err(err) = Authorization::new(&catalog, &schema, &policies) else {
            panic!("a bundle missing its forbid loaded");
        };
        assert!(err.message.contains("`deny-all`"), "{}", err.message);
        // Without the clash the forbid is there and decides.
        let policies = [
            clashing().remove(0),
            loaded(
                "deny-all",
                "deny-all",
                "forbid(principal, action, resource);",
                4,
            ),
        ];
        let auth = Authorization::new(&catalog, &schema, &policies).unwrap();
        let ctx = AuthContext {
            duration_seconds: 60,
            emergency: false,
            purpose: "x",
            ticket: "",
            source: "",
            requester_is_subject: true,
            approvals: 0,
            oidc: None,
        };
        let answer = auth.ask(
            &IdentityId::parse("i1").unwrap(),
            Action::Request,
            &RoleId::parse("r1").unwrap(),
            &ctx,
            Evaluation::Indexed,
        );
        assert!(!answer.allowed);
        assert_eq!(answer.policies, vec![PolicyId::parse("deny-all").unwrap()]);
    }

    fn str_expr(name: &str, value: &str) -> (String, RestrictedExpression) {
        (
            name.to_owned(),
            RestrictedExpression::new_string(value.to_owned()),
        )
    }

    #[test]
    fn catalog_entities_equal_cedars_own() {
        let ty = type_name("Warden::Role").unwrap();
        let system = uid(&type_name("Warden::System").unwrap(), "payments-db");
        for (value, set) in [
            ("", vec![]),
            ("high", vec!["read"]),
            (
                "quoted \"x\"\nand ✓",
                vec!["write", "read", "read", "", "a\\b"],
            ),
        ] {
            let me = uid(&ty, "payments-db.admin");
            let ours = entity(
                me.clone(),
                [
                    str_attr("sensitivity", value),
                    ("permissions", strings(&set)),
                ],
                [system.clone()],
            );
            let theirs = cedar_policy::Entity::new(
                me,
                HashMap::from([
                    str_expr("sensitivity", value),
                    (
                        "permissions".to_owned(),
                        RestrictedExpression::new_set(
                            set.iter()
                                .map(|s| RestrictedExpression::new_string((*s).to_owned())),
                        ),
                    ),
                ]),
                HashSet::from([system.clone()]),
            )
            .unwrap();
            assert_eq!(&ours, theirs.as_ref(), "{value:?} {set:?}");
        }
    }

    #[test]
    fn the_entity_store_is_already_closed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
        let bundle = crate::Bundle::load(&dir).unwrap();
        let catalog = crate::catalog::load(&[SourceFile {
            name: "catalog.toml".into(),
            text: CATALOG.into(),
        }])
        .unwrap();
        let small =
            Authorization::new(&catalog, &crate::schema::build(&catalog).unwrap(), &[]).unwrap();
        for (ours, schema) in [
            (
                &bundle.authorization.entities,
                crate::schema::build(&bundle.catalog).unwrap(),
            ),
            (&small.entities, crate::schema::build(&catalog).unwrap()),
        ] {
            let catalog_entities: Vec<cedar_policy::Entity> = ours
                .iter()
                .filter(|e| e.uid().type_name().basename() != "Action")
                .cloned()
                .collect();
            assert!(
                catalog_entities.iter().any(|e| ours
                    .ancestors(&e.uid())
                    .is_some_and(|mut a| a.next().is_some())),
                "the catalog has entities with parents"
            );
            // Cedar computing the transitive closure itself finds nothing to add.
            let theirs = Entities::from_entities(catalog_entities, Some(&schema)).unwrap();
            assert_eq!(ours, &theirs);
        }
    }

    /// The context Cedar itself builds from the same fields, by evaluating literals.
    fn cedars_own(ctx: &AuthContext<'_>) -> Context {
        let oidc = RestrictedExpression::new_record(warden_model::OIDC_CLAIMS.iter().map(|name| {
            let value = ctx
                .oidc
                .and_then(|c| c.get(*name))
                .map_or("", String::as_str);
            str_expr(name, value)
        }))
        .unwrap();
        Context::from_pairs([
            (
                "duration_seconds".to_owned(),
                RestrictedExpression::new_long(ctx.duration_seconds),
            ),
            (
                "emergency".to_owned(),
                RestrictedExpression::new_bool(ctx.emergency),
            ),
            str_expr("purpose", ctx.purpose),
            str_expr("ticket", ctx.ticket),
            str_expr("source", ctx.source),
            (
                "requester_is_subject".to_owned(),
                RestrictedExpression::new_bool(ctx.requester_is_subject),
            ),
            (
                "approvals".to_owned(),
                RestrictedExpression::new_long(ctx.approvals),
            ),
            ("oidc".to_owned(), oidc),
        ])
        .unwrap()
    }

    #[test]
    fn prepared_contexts_equal_cedars_own() {
        let some_claims: std::collections::BTreeMap<String, String> = [
            ("sub", "repo:acme/api:ref:refs/heads/main"),
            ("repository", "acme/api"),
            ("ref", "refs/heads/main"),
            ("not_a_claim_policy_sees", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let all_claims: std::collections::BTreeMap<String, String> = warden_model::OIDC_CLAIMS
            .iter()
            .map(|name| ((*name).to_owned(), format!("value of {name} \"quoted\" ✓")))
            .collect();
        let empty = std::collections::BTreeMap::new();
        for oidc in [None, Some(&empty), Some(&some_claims), Some(&all_claims)] {
            for (duration_seconds, approvals, emergency, subject) in [
                (0, 0, false, false),
                (3_600, 1, true, true),
                (i64::MAX, i64::MIN, false, true),
                (-1, 7, true, false),
            ] {
                let ctx = AuthContext {
                    duration_seconds,
                    emergency,
                    purpose: "rotate the key\nafter the incident",
                    ticket: if emergency { "" } else { "INC-42" },
                    source: "jira",
                    requester_is_subject: subject,
                    approvals,
                    oidc,
                };
                let ours = prepare(&ctx).0;
                let theirs = cedars_own(&ctx);
                let ours: &CoreContext = ours.as_ref();
                assert_eq!(
                    ours,
                    theirs.as_ref(),
                    "{duration_seconds} {approvals} {oidc:?}"
                );
            }
        }
    }
}
