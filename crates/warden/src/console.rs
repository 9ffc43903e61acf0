//! Building the web console from `[ui]`: its public address (the bound one when
//! `public_url` is not set), its session lifetimes and its admin and audit groups.

use warden_engine::Engine;
use warden_engine::session::SessionRules;

use crate::config::Config;

/// The console of `engine`, reached at `addr` unless `[ui] public_url` says otherwise.
pub fn build(
    config: &Config,
    engine: Engine,
    addr: std::net::SocketAddr,
) -> warden_console::Console {
    warden_console::Console::new(
        engine,
        warden_console::ConsoleConfig {
            public_url: config.ui.public_url(addr),
            session: SessionRules {
                idle: config.ui.idle_timeout,
                absolute: config.ui.session_lifetime,
            },
            admin_groups: config.ui.admin_groups.clone(),
            audit_groups: config.ui.audit_groups.clone(),
        },
    )
}
