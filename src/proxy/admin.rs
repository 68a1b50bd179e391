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
//!
//! Before any of that, a request a web page could have made is refused
//! (see `docs/admin-listener.md`): a `Host` that is not this listener's own
//! address (DNS rebinding: 421), and any `Origin` header or `Sec-Fetch-Site`
//! other than `none` (a cross-site form or script, 403).

use crate::audit::Event;
use crate::config::ProcessEnv;
use crate::members::admin::BadActor;
use crate::state::State;
use crate::web::form::{self, Fields};
use http::{HeaderMap, Response};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
        let fields = match Fields::parse(query.as_bytes()) {
            Ok(f) => f,
            Err(e) => return refused(400, &e.to_string()),
        };
        let Some(account) = fields
            .get("account")
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
        else {
            return refused(400, "`account` is required: ?account=<account>");
        };
        match store.store.has_account(tenant, &account) {
            Ok(true) => {}
            Ok(false) => {
                return refused(
                    404,
                    &format!("tenant {tenant:?} has no account named {account:?}"),
                )
            }
            Err(e) => return refused(500, &e.to_string()),
        }
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

    fn change_members(
        &self,
        tenant: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response<Vec<u8>> {
        let store = match self.store_for(tenant) {
            Ok(s) => s,
            Err(r) => return *r,
        };
        let fields =
            match form::check_content_type(content_type, body).and_then(|()| Fields::parse(body)) {
                Ok(f) => f,
                Err(e) => return refused(400, &e.to_string()),
            };
        let actor =
            match crate::members::admin::resolve_actor(&store.store, tenant, fields.get("actor")) {
                Ok(a) => a,
                Err(BadActor::Store(e)) => return refused(500, &e.to_string()),
                Err(e) => {
                    self.state.audit(
                        tenant,
                        Event::Membership,
                        None,
                        None,
                        &format!("refused a change through the admin API: actor {e}"),
                    );
                    return refused(400, &format!("actor: {e}"));
                }
            };
        let field = |name: &str| fields.owned(name);
        let change = match crate::members::admin::parse(fields.get("action").unwrap_or(""), &field)
        {
            Ok(c) => c,
            Err(e) => return refused(400, &e),
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

    fn authorized(&self, req: &http::request::Parts) -> bool {
        let cfg = self.state.config();
        let Some(token) = cfg.server.admin_token.as_deref() else {
            return true;
        };
        let given = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        token_matches(given, token)
    }
}

/// Whether `given` is the admin token, compared in constant time: both are
/// MACed under a key made for this comparison and the tags checked by
/// `ring` (which compares in constant time), so neither the time taken nor
/// the length says anything about the token.
fn token_matches(given: &str, token: &str) -> bool {
    use ring::hmac;
    let rng = ring::rand::SystemRandom::new();
    let Ok(key) = hmac::Key::generate(hmac::HMAC_SHA256, &rng) else {
        return false;
    };
    let expected = hmac::sign(&key, token.as_bytes());
    hmac::verify(&key, given.as_bytes(), expected.as_ref()).is_ok()
}

/// Why the admin listener refused a request a web page could have made.
#[derive(Debug, PartialEq, Eq)]
enum FromBrowser {
    /// The `Host` (or request-target authority) is not this listener's
    /// address: a DNS-rebinding page, or a name it was not told about.
    ForeignHost(String),
    /// More than one `Host` header.
    ManyHosts,
    /// An `Origin` header, or a `Sec-Fetch-Site` other than `none`: a web
    /// page (any site, this one included) sent it.
    FromPage,
}

/// Refuses what only a browser page sends: the admin listener has no
/// pages and no browser client, so a request from one is a cross-site
/// form, a script, or a DNS-rebinding page. A request without `Host` comes
/// from no browser and passes (HTTP/1.0 health checks).
fn browser_guard(
    listen: SocketAddr,
    admin_hosts: &[String],
    authority: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), FromBrowser> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(FromBrowser::ManyHosts);
    }
    let named = host
        .map(|h| h.to_str().unwrap_or("\u{fffd}"))
        .into_iter()
        .chain(authority);
    for name in named {
        if !own_host(listen, admin_hosts, name) {
            return Err(FromBrowser::ForeignHost(name.chars().take(100).collect()));
        }
    }
    let fetch_site_ok = headers
        .get_all("sec-fetch-site")
        .iter()
        .all(|v| v.as_bytes().eq_ignore_ascii_case(b"none"));
    if headers.contains_key(http::header::ORIGIN) || !fetch_site_ok {
        return Err(FromBrowser::FromPage);
    }
    Ok(())
}

/// Whether a `Host` value names this listener: its own IP address, with
/// its port or none; on loopback also `localhost`, `127.0.0.1` and `[::1]`;
/// bound to every address (`0.0.0.0`, `[::]`), any IP literal and
/// `localhost`; and the names in `[server].admin_hosts`. An IP literal
/// cannot be re-bound by DNS; any other name could be.
fn own_host(listen: SocketAddr, admin_hosts: &[String], host: &str) -> bool {
    let Some((name, port)) = split_host_port(host) else {
        return false;
    };
    if port.is_some_and(|p| p != listen.port()) {
        return false;
    }
    let bound = listen.ip();
    let local = bound.is_loopback() || bound.is_unspecified();
    match name {
        Named::Ip(ip) => {
            ip == bound
                || bound.is_unspecified()
                || (bound.is_loopback()
                    && (ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
                        || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)))
        }
        Named::Name(n) => (local && n == "localhost") || admin_hosts.contains(&n),
    }
}

