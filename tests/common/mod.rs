//! Test harness: a real upstream on 127.0.0.1 that echoes what it received,
//! the real `portero` binary started on free ports, a raw HTTP/1.1 client
//! (so spoofed headers reach Portero exactly as written), and real keys.
#![allow(dead_code)]

pub mod oidc;
pub mod redis;
pub mod saml;
pub mod simplesamlphp;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SESSION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const EXT_SECRET: &str = "an-external-sso-secret-of-32-bytes-or-more";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real HTTP server that answers every request with what it received:
/// first line `PATH <path and query>`, then `name: value` per header.
pub struct Upstream {
    pub addr: SocketAddr,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(async move {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(echo))
                            .await;
                    });
                }
            });
        });
        Upstream { addr }
    }
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let mut out = format!(
        "PATH {}\n",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    for (k, v) in req.headers() {
        out.push_str(&format!(
            "{}: {}\n",
            k.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    // A panel without a user called "ghost" says so when asked to act as it.
    let ghost = req
        .headers()
        .get("x-portero-impersonate")
        .is_some_and(|v| v.as_bytes() == b"ghost");
    let mut builder = Response::builder()
        .header("content-type", "text/plain")
        .header("x-upstream", "echo");
    if ghost {
        builder = builder
            .status(403)
            .header("x-portero-impersonate-unknown", "ghost");
    }
    Ok(builder.body(Full::new(Bytes::from(out))).unwrap())
}

/// What the echo upstream said it received.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn get(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.get(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
    /// Every header whose name, normalised, starts with `x-portero` or equals one given.
    pub fn identity_like(&self, extra: &[&str]) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| {
                let n = k.to_ascii_lowercase().replace('_', "-");
                n.starts_with("x-portero") || extra.iter().any(|e| e.eq_ignore_ascii_case(&n))
            })
            .cloned()
            .collect()
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
    /// The value of a cookie set by this response (empty when cleared).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.all("set-cookie").into_iter().find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k.trim() == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
    }
    /// What the echo upstream received; panics if the request was not forwarded.
    pub fn received(&self) -> Received {
        assert_eq!(
            self.header("x-upstream"),
            Some("echo"),
            "not forwarded: {} {}",
            self.status,
            self.body
        );
        let mut lines = self.body.lines();
        let path = lines
            .next()
            .unwrap_or("")
            .trim_start_matches("PATH ")
            .to_string();
        let headers = lines
            .filter_map(|l| {
                l.split_once(": ")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Received { path, headers }
    }
    pub fn forwarded(&self) -> bool {
        self.header("x-upstream") == Some("echo")
    }
}

/// Sends raw bytes from `from` (a local address) and reads the whole response.
pub fn raw_from(from: Option<&str>, port: u16, request: &[u8]) -> Resp {
    let mut stream = match from {
        Some(local) => connect_from(local, port).unwrap(),
        None => TcpStream::connect(("127.0.0.1", port)).unwrap(),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    parse_response(&buf)
}

/// Connects from a chosen loopback address (127.0.0.x), so a test can be a
/// trusted proxy or not. std cannot bind before connecting; tokio can.
fn connect_from(local: &str, port: u16) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local: SocketAddr = format!("{local}:0")
        .parse()
        .map_err(std::io::Error::other)?;
    let stream = rt.block_on(async move {
        let s = tokio::net::TcpSocket::new_v4()?;
        s.bind(local)?;
        s.connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await?
            .into_std()
    })?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

pub fn parse_response(buf: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A request to send; headers are written exactly as given.
pub struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    from: Option<String>,
}

pub fn get(host: &str, target: &str) -> Req {
    Req {
        method: "GET".into(),
        target: target.into(),
        headers: vec![("Host".into(), host.into())],
        body: Vec::new(),
        from: None,
    }
}

pub fn post_form(host: &str, target: &str, form: &[(&str, &str)]) -> Req {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut r = get(host, target);
    r.method = "POST".into();
    r.body = body.into_bytes();
    r.header("Content-Type", "application/x-www-form-urlencoded")
}

impl Req {
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn html(self) -> Req {
        self.header("Accept", "text/html,application/xhtml+xml")
    }
    pub fn cookie(self, name: &str, value: &str) -> Req {
        self.header("Cookie", &format!("{name}={value}"))
    }
    pub fn method(mut self, m: &str) -> Req {
        self.method = m.into();
        self
    }
    /// Connect from this local address (e.g. `127.0.0.2`).
    pub fn from(mut self, local: &str) -> Req {
        self.from = Some(local.into());
        self
    }
    pub fn send(self, port: u16) -> Resp {
        let mut raw = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(&self.body);
        raw_from(self.from.as_deref(), port, &bytes)
    }
}

/// The `portero` binary running on free ports with a config made from a template.
/// Placeholders: `{LISTEN}`, `{ADMIN}`, `{UPSTREAM}`, `{DIR}`, `{DEAD}` (a closed port).
pub struct Portero {
    child: Child,
    pub port: u16,
    pub admin: u16,
    pub dir: tempfile::TempDir,
}

pub const SERVER_AND_SESSION: &str = r#"
[server]
listen = ["127.0.0.1:{LISTEN}"]
admin_listen = "127.0.0.1:{ADMIN}"
trusted_proxies = ["127.0.0.2/32"]
threads = 1
audit_log = "{DIR}/audit.log"
data_dir = "{DIR}"
grace_period = "1s"

[session]
keys = ["env:PORTERO_SESSION_KEY"]
reauth = "1d"

[assertion]
signing_key = "file:{DIR}/assertion.pem"
ttl = "60s"
"#;

impl Portero {
    pub fn start(tenants: &str, upstream: &Upstream) -> Portero {
        Portero::start_with(&format!("{SERVER_AND_SESSION}\n{tenants}"), upstream, &[])
    }

    pub fn start_with(template: &str, upstream: &Upstream, files: &[(&str, &str)]) -> Portero {
        Portero::start_on(free_port(), template, upstream, files)
    }

    /// As `start_with`, listening on `port` (for URLs that must be known
    /// before Portero starts, e.g. by an IdP).
    pub fn start_on(
        port: u16,
        template: &str,
        upstream: &Upstream,
        files: &[(&str, &str)],
    ) -> Portero {
        let dir = tempfile::tempdir().unwrap();
        let pem = portero::identity::generate_ed25519_pem().unwrap();
        std::fs::write(dir.path().join("assertion.pem"), pem).unwrap();
        let (reseller_private, reseller_public) = ed25519_pair();
        std::fs::write(dir.path().join("reseller.pem"), reseller_private).unwrap();
        std::fs::write(dir.path().join("reseller.pub"), reseller_public).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let admin = free_port();
        let config = template
            .replace("{LISTEN}", &port.to_string())
            .replace("{ADMIN}", &admin.to_string())
            .replace("{UPSTREAM}", &upstream.addr.to_string())
            .replace("{DEAD}", &format!("127.0.0.1:{}", free_port()))
            .replace("{DIR}", dir.path().to_str().unwrap());
        let path = dir.path().join("portero.toml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["run", "--config"])
            .arg(&path)
            .env("PORTERO_SESSION_KEY", SESSION_KEY)
            .env("EXT_SSO_SECRET", EXT_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let mut p = Portero {
            child,
            port,
            admin,
            dir,
        };
        p.wait_ready();
        p
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("portero exited with {status}: {}", self.stderr());
            }
            let admin_up = TcpStream::connect(("127.0.0.1", self.admin)).is_ok();
            let proxy_up = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if admin_up && proxy_up {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("portero did not start: {}", self.stderr());
    }

    /// Peak resident memory of the Portero process, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        self.proc_status_kib("VmHWM:")
    }

    /// Resident memory of the Portero process now, in KiB (Linux `VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.proc_status_kib("VmRSS:")
    }

    fn proc_status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `within` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Starts `portero run --upgrade` on the same configuration (a new
    /// binary taking over); its standard error goes to `stderr-<name>.log`.
    pub fn spawn_successor(&self, name: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["run", "--upgrade", "--config"])
            .arg(self.dir.path().join("portero.toml"))
            .env("PORTERO_SESSION_KEY", SESSION_KEY)
            .env("EXT_SSO_SECRET", EXT_SECRET)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join(format!("stderr-{name}.log"))).unwrap(),
            ))
            .spawn()
            .unwrap()
    }

    pub fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn send(&self, req: Req) -> Resp {
        req.send(self.port)
    }

    pub fn admin_post(&self, path: &str) -> Resp {
        get("127.0.0.1", path).method("POST").send(self.admin)
    }
}

