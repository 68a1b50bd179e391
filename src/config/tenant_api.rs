//! Changing one tenant of `tenants_dir` (the admin API's `PUT` and
//! `DELETE /tenants/<name>`, `portero tenants`): the body is read into the
//! text of the tenant's file `<name>.toml`, the whole configuration is
//! compiled as if the file were written, and only then is it written (to a
//! hidden file first, renamed into place) and the configuration reloaded.

use super::tenant_files::{Stamp, Trial};
use super::{Compiler, Config, Diagnostic, Env, Loaded};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a change to a tenant was not made.
#[derive(Debug)]
pub enum Refused {
    /// No `[server].tenants_dir` is configured.
    NoTenantsDir,
    /// No tenant has that name.
    NotFound,
    /// The tenant is written somewhere the API does not manage: the main
    /// file, or a file of `tenants_dir` with other tenants or another name.
    Elsewhere(PathBuf),
    /// The body is not one tenant called by the name in the path.
    BadBody(String),
    /// The configuration with the change has errors (every finding).
    Invalid(Vec<Diagnostic>),
    /// The file could not be written or removed.
    Io(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NoTenantsDir => f.write_str("no [server].tenants_dir is configured: the tenant API writes one file per tenant there"),
            Refused::NotFound => f.write_str("no tenant has that name"),
            Refused::Elsewhere(p) => write!(f, "this tenant is written in {}, which the tenant API does not manage (it manages <name>.toml files of tenants_dir that hold one tenant); change it there", p.display()),
            Refused::BadBody(e) => f.write_str(e),
            Refused::Invalid(d) => {
                f.write_str("the configuration would not be valid:")?;
                for d in d.iter().filter(|d| d.severity == super::Severity::Error) {
                    write!(f, "\n{d}")?;
                }
                Ok(())
            }
            Refused::Io(e) => f.write_str(e),
        }
    }
}

/// The text of `<name>.toml` from a request body: TOML as the file holds
/// it (one `[[tenant]]` table, kept as written, comments included), or a
/// JSON object of the tenant's keys (`name` may be left out).
pub fn tenant_text(name: &str, body: &[u8], json: bool) -> Result<String, Refused> {
    let bad = |m: String| Refused::BadBody(m);
    let body = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    if json {
        let mut value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        let Some(object) = value.as_object_mut() else {
            return Err(bad(
                "the body must be a JSON object: the tenant's keys".into()
            ));
        };
        match object.get("name") {
            None => {
                object.insert("name".into(), name.into());
            }
            Some(n) if n.as_str() == Some(name) => {}
            Some(n) => return Err(bad(format!("the body names tenant {n}, the path {name:?}"))),
        }
        let table = toml::Value::try_from(&value)
            .map_err(|e| bad(format!("cannot write this as TOML: {e}")))?;
        let mut file = toml::Table::new();
        file.insert("tenant".into(), toml::Value::Array(vec![table]));
        return toml::to_string(&file).map_err(|e| bad(format!("cannot write this as TOML: {e}")));
    }
    let parsed: toml::Table =
        toml::from_str(body).map_err(|e| bad(format!("the body is not valid TOML: {e}")))?;
    let tenants = match parsed.get("tenant") {
        Some(toml::Value::Array(items)) if parsed.len() == 1 => items,
        _ => {
            return Err(bad(
                "the body must be one [[tenant]] table, as its file holds it".into(),
            ))
        }
    };
    match tenants.as_slice() {
        [t] if t.get("name").and_then(toml::Value::as_str) == Some(name) => Ok(body.to_string()),
        [_] => Err(bad(format!(
            "the [[tenant]] in the body must have name = {name:?}, as the path says"
        ))),
        _ => Err(bad("the body must hold exactly one [[tenant]]".into())),
    }
}

impl Compiler {
    /// Writes `text` as tenant `name`'s file (`None`: removes it) after
    /// compiling the whole configuration as if it were done, and returns
    /// that configuration to put in force. `current` is the configuration
    /// in force (it says where the tenant is written).
    pub fn change_tenant(
        &mut self,
        main: &Path,
        env: &dyn Env,
        current: &Config,
        name: &str,
        text: Option<String>,
    ) -> Result<Loaded, Refused> {
        if !super::tenant::valid_name(name) {
            return Err(Refused::BadBody(format!(
                "{name:?} is not a tenant name (letters, digits, `-`, `_` and `.`, not first)"
            )));
        }
        let Some(dir) = current.server.tenants_dir.clone() else {
            return Err(Refused::NoTenantsDir);
        };
        let file_name = format!("{name}.toml");
        let path = dir.join(&file_name);
        match current.tenant_named(name) {
            Some(t) if *t.defined_in != *path => {
                return Err(Refused::Elsewhere(t.defined_in.to_path_buf()))
            }
            Some(_) if self.holding(name).is_some_and(|(_, alone)| !alone) => {
                return Err(Refused::Elsewhere(path))
            }
            None if text.is_none() => return Err(Refused::NotFound),
            _ => {}
        }
        self.note_main_read(main);
        let src = std::fs::read_to_string(main)
            .map_err(|e| Refused::Io(format!("cannot read {}: {e}", main.display())))?;
        let trial = Trial {
            file_name: file_name.clone(),
            text,
        };
        let loaded = self
            .compile_trying(&src, main, env, Some(&trial))
            .map_err(Refused::Invalid)?;
        let written = match &trial.text {
            Some(text) => write_atomically(&dir, &file_name, text).map(|()| Stamp::of(&path)),
            None => std::fs::remove_file(&path)
                .map(|()| None)
                .map_err(|e| format!("cannot remove {}: {e}", path.display())),
        };
        match written {
            Ok(stamp) => {
                self.settle_trial(&file_name, stamp);
                Ok(loaded)
            }
            Err(e) => {
                self.settle_trial(&file_name, None);
                Err(Refused::Io(e))
            }
        }
    }
}

/// Writes `dir/name` whole or not at all: a hidden file in the same folder,
/// flushed to disk, renamed over it; then the folder is flushed.
fn write_atomically(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}
