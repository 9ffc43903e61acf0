//! Properties of `decide()` over generated requests against the example bundle: it is
//! deterministic, never grants past any cap, never lets the requester or subject approve,
//! and the scope index changes nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use warden_model::{
    ActiveGrant, Duration, IdentityId, Outcome, Permission, Request, RoleId, SystemId, TaskId,
    Timestamp,
};
use warden_policy::{Bundle, DecisionInput, Evaluation};

fn bundle() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
        Bundle::load(&dir).unwrap()
    })
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn identity() -> impl Strategy<Value = IdentityId> {
    let mut ids: Vec<IdentityId> = bundle().catalog.identities.keys().cloned().collect();
    ids.push(IdentityId::parse("mallory").unwrap());
    pick(ids)
}

fn role() -> impl Strategy<Value = RoleId> {
    let mut ids: Vec<RoleId> = bundle().catalog.roles.keys().cloned().collect();
    ids.push(RoleId::parse("payments-db.superuser").unwrap());
    pick(ids)
}

fn system() -> impl Strategy<Value = SystemId> {
    let mut ids: Vec<SystemId> = bundle().catalog.systems.keys().cloned().collect();
    ids.push(SystemId::parse("mainframe").unwrap());
    pick(ids)
}

fn task() -> impl Strategy<Value = TaskId> {
    let mut ids: Vec<TaskId> = bundle().catalog.tasks.keys().cloned().collect();
    ids.push(TaskId::parse("rebuild-everything").unwrap());
    pick(ids)
}

fn needs() -> impl Strategy<Value = Vec<Permission>> {
    let words = [
        "read",
        "write",
        "admin",
        "explain",
        "consume",
        "publish",
        "configure",
        "approve_refunds",
        "delete",
    ];
    proptest::sample::subsequence(words.to_vec(), 1..3)
        .prop_map(|w| w.iter().map(|p| Permission::parse(p).unwrap()).collect())
}

/// Instants around the example's vendor access ends and today.
fn instant() -> impl Strategy<Value = Timestamp> {
    let base = Timestamp::parse("2026-06-01T00:00:00Z")
        .unwrap()
        .unix_seconds();
    (0i64..400 * 86_400).prop_map(move |s| Timestamp::from_unix_seconds(base + s).unwrap())
}

fn request() -> impl Strategy<Value = Request> {
    (
        // On-call SRE often, so the break-glass path is exercised.
        prop_oneof![3 => identity(), 1 => Just(IdentityId::parse("dave").unwrap())],
        proptest::option::weighted(0.3, identity()),
        proptest::option::of(system()),
        proptest::option::of(role()),
        proptest::option::of(needs()),
        proptest::option::of(task()),
        proptest::option::of(1u64..40 * 86_400),
        any::<bool>(),
        pick(vec!["INC-1 outage", "schema migration 7", "", "x"]),
    )
        .prop_map(
            |(requester, subject, system, role, needs, task, secs, emergency, purpose)| {
                let mut r = Request {
                    source: Some("prop".into()),
                    ticket: Some("T-1".into()),
                    requester,
                    subject,
                    system,
                    role,
                    needs,
                    task,
                    purpose: if purpose.is_empty() {
                        "p".into()
                    } else {
                        purpose.into()
                    },
                    duration: secs.and_then(Duration::from_seconds),
                    emergency,
                    requested_at: None,
                    oidc: Default::default(),
                };
                if r.role.is_none() && r.needs.is_none() && r.task.is_none() {
                    r.role = Some(RoleId::parse("payments-db.read").unwrap());
                }
                if r.system.is_none() && r.role.is_none() && r.task.is_none() {
                    r.system = Some(SystemId::parse("payments-db").unwrap());
                }
                r
            },
        )
        .prop_filter("must be a valid request", |r| r.validate().is_ok())
}

