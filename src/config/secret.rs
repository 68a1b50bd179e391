//! Secrets written as `env:NAME`, `file:PATH` or inline.

use std::path::{Path, PathBuf};

/// Where configuration values are read from: the process environment and
/// the file system. Tests give a map instead of touching the real environment.
pub trait Env {
    /// The value of an environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable whose name starts with `prefix`, with its value (a
    /// value that is not UTF-8 is read with replacement characters). An
    /// environment that cannot list its variables has none: it sets no
    /// configuration keys.
    fn vars_with_prefix(&self, _prefix: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                k.starts_with(prefix)
                    .then(|| (k, v.to_string_lossy().into_owned()))
            })
            .collect()
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
