//! The one compile step: raw TOML → validated [`Config`], collecting every finding.

use super::model::*;
use super::raw::*;
use super::secret::{self, Env};
use super::{duration, Diagnostic, Loaded, Severity};
use crate::auth::external_jwt::{parse_alg, ExternalSso};
use crate::auth::normalize_email;
use crate::auth::oidc::{ClaimNames, ClientAuth, OidcRp};
use crate::auth::saml::{AttributeNames, IdpMetadata, IdpSource, SamlSp, SpEntityId, SpSigning};
use crate::identity::{
    AccountRule, AssertionSigner, Directory, HeaderNames, Membership, Permission, Permissions,
    SignedIdentities,
};
use crate::lang::Lang;
use crate::member_source::panel::PanelEndpoint;
use crate::member_source::roles::RoleMap;
use crate::member_source::MemberSource;
use crate::outbound::Outbound;
use crate::remote::{Refresh, Remote};
use crate::session::Sealer;
use ipnet::IpNet;
use portero_policy::{
    HostPattern, HostTable, Idp, NetmaskSet, PathPrefixes, SsoMode, TenantPolicy,
};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// How many sessions' signed identity headers are kept for reuse.
const SIGNED_SESSIONS_CACHED: u64 = 200_000;

struct Ctx<'a> {
    src: &'a str,
    file: &'a Path,
    dir: PathBuf,
    env: &'a dyn Env,
    diags: Vec<Diagnostic>,
    remote: Vec<Arc<dyn Refresh>>,
}

