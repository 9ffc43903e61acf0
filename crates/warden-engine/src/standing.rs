//! Whether an identity may act now, judged by the active bundle's catalog: it exists, it
//! is active, and — for a service or workload — its owner may act too. Every token use,
//! approval, grant activation and credential fetch asks this of the *current* catalog, so
//! a bundle that disables someone stops them everywhere at once.

use warden_model::{IdentityId, IdentityKind};
use warden_policy::Catalog;

/// Why an identity may not act.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Barred {
    /// The catalog does not name it.
    Unknown,
    /// The catalog names it with `status = "disabled"`.
    Disabled,
    /// A service or workload whose owner is missing, disabled or barred in turn.
    OwnerMissing,
}

impl Barred {
    /// The reason word used in audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Barred::Unknown => "unknown_identity",
            Barred::Disabled => "identity_disabled",
            Barred::OwnerMissing => "owner_missing",
        }
    }

    /// A sentence about `who`, for error messages.
    pub fn describe(self, who: &IdentityId) -> String {
        match self {
            Barred::Unknown => format!("`{who}` is not an identity in the active catalog"),
            Barred::Disabled => format!("`{who}` is disabled in the active catalog"),
            Barred::OwnerMissing => {
                format!("the owner of `{who}` is missing or disabled in the active catalog")
            }
        }
    }
}

/// Whether `who` may act under `catalog`.
pub fn standing(catalog: &Catalog, who: &IdentityId) -> Result<(), Barred> {
    let identity = catalog.identities.get(who).ok_or(Barred::Unknown)?;
    if !identity.is_active() {
        return Err(Barred::Disabled);
    }
    if matches!(
        identity.kind,
        IdentityKind::Service | IdentityKind::Workload
    ) {
        // Owners are humans (the catalog refuses anything else), so one step is enough.
        let owner_ok = identity
            .owner
            .as_ref()
            .and_then(|o| catalog.identities.get(o))
            .is_some_and(|o| o.is_active());
        if !owner_ok {
            return Err(Barred::OwnerMissing);
        }
    }
    Ok(())
}

/// The services and workloads of `catalog` whose owner may not act, in id order.
pub fn orphaned_nhis(catalog: &Catalog) -> impl Iterator<Item = &IdentityId> {
    catalog
        .identities
        .iter()
        .filter(|(id, i)| i.is_active() && standing(catalog, id) == Err(Barred::OwnerMissing))
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(extra: &str) -> Catalog {
        let text = format!(
            r#"
[[group]]
id = "eng"

[[identity]]
id = "alice"
kind = "human"

[[identity]]
id = "dave"
kind = "human"
status = "disabled"

[[identity]]
id = "svc-a"
kind = "service"
owner = "alice"

[[identity]]
id = "svc-d"
kind = "service"
owner = "dave"
{extra}
"#
        );
        warden_policy::catalog::load(&[warden_policy::SourceFile {
            name: "catalog.toml".into(),
            text,
        }])
        .unwrap()
    }

    fn id(s: &str) -> IdentityId {
        s.parse().unwrap()
    }

    #[test]
    fn standing_follows_status_and_owner() {
        let c = catalog("");
        assert_eq!(standing(&c, &id("alice")), Ok(()));
        assert_eq!(standing(&c, &id("svc-a")), Ok(()));
        assert_eq!(standing(&c, &id("dave")), Err(Barred::Disabled));
        assert_eq!(standing(&c, &id("svc-d")), Err(Barred::OwnerMissing));
        assert_eq!(standing(&c, &id("nobody")), Err(Barred::Unknown));
        assert_eq!(orphaned_nhis(&c).collect::<Vec<_>>(), vec![&id("svc-d")]);
    }
}
