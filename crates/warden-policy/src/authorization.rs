//! Asking Cedar: the entity store built once per bundle, and a scope index so that each
//! question evaluates only the policies whose scope can match it.
//!
//! Cedar evaluates every policy of the set it is given. With hundreds of policies most of
//! them are about other groups, roles or systems, so the index maps (action, principal
//! scope, resource scope) to the policies with that scope, and each question builds a small
//! set from the entries its principal, the principal's groups, its resource and the
//! resource's system select. The index only ever over-approximates: Cedar still checks
//! every candidate's scope, so the answer is exactly the full set's answer (a property test
//! in `tests/index.rs` holds it to that).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Effect, Entities, Entity,
    EntityId, EntityTypeName, EntityUid, PolicySet, PrincipalConstraint, ResourceConstraint,
    RestrictedExpression, Schema,
};
use warden_model::{GroupId, IdentityId, PolicyId, RoleId, SystemId};

use crate::catalog::Catalog;
use crate::policy_file::LoadedPolicy;
use crate::schema::ACTIONS;
use crate::source::LoadError;

/// One of the four actions.
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
}

impl Action {
    fn index(self) -> usize {
        match self {
            Action::Request => 0,
            Action::BreakGlass => 1,
            Action::Provision => 2,
            Action::Approve => 3,
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

const ANY: u32 = 0;

/// How many per-question policy sets are kept before the cache starts over.
const SET_CACHE_LIMIT: usize = 4096;

/// Cedar's form of an [`AuthContext`], built once and reusable for several questions.
#[derive(Clone)]
pub(crate) struct PreparedContext(Result<Context, String>);

/// Builds Cedar's context for `ctx`.
pub(crate) fn prepare(ctx: &AuthContext<'_>) -> PreparedContext {
    let context = Context::from_pairs([
        (
            "duration_seconds".to_owned(),
            RestrictedExpression::new_long(ctx.duration_seconds),
        ),
        (
            "emergency".to_owned(),
            RestrictedExpression::new_bool(ctx.emergency),
        ),
        str_attr("purpose", ctx.purpose),
        str_attr("ticket", ctx.ticket),
        str_attr("source", ctx.source),
        (
            "requester_is_subject".to_owned(),
            RestrictedExpression::new_bool(ctx.requester_is_subject),
        ),
        (
            "approvals".to_owned(),
            RestrictedExpression::new_long(ctx.approvals),
        ),
    ])
    .map_err(|e| format!("cannot build the context: {e}"));
    PreparedContext(context)
}

/// The entity store, the policies and the scope index of one bundle.
pub struct Authorization {
    authorizer: Authorizer,
    entities: Entities,
    policies: Vec<cedar_policy::Policy>,
    full: PolicySet,
    /// Per action: (principal key, resource key) → policy numbers.
    index: [HashMap<(u32, u32), Vec<u32>>; 4],
    actions: [EntityUid; 4],
    identities: HashMap<IdentityId, (EntityUid, Vec<u32>)>,
    roles: HashMap<RoleId, (EntityUid, [u32; 2])>,
    /// Per-question policy sets by candidate list: questions repeat a limited number of
    /// scopes, and building a set costs more than evaluating it.
    sets: RwLock<HashMap<Vec<u32>, Arc<PolicySet>>>,
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

fn type_name(name: &str) -> Result<EntityTypeName, LoadError> {
    EntityTypeName::from_str(name)
        .map_err(|e| LoadError::file("catalog", format!("bad entity type `{name}`: {e}")))
}

fn strings(items: impl IntoIterator<Item = impl AsRef<str>>) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .into_iter()
            .map(|s| RestrictedExpression::new_string(s.as_ref().to_owned())),
    )
}

fn str_attr(name: &str, value: &str) -> (String, RestrictedExpression) {
    (
        name.to_owned(),
        RestrictedExpression::new_string(value.to_owned()),
    )
}

impl Authorization {
    /// Builds the entity store and the index.
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

        // Entity numbers for the index; 0 means "any".
        let mut numbers: HashMap<EntityUid, u32> = HashMap::new();
        let mut number = |u: &EntityUid| -> u32 {
            let next = u32::try_from(numbers.len() + 1).unwrap_or(u32::MAX);
            *numbers.entry(u.clone()).or_insert(next)
        };

        let mut entities = Vec::new();
        let mut identities = HashMap::new();
        for i in catalog.identities.values() {
            let me = uid(&identity_t, i.id.as_str());
            let groups: Vec<EntityUid> = i
                .groups
                .iter()
                .map(|g: &GroupId| uid(&group_t, g.as_str()))
                .collect();
            let mut keys = vec![number(&me)];
            keys.extend(groups.iter().map(&mut number));
            let mut attrs = vec![str_attr("kind", i.kind.as_str())];
            if let Some(o) = &i.owner {
                attrs.push(str_attr("owner", o.as_str()));
            }
            if let Some(s) = &i.sponsor {
                attrs.push(str_attr("sponsor", s.as_str()));
            }
            let entity = Entity::new(
                me.clone(),
                attrs.into_iter().collect(),
                groups.into_iter().collect(),
            )
            .map_err(|e| LoadError::file("catalog", format!("identity `{}`: {e}", i.id)))?;
            entities.push(entity);
            identities.insert(i.id.clone(), (me, keys));
        }
        let mut systems: HashMap<SystemId, EntityUid> = HashMap::new();
        for s in catalog.systems.values() {
            let me = uid(&system_t, s.id.as_str());
            number(&me);
            let attrs = [
                str_attr("sensitivity", s.sensitivity.as_str()),
                str_attr("environment", s.environment.as_str()),
                ("data_classes".to_owned(), strings(&s.data_classes)),
            ];
            let entity = Entity::new(me.clone(), attrs.into_iter().collect(), HashSet::new())
                .map_err(|e| LoadError::file("catalog", format!("system `{}`: {e}", s.id)))?;
            entities.push(entity);
            systems.insert(s.id.clone(), me);
        }
        let mut roles = HashMap::new();
        for r in catalog.roles.values() {
            let (Some(system), Some(sys_uid)) =
                (catalog.systems.get(&r.system), systems.get(&r.system))
            else {
                continue;
            };
            let me = uid(&role_t, r.id.as_str());
            let keys = [number(&me), number(sys_uid)];
            let attrs = [
                str_attr("system", r.system.as_str()),
                str_attr("sensitivity", system.sensitivity.as_str()),
                str_attr("environment", system.environment.as_str()),
                ("permissions".to_owned(), strings(&r.permissions)),
                ("data_classes".to_owned(), strings(&system.data_classes)),
            ];
            let entity = Entity::new(
                me.clone(),
                attrs.into_iter().collect(),
                HashSet::from([sys_uid.clone()]),
            )
            .map_err(|e| LoadError::file("catalog", format!("role `{}`: {e}", r.id)))?;
            entities.push(entity);
            roles.insert(r.id.clone(), (me, keys));
        }
        let entities = Entities::from_entities(entities, Some(schema))
            .map_err(|e| LoadError::file("catalog", format!("cannot build entities: {e}")))?;

        let actions = ACTIONS.map(|a| uid(&action_t, a));
        let mut index: [HashMap<(u32, u32), Vec<u32>>; 4] = Default::default();
        let mut policies = Vec::with_capacity(loaded.len());
        let mut full = PolicySet::new();
        for (n, lp) in loaded.iter().enumerate() {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let p = &lp.policy;
            let key_of = |u: &EntityUid| numbers.get(u).copied();
            // A scope naming an entity the catalog lacks can never match; such policies
            // are load errors anyway, so skipping them here is only defensive.
            let principal = match p.principal_constraint() {
                PrincipalConstraint::Any => Some(ANY),
                PrincipalConstraint::Is(t) => (t == identity_t).then_some(ANY),
                PrincipalConstraint::In(u)
                | PrincipalConstraint::Eq(u)
                | PrincipalConstraint::IsIn(_, u) => key_of(&u),
            };
            let resource = match p.resource_constraint() {
                ResourceConstraint::Any => Some(ANY),
                ResourceConstraint::Is(t) => (t == role_t).then_some(ANY),
                ResourceConstraint::In(u)
                | ResourceConstraint::Eq(u)
                | ResourceConstraint::IsIn(_, u) => key_of(&u),
            };
            let action_slots: Vec<usize> = match p.action_constraint() {
                ActionConstraint::Any => (0..4).collect(),
                ActionConstraint::Eq(a) => {
                    actions.iter().position(|x| *x == a).into_iter().collect()
                }
                ActionConstraint::In(list) => (0..4)
                    .filter(|i| actions.get(*i).is_some_and(|x| list.contains(x)))
                    .collect(),
            };
            if let (Some(pk), Some(rk)) = (principal, resource) {
                for slot in action_slots {
                    if let Some(map) = index.get_mut(slot) {
                        map.entry((pk, rk)).or_default().push(n);
                    }
                }
            }
            policies.push(p.clone());
            full.add(p.clone())
                .map_err(|e| LoadError::file(&lp.file, format!("policy `{}`: {e}", lp.id)))?;
        }
        Ok(Self {
            authorizer: Authorizer::new(),
            entities,
            policies,
            full,
            index,
            actions,
            identities,
            roles,
            sets: RwLock::new(HashMap::new()),
        })
    }

    /// The policy set of the candidates `numbers`, from the cache or built and cached.
    fn policy_set(&self, numbers: Vec<u32>) -> Arc<PolicySet> {
        if let Ok(cache) = self.sets.read()
            && let Some(set) = cache.get(&numbers)
        {
            return Arc::clone(set);
        }
        let mut set = PolicySet::new();
        for n in &numbers {
            if let Some(p) = self.policies.get(*n as usize) {
                // Ids are unique in the bundle, so adding cannot fail.
                let _ = set.add(p.clone());
            }
        }
        let set = Arc::new(set);
        // A poisoned lock only costs the cache; the answer does not depend on it.
        if let Ok(mut cache) = self.sets.write() {
            if cache.len() >= SET_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(numbers, Arc::clone(&set));
        }
        set
    }

    /// The policy numbers whose scope can match this question, sorted.
    fn candidates(&self, action: Action, principal: &[u32], resource: &[u32; 2]) -> Vec<u32> {
        let Some(map) = self.index.get(action.index()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for pk in std::iter::once(&ANY).chain(principal) {
            for rk in [&ANY, &resource[0], &resource[1]] {
                if let Some(list) = map.get(&(*pk, *rk)) {
                    out.extend_from_slice(list);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
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
        let denied = |why: String| Answer {
            allowed: false,
            policies: Vec::new(),
            errors: vec![why],
        };
        let (Some((principal, pkeys)), Some((resource, rkeys))) =
            (self.identities.get(identity), self.roles.get(role))
        else {
            return denied(format!("unknown identity `{identity}` or role `{role}`"));
        };
        let Some(action_uid) = self.actions.get(action.index()) else {
            return denied("unknown action".into());
        };
        let context = match context.0 {
            Ok(c) => c,
            Err(e) => return denied(e),
        };
        let request = match cedar_policy::Request::new(
            principal.clone(),
            action_uid.clone(),
            resource.clone(),
            context,
            None,
        ) {
            Ok(r) => r,
            Err(e) => return denied(format!("cannot build the request: {e}")),
        };
        let response = match evaluation {
            Evaluation::Full => self
                .authorizer
                .is_authorized(&request, &self.full, &self.entities),
            Evaluation::Indexed => {
                let set = self.policy_set(self.candidates(action, pkeys, rkeys));
                self.authorizer
                    .is_authorized(&request, &set, &self.entities)
            }
        };
        let mut policies: Vec<PolicyId> = response
            .diagnostics()
            .reason()
            .filter_map(|id| PolicyId::parse(id.as_ref()).ok())
            .collect();
        policies.sort();
        let errors: BTreeSet<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        Answer {
            allowed: response.decision() == CedarDecision::Allow,
            policies,
            errors: errors.into_iter().collect(),
        }
    }

    /// The effect of the policy with id `id`.
    pub fn effect_of(&self, id: &PolicyId) -> Option<Effect> {
        self.full
            .policy(&cedar_policy::PolicyId::new(id.as_str()))
            .map(cedar_policy::Policy::effect)
    }
}