impl Ctx<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        self.src.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn push(&mut self, severity: Severity, span: Option<Range<usize>>, message: String) {
        let line = span.map(|s| self.line_of(&s));
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Error, Some(span), message.into());
    }

    fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, Some(span), message.into());
    }

    /// A log file Portero appends to: its folder must exist (Portero does
    /// not make it), and the path must not be a folder. Relative paths are
    /// taken from the working directory, as `run` opens them.
    fn log_file(&mut self, raw: &Spanned<String>, what: &str) -> Option<PathBuf> {
        let path = PathBuf::from(raw.get_ref());
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            self.err(
                raw.span(),
                format!(
                    "{what} `{}`: the folder `{}` does not exist (create it, or point {what} elsewhere)",
                    path.display(),
                    folder.display()
                ),
            );
            return None;
        }
        if path.is_dir() {
            self.err(
                raw.span(),
                format!("{what} `{}` is a folder; name a file", path.display()),
            );
            return None;
        }
        Some(path)
    }

    fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }

    /// Deserializes one section. An unknown key is reported and taken out,
    /// then the section is read again, so the errors behind it are found in
    /// the same run.
    fn shape<T: DeserializeOwned>(&mut self, what: &str, value: Spanned<DeValue<'_>>) -> Option<T> {
        let span = value.span();
        let mut value = value;
        for _ in 0..64 {
            match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) => return Some(v),
                Err(e) => {
                    let at = e.span().unwrap_or(span.clone());
                    self.err(at, format!("{what}: {}", e.message()));
                    let unknown = e
                        .message()
                        .strip_prefix("unknown field `")
                        .and_then(|r| r.split('`').next())
                        .map(str::to_string);
                    let field = unknown?;
                    let inner_span = value.span();
                    let DeValue::Table(table) = value.into_inner() else {
                        return None;
                    };
                    let before = table.len();
                    let table: toml::de::DeTable<'_> = table
                        .into_iter()
                        .filter(|(k, _)| k.get_ref().as_ref() != field.as_str())
                        .collect();
                    if table.len() == before {
                        return None;
                    }
                    value = Spanned::new(inner_span, DeValue::Table(table));
                }
            }
        }
        None
    }

    fn permission_list(&mut self, raw: &Spanned<Vec<Spanned<String>>>, what: &str) -> Permissions {
        let mut out = Vec::new();
        for p in raw.get_ref() {
            match Permission::parse(p.get_ref()) {
                Some(p) => out.push(p),
                None => self.err(p.span(), format!("{what}: `{}` is not a permission (admin, commercial, invite, sublogin, technical)", p.get_ref())),
            }
        }
        if raw.get_ref().is_empty() {
            self.err(raw.span(), format!("{what}: the list is empty"));
        }
        Permissions::of(out)
    }

    fn secret(&mut self, raw: &Spanned<String>, what: &str) -> Option<String> {
        match secret::read(raw.get_ref(), self.env, &self.dir) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(raw.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    fn duration(&mut self, raw: &Option<Spanned<String>>, default: u64, what: &str) -> u64 {
        match raw {
            None => default,
            Some(r) => match duration::parse(r.get_ref()) {
                Ok(d) => d.as_secs(),
                Err(e) => {
                    self.err(r.span(), format!("{what}: {e}"));
                    default
                }
            },
        }
    }

    /// A whole number in `range`, or `default` when not set (an error,
    /// with the line, when outside it).
    fn bounded_int(
        &mut self,
        raw: Option<&Spanned<i64>>,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> i64 {
        match raw {
            None => default,
            Some(r) if range.contains(r.get_ref()) => *r.get_ref(),
            Some(r) => {
                self.err(
                    r.span(),
                    format!(
                        "{what} must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    fn duration_or_never(&mut self, raw: &Spanned<String>, what: &str) -> Option<Option<u64>> {
        match duration::parse_or_never(raw.get_ref()) {
            Ok(d) => Some(d.map(|d| d.as_secs())),
            Err(e) => {
                self.err(raw.span(), format!("{what}: {e} (or \"never\")"));
                None
            }
        }
    }

    fn nets(&mut self, raw: &[Spanned<String>], what: &str) -> Vec<IpNet> {
        let mut out = Vec::new();
        for n in raw {
            let s = n.get_ref().trim();
            let parsed = s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => {
                    if net.trunc() != net {
                        self.warn(
                            n.span(),
                            format!("{what}: `{s}` has host bits set; it is read as {}", net.trunc()),
                        );
                    }
                    out.push(net);
                }
                Err(_) => self.err(
                    n.span(),
                    format!("{what}: `{s}` is not an IPv4 or IPv6 CIDR block (e.g. 64.233.187.0/24, 2001:db8::/32)"),
                ),
            }
        }
        out
    }

    fn addr(&mut self, raw: &Spanned<String>, what: &str) -> Option<SocketAddr> {
        match raw.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    raw.span(),
                    format!("{what}: `{}` is not an address:port", raw.get_ref()),
                );
                None
            }
        }
    }

    fn emails(&mut self, raw: &[Spanned<String>], what: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        for e in raw {
            match normalize_email(e.get_ref()) {
                Some(v) => {
                    out.insert(v);
                }
                None => self.err(
                    e.span(),
                    format!("{what}: `{}` is not an e-mail address", e.get_ref()),
                ),
            }
        }
        out
    }

    fn paths(&mut self, raw: &[Spanned<String>], what: &str) -> PathPrefixes {
        let mut out = Vec::new();
        for p in raw {
            let s = p.get_ref();
            if !s.starts_with('/') {
                self.err(p.span(), format!("{what}: `{s}` must start with /"));
            } else if s.starts_with("/.portero") {
                self.err(p.span(), format!("{what}: `{s}` is reserved by Portero"));
            } else {
                out.push(s.clone());
            }
        }
        PathPrefixes::new(out)
    }
}

/// Compiles configuration text; `file` names it in findings and anchors relative paths.
pub fn compile_str(src: &str, file: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cx = Ctx {
        src,
        file,
        dir,
        env,
        diags: Vec::new(),
        remote: Vec::new(),
    };
    let root = match DeTable::parse(src) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.err(span, format!("not valid TOML: {}", e.message()));
            return Err(cx.diags);
        }
    };
    let whole = root.span();
    let mut server = None;
    let mut session = None;
    let mut assertion = None;
    let mut raw_tenants = Vec::new();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "server" => server = cx.shape::<RawServer>("[server]", value),
            "session" => session = Some(cx.shape::<RawSession>("[session]", value)),
            "assertion" => assertion = Some(cx.shape::<RawAssertion>("[assertion]", value)),
            "tenant" => {
                let span = value.span();
                match value.into_inner() {
                    DeValue::Array(items) => {
                        for (i, item) in items.into_iter().enumerate() {
                            let what = format!("[[tenant]] #{}", i + 1);
                            let item = one_idp_per_protocol(&mut cx, &what, item);
                            if let Some(t) = cx.shape::<RawTenant>(&what, item) {
                                raw_tenants.push(t);
                            }
                        }
                    }
                    _ => cx.err(
                        span,
                        "`tenant` must be an array of tables: write [[tenant]]",
                    ),
                }
            }
            other => cx.err(
                key.span(),
                format!("unknown key `{other}` (expected server, session, assertion or tenant)"),
            ),
        }
    }

    let server = compile_server(&mut cx, server.unwrap_or_default());
    let session = match session {
        Some(Some(s)) => compile_session(&mut cx, s),
        Some(None) => None,
        None => {
            cx.err(
                whole.start..whole.start,
                "[session] is missing: it needs `keys` (make one with `portero keygen`)",
            );
            None
        }
    };
    let assertion = match assertion {
        Some(Some(a)) => compile_assertion(&mut cx, a),
        Some(None) => None,
        None => {
            cx.err(
                whole.start..whole.start,
                "[assertion] is missing: it needs `signing_key` (make one with `portero keygen`)",
            );
            None
        }
    };
    if raw_tenants.is_empty() && !cx.has_errors() {
        cx.err(
            whole.start..whole.start,
            "no [[tenant]] is configured: nothing would be served",
        );
    }
    let default_reauth = session.as_ref().and_then(|s: &SessionSettings| s.reauth);
    let mut tenants = Vec::new();
    let mut hosts = HostTable::default();
    let mut names: HashSet<String> = HashSet::new();
    for raw in raw_tenants {
        if let Some(t) = compile_tenant(
            &mut cx,
            raw,
            default_reauth,
            &mut names,
            &mut hosts,
            tenants.len(),
        ) {
            tenants.push(t);
        }
    }
    if let Some(server) = &server {
        let any_cert = tenants.iter().any(|t| t.tls.is_some());
        if !server.listen_tls.is_empty() && !any_cert {
            cx.push(
                Severity::Error,
                None,
                "[server].listen_tls is set but no tenant has a [tenant.tls] certificate".into(),
            );
        }
    }

    match (server, session, assertion) {
        (Some(server), Some(session), Some(assertion)) if !cx.has_errors() => Ok(Loaded {
            config: Config {
                source: file.to_path_buf(),
                server,
                session,
                signed: SignedIdentities::new(SIGNED_SESSIONS_CACHED, assertion.ttl),
                assertion,
                tenants,
                hosts,
                remote: cx.remote,
            },
            warnings: cx.diags,
        }),
        _ => Err(cx.diags),
    }
}