impl Drop for Portero {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hand-back JWT with these claims, HS256 with `secret`.
pub fn hs256(secret: &str, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Claims of a good token for `tenant` and `email`, issued now.
pub fn claims(tenant: &str, email: &str) -> serde_json::Value {
    let n = now();
    let jti = format!(
        "{}-{}-{}",
        std::process::id(),
        n,
        JTI.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    serde_json::json!({"email": email, "name": "Test User", "aud": tenant, "iat": n, "exp": n + 120, "jti": jti})
}

/// Starts an external sign-in on `host` as a browser does (following the
/// SSO button): the flow cookie it gets and the `state` sent to the page.
pub fn start_external(p: &Portero, host: &str, return_to: &str) -> (String, String) {
    let r = p.send(
        get(
            host,
            &format!(
                "/.portero/sso/external?return_to={}",
                form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            ),
        )
        .html(),
    );
    assert_eq!(r.status, 302, "external sign-in not started: {}", r.body);
    let state = query_map(r.location())
        .get("state")
        .cloned()
        .expect("no state sent to the external page");
    let cookie = r.set_cookie("portero_jwt").expect("no flow cookie");
    assert_eq!(cookie, state);
    (cookie, state)
}

/// The hand-back an external page sends the browser to.
pub fn handback(token: &str, return_to: &str, state: &str) -> String {
    format!(
        "/.portero/jwt/callback?jwt={token}&return_to={}&state={state}",
        form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    )
}

/// A browser's whole external sign-in on `host` with `token`: started,
/// then handed back (with the flow cookie and `state`).
pub fn external_sign_in(p: &Portero, host: &str, token: &str, return_to: &str) -> Resp {
    let (cookie, state) = start_external(p, host, return_to);
    p.send(
        get(host, &handback(token, return_to, &state))
            .html()
            .cookie("portero_jwt", &cookie),
    )
}

/// Signs in through the external SSO hand-back and returns the session cookie value.
pub fn sign_in(p: &Portero, host: &str, tenant: &str, email: &str) -> String {
    let token = hs256(EXT_SECRET, &claims(tenant, email));
    let r = external_sign_in(p, host, &token, "/home");
    assert_eq!(r.status, 302, "sign-in failed: {}", r.body);
    r.set_cookie("portero_session").expect("no session cookie")
}

/// An Ed25519 key pair: (PKCS#8 private PEM, SPKI public PEM).
pub fn ed25519_pair() -> (String, String) {
    let private = portero::identity::generate_ed25519_pem().unwrap();
    let der = pem::parse(&private).unwrap().contents().to_vec();
    let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&der[16..48]).unwrap();
    use ring::signature::KeyPair;
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(kp.public_key().as_ref());
    (private, pem::encode(&pem::Pem::new("PUBLIC KEY", spki)))
}

pub fn query_map(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// Three tenants used across the end-to-end tests:
/// * `latincloud`: netmasks, login page, super-admin bypass, HS256 external SSO;
/// * `reseller`: forced external SSO (EdDSA), netmask 10/8, header renamed;
/// * `nomask`: no netmasks, auto_redirect;
/// * `picker`: a reseller whose users choose the account on `/.portero/accounts`;
/// * `down`: an upstream that is not listening.
pub const TENANTS: &str = r#"
[[tenant]]
name = "latincloud"
display_name = "LatinCloud"
hosts = ["panel.latincloud.test", "*.latincloud.test"]
upstream = "{UPSTREAM}"
sso_mode = "login_page"
netmasks = ["64.233.187.0/24", "2001:db8::/32"]
super_admins = ["root@latincloud.test"]
classic_users = ["legacy-ops@latincloud.test"]
superadmin_bypass = true
admin_paths = ["/admin"]
bypass_paths = ["/static/", "/api/"]
account = "latincloud.test"

[[tenant.member]]
user = "ana@latincloud.test"
account = "latincloud.test"
permissions = ["technical", "invite"]

[[tenant.member]]
user = "boss@latincloud.test"
account = "latincloud.test"
permissions = ["admin"]
impersonate = "bossuser"

[tenant.external_sso]
url = "https://login.latincloud.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"

[[tenant]]
name = "reseller"
hosts = ["panel.reseller.test"]
upstream = "{UPSTREAM}"
netmasks = ["10.0.0.0/8"]
super_admins = ["root@reseller.test"]
superadmin_bypass = true
admin_paths = ["/admin"]
account = "reseller.test"

[[tenant.member]]
user = "ana@latincloud.test"
account = "reseller.test"
permissions = ["technical"]

[tenant.headers]
user = "X-Remote-User"

[tenant.external_sso]
url = "https://login.reseller.test/sso"
jwt_key = "file:{DIR}/reseller.pub"
jwt_alg = "EdDSA"
forced = true

[[tenant]]
name = "nomask"
hosts = ["panel.nomask.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
super_admins = ["root@nomask.test"]
admin_paths = ["/admin"]
account = "nomask.test"

[[tenant.member]]
user = "ana@nomask.test"
account = "nomask.test"
permissions = ["commercial"]

[tenant.external_sso]
url = "https://login.nomask.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "picker"
hosts = ["panel.picker.test"]
upstream = "{UPSTREAM}"
account_picker = true

[[tenant.member]]
user = "ana@picker.test"
account = "client-one.test"
permissions = ["technical"]

[[tenant.member]]
user = "ana@picker.test"
account = "client-two.test"
permissions = ["commercial"]

[tenant.external_sso]
url = "https://login.picker.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "down"
hosts = ["panel.down.test"]
upstream = "{DEAD}"
account = "down.test"
bypass_paths = ["/"]
"#;

/// Starts the echo upstream and Portero with [`TENANTS`].
pub fn start() -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    (up, p)
}

/// An EdDSA token signed with the reseller tenant's external SSO key.
pub fn eddsa(p: &Portero, claims: &serde_json::Value) -> String {
    let pem = std::fs::read_to_string(p.path("reseller.pem")).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        claims,
        &jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Plays the IdP's auto-POST page into Portero's ACS (with the flow cookie
/// the browser got when it was sent to the IdP), checks the redirect back
/// to `return_to`, and returns what the panel then receives and the session.
pub fn finish_at_acs(
    p: &Portero,
    host: &str,
    idp_page: &str,
    flow_cookie: &str,
    return_to: &str,
) -> (Received, String) {
    assert!(idp_page.contains("/.portero/saml/acs"), "{idp_page}");
    let saml_response = saml::input_value(idp_page, "SAMLResponse");
    let relay = saml::input_value(idp_page, "RelayState");
    let r = p.send(
        post_form(
            host,
            "/.portero/saml/acs",
            &[("SAMLResponse", &saml_response), ("RelayState", &relay)],
        )
        .cookie("portero_saml", flow_cookie),
    );
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), return_to);
    let session = r.set_cookie("portero_session").unwrap();
    let received = p
        .send(get(host, return_to).cookie("portero_session", &session))
        .received();
    (received, session)
}