fn grants(at: Timestamp) -> impl Strategy<Value = Vec<ActiveGrant>> {
    proptest::collection::vec((role(), -86_400i64..86_400), 0..3).prop_map(move |gs| {
        gs.into_iter()
            .map(|(role, offset)| ActiveGrant {
                role,
                expires_at: Timestamp::from_unix_seconds(at.unix_seconds() + offset).unwrap(),
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = (Request, Vec<ActiveGrant>, Timestamp)> {
    (request(), instant()).prop_flat_map(|(r, at)| (Just(r), grants(at), Just(at)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn same_input_gives_a_byte_identical_decision((req, grants, at) in case()) {
        let input = DecisionInput { request: &req, grants: &grants, open_reviews: &[], at };
        let a = serde_json::to_string(&bundle().decide(&input)).unwrap();
        let b = serde_json::to_string(&bundle().decide(&input)).unwrap();
        prop_assert_eq!(&a, &b);
        // The grants' order is not part of the input's meaning.
        let mut reversed = grants.clone();
        reversed.reverse();
        let c = serde_json::to_string(&bundle().decide(&DecisionInput { grants: &reversed, ..input })).unwrap();
        prop_assert_eq!(&a, &c);
    }

    #[test]
    fn the_scope_index_decides_exactly_as_the_full_set((req, grants, at) in case()) {
        let input = DecisionInput { request: &req, grants: &grants, open_reviews: &[], at };
        prop_assert_eq!(
            bundle().decide_with(&input, Evaluation::Indexed),
            bundle().decide_with(&input, Evaluation::Full)
        );
    }

    #[test]
    fn granted_duration_never_exceeds_any_cap((req, grants, at) in case()) {
        let b = bundle();
        let d = b.decide(&DecisionInput { request: &req, grants: &grants, open_reviews: &[], at });
        if d.outcome == Outcome::Deny {
            prop_assert!(d.duration_seconds.is_none());
            return Ok(());
        }
        let secs = d.duration_seconds.unwrap();
        prop_assert!(secs > 0);
        let role = &b.catalog.roles[d.role.as_ref().unwrap()];
        prop_assert!(secs <= role.max_duration.seconds());
        if let Some(asked) = req.duration {
            prop_assert!(secs <= asked.seconds());
        }
        if let Some(m) = req.task.as_ref().and_then(|t| b.catalog.tasks.get(t)).and_then(|t| t.max_duration) {
            prop_assert!(secs <= m.seconds());
        }
        if d.break_glass {
            prop_assert!(secs <= b.catalog.break_glass.unwrap().max_duration.seconds());
        }
        let subject = &b.catalog.identities[req.subject()];
        if let Some(ends) = subject.access_ends {
            prop_assert!(at.unix_seconds() + i64::try_from(secs).unwrap() <= ends.unix_seconds());
        }
    }

    #[test]
    fn requester_and_subject_are_never_eligible_approvers((req, grants, at) in case()) {
        let d = bundle().decide(&DecisionInput { request: &req, grants: &grants, open_reviews: &[], at });
        for step in &d.approvals {
            prop_assert!(step.count > 0);
            prop_assert!(step.excluded.contains(&req.requester));
            prop_assert!(step.excluded.contains(req.subject()));
            prop_assert!(!step.from_identities.contains(&req.requester));
            prop_assert!(!step.from_identities.contains(req.subject()));
        }
        prop_assert_eq!(d.outcome == Outcome::ApprovalRequired, !d.approvals.is_empty());
    }
}

/// Guards the properties above against vacuity: the generator must reach every outcome,
/// break-glass and clamping often enough for them to be exercised.
#[test]
fn generated_requests_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let (mut grant, mut approval, mut deny, mut glass, mut clamped) = (0, 0, 0, 0, 0);
    let n = 2_000;
    for _ in 0..n {
        let (req, grants, at) = strategy.new_tree(&mut runner).unwrap().current();
        let d = bundle().decide(&DecisionInput {
            request: &req,
            grants: &grants,
            open_reviews: &[],
            at,
        });
        match d.outcome {
            Outcome::Grant => grant += 1,
            Outcome::ApprovalRequired => approval += 1,
            Outcome::Deny => deny += 1,
        }
        glass += usize::from(d.break_glass);
        clamped += usize::from(
            d.has_reason(warden_model::ReasonCode::DurationClamped) && d.outcome != Outcome::Deny,
        );
    }
    for (what, count) in [
        ("grant", grant),
        ("approval_required", approval),
        ("deny", deny),
        ("break_glass", glass),
        ("clamped", clamped),
    ] {
        assert!(
            count >= 20,
            "only {count} of {n} generated requests gave {what}"
        );
    }
}
