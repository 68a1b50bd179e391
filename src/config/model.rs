//! The compiled configuration: what the rest of Portero reads once the
//! file has been checked. Every value here is valid; [`super::compile_str`]
//! builds it.

use crate::auth::external_jwt::ExternalSso;
use crate::auth::oidc::OidcRp;
use crate::auth::saml::SamlSp;
use crate::identity::{AssertionSigner, HeaderNames, SignedIdentities};
use crate::lang::Lang;
use crate::membership::AccountRule;
use crate::membership::MemberSource;
use crate::outbound::Outbound;
use crate::remote::Refresh;
use crate::session::Sealer;
use portero_policy::{HostTable, Idp, NetmaskSet, TenantPolicy};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The whole, validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub source: PathBuf,
    /// `[server]`.
    pub server: Server,
    /// `[session]`.
    pub session: SessionSettings,
    /// `[assertion]`.
    pub assertion: AssertionSigner,
    /// `[[tenant]]`: the main file's in file order, then those of
    /// `tenants_dir`, file by file in name order. A reload keeps the
    /// tenants of files that did not change (the same `Arc`).
    pub tenants: Vec<Arc<Tenant>>,
    /// Host name → index into `tenants`.
    pub hosts: HostTable<usize>,
    /// Tenant name → index into `tenants`.
    pub by_name: std::collections::HashMap<String, usize>,
    /// Every host that gets its certificate through ACME (each tenant's
    /// `acme_hosts`), when `[server.acme]` is set.
    pub acme_hosts: std::collections::BTreeSet<String>,
    /// Identity headers signed for recent sessions (kept by a reload that
    /// leaves `[assertion]` as it was; entries name their tenant's
    /// [`Tenant::generation`], so a changed tenant signs afresh).
    pub signed: Arc<SignedIdentities>,
    /// Documents fetched from IdPs (metadata URLs, discovery, keys).
    pub remote: Vec<Arc<dyn Refresh>>,
}

impl Tenant {
    /// How its pages look.
    pub fn brand(&self) -> crate::brand::Brand<'_> {
        crate::brand::Brand {
            name: Some(&self.display_name),
            stylesheet: self.css.is_some(),
            logo: self.logo.is_some(),
            powered_by: self.powered_by,
        }
    }
}

impl Config {
    /// The tenant serving `host` (a `Host` header value).
    pub fn tenant_for_host(&self, host: &str) -> Option<&Tenant> {
        self.hosts.lookup(host).and_then(|&i| self.tenant(i))
    }

    /// The `i`-th tenant.
    pub fn tenant(&self, i: usize) -> Option<&Tenant> {
        self.tenants.get(i).map(|t| &**t)
    }

    /// Where a link to `tenant` made without a request points: its first
    /// host without a wildcard, over HTTPS when Portero listens for TLS
    /// (with the listener's port when it is not the default one).
    pub fn home_origin(&self, tenant: &Tenant) -> Option<String> {
        let host = tenant.home_host.as_deref()?;
        let (scheme, default, listener) = match self.server.listen_tls.first() {
            Some(l) => ("https", 443, Some(l)),
            None => ("http", 80, self.server.listen.first()),
        };
        Some(match listener.map(|l| l.port()) {
            Some(port) if port != default => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        })
    }

    /// The tenant called `name`.
    pub fn tenant_named(&self, name: &str) -> Option<&Tenant> {
        self.tenant_and_index(name).map(|(_, t)| t)
    }

    /// The tenant called `name` and its index (work carried past a
    /// request names its tenant, as a reload may reorder them).
    pub fn tenant_and_index(&self, name: &str) -> Option<(usize, &Tenant)> {
        let i = *self.by_name.get(name)?;
        Some((i, self.tenant(i)?))
    }
}

