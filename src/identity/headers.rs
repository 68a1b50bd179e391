//! The identity headers sent upstream, and the removal of every incoming
//! copy of them and of every forwarding header: in any case, any
//! repetition, and any punctuation — names are compared as CGI and FastCGI
//! gateways read them (`X.Portero+User` is `HTTP_X_PORTERO_USER`).

use super::Preset;
use http::header::{HeaderMap, HeaderName, HeaderValue, COOKIE};
// The names are the configuration's; requests only look them up, so a
// fast non-keyed hash is safe.
use rustc_hash::FxHashSet as HashSet;
use std::net::IpAddr;
use std::sync::Arc;

/// A request header being rewritten for the panel (a [`HeaderMap`]; the
/// sender's spelling of names travels beside it, in hyper's extensions).
pub trait HeaderEdit {
    /// The headers as they stand.
    fn headers(&self) -> &HeaderMap;
    /// Removes every value of `name`.
    fn remove(&mut self, name: &HeaderName);
    /// Sets `name` to `value` alone.
    fn set(&mut self, name: HeaderName, value: HeaderValue);
    /// Makes room for `additional` more headers.
    fn reserve(&mut self, additional: usize);
}

impl HeaderEdit for HeaderMap {
    fn headers(&self) -> &HeaderMap {
        self
    }
    fn remove(&mut self, name: &HeaderName) {
        HeaderMap::remove(self, name);
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }
    fn reserve(&mut self, additional: usize) {
        // A hint: requests hold at most 100 headers, far below the limit.
        let _ = HeaderMap::try_reserve(self, additional);
    }
}

/// The names of the identity headers for one tenant (docs/headers.md):
/// Portero's own, a [`Preset`]'s, or renamed one by one.
#[derive(Debug, Clone)]
pub struct HeaderNames {
    /// The names each header is sent under, in the order of
    /// [`DEFAULT_NAMES`] (one each, or two for some presets); shared by
    /// every tenant that takes a preset's names as they are.
    sent: Arc<[Vec<HeaderName>; 9]>,
    /// Every name removed from incoming requests, in [`gateway_name`] form
    /// (shared by every tenant that renames nothing).
    strip: Arc<HashSet<String>>,
}

/// The names stripped from every tenant's requests: the forwarding
/// headers, and every name of every preset (Portero's own included).
fn stripped_always() -> &'static Arc<HashSet<String>> {
    static ALWAYS: std::sync::LazyLock<Arc<HashSet<String>>> = std::sync::LazyLock::new(|| {
        let mut strip: HashSet<String> = FORWARDING.iter().map(|n| n.to_string()).collect();
        for (_, any) in Preset::ALL {
            for slot in 0..DEFAULT_NAMES.len() {
                strip.extend(any.names(slot).iter().map(|n| gateway_name(n)));
            }
        }
        strip.extend(DEFAULT_NAMES.iter().map(|n| gateway_name(n)));
        Arc::new(strip)
    });
    &ALWAYS
}

/// The names each header is sent under with `preset`, but where `renamed`
/// says otherwise.
fn sent_names(preset: Preset, renamed: &[Option<HeaderName>; 9]) -> [Vec<HeaderName>; 9] {
    std::array::from_fn(|slot| match &renamed[slot] {
        Some(name) => vec![name.clone()],
        None if preset.names(slot).is_empty() => {
            vec![HeaderName::from_static(DEFAULT_NAMES[slot])]
        }
        None => preset
            .names(slot)
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect(),
    })
}

/// [`sent_names`] of `preset` with nothing renamed, made once.
fn preset_names(preset: Preset) -> Arc<[Vec<HeaderName>; 9]> {
    type Sent = Arc<[Vec<HeaderName>; 9]>;
    static MADE: std::sync::LazyLock<Vec<(Preset, Sent)>> = std::sync::LazyLock::new(|| {
        Preset::ALL
            .iter()
            .map(|(_, p)| (*p, Arc::new(sent_names(*p, &Default::default()))))
            .collect()
    });
    MADE.iter().find(|(p, _)| *p == preset).map_or_else(
        || Arc::new(sent_names(preset, &Default::default())),
        |(_, sent)| sent.clone(),
    )
}

/// The default names: user, email, name, tenant, account, permissions,
/// impersonate, auth, assertion (the order of `[tenant.headers]`' keys).
pub const DEFAULT_NAMES: [&str; 9] = [
    "x-portero-user",
    "x-portero-email",
    "x-portero-name",
    "x-portero-tenant",
    "x-portero-account",
    "x-portero-permissions",
    "x-portero-impersonate",
    "x-portero-auth",
    "x-portero-assertion",
];

