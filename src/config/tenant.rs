//! `[[tenant]]`: its name, hosts, panel, routing policy, account rule,
//! identity headers and certificate; the other sections of a tenant are
//! compiled by [`super::members`], [`super::idp`], [`super::pages`] and
//! [`super::mail`].

use super::context::Ctx;
use super::model::{Tenant, Upstream};
use super::raw::{RawHeaders, RawTenant, RawTls};
use super::{idp, mail, members, pages, secret};
use crate::identity::{HeaderNames, Preset, DEFAULT_NAMES};
use crate::membership::AccountRule;
use portero_policy::{HostPattern, NetmaskSet, SsoMode, TenantPolicy};
use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use toml::Spanned;

/// One tenant as compiled, with where its name and hosts were written:
/// whether another tenant has the same name or host is decided when every
/// file's tenants are put together ([`super::tenant_files`]).
pub(super) struct Compiled {
    /// The tenant.
    pub(super) tenant: Tenant,
    /// The line of its `name`.
    pub(super) name_line: usize,
    /// Its host patterns, each with its line.
    pub(super) hosts: Vec<(HostPattern, usize)>,
}

/// What a tenant takes from the rest of the configuration (a file of
/// `tenants_dir` is compiled again when it changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Defaults {
    /// `[session].reauth`, for a tenant without its own.
    pub(crate) reauth: Option<u64>,
    /// Whether `[server.acme]` is set (its hosts then get certificates).
    pub(crate) acme: bool,
}

/// Numbers every tenant compiled in this process ([`Tenant::generation`]).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// One `[[tenant]]`: each of its sections in turn (every finding is
/// collected), and the tenant only when none of them found an error.
/// `defaults` come from `[session]` and `[server]`.
pub(super) fn compile(
    cx: &mut Ctx<'_>,
    raw: RawTenant,
    misspelt: bool,
    defaults: Defaults,
) -> Option<Compiled> {
    let default_reauth = defaults.reauth;
    let before = cx.errors();
    let mark = cx.mark();
    let name = raw.name.get_ref().clone();
    let w = format!("tenant `{name}`");
    check_name(cx, &raw.name, &w);
    let name_line = cx.line_of(&raw.name.span());
    let hosts = parse_hosts(cx, &raw.hosts, &w);
    let upstream = compile_upstream(cx, &raw.upstream, &w);
    let mut policy = compile_policy(cx, &raw, &w);
    let account_rule = compile_account_rule(cx, &raw, &w);
    let reauth = match &raw.reauth {
        Some(r) => cx
            .duration_or_never(r, &format!("{w} reauth"))
            .unwrap_or(default_reauth),
        None => default_reauth,
    };
    let (members, client_accounts) = members::compile(cx, &raw, account_rule.as_ref(), &w);
    let lock_provisioned_fields = compile_lock(cx, &raw, members.as_ref(), &w);
    let providers = idp::compile(cx, &raw, &w, policy.sso_mode == SsoMode::AutoRedirect);
    policy.forced_external = providers.external_sso.as_ref().is_some_and(|e| e.forced);
    if let (true, Some(first)) = (policy.forced_external, raw.netmasks.first()) {
        cx.warn(
            first.span(),
            format!("{w}: netmasks never apply: [tenant.external_sso] forced = true sends every visitor to the external sign-in page before any netmask is looked at; remove netmasks, or set forced = false"),
        );
    }
    policy.default_idp = providers.default_idp;
    let headers = compile_headers(cx, raw.headers.as_ref(), &w);
    let tls = raw.tls.as_ref().and_then(|t| compile_tls(cx, t, &w));
    let acme_hosts = super::acme::tenant_hosts(cx, &raw, defaults.acme, &w);
    let look = pages::compile(cx, &raw, &w);
    let mail = mail::compile_tenant_mail(cx, raw.mail.as_ref(), &w);
    let home_host = raw
        .hosts
        .get_ref()
        .iter()
        .map(|h| h.get_ref().trim().to_ascii_lowercase())
        .find(|h| !h.contains('*'));

    // An unknown key (found when the table was read) counts as an error
    // of this tenant too.
    let wrong = misspelt || cx.errors() > before;
    cx.quiet_since(mark, wrong);
    if cx.errors() > before {
        return None;
    }
    let tenant = Tenant {
        generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
        defined_in: cx.file.clone(),
        hosts: hosts.iter().map(|(p, _)| p.to_string()).collect(),
        counters: crate::metrics::TenantCounters::default(),
        display_name: raw.display_name.clone().unwrap_or_else(|| name.clone()),
        name,
        policy,
        upstream: upstream?,
        reauth,
        account_rule: account_rule?,
        members: members?,
        client_accounts,
        sublogin_keeps_sublogin: raw.sublogin_keeps_sublogin.unwrap_or(false),
        provision: raw.provision.unwrap_or(false),
        refresh_profile: raw.refresh_profile.unwrap_or(false),
        lock_provisioned_fields,
        headers: headers?,
        external_sso: providers.external_sso,
        saml: providers.saml,
        oidc: providers.oidc,
        idps: providers.idps,
        tls,
        acme_hosts,
        css: look.css,
        logo: look.logo,
        powered_by: look.powered_by,
        language: look.language,
        mail,
        home_host,
    };
    Some(Compiled {
        tenant,
        name_line,
        hosts,
    })
}

