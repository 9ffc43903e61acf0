//! The catalog: reading `catalog.toml` / `catalog/*.toml`, and validating every entry and
//! every reference between entries. Each problem becomes a `file:line: message` error; all
//! are collected so one run shows them all.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use warden_model::{
    BreakGlass, Duration, Environment, GroupId, Identity, IdentityId, IdentityKind, IdentityStatus,
    NhiLimits, OidcPin, Permission, Role, RoleId, Sensitivity, SodId, SodRule, System, SystemId,
    Task, TaskId, Timestamp,
};
use warden_model::{NoAnswer, ReviewCampaign, ReviewScope, Reviewers};

use crate::source::{LoadError, LoadErrors, SourceFile};

/// The most approvals a role or policy may ask for.
pub const MAX_APPROVALS: u32 = 10;

/// Entries by id, iterated in id order, looked up by hash.
///
/// A decision looks up its requester, subject, system, task and every role on the system;
/// in a `BTreeMap` of 10,000 identities each lookup walked a dozen nodes, comparing ids as
/// it went. The catalog is built from maps sorted by id and sorted again once built, so
/// iteration stays in id order, as a `BTreeMap`'s was.
pub type ById<K, V> = indexmap::IndexMap<K, V, Hasher>;

/// The hasher of the maps a decision looks ids up in: foldhash, several times faster than
/// the standard SipHash on short ids. Every key comes from the bundle's own files and the
/// seed is random per process, so a request cannot choose colliding keys.
pub type Hasher = foldhash::fast::RandomState;

/// A validated catalog with the lookups `decide()` needs.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Groups by id.
    pub groups: BTreeSet<GroupId>,
    /// Identities by id.
    pub identities: ById<IdentityId, Identity>,
    /// Systems by id.
    pub systems: ById<SystemId, System>,
    /// Roles by id.
    pub roles: ById<RoleId, Role>,
    /// Tasks by id.
    pub tasks: ById<TaskId, Task>,
    /// Separation-of-duties rules, in id order.
    pub sod: Vec<SodRule>,
    /// Break-glass limits; without them, emergency requests are denied.
    pub break_glass: Option<BreakGlass>,
    /// Limits on every service and workload; `[nhi]`, or the defaults.
    pub nhi: NhiLimits,
    /// The access-review campaigns (`[[review]]`), in id order.
    pub reviews: Vec<ReviewCampaign>,
    /// Workloads by the `(issuer, subject)` their OIDC pin names.
    pinned: BTreeMap<(String, String), Vec<IdentityId>>,
    roles_by_system: ById<SystemId, Vec<RoleId>>,
    members: BTreeMap<GroupId, BTreeSet<IdentityId>>,
    by_email: BTreeMap<String, IdentityId>,
}

impl Catalog {
    /// The roles on `system`, in id order.
    pub fn roles_of(&self, system: &SystemId) -> &[RoleId] {
        self.roles_by_system.get(system).map_or(&[], Vec::as_slice)
    }

    /// The members of `group`.
    pub fn members(&self, group: &GroupId) -> impl Iterator<Item = &IdentityId> {
        self.members.get(group).into_iter().flatten()
    }

    /// The identity whose `email` is `email` (compared case-insensitively).
    pub fn identity_by_email(&self, email: &str) -> Option<&Identity> {
        self.by_email
            .get(&email.to_ascii_lowercase())
            .and_then(|id| self.identities.get(id))
    }

