//! `[[tenant]]`: its name, hosts, panel, routing policy, account rule,
//! identity headers and certificate; the other sections of a tenant are
//! compiled by [`super::members`], [`super::idp`] and [`super::pages`].

use super::context::Ctx;
use super::model::{Tenant, Upstream};
use super::raw::{RawHeaders, RawTenant, RawTls};
use super::{idp, members, pages, secret};
use crate::auth::normalize_email;
use crate::identity::{AccountRule, Directory, HeaderNames, Membership, Permission, Permissions};
use crate::lang::Lang;
use portero_policy::{HostPattern, HostTable, Idp, NetmaskSet, SsoMode, TenantPolicy};
use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use toml::Spanned;

pub(super) fn compile_tenant(
    cx: &mut Ctx<'_>,
    raw: RawTenant,
    default_reauth: Option<u64>,
    names: &mut HashSet<String>,
    hosts: &mut HostTable<usize>,
    index: usize,
) -> Option<Tenant> {
    let before = cx.errors();
    let name = raw.name.get_ref().clone();
    let w = format!("tenant `{name}`");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        cx.err(
            raw.name.span(),
            format!("{w}: the name may hold only letters, digits, `-`, `_` and `.`"),
        );
    } else if !names.insert(name.clone()) {
        cx.err(
            raw.name.span(),
            format!("{w}: another tenant has the same name"),
        );
    }

    // Hosts.
    if raw.hosts.get_ref().is_empty() {
        cx.err(raw.hosts.span(), format!("{w}: hosts is empty"));
    }
    for h in raw.hosts.get_ref() {
        match HostPattern::parse(h.get_ref()) {
            Ok(p) => {
                let shown = p.to_string();
                if hosts.insert(p, index).is_some() {
                    cx.err(
                        h.span(),
                        format!("{w}: host `{shown}` is already served by an earlier tenant"),
                    );
                }
            }
            Err(e) => cx.err(h.span(), format!("{w}: {e}")),
        }
    }

    let upstream = compile_upstream(cx, &raw.upstream, &w);

    let sso_mode = match raw
        .sso_mode
        .as_ref()
        .map(|m| (m.get_ref().as_str(), m.span()))
    {
        None | Some(("login_page", _)) => SsoMode::LoginPage,
        Some(("auto_redirect", _)) => SsoMode::AutoRedirect,
        Some(("sso_buttons_only", _)) => SsoMode::SsoButtonsOnly,
        Some((other, span)) => {
            cx.err(span, format!("{w}: sso_mode `{other}` is not one of auto_redirect, login_page, sso_buttons_only"));
            SsoMode::LoginPage
        }
    };
    let netmasks = NetmaskSet::new(cx.nets(&raw.netmasks, &format!("{w} netmasks")));
    let super_admins = cx.emails(&raw.super_admins, &format!("{w} super_admins"));
    let classic_users = cx.emails(&raw.classic_users, &format!("{w} classic_users"));
    let admin_paths = cx.paths(&raw.admin_paths, &format!("{w} admin_paths"));
    let bypass_paths = cx.paths(&raw.bypass_paths, &format!("{w} bypass_paths"));
    let superadmin_bypass = raw.superadmin_bypass.unwrap_or(true);
    if superadmin_bypass && !super_admins.is_empty() && admin_paths.as_slice().is_empty() {
        cx.warn(
            raw.name.span(),
            format!("{w}: super_admins are set but admin_paths is empty: with auto_redirect or netmasks they have no way in"),
        );
    }

    let account_rule = compile_account_rule(cx, &raw, &w);
    let reauth = match &raw.reauth {
        Some(r) => cx
            .duration_or_never(r, &format!("{w} reauth"))
            .unwrap_or(default_reauth),
        None => default_reauth,
    };

    // Memberships.
    let mut directory = Directory::default();
    for m in &raw.member {
        let Some(user) = normalize_email(m.user.get_ref()) else {
            cx.err(
                m.user.span(),
                format!(
                    "{w} member: `{}` is not an e-mail address",
                    m.user.get_ref()
                ),
            );
            continue;
        };
        let mut perms = Vec::new();
        for p in m.permissions.get_ref() {
            match Permission::parse(p.get_ref()) {
                Some(p) => perms.push(p),
                None => cx.err(
                    p.span(),
                    format!("{w} member {user}: `{}` is not a permission (admin, commercial, invite, sublogin, technical)", p.get_ref()),
                ),
            }
        }
        if m.permissions.get_ref().is_empty() {
            cx.err(
                m.permissions.span(),
                format!("{w} member {user}: permissions is empty"),
            );
        }
        let account = m.account.get_ref().trim().to_ascii_lowercase();
        if account.is_empty() {
            cx.err(
                m.account.span(),
                format!("{w} member {user}: account is empty"),
            );
        }
        if let Some(AccountRule::Fixed(fixed)) = &account_rule {
            if *fixed != account {
                cx.warn(
                    m.account.span(),
                    format!("{w} member {user}: account `{account}` is never entered: this tenant always enters `{fixed}`"),
                );
            }
        }
        if directory.membership(&user, &account).is_some() {
            cx.err(
                m.user.span(),
                format!("{w}: {user} is listed twice for account {account}"),
            );
        }
        let permissions = Permissions::of(perms);
        directory.add(
            &user,
            m.name.clone(),
            Membership {
                account,
                permissions,
                permissions_header: permissions.header_value().into(),
                impersonate: m.impersonate.as_ref().map(|i| i.get_ref().clone()),
            },
        );
    }

    let client_accounts: Vec<(String, String)> = raw
        .client_account
        .iter()
        .map(|c| {
            let (name, reseller) = (
                c.name.get_ref().trim().to_ascii_lowercase(),
                c.reseller.get_ref().trim().to_ascii_lowercase(),
            );
            if name.is_empty() || reseller.is_empty() || name == reseller {
                cx.err(
                    c.name.span(),
                    format!("{w} client_account: name and reseller must be two accounts"),
                );
            }
            (name, reseller)
        })
        .collect();
    for (client, reseller) in &client_accounts {
        directory.set_reseller(client, reseller);
    }
    directory.sublogin_keeps_sublogin = raw.sublogin_keeps_sublogin.unwrap_or(false);
    let members = members::compile_members(cx, &raw, directory, &account_rule, &w);

    // Identity providers.
    let external_sso = raw
        .external_sso
        .as_ref()
        .and_then(|e| idp::compile_external(cx, e, &w));
    let saml = raw
        .saml
        .as_ref()
        .and_then(|s| {
            idp::compile_saml(
                cx,
                s.get_ref(),
                &name,
                &w,
                sso_mode == SsoMode::AutoRedirect,
            )
        })
        .map(Arc::new);
    let oidc = raw
        .oidc
        .as_ref()
        .and_then(|o| idp::compile_oidc(cx, o.get_ref(), &w, sso_mode == SsoMode::AutoRedirect))
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

    let headers = compile_headers(cx, raw.headers.as_ref(), &w);
    let tls = raw.tls.as_ref().and_then(|t| compile_tls(cx, t, &w));
    let css = raw.css.as_ref().and_then(|c| {
        let p = secret::resolve_path(c.get_ref(), &cx.dir);
        match std::fs::read_to_string(&p) {
            Ok(s) => Some(s),
            Err(e) => {
                cx.err(
                    c.span(),
                    format!("{w}: cannot read css {}: {e}", p.display()),
                );
                None
            }
        }
    });
    let language = raw
        .language
        .as_ref()
        .and_then(|l| match l.get_ref().as_str() {
            "auto" => None,
            other => match Lang::parse(other) {
                Some(lang) => Some(lang),
                None => {
                    cx.err(
                        l.span(),
                        format!("{w}: language `{other}` is not one of auto, en, es"),
                    );
                    None
                }
            },
        });
    let (css, logo, powered_by) = pages::compile_brand(cx, raw.brand.as_ref(), css, &w);

    if cx.errors() > before {
        return None;
    }
    Some(Tenant {
        counters: crate::metrics::TenantCounters::default(),
        display_name: raw.display_name.clone().unwrap_or_else(|| name.clone()),
        name,
        policy: TenantPolicy {
            sso_mode,
            netmasks,
            super_admins,
            classic_users,
            superadmin_bypass,
            admin_paths,
            bypass_paths,
            forced_external: external_sso.as_ref().is_some_and(|e| e.forced),
            default_idp,
        },
        upstream: upstream?,
        reauth,
        account_rule: account_rule?,
        members: members?,
        client_accounts,
        sublogin_keeps_sublogin: raw.sublogin_keeps_sublogin.unwrap_or(false),
        provision: raw.provision.unwrap_or(false),
        refresh_profile: raw.refresh_profile.unwrap_or(false),
        headers: headers?,
        external_sso,
        saml,
        oidc,
        idps,
        tls,
        css,
        logo,
        powered_by,
        language,
    })
}

