//! The admin listener (loopback by default): `/metrics`, `/healthz`,
//! `/readyz`, and two operator actions:
//!
//! * `POST /tenants/{name}/reauth`: force re-authentication now; every
//!   session of the tenant issued before this second stops working;
//! * `POST /tenants/{name}/sessions/revoke` (form field `user`): revoke
//!   this person's sessions: every session of that user in the tenant
//!   issued up to this second stops working, on every node;
//! * `POST /reload`: read the configuration file again (as SIGHUP does);
//! * `GET /tenants/{name}/saml-trace`: the tenant's recent SAML exchanges,
//!   decoded (signature values and certificates cut short);
//! * `GET /tenants/{name}/members?account=…`: an account's members and
//!   invitations (JSON), for tenants on the embedded store;
//! * `POST /tenants/{name}/members`: one membership change (form fields
//!   `action`, `account`, `user`, `email`, `permissions`, `id`, `reseller`,
//!   `login`, and `actor`: the member on whose behalf the panel acts, bound
//!   by the rules of CONTRACT §7; without it, the operator).
//!
//! When `server.admin_token` is set, every call but `/metrics`, `/healthz`
//! and `/readyz` needs `Authorization: Bearer <token>`.

use crate::audit::Event;
use crate::config::ProcessEnv;
use crate::state::State;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The admin HTTP app.
pub struct Admin {
    state: Arc<State>,
}

impl Admin {
    /// An admin app over the shared state.
    pub fn new(state: Arc<State>) -> Admin {
        Admin { state }
    }