/// A host in a `Host` header.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    Ip(IpAddr),
    Name(String),
}

/// Splits `host[:port]` (`[v6][:port]`); `None` when malformed.
fn split_host_port(host: &str) -> Option<(Named, Option<u16>)> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = v6.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':')?)?),
        };
        return Some((Named::Ip(IpAddr::V6(ip)), port));
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(parse_port(p)?)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return None;
    }
    let named = match name.parse::<Ipv4Addr>() {
        Ok(ip) => Named::Ip(IpAddr::V4(ip)),
        Err(_) => Named::Name(name.to_ascii_lowercase()),
    };
    Some((named, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// A refusal of the members API: JSON `{"ok": false, "error": …}`.
fn refused(status: u16, error: &str) -> Response<Vec<u8>> {
    reply(
        status,
        "application/json",
        serde_json::json!({"ok": false, "error": error}).to_string(),
    )
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
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = &p["/tenants/".len()..p.len() - "/saml-trace".len()];
                if self.state.config().tenant_named(name).is_none() {
                    return reply(404, text, format!("no tenant named {name:?}\n"));
                }
                reply(200, text, self.state.saml_trace.render(name))
            }
            (m, p) if p.starts_with("/tenants/") && p.ends_with("/members") => {
                if !self.authorized(req) {
                    return reply(401, text, "admin token required\n");
                }
                let name = p["/tenants/".len()..p.len() - "/members".len()].to_string();
                match m {
                    "GET" => {
                        let query = req.uri.query().unwrap_or("").to_string();
                        self.list_members(&name, &query)
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
                    }
                    _ => reply(405, text, "GET or POST\n"),
                }
            }
            _ => reply(404, text, "not found\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &str) -> SocketAddr {
        a.parse().unwrap()
    }

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_listener_answers_to_its_own_address_only() {
        let l = addr("127.0.0.1:9090");
        for ok in [
            "127.0.0.1",
            "127.0.0.1:9090",
            "localhost",
            "LocalHost:9090",
            "[::1]",
            "[::1]:9090",
        ] {
            assert!(own_host(l, &[], ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:9090",
            "127.0.0.1:80",
            "127.0.0.1:",
            "127.0.0.1:+9090",
            "localhost.:9090",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.5:9090",
            "127.0.0.2:9090",
            "::1",
            "[::1",
            "[::1]x",
            "",
            ":9090",
            "0x7f000001",
        ] {
            assert!(!own_host(l, &[], bad), "{bad}");
        }
    }

    #[test]
    fn other_listeners_and_configured_names() {
        let lan = addr("10.0.0.5:9090");
        assert!(own_host(lan, &[], "10.0.0.5:9090"));
        assert!(
            !own_host(lan, &[], "localhost:9090"),
            "not bound to loopback"
        );
        assert!(!own_host(lan, &[], "10.0.0.6:9090"));
        let names = ["portero-admin.internal".to_string()];
        assert!(own_host(lan, &names, "Portero-Admin.internal:9090"));
        assert!(!own_host(
            lan,
            &names,
            "portero-admin.internal.attacker.example"
        ));
        let any = addr("0.0.0.0:9090");
        for ok in ["10.1.2.3:9090", "[fd00::1]:9090", "localhost"] {
            assert!(own_host(any, &[], ok), "{ok}");
        }
        assert!(!own_host(any, &[], "attacker.example:9090"));
        let v6 = addr("[::1]:9090");
        assert!(own_host(v6, &[], "[::1]:9090") && own_host(v6, &[], "127.0.0.1:9090"));
    }

    #[test]
    fn anything_a_web_page_sends_is_refused() {
        let l = addr("127.0.0.1:9090");
        let guard = |h: &[(&'static str, &str)]| browser_guard(l, &[], None, &headers(h));
        assert_eq!(guard(&[("host", "127.0.0.1:9090")]), Ok(()));
        assert_eq!(guard(&[]), Ok(()), "no Host: no browser");
        assert_eq!(
            guard(&[("host", "127.0.0.1:9090"), ("sec-fetch-site", "none")]),
            Ok(()),
            "typed in the address bar"
        );
        for origin in ["http://attacker.example", "null", "http://127.0.0.1:9090"] {
            assert_eq!(
                guard(&[("host", "127.0.0.1:9090"), ("origin", origin)]),
                Err(FromBrowser::FromPage),
                "{origin}"
            );
        }
        for site in ["cross-site", "same-site", "same-origin", "garbage"] {
            assert_eq!(
                guard(&[("host", "127.0.0.1:9090"), ("sec-fetch-site", site)]),
                Err(FromBrowser::FromPage),
                "{site}"
            );
        }
        assert_eq!(
            guard(&[("host", "attacker.example:9090")]),
            Err(FromBrowser::ForeignHost("attacker.example:9090".into()))
        );
        assert_eq!(
            guard(&[("host", "127.0.0.1:9090"), ("host", "attacker.example")]),
            Err(FromBrowser::ManyHosts)
        );
        // An absolute request target names a host too.
        assert!(browser_guard(
            l,
            &[],
            Some("attacker.example"),
            &headers(&[("host", "127.0.0.1")])
        )
        .is_err());
    }

    #[test]
    fn the_token_is_compared_whole() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for bad in [
            "",
            "s3cret",
            "s3cret-token ",
            "S3cret-token",
            "s3cret-tokens",
        ] {
            assert!(!token_matches(bad, "s3cret-token"), "{bad}");
        }
    }
}