/// CONTRACT §6: one identity provider per protocol per tenant. A tenant
/// listing several (`[[tenant.oidc]]` twice) gets one clear error on the
/// line, and the list is set aside so the rest of the tenant is checked.
fn one_idp_per_protocol<'a>(
    cx: &mut Ctx<'_>,
    what: &str,
    item: Spanned<DeValue<'a>>,
) -> Spanned<DeValue<'a>> {
    const PROTOCOLS: [(&str, &str); 3] = [
        ("saml", "SAML identity provider"),
        ("oidc", "OpenID Connect provider"),
        ("external_sso", "external sign-in page"),
    ];
    let span = item.span();
    let DeValue::Table(table) = item.into_inner() else {
        return Spanned::new(span, DeValue::Table(Default::default()));
    };
    let kept = table
        .into_iter()
        .filter(|(k, v)| {
            let key = k.get_ref().as_ref();
            match PROTOCOLS.iter().find(|(p, _)| *p == key) {
                Some((p, label)) if matches!(v.get_ref(), DeValue::Array(_)) => {
                    cx.err(k.span(), format!("{what}: one {label} per tenant; write [tenant.{p}] once (use another tenant for another provider)"));
                    false
                }
                _ => true,
            }
        })
        .collect();
    Spanned::new(span, DeValue::Table(kept))
}