pub(super) fn compile_upstream(
    cx: &mut Ctx<'_>,
    raw: &Spanned<String>,
    w: &str,
) -> Option<Upstream> {
    let text = raw.get_ref().trim();
    let (tls, rest) = if let Some(r) = text.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = text.strip_prefix("http://") {
        (false, r)
    } else {
        (false, text)
    };
    let rest = rest.trim_end_matches('/');
    let with_port = if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        && !rest.ends_with(']')
    {
        rest.to_string()
    } else {
        format!("{rest}:{}", if tls { 443 } else { 80 })
    };
    let host = with_port.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    let sni = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    match with_port.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(addr) => Some(Upstream {
            addr,
            tls,
            sni,
            display: text.to_string(),
        }),
        None => {
            cx.err(raw.span(), format!("{w}: upstream `{text}` is not host:port (or http(s)://host:port) that resolves"));
            None
        }
    }
}

pub(super) fn compile_account_rule(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    w: &str,
) -> Option<AccountRule> {
    let picker = raw.account_picker.as_ref().is_some_and(|p| *p.get_ref());
    let given = [
        raw.account.is_some(),
        raw.account_from_host.is_some(),
        picker,
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        cx.err(
            raw.name.span(),
            format!("{w}: say which account a request enters with exactly one of account, account_from_host or account_picker = true"),
        );
        return None;
    }
    if let Some(a) = &raw.account {
        let a = a.get_ref().trim().to_ascii_lowercase();
        return Some(AccountRule::Fixed(a));
    }
    if let Some(p) = &raw.account_from_host {
        let pat = p.get_ref().to_ascii_lowercase();
        return match pat.split_once("{account}") {
            Some((prefix, suffix)) if !suffix.contains("{account}") => {
                Some(AccountRule::FromHost {
                    prefix: prefix.to_string(),
                    suffix: suffix.to_string(),
                })
            }
            _ => {
                cx.err(p.span(), format!("{w}: account_from_host must hold `{{account}}` once, e.g. \"panel.{{account}}\""));
                None
            }
        };
    }
    Some(AccountRule::Picker)
}

