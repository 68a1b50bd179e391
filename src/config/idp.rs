//! A tenant's identity providers: `[tenant.saml]`, `[tenant.oidc]` and
//! `[tenant.external_sso]` (one of each at most).

use super::context::Ctx;
use super::raw::{RawExternalSso, RawOidc, RawSaml, RawTenant};
use super::secret;
use crate::auth::external_jwt::{parse_alg, ExternalSso};
use crate::auth::oidc::{ClaimNames, ClientAuth, OidcRp};
use crate::auth::saml::{AttributeNames, IdpMetadata, IdpSource, SamlSp, SpEntityId, SpSigning};
use crate::remote::Remote;
use portero_policy::Idp;
use std::sync::Arc;

/// A tenant's identity providers, compiled.
pub(super) struct Providers {
    /// `[tenant.external_sso]`, when configured and sound.
    pub(super) external_sso: Option<ExternalSso>,
    /// `[tenant.saml]`, when configured and sound.
    pub(super) saml: Option<Arc<SamlSp>>,
    /// `[tenant.oidc]`, when configured and sound.
    pub(super) oidc: Option<Arc<OidcRp>>,
    /// The providers configured, in button order.
    pub(super) idps: Vec<Idp>,
    /// Where `auto_redirect` goes (`default_idp`, or the only provider).
    pub(super) default_idp: Option<Idp>,
}

/// Each provider the tenant configures, then which one is the default.
/// `auto_redirect`: the tenant's `sso_mode` sends visitors straight to it.
pub(super) fn compile(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    w: &str,
    auto_redirect: bool,
) -> Providers {
    let external_sso = raw
        .external_sso
        .as_ref()
        .and_then(|e| compile_external(cx, e, w));
    let saml = raw
        .saml
        .as_ref()
        .and_then(|s| compile_saml(cx, s.get_ref(), raw.name.get_ref(), w, auto_redirect))
        .map(Arc::new);
    let oidc = raw
        .oidc
        .as_ref()
        .and_then(|o| compile_oidc(cx, o.get_ref(), w, auto_redirect))
        .map(Arc::new);
    let mut idps = Vec::new();
    if raw.saml.is_some() {
        idps.push(Idp::Saml);
    }
    if raw.oidc.is_some() {
        idps.push(Idp::Oidc);
    }
    if raw.external_sso.is_some() {
        idps.push(Idp::External);
    }
    let default_idp = match &raw.default_idp {
        Some(d) => {
            let parsed = match d.get_ref().as_str() {
                "saml" => Some(Idp::Saml),
                "oidc" => Some(Idp::Oidc),
                "external" => Some(Idp::External),
                other => {
                    cx.err(
                        d.span(),
                        format!("{w}: default_idp `{other}` is not one of saml, oidc, external"),
                    );
                    None
                }
            };
            if let Some(p) = parsed {
                if !idps.contains(&p) {
                    cx.err(
                        d.span(),
                        format!(
                            "{w}: default_idp `{}` is not configured for this tenant",
                            p.as_str()
                        ),
                    );
                }
            }
            parsed
        }
        None if idps.len() > 1 => {
            cx.err(raw.name.span(), format!("{w}: it has {} identity providers; set default_idp to say where auto_redirect goes", idps.len()));
            None
        }
        None => idps.first().copied(),
    };
    if idps.is_empty() {
        cx.warn(
            raw.name.span(),
            format!("{w}: no identity provider ([tenant.saml], [tenant.oidc] or [tenant.external_sso]): whoever is sent to SSO sees an error page"),
        );
    }
    Providers {
        external_sso,
        saml,
        oidc,
        idps,
        default_idp,
    }
}

