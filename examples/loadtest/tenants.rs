//! `loadtest --tenants N`: Portero with N tenants in `tenants_dir` (one
//! file each: two hosts, two netmasks, a super-admin, external SSO and a
//! member), and the figures of a hosting company's day:
//!
//! * `portero check` of the whole folder (wall time);
//! * one tenant's netmasks changed through the admin API: time until the
//!   answer, when the change is in force (median and worst of 20);
//! * the same change made by writing the tenant's file (by a rename, as a
//!   panel would): time until a request sees it (`watch_config` on);
//! * a full reload (every file rewritten, then `POST /reload`): time;
//! * resident memory after the first full reload and after `--reloads`
//!   of them (each read once the reload's aftermath is over), and their
//!   ratio;
//! * the p99 of requests one after another on one tenant while full
//!   reloads run back to back (every file touched, then `POST /reload`),
//!   over the p99 without them: windows of each taken in turns.

use crate::procs::{free_port, rss_kib, Procs};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One blocking HTTP/1.1 request with `Connection: close`; the status.
fn call(port: u16, method: &str, host: &str, path: &str, body: &str) -> Option<u16> {
    exchange(port, method, host, path, body)?
        .get(9..12)?
        .parse()
        .ok()
}

/// One blocking HTTP/1.1 request with `Connection: close`; the answer.
fn exchange(port: u16, method: &str, host: &str, path: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

fn tenant(i: usize, up_port: u16, octet: usize, round: usize) -> String {
    format!(
        r#"# round {round}
[[tenant]]
name = "t{i}"
hosts = ["t{i}.example.test", "panel.t{i}.example.test"]
upstream = "127.0.0.1:{up_port}"
netmasks = ["10.{octet}.0.0/16", "192.168.{o2}.0/24"]
super_admins = ["root@t{i}.test"]
admin_paths = ["/admin"]
bypass_paths = ["/static/", "/round-{round}/"]
account = "t{i}"

[[tenant.member]]
user = "ana@t{i}.test"
account = "t{i}"
permissions = ["technical"]

[tenant.external_sso]
url = "https://sso.t{i}.test/login"
jwt_key = "a-load-test-secret-that-is-32-bytes-long-{i}"
"#,
        o2 = i % 250
    )
}

fn write_all(dir: &Path, n: usize, up_port: u16, round: usize) -> Result<(), String> {
    for i in 0..n {
        std::fs::write(
            dir.join(format!("t{i}.toml")),
            tenant(i, up_port, i % 250, round),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Marks every file of `dir` written now (opened for writing, its
/// modification time set), so that the next reload compiles all of them
/// again; cheaper for this process than writing them anew.
fn touch_all(dir: &Path, n: usize) {
    let now = std::time::SystemTime::now();
    for i in 0..n {
        if let Ok(f) = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(format!("t{i}.toml")))
        {
            let _ = f.set_modified(now);
        }
    }
}

/// Writes `text` as `dir/name` by a rename, as a panel would.
fn write_by_rename(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join(name)).map_err(|e| e.to_string())
}

/// Whether `GET path` on `host` reaches the panel (whose answer says so).
fn forwarded(port: u16, host: &str, path: &str) -> bool {
    let answer = exchange(port, "GET", host, path, "").unwrap_or_default();
    answer.starts_with("HTTP/1.1 200") && answer.contains("panel says hello")
}

/// Milliseconds until [`forwarded`] answers `wanted`, polling every
/// millisecond; `None` after 10 s.
fn until(port: u16, host: &str, path: &str, wanted: bool, since: Instant) -> Option<f64> {
    while since.elapsed() < Duration::from_secs(10) {
        if forwarded(port, host, path) == wanted {
            return Some(since.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// Latencies (ms) of requests one after another for `secs`.
fn sequential(port: u16, secs: u64) -> Vec<f64> {
    sequential_for(port, Duration::from_secs(secs))
}

/// Latencies (ms) of requests one after another for `span`.
fn sequential_for(port: u16, span: Duration) -> Vec<f64> {
    let end = Instant::now() + span;
    let mut out = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let _ = call(port, "GET", "t7.example.test", "/static/x", "");
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

/// Resident memory (KiB) once the last reload's aftermath is done: the
/// configuration it replaced dropped and the memory handed back, as an
/// operator sees it between reloads.
fn settled_rss(pid: u32) -> u64 {
    std::thread::sleep(Duration::from_millis(500));
    rss_kib(pid).unwrap_or(0)
}

/// How many windows of each kind [`quiet_and_stormy`] takes, and how long.
const WINDOWS: usize = 5;
const WINDOW: Duration = Duration::from_secs(2);

/// Latencies (ms) of requests one after another, quiet and during full
/// reloads back to back (every file touched, then `POST /reload`), in
/// [`WINDOWS`] turns; and how many reloads ran.
fn quiet_and_stormy(
    port: u16,
    admin: u16,
    tenants: &Path,
    n: usize,
) -> (Vec<f64>, Vec<f64>, usize) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let storming = Arc::new(AtomicBool::new(false));
    let reloading = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(AtomicUsize::new(0));
    let storm = {
        let (storming, reloading, done, reloads) = (
            storming.clone(),
            reloading.clone(),
            done.clone(),
            reloads.clone(),
        );
        let tenants = tenants.to_path_buf();
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if !storming.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                reloading.store(true, Ordering::SeqCst);
                touch_all(&tenants, n);
                let _ = call(admin, "POST", "127.0.0.1", "/reload", "");
                reloads.fetch_add(1, Ordering::SeqCst);
                reloading.store(false, Ordering::SeqCst);
            }
        })
    };
    // Connections and caches warm first.
    let _ = sequential(port, 1);
    let (mut quiet, mut stormy) = (Vec::new(), Vec::new());
    for _ in 0..WINDOWS {
        quiet.extend(sequential_for(port, WINDOW));
        storming.store(true, Ordering::SeqCst);
        stormy.extend(sequential_for(port, WINDOW));
        storming.store(false, Ordering::SeqCst);
        // The last reload and what it leaves (the old configuration
        // dropped, memory handed back) are over before the quiet window.
        while reloading.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    done.store(true, Ordering::SeqCst);
    let _ = storm.join();
    (quiet, stormy, reloads.load(Ordering::SeqCst))
}

/// The run; `portero` is the binary, `out` the working folder.
pub(crate) fn run(portero: &Path, out: &Path, n: usize, reloads: usize) -> Result<(), String> {
    let dir = out.join("tenants-run");
    let _ = std::fs::remove_dir_all(&dir);
    let tenants = dir.join("tenants");
    std::fs::create_dir_all(&tenants).map_err(|e| e.to_string())?;
    let (port, admin, up_port) = (free_port(), free_port(), free_port());
    let mut procs = Procs(Vec::new());
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut up = Command::new(me);
    up.args(["--serve-upstream", &up_port.to_string()]);
    procs.spawn("upstream", up, &dir.join("upstream.log"))?;
    let key = dir.join("assertion.pem");
    let pem = Command::new(portero)
        .args(["keygen", "--assertion-key"])
        .arg(&key)
        .output()
        .map_err(|e| e.to_string())?;
    if !pem.status.success() {
        return Err("portero keygen failed".into());
    }
    let main = dir.join("portero.toml");
    std::fs::write(
        &main,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nadmin_listen = \"127.0.0.1:{admin}\"\nthreads = 1\ndata_dir = \"data\"\ntenants_dir = \"tenants\"\nwatch_config = false\n\n[session]\nkeys = [\"{}\"]\n\n[assertion]\nsigning_key = \"file:{}\"\n",
            crate::SESSION_KEY,
            key.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    write_all(&tenants, n, up_port, 0)?;

    let t = Instant::now();
    let check = Command::new(portero)
        .args(["check", "--config"])
        .arg(&main)
        .output()
        .map_err(|e| e.to_string())?;
    let check_s = t.elapsed().as_secs_f64();
    if !check.status.success() {
        return Err(format!(
            "check refused the tenants: {}",
            String::from_utf8_lossy(&check.stderr)
        ));
    }
    let mut cmd = Command::new(portero);
    cmd.args(["run", "--config"]).arg(&main);
    let pid = procs.spawn("portero", cmd, &dir.join("portero.log"))?;
    crate::client::wait_ready_within(admin, "/readyz", "portero", 120)?;
    let rss_start = rss_kib(pid).unwrap_or(0);

    let mut changes = Vec::new();
    for round in 0..20 {
        let body = tenant(5, up_port, 100 + round % 2, round);
        let t = Instant::now();
        let status = call(admin, "PUT", "127.0.0.1", "/tenants/t5", &body);
        changes.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != Some(200) {
            return Err(format!("PUT /tenants/t5 answered {status:?}"));
        }
    }
    let mut full = Vec::new();
    let mut rss_first = 0;
    for round in 1..=reloads {
        write_all(&tenants, n, up_port, round)?;
        // The kernel writes the files out before the reload is timed: the
        // figure is the reload's, not the disk's.
        // SAFETY: `sync` takes no arguments and only flushes.
        unsafe { libc::sync() };
        let t = Instant::now();
        let status = call(admin, "POST", "127.0.0.1", "/reload", "");
        full.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != Some(200) {
            return Err(format!("POST /reload answered {status:?}"));
        }
        if round == 1 {
            rss_first = settled_rss(pid);
        }
    }
    let rss_last = settled_rss(pid);
    // Requests one after another, in windows without reloads and windows
    // with full reloads back to back, taken in turns so that the
    // machine's own ups and downs fall on both alike.
    let (quiet, stormy, storm_reloads) = quiet_and_stormy(port, admin, &tenants, n);

    // The same change, made by writing the file, with `watch_config` now
    // on: in force when a path it adds is forwarded.
    let watching = std::fs::read_to_string(&main)
        .map_err(|e| e.to_string())?
        .replace("watch_config = false", "watch_config = true");
    std::fs::write(&main, watching).map_err(|e| e.to_string())?;
    if call(admin, "POST", "127.0.0.1", "/reload", "") != Some(200) {
        return Err("POST /reload with watch_config on failed".into());
    }
    // Outside the netmasks the panel's classic login is forwarded to;
    // with 127.0.0.0/8 added, this client is inside and is sent to SSO.
    let mut by_file = Vec::new();
    for round in 200..220 {
        let inside = round % 2 == 0;
        if forwarded(port, "t6.example.test", "/x") != inside {
            return Err(format!(
                "round {round}: t6 is not as the last change left it"
            ));
        }
        let mut text = tenant(6, up_port, 6, round);
        if inside {
            text = text.replace("netmasks = [", "netmasks = [\"127.0.0.0/8\", ");
        }
        let since = Instant::now();
        write_by_rename(&tenants, "t6.toml", &text)?;
        match until(port, "t6.example.test", "/x", !inside, since) {
            Some(ms) => by_file.push(ms),
            None => return Err("a changed tenant file was not in force within 10 s".into()),
        }
    }
    let mib = |k: u64| k as f64 / 1024.0;
    println!("{n} tenants in tenants_dir, one file each");
    println!("  portero check, whole folder      {check_s:.2} s");
    println!(
        "  resident at start                {:.0} MiB",
        mib(rss_start)
    );
    println!(
        "  one tenant changed by the API    median {:.0} ms, worst {:.0} ms (20 changes; in force when answered)",
        percentile(changes.clone(), 0.5),
        percentile(changes, 1.0)
    );
    println!(
        "  one tenant file written          median {:.0} ms, worst {:.0} ms (20 writes; until a request sees it)",
        percentile(by_file.clone(), 0.5),
        percentile(by_file, 1.0)
    );
    println!(
        "  full reload (every file changed) median {:.0} ms, worst {:.0} ms ({reloads} reloads)",
        percentile(full.clone(), 0.5),
        percentile(full, 1.0)
    );
    println!(
        "  resident after reload 1 / {reloads}     {:.0} / {:.0} MiB ({:.2}×)",
        mib(rss_first),
        mib(rss_last),
        rss_last as f64 / rss_first.max(1) as f64
    );
    let (p_quiet, p_storm) = (percentile(quiet, 0.99), percentile(stormy, 0.99));
    println!(
        "  request p99 quiet / during {storm_reloads} reloads back to back   {p_quiet:.2} / {p_storm:.2} ms ({:.2}×; {WINDOWS} windows of {}s each, in turns)",
        p_storm / p_quiet.max(0.001),
        WINDOW.as_secs()
    );
    Ok(())
}
