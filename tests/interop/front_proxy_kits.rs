//! The front-proxy kits of docs/front-proxies.md, run as committed
//! (only their ports and addresses replaced): real nginx with
//! `examples/front-proxies/nginx-auth_request.conf` and real Caddy with
//! `examples/front-proxies/Caddyfile`, each in front of a real panel (the
//! echo upstream) and asking a real Portero at `/.portero/auth`. For each:
//!
//! * a browser signs in through the front proxy alone (sent to the
//!   sign-in page, the external sign-in started and handed back under
//!   `/.portero/`), and its requests then reach the panel with the
//!   identity headers and the assertion;
//! * an unsigned browser is sent to the sign-in page with the way back;
//!   an API client gets 401; `/.portero/jwks.json` answers through it;
//! * identity headers a client sends (`X-Portero-User`, the assertion, an
//!   impersonation, `X_Portero_User`) never reach the panel, signed in or
//!   not (a bypass path), and a client's `X-Forwarded-Uri`,
//!   `X-Original-URI` or `X-Forwarded-Host` never changes what Portero
//!   judges (a bypass path's, another tenant's session).
//!
//! The Traefik kit is not run: Traefik is not packaged for Debian.
use crate::common::saml::{wait_for_port, KillOnDrop};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HOST: &str = "panel.example.com";
const OTHER: &str = "panel.other.test";

/// Portero behind the front proxy: on loopback, trusting it (it connects
/// from 127.0.0.1), as docs/front-proxies.md configures it.
const PORTERO: &str = r#"
[server]
listen = ["127.0.0.1:{LISTEN}"]
admin_listen = "127.0.0.1:{ADMIN}"
trusted_proxies = ["127.0.0.1/32"]
threads = 1
audit_log = "{DIR}/audit.log"
data_dir = "{DIR}"
grace_period = "1s"

[session]
keys = ["env:PORTERO_SESSION_KEY"]

[assertion]
signing_key = "file:{DIR}/assertion.pem"

[[tenant]]
name = "front"
hosts = ["panel.example.com"]
upstream = "{UPSTREAM}"
account = "example.com"
bypass_paths = ["/static/"]

[[tenant.member]]
user = "ana@example.com"
account = "example.com"
permissions = ["technical", "invite"]

[tenant.external_sso]
url = "https://login.example.com/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "other"
hosts = ["panel.other.test"]
upstream = "{UPSTREAM}"
account = "other.test"

[[tenant.member]]
user = "eve@other.test"
account = "other.test"
permissions = ["admin"]

[tenant.external_sso]
url = "https://login.other.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;

/// A front proxy started from a kit, in a folder of its own.
struct Front {
    port: u16,
    dir: tempfile::TempDir,
    _process: KillOnDrop,
}

impl Front {
    /// The tenant's host as a browser sends it to the front proxy.
    fn host(&self) -> String {
        format!("{HOST}:{}", self.port)
    }

    fn send(&self, req: Req) -> Resp {
        req.send(self.port)
    }

    fn log(&self) -> String {
        ["error.log", "caddy.log"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(self.dir.path().join(f)).ok())
            .collect()
    }
}

fn kit(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/front-proxies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with `from` replaced by `to`; `from` must be there (the kit
/// still names the addresses the tests fill in).
fn put(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the kit no longer holds `{from}`");
    text.replace(from, to)
}

/// A folder the front proxy's workers can enter when the tests run as
/// root (nginx's workers then run as `nobody`).
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn executable(name: &str, package: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is needed (Debian: apt-get install {package})"))
}

/// nginx with the kit as its site, run in the foreground from a folder of
/// its own (pid, logs and temporary files there; no service, no root).
fn start_nginx(panel: &Upstream, portero: &Portero) -> Front {
    let dir = folder();
    let port = free_port();
    let site = kit("nginx-auth_request.conf");
    let site = put(&site, "127.0.0.1:9000", &panel.addr.to_string());
    let site = put(
        &site,
        "127.0.0.1:8081",
        &format!("127.0.0.1:{}", portero.port),
    );
    let site = put(&site, "listen 80", &format!("listen 127.0.0.1:{port}"));
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         \x20   include {d}/site.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let child = Command::new(executable("nginx", "nginx"))
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
        ))
        .spawn()
        .expect("nginx could not be started");
    let process = KillOnDrop(child);
    wait_for_port(port, "nginx");
    Front {
        port,
        dir,
        _process: process,
    }
}