/// `[tenant.external_sso]`: the sign-in page, the key of its tokens, their
/// algorithm and age.
fn compile_external(cx: &mut Ctx<'_>, raw: &RawExternalSso, w: &str) -> Option<ExternalSso> {
    let url = match url::Url::parse(raw.url.get_ref()) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Some(u),
        _ => {
            cx.err(
                raw.url.span(),
                format!(
                    "{w}: external_sso.url `{}` is not an http(s) URL",
                    raw.url.get_ref()
                ),
            );
            None
        }
    };
    let alg = match &raw.jwt_alg {
        Some(a) => match parse_alg(a.get_ref()) {
            Ok(a) => Some(a),
            Err(e) => {
                cx.err(a.span(), format!("{w}: external_sso.jwt_alg: {e}"));
                None
            }
        },
        None => Some(jsonwebtoken::Algorithm::HS256),
    };
    let key = cx.secret(&raw.jwt_key, &format!("{w} external_sso.jwt_key"));
    let max_age = cx.duration(
        &raw.max_token_age,
        300,
        &format!("{w} external_sso.max_token_age"),
    );
    let (url, alg, key) = (url?, alg?, key?);
    match ExternalSso::new(url, raw.forced.unwrap_or(false), alg, &key, max_age) {
        Ok(mut e) => {
            e.allow_idp_initiated = raw.allow_idp_initiated.unwrap_or(false);
            Some(e)
        }
        Err(e) => {
            cx.err(
                raw.jwt_key.span(),
                format!("{w}: external_sso.jwt_key: {e}"),
            );
            None
        }
    }
}

/// `[tenant.saml]`: the IdP's metadata (a file, or a URL kept fresh),
/// the SP's entity ID, attribute mapping, signing key, single logout.
fn compile_saml(
    cx: &mut Ctx<'_>,
    raw: &RawSaml,
    tenant: &str,
    w: &str,
    auto_redirect: bool,
) -> Option<SamlSp> {
    let md = raw.idp_metadata.get_ref();
    let span = raw.idp_metadata.span();
    let refresh = cx.duration(
        &raw.metadata_refresh,
        3600,
        &format!("{w} saml.metadata_refresh"),
    );
    let idp = if md.contains("://") {
        if let Err(e) = crate::outbound::check_url(md) {
            cx.err(span, format!("{w}: SAML idp_metadata `{md}`: {e}"));
            return None;
        }
        let remote = Arc::new(Remote::new(md, "SAML metadata", refresh, |xml| {
            IdpMetadata::parse(xml).map_err(|e| e.to_string())
        }));
        cx.remote.push(remote.clone());
        IdpSource::Url(remote)
    } else {
        if let Some(r) = &raw.metadata_refresh {
            cx.warn(r.span(), format!("{w}: saml.metadata_refresh only applies to metadata from a URL; a file is read at start and on reload"));
        }
        let path = secret::resolve_path(md, &cx.dir);
        cx.note_read(&path);
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|xml| IdpMetadata::parse(&xml).map_err(|e| e.to_string()));
        match parsed {
            Ok(m) => IdpSource::File(Arc::new(m)),
            Err(e) => {
                cx.err(
                    span,
                    format!("{w}: SAML idp_metadata `{}`: {e}", path.display()),
                );
                return None;
            }
        }
    };
    let specific = raw
        .tenant_specific_issuer
        .as_ref()
        .is_some_and(|t| *t.get_ref());
    let entity = match (&raw.sp_entity_id, specific) {
        (Some(id), true) => {
            cx.err(
                id.span(),
                format!("{w}: sp_entity_id and tenant_specific_issuer both name the SP; keep one"),
            );
            SpEntityId::PerHost
        }
        (Some(id), false) if id.get_ref().trim().is_empty() => {
            cx.err(id.span(), format!("{w}: sp_entity_id is empty"));
            SpEntityId::PerHost
        }
        (Some(id), false) => SpEntityId::Fixed(id.get_ref().clone()),
        (None, true) => SpEntityId::Fixed(format!("urn:portero:tenant:{tenant}")),
        (None, false) => SpEntityId::PerHost,
    };
    let a = raw.attributes.clone();
    let attributes = AttributeNames {
        email: a.as_ref().and_then(|a| a.email.clone()),
        name: a.as_ref().and_then(|a| a.name.clone()),
        first_name: a.as_ref().and_then(|a| a.first_name.clone()),
        last_name: a.as_ref().and_then(|a| a.last_name.clone()),
        roles: a.as_ref().and_then(|a| a.roles.clone()),
        username: a.as_ref().and_then(|a| a.username.clone()),
    };
    let mut sp = SamlSp::new(idp, attributes, raw.allow_idp_initiated.unwrap_or(false));
    sp.entity = entity;
    sp.trace = raw.trace.unwrap_or(true);
    match (&raw.sp_signing_key, &raw.sp_certificate) {
        (Some(k), Some(c)) => {
            let key = cx.secret(k, &format!("{w} saml.sp_signing_key"));
            let cert = cx.secret(c, &format!("{w} saml.sp_certificate"));
            if let (Some(key), Some(cert)) = (key, cert) {
                match SpSigning::from_pem(&key, &cert) {
                    Ok(s) => sp.signing = Some(s),
                    Err(e) => cx.err(
                        k.span(),
                        format!("{w}: saml.sp_signing_key / sp_certificate: {e}"),
                    ),
                }
            }
        }
        (Some(one), None) | (None, Some(one)) => {
            cx.err(
                one.span(),
                format!("{w}: saml.sp_signing_key and saml.sp_certificate go together"),
            );
        }
        (None, None) => {}
    }
    if let Some(slo) = &raw.single_logout {
        sp.single_logout = *slo.get_ref();
        // Metadata from a URL is not here yet; the logout page says so if
        // it still has no SLO endpoint when used.
        if let IdpSource::File(m) = &sp.idp {
            if sp.single_logout && m.slo_url.is_none() {
                cx.err(slo.span(), format!("{w}: single_logout is on but the IdP metadata has no SingleLogoutService with the HTTP-Redirect binding"));
            }
        }
        if sp.single_logout && auto_redirect {
            cx.warn(slo.span(), format!("{w}: single_logout with sso_mode = \"auto_redirect\": after logging out, the next panel request goes straight back to the IdP"));
        }
    }
    Some(sp)
}

