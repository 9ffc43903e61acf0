//! The ITSM adapters behind `warden_itsm::Adapter`: Request Tracker 5 (REST2), ServiceNow
//! (Table API), Jira Service Management and a generic adapter whose webhook body is already a
//! request. They speak HTTP to the ITSM through one shared client (`reqwest`); the engine
//! never sees them, only the trait. The binary builds one per `[[itsm]]` block with [`build`].

pub mod generic;
mod http;
pub mod jira;
pub mod rt;
pub mod servicenow;

use warden_itsm::{Adapter, ItsmConfig, ItsmConfigError, ItsmKind};

/// Builds the adapter for one `[[itsm]]` block (secrets already loaded).
pub fn build(config: &ItsmConfig) -> Result<Box<dyn Adapter>, ItsmConfigError> {
    config.validate()?;
    Ok(match config.kind {
        ItsmKind::Rt => Box::new(rt::Rt::new(config)?),
        ItsmKind::Servicenow => Box::new(servicenow::ServiceNow::new(config)?),
        ItsmKind::Jira => Box::new(jira::Jira::new(config)?),
        ItsmKind::Generic => Box::new(generic::Generic::new(config)),
    })
}
