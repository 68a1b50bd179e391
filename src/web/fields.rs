//! Reading what a reserved path was sent: its query string and form fields
//! (strictly, see [`super::form`]) and whether a form came from this very
//! origin.

use super::form::{self, BadFields, Fields};
use super::i18n::{tr, trf};
use super::refusals::tenant_page;
use super::Reply;
use crate::config::Tenant;
use crate::gate::Seen;

/// Every reserved path but forward-auth (which judges another request)
/// refuses, before any handler reads it, a query string or POST body with a
/// repeated field, non-UTF-8 text, or a body that is not a URL-encoded
/// UTF-8 form (see [`form`]).
pub(super) fn check_fields(seen: &Seen<'_>) -> Result<(), BadFields> {
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

/// A form POST from this very origin ([`same_origin`]), or the 403 page (in
/// the request's language, with `links` to lead on) that refuses one from
/// elsewhere. Nothing was acted on.
pub fn from_this_site(
    tenant: &Tenant,
    seen: &Seen<'_>,
    links: &[(&str, &str)],
) -> Result<(), Reply> {
    if same_origin(seen) {
        return Ok(());
    }
    Err(tenant_page(
        tenant,
        seen.lang,
        403,
        "Not allowed",
        "This form must be sent from this site.",
        links,
    ))
}