/// Forwarding headers removed from every request, whoever sent it (names
/// in [`gateway_name`] form). Portero sets `X-Forwarded-For` (a trusted
/// proxy's chain kept), `-Proto`, `-Host`, `-Port` and `X-Real-IP` itself;
/// the rest say where a request came from or what it asked for in ways
/// panels and frameworks believe, and Portero judged none of them.
const FORWARDING: [&str; 21] = [
    "forwarded",
    "x_forwarded",
    "x_real_ip",
    "x_client_ip",
    "client_ip",
    "true_client_ip",
    "x_cluster_client_ip",
    "cf_connecting_ip",
    "fastly_client_ip",
    "x_originating_ip",
    "x_remote_ip",
    "x_remote_addr",
    "x_host",
    "x_http_host_override",
    "x_rewrite_url",
    "x_url_scheme",
    "front_end_https",
    "x_envoy_original_path",
    "x_proxyuser_ip",
    // httpoxy: a `Proxy` header becomes `HTTP_PROXY` under CGI, which
    // HTTP clients inside the panel take as their outbound proxy.
    "proxy",
    "x_portero",
];

/// Name prefixes of whole header families removed the same way: every
/// `X-Forwarded-*` (`-Port`, `-Prefix`, `-Scheme`, `-Ssl`, `-Server`,
/// `-Uri`, …), every `X-Original-*` (`-URL`, `-URI`, `-Host`, …) and every
/// `X-Portero-*`, present or future.
const FORWARDING_PREFIXES: [&str; 3] = ["x_forwarded_", "x_original_", "x_portero_"];

/// A header name as a CGI/FastCGI gateway reads it, less its `HTTP_`:
/// lower-case, every byte that is not an ASCII letter or digit made `_`.
fn gateway_byte(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        b.to_ascii_lowercase()
    } else {
        b'_'
    }
}

/// [`gateway_byte`] over a whole name (on the heap; the hot path uses a
/// stack buffer).
pub fn gateway_name(name: &str) -> String {
    name.bytes().map(|b| char::from(gateway_byte(b))).collect()
}

impl HeaderNames {
    /// Portero's own names, but where `renamed` (the tenant's
    /// `[tenant.headers]`, in the order of [`DEFAULT_NAMES`]) says otherwise.
    pub fn new(renamed: [Option<HeaderName>; 9]) -> HeaderNames {
        HeaderNames::with_preset(Preset::Portero, renamed)
    }

    /// The names of `preset`, but where `renamed` says otherwise (one name
    /// then replaces all the preset's for that header). Stripped from
    /// incoming requests: every name of every preset (Portero's own, and
    /// the other gateways' whichever the tenant uses, since a panel may
    /// still read them) and every renamed one, so the panel never sees a
    /// forged copy under any name it may read.
    pub fn with_preset(preset: Preset, renamed: [Option<HeaderName>; 9]) -> HeaderNames {
        let always = stripped_always();
        if renamed.iter().all(Option::is_none) {
            return HeaderNames {
                sent: preset_names(preset),
                strip: always.clone(),
            };
        }
        let sent = Arc::new(sent_names(preset, &renamed));
        let more: Vec<String> = renamed
            .iter()
            .flatten()
            .map(|n| gateway_name(n.as_str()))
            .filter(|n| !always.contains(n))
            .collect();
        let strip = if more.is_empty() {
            always.clone()
        } else {
            let mut strip = HashSet::clone(always);
            strip.extend(more);
            Arc::new(strip)
        };
        HeaderNames { sent, strip }
    }

    /// The names the header at `slot` (the order of [`DEFAULT_NAMES`]) is
    /// sent under.
    pub fn sent_as(&self, slot: usize) -> &[HeaderName] {
        self.sent.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Whether an incoming header of this name is removed: compared in
    /// [`gateway_name`] form, so no punctuation variant of an identity or
    /// forwarding header reaches the panel.
    pub fn is_stripped(&self, name: &str) -> bool {
        // Normalised on the stack: this runs for every header of every request.
        let mut buf = [0u8; 128];
        let Some(dst) = buf.get_mut(..name.len()) else {
            // Longer than the stack buffer: normalise on the heap.
            return self.is_stripped_normal(&gateway_name(name));
        };
        for (d, b) in dst.iter_mut().zip(name.bytes()) {
            *d = gateway_byte(b);
        }
        // Only ASCII bytes were written.
        std::str::from_utf8(dst).is_ok_and(|n| self.is_stripped_normal(n))
    }

    fn is_stripped_normal(&self, normal: &str) -> bool {
        self.strip.contains(normal) || FORWARDING_PREFIXES.iter().any(|p| normal.starts_with(p))
    }

    /// Removes every incoming identity and forwarding header, in any spelling.
    pub fn strip<H: HeaderEdit>(&self, req: &mut H) {
        // Most requests carry none: look before allocating.
        if !req.headers().keys().any(|k| self.is_stripped(k.as_str())) {
            return;
        }
        let doomed: Vec<HeaderName> = req
            .headers()
            .keys()
            .filter(|k| self.is_stripped(k.as_str()))
            .cloned()
            .collect();
        for name in doomed {
            req.remove(&name);
        }
    }

    /// The identity headers as name/value pairs, each under every name it
    /// is sent as (values that are not valid header text are left out
    /// rather than sent mangled).
    pub fn pairs(&self, id: &Identity<'_>) -> Vec<(HeaderName, HeaderValue)> {
        let values = [
            Some(id.user),
            Some(id.email),
            id.name,
            Some(id.tenant),
            Some(id.account),
            Some(id.permissions),
            id.impersonate,
            Some(id.auth),
            Some(id.assertion),
        ];
        let mut out = Vec::with_capacity(9);
        for (names, value) in self.sent.iter().zip(values) {
            let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) else {
                continue;
            };
            for name in names {
                out.push((name.clone(), v.clone()));
            }
        }
        out
    }

