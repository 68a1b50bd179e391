//! The admin listener (loopback by default): `/metrics`, `/healthz`,
//! `/readyz`, and two operator actions:
//!
//! * `POST /tenants/{name}/reauth`: force re-authentication now; every
//!   session of the tenant issued before this second stops working;
//! * `POST /tenants/{name}/sessions/revoke` (form field `user`): revoke
//!   this person's sessions: every session of that user in the tenant
//!   issued up to this second stops working, on every node;
//! * `POST /reload`: read the configuration file again (as SIGHUP does);
//! * `GET /tenants`, `GET/PUT/DELETE /tenants/{name}`: the tenants, and one
//!   tenant's file of `tenants_dir` (see `tenants`);
//! * `GET /tenants/{name}/saml-trace`: the tenant's recent SAML exchanges,
//!   decoded (signature values and certificates cut short);
//! * `GET /tenants/{name}/members?account=…`: an account's members and
//!   invitations (JSON), for tenants on the embedded store;
//! * `POST /tenants/{name}/members`: one membership change (form fields
//!   `action`, `account`, `user`, `email`, `permissions`, `id`, `reseller`,
//!   `login`, and `actor`: the member on whose behalf the panel acts, bound
//!   by the membership rules; without it, the operator).
//!
//! When `server.admin_token` is set, every call but `/metrics`, `/healthz`
//! and `/readyz` needs `Authorization: Bearer <token>`.
//!
//! Before any of that, a request a web page could have made is refused
//! (see `docs/admin-listener.md`): a `Host` that is not this listener's own
//! address (DNS rebinding: 421), and any `Origin` header or `Sec-Fetch-Site`
//! other than `none` (a cross-site form or script, 403).
//!
//! One concern a file: `browser_guard` (the DNS-rebinding and cross-site
//! defences), `token` (the admin token), `health` (`/readyz`), `members`
//! (the members API), `tenants` (the tenant API) and `sessions` (revoking a person's sessions); this
//! file holds the app and its routes.

mod browser_guard;
mod health;
mod members;
mod sessions;
mod tenants;
mod token;

use crate::audit::Event;
use crate::config::ProcessEnv;
use crate::state::State;
use browser_guard::{browser_guard, FromBrowser};
use http::Response;
use std::net::SocketAddr;
use std::sync::Arc;

/// The admin HTTP app.
pub struct Admin {
    state: Arc<State>,
    /// The address the listener is bound to (read at start, as the bind is).
    listen: SocketAddr,
}

impl Admin {
    /// An admin app over the shared state, for the listener on
    /// `[server].admin_listen`.
    pub fn new(state: Arc<State>) -> Admin {
        let listen = state.config().server.admin_listen;
        Admin { state, listen }
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

/// The largest body the admin listener reads.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;

impl Admin {
    /// Answers one request (`body`: `None` when it was larger than
    /// [`MAX_ADMIN_BODY`]).
    pub async fn answer(
        &self,
        req: &http::request::Parts,
        body: Option<&[u8]>,
    ) -> Response<Vec<u8>> {
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let text = "text/plain; charset=utf-8";
        let guard = {
            let cfg = self.state.config();
            browser_guard(
                self.listen,
                &cfg.server.admin_hosts,
                req.uri.authority().map(|a| a.as_str()),
                &req.headers,
            )
        };
        if let Err(why) = &guard {
            tracing::warn!(%method, %path, ?why, "admin listener: refused a request a web page could have made");
        }
        match guard {
            Ok(()) => {}
            Err(FromBrowser::ForeignHost(host)) => {
                return reply(
                    421,
                    text,
                    format!("this admin listener answers to its own address ({}), not {host:?}; add other names to [server].admin_hosts\n", self.listen),
                )
            }
            Err(FromBrowser::ManyHosts) => return reply(400, text, "more than one Host header\n"),
            Err(FromBrowser::FromPage) => {
                return reply(
                    403,
                    text,
                    "refused: this request was sent by a web page (Origin or Sec-Fetch-Site); the admin listener takes requests from programs only\n",
                )
            }
        }
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
                if let Some(store) = &self.state.store {
                    let kind = if store.store.is_shared() {
                        "postgres"
                    } else {
                        "sqlite"
                    };
                    self.state
                        .metrics
                        .store_up
                        .with_label_values(&[kind])
                        .set(i64::from(store.unreachable().is_none()));
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
                if !self.authorized(req) {
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
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = p["/tenants/".len()..p.len() - "/sessions/revoke".len()].to_string();
                let Some(body) = body else {
                    return reply(413, text, "too large\n");
                };
                self.revoke_person(&name, body).await
            }
            ("POST", "/reload") => {
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                match self.state.reload(Arc::new(ProcessEnv)).await {
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
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = &p["/tenants/".len()..p.len() - "/saml-trace".len()];
                if self.state.config().tenant_named(name).is_none() {
                    return reply(404, text, format!("no tenant named {name:?}\n"));
                }
                reply(200, text, self.state.saml_trace.render(name))
            }
            (m, "/tenants") => {
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                match m {
                    "GET" => self.list_tenants(),
                    _ => reply(405, text, "GET\n"),
                }
            }
            (m, p) if p.starts_with("/tenants/") && !p["/tenants/".len()..].contains('/') => {
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = &p["/tenants/".len()..];
                let is_json = |h: http::header::HeaderName| {
                    req.headers
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("application/json"))
                };
                match m {
                    "GET" => self.show_tenant(name, is_json(http::header::ACCEPT)),
                    "PUT" => {
                        let Some(body) = body else {
                            return reply(413, text, "too large\n");
                        };
                        self.change_tenant(name, Some((body, is_json(http::header::CONTENT_TYPE))))
                            .await
                    }
                    "DELETE" => self.change_tenant(name, None).await,
                    _ => reply(405, text, "GET, PUT or DELETE\n"),
                }
            }
            (m, p) if p.starts_with("/tenants/") && p.ends_with("/members") => {
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = p["/tenants/".len()..p.len() - "/members".len()].to_string();
                match m {
                    "GET" => {
                        let query = req.uri.query().unwrap_or("").to_string();
                        self.list_members(&name, &query).await
                    }
                    "POST" => {
                        let Some(body) = body else {
                            return reply(413, text, "too large\n");
                        };
                        let content_type = req
                            .headers
                            .get(http::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        self.change_members(&name, content_type.as_deref(), body)
                            .await
                    }
                    _ => reply(405, text, "GET or POST\n"),
                }
            }
            _ => reply(404, text, "not found\n"),
        }
    }
}