/// `[server].saml_verify_timeout`: from 10ms to 60s, default
/// [`crate::auth::saml::pool::DEFAULT_CAP`].
fn saml_verify_timeout(cx: &mut Ctx<'_>, raw: &Option<Spanned<String>>) -> std::time::Duration {
    let default = crate::auth::saml::pool::DEFAULT_CAP;
    let Some(raw) = raw else {
        return default;
    };
    match duration::parse(raw.get_ref()) {
        Ok(d) if (10..=60_000).contains(&d.as_millis()) => d,
        Ok(_) => {
            cx.err(
                raw.span(),
                "[server].saml_verify_timeout must be between 10ms and 60s".to_string(),
            );
            default
        }
        Err(e) => {
            cx.err(raw.span(), format!("[server].saml_verify_timeout: {e}"));
            default
        }
    }
}

/// `[server].admin_hosts`: plain host names (no port, no scheme), kept
/// lowercase.
fn admin_host_names(cx: &mut Ctx<'_>, raw: &[Spanned<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for h in raw {
        let name = h.get_ref().trim().to_ascii_lowercase();
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if plain {
            out.push(name);
        } else {
            cx.err(
                h.span(),
                format!("[server].admin_hosts: `{}` is not a host name (write it without scheme or port, e.g. \"portero-admin.internal\")", h.get_ref()),
            );
        }
    }
    out
}

