//! Configuration: the TOML file of README's "Configuration reference",
//! compiled in one step into validated types. Every problem found is reported, each with its file and
//! line; nothing half-valid is ever used.

pub mod acme;
mod compile;
mod context;
mod diagnostics;
pub mod duration;
#[cfg(test)]
pub(crate) mod for_tests;
mod idp;
mod mail;
mod members;
mod model;
mod pages;
mod raw;
pub mod secret;
mod server;
mod session;
mod tenant;
#[cfg(test)]
mod tests;

pub use compile::compile_str;
pub use diagnostics::{Diagnostic, Severity};
pub use model::{
    Acme, AcmeChallenge, Config, RedisSettings, Server, SessionSettings, Smtp, SmtpLogin,
    SmtpSecurity, Tenant, Upstream,
};
pub use secret::{Env, ProcessEnv};

use std::path::Path;

/// A compiled configuration and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Findings that did not stop it.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and compiles the configuration file. On failure, every finding
/// (errors and warnings) is returned.
pub fn load(path: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read the configuration file: {e}"),
        }]
    })?;
    compile_str(&src, path, env)
}
