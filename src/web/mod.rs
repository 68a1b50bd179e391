//! Everything Portero answers itself: the reserved `/.portero/` paths (rule
//! 1), redirects to sign in, and the error pages. [`respond`] is the one
//! place a gate [`Verdict`] becomes a [`Reply`]; handlers take the facts of
//! a request ([`Seen`]) and return a reply; the proxy writes it out.

mod accounts;
pub mod external;
pub mod flow;
pub mod form;
pub mod i18n;
mod invitations;
pub mod oidc;
pub mod pages;
pub mod return_to;
pub mod saml;
pub mod signin;

use crate::config::{Config, Tenant};
use crate::gate::{self, Outcome, Seen, Verdict};
use crate::state::State;
use bytes::Bytes;
pub use form::{BadFields, Fields};
use http::{HeaderName, HeaderValue};
use i18n::{tr, trf, Lang};
use portero_policy::{ForwardAuth, Idp};

/// A response Portero sends itself.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, `Content-Type` and `Content-Length` included.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
    /// A started sign-in to keep before the reply goes out (see [`Remember`]).
    pub remember: Option<Box<Remember>>,
}

/// A started sign-in (SAML request, OpenID Connect `state`, external-SSO
/// `state`) that the proxy writes to the one-time store before sending the
/// reply that carries its id to the browser ([`keep_started`]); when it
/// cannot be kept, the visitor gets a page saying why instead (a sign-in
/// that could never finish is not started).
#[derive(Debug, Clone)]
pub struct Remember {
    /// The key (`saml:<request id>`, `oidc:<state>`, `ext:<state>`).
    pub key: String,
    /// The record (JSON).
    pub value: String,
    /// How long it is kept.
    pub ttl: std::time::Duration,
    /// The client address that started it (its budget pays for it).
    pub client: std::net::IpAddr,
}

/// Headers on every page Portero writes: not cached, not framed, no scripts.
const PAGE_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    ),
];

impl Reply {
    /// A reply with no body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            remember: None,
        }
    }

    /// A reply with a body of the given type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply::empty(status)
            .header("content-type", content_type)
            .body(body)
    }

    /// An HTML page.
    pub fn html(status: u16, html: String) -> Reply {
        let mut r = Reply::with_body(status, "text/html; charset=utf-8", html);
        for (k, v) in PAGE_HEADERS {
            r = r.header(k, v);
        }
        r
    }

    /// Plain text (API clients).
    pub fn text(status: u16, text: &str) -> Reply {
        Reply::with_body(status, "text/plain; charset=utf-8", text.to_string())
            .header("cache-control", "no-store")
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::empty(302)
            .header("location", location)
            .header("cache-control", "no-store")
    }

    /// Adds a header; a value that is not valid header text is dropped.
    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// Adds a `Set-Cookie`.
    pub fn cookie(self, set_cookie: &str) -> Reply {
        self.header("set-cookie", set_cookie)
    }

    /// Keeps `record` under `key` for `ttl` before this reply is sent,
    /// paid for by `client`'s budget of started sign-ins (a record that
    /// cannot be written down is a 500 page in `lang`).
    pub fn remember(
        mut self,
        key: String,
        record: &impl serde::Serialize,
        ttl: std::time::Duration,
        client: std::net::IpAddr,
        lang: Lang,
    ) -> Reply {
        match serde_json::to_string(record) {
            Ok(value) => {
                self.remember = Some(Box::new(Remember {
                    key,
                    value,
                    ttl,
                    client,
                }));
                self
            }
            Err(_) => Reply::html(500, internal_error_page(lang)),
        }
    }

    fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = body.into();
        self
    }
}

/// Turns the gate's verdict into the reply Portero sends (for every
/// outcome but a forward, which the proxy carries out), the started
/// sign-in a reply carries kept first ([`keep_started`]).
pub async fn respond(state: &State, cfg: &Config, verdict: &Verdict<'_>) -> Reply {
    let tenant = verdict.tenant.and_then(|i| cfg.tenants.get(i));
    let reply = match (&verdict.outcome, tenant, &verdict.seen) {
        (Outcome::Reserved, Some(tenant), Some(seen)) => answer(state, cfg, tenant, seen).await,
        (outcome, _, seen) => render(state, tenant, seen.as_ref(), outcome, verdict.lang),
    };
    keep_started(state, cfg, tenant, verdict.lang, reply).await
}

