//! A real PostgreSQL server for tests: `initdb` and `postgres` from
//! Debian's `postgresql` package, in a temporary folder, on a free port of
//! 127.0.0.1, with no system service. As root (CI) the server runs as the
//! `postgres` user, since PostgreSQL refuses to run as root.
//!
//! The server is started by a keeper thread and dies with it (the parent
//! death signal), so a test run that ends, however it ends, leaves no
//! server behind; folders left by killed runs are removed at the next start.
//! Used by the store's unit tests and (through `#[path]`) by the
//! integration tests; it depends on nothing but the standard library and
//! libc.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A PostgreSQL server this test run started.
pub struct PgServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its data folder (and socket folder).
    pub dir: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    keeper: Option<mpsc::Sender<()>>,
    done: Option<std::sync::Mutex<mpsc::Receiver<()>>>,
}

const PREFIX: &str = "portero-pg-";

/// Where Debian installs the server's programs (the newest version).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             run scripts/setup.sh, or apt-get install postgresql"
        )
    })
}

/// The `postgres` user's ids, when this process runs as root.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: a valid C string; the result is read at once, before any
    // other call that could reuse its storage.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !pw.is_null(),
        "running as root, PostgreSQL needs the `postgres` user (apt-get install postgresql)"
    );
    // SAFETY: checked not null just above.
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Removes the folders of earlier runs whose process is gone.
fn sweep() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs `cmd` as the server's user (when root), dying with the thread that
/// spawned it.
fn as_server(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = user {
                if libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Set after the user change, which clears it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
            Ok(())
        })
    }
}

impl PgServer {
    /// Creates a cluster in a new folder and starts it.
    pub fn start() -> PgServer {
        sweep();
        let bin = bin_dir();
        let user = server_user();
        let dir =
            std::env::temp_dir().join(format!("{PREFIX}{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("the server's folder");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the folder");
        }
        let out = as_server(&mut Command::new(bin.join("initdb")), user)
            .args(["-D"])
            .arg(&dir)
            .args([
                "-U",
                "portero",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PgServer {
            port: free_port(),
            dir,
            bin,
            user,
            keeper: None,
            done: None,
        };
        server.run();
        server
    }

    /// Starts the server on its folder and port (again, after [`PgServer::kill`]).
    pub fn run(&mut self) {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<Result<(), String>>();
        let (bin, dir, port, user) = (self.bin.clone(), self.dir.clone(), self.port, self.user);
        std::thread::spawn(move || {
            let log = std::fs::File::create(dir.join("server.log")).ok();
            let mut cmd = Command::new(bin.join("postgres"));
            as_server(&mut cmd, user)
                .arg("-D")
                .arg(&dir)
                .arg("-k")
                .arg(&dir)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
                .stdout(Stdio::null());
            if let Some(log) = log {
                cmd.stderr(log);
            }
            let child: Result<Child, _> = cmd.spawn();
            let mut child = match child {
                Ok(c) => {
                    let _ = started_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e.to_string()));
                    return;
                }
            };
            // Until asked to stop (or the process ends, and the server
            // with this thread).
            let _ = stop_rx.recv();
            // Immediate shutdown: no checkpoint, as after a crash (the next
            // start recovers), but the server's own processes end too.
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
            let _ = child.wait();
            let _ = done_tx.send(());
        });
        started_rx
            .recv()
            .expect("the keeper thread")
            .unwrap_or_else(|e| panic!("postgres did not start: {e}"));
        self.keeper = Some(stop_tx);
        self.done = Some(std::sync::Mutex::new(done_rx));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres is not ready after 30 s: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (immediate shutdown, as a crash would end
    /// it: clients are cut off mid-query); its data stays.
    pub fn kill(&mut self) {
        if let Some(stop) = self.keeper.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
            let _ = done.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Runs SQL as the superuser on database `db`.
    pub fn psql(&self, db: &str, sql: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "portero",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new, empty database; returns its URL.
    pub fn new_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://portero@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One server shared by every test of this process (started on first use).
pub fn shared() -> &'static PgServer {
    static SERVER: std::sync::OnceLock<PgServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

/// A fresh database on the shared server, with a name unique in this run.
pub fn fresh_database(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    shared().new_database(&format!("{prefix}_{n}"))
}