fn compile_server(cx: &mut Ctx<'_>, raw: RawServer) -> Option<Server> {
    let listen = match &raw.listen {
        Some(l) => l
            .iter()
            .filter_map(|a| cx.addr(a, "[server].listen"))
            .collect(),
        None => vec![SocketAddr::from(([0, 0, 0, 0], 8080))],
    };
    let listen_tls = raw
        .listen_tls
        .iter()
        .filter_map(|a| cx.addr(a, "[server].listen_tls"))
        .collect();
    let admin_listen = match &raw.admin_listen {
        Some(a) => cx.addr(a, "[server].admin_listen"),
        None => Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
    };
    let admin_token = raw
        .admin_token
        .as_ref()
        .and_then(|t| cx.secret(t, "[server].admin_token"));
    if let (Some(a), Some(raw_a)) = (admin_listen, &raw.admin_listen) {
        if !a.ip().is_loopback() && admin_token.is_none() && raw.admin_token.is_none() {
            cx.err(
                raw_a.span(),
                format!("[server].admin_listen `{a}` is not on loopback and no admin_token is set: anyone who reaches it could add administrators, force re-authentication or reload; set [server].admin_token (e.g. \"env:PORTERO_ADMIN_TOKEN\") or listen on 127.0.0.1"),
            );
        }
    }
    if let (Some(t), Some(raw_t)) = (&admin_token, &raw.admin_token) {
        if t.trim().is_empty() {
            cx.err(raw_t.span(), "[server].admin_token is empty: that is no token; make one with `openssl rand -base64 32`");
        }
    }
    let admin_hosts = admin_host_names(cx, &raw.admin_hosts);
    let trusted = cx.nets(&raw.trusted_proxies, "[server].trusted_proxies");
    let threads = match &raw.threads {
        Some(t) if *t.get_ref() == 0 || *t.get_ref() > 256 => {
            cx.err(t.span(), "[server].threads must be between 1 and 256");
            1
        }
        Some(t) => *t.get_ref(),
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let grace_period = cx.duration(&raw.grace_period, 5, "[server].grace_period");
    let upstream_timeout = cx.duration(&raw.upstream_timeout, 60, "[server].upstream_timeout");
    let audit_log = raw
        .audit_log
        .as_ref()
        .filter(|a| a.get_ref() != "stderr")
        .and_then(|a| cx.log_file(a, "[server].audit_log"));
    let access_log = raw
        .access_log
        .as_ref()
        .and_then(|a| cx.log_file(a, "[server].access_log"));
    // Default: `data/` beside the configuration file.
    let data_dir = Some(match &raw.data_dir {
        Some(d) if Path::new(d.get_ref()).is_absolute() => PathBuf::from(d.get_ref()),
        Some(d) => secret::resolve_path(d.get_ref(), &cx.dir),
        None => cx.dir.join("data"),
    });
    let outbound_timeout = cx.duration(&raw.outbound_timeout, 10, "[server].outbound_timeout");
    let extra_ca = raw.outbound_ca.as_ref().and_then(|c| {
        let path = secret::resolve_path(c.get_ref(), &cx.dir);
        match std::fs::read_to_string(&path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                cx.err(
                    c.span(),
                    format!("[server].outbound_ca `{}`: {e}", path.display()),
                );
                None
            }
        }
    });
    let outbound = match Outbound::new(
        extra_ca.as_deref(),
        std::time::Duration::from_secs(outbound_timeout.max(1)),
    ) {
        Ok(o) => o,
        Err(e) => {
            let span = raw.outbound_ca.as_ref().map(|c| c.span()).unwrap_or(0..0);
            cx.err(span, format!("[server].outbound_ca: {e}"));
            return None;
        }
    };
    let redis = raw.redis.as_ref().and_then(|r| {
        let url = cx.secret(r, "[server].redis")?;
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://") || url.starts_with("unix://")) {
            cx.err(
                r.span(),
                "[server].redis must be a redis:// URL, e.g. \"redis://127.0.0.1:6379/0\" (or unix:///path/redis.sock)",
            );
            return None;
        }
        if let Err(e) = redis::Client::open(url.as_str()) {
            cx.err(r.span(), format!("[server].redis: {e}"));
            return None;
        }
        Some(RedisSettings {
            url,
            prefix: raw
                .redis_prefix
                .as_ref()
                .map_or_else(|| "portero:".to_string(), |p| p.get_ref().clone()),
            timeout: std::time::Duration::from_secs(
                cx.duration(&raw.redis_timeout, 1, "[server].redis_timeout").max(1),
            ),
        })
    });
    if raw.redis.is_none() {
        for (key, v) in [
            ("redis_prefix", &raw.redis_prefix),
            ("redis_timeout", &raw.redis_timeout),
        ] {
            if let Some(v) = v {
                cx.warn(
                    v.span(),
                    format!("[server].{key} has no effect without [server].redis"),
                );
            }
        }
    }
    let header_timeout = cx.duration(&raw.header_timeout, 10, "[server].header_timeout");
    let state_dir = data_dir.clone().unwrap_or_else(std::env::temp_dir);
    let upgrade_sock = match &raw.upgrade_sock {
        Some(p) if Path::new(p.get_ref()).is_absolute() => PathBuf::from(p.get_ref()),
        Some(p) => cx.dir.join(p.get_ref()),
        None => state_dir.join("upgrade.sock"),
    };
    // A Unix socket path holds at most 107 bytes.
    if upgrade_sock.as_os_str().len() > 107 {
        let span = raw.upgrade_sock.as_ref().map(|p| p.span()).unwrap_or(0..0);
        cx.err(
            span,
            format!(
                "[server].upgrade_sock `{}` is longer than a Unix socket path may be (107 bytes); set a shorter one",
                upgrade_sock.display()
            ),
        );
    }
    let pid_file = state_dir.join("portero.pid");
    let saml_verify_timeout = saml_verify_timeout(cx, &raw.saml_verify_timeout);
    let sign_ins_per_client = cx.bounded_int(
        raw.sign_ins_per_client.as_ref(),
        DEFAULT_SIGN_INS_PER_CLIENT,
        1..=100_000,
        "[server].sign_ins_per_client",
    );
    let max_started_sign_ins = cx.bounded_int(
        raw.max_started_sign_ins.as_ref(),
        DEFAULT_MAX_STARTED_SIGN_INS,
        100..=10_000_000,
        "[server].max_started_sign_ins",
    );
    Some(Server {
        listen,
        listen_tls,
        admin_listen: admin_listen?,
        trusted_proxies: NetmaskSet::new(trusted),
        threads,
        admin_token,
        admin_hosts,
        audit_log,
        access_log,
        grace_period,
        upstream_timeout: upstream_timeout.max(1),
        data_dir,
        outbound,
        watch_config: raw.watch_config.unwrap_or(true),
        redis,
        header_timeout: header_timeout.max(1),
        upgrade_sock,
        pid_file,
        saml_verify_timeout,
        sign_ins_per_client: u32::try_from(sign_ins_per_client).unwrap_or(1),
        max_started_sign_ins: u64::try_from(max_started_sign_ins).unwrap_or(100),
    })
}

