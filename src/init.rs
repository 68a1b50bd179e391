//! `portero init`: a commented starting configuration for a first tenant,
//! and its keys, that `portero check` accepts. The text is made here; the
//! command writes it (and the keys, mode 0600) without replacing anything
//! unless asked.

/// What the first tenant is.
#[derive(Debug, Clone)]
pub struct FirstTenant {
    /// Its name (`[[tenant]].name`).
    pub name: String,
    /// The panel's host name people use.
    pub host: String,
    /// The panel's address (`host:port`).
    pub upstream: String,
}

/// The configuration file's text. `session_key` and `assertion_key` are
/// the `file:` paths of the keys, relative to the configuration file.
pub fn config_text(t: &FirstTenant, session_key: &str, assertion_key: &str) -> String {
    let account = t
        .host
        .split_once('.')
        .map_or(t.host.as_str(), |(_, rest)| rest);
    format!(
        r#"# Portero: a starting configuration made by `portero init`.
# Check it with `portero check --config <this file>`; every key is described
# in README.md ("Configuration reference").

[server]
# Where browsers (or the proxy in front) reach Portero.
listen = ["0.0.0.0:8080"]
# Metrics, health and the admin API; keep it on loopback, or set admin_token.
admin_listen = "127.0.0.1:9090"
# Proxies whose X-Forwarded-For is believed (the load balancer's addresses).
trusted_proxies = ["127.0.0.1/32"]
# The directory, revocation marks and copies of IdP documents; default data/
# beside this file. Several nodes: database = "env:PORTERO_DATABASE_URL".
# data_dir = "/var/lib/portero"
# Thousands of tenants, one file each (the panel writes them, or PUT /tenants/NAME):
# tenants_dir = "tenants"
# HTTPS with certificates from Let's Encrypt for every tenant host (docs/certificates.md):
# listen_tls = ["0.0.0.0:443"]
#
# [server.acme]
# accept_terms = true
# email = "hostmaster@example.com"

[session]
# The key that seals session cookies (made by init; `portero keygen` makes
# more). Several nodes need the same key.
keys = ["file:{session_key}"]
reauth = "1d"

[assertion]
# The key that signs the assertion the panel receives (public half at
# /.portero/jwks.json).
signing_key = "file:{assertion_key}"

[[tenant]]
name = "{name}"
display_name = "{name}"
hosts = ["{host}"]
upstream = "{upstream}"
# login_page: an e-mail field and a button per identity provider;
# auto_redirect: straight to the identity provider.
sso_mode = "login_page"
# Clients inside these networks go to single sign-on, the others to the
# panel's own login; without netmasks, everyone goes to single sign-on.
# netmasks = ["10.0.0.0/8"]
# Break-glass: these people always reach the panel's own login on admin_paths.
# super_admins = ["root@{account}"]
# superadmin_bypass = true
# admin_paths = ["/admin"]
# Paths served without signing in.
# bypass_paths = ["/static/"]
account = "{account}"

# Who may enter (more sources: README, "Accounts and permissions").
[[tenant.member]]
user = "admin@{account}"
account = "{account}"
permissions = ["admin"]

# Connect one identity provider (README: "Connecting a SAML identity
# provider", "Connecting an OpenID Connect provider"); until then, people sent
# to single sign-on see a page that says none is set up.
#
# [tenant.saml]
# idp_metadata = "https://idp.{account}/metadata"   # or a file
#
# [tenant.oidc]
# issuer = "https://login.{account}"
# client_id = "portero"
# client_secret = "env:OIDC_CLIENT_SECRET"
#
# [tenant.external_sso]
# url = "https://login.{account}/sso"
# jwt_key = "env:EXTERNAL_SSO_SECRET"
# jwt_alg = "HS256"
"#,
        name = t.name,
        host = t.host,
        upstream = t.upstream,
    )
}
