//! Configuration: the TOML file of README's "Configuration reference",
//! compiled in one step into validated types. Every problem found is reported, each with its file and
//! line; nothing half-valid is ever used.

pub mod acme;
mod compile;
mod compile_thread;
mod context;
mod diagnostics;
pub mod duration;
#[cfg(test)]
pub(crate) mod for_tests;
mod from_env;
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
mod tenant_api;
mod tenant_files;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_tenants_dir;

pub use compile::{compile_str, Compiler};
pub use compile_thread::CompileThread;
pub use diagnostics::{Diagnostic, Severity};
pub use model::{
    Acme, AcmeChallenge, Config, RedisSettings, Server, SessionSettings, Smtp, SmtpLogin,
    SmtpSecurity, Tenant, Upstream,
};
pub use secret::{Env, ProcessEnv};
pub use tenant_api::{tenant_text, Refused};

use std::path::Path;

/// A compiled configuration and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Findings that did not stop it.
    pub warnings: Vec<Diagnostic>,
    /// The keys set from the environment: (`[server].listen`,
    /// `PORTERO_SERVER__LISTEN`), for `portero check` and the start's log.
    pub from_env: Vec<(String, String)>,
}

/// Reads and compiles the configuration file (and its `tenants_dir`),
/// keeping nothing. On failure, every finding (errors and warnings) is
/// returned.
pub fn load(path: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
    Compiler::default().load(path, env)
}