/// `[server]`, validated.
#[derive(Debug)]
pub struct Server {
    /// Plain HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// TLS listeners.
    pub listen_tls: Vec<SocketAddr>,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`, admin API).
    pub admin_listen: SocketAddr,
    /// Peers allowed to set `X-Forwarded-For`.
    pub trusted_proxies: NetmaskSet,
    /// Worker threads.
    pub threads: usize,
    /// Bearer token required by the admin API's write calls, when set.
    pub admin_token: Option<String>,
    /// Host names the admin listener answers to besides its own address
    /// (lowercase; see `docs/admin-listener.md`).
    pub admin_hosts: Vec<String>,
    /// Audit log file (`None`: standard error).
    pub audit_log: Option<PathBuf>,
    /// Access log file (`None`: no access log).
    pub access_log: Option<PathBuf>,
    /// Seconds to finish in-flight requests on shutdown.
    pub grace_period: u64,
    /// Seconds an upstream may stay silent before the request fails.
    pub upstream_timeout: u64,
    /// Where state that must survive a restart is kept (default: `data/`
    /// beside the configuration file).
    pub data_dir: Option<PathBuf>,
    /// The folder whose `*.toml` files hold more `[[tenant]]` tables
    /// (one file per customer domain, say), each file recompiled only
    /// when it changes.
    pub tenants_dir: Option<PathBuf>,
    /// The HTTP client for IdP calls (system CAs plus `outbound_ca`).
    pub outbound: Outbound,
    /// Reload when the configuration file changes (besides SIGHUP).
    pub watch_config: bool,
    /// The Redis shared by several nodes, when set.
    pub redis: Option<RedisSettings>,
    /// The PostgreSQL database holding the directory (accounts, members,
    /// invitations) for several nodes; `None`: the SQLite file under
    /// `data_dir`. Read at start; a reload does not change it.
    pub database: Option<DatabaseUrl>,
    /// Seconds a client has to send a request's header, from its first byte
    /// (slow clients are cut off).
    pub header_timeout: u64,
    /// The Unix socket over which a running Portero hands its listeners to
    /// its successor (`portero run --upgrade`); default `<data_dir>/upgrade.sock`.
    pub upgrade_sock: PathBuf,
    /// The running server's process ID is written here (`<data_dir>/portero.pid`).
    pub pid_file: PathBuf,
    /// How long the ACS waits for a SAML response's verification, queueing
    /// included, before refusing it (read at start).
    pub saml_verify_timeout: std::time::Duration,
    /// How many sign-ins one client address (IPv6: its /64) may start at
    /// once; one more every ten minutes / this ([`crate::budget`]).
    pub sign_ins_per_client: u32,
    /// The most sign-ins waiting for their IdP's answer at once (in this
    /// process, or in Redis across nodes); read at start.
    pub max_started_sign_ins: u64,
    /// The mail server invitations are sent through (`None`: invitation
    /// links are shown to the inviter instead).
    pub smtp: Option<Smtp>,
    /// Certificates from an ACME CA for the tenants' hosts (`None`: only
    /// `[tenant.tls]` certificates are served).
    pub acme: Option<Acme>,
}

/// `[server.acme]`: where certificates come from and when they are renewed.
#[derive(Debug, Clone, PartialEq)]
pub struct Acme {
    /// The CA's directory URL.
    pub directory: String,
    /// The account's contact address, when given.
    pub email: Option<String>,
    /// The challenges Portero answers, in the order tried: a host that
    /// failed with one is tried with the next.
    pub challenges: Vec<AcmeChallenge>,
    /// Renew this many seconds before a certificate expires.
    pub renew_before: u64,
    /// Extra certificate authorities (PEM) for the ACME server's HTTPS.
    pub ca: Option<String>,
    /// The most new orders placed in an hour (by this node).
    pub orders_per_hour: u32,
}

/// A way of proving to the CA that Portero serves a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// TLS-ALPN-01 (RFC 8737): on the TLS listener.
    TlsAlpn01,
    /// HTTP-01: `/.well-known/acme-challenge/<token>` on the plain listener.
    Http01,
}

impl AcmeChallenge {
    /// Its name in RFC 8555 and the configuration.
    pub fn name(self) -> &'static str {
        match self {
            AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
            AcmeChallenge::Http01 => "http-01",
        }
    }
}

/// `[server.smtp]`: the mail server invitations are sent through.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    /// Its host name or address (without port).
    pub host: String,
    /// Its port (default 587 with STARTTLS, 465 with TLS, 25 unencrypted).
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// The login, when the server wants one.
    pub login: Option<SmtpLogin>,
    /// The sender of every mail, unless a tenant's `[tenant.mail].from`
    /// names its own.
    pub from: lettre::message::Mailbox,
    /// The longest one mail may take, connecting included.
    pub timeout: std::time::Duration,
    /// Extra certificate authorities (PEM) that may vouch for the server,
    /// besides the system's.
    pub ca: Option<String>,
}

impl Smtp {
    /// `host:port`, as messages name the server.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `[server.smtp].security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `starttls` (the default): plain connection, then STARTTLS, required.
    StartTls,
    /// `tls`: TLS from the first byte (SMTPS, port 465).
    Tls,
    /// `none`: no encryption, for a mail server on the same machine or a
    /// test catcher.
    Unencrypted,
}

/// `[server.smtp].user` and `password`. Its `Debug` never shows the password.
#[derive(Clone, PartialEq)]
pub struct SmtpLogin {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for SmtpLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpLogin")
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .finish()
    }
}

/// `[server].database`: a `postgres://` URL. Its `Debug` never shows it
/// (it may hold a password).
#[derive(Clone, PartialEq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(hidden)")
    }
}

/// `[server].redis`: one-time records and revocation marks shared by every
/// node. Read at start; a reload does not change it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db`.
    pub url: String,
    /// Prefix of every key Portero writes (several clusters may share one Redis).
    pub prefix: String,
    /// The longest Portero waits for one Redis operation.
    pub timeout: std::time::Duration,
}

