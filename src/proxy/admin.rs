//! The admin listener (loopback by default): `/metrics`, `/healthz`,
//! `/readyz`, and two operator actions:
//!
//! * `POST /tenants/{name}/reauth`: force re-authentication now; every
//!   session of the tenant issued before this second stops working;
//! * `POST /reload`: read the configuration file again (as SIGHUP does).
//!
//! When `server.admin_token` is set, the actions need
//! `Authorization: Bearer <token>`.

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
        out
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
            ("GET", "/metrics") => reply(
                200,
                "text/plain; version=0.0.4",
                self.state.metrics.render(),
            ),
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
                        reply(
                            200,
                            text,
                            format!("sessions of {name} issued before {now} are void\n"),
                        )
                    }
                    Err(e) => reply(
                        500,
                        text,
                        format!("revoked in memory, but could not save: {e}\n"),
                    ),
                }
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
            _ => reply(404, text, "not found\n"),
        }
    }
}
