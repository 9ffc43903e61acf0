//! A bundle: catalog, policies and policy tests, loaded, validated, indexed and hashed.

use std::path::Path;

use cedar_policy::Schema;
use serde::Serialize;
use warden_model::{PolicyId, canonical};

use crate::authorization::{Action, Answer, AuthContext, Authorization, Evaluation};
use crate::catalog::{self, Catalog};
use crate::cover::Cover;
use crate::policy_file::{self, LoadedPolicy};
use crate::schema;
use crate::source::{LoadError, LoadErrors, SourceFile, read_dir_files, read_file};

/// What a permit's annotations say, by policy id.
#[derive(Clone, Debug)]
pub struct PolicyInfo {
    /// `@max_duration`, if set.
    pub max_duration: Option<warden_model::Duration>,
    /// `@approvals`, if set.
    pub approvals: Option<u32>,
    /// Where the policy is, as `file:line`.
    pub location: String,
}

/// A loaded bundle, ready to decide.
pub struct Bundle {
    /// The validated catalog.
    pub catalog: Catalog,
    pub(crate) authorization: Authorization,
    /// The catalog's roles by system with their permissions as bits, for the candidates.
    pub(crate) cover: Cover,
    pub(crate) policies: std::collections::HashMap<PolicyId, PolicyInfo, crate::catalog::Hasher>,
    schema_text: String,
    files: Vec<SourceFile>,
    hash: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("hash", &self.hash)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

/// Classifies a bundle file by its relative name.
fn kind_of(name: &str) -> Option<&'static str> {
    let in_dir = |dir: &str, ext: &str| {
        name.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.contains('/') && rest.ends_with(ext))
    };
    if name == "catalog.toml" || in_dir("catalog", ".toml") {
        Some("catalog")
    } else if in_dir("policies", ".cedar") {
        Some("policies")
    } else if in_dir("tests", ".toml") {
        Some("tests")
    } else {
        None
    }
}

impl Bundle {
    /// Reads and loads the bundle in `dir`.
    pub fn load(dir: &Path) -> Result<Self, LoadErrors> {
        let root = dir.display().to_string();
        if !dir.is_dir() {
            return Err(LoadError::file(root, "is not a bundle directory").into());
        }
        let mut files = Vec::new();
        let catalog_file = dir.join("catalog.toml");
        if catalog_file.is_file() {
            files.push(read_file(dir, &catalog_file)?);
        }
        for (sub, ext) in [
            ("catalog", "toml"),
            ("policies", "cedar"),
            ("tests", "toml"),
        ] {
            let path = dir.join(sub);
            if path.is_dir() {
                files.extend(read_dir_files(dir, &path, ext)?);
            }
        }
        Self::from_files(files)
    }

    /// Loads a bundle from its files (as stored, or as read from disk).
    pub fn from_files(mut files: Vec<SourceFile>) -> Result<Self, LoadErrors> {
        files.sort_by(|a, b| a.name.cmp(&b.name));
        for f in &files {
            if kind_of(&f.name).is_none() {
                return Err(LoadError::file(
                    &f.name,
                    "is not a bundle file (catalog.toml, catalog/*.toml, policies/*.cedar, tests/*.toml)",
                )
                .into());
            }
        }
        let of_kind = |k: &str| -> Vec<SourceFile> {
            files
                .iter()
                .filter(|f| kind_of(&f.name) == Some(k))
                .cloned()
                .collect()
        };
        let catalog_files = of_kind("catalog");
        if catalog_files.is_empty() {
            return Err(LoadError::file(
                "catalog.toml",
                "the bundle has no catalog (catalog.toml or catalog/*.toml)",
            )
            .into());
        }
        let policy_files = of_kind("policies");
        // Two threads, as most servers have at least two cores: the catalog (TOML) and the
        // policies (Cedar's parser) are read at the same time, then the policies are
        // validated while the entity store and the slices are built. Errors are reported
        // exactly as one thread would: catalog errors first, then parse errors, then
        // validation errors.
        let (catalog, parsed) = std::thread::scope(|s| {
            let parsing = s.spawn(|| policy_file::parse(&policy_files));
            let catalog = catalog::load(&catalog_files);
            let parsed = parsing
                .join()
                .unwrap_or_else(|_| Err(vec![stopped("policies")]));
            (catalog, parsed)
        });
        let catalog = catalog?;
        let loaded: Vec<LoadedPolicy> = parsed.map_err(LoadErrors)?;
        let schema: Schema = schema::build(&catalog)?;
        let (errors, authorization) = std::thread::scope(|s| {
            let validating =
                s.spawn(|| policy_file::validate(&loaded, &schema, &catalog, &policy_files));
            let authorization = Authorization::new(&catalog, &schema, &loaded);
            let errors = validating
                .join()
                .unwrap_or_else(|_| vec![stopped("policies")]);
            (errors, authorization)
        });
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        let authorization = authorization?;
        let policies = loaded
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    PolicyInfo {
                        max_duration: p.max_duration,
                        approvals: p.approvals,
                        location: format!("{}:{}", p.file, p.line),
                    },
                )
            })
            .collect();
        let hash = bundle_hash(&files);
        let schema_text = schema::schema_text(&catalog);
        let cover = Cover::new(&catalog);
        Ok(Self {
            catalog,
            authorization,
            cover,
            policies,
            schema_text,
            files,
            hash,
        })
    }

    /// `sha256:…` over the canonical encoding of every file's name and text.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The bundle's files, sorted by name (what a store keeps to replay decisions).
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The policy test files.
    pub fn test_files(&self) -> Vec<&SourceFile> {
        self.files
            .iter()
            .filter(|f| kind_of(&f.name) == Some("tests"))
            .collect()
    }

    /// Asks Cedar one question directly: may `identity` take `action` on `role`?
    pub fn authorize(
        &self,
        identity: &warden_model::IdentityId,
        action: Action,
        role: &warden_model::RoleId,
        context: &AuthContext<'_>,
        evaluation: Evaluation,
    ) -> Answer {
        self.authorization
            .ask(identity, action, role, context, evaluation)
    }

    /// The ids of every policy, sorted.
    pub fn policy_ids(&self) -> Vec<&PolicyId> {
        let mut ids: Vec<&PolicyId> = self.policies.keys().collect();
        ids.sort();
        ids
    }

    /// The generated Cedar schema, for policy authors and their tools.
    pub fn schema_text(&self) -> &str {
        &self.schema_text
    }
}

#[derive(Serialize)]
struct HashedFile<'a> {
    name: &'a str,
    text: &'a str,
}

/// The error of a loading thread that panicked: the load fails instead of the process.
fn stopped(what: &str) -> LoadError {
    LoadError::file(what, "loading stopped unexpectedly")
}

fn bundle_hash(files: &[SourceFile]) -> String {
    let list: Vec<HashedFile<'_>> = files
        .iter()
        .map(|f| HashedFile {
            name: &f.name,
            text: &f.text,
        })
        .collect();
    // Strings always serialise; the fallback only guards the type signature.
    canonical::hash_of(&list).unwrap_or_else(|_| canonical::sha256_tagged(b""))
}