/// The page, redirect or refusal for an outcome of the rules (not a
/// reserved path, not a forward), its pages in `lang`.
fn render(
    state: &State,
    tenant: Option<&Tenant>,
    seen: Option<&Seen<'_>>,
    outcome: &Outcome,
    lang: Lang,
) -> Reply {
    match outcome {
        Outcome::BadHost(bad) => return bad_host(lang, bad.message()),
        Outcome::UnknownHost => return unknown_host(lang),
        _ => {}
    }
    let Some(tenant) = tenant else {
        return unknown_host(lang);
    };
    if let Outcome::BadPath(bad) = outcome {
        return tenant_page(
            tenant,
            lang,
            400,
            "Bad request",
            bad.message(),
            &[("/", "Home")],
        );
    }
    let Some(seen) = seen else {
        return Reply::html(500, internal_error_page(lang));
    };
    match outcome {
        Outcome::Forbidden { user, account } => forbidden(tenant, lang, user, account),
        Outcome::MembersUnavailable => members_unavailable(tenant, lang),
        Outcome::PickAccount if seen.follows_redirects() => Reply::redirect(&format!(
            "/.portero/accounts?return_to={}",
            pages::query_encode(&seen.path_and_query())
        )),
        Outcome::PickAccount => Reply::text(
            403,
            "No account chosen yet: choose one at /.portero/accounts\n",
        ),
        Outcome::CookieConflict => cookie_conflict(tenant, lang),
        Outcome::SignInPage => to_sign_in_page(&seen.path_and_query()),
        Outcome::Sso(idp) => to_idp(state, tenant, seen, *idp, &seen.path_and_query(), None),
        Outcome::NoIdp => no_idp(tenant, lang),
        Outcome::Unauthorized => unauthorized(tenant),
        Outcome::BadHost(_)
        | Outcome::UnknownHost
        | Outcome::BadPath(_)
        | Outcome::Reserved
        | Outcome::Forward { .. }
        | Outcome::InternalError => Reply::html(500, internal_error_page(lang)),
    }
}

/// Rule 1: answers a reserved path. The ends of a sign-in (the OpenID
/// Connect callback, the SAML ACS, the external SSO hand-back) and a logout
/// read the request first, then wait on the one-time store (which may be
/// Redis) and, for the first, on the provider.
async fn answer(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    if let Err(bad) = check_fields(seen) {
        return bad_fields(tenant, seen, &bad);
    }
    match (seen.path.trim_end_matches('/'), seen.req.method) {
        ("/.portero/oidc/callback", "GET" | "HEAD") => {
            flow::answer::<oidc::Oidc>(state, cfg, tenant, seen).await
        }
        ("/.portero/saml/acs", "POST") => {
            flow::answer::<saml::Saml>(state, cfg, tenant, seen).await
        }
        ("/.portero/jwt/callback", "GET" | "HEAD") => {
            flow::answer::<external::External>(state, cfg, tenant, seen).await
        }
        ("/.portero/logout", "GET" | "HEAD" | "POST") => {
            match signin::logout(state, cfg, tenant, seen) {
                Ok(job) => signin::finish_logout(state, job).await,
                Err(reply) => reply,
            }
        }
        ("/.portero/auth", _) => forward_auth(state, cfg, tenant, seen).await,
        _ => reply(state, cfg, tenant, seen),
    }
}

