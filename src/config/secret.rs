//! Secrets written as `env:NAME`, `file:PATH` or inline.

use std::path::{Path, PathBuf};

/// Where configuration values are read from: the process environment and
/// the file system. Tests give a map instead of touching the real environment.
pub trait Env {
    /// The value of an environment variable.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Resolves a relative path: against the working directory, or else next to
/// the configuration file when it exists only there.
pub fn resolve_path(raw: &str, config_dir: &Path) -> PathBuf {
    let p = PathBuf::from(raw);
    if p.is_absolute() || p.exists() {
        return p;
    }
    let beside = config_dir.join(&p);
    if beside.exists() {
        beside
    } else {
        p
    }
}

/// Reads a secret: `env:NAME` (the variable must be set and non-empty),
/// `file:PATH` (the file's contents, trailing newline trimmed), or the text itself.
pub fn read(raw: &str, env: &dyn Env, config_dir: &Path) -> Result<String, String> {
    if let Some(name) = raw.strip_prefix("env:") {
        return match env.var(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("environment variable {name} is not set")),
        };
    }
    if let Some(path) = raw.strip_prefix("file:") {
        let p = resolve_path(path, config_dir);
        return std::fs::read_to_string(&p)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {}: {e}", p.display()));
    }
    Ok(raw.to_string())
}
