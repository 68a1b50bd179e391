//! The real `portero` binary on free ports with a config from a template,
//! and the tenants most tests share.

use super::*;

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
        Portero::retrying_taken_ports(|| {
            Portero::try_start_on(free_port(), template, upstream, files, &[])
        })
    }

    /// As `start_with`, with more arguments to `portero run`, logging from
    /// `info` up (the others log warnings and errors only).
    pub fn start_with_args(template: &str, upstream: &Upstream, args: &[&str]) -> Portero {
        Portero::retrying_taken_ports(|| {
            Portero::try_start_on(free_port(), template, upstream, &[], args)
        })
    }

    /// A free port is only free until someone binds it: tests running side
    /// by side can take one between `free_port()` and Portero's bind. Such a
    /// start is tried again on fresh ports; any other failure is reported.
    fn retrying_taken_ports(mut start: impl FnMut() -> Result<Portero, String>) -> Portero {
        let mut last = String::new();
        for _ in 0..5 {
            match start() {
                Ok(p) => return p,
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last}")
    }

    /// As `start_with`, listening on `port` (for URLs that must be known
    /// before Portero starts, e.g. by an IdP).
    pub fn start_on(
        port: u16,
        template: &str,
        upstream: &Upstream,
        files: &[(&str, &str)],
    ) -> Portero {
        Portero::retrying_taken_ports(|| {
            Portero::try_start_on(port, template, upstream, files, &[])
        })
    }

    fn try_start_on(
        port: u16,
        template: &str,
        upstream: &Upstream,
        files: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Portero, String> {
        let dir = tempfile::tempdir().unwrap();
        let pem = portero::identity::generate_ed25519_pem().unwrap();
        std::fs::write(dir.path().join("assertion.pem"), pem).unwrap();
        let (reseller_private, reseller_public) = ed25519_pair();
        std::fs::write(dir.path().join("reseller.pem"), reseller_private).unwrap();
        std::fs::write(dir.path().join("reseller.pub"), reseller_public).unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
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
            .args(args)
            .env("PORTERO_SESSION_KEY", SESSION_KEY)
            .env("EXT_SSO_SECRET", EXT_SECRET)
            .env("RUST_LOG", if args.is_empty() { "warn" } else { "info" })
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
        p.wait_ready()?;
        Ok(p)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("portero exited with {status}: {}", self.stderr()));
            }
            let admin_up = TcpStream::connect(("127.0.0.1", self.admin)).is_ok();
            let proxy_up = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if admin_up && proxy_up {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        Err(format!("portero did not start: {}", self.stderr()))
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
