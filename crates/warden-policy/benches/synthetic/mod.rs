//! A deterministic synthetic bundle shaped like a large organisation — 1,000 roles, 500
//! Cedar policies, 10,000 identities over 100 systems and 50 groups — and a fixed, varied
//! set of requests against it. Shared by the `decide` bench and the `decide_latency`
//! example (each includes this file with `#[path]`); it is not part of the crate's API.
//!
//! Everything is drawn from a seeded xorshift generator, so every run builds the same
//! bundle, byte for byte, and the same requests.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use warden_model::{
    ActiveGrant, Decision, Duration, IdentityId, Outcome, Permission, ReasonCode, Request, RoleId,
    SystemId, TaskId, Timestamp,
};
use warden_policy::{Bundle, SourceFile};

/// The seed every run uses.
pub const SEED: u64 = 0x5EED_2026_0001;

/// The instant every synthetic decision is made at.
pub const AT: &str = "2026-11-29T10:00:00Z";

/// How many of each thing the bundle holds.
pub const SYSTEMS: usize = 100;
/// Roles, spread unevenly over the systems.
pub const ROLES: usize = 1_000;
/// Cedar policies, over several files.
pub const POLICIES: usize = 500;
/// Humans, services, workloads and third parties together.
pub const IDENTITIES: usize = 10_000;
/// Standard request types.
pub const TASKS: usize = 200;
/// Separation-of-duties rules.
pub const SODS: usize = 8;

const HUMANS: usize = 8_000;
const SERVICES: usize = 1_200;
const WORKLOADS: usize = 500;

const TEAMS: [&str; 30] = [
    "payments",
    "ledger",
    "checkout",
    "search",
    "catalog",
    "identity",
    "mobile",
    "web",
    "platform",
    "data",
    "ml",
    "fraud",
    "risk",
    "billing",
    "growth",
    "ads",
    "maps",
    "notify",
    "infra",
    "storage",
    "network",
    "compute",
    "observ",
    "release",
    "qa",
    "docs",
    "supporteng",
    "integrations",
    "partners",
    "reporting",
];
/// Teams 0..10 own systems through a `leads-…` group.
const LEAD_TEAMS: usize = 10;
const SPECIAL: [&str; 10] = [
    "sre",
    "security",
    "dba",
    "oncall",
    "ci",
    "ci-release",
    "vendors",
    "vendors-support",
    "services",
    "auditors",
];

/// A tiny xorshift64* generator: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (zero is replaced, as xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True `pct` times in a hundred.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next_u64() % 100 < pct
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut r = self.next_u64() % total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

struct Sys {
    id: String,
    team: usize,
    sensitivity: &'static str,
    environment: &'static str,
    owner: String,
    roles: Vec<usize>,
}

struct RoleRec {
    id: String,
    system: usize,
    permissions: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Human,
    Service,
    Workload,
    ThirdParty,
}

struct Ident {
    id: String,
    kind: Kind,
    groups: Vec<usize>,
    disabled: bool,
    owner: Option<usize>,
}

/// Who a request permit is for and what it covers: the requests aim at these so that a
/// realistic share of them is permitted.
struct Target {
    principal: Principal,
    resource: Resource,
    /// Permissions the `when` clause wants; a role carrying one of them is picked.
    wants: Vec<String>,
    purpose: Option<&'static str>,
}

enum Principal {
    Group(usize),
    Identity(usize),
}

enum Resource {
    System(usize),
    Role(usize),
    Any,
}

/// The generated organisation: the bundle's files and what request generation needs.
pub struct World {
    groups: Vec<String>,
    systems: Vec<Sys>,
    roles: Vec<RoleRec>,
    identities: Vec<Ident>,
    members: Vec<Vec<usize>>,
    tasks: Vec<(String, usize, String)>,
    sods: Vec<(String, usize, usize, usize)>,
    targets: Vec<Target>,
    emergency_systems: Vec<usize>,
    /// The bundle, as files.
    pub files: Vec<SourceFile>,
}

fn group_index(groups: &[String], name: &str) -> usize {
    groups.iter().position(|g| g == name).unwrap_or(0)
}

const DB_EXTRAS: [&str; 6] = [
    "explain", "export", "migrate", "backup", "restore", "monitor",
];
const CACHE_EXTRAS: [&str; 3] = ["monitor", "flush", "explain"];
const BROKER_EXTRAS: [&str; 3] = ["consume", "publish", "configure"];
const DIRECTORY_EXTRAS: [&str; 3] = ["bind", "reset_password", "manage_groups"];
const STORE_EXTRAS: [&str; 3] = ["list", "upload", "delete"];
const VAULT_EXTRAS: [&str; 2] = ["read_secret", "rotate"];
const SAAS_EXTRAS: [&str; 3] = ["approve_refunds", "support", "billing"];
const FILLERS: [&str; 10] = [
    "audit",
    "report",
    "debug",
    "analyst",
    "maintenance",
    "ops",
    "replica",
    "oncall",
    "schema",
    "quota",
];
const KINDS: [(&str, &[&str]); 10] = [
    ("pg", &DB_EXTRAS),
    ("mysql", &DB_EXTRAS),
    ("mongo", &DB_EXTRAS),
    ("redis", &CACHE_EXTRAS),
    ("rabbitmq", &BROKER_EXTRAS),
    ("kafka", &BROKER_EXTRAS),
    ("ldap", &DIRECTORY_EXTRAS),
    ("s3", &STORE_EXTRAS),
    ("vault", &VAULT_EXTRAS),
    ("saas", &SAAS_EXTRAS),
];