    /// Adds the identity headers to a request.
    pub fn inject<H: HeaderEdit>(&self, req: &mut H, id: &Identity<'_>) {
        for (name, value) in self.pairs(id) {
            req.set(name, value);
        }
    }
}

/// What the panel is told about a signed-in request.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    /// Stable id inside the tenant.
    pub user: &'a str,
    /// E-mail.
    pub email: &'a str,
    /// Display name.
    pub name: Option<&'a str>,
    /// Tenant name.
    pub tenant: &'a str,
    /// The account entered.
    pub account: &'a str,
    /// Expanded, ordered comma list.
    pub permissions: &'a str,
    /// Legacy login to act as.
    pub impersonate: Option<&'a str>,
    /// `saml`, `oidc` or `jwt`.
    pub auth: &'a str,
    /// The signed assertion JWT.
    pub assertion: &'a str,
}

/// Removes Portero's own cookies from the forwarded `Cookie` header(s),
/// joining what is left into one header (or none).
pub fn strip_own_cookies<H: HeaderEdit>(req: &mut H, own: &[&str]) {
    // Built only when a pair is kept: a request carrying just Portero's
    // cookie allocates nothing here.
    let mut kept = String::new();
    let mut touched = false;
    let mut lines = 0usize;
    for value in req.headers().get_all(COOKIE) {
        lines += 1;
        let Ok(v) = value.to_str() else {
            touched = true;
            continue;
        };
        for pair in v.split(';') {
            let name = pair.split('=').next().unwrap_or("").trim();
            if own.contains(&name) {
                touched = true;
            } else if !pair.trim().is_empty() {
                if !kept.is_empty() {
                    kept.push_str("; ");
                }
                kept.push_str(pair.trim());
            }
        }
    }
    if !touched && lines <= 1 {
        return;
    }
    req.remove(&COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept) {
            req.set(COOKIE, v);
        }
    }
}