/// Every other reserved path (its pages in the request's language).
fn reply(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    /// What a reserved path does with a method.
    enum Method {
        Read,
        Post,
        Other,
    }
    let method = match seen.req.method {
        "GET" | "HEAD" => Method::Read,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    use Method::{Post, Read};
    match (seen.path.trim_end_matches('/'), method) {
        ("/.portero/login", Read) => signin::login_page(state, cfg, tenant, seen),
        ("/.portero/login", Post) => signin::login_submit(state, cfg, tenant, seen),
        ("/.portero/sso/external", Read) => {
            signin::start_sso(state, cfg, tenant, seen, Idp::External)
        }
        ("/.portero/sso/saml", Read) => signin::start_sso(state, cfg, tenant, seen, Idp::Saml),
        ("/.portero/sso/oidc", Read) => signin::start_sso(state, cfg, tenant, seen, Idp::Oidc),
        ("/.portero/saml/metadata", Read) => saml::metadata(tenant, seen),
        ("/.portero/saml/slo", Read) => saml::slo(state, cfg, tenant, seen),
        ("/.portero/accounts", Read) => accounts::list(state, cfg, tenant, seen),
        ("/.portero/accounts", Post) => accounts::choose(state, cfg, tenant, seen),
        ("/.portero/invitations", Read) => invitations::show(state, tenant, seen),
        ("/.portero/invitations", Post) => invitations::decide(state, cfg, tenant, seen),
        ("/.portero/jwks.json", Read) => Reply::with_body(
            200,
            "application/json",
            cfg.assertion.jwks_json().to_string(),
        )
        .header("cache-control", "public, max-age=300"),
        ("/.portero/assets/portero.css", Read) => {
            Reply::with_body(200, "text/css; charset=utf-8", pages::BASE_CSS)
                .header("cache-control", "public, max-age=3600")
        }
        ("/.portero/assets/logo", Read) => match &tenant.logo {
            Some((bytes, kind)) => Reply::with_body(200, kind, bytes.clone())
                .header("cache-control", "public, max-age=3600")
                .header("x-content-type-options", "nosniff")
                .header(
                    "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            None => not_found(tenant, seen.lang),
        },
        ("/.portero/assets/tenant.css", Read) => Reply::with_body(
            200,
            "text/css; charset=utf-8",
            tenant.css.clone().unwrap_or_default(),
        )
        .header("cache-control", "public, max-age=300"),
        (path, _) if KNOWN.contains(&path) => tenant_page(
            tenant,
            seen.lang,
            405,
            "Method not allowed",
            "This address does not take that method.",
            &[],
        )
        .header("allow", "GET, HEAD, POST"),
        _ => not_found(tenant, seen.lang),
    }
}

/// No such page under `/.portero/`.
pub fn not_found(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        404,
        "Not found",
        "There is no page at this address.",
        &[("/", "Home")],
    )
}

/// The reserved paths that exist (for 405 rather than 404).
const KNOWN: [&str; 12] = [
    "/.portero/login",
    "/.portero/sso/external",
    "/.portero/sso/saml",
    "/.portero/sso/oidc",
    "/.portero/jwt/callback",
    "/.portero/oidc/callback",
    "/.portero/accounts",
    "/.portero/invitations",
    "/.portero/logout",
    "/.portero/jwks.json",
    "/.portero/assets/portero.css",
    "/.portero/assets/tenant.css",
];

/// `/.portero/auth`: forward-auth for nginx `auth_request` and Traefik
/// `forwardAuth`. The path judged is `X-Forwarded-Uri`/`X-Original-URI`
/// when the caller is a trusted proxy, `/` otherwise. The policy decides
/// for the proxy that asks ([`ForwardAuth`]): nginx sends `X-Original-URI`
/// and reads allow or deny only; Traefik passes a redirect on.
async fn forward_auth(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
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
    let decided = gate::decide(state, cfg, tenant, &judged).await;
    match decided.outcome {
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

/// Every reserved path but forward-auth (which judges another request)
/// refuses, before any handler reads it, a query string or POST body with a
/// repeated field, non-UTF-8 text, or a body that is not a URL-encoded
/// UTF-8 form (see [`form`]).
fn check_fields(seen: &Seen<'_>) -> Result<(), BadFields> {
    if seen.path.trim_end_matches('/') == "/.portero/auth" {
        return Ok(());
    }
    query_fields(seen)?;
    if seen.req.method == "POST" {
        body_fields(seen)?;
    }
    Ok(())
}

/// This request's query string, read strictly (a repeated field is an
/// error, not a first or last value).
pub fn query_fields(seen: &Seen<'_>) -> Result<Fields, BadFields> {
    Fields::parse(seen.req.query.unwrap_or("").as_bytes())
}

/// This request's form body, read strictly: a URL-encoded UTF-8 form, each
/// field at most once.
pub fn body_fields(seen: &Seen<'_>) -> Result<Fields, BadFields> {
    form::check_content_type(seen.req.content_type, seen.req.body)?;
    Fields::parse(seen.req.body)
}

/// [`query_fields`], or the 400 that answers a refused query string.
pub fn read_query(tenant: &Tenant, seen: &Seen<'_>) -> Result<Fields, Reply> {
    query_fields(seen).map_err(|bad| bad_fields(tenant, seen, &bad))
}

/// [`body_fields`], or the 400 that answers a refused form.
pub fn read_form(tenant: &Tenant, seen: &Seen<'_>) -> Result<Fields, Reply> {
    body_fields(seen).map_err(|bad| bad_fields(tenant, seen, &bad))
}

/// A refused form or query string: 400, a page in the tenant's look (in
/// the request's language) for browsers, plain text for other clients.
/// Nothing was acted on.
pub fn bad_fields(tenant: &Tenant, seen: &Seen<'_>, bad: &BadFields) -> Reply {
    let lang = seen.lang;
    let message = match bad {
        BadFields::Repeated(name) => trf(
            lang,
            "The field “{}” was sent more than once, so nothing was done.",
            &[&name.chars().take(40).collect::<String>()],
        ),
        BadFields::NotUtf8 => tr(
            lang,
            "A field was not valid text (UTF-8), so nothing was done.",
        )
        .to_string(),
        BadFields::ContentType(_) => tr(
            lang,
            "The form was not sent as a web form in UTF-8, so nothing was done.",
        )
        .to_string(),
    };
    if seen.accepts_html {
        tenant_page(tenant, lang, 400, "Bad request", &message, &[])
    } else {
        Reply::text(400, &format!("{bad}\n"))
    }
}

/// Whether a form POST came from this very origin: the `Origin` header
/// (else the `Referer`) must name the request's own scheme, host and port
/// (default ports normalised; `Origin: null` and unreadable values are
/// refused). A request with neither is not a browser's cross-site form
/// (browsers send `Origin` on every POST) and is let through.
pub fn same_origin(seen: &Seen<'_>) -> bool {
    let Some(claimed) = seen.req.origin.or(seen.req.referer) else {
        return true;
    };
    match (
        origin_of(claimed),
        own_origin(seen.req.tls, seen.authority.as_str()),
    ) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => false,
    }
}

/// Scheme, host and port (known defaults filled in) of a URL.
fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some((u.scheme().to_string(), host, u.port_or_known_default()?))
}

/// The origin a request reached: its listener's scheme and its `Host`.
fn own_origin(tls: bool, authority: &str) -> Option<(String, String, u16)> {
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return None;
    }
    let scheme = if tls { "https" } else { "http" };
    origin_of(&format!("{scheme}://{authority}/"))
}

