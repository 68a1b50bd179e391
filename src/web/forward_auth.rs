//! `/.portero/auth`: forward-auth for a proxy in front (nginx
//! `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`); the kits
//! are in `examples/front-proxies/` (docs/front-proxies.md).

use super::refusals::unauthorized;
use super::routes::render;
use super::{pages, Reply};
use crate::config::{Config, Tenant};
use crate::gate::{self, Outcome, Seen};
use crate::state::State;
use portero_policy::{Action, ForwardAuth, SessionFact};

/// `/.portero/auth`: forward-auth for nginx `auth_request`, Traefik
/// `forwardAuth` and Caddy `forward_auth`. The path judged is
/// `X-Forwarded-Uri`/`X-Original-URI` when the caller is a trusted proxy,
/// `/` otherwise (the host: see [`gate::evaluate`]). The policy decides for
/// the proxy that asks ([`ForwardAuth`]): nginx sends `X-Original-URI` and
/// reads allow or deny only; Traefik and Caddy pass a redirect on.
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
    let proxy = if seen.req.original_uri.is_some() {
        ForwardAuth::AllowOrDeny
    } else {
        ForwardAuth::PassesRedirects
    };
    let judged = Seen {
        req: &inner,
        tenant_index: seen.tenant_index,
        authority: seen.authority.clone(),
        path: decision_path,
        client_ip: seen.client_ip,
        peer_trusted: seen.peer_trusted,
        accepts_html: seen.accepts_html,
        forward_auth: Some(proxy),
        session: seen.session.clone(),
        identified_as: seen.identified_as.clone(),
        cookie_conflict: seen.cookie_conflict,
        lang: seen.lang,
    };
    let ruling = gate::rule_on(state, cfg, tenant, &judged).await;
    let refused = matches!(ruling.outcome, Outcome::Unauthorized | Outcome::PickAccount);
    let browser_target = (refused && proxy == ForwardAuth::AllowOrDeny)
        .then(|| browser_goes_to(tenant, &judged, ruling.session))
        .flatten();
    if let Some(target) = browser_target {
        return unauthorized(tenant).header("location", &target);
    }
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

/// nginx `auth_request` passes on only allow or deny, so a browser it
/// asked about is refused with `401`; this is where the same browser,
/// reaching Portero directly, would have been sent — the sign-in page, an
/// identity provider's start (`/.portero/sso/…`) or the account picker —
/// for the proxy to redirect to (the kit's `error_page 401`, with this as
/// the `401`'s `Location`). `None` for a client that is not a browser, or
/// when no page would help.
fn browser_goes_to(tenant: &Tenant, judged: &Seen<'_>, session: SessionFact) -> Option<String> {
    if !judged.accepts_html {
        return None;
    }
    let facts = portero_policy::Facts {
        forward_auth: Some(ForwardAuth::PassesRedirects),
        ..judged.facts(session)
    };
    let return_to = pages::query_encode(&judged.path_and_query());
    match portero_policy::decide(&tenant.policy, &facts).action {
        Action::SignInPage => Some(format!("/.portero/login?return_to={return_to}")),
        Action::Sso(idp) => Some(format!(
            "/.portero/sso/{}?return_to={return_to}",
            idp.as_str()
        )),
        Action::PickAccount => Some(format!("/.portero/accounts?return_to={return_to}")),
        _ => None,
    }
}
