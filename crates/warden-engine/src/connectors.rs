//! The connector instances this server provisions through, by name, and the check that
//! the bundle's roles speak each one's language.

use std::collections::HashMap;
use std::sync::Arc;

use warden_connect::{Connector, Prefix};
use warden_policy::Bundle;

/// One configured connector instance.
#[derive(Clone)]
pub struct ConnectorInstance {
    /// The connector.
    pub connector: Arc<dyn Connector>,
    /// The prefix of the accounts it creates.
    pub prefix: Prefix,
}

/// Connector instances by name (`[[connector]] name`, as systems name them).
#[derive(Clone, Default)]
pub struct Connectors(Arc<HashMap<String, ConnectorInstance>>);

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Connectors {
    /// The instances in `by_name`.
    pub fn new(by_name: HashMap<String, ConnectorInstance>) -> Self {
        Self(Arc::new(by_name))
    }

    /// The instance named `name`.
    pub fn get(&self, name: &str) -> Option<&ConnectorInstance> {
        self.0.get(name)
    }

    /// The instances' names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Checks `bundle` against these instances: every role on a system whose connector
    /// is configured must have `grants` entries that connector accepts (errors, each
    /// naming the role). Systems naming a connector that is not configured are returned:
    /// their grants cannot be provisioned and will fail.
    pub fn check_bundle(&self, bundle: &Bundle) -> Result<Vec<String>, Vec<String>> {
        let catalog = &bundle.catalog;
        let mut errors = Vec::new();
        let mut unconfigured = Vec::new();
        for system in catalog.systems.values() {
            let Some(name) = &system.connector else {
                continue;
            };
            let Some(target) = self.get(name) else {
                unconfigured.push(format!(
                    "system `{}` names connector `{name}`, which is not configured",
                    system.id
                ));
                continue;
            };
            for role in catalog.roles.values().filter(|r| r.system == system.id) {
                if let Err(e) = target.connector.check_grants(&role.grants) {
                    errors.push(format!("role `{}`: {e}", role.id));
                }
            }
        }
        errors.sort();
        unconfigured.sort();
        if errors.is_empty() {
            Ok(unconfigured)
        } else {
            Err(errors)
        }
    }
}