    /// `/readyz`: ready once serving (sign-in through an IdP that is down
    /// is that tenant's trouble, not the node's: break-glass and sessions
    /// still work); each document fetched from an IdP is listed as `ok`,
    /// `stale` (the last fetch failed; the last good copy is used) or
    /// `missing` (never fetched: that sign-in shows the IdP-down page).
    fn readiness(&self) -> String {
        let cfg = self.state.config();
        let now = self.state.now();
        let mut out = format!("ready: {} tenants\n", cfg.tenants.len());
        for doc in &cfg.remote {
            let s = doc.status();
            let line = match (s.fetched_at, &s.error) {
                (Some(at), None) => format!(
                    "ok {} {} (fetched {} s ago)",
                    doc.what(),
                    doc.url(),
                    now.saturating_sub(at)
                ),
                (Some(at), Some(e)) => format!(
                    "stale {} {} (using the copy fetched {} s ago; the last fetch failed: {e})",
                    doc.what(),
                    doc.url(),
                    now.saturating_sub(at)
                ),
                (None, e) => format!(
                    "missing {} {} ({})",
                    doc.what(),
                    doc.url(),
                    e.as_deref().unwrap_or("not fetched yet")
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for t in &cfg.tenants {
            if let crate::members::MemberSource::Panel(p) = &t.members {
                use std::sync::atomic::Ordering;
                let (ok, failed) = (
                    p.last_success.load(Ordering::Relaxed),
                    p.last_failure.load(Ordering::Relaxed),
                );
                let line = if failed > 0 && failed >= ok {
                    format!("failing membership endpoint of {} {} (failed {} s ago; kept answers are used up to stale_for)", t.name, p.url, now.saturating_sub(failed))
                } else {
                    format!("ok membership endpoint of {} {}", t.name, p.url)
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
        if let Some(h) = self.state.onetime.health() {
            let line = match (h.ok, h.error) {
                (Some(false), Some(e)) => format!("unreachable redis {} (sign-ins are refused until it answers; sessions keep working): {e}", h.url),
                (Some(true), _) => format!("ok redis {}", h.url),
                _ => format!("unknown redis {} (not asked yet)", h.url),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The store, for a tenant on it.
    fn store_for(
        &self,
        tenant: &str,
    ) -> Result<&crate::members::StoreHandle, Box<Response<Vec<u8>>>> {
        let text = "text/plain; charset=utf-8";
        let cfg = self.state.config();
        let Some(t) = cfg.tenant_named(tenant) else {
            return Err(Box::new(reply(
                404,
                text,
                format!("no tenant named {tenant:?}\n"),
            )));
        };
        match (&t.members, self.state.store.as_ref()) {
            (crate::members::MemberSource::Store, Some(store)) => Ok(store),
            (other, _) => Err(Box::new(reply(
                409,
                text,
                format!(
                    "tenant {tenant:?} reads memberships from `{}`, not the embedded store\n",
                    other.as_str()
                ),
            ))),
        }
    }

    fn list_members(&self, tenant: &str, query: &str) -> Response<Vec<u8>> {
        let store = match self.store_for(tenant) {
            Ok(s) => s,
            Err(r) => return *r,
        };
        let account = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "account")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let members: Vec<serde_json::Value> = store
            .get(tenant)
            .map(|d| {
                d.members_of(&account)
                    .into_iter()
                    .map(|(user, m)| serde_json::json!({"user": user, "permissions": m.permissions_header.as_ref(), "impersonate": m.impersonate}))
                    .collect()
            })
            .unwrap_or_default();
        match store.store.invitations(tenant, &account, self.state.now()) {
            Ok(invitations) => reply(
                200,
                "application/json",
                serde_json::json!({"account": account, "members": members, "invitations": invitations}).to_string(),
            ),
            Err(e) => reply(500, "text/plain; charset=utf-8", format!("{e}\n")),
        }
    }

    fn change_members(&self, tenant: &str, body: &[u8]) -> Response<Vec<u8>> {
        let store = match self.store_for(tenant) {
            Ok(s) => s,
            Err(r) => return *r,
        };
        let field = |name: &str| {
            form_urlencoded::parse(body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let actor = field("actor").and_then(|a| crate::auth::normalize_email(&a));
        let change =
            match crate::members::admin::parse(&field("action").unwrap_or_default(), &field) {
                Ok(c) => c,
                Err(e) => return reply(400, "text/plain; charset=utf-8", format!("{e}\n")),
            };
        let now = self.state.now();
        let result =
            crate::members::admin::apply(&store.store, tenant, actor.as_deref(), &change, now);
        let by = actor.as_deref().unwrap_or("operator");
        match result {
            Ok(done) => {
                self.state.audit(
                    tenant,
                    Event::Membership,
                    actor.as_deref(),
                    None,
                    &format!("{} (by {by}, admin API)", done.summary),
                );
                if let Err(e) = store.reload_tenant(&self.state.config(), tenant) {
                    tracing::error!("membership store: {e}");
                }
                let mut out = serde_json::json!({"ok": true, "summary": done.summary});
                if let Some((inv, token)) = done.invitation {
                    out["invitation"] = serde_json::json!(inv);
                    out["link"] = serde_json::json!(crate::members::admin::invitation_path(&token));
                }
                reply(200, "application/json", out.to_string())
            }
            Err(e) => {
                self.state.audit(
                    tenant,
                    Event::Membership,
                    actor.as_deref(),
                    None,
                    &format!("refused {change:?} by {by}: {e}"),
                );
                let status = match e {
                    crate::store::StoreError::Rule(_) => 403,
                    crate::store::StoreError::NotFound(_) => 404,
                    crate::store::StoreError::Invitation(_) => 409,
                    _ => 500,
                };
                reply(
                    status,
                    "application/json",
                    serde_json::json!({"ok": false, "error": e.to_string()}).to_string(),
                )
            }
        }
    }

    /// `POST /tenants/{name}/sessions/revoke` with `user`: ends every
    /// session of that person issued up to now; 503 when the other nodes
    /// could not be told (it is in force here, and retried every second).
    async fn revoke_person(&self, tenant: &str, body: &[u8]) -> Response<Vec<u8>> {
        let text = "text/plain; charset=utf-8";
        if self.state.config().tenant_named(tenant).is_none() {
            return reply(404, text, format!("no tenant named {tenant:?}\n"));
        }
        let Some(user) = form_urlencoded::parse(body)
            .find(|(k, _)| k == "user")
            .and_then(|(_, v)| crate::auth::normalize_email(&v))
        else {
            return reply(400, text, "the form field `user` (an e-mail) is required\n");
        };
        let now = self.state.now();
        let ending = crate::session::Ending::person(tenant, &user, now);
        let result = self.state.end_sessions(&ending).await;
        let done = format!("sessions of {user} in {tenant} issued up to {now} are void");
        self.state.audit(
            tenant,
            Event::ForceReauth,
            Some(&user),
            None,
            &match &result {
                Ok(()) => "sessions of this person revoked via admin API".to_string(),
                Err(e) => format!("sessions of this person revoked via admin API; {e}"),
            },
        );
        match result {
            Ok(()) => reply(200, text, format!("{done}\n")),
            Err(e) => reply(
                503,
                text,
                format!("{done} on this node; {e}; retried every second\n"),
            ),
        }
    }

    fn authorized(&self, session: &ServerSession) -> bool {
        let cfg = self.state.config();
        let Some(token) = cfg.server.admin_token.as_deref() else {
            return true;
        };
        let given = session
            .req_header()
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compare digests, so the time taken says nothing about the token.
        Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
    }
}

fn reply(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response<Vec<u8>> {
    let body = body.into();
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_string();
        let text = "text/plain; charset=utf-8";
        match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                let now = self.state.now();
                for doc in &self.state.config().remote {
                    if let Some(at) = doc.status().fetched_at {
                        self.state
                            .metrics
                            .idp_document_age
                            .with_label_values(&[doc.what(), doc.url()])
                            .set(now.saturating_sub(at) as f64);
                    }
                }
                reply(
                    200,
                    "text/plain; version=0.0.4",
                    self.state.metrics.render(),
                )
            }
            ("GET", "/healthz") => reply(200, text, "ok\n"),
            ("GET", "/readyz") => reply(200, text, self.readiness()),
            ("POST", p) if p.starts_with("/tenants/") && p.ends_with("/reauth") => {
                if !self.authorized(session) {
                    return reply(401, text, "admin token required\n");
                }
                let name = &p["/tenants/".len()..p.len() - "/reauth".len()];
                if self.state.config().tenant_named(name).is_none() {
                    return reply(404, text, format!("no tenant named {name:?}\n"));
                }
                let now = self.state.now();
                match self.state.revocations.revoke_all(name, now) {
                    Ok(()) => {
                        self.state.audit(
                            name,
                            Event::ForceReauth,
                            None,
                            None,
                            "force re-authentication via admin API",
                        );
                        // With Redis, every node is told now (and the
                        // refresher keeps trying if this fails).
                        match self.state.sync_revocations().await {
                            Ok(()) => reply(
                                200,
                                text,
                                format!("sessions of {name} issued before {now} are void\n"),
                            ),
                            Err(e) => reply(
                                503,
                                text,
                                format!("sessions of {name} issued before {now} are void on this node; the other nodes are not told yet ({e}); retried every second\n"),
                            ),
                        }
                    }
                    Err(e) => reply(
                        500,
                        text,
                        format!("revoked in memory, but could not save: {e}\n"),
                    ),
                }
            }
            ("POST", p) if p.starts_with("/tenants/") && p.ends_with("/sessions/revoke") => {
                if !self.authorized(session) {
                    return reply(401, text, "admin token required\n");
                }
                let name = p["/tenants/".len()..p.len() - "/sessions/revoke".len()].to_string();
                let mut body = Vec::new();
                while let Ok(Some(chunk)) = session.read_request_body().await {
                    if body.len() + chunk.len() > 64 * 1024 {
                        return reply(413, text, "too large\n");
                    }
                    body.extend_from_slice(&chunk);
                }
                self.revoke_person(&name, &body).await
            }
            ("POST", "/reload") => {
                if !self.authorized(session) {
                    return reply(401, text, "admin token required\n");
                }
                match self.state.reload(&ProcessEnv) {
                    Ok(_) => reply(200, text, "reloaded\n"),
                    Err(errors) => {
                        let list: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
                        reply(
                            422,
                            text,
                            format!(
                                "refused; still serving the old configuration:\n{}\n",
                                list.join("\n")
                            ),
                        )
                    }
                }
            }
            ("GET", p) if p.starts_with("/tenants/") && p.ends_with("/saml-trace") => {
                if !self.authorized(session) {
                    return reply(401, text, "admin token required\n");
                }
                let name = &p["/tenants/".len()..p.len() - "/saml-trace".len()];
                if self.state.config().tenant_named(name).is_none() {
                    return reply(404, text, format!("no tenant named {name:?}\n"));
                }
                reply(200, text, self.state.saml_trace.render(name))
            }
            (m, p) if p.starts_with("/tenants/") && p.ends_with("/members") => {
                if !self.authorized(session) {
                    return reply(401, text, "admin token required\n");
                }
                let name = p["/tenants/".len()..p.len() - "/members".len()].to_string();
                match m {
                    "GET" => {
                        let query = session.req_header().uri.query().unwrap_or("").to_string();
                        self.list_members(&name, &query)
                    }
                    "POST" => {
                        let mut body = Vec::new();
                        while let Ok(Some(chunk)) = session.read_request_body().await {
                            if body.len() + chunk.len() > 64 * 1024 {
                                return reply(413, text, "too large\n");
                            }
                            body.extend_from_slice(&chunk);
                        }
                        self.change_members(&name, &body)
                    }
                    _ => reply(405, text, "GET or POST\n"),
                }
            }
            _ => reply(404, text, "not found\n"),
        }
    }
}
