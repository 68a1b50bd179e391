//! `portero tenants`: the tenants of a configuration, and one tenant's
//! file of `tenants_dir` changed the way the admin API changes it (the
//! whole configuration compiled with the change first). A running node
//! on this machine is then asked to reload through its admin listener, so
//! the change is in force when the command returns; otherwise its file
//! watch (`watch_config`) or the next SIGHUP picks it up.

use crate::config::{self, Compiler, ProcessEnv};
use std::path::Path;

/// What `portero tenants` does.
#[derive(Debug)]
pub enum TenantAction {
    /// Every tenant, its hosts and its file.
    List,
    /// One tenant's file.
    Show(String),
    /// Write a tenant's file from TOML (or JSON when `json`).
    Put {
        /// The tenant.
        name: String,
        /// The `[[tenant]]` table (TOML), or a JSON object.
        body: Vec<u8>,
        /// Whether `body` is JSON.
        json: bool,
    },
    /// Remove a tenant's file.
    Delete(String),
}

/// Carries out `action` on the configuration at `path`; what to print, or
/// why nothing was done.
pub fn run(path: &Path, action: TenantAction) -> Result<String, String> {
    let mut compiler = Compiler::default();
    let current = compiler
        .load(path, &ProcessEnv)
        .map_err(|findings| findings_text("the configuration has errors", &findings))?
        .config;
    let (name, text) = match action {
        TenantAction::List => {
            let mut out = String::new();
            for t in &current.tenants {
                out.push_str(&format!(
                    "{}\t{}\t{}\n",
                    t.name,
                    t.hosts.join(","),
                    t.defined_in.display()
                ));
            }
            return Ok(out);
        }
        TenantAction::Show(name) => {
            let t = current
                .tenant_named(&name)
                .ok_or_else(|| format!("no tenant named {name:?}"))?;
            return std::fs::read_to_string(&t.defined_in)
                .map_err(|e| format!("cannot read {}: {e}", t.defined_in.display()));
        }
        TenantAction::Put { name, body, json } => {
            let text = config::tenant_text(&name, &body, json).map_err(|e| e.to_string())?;
            (name, Some(text))
        }
        TenantAction::Delete(name) => (name, None),
    };
    let verb = if text.is_some() { "written" } else { "removed" };
    let loaded = compiler
        .change_tenant(path, &ProcessEnv, &current, &name, text)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    for w in &loaded.warnings {
        out.push_str(&format!("{w}\n"));
    }
    out.push_str(&format!("tenant {name:?} {verb}; "));
    out.push_str(&tell_running_node(&current));
    Ok(out)
}

/// Asks the node running this configuration on this machine to reload.
fn tell_running_node(cfg: &config::Config) -> String {
    let admin = cfg.server.admin_listen;
    let port = admin.port();
    let url = if admin.ip().is_unspecified() || admin.ip().is_loopback() {
        format!("http://127.0.0.1:{port}/reload")
    } else {
        return format!("the admin listener {admin} is not on loopback: the running node takes it at its next look at tenants_dir (watch_config) or SIGHUP\n");
    };
    let token = cfg.server.admin_token.clone();
    let asked = (|| -> Result<crate::outbound::Reply, String> {
        let client = crate::outbound::Outbound::new(None, std::time::Duration::from_secs(30))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| vec![("authorization", b)])
            .unwrap_or_default();
        runtime.block_on(client.post_form(&url, &headers, String::new()))
    })();
    match asked {
        Ok(r) if r.status == 200 => "in force on the node running here\n".into(),
        Ok(r) => format!(
            "the node running here refused the reload ({}): {}\n",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        ),
        Err(_) => "no node answers on the admin listener here: a node picks it up at its next look at tenants_dir (watch_config) or SIGHUP\n".into(),
    }
}

fn findings_text(what: &str, findings: &[config::Diagnostic]) -> String {
    let mut out = format!("{what}:");
    for f in findings {
        out.push_str(&format!("\n{f}"));
    }
    out
}