/// The request carried Portero's session (or classic-login) cookie twice,
/// so neither is believed; signing in again would not help while the other
/// one (perhaps planted by a sibling site) is still in the browser.
pub fn cookie_conflict(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        400,
        "Conflicting sign-in cookies",
        &trf(
            lang,
            "Your browser sent two sign-in cookies for {}; one of them may have been set by another site under the same domain, so neither is trusted. Remove this site's cookies in your browser (or use a private window), then sign in again.",
            &[&tenant.display_name],
        ),
        &[],
    )
}

/// A page in the tenant's look, in `lang`: title, one sentence, links that
/// lead on.
pub fn tenant_page(
    tenant: &Tenant,
    lang: Lang,
    status: u16,
    title: &str,
    message: &str,
    links: &[(&str, &str)],
) -> Reply {
    Reply::html(
        status,
        pages::error(&tenant.brand(), lang, title, message, links),
    )
}

/// `302` to the sign-in page, carrying where the visitor was going.
pub fn to_sign_in_page(return_to: &str) -> Reply {
    Reply::redirect(&format!(
        "/.portero/login?return_to={}",
        pages::query_encode(return_to)
    ))
}

/// "Sent to SSO" with one identity provider: `302` to it, or a clear page
/// when it cannot be reached from this build. Every sign-in Portero starts
/// goes through here: `return_to` longer than [`return_to::MAX_LEN`] falls
/// back to `/`, so no started sign-in holds more. Its pages are in the
/// request's language.
pub fn to_idp(
    state: &State,
    tenant: &Tenant,
    seen: &Seen<'_>,
    idp: Idp,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let return_to = return_to::bounded(return_to);
    match idp {
        Idp::External => match &tenant.external_sso {
            Some(ext) => external::to_external(tenant, ext, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
        Idp::Saml => match &tenant.saml {
            Some(sp) => saml::start(state, tenant, sp, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
        Idp::Oidc => match &tenant.oidc {
            Some(rp) => oidc::start(tenant, rp, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
    }
}

/// Keeps the sign-in a reply starts (if any) before the reply goes out:
/// the client address must have budget left ([`crate::budget`], else a
/// 429 page), and the store room ([`crate::onetime::NotKept::Full`], a 503
/// page; what was started before is never pushed out) and an answer (else
/// the "signing in is not possible" page).
pub async fn keep_started(
    state: &State,
    cfg: &Config,
    tenant: Option<&Tenant>,
    lang: Lang,
    mut reply: Reply,
) -> Reply {
    let Some(started) = reply.remember.take() else {
        return reply;
    };
    let now = state.now();
    let refused = |reason: &'static str| {
        state.metrics.refused("sign_in_start", reason);
        tracing::warn!(
            tenant = tenant.map_or("", |t| t.name.as_str()),
            client = %started.client,
            "sign-in not started: {reason}"
        );
        match tenant {
            Some(t) => sign_in_start_refused(t, lang, reason),
            None => Reply::empty(503),
        }
    };
    if !state
        .start_budget
        .take(started.client, cfg.server.sign_ins_per_client, now)
    {
        return refused("client_budget");
    }
    match state
        .onetime
        .keep_started(&started.key, started.value, started.ttl, now)
        .await
    {
        Ok(()) => reply,
        Err(crate::onetime::NotKept::Full) => refused("too_many_in_progress"),
        Err(crate::onetime::NotKept::TooLarge) => refused("too_large"),
        Err(crate::onetime::NotKept::Unavailable(e)) => match tenant {
            Some(t) => shared_store_down(state, t, lang, "sign-in not started", &e),
            None => Reply::empty(503),
        },
    }
}

/// A sign-in that was not started: 429 when this address started too
/// many, 503 when too many are in progress everywhere.
fn sign_in_start_refused(tenant: &Tenant, lang: Lang, reason: &str) -> Reply {
    let (status, title, message, retry) = match reason {
        "client_budget" => (
            429,
            "Too many sign-ins started",
            "Too many sign-ins were started from your network in the last few minutes, so this one was not started. Please finish a sign-in you already started, or try again in a minute.",
            "60",
        ),
        _ => (
            503,
            "Too many sign-ins in progress",
            "Too many sign-ins are in progress right now, so this one was not started. Please try again in a minute.",
            "60",
        ),
    };
    tenant_page(tenant, lang, status, title, message, &[("/", "Try again")])
        .header("retry-after", retry)
}

/// The tenant has no such identity provider.
pub fn not_configured(tenant: &Tenant, lang: Lang, idp: Idp) -> Reply {
    let msg = trf(
        lang,
        "{} has no {} configured.",
        &[&tenant.display_name, tr(lang, idp_label(idp))],
    );
    tenant_page(
        tenant,
        lang,
        404,
        "Not configured",
        &msg,
        &[("/.portero/login", "Sign in")],
    )
}

/// The page for an identity provider that cannot be used now (down, or
/// its metadata or discovery never fetched): names the way in that never
/// depends on it (CONTRACT §8).
pub fn idp_unavailable(tenant: &Tenant, lang: Lang, idp: Idp) -> Reply {
    let message = trf(
        lang,
        "{} cannot be reached right now, so {} cannot sign you in with it right now. {}",
        &[
            tr(lang, idp_label(idp)),
            &tenant.display_name,
            &classic_way_in(tenant, lang),
        ],
    );
    tenant_page(
        tenant,
        lang,
        503,
        "Single sign-on unavailable",
        &message,
        &[],
    )
}

/// The tenant has no identity provider for someone who must use one.
pub fn no_idp(tenant: &Tenant, lang: Lang) -> Reply {
    let message = trf(
        lang,
        "{} is not configured, so {} cannot sign you in with it. {}",
        &[
            tr(lang, "Company sign-in"),
            &tenant.display_name,
            &classic_way_in(tenant, lang),
        ],
    );
    tenant_page(
        tenant,
        lang,
        503,
        "Single sign-on unavailable",
        &message,
        &[],
    )
}

/// How super-admins and classic users still get in when SSO cannot be used.
fn classic_way_in(tenant: &Tenant, lang: Lang) -> String {
    match tenant.policy.admin_paths.as_slice().first() {
        Some(admin) if tenant.policy.superadmin_bypass => trf(
            lang,
            "Administrators of this panel can still sign in with the panel's own login at {} (enter your e-mail first).",
            &[admin],
        ),
        _ => tr(lang, "People the panel's own login is kept for can still sign in with their e-mail on the sign-in page.").to_string(),
    }
}

/// The panel has no user for the login a member is mapped to act as: say
/// so, and how to fix it (not a 500, not a loop).
pub fn unknown_impersonation(tenant: &Tenant, lang: Lang, login: &str) -> Reply {
    tenant_page(
        tenant,
        lang,
        409,
        "Unknown panel user",
        &trf(
            lang,
            "Your access to {} is set up to act as the panel user “{}”, which the panel does not have. An administrator can fix this: create that user in the panel, or change the mapping (`impersonate` in the configuration, or `portero accounts {} impersonate --account … --user … --login …`).",
            &[&tenant.display_name, login, &tenant.name],
        ),
        &[("/.portero/accounts", "Your accounts"), ("/.portero/logout", "Sign out")],
    )
}

/// The membership source (the panel's endpoint) cannot answer: a clear
/// page, never someone else's access, never a loop.
pub fn members_unavailable(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        503,
        "Accounts cannot be checked right now",
        &trf(
            lang,
            "{} cannot check which accounts you may enter at the moment. Please try again in a minute.",
            &[&tenant.display_name],
        ),
        &[("/", "Try again")],
    )
}

/// The one-time store (Redis) could not be asked while `what` (a sign-in
/// step): logged, counted, and the visitor gets [`sign_in_unavailable`].
pub fn shared_store_down(
    state: &State,
    tenant: &Tenant,
    lang: Lang,
    what: &str,
    e: &crate::onetime::Unavailable,
) -> Reply {
    tracing::error!(tenant = %tenant.name, "{what}: {e}");
    state
        .metrics
        .refused("shared_store_unavailable", "unreachable");
    sign_in_unavailable(tenant, lang)
}

/// The one-time store (Redis) cannot be reached: no sign-in can start or
/// finish (fail closed); sessions already made keep working.
pub fn sign_in_unavailable(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        503,
        "Signing in is not possible right now",
        &trf(
            lang,
            "{} cannot check sign-ins at the moment, so nothing was signed in. If you are already signed in, you can keep working. Please try again in a minute.",
            &[&tenant.display_name],
        ),
        &[("/", "Try again")],
    )
    .header("retry-after", "30")
}

/// Signed in, but not a member of the account entered.
pub fn forbidden(tenant: &Tenant, lang: Lang, user: &str, account: &str) -> Reply {
    let message = trf(
        lang,
        "You are signed in as {}, but you have no access to the account {}. Choose one of your accounts, or sign out and sign in as someone else.",
        &[user, account],
    );
    tenant_page(
        tenant,
        lang,
        403,
        "No access to this account",
        &message,
        &[
            ("/.portero/accounts", "Your accounts"),
            ("/.portero/logout", "Sign out"),
        ],
    )
}

/// An API or XHR client that must sign in first.
pub fn unauthorized(tenant: &Tenant) -> Reply {
    Reply::text(401, "Sign-in required.\n").header(
        "www-authenticate",
        &format!(
            "Portero realm=\"{}\", login=\"/.portero/login\"",
            tenant.name.replace('"', "")
        ),
    )
}

/// A host no tenant serves.
pub fn unknown_host(lang: Lang) -> Reply {
    Reply::html(
        421,
        pages::error(
            &pages::Brand::default(),
            lang,
            tr(lang, "Unknown host"),
            tr(
                lang,
                "This address is not served here. Check the address you typed.",
            ),
            &[],
        ),
    )
}

/// The request's host cannot be read as one host name (400): it is never
/// looked up, forwarded or guessed at.
pub fn bad_host(lang: Lang, message: &str) -> Reply {
    Reply::html(
        400,
        pages::error(
            &pages::Brand::default(),
            lang,
            tr(lang, "Bad request"),
            tr(lang, message),
            &[],
        ),
    )
}

/// The panel could not be reached.
pub fn upstream_down(tenant: Option<&Tenant>, lang: Lang) -> Reply {
    let brand = tenant.map(Tenant::brand).unwrap_or_default();
    Reply::html(
        502,
        pages::error(
            &brand,
            lang,
            tr(lang, "The panel is not answering"),
            tr(lang, "The control panel could not be reached. This is usually short: try again in a minute."),
            &[("", tr(lang, "Try again"))],
        ),
    )
}

/// Something went wrong inside Portero (the page, in `lang`).
pub fn internal_error_page(lang: Lang) -> String {
    pages::error(
        &pages::Brand::default(),
        lang,
        tr(lang, "Something went wrong"),
        tr(lang, "This request could not be handled. Please try again."),
        &[],
    )
}

/// Where "sent to SSO" leads for one identity provider.
pub fn idp_label(idp: Idp) -> &'static str {
    match idp {
        Idp::Saml => "SAML single sign-on",
        Idp::Oidc => "OpenID Connect single sign-on",
        Idp::External => "Company sign-in",
    }
}