/// `[tenant.oidc]`: issuer (discovery kept fresh), client, scopes, claims.
fn compile_oidc(cx: &mut Ctx<'_>, raw: &RawOidc, w: &str, auto_redirect: bool) -> Option<OidcRp> {
    let issuer = raw.issuer.get_ref();
    if let Err(e) = crate::outbound::check_url(issuer) {
        cx.err(
            raw.issuer.span(),
            format!("{w}: oidc.issuer `{issuer}`: {e}"),
        );
        return None;
    }
    if raw.client_id.get_ref().trim().is_empty() {
        cx.err(
            raw.client_id.span(),
            format!("{w}: oidc.client_id is empty"),
        );
    }
    let secret = cx.secret(&raw.client_secret, &format!("{w} oidc.client_secret"))?;
    let client_auth = match raw.client_auth.as_ref().map(|a| a.get_ref().as_str()) {
        None | Some("client_secret_basic") => ClientAuth::Basic,
        Some("client_secret_post") => ClientAuth::Post,
        Some(other) => {
            let span = raw.client_auth.as_ref().map(|a| a.span()).unwrap_or(0..0);
            cx.err(span, format!("{w}: oidc.client_auth `{other}` is not client_secret_basic or client_secret_post"));
            ClientAuth::Basic
        }
    };
    let refresh = cx.duration(
        &raw.discovery_refresh,
        3600,
        &format!("{w} oidc.discovery_refresh"),
    );
    let mut claims = ClaimNames::default();
    if let Some(c) = &raw.claims {
        if let Some(e) = &c.email {
            claims.email = e.clone();
        }
        if let Some(n) = &c.name {
            claims.name = n.clone();
        }
        if c.first_name.is_some() || c.last_name.is_some() {
            cx.warn(raw.issuer.span(), format!("{w}: oidc.claims first_name/last_name are not used; name the full-name claim with `name`"));
        }
        claims.roles = c.roles.clone();
        claims.username = c.username.clone();
    }
    let scopes = raw
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    let mut rp = OidcRp::new(
        issuer,
        raw.client_id.get_ref(),
        &secret,
        client_auth,
        &scopes,
        claims,
        refresh,
    );
    rp.require_verified_email = raw.require_verified_email.unwrap_or(false);
    if let Some(slo) = &raw.single_logout {
        rp.single_logout = *slo.get_ref();
        if rp.single_logout && auto_redirect {
            cx.warn(slo.span(), format!("{w}: single_logout with sso_mode = \"auto_redirect\": after logging out, the next panel request goes straight back to the provider"));
        }
    }
    cx.remote.push(rp.discovery.clone());
    Some(rp)
}