/// Caddy with the kit as its Caddyfile, its admin API on a free loopback
/// port and its state (HOME, XDG folders) in a folder of its own.
fn start_caddy(panel: &Upstream, portero: &Portero) -> Front {
    let dir = folder();
    let (port, admin) = (free_port(), free_port());
    let caddyfile = kit("Caddyfile");
    let caddyfile = put(&caddyfile, "127.0.0.1:9000", &panel.addr.to_string());
    let caddyfile = put(
        &caddyfile,
        "127.0.0.1:8081",
        &format!("127.0.0.1:{}", portero.port),
    );
    let caddyfile = put(&caddyfile, "localhost:2019", &format!("127.0.0.1:{admin}"));
    // The site address: plain HTTP on a free port instead of HTTPS on 443.
    let caddyfile = put(
        &caddyfile,
        "panel.example.com {",
        &format!("http://panel.example.com:{port} {{"),
    );
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, caddyfile).unwrap();
    let child = Command::new(executable("caddy", "caddy"))
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("caddy.log")).unwrap(),
        ))
        .spawn()
        .expect("caddy could not be started");
    let process = KillOnDrop(child);
    wait_for_port(port, "caddy");
    Front {
        port,
        dir,
        _process: process,
    }
}

/// The path and query of a redirect, whether the proxy made it absolute
/// or not.
fn path_of(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => location,
    }
}

/// A browser's whole sign-in through the front proxy only: sent to the
/// sign-in page, the external sign-in started and handed back under
/// `/.portero/`; the session cookie.
fn sign_in_through(front: &Front, email: &str) -> String {
    let host = front.host();
    let r = front.send(get(&host, "/domains").html());
    assert_eq!(
        r.status,
        302,
        "not sent to sign in: {}\n{}",
        r.body,
        front.log()
    );
    let login = path_of(r.location()).to_string();
    assert_eq!(login, "/.portero/login?return_to=%2Fdomains");
    let r = front.send(get(&host, &login).html());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("/.portero/sso/external"), "{}", r.body);
    let r = front.send(get(&host, "/.portero/sso/external?return_to=%2Fdomains").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let sent = query_map(r.location());
    let (state, return_to) = (&sent["state"], &sent["return_to"]);
    assert_eq!(return_to, &format!("http://{host}/domains"));
    let flow = r.set_cookie("portero_jwt").expect("no flow cookie");
    let token = hs256(EXT_SECRET, &claims("front", email));
    let r = front.send(
        get(&host, &handback(&token, return_to, state))
            .html()
            .cookie("portero_jwt", &flow),
    );
    assert_eq!(r.status, 302, "hand-back refused: {}", r.body);
    assert_eq!(path_of(r.location()), "/domains");
    r.set_cookie("portero_session").expect("no session cookie")
}