fn quoted_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", parts.join(", "))
}

/// Builds the organisation and its bundle from `seed`.
pub fn generate(seed: u64) -> World {
    let mut rng = Rng::new(seed);

    // --- groups: 30 teams, 10 lead groups, 10 cross-cutting ------------------------
    let mut groups: Vec<String> = TEAMS.iter().map(|t| format!("team-{t}")).collect();
    groups.extend(TEAMS.iter().take(LEAD_TEAMS).map(|t| format!("leads-{t}")));
    groups.extend(SPECIAL.iter().map(|s| (*s).to_owned()));
    let g = |name: &str| group_index(&groups, name);
    let (sre, security, dba, oncall, ci, ci_release, vendors, vendors_support, services, auditors) = (
        g("sre"),
        g("security"),
        g("dba"),
        g("oncall"),
        g("ci"),
        g("ci-release"),
        g("vendors"),
        g("vendors-support"),
        g("services"),
        g("auditors"),
    );
    let lead_of = |team: usize| TEAMS.len() + team % LEAD_TEAMS;

    // --- systems ---------------------------------------------------------------------
    let mut systems = Vec::with_capacity(SYSTEMS);
    let mut system_kinds = Vec::with_capacity(SYSTEMS);
    let mut system_data = Vec::with_capacity(SYSTEMS);
    for n in 0..SYSTEMS {
        let kind = rng.below(KINDS.len());
        let team = rng.below(TEAMS.len());
        let sensitivity = ["low", "medium", "high", "critical"][rng.weighted(&[30, 35, 25, 10])];
        let environment = ["prod", "staging", "dev"][rng.weighted(&[60, 25, 15])];
        let mut data: Vec<String> = Vec::new();
        match sensitivity {
            "high" | "critical" => {
                let classes = ["pci", "pii", "phi", "secrets", "financial"];
                data.push((*rng.pick(&classes)).to_owned());
                let second = (*rng.pick(&classes)).to_owned();
                if rng.chance(40) && !data.contains(&second) {
                    data.push(second);
                }
            }
            "medium" if rng.chance(50) => data.push((*rng.pick(&["pii", "internal"])).to_owned()),
            _ => {}
        }
        let owner = match rng.weighted(&[80, 10, 10]) {
            0 => groups[lead_of(team)].clone(),
            1 => "sre".to_owned(),
            _ => "dba".to_owned(),
        };
        systems.push(Sys {
            id: format!("{}-{}-{n:02}", KINDS[kind].0, TEAMS[team]),
            team,
            sensitivity,
            environment,
            owner,
            roles: Vec::new(),
        });
        system_kinds.push(kind);
        system_data.push(data);
    }

    // --- roles: 4 to 16 per system, exactly ROLES in all ----------------------------
    let mut counts: Vec<usize> = (0..SYSTEMS).map(|_| 4 + rng.below(13)).collect();
    let mut total: usize = counts.iter().sum();
    while total != ROLES {
        let i = rng.below(SYSTEMS);
        if total < ROLES && counts[i] < 16 {
            counts[i] += 1;
            total += 1;
        } else if total > ROLES && counts[i] > 4 {
            counts[i] -= 1;
            total -= 1;
        }
    }
    let mut roles: Vec<RoleRec> = Vec::with_capacity(ROLES);
    let mut role_text = String::new();
    for (s, count) in counts.iter().enumerate() {
        let extras = KINDS[system_kinds[s]].1;
        let mut names: Vec<&str> = vec!["read", "write", "admin"];
        names.extend(extras.iter().copied());
        names.extend(FILLERS.iter().copied());
        names.truncate(*count);
        let sys_id = systems[s].id.clone();
        let sys_owner = systems[s].owner.clone();
        let sensitive = matches!(systems[s].sensitivity, "high" | "critical");
        for name in names {
            let permissions: Vec<String> = match name {
                "read" => vec!["read".into()],
                "write" => vec!["read".into(), "write".into()],
                "admin" => vec!["read".into(), "write".into(), "admin".into()],
                "publish" => vec!["consume".into(), "publish".into()],
                "configure" => vec!["configure".into(), "consume".into(), "publish".into()],
                other if rng.chance(50) => vec!["read".into(), other.into()],
                other => vec![other.into()],
            };
            let max_duration = match name {
                "admin" => *rng.pick(&["1h", "2h"]),
                "write" => *rng.pick(&["2h", "4h", "8h"]),
                "read" => *rng.pick(&["4h", "8h", "1d"]),
                "consume" | "publish" => *rng.pick(&["1d", "7d", "30d"]),
                _ => *rng.pick(&["1h", "2h", "4h", "8h", "1d"]),
            };
            let max = Duration::parse(max_duration).map_or(3600, Duration::seconds);
            let default_duration = ["30m", "1h", "2h", "4h"]
                .into_iter()
                .filter(|d| Duration::parse(d).is_ok_and(|d| d.seconds() < max))
                .nth(rng.below(2))
                .filter(|_| rng.chance(50));
            let approvals = match name {
                "admin" => 2,
                "write" => 1,
                "read" if sensitive => 1,
                "read" => 0,
                _ if sensitive => 1,
                _ => u32::from(rng.chance(30)),
            };
            let mut approvers = vec![sys_owner.clone()];
            if name == "admin" {
                approvers.push("security".into());
            }
            let kinds = match name {
                "admin" => Some(r#"["human"]"#),
                "write" if rng.chance(30) => Some(r#"["human", "service"]"#),
                "migrate" | "schema" => Some(r#"["human", "workload"]"#),
                _ => None,
            };
            let id = format!("{sys_id}.{name}");
            let _ = writeln!(role_text, "[[role]]\nid = \"{id}\"\nsystem = \"{sys_id}\"");
            let _ = writeln!(
                role_text,
                "permissions = {}\nmax_duration = \"{max_duration}\"",
                quoted_list(&permissions)
            );
            if let Some(d) = default_duration {
                let _ = writeln!(role_text, "default_duration = \"{d}\"");
            }
            if approvals > 0 {
                let _ = writeln!(
                    role_text,
                    "approvals = {approvals}\napprovers = {}",
                    quoted_list(&approvers)
                );
            }
            if let Some(k) = kinds {
                let _ = writeln!(role_text, "kinds = {k}");
            }
            let _ = writeln!(
                role_text,
                "grants = [\"{}:{}\"]\n",
                KINDS[system_kinds[s]].0,
                name.replace('-', "_")
            );
            systems[s].roles.push(roles.len());
            roles.push(RoleRec {
                id,
                system: s,
                permissions,
            });
        }
    }

    // --- identities --------------------------------------------------------------------
    let mut identities: Vec<Ident> = Vec::with_capacity(IDENTITIES);
    let mut ident_text = String::new();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for n in 0..IDENTITIES {
        let kind = if n < HUMANS {
            Kind::Human
        } else if n < HUMANS + SERVICES {
            Kind::Service
        } else if n < HUMANS + SERVICES + WORKLOADS {
            Kind::Workload
        } else {
            Kind::ThirdParty
        };
        let team = rng.below(TEAMS.len());
        let mut gs = Vec::new();
        let mut owner = None;
        let mut extra = String::new();
        let id = match kind {
            Kind::Human => {
                gs.push(team);
                if rng.chance(20) {
                    gs.push(rng.below(TEAMS.len()));
                }
                for (group, pct) in [
                    (lead_of(team), 4),
                    (sre, 3),
                    (security, 1),
                    (dba, 2),
                    (oncall, 6),
                    (auditors, 1),
                ] {
                    if rng.chance(pct) {
                        gs.push(group);
                    }
                }
                let id = format!("person-{n:05}");
                let _ = writeln!(extra, "email = \"{id}@example.com\"");
                id
            }
            Kind::Service => {
                gs.extend([team, services]);
                owner = Some(rng.below(HUMANS));
                format!("svc-{}-{n:05}", TEAMS[team])
            }
            Kind::Workload => {
                gs.extend([ci, team]);
                if rng.chance(30) {
                    gs.push(ci_release);
                }
                owner = Some(rng.below(HUMANS));
                format!("ci-{}-{n:05}", TEAMS[team])
            }
            Kind::ThirdParty => {
                gs.push(vendors);
                if rng.chance(50) {
                    gs.push(vendors_support);
                }
                owner = Some(rng.below(HUMANS));
                let ends = if rng.chance(15) {
                    format!("2026-{:02}-28T00:00:00Z", 1 + rng.below(10))
                } else {
                    format!("2027-{:02}-28T00:00:00Z", 1 + rng.below(12))
                };
                let _ = writeln!(extra, "access_ends = \"{ends}\"");
                format!("vendor-{n:05}")
            }
        };
        gs.sort_unstable();
        gs.dedup();
        let disabled = kind == Kind::Human && rng.chance(2);
        let kind_str = match kind {
            Kind::Human => "human",
            Kind::Service => "service",
            Kind::Workload => "workload",
            Kind::ThirdParty => "third_party",
        };
        let group_names: Vec<String> = gs.iter().map(|i| groups[*i].clone()).collect();
        let _ = writeln!(
            ident_text,
            "[[identity]]\nid = \"{id}\"\nkind = \"{kind_str}\"\ngroups = {}",
            quoted_list(&group_names)
        );
        ident_text.push_str(&extra);
        match (kind, owner) {
            (Kind::ThirdParty, Some(o)) => {
                let _ = writeln!(ident_text, "sponsor = \"person-{o:05}\"");
            }
            (_, Some(o)) => {
                let _ = writeln!(ident_text, "owner = \"person-{o:05}\"");
            }
            _ => {}
        }
        if disabled {
            ident_text.push_str("status = \"disabled\"\n");
        }
        ident_text.push('\n');
        for gi in &gs {
            members[*gi].push(n);
        }
        identities.push(Ident {
            id,
            kind,
            groups: gs,
            disabled,
            owner,
        });
    }

    // --- tasks and separation of duties -----------------------------------------------
    let mut tasks = Vec::with_capacity(TASKS);
    let mut task_text = String::new();
    for n in 0..TASKS {
        let s = rng.below(SYSTEMS);
        let role = &roles[*rng.pick(&systems[s].roles)];
        let need = role.permissions[rng.below(role.permissions.len())].clone();
        let id = format!("task-{n:03}-{}-{need}", systems[s].id);
        let _ = writeln!(
            task_text,
            "[[task]]\nid = \"{id}\"\nsystem = \"{}\"\nneeds = [\"{need}\"]",
            systems[s].id
        );
        if rng.chance(60) {
            let _ = writeln!(
                task_text,
                "max_duration = \"{}\"",
                rng.pick(&["1h", "2h", "4h"])
            );
        }
        task_text.push('\n');
        tasks.push((id, s, need));
    }
    let mut sods = Vec::with_capacity(SODS);
    let mut sod_text = String::new();
    let mut s = 0;
    while sods.len() < SODS && s < SYSTEMS {
        if systems[s].roles.len() > 4 {
            let write = systems[s].roles[1];
            let other = systems[s].roles[3 + rng.below(systems[s].roles.len() - 3)];
            let id = format!("sod-{}", systems[s].id);
            let _ = writeln!(
                sod_text,
                "[[sod]]\nid = \"{id}\"\nroles = [\"{}\", \"{}\"]\n",
                roles[write].id, roles[other].id
            );
            sods.push((id, write, other, systems[s].team));
        }
        s += 7;
    }

    let mut catalog =
        String::from("# A synthetic organisation for benchmarks: generated, deterministic.\n\n");
    for (i, name) in groups.iter().enumerate() {
        let _ = writeln!(catalog, "[[group]]\nid = \"{name}\"");
        if i < TEAMS.len() {
            let _ = writeln!(catalog, "description = \"the {name} engineering team\"");
        }
        catalog.push('\n');
    }
    catalog.push_str(&ident_text);
    for (sys, data) in systems.iter().zip(&system_data) {
        let _ = writeln!(
            catalog,
            "[[system]]\nid = \"{}\"\nsensitivity = \"{}\"\nenvironment = \"{}\"\ndata_classes = {}\nowner = \"{}\"\nconnector = \"conn-{}\"\n",
            sys.id,
            sys.sensitivity,
            sys.environment,
            quoted_list(data),
            sys.owner,
            sys.id
        );
    }
    catalog.push_str(&role_text);
    catalog.push_str(&task_text);
    catalog.push_str(&sod_text);
    catalog.push_str("[break_glass]\nmax_duration = \"1h\"\nreview_within = \"24h\"\n");

    // --- policies ----------------------------------------------------------------------
    let mut policy_files: BTreeMap<String, String> = BTreeMap::new();
    let mut count = 0usize;
    let mut targets = Vec::new();
    let mut emit = |file: &str, text: String, count: &mut usize| {
        let body = policy_files.entry(file.to_owned()).or_default();
        body.push_str(&text);
        body.push('\n');
        *count += 1;
    };
    let act = |a: &str| format!("action == Warden::Action::\"{a}\"");
    let sys_ref = |s: &Sys| format!("Warden::System::\"{}\"", s.id);
    let grp = |i: usize| format!("Warden::Group::\"{}\"", groups[i]);

    // Guardrails: global forbids.
    for text in [
        "@id(\"no-nhi-admin\")\nforbid (principal, action, resource)\nwhen { principal.kind != \"human\" && resource.permissions.contains(\"admin\") };",
        "@id(\"vendors-never-write\")\nforbid (principal, action, resource)\nwhen { principal.kind == \"third_party\" && resource.permissions.containsAny([\"write\", \"delete\", \"admin\"]) };",
        "@id(\"purpose-required\")\nforbid (principal, action == Warden::Action::\"request\", resource)\nwhen { context.purpose == \"\" };",
        "@id(\"no-vendor-secrets\")\nforbid (principal, action, resource)\nwhen { principal.kind == \"third_party\" && resource.data_classes.containsAny([\"secrets\", \"phi\"]) };",
        "@id(\"long-needs-ticket\")\nforbid (principal, action == Warden::Action::\"request\", resource)\nwhen { context.duration_seconds > 86400 && context.ticket == \"\" && resource.sensitivity != \"low\" };",
        "@id(\"no-ci-on-pci\")\nforbid (principal, action == Warden::Action::\"provision\", resource)\nwhen { principal.kind == \"workload\" && resource.data_classes.contains(\"pci\") };",
    ] {
        emit("policies/guardrails.cedar", text.to_owned(), &mut count);
    }

    // Approvals: humans approve; lead groups approve on the systems they own.
    emit(
        "policies/approve.cedar",
        "@id(\"humans-approve\")\npermit (principal, action == Warden::Action::\"approve\", resource)\nwhen { principal.kind == \"human\" };".into(),
        &mut count,
    );
    for (t, team) in TEAMS.iter().enumerate().take(LEAD_TEAMS) {
        let lead = lead_of(t);
        emit(
            "policies/approve.cedar",
            format!(
                "@id(\"leads-{}-approve-admin\")\npermit (principal in {}, {}, resource)\nwhen {{ principal.kind == \"human\" && resource.permissions.contains(\"admin\") }};",
                team,
                grp(lead),
                act("approve")
            ),
            &mut count,
        );
    }

    // The second check: most high and critical systems permit `provision`, some with
    // conditions; a few have no provision permit at all, a few forbid workloads.
    for sys in systems
        .iter()
        .filter(|s| matches!(s.sensitivity, "high" | "critical"))
    {
        let text = match rng.weighted(&[55, 25, 10, 10]) {
            0 => format!(
                "@id(\"provision-{}\")\npermit (principal, {}, resource in {});",
                sys.id,
                act("provision"),
                sys_ref(sys)
            ),
            1 => format!(
                "@id(\"provision-{}\")\npermit (principal, {}, resource in {})\nwhen {{ context.duration_seconds <= 28800 && (principal.kind == \"human\" || context.ticket != \"\") }};",
                sys.id,
                act("provision"),
                sys_ref(sys)
            ),
            2 => format!(
                "@id(\"no-workload-provision-{}\")\nforbid (principal, {}, resource in {})\nwhen {{ principal.kind == \"workload\" }};",
                sys.id,
                act("provision"),
                sys_ref(sys)
            ),
            _ => continue,
        };
        emit("policies/second-check.cedar", text, &mut count);
    }

    // Break-glass: on-call humans on production systems, below admin.
    emit(
        "policies/emergency.cedar",
        format!(
            "@id(\"sre-break-glass\")\npermit (principal in {}, {}, resource)\nwhen {{ principal.kind == \"human\" && !resource.permissions.contains(\"admin\") }};",
            grp(sre),
            act("break_glass")
        ),
        &mut count,
    );
    let prod: Vec<usize> = (0..SYSTEMS)
        .filter(|s| systems[*s].environment == "prod")
        .collect();
    let mut emergency_systems = Vec::new();
    for k in 0..19 {
        let s = prod[(k * 3) % prod.len()];
        emergency_systems.push(s);
        emit(
            "policies/emergency.cedar",
            format!(
                "@id(\"oncall-break-glass-{k:02}-{}\")\npermit (principal in {}, {}, resource in {})\nwhen {{ principal.kind == \"human\" && !resource.permissions.containsAny([\"admin\", \"delete\"]) }};",
                systems[s].id,
                grp(oncall),
                act("break_glass"),
                sys_ref(&systems[s])
            ),
            &mut count,
        );
    }

    // Scoped forbids.
    for k in 0..30 {
        let s = rng.below(SYSTEMS);
        let sys = &systems[s];
        let text = match k % 3 {
            0 => format!(
                "@id(\"no-third-party-{k:02}-{}\")\nforbid (principal, {}, resource in {})\nwhen {{ principal.kind == \"third_party\" }};",
                sys.id,
                act("request"),
                sys_ref(sys)
            ),
            1 => format!(
                "@id(\"no-export-{k:02}-{}\")\nforbid (principal in {}, action, resource in {})\nwhen {{ resource.permissions.containsAny([\"export\", \"delete\"]) }};",
                sys.id,
                grp(rng.below(TEAMS.len())),
                sys_ref(sys)
            ),
            _ => format!(
                "@id(\"short-only-{k:02}-{}\")\nforbid (principal, {}, resource in {})\nwhen {{ context.duration_seconds > 43200 && !context.requester_is_subject }};",
                sys.id,
                act("request"),
                sys_ref(sys)
            ),
        };
        emit("policies/restrictions.cedar", text, &mut count);
    }

    // The teams running systems with separation-of-duties rules operate them.
    for (sod, _, b, team) in &sods {
        let sys = &systems[roles[*b].system];
        emit(
            "policies/operators.cedar",
            format!(
                "@id(\"operators-{sod}\")\npermit (principal in {}, {}, resource in {})\nwhen {{ principal.kind == \"human\" && !resource.permissions.contains(\"admin\") }};",
                grp(*team),
                act("request"),
                sys_ref(sys)
            ),
            &mut count,
        );
    }

    // Request permits: the rest.
    let mut n = 0usize;
    while count < POLICIES {
        let file = format!("policies/request-{:02}.cedar", n / 50);
        let mut annotations = String::new();
        if rng.chance(30) {
            let _ = writeln!(
                annotations,
                "@max_duration(\"{}\")",
                rng.pick(&["1h", "2h", "4h", "8h"])
            );
        }
        if rng.chance(15) {
            let _ = writeln!(annotations, "@approvals(\"{}\")", 1 + rng.below(2));
        }
        let s = rng.below(SYSTEMS);
        let sys = &systems[s];
        let team = sys.team;
        let (label, text, target) = match rng.weighted(&[45, 5, 10, 10, 7, 5, 10, 8]) {
            0 => {
                let wants: Vec<String> = [
                    &["read", "explain", "monitor"][..],
                    &["read", "write"],
                    &["consume", "publish"],
                    &["read", "export", "report"],
                ][rng.below(4)]
                .iter()
                .map(|w| (*w).to_owned())
                .collect();
                let who = if rng.chance(70) {
                    team
                } else {
                    rng.below(TEAMS.len())
                };
                (
                    format!("team-{}", TEAMS[who]),
                    format!(
                        "permit (principal in {}, {}, resource in {})\nwhen {{ resource.permissions.containsAny({}) && !resource.permissions.contains(\"admin\") }};",
                        grp(who),
                        act("request"),
                        sys_ref(sys),
                        quoted_list(&wants)
                    ),
                    Target {
                        principal: Principal::Group(who),
                        resource: Resource::System(s),
                        wants,
                        purpose: None,
                    },
                )
            }
            1 => {
                let who = rng.below(TEAMS.len());
                let env = *rng.pick(&["staging", "dev"]);
                (
                    format!("team-{}-{env}", TEAMS[who]),
                    format!(
                        "permit (principal in {}, {}, resource)\nwhen {{ resource.environment == \"{env}\" && resource.permissions == [\"read\"] }};",
                        grp(who),
                        act("request")
                    ),
                    Target {
                        principal: Principal::Group(who),
                        resource: Resource::Any,
                        wants: vec!["read".into()],
                        purpose: None,
                    },
                )
            }
            2 => {
                let lead = group_index(&groups, &sys.owner);
                (
                    format!("owners-{}", groups[lead]),
                    format!(
                        "permit (principal in {}, {}, resource in {})\nwhen {{ principal.kind == \"human\" }};",
                        grp(lead),
                        act("request"),
                        sys_ref(sys)
                    ),
                    Target {
                        principal: Principal::Group(lead),
                        resource: Resource::System(s),
                        wants: Vec::new(),
                        purpose: None,
                    },
                )
            }
            3 => {
                let r = *rng.pick(&sys.roles);
                (
                    "services".to_owned(),
                    format!(
                        "permit (principal in {}, {}, resource == Warden::Role::\"{}\")\nwhen {{ principal.kind == \"service\" && context.duration_seconds <= 604800 }};",
                        grp(services),
                        act("request"),
                        roles[r].id
                    ),
                    Target {
                        principal: Principal::Group(services),
                        resource: Resource::Role(r),
                        wants: Vec::new(),
                        purpose: None,
                    },
                )
            }
            4 => (
                "ci".to_owned(),
                format!(
                    "permit (principal in {}, {}, resource in {})\nwhen {{ resource.permissions.containsAny([\"publish\", \"migrate\", \"schema\", \"write\"]) && context.purpose like \"*release*\" }};",
                    grp(ci_release),
                    act("request"),
                    sys_ref(sys)
                ),
                Target {
                    principal: Principal::Group(ci_release),
                    resource: Resource::System(s),
                    wants: vec![
                        "publish".into(),
                        "migrate".into(),
                        "schema".into(),
                        "write".into(),
                    ],
                    purpose: Some("release 4.2 pipeline"),
                },
            ),
            5 => (
                "vendor-support".to_owned(),
                format!(
                    "permit (principal in {}, {}, resource in {})\nwhen {{ resource.permissions == [\"read\"] || resource.permissions.contains(\"support\") }};",
                    grp(vendors_support),
                    act("request"),
                    sys_ref(sys)
                ),
                Target {
                    principal: Principal::Group(vendors_support),
                    resource: Resource::System(s),
                    wants: vec!["read".into(), "support".into()],
                    purpose: None,
                },
            ),
            6 => {
                let who = *rng.pick(&[oncall, sre, dba]);
                (
                    format!("incident-{}", groups[who]),
                    format!(
                        "permit (principal in {}, {}, resource in {})\nwhen {{ context.purpose like \"*INC-*\" && context.duration_seconds <= 14400 && !resource.permissions.contains(\"admin\") }};",
                        grp(who),
                        act("request"),
                        sys_ref(sys)
                    ),
                    Target {
                        principal: Principal::Group(who),
                        resource: Resource::System(s),
                        wants: Vec::new(),
                        purpose: Some("INC-4821 elevated error rate"),
                    },
                )
            }
            _ => {
                let person = rng.below(HUMANS);
                let r = *rng.pick(&sys.roles);
                (
                    format!("exception-person-{person:05}"),
                    format!(
                        "permit (principal == Warden::Identity::\"{}\", {}, resource == Warden::Role::\"{}\")\nwhen {{ context.ticket != \"\" }};",
                        identities[person].id,
                        act("request"),
                        roles[r].id
                    ),
                    Target {
                        principal: Principal::Identity(person),
                        resource: Resource::Role(r),
                        wants: Vec::new(),
                        purpose: None,
                    },
                )
            }
        };
        emit(
            &file,
            format!("@id(\"req-{n:03}-{label}\")\n{annotations}{text}"),
            &mut count,
        );
        targets.push(target);
        n += 1;
    }

    let mut files = vec![SourceFile {
        name: "catalog.toml".into(),
        text: catalog,
    }];
    files.extend(policy_files.into_iter().map(|(name, text)| SourceFile {
        name,
        text: format!("// Generated for benchmarks.\n\n{text}"),
    }));
    World {
        groups,
        systems,
        roles,
        identities,
        members,
        tasks,
        sods,
        targets,
        emergency_systems,
        files,
    }
}

/// One fixed request with the subject's active grants, and the kind of decision it gets.
pub struct Case {
    /// What kind of decision this is (`grant`, `deny:not_permitted`, …).
    pub category: &'static str,
    /// The request.
    pub request: Request,
    /// The subject's active grants.
    pub grants: Vec<ActiveGrant>,
}

/// The categories of [`Case`] and their share of the mix, in per mille.
pub const MIX: [(&str, usize); 13] = [
    ("grant", 170),
    ("approval_required", 170),
    ("approval_required+second_check", 170),
    ("right_sized", 90),
    ("break_glass", 80),
    ("duration_clamped", 60),
    ("deny:not_permitted", 100),
    ("deny:second_check_failed", 40),
    ("deny:no_covering_role", 30),
    ("deny:sod_conflict", 30),
    ("deny:third_party_expired", 20),
    ("deny:owner_missing", 20),
    ("deny:other", 20),
];

/// The category a decision falls in (the first matching entry of [`MIX`]).
pub fn category(d: &Decision) -> &'static str {
    let has = |c: ReasonCode| d.reasons.iter().any(|r| r.code == c);
    match d.outcome {
        Outcome::Deny => {
            for (code, name) in [
                (ReasonCode::NotPermitted, "deny:not_permitted"),
                (ReasonCode::SecondCheckFailed, "deny:second_check_failed"),
                (ReasonCode::NoCoveringRole, "deny:no_covering_role"),
                (ReasonCode::SodConflict, "deny:sod_conflict"),
                (ReasonCode::ThirdPartyExpired, "deny:third_party_expired"),
                (ReasonCode::OwnerMissing, "deny:owner_missing"),
            ] {
                if has(code) {
                    return name;
                }
            }
            "deny:other"
        }
        _ if d.break_glass => "break_glass",
        _ if has(ReasonCode::RightSized) => "right_sized",
        _ if has(ReasonCode::DurationClamped) => "duration_clamped",
        Outcome::Grant => "grant",
        _ if d.second_check.required => "approval_required+second_check",
        _ => "approval_required",
    }
}

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("generated ids are valid")
}

impl World {
    fn member(&self, rng: &mut Rng, group: usize) -> Option<usize> {
        let m = &self.members[group];
        (!m.is_empty()).then(|| m[rng.below(m.len())])
    }

    /// A role on system `s`, preferring one that carries a permission in `wants`.
    fn role_on(&self, rng: &mut Rng, s: usize, wants: &[String]) -> usize {
        let roles = &self.systems[s].roles;
        let fitting: Vec<usize> = roles
            .iter()
            .copied()
            .filter(|r| {
                wants.is_empty() || self.roles[*r].permissions.iter().any(|p| wants.contains(p))
            })
            .collect();
        if fitting.is_empty() {
            *rng.pick(roles)
        } else {
            *rng.pick(&fitting)
        }
    }

    /// One candidate request, drawn from `rng`.
    fn candidate(&self, rng: &mut Rng, n: usize) -> (Request, Vec<ActiveGrant>) {
        let at: Timestamp = id(AT);
        let purposes = [
            "INC-4821 elevated error rate",
            "CHG-1203 schema change",
            "quarterly revenue report",
            "release 4.2 pipeline",
            "customer ticket SUP-7781",
            "",
        ];
        let mut requester: usize;
        let mut subject: Option<usize> = None;
        let role: usize;
        let mut purpose = *rng.pick(&purposes[..5]);
        let mut emergency = false;
        let mut grants = Vec::new();
        match rng.weighted(&[60, 8, 8, 6, 4, 4, 6, 4]) {
            // Aimed at a request permit.
            0 => {
                let t = &self.targets[rng.below(self.targets.len())];
                requester = match t.principal {
                    Principal::Group(g) => self.member(rng, g).unwrap_or(0),
                    Principal::Identity(i) => i,
                };
                role = match t.resource {
                    Resource::System(s) => self.role_on(rng, s, &t.wants),
                    Resource::Role(r) => r,
                    Resource::Any => rng.below(self.roles.len()),
                };
                if let Some(p) = t.purpose {
                    purpose = p;
                }
            }
            // Break-glass by someone on call.
            1 => {
                requester = self
                    .member(rng, group_index(&self.groups, "oncall"))
                    .unwrap_or(0);
                let s = *rng.pick(&self.emergency_systems);
                role = self.role_on(rng, s, &[]);
                emergency = true;
                purpose = "INC-5001 outage";
            }
            // A service or workload, asked for by its owner or by itself.
            2 => {
                let i = HUMANS + rng.below(SERVICES + WORKLOADS);
                let owner = self.identities[i].owner.unwrap_or(0);
                requester = if rng.chance(70) { owner } else { i };
                subject = Some(i);
                let s = rng.below(SYSTEMS);
                role = self.role_on(rng, s, &[]);
            }
            // A third party, asked for by its sponsor.
            3 => {
                let i = HUMANS
                    + SERVICES
                    + WORKLOADS
                    + rng.below(IDENTITIES - HUMANS - SERVICES - WORKLOADS);
                requester = self.identities[i].owner.unwrap_or(0);
                subject = Some(i);
                let s = rng.below(SYSTEMS);
                role = self.role_on(rng, s, &["read".to_owned(), "support".to_owned()]);
            }
            // Separation of duties: holds one half, asks for the other.
            4 => {
                let (_, a, b, team) = &self.sods[rng.below(self.sods.len())];
                requester = self.member(rng, *team).unwrap_or(0);
                role = *b;
                grants.push(ActiveGrant {
                    role: id(&self.roles[*a].id),
                    expires_at: at.plus(Duration::parse("2h").expect("valid")),
                });
            }
            // A task.
            5 => {
                let (task, s, _) = &self.tasks[rng.below(self.tasks.len())];
                let owner = group_index(&self.groups, &self.systems[*s].owner);
                requester = self.member(rng, owner).unwrap_or(0);
                let request = Request {
                    source: Some("servicenow".into()),
                    ticket: Some(format!("RITM{:07}", 10_000 + n)),
                    requester: id(&self.identities[requester].id),
                    subject: None,
                    system: None,
                    role: None,
                    needs: None,
                    task: Some(id::<TaskId>(task)),
                    purpose: purpose.to_owned(),
                    duration: None,
                    emergency: false,
                    requested_at: Some(at),
                    oidc: Default::default(),
                };
                return (request, grants);
            }
            // A stranger asks for anything.
            6 => {
                requester = rng.below(HUMANS);
                role = rng.below(self.roles.len());
            }
            // Unknown roles, empty purposes, disabled people.
            _ => {
                requester = rng.below(IDENTITIES);
                role = rng.below(self.roles.len());
                match rng.below(3) {
                    0 => purpose = "",
                    1 => {
                        if let Some(d) = (0..HUMANS)
                            .map(|k| (k * 7 + n) % HUMANS)
                            .find(|k| self.identities[*k].disabled)
                        {
                            requester = d;
                        }
                    }
                    _ => {
                        let s = &self.systems[self.roles[role].system].id;
                        let request = Request {
                            source: Some("cli".into()),
                            ticket: None,
                            requester: id(&self.identities[requester].id),
                            subject: None,
                            system: Some(id::<SystemId>(s)),
                            role: Some(id(&format!("{s}.superuser"))),
                            needs: None,
                            task: None,
                            purpose: purpose.to_owned(),
                            duration: None,
                            emergency: false,
                            requested_at: Some(at),
                            oidc: Default::default(),
                        };
                        return (request, grants);
                    }
                }
            }
        }
        // Some other active grants, a few already expired.
        for _ in 0..rng.below(4) {
            let r = rng.below(self.roles.len());
            let hours = *rng.pick(&["1h", "4h", "1d"]);
            let d = Duration::parse(hours).expect("valid");
            grants.push(ActiveGrant {
                role: id(&self.roles[r].id),
                expires_at: if rng.chance(20) {
                    Timestamp::from_unix_seconds(at.unix_seconds() - 60).expect("valid")
                } else {
                    at.plus(d)
                },
            });
        }
        let rec = &self.roles[role];
        let sys = &self.systems[rec.system];
        // How the need is stated: a role, permissions, or a bigger role with a need.
        let (role_id, needs): (Option<RoleId>, Option<Vec<Permission>>) = match rng.below(10) {
            0..=3 => (Some(id(&rec.id)), None),
            4..=6 => (
                None,
                Some(vec![id(&rec.permissions[rng.below(rec.permissions.len())])]),
            ),
            _ => {
                let biggest = sys
                    .roles
                    .iter()
                    .copied()
                    .filter(|r| {
                        let p = &self.roles[*r].permissions;
                        rec.permissions.iter().all(|x| p.contains(x))
                    })
                    .max_by_key(|r| self.roles[*r].permissions.len())
                    .unwrap_or(role);
                (
                    Some(id(&self.roles[biggest].id)),
                    Some(rec.permissions.iter().map(|p| id(p)).collect()),
                )
            }
        };
        let duration = if rng.chance(50) {
            None
        } else {
            let d: &&str = rng.pick(&["30m", "1h", "2h", "4h", "8h", "1d", "3d"]);
            Some(id(d))
        };
        let request = Request {
            source: Some((*rng.pick(&["servicenow", "jira", "cli"])).to_owned()),
            ticket: rng.chance(70).then(|| format!("RITM{:07}", 10_000 + n)),
            requester: id(&self.identities[requester].id),
            subject: subject.map(|s| id::<IdentityId>(&self.identities[s].id)),
            system: rng.chance(50).then(|| id(&sys.id)),
            role: role_id,
            needs,
            task: None,
            purpose: purpose.to_owned(),
            duration,
            emergency,
            requested_at: Some(at),
            oidc: Default::default(),
        };
        (request, grants)
    }

    /// A fixed, varied set of `total` requests, in the proportions of [`MIX`] (as far as
    /// the candidates allow; any shortfall is filled from the other categories in order).
    pub fn cases(&self, bundle: &Bundle, total: usize) -> Vec<Case> {
        let at: Timestamp = id(AT);
        let mut rng = Rng::new(SEED ^ 0xCA5E);
        let mut buckets: BTreeMap<&'static str, Vec<(usize, Case)>> = BTreeMap::new();
        let mut n = 0;
        let full = |b: &BTreeMap<&'static str, Vec<(usize, Case)>>| {
            MIX.iter()
                .all(|(c, share)| b.get(c).map_or(0, Vec::len) >= total * share / 1000)
        };
        while !full(&buckets) && n < total * 40 {
            let (request, grants) = self.candidate(&mut rng, n);
            let decision = bundle.decide(&warden_policy::DecisionInput {
                request: &request,
                grants: &grants,
                open_reviews: &[],
                at,
            });
            let category = category(&decision);
            buckets.entry(category).or_default().push((
                n,
                Case {
                    category,
                    request,
                    grants,
                },
            ));
            n += 1;
        }
        let mut chosen: Vec<(usize, Case)> = Vec::with_capacity(total);
        let mut rest: Vec<(usize, Case)> = Vec::new();
        for (c, share) in MIX {
            let mut list = buckets.remove(c).unwrap_or_default();
            let want = (total * share / 1000).min(list.len());
            rest.extend(list.drain(want..));
            chosen.extend(list);
        }
        rest.sort_by_key(|(i, _)| *i);
        let missing = total.saturating_sub(chosen.len());
        chosen.extend(rest.into_iter().take(missing));
        // In generation order, so that categories interleave.
        chosen.sort_by_key(|(i, _)| *i);
        chosen.into_iter().map(|(_, c)| c).collect()
    }
}

/// The synthetic bundle's files, as [`generate`] builds them from [`SEED`].
pub fn bundle_files() -> Vec<SourceFile> {
    generate(SEED).files
}
