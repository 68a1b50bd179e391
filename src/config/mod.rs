//! Configuration: the TOML file of CONTRACT §2a, compiled in one step into
//! validated types. Every problem found is reported, each with its file and
//! line; nothing half-valid is ever used.

mod compile;
pub mod duration;
mod model;
mod raw;
pub mod secret;

pub use compile::compile_str;
pub use model::{Config, RedisSettings, Server, SessionSettings, Tenant, Upstream};
pub use secret::{Env, ProcessEnv};

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration is refused.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
}

/// One finding about the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, and how to fix it where we can tell.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.line {
            Some(l) => write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                l,
                sev,
                self.message
            ),
            None => write!(f, "{}: {}: {}", self.file.display(), sev, self.message),
        }
    }
}

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