/// `lock_provisioned_fields` (default false): whether the profile page
/// shows what the identity provider gave (the name) read-only. It only
/// does something on a store tenant that provisions its users; elsewhere
/// it is a warning at its line.
fn compile_lock(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    members: Option<&crate::membership::MemberSource>,
    w: &str,
) -> bool {
    let Some(lock) = &raw.lock_provisioned_fields else {
        return false;
    };
    if *lock.get_ref() {
        if members.is_some_and(|m| !matches!(m, crate::membership::MemberSource::Store)) {
            cx.warn(
                lock.span(),
                format!("{w}: lock_provisioned_fields has no effect: only tenants on the embedded store (membership = \"store\") let people edit their profile"),
            );
        } else if raw.provision != Some(true) {
            cx.warn(
                lock.span(),
                format!("{w}: lock_provisioned_fields has no effect without provision = true (nothing comes from the identity provider into the store)"),
            );
        }
    }
    *lock.get_ref()
}

/// Whether `name` may name a tenant: letters, digits, `-`, `_` and `.`,
/// not starting with `.` (so `<name>.toml` is always a plain, visible file
/// name: no `/`, no `..`).
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The tenant's name: letters, digits, `-`, `_` and `.` (it names the
/// tenant's file in `tenants_dir` too, so it never starts with `.`).
fn check_name(cx: &mut Ctx<'_>, raw: &Spanned<String>, w: &str) {
    if !valid_name(raw.get_ref()) {
        cx.err(
            raw.span(),
            format!("{w}: the name may hold only letters, digits, `-`, `_` and `.`, and may not start with `.`"),
        );
    }
}

/// `hosts`: each a host pattern, with its line.
fn parse_hosts(
    cx: &mut Ctx<'_>,
    raw: &Spanned<Vec<Spanned<String>>>,
    w: &str,
) -> Vec<(HostPattern, usize)> {
    if raw.get_ref().is_empty() {
        cx.err(raw.span(), format!("{w}: hosts is empty"));
    }
    let mut out = Vec::new();
    for h in raw.get_ref() {
        match HostPattern::parse(h.get_ref()) {
            Ok(p) => out.push((p, cx.line_of(&h.span()))),
            Err(e) => cx.err(h.span(), format!("{w}: {e}")),
        }
    }
    out
}

/// The routing policy: `sso_mode`, `netmasks`, `super_admins`,
/// `classic_users`, `admin_paths`, `bypass_paths`, `superadmin_bypass`.
/// Its identity-provider fields are set once those are compiled.
fn compile_policy(cx: &mut Ctx<'_>, raw: &RawTenant, w: &str) -> TenantPolicy {
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
    let netmasks = NetmaskSet::new(cx.nets(&raw.netmasks, format_args!("{w} netmasks")));
    let super_admins = cx.emails(&raw.super_admins, format_args!("{w} super_admins"));
    let classic_users = cx.emails(&raw.classic_users, format_args!("{w} classic_users"));
    let admin_paths = cx.paths(&raw.admin_paths, format_args!("{w} admin_paths"));
    let bypass_paths = cx.paths(&raw.bypass_paths, format_args!("{w} bypass_paths"));
    let superadmin_bypass = raw.superadmin_bypass.unwrap_or(true);
    if superadmin_bypass && !super_admins.is_empty() && admin_paths.as_slice().is_empty() {
        cx.warn(
            raw.name.span(),
            format!("{w}: super_admins are set but admin_paths is empty: with auto_redirect or netmasks they have no way in"),
        );
    }
    TenantPolicy {
        sso_mode,
        netmasks,
        super_admins,
        classic_users,
        superadmin_bypass,
        admin_paths,
        bypass_paths,
        forced_external: false,
        default_idp: None,
    }
}

