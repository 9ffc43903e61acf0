//! Cedar policy files: split into statements (so every error has a line), parsed, their
//! annotations checked, and the whole set validated strictly against the generated schema.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{Effect, Policy, PolicyId as CedarPolicyId, Schema, ValidationMode, Validator};
use miette::Diagnostic;
use warden_model::{Duration, PolicyId};

use crate::catalog::{Catalog, MAX_APPROVALS};
use crate::source::{LoadError, SourceFile};

/// Annotations a policy may carry; any other is a load error (a typo would otherwise be
/// silently ignored).
pub const ANNOTATIONS: [&str; 4] = ["id", "max_duration", "approvals", "description"];

/// One loaded policy and what its annotations say.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The policy, its Cedar id set to its `@id`.
    pub policy: Policy,
    /// Its `@id`.
    pub id: PolicyId,
    /// Permit or forbid.
    pub effect: Effect,
    /// `@max_duration`, if set.
    pub max_duration: Option<Duration>,
    /// `@approvals`, if set.
    pub approvals: Option<u32>,
    /// Where it is.
    pub file: String,
    /// The line it starts on.
    pub line: usize,
}

/// A statement's text and where it starts in its file.
struct Statement<'a> {
    start: usize,
    text: &'a str,
}

/// Splits Cedar source at top-level `;`, skipping strings and `//` comments. The text after
/// the last `;`, if any non-comment text remains, is returned as one more statement so the
/// parser reports it.
fn statements(text: &str) -> Vec<Statement<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                start.get_or_insert(i);
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += 1;
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        _ => {}
                    }
                }
                continue;
            }
            b';' => {
                let s = start.take().unwrap_or(i);
                if let Some(t) = text.get(s..=i) {
                    out.push(Statement { start: s, text: t });
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                start.get_or_insert(i);
            }
        }
        i += 1;
    }
    if let Some(s) = start
        && let Some(t) = text.get(s..)
    {
        out.push(Statement { start: s, text: t });
    }
    out
}

/// The first labelled offset of a diagnostic and its full message.
fn describe(d: &dyn Diagnostic) -> (Option<usize>, String) {
    let offset = d
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let mut message = d.to_string();
    if let Some(help) = d.help() {
        message.push_str(&format!(" (help: {help})"));
    }
    (offset, message)
}