/// `[server].sign_ins_per_client` when not set.
pub const DEFAULT_SIGN_INS_PER_CLIENT: i64 = 30;
/// `[server].max_started_sign_ins` when not set.
pub const DEFAULT_MAX_STARTED_SIGN_INS: i64 = 20_000;

fn compile_session(cx: &mut Ctx<'_>, raw: RawSession) -> Option<SessionSettings> {
    if raw.keys.get_ref().is_empty() {
        cx.err(
            raw.keys.span(),
            "[session].keys is empty: add one (make it with `portero keygen`)",
        );
    }
    let mut keys = Vec::new();
    for k in raw.keys.get_ref() {
        if let Some(v) = cx.secret(k, "[session].keys") {
            match Sealer::from_base64_keys(&[v.as_str()]) {
                Ok(_) => keys.push(v),
                Err(e) => cx.err(k.span(), format!("[session].keys: {e}")),
            }
        }
    }
    let reauth = match &raw.reauth {
        Some(r) => cx.duration_or_never(r, "[session].reauth")?,
        None => Some(86_400),
    };
    let cookie_name = match &raw.cookie_name {
        Some(n) if !is_token(n.get_ref()) => {
            cx.err(
                n.span(),
                "[session].cookie_name may hold only letters, digits, `-` and `_`",
            );
            None
        }
        Some(n) if has_cookie_prefix(n.get_ref()) => {
            cx.err(
                n.span(),
                "[session].cookie_name must not start with `__Host-` or `__Secure-`: Portero adds `__Host-` itself on TLS listeners (and a plain listener cannot set such a cookie)",
            );
            None
        }
        Some(n) => Some(n.get_ref().clone()),
        None => Some("portero_session".to_string()),
    }?;
    let classic_ttl = cx.duration(&raw.classic_ttl, 8 * 3600, "[session].classic_ttl");
    let sealer = Sealer::from_base64_keys(&keys).ok()?;
    Some(SessionSettings {
        sealer,
        opened: crate::session::OpenedCookies::default(),
        reauth,
        classic_cookie_name: format!("{cookie_name}_classic"),
        tls_cookie_name: format!("{}{cookie_name}", crate::session::HOST_PREFIX),
        tls_classic_cookie_name: format!("{}{cookie_name}_classic", crate::session::HOST_PREFIX),
        cookie_name,
        classic_ttl,
    })
}