pub(super) fn compile_headers(
    cx: &mut Ctx<'_>,
    raw: Option<&RawHeaders>,
    w: &str,
) -> Option<HeaderNames> {
    let Some(h) = raw else {
        return Some(HeaderNames::new(Default::default()));
    };
    let fields = [
        &h.user,
        &h.email,
        &h.name,
        &h.tenant,
        &h.account,
        &h.permissions,
        &h.impersonate,
        &h.auth,
        &h.assertion,
    ];
    let mut renamed: [Option<http::HeaderName>; 9] = Default::default();
    let mut seen = HashSet::new();
    let mut ok = true;
    const FORBIDDEN: [&str; 12] = [
        "host",
        "cookie",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "authorization",
        "x-forwarded-for",
    ];
    for (i, f) in fields.iter().enumerate() {
        let Some(name) = f else { continue };
        match http::HeaderName::from_bytes(name.get_ref().as_bytes()) {
            Ok(n) if FORBIDDEN.contains(&n.as_str()) => {
                cx.err(
                    name.span(),
                    format!("{w}: header `{}` cannot carry identity", name.get_ref()),
                );
                ok = false;
            }
            Ok(n) => {
                if !seen.insert(n.as_str().replace('_', "-")) {
                    cx.err(
                        name.span(),
                        format!("{w}: header `{}` is used twice", name.get_ref()),
                    );
                    ok = false;
                }
                renamed[i] = Some(n);
            }
            Err(_) => {
                cx.err(
                    name.span(),
                    format!("{w}: `{}` is not a valid header name", name.get_ref()),
                );
                ok = false;
            }
        }
    }
    ok.then(|| HeaderNames::new(renamed))
}

pub(super) fn compile_tls(
    cx: &mut Ctx<'_>,
    raw: &RawTls,
    w: &str,
) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let cert_path = secret::resolve_path(raw.cert.get_ref(), &cx.dir);
    let key_path = secret::resolve_path(raw.key.get_ref(), &cx.dir);
    let certs: Vec<_> = match std::fs::read(&cert_path) {
        Ok(b) => rustls_pemfile::certs(&mut b.as_slice())
            .filter_map(Result::ok)
            .collect(),
        Err(e) => {
            cx.err(
                raw.cert.span(),
                format!("{w}: cannot read tls.cert {}: {e}", cert_path.display()),
            );
            return None;
        }
    };
    if certs.is_empty() {
        cx.err(
            raw.cert.span(),
            format!(
                "{w}: tls.cert {} holds no PEM certificate",
                cert_path.display()
            ),
        );
        return None;
    }
    let key = match std::fs::read(&key_path) {
        Ok(b) => rustls_pemfile::private_key(&mut b.as_slice())
            .ok()
            .flatten(),
        Err(e) => {
            cx.err(
                raw.key.span(),
                format!("{w}: cannot read tls.key {}: {e}", key_path.display()),
            );
            return None;
        }
    };
    let Some(key) = key else {
        cx.err(
            raw.key.span(),
            format!(
                "{w}: tls.key {} holds no PEM private key",
                key_path.display()
            ),
        );
        return None;
    };
    match rustls::crypto::ring::sign::any_supported_type(&key) {
        Ok(signing) => Some(Arc::new(rustls::sign::CertifiedKey::new(certs, signing))),
        Err(e) => {
            cx.err(raw.key.span(), format!("{w}: tls.key is not usable: {e}"));
            None
        }
    }
}
