//! Which roles on a system cover a need: the candidate filter of `decide()`, step 3, with
//! each role's permissions and kinds as bits built once at load.
//!
//! A decision used to look every role on the system up by id and compare permission sets
//! of strings (`BTreeSet::is_superset`); here a system's roles are positions in the
//! catalog's role map, and "covers" is a word-wise test of bits (1.8 % fewer instructions
//! per decision, BENCHMARKS.md, change 20).

use std::collections::BTreeSet;

use warden_model::{IdentityKind, Permission, Role, SystemId};

use crate::catalog::{ById, Catalog};

/// A set of permissions as bits, one per permission the catalog's roles name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bits(Vec<u64>);

/// Every bit of `mine` is set in `theirs` (both as long as a [`Cover`]'s sets).
fn within(mine: &[u64], theirs: &[u64]) -> bool {
    mine.iter().zip(theirs).all(|(m, t)| m & !t == 0)
}

/// The roles of each system with their permissions and kinds as bits.
#[derive(Debug, Default)]
pub(crate) struct Cover {
    /// Each permission a role names, and its bit.
    bits: ById<Permission, usize>,
    /// Words per set of bits.
    words: usize,
    /// Per system, its roles: position in the catalog's role map, kinds as a mask (bit
    /// `IdentityKind as u8`), and the offset of its permission words in `role_words`.
    by_system: ById<SystemId, Vec<Entry>>,
    role_words: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    role: usize,
    kinds: u8,
    words: usize,
}

/// The bit of `kind` in a mask of kinds.
pub(crate) fn kind_bit(kind: IdentityKind) -> u8 {
    1 << (kind as u8)
}

/// The mask of `kinds`.
pub(crate) fn kind_mask(kinds: impl IntoIterator<Item = IdentityKind>) -> u8 {
    kinds.into_iter().fold(0, |m, k| m | kind_bit(k))
}

impl Cover {
    /// Built from `catalog` as it is: its role map must not change afterwards (a bundle's
    /// never does).
    pub(crate) fn new(catalog: &Catalog) -> Self {
        let named: BTreeSet<&Permission> = catalog
            .roles
            .values()
            .flat_map(|r| &r.permissions)
            .collect();
        let bits: ById<Permission, usize> = named
            .into_iter()
            .enumerate()
            .map(|(bit, p)| (p.clone(), bit))
            .collect();
        let words = bits.len().div_ceil(64).max(1);
        let mut cover = Cover {
            bits,
            words,
            ..Cover::default()
        };
        // In the catalog's (id) order, so each system's roles stay in id order.
        for (position, role) in catalog.roles.values().enumerate() {
            let Some(set) = cover.bits_of(&role.permissions) else {
                continue; // unreachable: every role permission has a bit
            };
            let entry = Entry {
                role: position,
                kinds: kind_mask(role.kinds.iter().copied()),
                words: cover.role_words.len(),
            };
            cover.role_words.extend(set.0);
            cover
                .by_system
                .entry(role.system.clone())
                .or_default()
                .push(entry);
        }
        cover
    }

