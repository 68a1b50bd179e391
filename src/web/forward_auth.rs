//! `/.portero/auth`: forward-auth for a proxy in front (nginx
//! `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`).

use super::refusals::unauthorized;
use super::routes::render;
use super::Reply;
use crate::config::{Config, Tenant};
use crate::gate::{self, Outcome, Seen};
use crate::state::State;
use portero_policy::ForwardAuth;

/// `/.portero/auth`: forward-auth for nginx `auth_request` and Traefik
/// `forwardAuth`. The path judged is `X-Forwarded-Uri`/`X-Original-URI`
/// when the caller is a trusted proxy, `/` otherwise. The policy decides
/// for the proxy that asks ([`ForwardAuth`]): nginx sends `X-Original-URI`
/// and reads allow or deny only; Traefik passes a redirect on.
pub(super) async fn forward_auth(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
) -> Reply {
    let uri = seen
        .peer_trusted
        .then(|| seen.req.forwarded_uri.or(seen.req.original_uri))
        .flatten()
        .unwrap_or("/");
    let (path, query) = uri
        .split_once('?')
        .map_or((uri, None), |(p, q)| (p, Some(q)));
    let Ok(decision_path) = gate::judged_path(tenant, path) else {
        return Reply::text(400, "bad forwarded path\n");
    };
    if decision_path.starts_with("/.portero/") {
        return Reply::empty(200);
    }
    let inner = crate::gate::RequestView {
        path,
        query,
        ..seen.req.clone()
    };
    let judged = Seen {
        req: &inner,
        tenant_index: seen.tenant_index,
        authority: seen.authority.clone(),
        path: decision_path,
        client_ip: seen.client_ip,
        peer_trusted: seen.peer_trusted,
        accepts_html: seen.accepts_html,
        forward_auth: Some(if seen.req.original_uri.is_some() {
            ForwardAuth::AllowOrDeny
        } else {
            ForwardAuth::PassesRedirects
        }),
        session: seen.session.clone(),
        identified_as: seen.identified_as.clone(),
        cookie_conflict: seen.cookie_conflict,
        lang: seen.lang,
    };
    let ruling = gate::rule_on(state, cfg, tenant, &judged).await;
    match ruling.outcome {
        Outcome::Forward { identity } => {
            let mut r = Reply::empty(200);
            r.headers
                .extend(identity.iter().flat_map(|h| h.iter().cloned()));
            r
        }
        outcome => {
            let r = render(state, Some(tenant), Some(&judged), &outcome, judged.lang);
            // The rules answer forward-auth only with what its proxy can
            // carry back; a page the reply could not be built into (a
            // conflicting cookie, a sign-in that could not start) is a 401
            // to the proxy as well.
            if matches!(r.status, 302 | 401 | 403) || matches!(outcome, Outcome::MembersUnavailable)
            {
                r
            } else {
                unauthorized(tenant)
            }
        }
    }
}