/// `upstream`: `host:port` or `http(s)://host[:port]`, resolved now.
fn compile_upstream(cx: &mut Ctx<'_>, raw: &Spanned<String>, w: &str) -> Option<Upstream> {
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

/// Which account a request enters: exactly one of `account`,
/// `account_from_host` (holding `{account}` once) or `account_picker`.
fn compile_account_rule(cx: &mut Ctx<'_>, raw: &RawTenant, w: &str) -> Option<AccountRule> {
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

/// The keys of `[tenant.headers]`, in the order of [`DEFAULT_NAMES`].
const HEADER_KEYS: [&str; 9] = [
    "user",
    "email",
    "name",
    "tenant",
    "account",
    "permissions",
    "impersonate",
    "auth",
    "assertion",
];

/// `[tenant.headers]`: a known `preset`, and renamed headers with valid,
/// distinct names (also from the names the other headers keep, the
/// preset's or Portero's) that no hop-by-hop or routing header already
/// means something by.
fn compile_headers(cx: &mut Ctx<'_>, raw: Option<&RawHeaders>, w: &str) -> Option<HeaderNames> {
    let Some(h) = raw else {
        return Some(HeaderNames::new(Default::default()));
    };
    let preset = match &h.preset {
        None => Some(Preset::Portero),
        Some(p) => {
            let found = Preset::parse(p.get_ref());
            if found.is_none() {
                cx.err(p.span(), unknown_preset(p.get_ref(), w));
            }
            found
        }
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
    // The names a header keeps when it is not renamed.
    let kept = |slot: usize| -> Vec<&'static str> {
        match preset.map(|p| p.names(slot)) {
            Some(names) if !names.is_empty() => names.to_vec(),
            _ => vec![DEFAULT_NAMES[slot]],
        }
    };
    let mut renamed: [Option<http::HeaderName>; 9] = Default::default();
    let mut seen = HashSet::new();
    let mut ok = preset.is_some();
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
                let normal = n.as_str().replace('_', "-");
                // Another header not renamed already sends it.
                let kept_by = (0..9)
                    .find(|&j| j != i && fields[j].is_none() && kept(j).contains(&normal.as_str()));
                if let Some(j) = kept_by {
                    let whose = match preset {
                        Some(p) if !p.names(j).is_empty() => {
                            format!(
                                "the name `{}` has from preset \"{}\"",
                                HEADER_KEYS[j],
                                p.as_str()
                            )
                        }
                        _ => format!("the default name of `{}`", HEADER_KEYS[j]),
                    };
                    cx.err(
                        name.span(),
                        format!(
                            "{w}: header `{}` is {whose}: rename that one too, or choose another",
                            name.get_ref(),
                        ),
                    );
                    ok = false;
                } else if !seen.insert(normal) {
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
    match preset {
        Some(preset) if ok => Some(HeaderNames::with_preset(preset, renamed)),
        _ => None,
    }
}

/// "`X` is not a header preset", with the one probably meant.
fn unknown_preset(written: &str, w: &str) -> String {
    let known: Vec<&str> = Preset::ALL.iter().map(|(n, _)| *n).collect();
    let near = known
        .iter()
        .map(|k| (strsim::jaro_winkler(&written.to_ascii_lowercase(), k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match near {
        Some((_, k)) => format!("{w}: `{written}` is not a header preset (did you mean `{k}`?)"),
        None => format!(
            "{w}: `{written}` is not a header preset (expected {})",
            known.join(", ")
        ),
    }
}

/// `[tenant.tls]`: a PEM certificate chain and its private key.
fn compile_tls(cx: &mut Ctx<'_>, raw: &RawTls, w: &str) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let cert_path = secret::resolve_path(raw.cert.get_ref(), &cx.dir);
    let key_path = secret::resolve_path(raw.key.get_ref(), &cx.dir);
    cx.note_read(&cert_path);
    cx.note_read(&key_path);
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