    /// The workloads whose OIDC pin is satisfied by a token from `issuer` for `subject`
    /// with these `claims`, in id order. More than one is possible (one workload may pin
    /// fewer claims than another); the caller must refuse that as ambiguous.
    pub fn workloads_pinned(
        &self,
        issuer: &str,
        subject: &str,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<&Identity> {
        self.pinned
            .get(&(issuer.to_owned(), subject.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.identities.get(id))
            .filter(|i| {
                i.oidc
                    .as_ref()
                    .is_some_and(|p| p.matches(issuer, subject, claims))
            })
            .collect()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    group: Vec<RawGroup>,
    #[serde(default)]
    identity: Vec<RawIdentity>,
    #[serde(default)]
    system: Vec<RawSystem>,
    #[serde(default)]
    role: Vec<RawRole>,
    #[serde(default)]
    task: Vec<RawTask>,
    #[serde(default)]
    sod: Vec<RawSod>,
    break_glass: Option<Spanned<RawBreakGlass>>,
    nhi: Option<Spanned<RawNhi>>,
    #[serde(default)]
    review: Vec<RawReview>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: Spanned<GroupId>,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the catalog")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    id: Spanned<IdentityId>,
    kind: IdentityKind,
    #[serde(default)]
    groups: Vec<Spanned<GroupId>>,
    #[serde(default)]
    status: IdentityStatus,
    email: Option<Spanned<String>>,
    owner: Option<Spanned<IdentityId>>,
    sponsor: Option<Spanned<IdentityId>>,
    access_ends: Option<Spanned<Timestamp>>,
    oidc: Option<Spanned<RawOidcPin>>,
    #[serde(default)]
    owner_consents: Vec<Spanned<RoleId>>,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the catalog")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOidcPin {
    issuer: String,
    subject: String,
    #[serde(default)]
    claims: BTreeMap<String, String>,
}

/// Claims a pin may not name: `iss` and `sub` have their own keys, and the rest change
/// with every token or are checked by the verifier.
const UNPINNABLE: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    id: Spanned<SystemId>,
    sensitivity: Sensitivity,
    environment: Environment,
    #[serde(default)]
    data_classes: Vec<Spanned<Permission>>,
    owner: Spanned<GroupId>,
    connector: Option<Spanned<String>>,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the catalog")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    id: Spanned<RoleId>,
    system: Spanned<SystemId>,
    permissions: Spanned<Vec<Permission>>,
    max_duration: Duration,
    default_duration: Option<Spanned<Duration>>,
    approvals: Option<Spanned<u32>>,
    #[serde(default)]
    approvers: Vec<Spanned<GroupId>>,
    kinds: Option<Vec<IdentityKind>>,
    #[serde(default)]
    grants: Vec<String>,
    rotate_every: Option<Duration>,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the catalog")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: Spanned<TaskId>,
    system: Spanned<SystemId>,
    needs: Spanned<Vec<Permission>>,
    max_duration: Option<Duration>,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the catalog")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSod {
    id: Spanned<SodId>,
    roles: Vec<Spanned<RoleId>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    id: Spanned<String>,
    every: Duration,
    due_within: Duration,
    #[serde(default)]
    scope: RawReviewScope,
    reviewers: Option<Spanned<String>>,
    groups: Option<Vec<Spanned<GroupId>>>,
    on_no_answer: Option<NoAnswer>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReviewScope {
    #[serde(default)]
    kinds: Vec<IdentityKind>,
    #[serde(default)]
    systems: Vec<Spanned<SystemId>>,
    min_duration: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNhi {
    max_duration: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreakGlass {
    max_duration: Duration,
    review_within: Duration,
}

/// Collects errors against the file each raw entry came from.
struct Check<'a> {
    errors: Vec<LoadError>,
    files: &'a [SourceFile],
}

impl Check<'_> {
    fn at(&mut self, file: usize, span: Range<usize>, message: String) {
        if let Some(f) = self.files.get(file) {
            self.errors.push(f.error_at(span.start, message));
        }
    }
}

/// Parses and validates the catalog files of a bundle.
pub fn load(files: &[SourceFile]) -> Result<Catalog, LoadErrors> {
    let mut check = Check {
        errors: Vec::new(),
        files,
    };
    let mut raws: Vec<(usize, RawCatalog)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        match toml::from_str::<RawCatalog>(&file.text) {
            Ok(raw) => raws.push((i, raw)),
            Err(e) => check.errors.push(LoadError {
                file: file.name.clone(),
                line: e.span().map(|s| file.line_of(s.start)),
                message: e.message().trim().to_owned(),
            }),
        }
    }
    if !check.errors.is_empty() {
        return Err(LoadErrors(check.errors));
    }
    let catalog = build(&mut check, raws);
    if check.errors.is_empty() {
        Ok(catalog)
    } else {
        Err(LoadErrors(check.errors))
    }
}

/// Inserts `value` under `id` unless the id is taken, reporting duplicates.
fn insert_unique<K: Ord + Clone + std::fmt::Display, V>(
    check: &mut Check<'_>,
    map: &mut BTreeMap<K, V>,
    what: &str,
    file: usize,
    id: &Spanned<K>,
    value: V,
) {
    if map.contains_key(id.get_ref()) {
        check.at(
            file,
            id.span(),
            format!("duplicate {what} id `{}`", id.get_ref()),
        );
    } else {
        map.insert(id.get_ref().clone(), value);
    }
}

fn build(check: &mut Check<'_>, raws: Vec<(usize, RawCatalog)>) -> Catalog {
    let mut groups: BTreeMap<GroupId, ()> = BTreeMap::new();
    let mut raw_identities = BTreeMap::new();
    let mut raw_systems = BTreeMap::new();
    let mut raw_roles = BTreeMap::new();
    let mut raw_tasks = BTreeMap::new();
    let mut raw_sods = BTreeMap::new();
    let mut raw_reviews = BTreeMap::new();
    let mut break_glass: Option<BreakGlass> = None;
    let mut nhi: Option<NhiLimits> = None;

    for (file, raw) in raws {
        for g in raw.group {
            insert_unique(check, &mut groups, "group", file, &g.id, ());
        }
        for i in raw.identity {
            let id = i.id.clone();
            insert_unique(check, &mut raw_identities, "identity", file, &id, (file, i));
        }
        for s in raw.system {
            let id = s.id.clone();
            insert_unique(check, &mut raw_systems, "system", file, &id, (file, s));
        }
        for r in raw.role {
            let id = r.id.clone();
            insert_unique(check, &mut raw_roles, "role", file, &id, (file, r));
        }
        for t in raw.task {
            let id = t.id.clone();
            insert_unique(check, &mut raw_tasks, "task", file, &id, (file, t));
        }
        for s in raw.sod {
            let id = s.id.clone();
            insert_unique(check, &mut raw_sods, "sod", file, &id, (file, s));
        }
        for r in raw.review {
            let id = r.id.clone();
            insert_unique(check, &mut raw_reviews, "review", file, &id, (file, r));
        }
        if let Some(bg) = raw.break_glass {
            if break_glass.is_some() {
                check.at(file, bg.span(), "`[break_glass]` is defined twice".into());
            }
            let bg = bg.into_inner();
            break_glass = Some(BreakGlass {
                max_duration: bg.max_duration,
                review_within: bg.review_within,
            });
        }
        if let Some(n) = raw.nhi {
            if nhi.is_some() {
                check.at(file, n.span(), "`[nhi]` is defined twice".into());
            }
            nhi = Some(NhiLimits {
                max_duration: n.into_inner().max_duration,
            });
        }
    }

    let mut catalog = Catalog {
        groups: groups.into_keys().collect(),
        break_glass,
        nhi: nhi.unwrap_or_default(),
        ..Catalog::default()
    };

    for (id, (file, raw)) in &raw_identities {
        let identity = build_identity(check, &catalog.groups, &raw_identities, *file, raw);
        if let Some(email) = &identity.email {
            let key = email.to_ascii_lowercase();
            if let Some(other) = catalog.by_email.get(&key) {
                if let Some(span) = raw.email.as_ref().map(Spanned::span) {
                    check.at(
                        *file,
                        span,
                        format!("email `{email}` is also the email of identity `{other}`"),
                    );
                }
            } else {
                catalog.by_email.insert(key, id.clone());
            }
        }
        if let (Some(pin), Some(span)) = (&identity.oidc, raw.oidc.as_ref().map(Spanned::span)) {
            let key = (pin.issuer.clone(), pin.subject.clone());
            let same = catalog
                .pinned
                .get(&key)
                .into_iter()
                .flatten()
                .find(|other| {
                    catalog.identities.get(*other).and_then(|o| o.oidc.as_ref()) == Some(pin)
                });
            if let Some(other) = same {
                check.at(
                    *file,
                    span,
                    format!(
                        "identity `{id}`: workload `{other}` pins the same issuer, subject and claims; \
                         a token must name one workload"
                    ),
                );
            } else {
                catalog.pinned.entry(key).or_default().push(id.clone());
            }
        }
        for g in &identity.groups {
            catalog
                .members
                .entry(g.clone())
                .or_default()
                .insert(id.clone());
        }
        catalog.identities.insert(id.clone(), identity);
    }

    for (id, (file, raw)) in raw_systems {
        if !catalog.groups.contains(raw.owner.get_ref()) {
            check.at(
                file,
                raw.owner.span(),
                format!(
                    "system `{id}`: owner group `{}` is not defined",
                    raw.owner.get_ref()
                ),
            );
        }
        let connector = raw.connector.map(|c| {
            let span = c.span();
            let name = c.into_inner();
            if warden_model::SystemId::parse(&name).is_err() {
                check.at(
                    file,
                    span,
                    format!("system `{id}`: connector name `{name}` may only hold letters, digits and `._-`"),
                );
            }
            name
        });
        let system = System {
            id: id.clone(),
            sensitivity: raw.sensitivity,
            environment: raw.environment,
            data_classes: raw
                .data_classes
                .into_iter()
                .map(|d| d.into_inner().as_str().to_owned())
                .collect(),
            owner: raw.owner.into_inner(),
            connector,
        };
        catalog.systems.insert(id, system);
    }

    for (id, (file, raw)) in raw_roles {
        let role = build_role(check, &catalog, file, raw);
        catalog
            .roles_by_system
            .entry(role.system.clone())
            .or_default()
            .push(id.clone());
        catalog.roles.insert(id, role);
    }

    for (id, (file, raw)) in &raw_identities {
        let kind = raw.kind;
        for r in &raw.owner_consents {
            let message = match catalog.roles.get(r.get_ref()) {
                None => format!(
                    "identity `{id}`: `owner_consents` names role `{}`, which is not defined",
                    r.get_ref()
                ),
                Some(role) if !role.kinds.contains(&kind) => format!(
                    "identity `{id}`: `owner_consents` names role `{}`, which a {} identity may not hold",
                    r.get_ref(),
                    kind.as_str()
                ),
                Some(_) => continue,
            };
            check.at(*file, r.span(), message);
        }
    }

    for (id, (file, raw)) in raw_tasks {
        if !catalog.systems.contains_key(raw.system.get_ref()) {
            check.at(
                file,
                raw.system.span(),
                format!(
                    "task `{id}`: system `{}` is not defined",
                    raw.system.get_ref()
                ),
            );
        }
        if raw.needs.get_ref().is_empty() {
            check.at(
                file,
                raw.needs.span(),
                format!("task `{id}`: `needs` must name at least one permission"),
            );
        }
        let task = Task {
            id: id.clone(),
            system: raw.system.into_inner(),
            needs: raw.needs.into_inner().into_iter().collect(),
            max_duration: raw.max_duration,
        };
        catalog.tasks.insert(id, task);
    }

    for (id, (file, raw)) in raw_sods {
        let mut roles = BTreeSet::new();
        for r in &raw.roles {
            if !catalog.roles.contains_key(r.get_ref()) {
                check.at(
                    file,
                    r.span(),
                    format!("sod `{id}`: role `{}` is not defined", r.get_ref()),
                );
            }
            roles.insert(r.get_ref().clone());
        }
        if roles.len() < 2 {
            check.at(
                file,
                raw.id.span(),
                format!("sod `{id}`: needs at least two different roles"),
            );
        }
        catalog.sod.push(SodRule { id, roles });
    }
    for (id, (file, raw)) in raw_reviews {
        if let Some(review) = build_review(check, &catalog, file, id, raw) {
            catalog.reviews.push(review);
        }
    }
    // Built from sorted maps, so these are already sorted; sorting them again keeps the
    // id order `ById` promises whatever the building above comes to do.
    catalog.identities.sort_unstable_keys();
    catalog.systems.sort_unstable_keys();
    catalog.roles.sort_unstable_keys();
    catalog.tasks.sort_unstable_keys();
    catalog
}

/// A `[[review]]` campaign, checked against the catalog: a well-formed id, a due date
/// inside the period, known systems and groups, exactly one way of naming reviewers, and
/// `on_no_answer` said out loud.
fn build_review(
    check: &mut Check<'_>,
    catalog: &Catalog,
    file: usize,
    id: String,
    raw: RawReview,
) -> Option<ReviewCampaign> {
    let at = raw.id.span();
    let before = check.errors.len();
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !well_formed {
        check.at(
            file,
            at.clone(),
            format!("review `{id}`: `id` must be 1–64 of a-z, 0-9, `-` and `_`"),
        );
    }
    if raw.due_within > raw.every {
        check.at(
            file,
            at.clone(),
            format!("review `{id}`: `due_within` must not be longer than `every`"),
        );
    }
    for s in &raw.scope.systems {
        if !catalog.systems.contains_key(s.get_ref()) {
            check.at(
                file,
                s.span(),
                format!(
                    "review `{id}`: `scope.systems`: system `{}` is not defined",
                    s.get_ref()
                ),
            );
        }
    }
    let reviewers = match (&raw.reviewers, &raw.groups) {
        (Some(r), None) if r.get_ref() == "owner" => Some(Reviewers::Owner),
        (Some(r), None) => {
            check.at(
                file,
                r.span(),
                format!("review `{id}`: `reviewers` must be \"owner\" (or give `groups`)"),
            );
            None
        }
        (None, Some(groups)) if !groups.is_empty() => {
            for g in groups {
                if !catalog.groups.contains(g.get_ref()) {
                    check.at(
                        file,
                        g.span(),
                        format!(
                            "review `{id}`: `groups`: group `{}` is not defined",
                            g.get_ref()
                        ),
                    );
                }
            }
            Some(Reviewers::Groups(
                groups.iter().map(|g| g.get_ref().clone()).collect(),
            ))
        }
        _ => {
            check.at(
                file,
                at.clone(),
                format!(
                    "review `{id}`: give either `reviewers = \"owner\"` or a non-empty `groups`"
                ),
            );
            None
        }
    };
    let Some(on_no_answer) = raw.on_no_answer else {
        check.at(
            file,
            at,
            format!("review `{id}`: `on_no_answer` is required (\"revoke\" or \"keep\")"),
        );
        return None;
    };
    if check.errors.len() != before {
        return None;
    }
    Some(ReviewCampaign {
        id,
        every: raw.every,
        due_within: raw.due_within,
        scope: ReviewScope {
            kinds: raw.scope.kinds,
            systems: raw
                .scope
                .systems
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            min_duration: raw.scope.min_duration,
        },
        reviewers: reviewers?,
        on_no_answer,
    })
}

fn build_identity(
    check: &mut Check<'_>,
    groups: &BTreeSet<GroupId>,
    all: &BTreeMap<IdentityId, (usize, RawIdentity)>,
    file: usize,
    raw: &RawIdentity,
) -> Identity {
    let id = raw.id.get_ref();
    for g in &raw.groups {
        if !groups.contains(g.get_ref()) {
            check.at(
                file,
                g.span(),
                format!("identity `{id}`: group `{}` is not defined", g.get_ref()),
            );
        }
    }
    let mut human_ref = |what: &str, r: &Option<Spanned<IdentityId>>| {
        if let Some(r) = r {
            match all.get(r.get_ref()) {
                None => check.at(
                    file,
                    r.span(),
                    format!("identity `{id}`: {what} `{}` is not defined", r.get_ref()),
                ),
                Some((_, other)) if other.kind != IdentityKind::Human => check.at(
                    file,
                    r.span(),
                    format!(
                        "identity `{id}`: {what} `{}` must be a human identity",
                        r.get_ref()
                    ),
                ),
                Some(_) => {}
            }
        }
    };
    human_ref("owner", &raw.owner);
    human_ref("sponsor", &raw.sponsor);
    let kind = raw.kind;
    if kind.needs_owner() && raw.owner.is_none() {
        check.at(
            file,
            raw.id.span(),
            format!(
                "identity `{id}`: a {} identity needs an `owner`",
                kind.as_str()
            ),
        );
    }
    if !kind.needs_owner()
        && let Some(o) = &raw.owner
    {
        check.at(
                file,
                o.span(),
                format!(
                    "identity `{id}`: only service and workload identities have an `owner` (use `sponsor` for a third party)"
                ),
            );
    }
    if kind == IdentityKind::ThirdParty {
        if raw.sponsor.is_none() {
            check.at(
                file,
                raw.id.span(),
                format!("identity `{id}`: a third_party identity needs a `sponsor`"),
            );
        }
        if raw.access_ends.is_none() {
            check.at(
                file,
                raw.id.span(),
                format!("identity `{id}`: a third_party identity needs `access_ends`"),
            );
        }
    } else {
        for (key, span) in [
            ("sponsor", raw.sponsor.as_ref().map(Spanned::span)),
            ("access_ends", raw.access_ends.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                check.at(
                    file,
                    span,
                    format!("identity `{id}`: only third_party identities have `{key}`"),
                );
            }
        }
    }
    if !kind.needs_owner()
        && let Some(first) = raw.owner_consents.first()
    {
        check.at(
            file,
            first.span(),
            format!("identity `{id}`: only service and workload identities have `owner_consents`"),
        );
    }
    let oidc = raw.oidc.as_ref().map(|pin| {
        let span = pin.span();
        let pin = pin.get_ref();
        if kind != IdentityKind::Workload {
            check.at(
                file,
                span.clone(),
                format!("identity `{id}`: only workload identities have `oidc`"),
            );
        }
        for (what, value) in [("issuer", &pin.issuer), ("subject", &pin.subject)] {
            if value.trim().is_empty() {
                check.at(
                    file,
                    span.clone(),
                    format!("identity `{id}`: `oidc.{what}` must not be empty"),
                );
            }
        }
        if !(pin.issuer.starts_with("https://") || pin.issuer.starts_with("http://")) {
            check.at(
                file,
                span.clone(),
                format!("identity `{id}`: `oidc.issuer` must be the issuer's URL, as its tokens' `iss` says"),
            );
        }
        for name in pin.claims.keys() {
            if name.is_empty() || UNPINNABLE.contains(&name.as_str()) {
                check.at(
                    file,
                    span.clone(),
                    format!(
                        "identity `{id}`: `oidc.claims` may not pin `{name}` (pin `iss` and `sub` as `issuer` and `subject`; the rest change with every token)"
                    ),
                );
            }
        }
        OidcPin {
            issuer: pin.issuer.clone(),
            subject: pin.subject.clone(),
            claims: pin.claims.clone(),
        }
    });
    if let Some(email) = &raw.email {
        let e = email.get_ref();
        let plausible = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !plausible {
            check.at(
                file,
                email.span(),
                format!("identity `{id}`: `{e}` is not an email address"),
            );
        }
    }
    Identity {
        id: id.clone(),
        kind,
        groups: raw.groups.iter().map(|g| g.get_ref().clone()).collect(),
        status: raw.status,
        email: raw.email.as_ref().map(|e| e.get_ref().clone()),
        owner: raw.owner.as_ref().map(|o| o.get_ref().clone()),
        sponsor: raw.sponsor.as_ref().map(|s| s.get_ref().clone()),
        access_ends: raw.access_ends.as_ref().map(|a| *a.get_ref()),
        oidc,
        owner_consents: raw
            .owner_consents
            .iter()
            .map(|r| r.get_ref().clone())
            .collect(),
    }
}

fn build_role(check: &mut Check<'_>, catalog: &Catalog, file: usize, raw: RawRole) -> Role {
    let id = raw.id.get_ref();
    if !catalog.systems.contains_key(raw.system.get_ref()) {
        check.at(
            file,
            raw.system.span(),
            format!(
                "role `{id}`: system `{}` is not defined",
                raw.system.get_ref()
            ),
        );
    }
    if raw.permissions.get_ref().is_empty() {
        check.at(
            file,
            raw.permissions.span(),
            format!("role `{id}`: `permissions` must name at least one permission"),
        );
    }
    let default_duration = match &raw.default_duration {
        Some(d) if *d.get_ref() > raw.max_duration => {
            check.at(
                file,
                d.span(),
                format!(
                    "role `{id}`: `default_duration` ({}) is longer than `max_duration` ({})",
                    d.get_ref(),
                    raw.max_duration
                ),
            );
            raw.max_duration
        }
        Some(d) => *d.get_ref(),
        None => raw.max_duration,
    };
    let approvals = raw.approvals.as_ref().map_or(0, |a| *a.get_ref());
    if let Some(a) = raw
        .approvals
        .as_ref()
        .filter(|a| *a.get_ref() > MAX_APPROVALS)
    {
        check.at(
            file,
            a.span(),
            format!("role `{id}`: `approvals` must be at most {MAX_APPROVALS}"),
        );
    }
    if approvals > 0 && raw.approvers.is_empty() {
        check.at(
            file,
            raw.id.span(),
            format!("role `{id}`: needs `approvers` because `approvals` is above zero"),
        );
    }
    for g in &raw.approvers {
        if !catalog.groups.contains(g.get_ref()) {
            check.at(
                file,
                g.span(),
                format!(
                    "role `{id}`: approver group `{}` is not defined",
                    g.get_ref()
                ),
            );
        }
    }
    let kinds: BTreeSet<IdentityKind> = match raw.kinds {
        Some(k) if k.is_empty() => {
            check.at(
                file,
                raw.id.span(),
                format!("role `{id}`: `kinds` must name at least one identity kind"),
            );
            BTreeSet::new()
        }
        Some(k) => k.into_iter().collect(),
        None => IdentityKind::ALL.into_iter().collect(),
    };
    for g in &raw.grants {
        if g.trim().is_empty() || g.chars().any(char::is_control) {
            check.at(
                file,
                raw.id.span(),
                format!("role `{id}`: `grants` entries must be non-empty printable text"),
            );
        }
    }
    Role {
        id: id.clone(),
        system: raw.system.into_inner(),
        permissions: raw.permissions.into_inner().into_iter().collect(),
        max_duration: raw.max_duration,
        default_duration,
        approvals,
        approvers: raw.approvers.into_iter().map(Spanned::into_inner).collect(),
        kinds,
        grants: raw.grants,
        rotate_every: raw.rotate_every,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let files = [SourceFile {
            name: "catalog.toml".into(),
            text: text.into(),
        }];
        match load(&files) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const BASE: &str = r#"
[[group]]
id = "eng"

[[identity]]
id = "alice"
kind = "human"
groups = ["eng"]

[[system]]
id = "db"
sensitivity = "low"
environment = "dev"
owner = "eng"

[[role]]
id = "db.read"
system = "db"
permissions = ["read"]
max_duration = "8h"
"#;

    #[test]
    fn a_valid_catalog_loads() {
        assert_eq!(errors(BASE), Vec::<String>::new());
    }

    #[test]
    fn entries_iterate_in_id_order_whatever_the_order_of_the_files() {
        let second = "[[identity]]\nid = \"aaron\"\nkind = \"human\"\n\n\
                      [[identity]]\nid = \"zoe\"\nkind = \"human\"\n\n\
                      [[system]]\nid = \"cache\"\nsensitivity = \"low\"\n\
                      environment = \"dev\"\nowner = \"eng\"\n\n\
                      [[role]]\nid = \"cache.read\"\nsystem = \"cache\"\n\
                      permissions = [\"read\"]\nmax_duration = \"1h\"\n";
        // The later file sorts first by name and holds ids on both sides of the first's.
        let files = [
            SourceFile {
                name: "catalog/b.toml".into(),
                text: BASE.into(),
            },
            SourceFile {
                name: "catalog/a.toml".into(),
                text: second.into(),
            },
        ];
        let catalog = load(&files).unwrap_or_else(|e| panic!("{e:?}"));
        let ids = |keys: Vec<String>| keys.join(" ");
        assert_eq!(
            ids(catalog.identities.keys().map(ToString::to_string).collect()),
            "aaron alice zoe"
        );
        assert_eq!(
            ids(catalog.systems.keys().map(ToString::to_string).collect()),
            "cache db"
        );
        assert_eq!(
            ids(catalog.roles.keys().map(ToString::to_string).collect()),
            "cache.read db.read"
        );
        // And each is still found by id.
        assert!(
            catalog
                .identities
                .contains_key(&IdentityId::parse("zoe").unwrap_or_else(|e| panic!("{e}")))
        );
    }

    #[test]
    fn review_campaigns_load_and_their_errors_name_the_field() {
        let ok = format!(
            "{BASE}\n[[review]]\nid = \"q\"\nevery = \"90d\"\ndue_within = \"14d\"\n\
             scope = {{ kinds = [\"service\"], systems = [\"db\"], min_duration = \"7d\" }}\n\
             reviewers = \"owner\"\non_no_answer = \"revoke\"\n"
        );
        assert_eq!(errors(&ok), Vec::<String>::new());
        let files = [SourceFile {
            name: "catalog.toml".into(),
            text: ok.clone(),
        }];
        let c = load(&files).unwrap();
        assert_eq!(c.reviews.len(), 1);
        assert_eq!(c.reviews[0].on_no_answer, NoAnswer::Revoke);
        assert_eq!(c.reviews[0].reviewers, Reviewers::Owner);
        let cases: &[(&str, &str, &str)] = &[
            (
                "on_no_answer = \"revoke\"\n",
                "",
                "`on_no_answer` is required",
            ),
            (
                "due_within = \"14d\"",
                "due_within = \"91d\"",
                "`due_within` must not be longer",
            ),
            (
                "systems = [\"db\"]",
                "systems = [\"nope\"]",
                "`scope.systems`: system `nope`",
            ),
            (
                "reviewers = \"owner\"",
                "reviewers = \"anyone\"",
                "`reviewers` must be",
            ),
            (
                "reviewers = \"owner\"",
                "groups = [\"ghosts\"]",
                "group `ghosts` is not defined",
            ),
            ("reviewers = \"owner\"\n", "", "give either `reviewers"),
            ("id = \"q\"", "id = \"Q!\"", "`id` must be"),
        ];
        for (from, to, says) in cases {
            let text = ok.replace(from, to);
            let errs = errors(&text);
            assert!(
                errs.iter()
                    .any(|e| e.contains(says) && e.starts_with("catalog.toml:")),
                "{says}: {errs:?}"
            );
        }
    }

    #[test]
    fn each_error_names_file_and_line() {
        let cases: &[(&str, &str)] = &[
            (
                "[[group]]\nid = \"eng\"\ncolour = 1\n",
                "catalog.toml:24: unknown field `colour`",
            ),
            (
                "[[group]]\nid = \"eng\"\n",
                "catalog.toml:23: duplicate group id `eng`",
            ),
            (
                "[[identity]]\nid = \"svc\"\nkind = \"service\"\n",
                "catalog.toml:23: identity `svc`: a service identity needs an `owner`",
            ),
            (
                "[[identity]]\nid = \"bot\"\nkind = \"workload\"\nowner = \"ghost\"\n",
                "catalog.toml:25: identity `bot`: owner `ghost` is not defined",
            ),
            (
                "[[role]]\nid = \"db.x\"\nsystem = \"db\"\npermissions = [\"x\"]\n",
                "catalog.toml:22: missing field `max_duration`",
            ),
            (
                "[[role]]\nid = \"db.x\"\nsystem = \"nope\"\npermissions = [\"x\"]\nmax_duration = \"1h\"\n",
                "catalog.toml:24: role `db.x`: system `nope` is not defined",
            ),
            (
                "[[role]]\nid = \"db.x\"\nsystem = \"db\"\npermissions = [\"x\"]\nmax_duration = \"1h\"\ndefault_duration = \"2h\"\n",
                "catalog.toml:27: role `db.x`: `default_duration` (2h) is longer than `max_duration` (1h)",
            ),
            (
                "[[role]]\nid = \"db.x\"\nsystem = \"db\"\npermissions = [\"x\"]\nmax_duration = \"1y\"\n",
                "catalog.toml:26: invalid duration `1y`",
            ),
            (
                "[[sod]]\nid = \"s\"\nroles = [\"db.read\", \"db.ghost\"]\n",
                "catalog.toml:24: sod `s`: role `db.ghost` is not defined",
            ),
            (
                "[[identity]]\nid = \"v\"\nkind = \"third_party\"\nsponsor = \"alice\"\n",
                "catalog.toml:23: identity `v`: a third_party identity needs `access_ends`",
            ),
        ];
        for (extra, expected) in cases {
            let got = errors(&format!("{BASE}\n{extra}"));
            assert!(
                got.iter().any(|g| g.starts_with(expected)),
                "expected {expected:?} in {got:#?}"
            );
        }
    }

    const PIN: &str = "oidc = { issuer = \"https://ci.example\", subject = \"repo:a/b\", claims = { ref = \"main\" } }";

    fn workload(id: &str, extra: &str) -> String {
        format!("[[identity]]\nid = \"{id}\"\nkind = \"workload\"\nowner = \"alice\"\n{extra}\n")
    }

    #[test]
    fn workload_pins_and_owner_consents_are_checked() {
        let ok = format!(
            "{BASE}\n{}\n{}\n[nhi]\nmax_duration = \"30m\"\n",
            workload("ci", &format!("{PIN}\nowner_consents = [\"db.read\"]")),
            // Pinning more claims than `ci` is allowed; a token matching both is refused
            // at sign-in as ambiguous.
            workload(
                "ci-main",
                "oidc = { issuer = \"https://ci.example\", subject = \"repo:a/b\", claims = { ref = \"main\", environment = \"prod\" } }"
            ),
        );
        assert_eq!(errors(&ok), Vec::<String>::new());
        let catalog = load(&[SourceFile {
            name: "catalog.toml".into(),
            text: ok,
        }])
        .unwrap();
        assert_eq!(catalog.nhi.max_duration.seconds(), 1_800);
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let both = claims(serde_json::json!({"ref": "main", "environment": "prod"}));
        let ids = |c: &serde_json::Map<String, serde_json::Value>| {
            catalog
                .workloads_pinned("https://ci.example", "repo:a/b", c)
                .iter()
                .map(|i| i.id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&both), ["ci", "ci-main"]);
        assert_eq!(ids(&claims(serde_json::json!({"ref": "main"}))), ["ci"]);
        assert!(ids(&claims(serde_json::json!({"ref": "dev"}))).is_empty());
        assert!(
            catalog
                .workloads_pinned("https://other.example", "repo:a/b", &both)
                .is_empty()
        );

        let cases: &[(String, &str)] = &[
            (
                format!("{}{}", workload("a", PIN), workload("b", PIN)),
                "identity `b`: workload `a` pins the same issuer, subject and claims",
            ),
            (
                format!("[[identity]]\nid = \"h\"\nkind = \"human\"\n{PIN}\n"),
                "identity `h`: only workload identities have `oidc`",
            ),
            (
                workload("c", "oidc = { issuer = \"https://ci.example\", subject = \"s\", claims = { jti = \"x\" } }"),
                "identity `c`: `oidc.claims` may not pin `jti`",
            ),
            (
                workload("d", "oidc = { issuer = \"ci.example\", subject = \"s\" }"),
                "identity `d`: `oidc.issuer` must be the issuer's URL",
            ),
            (
                workload("e", "oidc = { issuer = \"https://ci.example\", subject = \"\" }"),
                "identity `e`: `oidc.subject` must not be empty",
            ),
            (
                workload("f", "owner_consents = [\"db.ghost\"]"),
                "identity `f`: `owner_consents` names role `db.ghost`, which is not defined",
            ),
            (
                "[[identity]]\nid = \"g\"\nkind = \"human\"\nowner_consents = [\"db.read\"]\n".into(),
                "identity `g`: only service and workload identities have `owner_consents`",
            ),
            (
                "[[role]]\nid = \"db.h\"\nsystem = \"db\"\npermissions = [\"h\"]\nmax_duration = \"1h\"\nkinds = [\"human\"]\n".to_owned()
                    + &workload("w", "owner_consents = [\"db.h\"]"),
                "identity `w`: `owner_consents` names role `db.h`, which a workload identity may not hold",
            ),
            (
                "[nhi]\nmax_duration = \"1h\"\nextra = 1\n".into(),
                "unknown field `extra`",
            ),
        ];
        for (extra, expected) in cases {
            let got = errors(&format!("{BASE}\n{extra}"));
            assert!(
                got.iter().any(|g| g.contains(expected)),
                "expected {expected:?} in {got:#?}"
            );
        }
    }
}
