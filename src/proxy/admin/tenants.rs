//! The tenant API: `GET /tenants` lists every tenant and where it is
//! written; `GET /tenants/{name}` gives a tenant's file of `tenants_dir`
//! (TOML, or JSON with `Accept: application/json`); `PUT /tenants/{name}`
//! (a TOML `[[tenant]]` table, or a JSON object with `Content-Type:
//! application/json`) writes it and `DELETE /tenants/{name}` removes it,
//! each only once the whole configuration with the change compiles, and in
//! force on this node when the answer comes. Every change, made or
//! refused, is an audit line.

use super::{reply, Admin};
use crate::audit::Event;
use crate::config::{ProcessEnv, Refused};
use http::Response;
use std::sync::Arc;

const JSON: &str = "application/json";

impl Admin {
    /// `GET /tenants`.
    pub(super) fn list_tenants(&self) -> Response<Vec<u8>> {
        let cfg = self.state.config();
        let dir = cfg.server.tenants_dir.as_deref();
        let tenants: Vec<_> = cfg
            .tenants
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "hosts": t.hosts,
                    "file": t.defined_in.display().to_string(),
                    "managed": dir.is_some_and(|d| *t.defined_in == *d.join(format!("{}.toml", t.name))),
                })
            })
            .collect();
        reply(
            200,
            JSON,
            serde_json::json!({ "tenants": tenants }).to_string(),
        )
    }

    /// `GET /tenants/{name}`.
    pub(super) fn show_tenant(&self, name: &str, want_json: bool) -> Response<Vec<u8>> {
        let cfg = self.state.config();
        let Some(t) = cfg.tenant_named(name) else {
            return refused(404, &format!("no tenant named {name:?}"));
        };
        let text = match std::fs::read_to_string(&t.defined_in) {
            Ok(s) => s,
            Err(e) => return refused(500, &format!("cannot read {}: {e}", t.defined_in.display())),
        };
        let managed = cfg
            .server
            .tenants_dir
            .as_deref()
            .is_some_and(|d| *t.defined_in == *d.join(format!("{name}.toml")));
        if !managed {
            return refused(
                409,
                &Refused::Elsewhere(t.defined_in.to_path_buf()).to_string(),
            );
        }
        if !want_json {
            return reply(200, "application/toml; charset=utf-8", text);
        }
        let table =
            toml::from_str::<toml::Table>(&text)
                .ok()
                .and_then(|mut f| match f.remove("tenant") {
                    Some(toml::Value::Array(mut items)) if items.len() == 1 => items.pop(),
                    _ => None,
                });
        match table.map(|t| serde_json::to_string(&t)) {
            Some(Ok(json)) => reply(200, JSON, json),
            _ => refused(
                409,
                &format!("{} does not hold one [[tenant]]", t.defined_in.display()),
            ),
        }
    }

    /// `PUT /tenants/{name}` (`body: Some`) or `DELETE` (`None`).
    pub(super) async fn change_tenant(
        &self,
        name: &str,
        body: Option<(&[u8], bool)>,
    ) -> Response<Vec<u8>> {
        let verb = if body.is_some() { "put" } else { "delete" };
        let text = match body.map(|(b, json)| crate::config::tenant_text(name, b, json)) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return self.tenant_refused(name, verb, &e),
            None => None,
        };
        let existed = self.state.config().tenant_named(name).is_some();
        match self
            .state
            .change_tenant(Arc::new(ProcessEnv), name, text)
            .await
        {
            Ok(warnings) => {
                self.state.audit(
                    name,
                    Event::ConfigReload,
                    None,
                    None,
                    &format!("tenant {verb} through the admin API: in force"),
                );
                let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
                let status = if verb == "put" && !existed { 201 } else { 200 };
                reply(
                    status,
                    JSON,
                    serde_json::json!({"ok": true, "warnings": warnings}).to_string(),
                )
            }
            Err(e) => self.tenant_refused(name, verb, &e),
        }
    }

    fn tenant_refused(&self, name: &str, verb: &str, e: &Refused) -> Response<Vec<u8>> {
        let status = match e {
            Refused::NotFound => 404,
            Refused::NoTenantsDir | Refused::Elsewhere(_) => 409,
            Refused::BadBody(_) | Refused::Invalid(_) => 422,
            Refused::Io(_) => 500,
        };
        let first = e.to_string();
        let first = first.lines().take(2).collect::<Vec<_>>().join(" ");
        self.state.audit(
            name,
            Event::ConfigReload,
            None,
            None,
            &format!("tenant {verb} through the admin API refused: {first}"),
        );
        let errors: Vec<String> = match e {
            Refused::Invalid(d) => d
                .iter()
                .filter(|d| d.severity == crate::config::Severity::Error)
                .map(ToString::to_string)
                .collect(),
            _ => Vec::new(),
        };
        reply(
            status,
            JSON,
            serde_json::json!({"ok": false, "error": e.to_string(), "errors": errors}).to_string(),
        )
    }
}

fn refused(status: u16, error: &str) -> Response<Vec<u8>> {
    reply(
        status,
        JSON,
        serde_json::json!({"ok": false, "error": error}).to_string(),
    )
}