/// Parses the policy files and checks annotations; validation comes later, in [`validate`].
pub fn parse(files: &[SourceFile]) -> Result<Vec<LoadedPolicy>, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    let mut seen: BTreeMap<PolicyId, String> = BTreeMap::new();
    for file in files {
        for st in statements(&file.text) {
            let line = file.line_of(st.start);
            let policy = match Policy::parse(None, st.text) {
                Ok(p) => p,
                Err(e) => {
                    for d in e.iter() {
                        let (offset, message) = describe(d);
                        errors.push(file.error_at(st.start + offset.unwrap_or(0), message));
                    }
                    continue;
                }
            };
            let at = |message: String| LoadError {
                file: file.name.clone(),
                line: Some(line),
                message,
            };
            match check_annotations(&policy) {
                Ok((id, max_duration, approvals)) => {
                    if let Some(other) = seen.get(&id) {
                        errors.push(at(format!("duplicate policy id `{id}` (first at {other})")));
                        continue;
                    }
                    seen.insert(id.clone(), format!("{}:{line}", file.name));
                    loaded.push(LoadedPolicy {
                        policy: policy.new_id(CedarPolicyId::new(id.as_str())),
                        effect: policy.effect(),
                        id,
                        max_duration,
                        approvals,
                        file: file.name.clone(),
                        line,
                    });
                }
                Err(message) => errors.push(at(message)),
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

type Annotations = (PolicyId, Option<Duration>, Option<u32>);

fn check_annotations(policy: &Policy) -> Result<Annotations, String> {
    for (key, _) in policy.annotations() {
        if !ANNOTATIONS.contains(&key) {
            return Err(format!(
                "unknown annotation `@{key}`; Warden reads {}",
                ANNOTATIONS.map(|a| format!("`@{a}`")).join(", ")
            ));
        }
    }
    let id = policy
        .annotation("id")
        .ok_or("every policy needs an `@id(\"…\")` annotation")?;
    let id = PolicyId::parse(id).map_err(|e| format!("`@id`: {e}"))?;
    let max_duration = policy
        .annotation("max_duration")
        .map(|v| Duration::parse(v).map_err(|e| format!("policy `{id}`: `@max_duration`: {e}")))
        .transpose()?;
    let approvals = policy
        .annotation("approvals")
        .map(|v| match v.parse::<u32>() {
            Ok(n) if n <= MAX_APPROVALS => Ok(n),
            _ => Err(format!(
                "policy `{id}`: `@approvals`: `{v}` is not a whole number from 0 to {MAX_APPROVALS}"
            )),
        })
        .transpose()?;
    if policy.effect() == Effect::Forbid && (max_duration.is_some() || approvals.is_some()) {
        return Err(format!(
            "policy `{id}`: `@max_duration` and `@approvals` only shape permits; a forbid cannot carry them"
        ));
    }
    Ok((id, max_duration, approvals))
}

/// Validates the policies strictly against the schema and checks that every entity they
/// name exists in the catalog.
pub fn validate(
    policies: &[LoadedPolicy],
    schema: &Schema,
    catalog: &Catalog,
    files: &[SourceFile],
) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let by_id: BTreeMap<&str, &LoadedPolicy> =
        policies.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut set = cedar_policy::PolicySet::new();
    for p in policies {
        if let Err(e) = set.add(p.policy.clone()) {
            errors.push(LoadError {
                file: p.file.clone(),
                line: Some(p.line),
                message: e.to_string(),
            });
        }
    }
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    let problems = result
        .validation_errors()
        .map(|e| (e.policy_id().to_string(), describe(e)))
        .chain(
            result
                .validation_warnings()
                .map(|w| (w.policy_id().to_string(), describe(w))),
        );
    for (pid, (offset, message)) in problems {
        let Some(p) = by_id.get(pid.as_str()) else {
            continue;
        };
        let line = match (offset, files.iter().find(|f| f.name == p.file)) {
            (Some(off), Some(f)) => {
                let st_offset = statement_offset(f, p.line);
                f.line_of(st_offset + off)
            }
            _ => p.line,
        };
        errors.push(LoadError {
            file: p.file.clone(),
            line: Some(line),
            message,
        });
    }
    for p in policies {
        let mut unknown = BTreeSet::new();
        for uid in p.policy.entity_literals() {
            if let Some(kind) = unknown_entity(&uid, catalog) {
                unknown.insert((kind, uid.id().unescaped().to_owned()));
            }
        }
        for (kind, id) in unknown {
            errors.push(LoadError {
                file: p.file.clone(),
                line: Some(p.line),
                message: format!(
                    "policy `{}` names {kind} `{id}`, which the catalog does not define",
                    p.id
                ),
            });
        }
    }
    errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    errors.dedup();
    errors
}

/// The byte offset where the statement starting on `line` begins.
fn statement_offset(file: &SourceFile, line: usize) -> usize {
    statements(&file.text)
        .into_iter()
        .find(|s| file.line_of(s.start) == line)
        .map_or(0, |s| s.start)
}

/// The kind of `uid` if it is a Warden entity the catalog does not define.
///
/// Cedar's entity literals cover the scope and the conditions alike (the scope is part of
/// the policy's condition), so this finds what a walk of the policy's JSON form would,
/// without printing and re-parsing the policy.
fn unknown_entity(uid: &cedar_policy::EntityUid, catalog: &Catalog) -> Option<&'static str> {
    let id = uid.id().unescaped();
    let (kind, known) = match uid.type_name().to_string().as_str() {
        "Warden::Identity" => (
            "identity",
            warden_model::IdentityId::parse(id).is_ok_and(|i| catalog.identities.contains_key(&i)),
        ),
        "Warden::Role" => (
            "role",
            warden_model::RoleId::parse(id).is_ok_and(|i| catalog.roles.contains_key(&i)),
        ),
        "Warden::System" => (
            "system",
            warden_model::SystemId::parse(id).is_ok_and(|i| catalog.systems.contains_key(&i)),
        ),
        "Warden::Group" => (
            "group",
            warden_model::GroupId::parse(id).is_ok_and(|i| catalog.groups.contains(&i)),
        ),
        _ => return None,
    };
    (!known).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_skip_strings_and_comments() {
        let text = "// a; comment\n@id(\"a;b\")\npermit(principal, action, resource);\n\n  forbid(principal, action, resource) when { context.purpose == \"x\\\";y\" };\n// trailing\n";
        let st = statements(text);
        assert_eq!(st.len(), 2);
        assert!(st[0].text.starts_with("@id(\"a;b\")"));
        assert!(st[1].text.starts_with("forbid"));
        assert!(st[1].text.ends_with("};"));
    }

    /// Every `{ "type": …, "id": … }` object in a policy's JSON form: how unknown entities
    /// were found before [`unknown_entity`] read Cedar's entity literals.
    fn json_entities(v: &serde_json::Value, out: &mut BTreeSet<(String, String)>) {
        match v {
            serde_json::Value::Object(map) => {
                if let (Some(serde_json::Value::String(ty)), Some(serde_json::Value::String(id))) =
                    (map.get("type"), map.get("id"))
                {
                    out.insert((ty.clone(), id.clone()));
                }
                map.values().for_each(|inner| json_entities(inner, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| json_entities(i, out)),
            _ => {}
        }
    }

    #[test]
    fn entity_literals_are_the_entities_of_the_json_form() {
        let policies = [
            r#"@id("a") permit(principal in Warden::Group::"g", action == Warden::Action::"request", resource in Warden::System::"s");"#,
            r#"@id("b") forbid(principal == Warden::Identity::"x\"y", action in [Warden::Action::"request", Warden::Action::"approve"], resource == Warden::Role::"r.1") when { context.purpose like "*" };"#,
            r#"@id("c") permit(principal is Warden::Identity in Warden::Group::"h", action, resource is Warden::Role in Warden::System::"t") when { principal in [Warden::Group::"i", Warden::Group::"j"] && resource != Warden::Role::"q" } unless { principal == Warden::Identity::"z" || { id: "n", type: "Warden::Role" }.id == "n" };"#,
            r#"@id("d") permit(principal, action, resource) when { if context.emergency then principal in Warden::Group::"k" else resource in Warden::System::"u" };"#,
        ];
        for text in policies {
            let policy = Policy::parse(None, text).unwrap();
            let mut from_json = BTreeSet::new();
            json_entities(&policy.to_json().unwrap(), &mut from_json);
            let literals: BTreeSet<(String, String)> = policy
                .entity_literals()
                .iter()
                .map(|u| (u.type_name().to_string(), u.id().unescaped().to_owned()))
                .collect();
            assert_eq!(literals, from_json, "{text}");
        }
    }

    #[test]
    fn unterminated_statement_is_kept_for_the_parser() {
        let st = statements("permit(principal, action, resource)");
        assert_eq!(st.len(), 1);
    }
}