/// `[session]`, validated.
#[derive(Debug)]
pub struct SessionSettings {
    /// The cookie keys.
    pub sealer: Sealer,
    /// Session cookies opened under these keys.
    pub opened: crate::session::OpenedCookies,
    /// Default re-authentication period in seconds (`None`: never).
    pub reauth: Option<u64>,
    /// The session cookie's name (plain listeners).
    pub cookie_name: String,
    /// The classic-login cookie's name (plain listeners).
    pub classic_cookie_name: String,
    /// The session cookie's name on TLS listeners (`__Host-` + `cookie_name`).
    pub tls_cookie_name: String,
    /// The classic-login cookie's name on TLS listeners.
    pub tls_classic_cookie_name: String,
    /// How long a classic-login choice is kept, in seconds.
    pub classic_ttl: u64,
}

impl SessionSettings {
    /// The session cookie's name on a TLS listener (`__Host-` prefixed: no
    /// sibling subdomain can plant it) or on a plain one. Only that name is
    /// read on that kind of listener.
    pub fn session_name(&self, tls: bool) -> &str {
        if tls {
            &self.tls_cookie_name
        } else {
            &self.cookie_name
        }
    }

    /// The classic-login cookie's name on a TLS or a plain listener.
    pub fn classic_name(&self, tls: bool) -> &str {
        if tls {
            &self.tls_classic_cookie_name
        } else {
            &self.classic_cookie_name
        }
    }

    /// Every cookie name Portero uses (never forwarded to the panel).
    pub fn all_names(&self) -> [&str; 4] {
        [
            &self.cookie_name,
            &self.classic_cookie_name,
            &self.tls_cookie_name,
            &self.tls_classic_cookie_name,
        ]
    }
}

/// An upstream panel.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Resolved address.
    pub addr: SocketAddr,
    /// HTTPS to the panel.
    pub tls: bool,
    /// The name to present (SNI and certificate check) when `tls`.
    pub sni: String,
    /// As written.
    pub display: String,
}

/// One tenant, validated.
#[derive(Debug)]
pub struct Tenant {
    /// The tenant name (the `aud` of its tokens and assertions).
    pub name: String,
    /// A number no other tenant compiled in this process has: a tenant
    /// compiled again (its file changed) gets a new one, so what was
    /// cached for the old one is never taken for the new.
    pub generation: u64,
    /// The file it is written in.
    pub defined_in: Arc<std::path::Path>,
    /// Its host patterns, as written.
    pub hosts: Vec<String>,
    /// The product name shown on its pages.
    pub display_name: String,
    /// Its routing policy.
    pub policy: TenantPolicy,
    /// Its panel.
    pub upstream: Upstream,
    /// Re-authentication period in seconds (`None`: never).
    pub reauth: Option<u64>,
    /// Which account a request enters.
    pub account_rule: AccountRule,
    /// Where its memberships come from.
    pub members: MemberSource,
    /// Reseller client accounts from the configuration: (client, reseller).
    pub client_accounts: Vec<(String, String)>,
    /// Whether a sublogin into a client account keeps `sublogin`.
    pub sublogin_keeps_sublogin: bool,
    /// Just-in-time provisioning: SSO sign-ins create the user in the store.
    pub provision: bool,
    /// Refresh a provisioned user's name and roles on each sign-in.
    pub refresh_profile: bool,
    /// Show the fields the identity provider gave (the name) read-only on
    /// the profile page, rather than let people change them.
    pub lock_provisioned_fields: bool,
    /// Its logo and content type, served at `/.portero/assets/logo`.
    pub logo: Option<(bytes::Bytes, &'static str)>,
    /// Say "Secured by Portero" on its pages.
    pub powered_by: bool,
    /// The language of its pages (`None`: the browser's).
    pub language: Option<Lang>,
    /// Identity header names.
    pub headers: HeaderNames,
    /// External SSO, when configured.
    pub external_sso: Option<ExternalSso>,
    /// The SAML service provider, when `[tenant.saml]` is configured.
    pub saml: Option<Arc<SamlSp>>,
    /// The OpenID Connect relying party, when `[tenant.oidc]` is configured.
    pub oidc: Option<Arc<OidcRp>>,
    /// The identity providers it has, in button order.
    pub idps: Vec<Idp>,
    /// Its TLS certificate, chosen by SNI.
    pub tls: Option<Arc<rustls::sign::CertifiedKey>>,
    /// Its hosts that get a certificate through ACME (lowercase, exact).
    pub acme_hosts: Vec<String>,
    /// Its stylesheet, served at `/.portero/assets/tenant.css`.
    pub css: Option<String>,
    /// Its request metrics, resolved once ([`crate::metrics::TenantCounters`]).
    pub counters: crate::metrics::TenantCounters,
    /// Its mails' sender and templates (`[tenant.mail]`).
    pub mail: crate::mail::TenantMail,
    /// Its first host without a wildcard: where links made without a
    /// request (invitations through the admin API) point.
    pub home_host: Option<String>,
}
