//! The Cedar schema, generated from the catalog so that policies are validated strictly
//! against the entity model of DESIGN §2.2.
//!
//! Groups are an enumerated entity type listing the catalog's groups, so a policy naming a
//! group that does not exist fails validation at load rather than silently never matching.

use std::fmt::Write as _;

use cedar_policy::Schema;

use crate::catalog::Catalog;
use crate::source::LoadError;

/// The actions of DESIGN §2.2.
pub const ACTIONS: [&str; 5] = ["request", "break_glass", "provision", "approve", "review"];

/// The schema in Cedar's human-readable format.
pub fn schema_text(catalog: &Catalog) -> String {
    let mut s = String::from("namespace Warden {\n");
    if catalog.groups.is_empty() {
        s.push_str("  entity Group;\n");
    } else {
        let names: Vec<String> = catalog
            .groups
            .iter()
            .map(|g| format!("\"{}\"", g.as_str()))
            .collect();
        let _ = writeln!(s, "  entity Group enum [{}];", names.join(", "));
    }
    s.push_str(
        r#"  entity System = {
    sensitivity: String,
    environment: String,
    data_classes: Set<String>,
  };
  entity Role in [System] = {
    system: String,
    sensitivity: String,
    environment: String,
    permissions: Set<String>,
    data_classes: Set<String>,
  };
  entity Identity in [Group] = {
    kind: String,
    owner?: String,
    sponsor?: String,
  };
  type RequestContext = {
    duration_seconds: Long,
    emergency: Bool,
    purpose: String,
    ticket: String,
    source: String,
    requester_is_subject: Bool,
    approvals: Long,
    oidc: OidcClaims,
  };
  type OidcClaims = {
{OIDC}  };
  action request, break_glass, provision, approve, review appliesTo {
    principal: Identity,
    resource: Role,
    context: RequestContext,
  };
}
"#,
    );
    let claims: String = warden_model::OIDC_CLAIMS
        .iter()
        .map(|c| format!("    \"{c}\": String,\n"))
        .collect();
    s.replace("{OIDC}", &claims)
}

/// Builds the schema for `catalog`.
pub fn build(catalog: &Catalog) -> Result<Schema, LoadError> {
    let text = schema_text(catalog);
    Schema::from_cedarschema_str(&text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| LoadError::file("catalog", format!("cannot build the Cedar schema: {e}")))
}