/// Every value the panel got under an identity header name (Portero's, in
/// any spelling).
fn identity_values(received: &Received) -> Vec<String> {
    received
        .identity_like(&[])
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

/// What the kits must do, whichever front proxy runs them.
fn kit_guards_the_panel(front: &Front, portero: &Portero) {
    let host = front.host();

    // Signed in through the front proxy alone.
    let session = sign_in_through(front, "ana@example.com");
    let r = front.send(
        get(&host, "/domains?x=1")
            .html()
            .cookie("portero_session", &session),
    );
    assert!(r.forwarded(), "{} {}\n{}", r.status, r.body, front.log());
    let got = r.received();
    assert_eq!(got.path, "/domains?x=1");
    assert_eq!(got.one("x-portero-user"), Some("ana@example.com"));
    assert_eq!(got.one("x-portero-email"), Some("ana@example.com"));
    assert_eq!(got.one("x-portero-name"), Some("Test User"));
    assert_eq!(got.one("x-portero-tenant"), Some("front"));
    assert_eq!(got.one("x-portero-account"), Some("example.com"));
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));
    assert_eq!(got.one("x-portero-auth"), Some("jwt"));
    assert!(got
        .one("x-portero-assertion")
        .is_some_and(|a| a.starts_with("eyJ")));
    assert_eq!(got.one("x-portero-impersonate"), None);

    // Not signed in: a browser is sent to sign in, with the way back; an
    // API client is refused.
    let r = front.send(get(&host, "/domains?x=1").html());
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        path_of(r.location()),
        "/.portero/login?return_to=%2Fdomains%3Fx%3D1"
    );
    let r = front.send(get(&host, "/domains").header("Accept", "application/json"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!r.forwarded());

    // Portero's own paths through the front proxy.
    let r = front.send(get(&host, "/.portero/jwks.json"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"keys\""), "{}", r.body);

    // Identity headers sent by the client never reach the panel.
    let forged = |req: Req| {
        req.header("X-Portero-User", "mallory@example.com")
            .header("x-portero-tenant", "forged-tenant")
            .header("X-Portero-Assertion", "forged.assertion.value")
            .header("X-Portero-Impersonate", "forged-root")
            .header("X_Portero_User", "mallory@example.com")
    };
    let r = front.send(forged(
        get(&host, "/domains").cookie("portero_session", &session),
    ));
    let got = r.received();
    assert_eq!(got.one("x-portero-user"), Some("ana@example.com"));
    assert_eq!(got.one("x-portero-tenant"), Some("front"));
    assert_eq!(got.one("x-portero-impersonate"), None);
    let values = identity_values(&got);
    assert!(
        !values
            .iter()
            .any(|v| v.contains("mallory") || v.contains("forged")),
        "{values:?}"
    );
    // …nor, unsigned, on a bypass path (Portero answers 200 without identity).
    let r = front.send(forged(get(&host, "/static/app.css")));
    let got = r.received();
    assert_eq!(got.path, "/static/app.css");
    assert_eq!(identity_values(&got), Vec::<String>::new());

    // A client cannot choose what Portero judges: another path…
    for header in ["X-Forwarded-Uri", "X-Original-URI"] {
        let r = front.send(get(&host, "/domains").header(header, "/static/x"));
        assert!(!r.forwarded(), "{header} believed: {}", r.body);
        assert_eq!(r.status, 401);
    }
    // …or another tenant's host, where its session is valid.
    let eve = sign_in(portero, OTHER, "other", "eve@other.test");
    let r = front.send(
        get(&host, "/domains")
            .header("X-Forwarded-Host", OTHER)
            .cookie("portero_session", &eve),
    );
    assert!(!r.forwarded(), "X-Forwarded-Host believed: {}", r.body);
    assert_eq!(r.status, 401);
}

fn panel_and_portero() -> (Upstream, Portero) {
    let panel = Upstream::start();
    let portero = Portero::start_with(PORTERO, &panel, &[]);
    (panel, portero)
}

#[test]
fn nginx_auth_request_kit_guards_the_panel() {
    let (panel, portero) = panel_and_portero();
    let front = start_nginx(&panel, &portero);
    kit_guards_the_panel(&front, &portero);
    // nginx's own refusal of other hosts (the kit's default server).
    let r = front.send(get(OTHER, "/domains"));
    assert_eq!(r.status, 0, "answered for another host: {}", r.body);
}

#[test]
fn caddy_forward_auth_kit_guards_the_panel() {
    let (panel, portero) = panel_and_portero();
    let front = start_caddy(&panel, &portero);
    kit_guards_the_panel(&front, &portero);
}