/// Whether a cookie name starts with a prefix browsers give a meaning to
/// (compared as browsers do: without regard to case).
fn has_cookie_prefix(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("__host-") || lower.starts_with("__secure-")
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `[tenant.brand]`: colours become stylesheet rules in front of the
/// tenant's CSS file; the logo is read once (PNG, SVG, JPEG or WebP).
fn compile_brand(
    cx: &mut Ctx<'_>,
    raw: Option<&RawBrand>,
    css: Option<String>,
    w: &str,
) -> (Option<String>, Option<(bytes::Bytes, &'static str)>, bool) {
    let Some(raw) = raw else {
        return (css, None, false);
    };
    let mut rules = String::new();
    let mut colour = |c: &Option<Spanned<String>>, what: &str, rule: &dyn Fn(&str) -> String| {
        if let Some(c) = c {
            let v = c.get_ref().trim();
            let hex = v.strip_prefix('#').unwrap_or("");
            if matches!(hex.len(), 3 | 6) && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                rules.push_str(&rule(v));
            } else {
                cx.err(
                    c.span(),
                    format!("{w}: brand.{what} `{v}` is not a #rgb or #rrggbb colour"),
                );
            }
        }
    };
    colour(&raw.primary_color, "primary_color", &|v| {
        format!("button,.button{{background:{v}}}h1{{color:{v}}}")
    });
    colour(&raw.background_color, "background_color", &|v| {
        format!("body{{background:{v}}}")
    });
    let logo = raw.logo.as_ref().and_then(|l| {
        let path = secret::resolve_path(l.get_ref(), &cx.dir);
        let kind = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("webp") => "image/webp",
            _ => {
                cx.err(
                    l.span(),
                    format!("{w}: brand.logo must be a .png, .svg, .jpg or .webp file"),
                );
                return None;
            }
        };
        match std::fs::read(&path) {
            Ok(b) if b.len() <= 512 * 1024 => Some((bytes::Bytes::from(b), kind)),
            Ok(_) => {
                cx.err(l.span(), format!("{w}: brand.logo is larger than 512 KiB"));
                None
            }
            Err(e) => {
                cx.err(l.span(), format!("{w}: brand.logo {}: {e}", path.display()));
                None
            }
        }
    });
    let css = match (rules.is_empty(), css) {
        (true, css) => css,
        (false, Some(file)) => Some(format!("{rules}\n{file}")),
        (false, None) => Some(rules),
    };
    (css, logo, raw.powered_by.unwrap_or(false))
}