/// The `X-Forwarded-For` to send: a trusted proxy's chain with its address
/// appended, or only the peer's address when the peer is not trusted.
pub fn forwarded_chain(incoming: Option<&str>, peer: IpAddr, peer_trusted: bool) -> String {
    let peer = peer.to_canonical();
    match incoming.map(str::trim).filter(|s| !s.is_empty()) {
        Some(chain) if peer_trusted => format!("{chain}, {peer}"),
        _ => peer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_spelling() {
        let names = HeaderNames::new([
            Some(HeaderName::from_static("x-remote-user")),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]);
        let mut req = HeaderMap::new();
        for n in [
            "X-Portero-User",
            "x-portero-user",
            "X_PORTERO_USER",
            "x_portero-email",
            "X-Remote-User",
            "x_remote_user",
            "X-Forwarded-For",
            "Forwarded",
            "X.Portero.User",
            "X-Portero.User",
            "X-Portero+User",
            "x~portero~email",
            "X.Remote.User",
            "X-Remote+User",
            "X-Forwarded-Port",
            "X-Forwarded-Prefix",
            "X-Forwarded-Scheme",
            "X-Forwarded-Ssl",
            "X-Forwarded-Server",
            "X-Forwarded-Uri",
            "X.Forwarded.Host",
            "X-Original-URL",
            "X-Original-Host",
            "X-Rewrite-URL",
            "X-Real-IP",
            "X_Real.IP",
            "True-Client-IP",
            "X-Host",
            "Proxy",
            "X-Portero-Future-Header",
            "X-Keep",
            "X-Portero",
            "X-Portero2-User",
        ] {
            req.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("evil"),
            );
        }
        req.append("x-portero-user", HeaderValue::from_static("twice"));
        names.strip(&mut req);
        let mut left: Vec<_> = req.keys().map(|k| k.as_str().to_string()).collect();
        left.sort();
        assert_eq!(
            left,
            vec!["x-keep".to_string(), "x-portero2-user".to_string()]
        );
    }

    #[test]
    fn a_preset_names_the_headers_and_strips_its_names() {
        let names = HeaderNames::with_preset(Preset::Authelia, Default::default());
        let id = Identity {
            user: "ana@x.test",
            email: "ana@x.test",
            name: Some("Ana"),
            tenant: "t",
            account: "x.test",
            permissions: "invite,technical",
            impersonate: None,
            auth: "jwt",
            assertion: "a.b.c",
        };
        let sent: Vec<String> = names
            .pairs(&id)
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            sent,
            [
                "remote-user: ana@x.test",
                "remote-email: ana@x.test",
                "remote-name: Ana",
                "x-portero-tenant: t",
                "x-portero-account: x.test",
                "remote-groups: invite,technical",
                "x-portero-auth: jwt",
                "x-portero-assertion: a.b.c",
            ]
        );
        for forged in [
            "Remote-User",
            "remote_groups",
            "Remote.Name",
            "X-Portero-User",
        ] {
            assert!(names.is_stripped(forged), "{forged}");
        }
        // oauth2-proxy: each of four headers under two names.
        let names = HeaderNames::with_preset(Preset::Oauth2Proxy, Default::default());
        let sent: Vec<String> = names
            .pairs(&id)
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        for both in ["user", "email", "preferred-username", "groups"] {
            assert!(sent.contains(&format!("x-forwarded-{both}")), "{sent:?}");
            assert!(sent.contains(&format!("x-auth-request-{both}")), "{sent:?}");
            assert!(names.is_stripped(&format!("X_Auth_Request_{both}")));
        }
    }

    #[test]
    fn a_rename_replaces_the_preset_name_which_is_still_stripped() {
        let mut renamed: [Option<HeaderName>; 9] = Default::default();
        renamed[0] = Some(HeaderName::from_static("x-panel-user"));
        let names = HeaderNames::with_preset(Preset::Authelia, renamed);
        assert_eq!(names.sent_as(0), [HeaderName::from_static("x-panel-user")]);
        assert_eq!(names.sent_as(1), [HeaderName::from_static("remote-email")]);
        for forged in ["Remote-User", "X-Panel-User", "X-Portero-User"] {
            assert!(names.is_stripped(forged), "{forged}");
        }
        // Every preset's names, whichever the tenant uses.
        let plain = HeaderNames::new(Default::default());
        for forged in ["Remote-Groups", "X-Auth-Request-Email", "X-Forwarded-User"] {
            assert!(plain.is_stripped(forged), "{forged}");
        }
    }

    #[test]
    fn names_compare_as_gateways_read_them() {
        assert_eq!(gateway_name("X.Portero+User"), "x_portero_user");
        assert_eq!(gateway_name("X-Forwarded_Port"), "x_forwarded_port");
        let names = HeaderNames::new(Default::default());
        for keep in [
            "Accept",
            "Cookie",
            "X-Requested-With",
            "X-HTTP-Method-Override",
            "X-Forwardedfor",
            "X-Originalurl",
        ] {
            assert!(!names.is_stripped(keep), "{keep}");
        }
    }

    #[test]
    fn long_renamed_names_are_stripped_too() {
        let long = format!("x-{}", "panel-user-".repeat(13));
        let mut renamed: [Option<HeaderName>; 9] = Default::default();
        renamed[0] = Some(HeaderName::from_bytes(long.as_bytes()).unwrap());
        let names = HeaderNames::new(renamed);
        assert!(long.len() > 128);
        assert!(names.is_stripped(&long.to_ascii_uppercase().replace('-', "_")));
        assert!(names.is_stripped(&long.replace('-', ".")));
        assert!(!names.is_stripped(&format!("{long}x")));
    }

    #[test]
    fn own_cookies_are_removed() {
        let mut req = HeaderMap::new();
        req.append(COOKIE, HeaderValue::from_static("a=1; portero_session=x"));
        req.append(COOKIE, HeaderValue::from_static("portero_classic=y; b=2"));
        strip_own_cookies(&mut req, &["portero_session", "portero_classic"]);
        let all: Vec<_> = req
            .get_all(COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(all, vec!["a=1; b=2".to_string()]);
        let mut only = HeaderMap::new();
        only.append(COOKIE, HeaderValue::from_static("portero_session=x"));
        strip_own_cookies(&mut only, &["portero_session"]);
        assert!(only.get(COOKIE).is_none());
    }

    #[test]
    fn forwarded_for() {
        let p: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            forwarded_chain(Some("1.2.3.4"), p, true),
            "1.2.3.4, 10.0.0.1"
        );
        assert_eq!(forwarded_chain(Some("1.2.3.4"), p, false), "10.0.0.1");
        assert_eq!(forwarded_chain(None, p, true), "10.0.0.1");
    }
}
