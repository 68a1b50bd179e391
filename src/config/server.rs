//! `[server]`: listeners, the admin listener and its token, logs, state
//! folder, outbound client, Redis, timeouts and sign-in budgets; its
//! `[server.smtp]` is compiled by [`super::mail`].

use super::context::Ctx;
use super::duration;
use super::model::{DatabaseUrl, RedisSettings, Server};
use super::raw::RawServer;
use super::secret;
use crate::outbound::Outbound;
use portero_policy::NetmaskSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// `[server].sign_ins_per_client` when not set.
pub const DEFAULT_SIGN_INS_PER_CLIENT: i64 = 30;

/// `[server].max_started_sign_ins` when not set.
pub const DEFAULT_MAX_STARTED_SIGN_INS: i64 = 20_000;

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

/// `[server]`: `None` when a part the server cannot start without is
/// unsound (the findings say which).
pub(super) fn compile_server(cx: &mut Ctx<'_>, raw: RawServer) -> Option<Server> {
    let (listen, listen_tls) = listeners(cx, &raw);
    let admin = admin(cx, &raw);
    let trusted = cx.nets(
        &raw.trusted_proxies,
        format_args!("[server].trusted_proxies"),
    );
    let threads = threads(cx, &raw);
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
    let data_dir = match &raw.data_dir {
        Some(d) if Path::new(d.get_ref()).is_absolute() => PathBuf::from(d.get_ref()),
        Some(d) => secret::resolve_path(d.get_ref(), &cx.dir),
        None => cx.dir.join("data"),
    };
    let tenants_dir = raw.tenants_dir.as_ref().and_then(|d| tenants_dir(cx, d));
    let outbound = outbound(cx, &raw)?;
    let redis = redis(cx, &raw);
    let database = database(cx, &raw);
    let smtp = raw
        .smtp
        .as_ref()
        .and_then(|s| super::mail::compile_smtp(cx, s));
    let acme = raw
        .acme
        .as_ref()
        .and_then(|a| super::acme::compile_acme(cx, a, &listen, &listen_tls));
    let header_timeout = cx.duration(&raw.header_timeout, 10, "[server].header_timeout");
    let upgrade_sock = upgrade_sock(cx, &raw, &data_dir);
    let pid_file = data_dir.join("portero.pid");
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
        admin_listen: admin.listen?,
        trusted_proxies: NetmaskSet::new(trusted),
        threads,
        admin_token: admin.token,
        admin_hosts: admin.hosts,
        audit_log,
        access_log,
        grace_period,
        upstream_timeout: upstream_timeout.max(1),
        data_dir: Some(data_dir),
        tenants_dir,
        outbound,
        watch_config: raw.watch_config.unwrap_or(true),
        redis,
        database,
        header_timeout: header_timeout.max(1),
        upgrade_sock,
        pid_file,
        saml_verify_timeout,
        sign_ins_per_client: u32::try_from(sign_ins_per_client).unwrap_or(1),
        max_started_sign_ins: u64::try_from(max_started_sign_ins).unwrap_or(100),
        smtp,
        acme,
    })
}

/// `listen` (default `0.0.0.0:8080`) and `listen_tls`.
fn listeners(cx: &mut Ctx<'_>, raw: &RawServer) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
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
    (listen, listen_tls)
}

/// The admin listener as configured.
struct Admin {
    /// Its address (`None` after an error).
    listen: Option<SocketAddr>,
    /// The bearer token of its write calls.
    token: Option<String>,
    /// Host names it answers to besides its address.
    hosts: Vec<String>,
}

/// `admin_listen` (default `127.0.0.1:9090`), `admin_token` (required off
/// loopback, never empty) and `admin_hosts`.
fn admin(cx: &mut Ctx<'_>, raw: &RawServer) -> Admin {
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
    Admin {
        listen: admin_listen,
        token: admin_token,
        hosts: admin_hosts,
    }
}

/// `threads`: 1 to 256, default one per CPU.
fn threads(cx: &mut Ctx<'_>, raw: &RawServer) -> usize {
    match &raw.threads {
        Some(t) if *t.get_ref() == 0 || *t.get_ref() > 256 => {
            cx.err(t.span(), "[server].threads must be between 1 and 256");
            1
        }
        Some(t) => *t.get_ref(),
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

/// The HTTP client for IdP calls: `outbound_timeout` and the extra CAs of
/// `outbound_ca`.
fn outbound(cx: &mut Ctx<'_>, raw: &RawServer) -> Option<Outbound> {
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
    match Outbound::new(
        extra_ca.as_deref(),
        std::time::Duration::from_secs(outbound_timeout.max(1)),
    ) {
        Ok(o) => Some(o),
        Err(e) => {
            let span = raw.outbound_ca.as_ref().map(|c| c.span()).unwrap_or(0..0);
            cx.err(span, format!("[server].outbound_ca: {e}"));
            None
        }
    }
}

/// `database`: PostgreSQL's URL (`env:`/`file:` or inline), checked for
/// its form here; whether the database answers is found at start.
fn database(cx: &mut Ctx<'_>, raw: &RawServer) -> Option<DatabaseUrl> {
    let r = raw.database.as_ref()?;
    let url = cx.secret(r, "[server].database")?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        cx.err(
            r.span(),
            "[server].database must be a postgres:// URL, e.g. \"postgres://portero@db.internal:5432/portero\" (with the password as \"env:PORTERO_DATABASE_URL\" or \"file:/etc/portero/database-url\"); leave it out to keep the directory in the SQLite file under data_dir",
        );
        return None;
    }
    if let Err(e) = url.parse::<tokio_postgres::Config>() {
        cx.err(r.span(), format!("[server].database: {e}"));
        return None;
    }
    Some(DatabaseUrl(url))
}

/// `redis`, `redis_prefix` and `redis_timeout` (the last two only mean
/// something with the first).
fn redis(cx: &mut Ctx<'_>, raw: &RawServer) -> Option<RedisSettings> {
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
    redis
}

/// `upgrade_sock` (default `<data_dir>/upgrade.sock`), short enough for a
/// Unix socket path.
fn upgrade_sock(cx: &mut Ctx<'_>, raw: &RawServer, data_dir: &Path) -> PathBuf {
    let upgrade_sock = match &raw.upgrade_sock {
        Some(p) if Path::new(p.get_ref()).is_absolute() => PathBuf::from(p.get_ref()),
        Some(p) => cx.dir.join(p.get_ref()),
        None => data_dir.join("upgrade.sock"),
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
    upgrade_sock
}

/// `tenants_dir`: a folder (relative to the configuration file's) whose
/// `*.toml` files hold `[[tenant]]` tables. It must exist: an empty
/// folder is fine, a missing one is a mistake that would serve nothing.
fn tenants_dir(cx: &mut Ctx<'_>, raw: &Spanned<String>) -> Option<PathBuf> {
    let dir = cx.dir.join(raw.get_ref());
    if dir.is_dir() {
        return Some(dir);
    }
    cx.err(
        raw.span(),
        format!(
            "[server].tenants_dir `{}` is not a folder (create it: `mkdir -p {}`)",
            dir.display(),
            dir.display()
        ),
    );
    None
}