/// `membership = …` and what it needs: `static` (the `[[tenant.member]]`
/// list; the default when there is one), `store` (the default otherwise),
/// `panel` (`[tenant.panel_members]`) or `idp` (`[tenant.roles]` and the
/// IdP's role attribute).
fn compile_members(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    directory: Directory,
    account_rule: &Option<AccountRule>,
    w: &str,
) -> Option<MemberSource> {
    let default = if raw.member.is_empty() {
        "store"
    } else {
        "static"
    };
    let (kind, span) = match &raw.membership {
        Some(m) => (m.get_ref().as_str(), m.span()),
        None => (default, raw.name.span()),
    };
    if kind != "static" && !raw.member.is_empty() {
        cx.err(
            span.clone(),
            format!("{w}: [[tenant.member]] entries are only read with membership = \"static\""),
        );
    }
    if kind != "panel" && raw.panel_members.is_some() {
        cx.warn(
            span.clone(),
            format!("{w}: [tenant.panel_members] is only read with membership = \"panel\""),
        );
    }
    if kind != "idp" && raw.roles.is_some() {
        cx.warn(
            span.clone(),
            format!("{w}: [tenant.roles] is only read with membership = \"idp\""),
        );
    }
    match kind {
        "static" => Some(MemberSource::Static(directory)),
        "store" => Some(MemberSource::Store),
        "panel" => {
            let Some(p) = &raw.panel_members else {
                cx.err(
                    span,
                    format!(
                        "{w}: membership = \"panel\" needs [tenant.panel_members] with its url"
                    ),
                );
                return None;
            };
            let p = p.get_ref();
            if let Err(e) = crate::outbound::check_url(p.url.get_ref()) {
                cx.err(p.url.span(), format!("{w}: panel_members.url: {e}"));
            }
            let token = p
                .token
                .as_ref()
                .and_then(|t| cx.secret(t, &format!("{w} panel_members.token")));
            let ttl = cx.duration(&p.ttl, 60, &format!("{w} panel_members.ttl"));
            let negative = cx.duration(
                &p.negative_ttl,
                30,
                &format!("{w} panel_members.negative_ttl"),
            );
            let stale = cx.duration(&p.stale_for, 600, &format!("{w} panel_members.stale_for"));
            Some(MemberSource::Panel(Arc::new(PanelEndpoint::new(
                p.url.get_ref(),
                token,
                ttl,
                negative,
                stale,
            ))))
        }
        "idp" => {
            let mut map = RoleMap::default();
            let roles_named = raw.saml.as_ref().is_some_and(|s| {
                s.get_ref()
                    .attributes
                    .as_ref()
                    .is_some_and(|a| a.roles.is_some())
            }) || raw.oidc.as_ref().is_some_and(|o| {
                o.get_ref()
                    .claims
                    .as_ref()
                    .is_some_and(|c| c.roles.is_some())
            });
            if !roles_named {
                cx.err(span.clone(), format!("{w}: membership = \"idp\" needs the role attribute named: roles in [tenant.saml.attributes] or [tenant.oidc.claims]"));
            }
            map.account = match account_rule {
                Some(AccountRule::Fixed(a)) => Some(a.clone()),
                _ => None,
            };
            if let Some(r) = &raw.roles {
                if let Some(a) = &r.account {
                    map.account = Some(a.get_ref().trim().to_ascii_lowercase());
                }
                if let Some(list) = &r.whitelabel_admin {
                    map.whitelabel_admin =
                        cx.permission_list(list, &format!("{w} roles.whitelabel_admin"));
                }
                if let Some(list) = &r.whitelabel_manager {
                    map.whitelabel_manager =
                        cx.permission_list(list, &format!("{w} roles.whitelabel_manager"));
                }
            }
            Some(MemberSource::Idp(map))
        }
        other => {
            cx.err(
                span,
                format!("{w}: membership `{other}` is not one of store, static, panel, idp"),
            );
            None
        }
    }
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

fn compile_assertion(cx: &mut Ctx<'_>, raw: RawAssertion) -> Option<AssertionSigner> {
    let ttl = cx.duration(&raw.ttl, 60, "[assertion].ttl");
    if ttl == 0 || ttl > 3600 {
        if let Some(t) = &raw.ttl {
            cx.err(t.span(), "[assertion].ttl must be between 1s and 1h: the assertion is meant to be short-lived");
        }
    }
    let pem = cx.secret(&raw.signing_key, "[assertion].signing_key")?;
    match AssertionSigner::from_pem(&pem, ttl) {
        Ok(s) => Some(s),
        Err(e) => {
            cx.err(
                raw.signing_key.span(),
                format!("[assertion].signing_key: {e}"),
            );
            None
        }
    }
}

fn compile_tenant(
    cx: &mut Ctx<'_>,
    raw: RawTenant,
    default_reauth: Option<u64>,
    names: &mut HashSet<String>,
    hosts: &mut HostTable<usize>,
    index: usize,
) -> Option<Tenant> {
    let before = cx
        .diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
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
    let members = compile_members(cx, &raw, directory, &account_rule, &w);

    // Identity providers.
    let external_sso = raw
        .external_sso
        .as_ref()
        .and_then(|e| compile_external(cx, e, &w));
    let saml = raw
        .saml
        .as_ref()
        .and_then(|s| {
            compile_saml(
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
        .and_then(|o| compile_oidc(cx, o.get_ref(), &w, sso_mode == SsoMode::AutoRedirect))
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
    let (css, logo, powered_by) = compile_brand(cx, raw.brand.as_ref(), css, &w);

    let after = cx
        .diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if after > before {
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

fn compile_headers(cx: &mut Ctx<'_>, raw: Option<&RawHeaders>, w: &str) -> Option<HeaderNames> {
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

fn compile_tls(cx: &mut Ctx<'_>, raw: &RawTls, w: &str) -> Option<Arc<rustls::sign::CertifiedKey>> {
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
