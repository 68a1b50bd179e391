//! Configurations compiled in memory for unit tests: the environment is a
//! map (`K` holds a session key), files live in a temporary folder that
//! holds `a.pem` (an Ed25519 key), and no `portero` process is started.

use super::Loaded;
use super::{compile_str, Config, Diagnostic};
use std::collections::HashMap;

/// The smallest configuration that passes (one tenant, `t`, on
/// `panel.t.test`), shared with the end-to-end config tests.
pub(crate) const GOOD: &str = include_str!("../../tests/common/good_config.toml");

/// Compiles `config` as `{DIR}/portero.toml` (`{DIR}`: the folder, where
/// `files` are written first) with `env` beside `K`: what the compiler
/// said, and the folder (kept while it is held).
pub(crate) fn compile_in(
    config: &str,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> (Result<Loaded, Vec<Diagnostic>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.pem"),
        crate::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let text = config.replace("{DIR}", dir.path().to_str().unwrap());
    let mut vars = HashMap::from([(
        "K".to_string(),
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string(),
    )]);
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let loaded = compile_str(&text, &dir.path().join("portero.toml"), &vars);
    (loaded, dir)
}

/// [`compile_in`] for a configuration that must pass.
pub(crate) fn compiled(
    config: &str,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> (Config, tempfile::TempDir) {
    match compile_in(config, env, files) {
        (Ok(loaded), dir) => (loaded.config, dir),
        (Err(findings), _) => panic!("{findings:?}"),
    }
}