    /// `permissions` as bits; `None` when one of them is a permission no role has.
    pub(crate) fn bits_of<'p>(
        &self,
        permissions: impl IntoIterator<Item = &'p Permission>,
    ) -> Option<Bits> {
        let mut words = vec![0u64; self.words];
        for p in permissions {
            let bit = *self.bits.get(p)?;
            *words.get_mut(bit / 64)? |= 1 << (bit % 64);
        }
        Some(Bits(words))
    }

    /// The roles on `system`, in id order, that a `kind` identity may hold, whose
    /// permissions include every one of `need`, and, with `requested` given, that have no
    /// permission outside the requested role's. A need naming a permission no role has is
    /// covered by none.
    pub(crate) fn covering<'c>(
        &self,
        catalog: &'c Catalog,
        system: &SystemId,
        kind: IdentityKind,
        need: &BTreeSet<Permission>,
        requested: Option<&Role>,
    ) -> Vec<&'c Role> {
        let Some(need) = self.bits_of(need) else {
            return Vec::new();
        };
        let limit = requested.and_then(|q| self.bits_of(&q.permissions));
        let entries = self.by_system.get(system).map_or(&[][..], Vec::as_slice);
        entries
            .iter()
            .filter_map(|e| {
                let has = self.role_words.get(e.words..e.words + self.words)?;
                let fits = e.kinds & kind_bit(kind) != 0
                    && within(&need.0, has)
                    && limit.as_ref().is_none_or(|l| within(has, &l.0));
                if !fits {
                    return None;
                }
                catalog.roles.get_index(e.role).map(|(_, r)| r)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use warden_model::RoleId;

    use super::*;
    use crate::catalog;
    use crate::source::{SourceFile, read_file};

    /// The example catalog, and a system of 70 permissions (two words of bits) whose 70
    /// roles each hold four neighbouring ones, for alternating kinds.
    fn catalog() -> Catalog {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
        let base = read_file(&dir, &dir.join("catalog.toml")).expect("the example catalog");
        let mut wide = String::from(
            "[[system]]\nid = \"wide\"\nsensitivity = \"low\"\nenvironment = \"prod\"\n\
             owner = \"security\"\nconnector = \"pg-payments\"\n",
        );
        let kinds = ["human", "service", "workload", "third_party"];
        for i in 0..70 {
            let perms: Vec<String> = (0..4)
                .map(|k| format!("\"p{:02}\"", (i + k) % 70))
                .collect();
            wide.push_str(&format!(
                "\n[[role]]\nid = \"wide.r{i:02}\"\nsystem = \"wide\"\npermissions = [{}]\n\
                 kinds = [\"{}\", \"{}\"]\nmax_duration = \"1h\"\ndefault_duration = \"1h\"\n",
                perms.join(", "),
                kinds[i % 4],
                kinds[(i + 1) % 4],
            ));
        }
        let files = [
            base,
            SourceFile {
                name: "catalog/wide.toml".into(),
                text: wide,
            },
        ];
        catalog::load(&files).expect("the catalog loads")
    }

    /// The filter `covering` replaced: ids looked up, permission sets compared.
    fn reference<'c>(
        catalog: &'c Catalog,
        system: &SystemId,
        kind: IdentityKind,
        need: &BTreeSet<Permission>,
        limit: Option<&Role>,
    ) -> Vec<&'c RoleId> {
        catalog
            .roles_of(system)
            .iter()
            .filter_map(|id| catalog.roles.get(id))
            .filter(|r| r.kinds.contains(&kind) && r.permissions.is_superset(need))
            .filter(|r| limit.is_none_or(|q| r.permissions.is_subset(&q.permissions)))
            .map(|r| &r.id)
            .collect()
    }

    fn perm(name: &str) -> Permission {
        Permission::parse(name).expect("a permission")
    }

    #[test]
    fn covering_picks_the_roles_the_set_comparison_picks() {
        let catalog = catalog();
        let cover = Cover::new(&catalog);
        assert!(cover.words >= 2, "the wide system needs a second word");
        let mut compared = 0;
        for system in catalog.systems.keys() {
            let roles: Vec<&Role> = catalog
                .roles_of(system)
                .iter()
                .filter_map(|id| catalog.roles.get(id))
                .collect();
            let named: BTreeSet<Permission> =
                roles.iter().flat_map(|r| r.permissions.clone()).collect();
            let named: Vec<Permission> = named.into_iter().collect();
            // Every need of one of the system's permissions and of two near in order, and
            // ones naming a permission of no role, or of another system's roles only.
            let mut needs: Vec<BTreeSet<Permission>> = vec![BTreeSet::new()];
            for (i, a) in named.iter().enumerate() {
                needs.push(BTreeSet::from([a.clone()]));
                for b in named.iter().skip(i + 1).take(4) {
                    needs.push(BTreeSet::from([a.clone(), b.clone()]));
                }
                needs.push(BTreeSet::from([a.clone(), perm("nowhere")]));
            }
            needs.push(BTreeSet::from([perm("p69")]));
            needs.push(BTreeSet::from([perm("read"), perm("p00")]));
            let limits = std::iter::once(None).chain(roles.iter().map(|r| Some(*r)));
            for limit in limits {
                for need in &needs {
                    for kind in IdentityKind::ALL {
                        let want = reference(&catalog, system, kind, need, limit);
                        let got: Vec<&RoleId> = cover
                            .covering(&catalog, system, kind, need, limit)
                            .into_iter()
                            .map(|r| &r.id)
                            .collect();
                        assert_eq!(got, want, "{system}, {kind:?}, need {need:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} cases compared");
    }

    #[test]
    fn a_permission_no_role_has_has_no_bit() {
        let catalog = catalog();
        let cover = Cover::new(&catalog);
        assert!(cover.bits_of([&perm("read")]).is_some());
        assert_eq!(cover.bits_of([&perm("nowhere")]), None);
        assert_eq!(
            cover.bits_of(std::iter::empty()),
            Some(Bits(vec![0; cover.words]))
        );
    }
}
