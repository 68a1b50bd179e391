//! The load-test command: one machine, one run, the same load through
//!
//! * (a) the upstream directly,
//! * (b) Portero with a valid session (cookie open, decision, header strip
//!   and inject, assertion JWT),
//! * (c) Portero on a bypass path,
//! * (d) nginx as a plain reverse proxy,
//! * (e) nginx with `auth_request` to a separate auth service (the pattern
//!   Portero replaces: the auth service is its own `server` in the same
//!   nginx, answers 200 at once with the identity; keep-alive to both the
//!   panel and the auth service),
//! * (f) nginx with `auth_request` to Portero's `/.portero/auth`,
//!
//! in interleaved rounds, then the table of req/s, p50, p99, p99.9 and
//! errors, the ratios b/d, b/e, e/d, c/d (and b/a, d/a, b/f), a latency plot
//! (SVG), and the resident memory of Portero (and of nginx) holding 10,000
//! idle keep-alive connections.
//!
//! Next to those noisy figures, a deterministic one: user-space instructions
//! per request under `valgrind --tool=callgrind` (`--callgrind N`), for
//! Portero signed in (b) and on the bypass path (c) with one thread, and for
//! nginx (d) and (e) with one process: warm-up, `callgrind_control --zero`,
//! N requests one after another on one keep-alive connection,
//! `callgrind_control --dump`, the dump's `totals:` divided by N.
//!
//! Run it with `scripts/loadtest.sh` (installs nginx, wrk and valgrind when
//! missing, builds, runs this). The proxies get CPU 0 (CPUs 0..threads with
//! `--threads`); the upstream and wrk get the other CPUs (`taskset`).
//! Loopback only; bounded time (rounds × 6 scenarios × duration, plus
//! ~20 s, plus ~1 minute for callgrind).

use clap::Parser;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use portero::auth::AuthMethod;
use portero::session::{Sealer, SessionClaims};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SESSION_KEY: &str = "bG9hZHRlc3Qtc2Vzc2lvbi1rZXktMzItYnl0ZXMhISE=";

#[derive(Parser, Debug)]
#[command(about = "Portero vs. the upstream vs. nginx, on this machine, in one run")]
struct Args {
    /// Seconds of load per scenario and round.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Rounds; every scenario runs once per round, interleaved.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent connections held by wrk.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Idle keep-alive connections for the memory figure (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Where the configs, logs, raw results and the plot go.
    #[arg(long, default_value = "target/loadtest")]
    out: PathBuf,
    /// The portero binary (default: next to this example's directory).
    #[arg(long)]
    portero: Option<PathBuf>,
    /// Soak instead: this many seconds of steady load on the signed-in path
    /// (b) only, Portero's memory sampled every 10 s; fails on any error.
    #[arg(long, default_value_t = 0)]
    soak: u64,
    /// Portero's `[server].threads` and nginx's `worker_processes`; the
    /// proxies get CPUs 0..threads, the upstream and wrk the others.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Requests measured under callgrind per path for the instructions per
    /// request (after a warm-up of a fifth as many); 0 skips it.
    #[arg(long, default_value_t = 2000)]
    callgrind: usize,
    /// Internal: serve as the upstream on this port.
    #[arg(long, hide = true)]
    serve_upstream: Option<u16>,
}

fn main() {
    let args = Args::parse();
    if let Some(port) = args.serve_upstream {
        serve_upstream(port);
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("loadtest: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------- upstream

/// A small, fast panel stand-in: 200 with a short body, and the identity it
/// was told in `x-seen-user` so the run can check that (b) really is signed in.
fn serve_upstream(port: u16) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(panel))
                    .await;
            });
        }
    });
}

async fn panel(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let user = req
        .headers()
        .get("x-portero-user")
        .cloned()
        .unwrap_or(hyper::header::HeaderValue::from_static("-"));
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .header("x-seen-user", user)
        .body(Full::new(Bytes::from_static(b"panel says hello\n")))
        .unwrap())
}

// ---------------------------------------------------------------- processes

/// Children are stopped when the run ends (SIGTERM, so nginx's master takes
/// its worker with it; SIGKILL after three seconds).
struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for (_, c) in &mut self.0 {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Procs {
    fn spawn(&mut self, name: &str, mut cmd: Command, log: &Path) -> Result<u32, String> {
        let file = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(file).stderr(err).stdin(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id();
        self.0.push((name.to_string(), child));
        Ok(pid)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pinned(cpus: &Option<String>, program: &Path) -> Command {
    match cpus {
        Some(set) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(set).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// One blocking HTTP/1.1 GET with `Connection: close`; status and head.
fn get(port: u16, path: &str, cookie: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12)?.parse().ok()?;
    Some((status, out))
}

fn wait_ready(port: u16, path: &str, what: &str) -> Result<(), String> {
    wait_ready_within(port, path, what, 20)
}

fn wait_ready_within(port: u16, path: &str, what: &str, seconds: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if get(port, path, None).is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not answer on port {port} within {seconds} s"
    ))
}

/// One keep-alive HTTP/1.1 connection, requests one after another (the
/// callgrind client): no `Connection: close`, the response read by its
/// `Content-Length` (or to the end of a chunked body).
struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    fn open(port: u16) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Status and head of one GET.
    fn get(&mut self, path: &str, cookie: Option<&str>) -> Result<(u16, String), String> {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(c) = cookie {
            let _ = write!(req, "Cookie: {c}\r\n");
        }
        req.push_str("\r\n");
        self.stream
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {head}"))?;
        let lower = head.to_ascii_lowercase();
        let length = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let end = match length {
            Some(n) => {
                while self.buf.len() < head_end + n {
                    self.fill()?;
                }
                head_end + n
            }
            None if lower.contains("transfer-encoding: chunked") => loop {
                if let Some(i) = self.buf[head_end..]
                    .windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                {
                    break head_end + i + 5;
                }
                self.fill()?;
            },
            None => head_end,
        };
        self.buf.drain(..end);
        Ok((status, head))
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// RSS of a process and its children (nginx: master + worker).
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = rss_kib(pid).unwrap_or(0);
    if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
            total += tree_rss_kib(k);
        }
    }
    total
}

/// CPU time (user + system, all threads) a process has used, in µs.
fn cpu_us(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|h| *h > 0)
        .unwrap_or(100);
    (ticks(11) + ticks(12)) * 1_000_000 / hz
}

/// CPU time of a process and its children (nginx: master + worker), in µs.
fn tree_cpu_us(pid: u32) -> u64 {
    let mut total = cpu_us(pid);
    if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
            total += tree_cpu_us(k);
        }
    }
    total
}

// ---------------------------------------------------------------- scenarios

struct Scenario {
    key: char,
    /// The processes whose CPU time serves it (trees: nginx's workers).
    serving: Vec<u32>,
    name: &'static str,
    port: u16,
    path: &'static str,
    cookie: bool,
}

#[derive(Debug, Clone, Default)]
struct Sample {
    rps: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    errors: u64,
    requests: u64,
    /// CPU time (user + system) the serving processes spent per request,
    /// in µs: Portero for (b) and (c), nginx for (d) and (e), both for (f),
    /// the upstream for (a).
    cpu_per_req: f64,
    /// (percentile, latency µs) for the plot.
    curve: Vec<(f64, f64)>,
}

const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9)))
  for _, p in ipairs({50, 75, 90, 95, 97, 99, 99.5, 99.9, 99.95, 99.99}) do
    io.write(string.format("PCT %g %d\n", p, latency:percentile(p)))
  end
end
"#;

fn run_wrk(
    args: &Args,
    load_cpus: &Option<String>,
    script: &Path,
    s: &Scenario,
    cookie: &str,
    seconds: u64,
) -> Result<Sample, String> {
    let mut cmd = pinned(load_cpus, Path::new("wrk"));
    cmd.arg("-t1")
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(script);
    if s.cookie {
        cmd.arg("-H").arg(format!("Cookie: {cookie}"));
    }
    cmd.arg(format!("http://127.0.0.1:{}{}", s.port, s.path));
    let cpu = || s.serving.iter().map(|p| tree_cpu_us(*p)).sum::<u64>();
    let cpu_before = cpu();
    let out = cmd.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let cpu_spent = cpu().saturating_sub(cpu_before);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sample = Sample::default();
    let mut found = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            Some(&"RESULT") if f.len() == 8 => {
                let n = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
                sample.requests = n(1) as u64;
                sample.rps = n(1) / (n(2) / 1e6);
                sample.errors = n(3) as u64 + n(4) as u64;
                sample.p50 = n(5);
                sample.p99 = n(6);
                sample.p999 = n(7);
                found = true;
            }
            Some(&"PCT") if f.len() == 3 => {
                sample
                    .curve
                    .push((f[1].parse().unwrap_or(0.0), f[2].parse().unwrap_or(0.0)));
            }
            _ => {}
        }
    }
    if sample.requests > 0 {
        sample.cpu_per_req = cpu_spent as f64 / sample.requests as f64;
    }
    if !found {
        return Err(format!(
            "wrk printed no result for ({}): {}{}",
            s.key,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(sample)
}

/// The soak: one long wrk run on (b) while Portero's resident memory is
/// sampled; prints the figures and fails on any error or on memory that
/// keeps growing after the first minute (more than 10 %).
fn soak(
    args: &Args,
    load_cpus: &Option<String>,
    out: &Path,
    portero_pid: u32,
    port: u16,
    cookie: &str,
) -> Result<(), String> {
    let script = out.join("report.lua");
    std::fs::write(&script, WRK_REPORT).map_err(|e| e.to_string())?;
    let s = Scenario {
        key: 'b',
        serving: vec![portero_pid],
        name: "Portero, signed in",
        port,
        path: "/",
        cookie: true,
    };
    println!(
        "Portero soak: {} s of wrk -t1 -c{} on ({}) {}; memory sampled every 10 s",
        args.soak, args.connections, s.key, s.name
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = rss_kib(portero_pid) {
                    samples.push((started.elapsed().as_secs(), kib));
                }
                for _ in 0..100 {
                    if done.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            samples
        })
    };
    let result = run_wrk(args, load_cpus, &script, &s, cookie, args.soak);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.join().map_err(|_| "the memory sampler failed")?;
    let r = result?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "requests {} ({:.0} req/s), errors {}, p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
        r.requests, r.rps, r.errors, r.p50, r.p99, r.p999
    );
    let after_warmup: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= 60)
        .map(|(_, k)| *k)
        .collect();
    let first = after_warmup.first().copied().unwrap_or(0);
    let last = after_warmup.last().copied().unwrap_or(0);
    let max = after_warmup.iter().copied().max().unwrap_or(0);
    let min = after_warmup.iter().copied().min().unwrap_or(0);
    let _ = writeln!(
        report,
        "resident memory after the first minute: first {first} KiB, min {min} KiB, max {max} KiB, last {last} KiB ({} samples)",
        after_warmup.len()
    );
    let _ = writeln!(report, "samples (s, KiB):");
    for (t, k) in &samples {
        let _ = writeln!(report, "  {t} {k}");
    }
    print!("{report}");
    std::fs::write(out.join("soak.txt"), &report).map_err(|e| e.to_string())?;
    if r.errors > 0 {
        return Err(format!("{} errors during the soak", r.errors));
    }
    if first > 0 && last > first + first / 10 {
        return Err(format!(
            "memory kept growing: {first} KiB at one minute, {last} KiB at the end"
        ));
    }
    println!("soak passed: 0 errors, memory flat");
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------- the run

fn run(args: &Args) -> Result<(), String> {
    for tool in ["wrk", "nginx", "taskset"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Err(format!(
                "`{tool}` is missing: run scripts/loadtest.sh, which installs it"
            ));
        }
    }
    if args.threads == 0 || args.threads > 256 {
        return Err("--threads is between 1 and 256".into());
    }
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        PathBuf::from("/usr/sbin/nginx")
    } else {
        PathBuf::from("nginx")
    };
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let portero_bin = match &args.portero {
        Some(p) => p.clone(),
        None => me
            .parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("portero"))
            .ok_or("cannot find the portero binary; pass --portero")?,
    };
    if !portero_bin.exists() {
        return Err(format!(
            "{} does not exist: `cargo build --release` first",
            portero_bin.display()
        ));
    }
    let out = std::fs::canonicalize(".")
        .map_err(|e| e.to_string())?
        .join(&args.out);
    std::fs::create_dir_all(out.join("nginx")).map_err(|e| e.to_string())?;

    // The proxies get CPUs 0..threads, the upstream and wrk the rest (no
    // pinning when there is no CPU left over).
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (proxy_cpus, load_cpus) = if cpus > args.threads {
        let proxies = if args.threads == 1 {
            "0".to_string()
        } else {
            format!("0-{}", args.threads - 1)
        };
        (
            Some(proxies),
            Some(format!("{}-{}", args.threads, cpus - 1)),
        )
    } else {
        (None, None)
    };

    let mut procs = Procs(Vec::new());
    // The upstream, on the load CPUs.
    let up_port = free_port();
    let mut up = pinned(&load_cpus, &me);
    up.arg("--serve-upstream").arg(up_port.to_string());
    let up_pid = procs.spawn("upstream", up, &out.join("upstream.log"))?;
    wait_ready(up_port, "/", "the upstream")?;

    // Portero, `--threads` worker threads, on the proxy CPUs.
    let p_port = free_port();
    let pem = out.join("assertion.pem");
    let key_pem =
        portero::identity::generate_ed25519_pem().ok_or("cannot make an assertion key")?;
    std::fs::write(&pem, key_pem).map_err(|e| e.to_string())?;
    let config_path = out.join("portero.toml");
    std::fs::write(
        &config_path,
        portero_config(p_port, free_port(), args.threads, up_port, &pem),
    )
    .map_err(|e| e.to_string())?;
    let mut p = pinned(&proxy_cpus, &portero_bin);
    p.arg("run").arg("--config").arg(&config_path);
    p.env("RUST_LOG", "warn");
    let portero_pid = procs.spawn("portero", p, &out.join("portero.log"))?;
    wait_ready(p_port, "/static/ready", "Portero")?;

    let cookie = session_cookie()?;
    // For trying the signed-in path by hand (a test key's session).
    std::fs::write(out.join("cookie.txt"), &cookie).map_err(|e| e.to_string())?;

    if args.soak > 0 {
        return soak(args, &load_cpus, &out, portero_pid, p_port, &cookie);
    }

    // nginx: (d) plain proxy, (e) auth_request to its own auth service,
    // (f) auth_request to Portero; `--threads` workers.
    let ports = NginxPorts {
        plain: free_port(),
        auth: free_port(),
        auth_service: free_port(),
        via_portero: free_port(),
        upstream: up_port,
        portero: p_port,
    };
    let nginx_conf = out.join("nginx/nginx.conf");
    std::fs::write(
        &nginx_conf,
        nginx_config(&out.join("nginx"), args.threads, args.connections, &ports),
    )
    .map_err(|e| e.to_string())?;
    let mut n = pinned(&proxy_cpus, &nginx);
    n.arg("-p")
        .arg(out.join("nginx"))
        .arg("-c")
        .arg(&nginx_conf)
        .arg("-g")
        .arg("daemon off;");
    let nginx_pid = procs.spawn("nginx", n, &out.join("nginx/stderr.log"))?;
    wait_ready(ports.plain, "/", "nginx")?;

    let scenarios = scenarios(up_port, p_port, &ports, [up_pid, portero_pid, nginx_pid]);

    // Each path must do what it claims before it is timed.
    for s in &scenarios {
        let (status, head) = get(s.port, s.path, s.cookie.then_some(cookie.as_str()))
            .ok_or(format!("({}) {} did not answer", s.key, s.name))?;
        check_answer(s, status, &head)?;
    }

    let script = out.join("report.lua");
    std::fs::write(&script, WRK_REPORT).map_err(|e| e.to_string())?;
    println!(
        "Portero loadtest: {} rounds × {} s per scenario, wrk -t1 -c{}; {} proxy thread(s) on CPU {}, upstream and wrk on CPU {}",
        args.rounds,
        args.duration,
        args.connections,
        args.threads,
        proxy_cpus.as_deref().unwrap_or("any"),
        load_cpus.as_deref().unwrap_or("any"),
    );
    // Warm every path (connection pools, caches), untimed.
    for s in &scenarios {
        run_wrk(args, &load_cpus, &script, s, &cookie, 1)?;
    }
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); scenarios.len()];
    for round in 1..=args.rounds {
        let mut line = format!("round {round}:");
        for (i, s) in scenarios.iter().enumerate() {
            let sample = run_wrk(args, &load_cpus, &script, s, &cookie, args.duration)?;
            let _ = write!(line, " ({}) {:.0}/s", s.key, sample.rps);
            results[i].push(sample);
        }
        println!("{line}");
    }

    // The deterministic figure: instructions per request under callgrind.
    let mut instr: Vec<(char, f64)> = Vec::new();
    if args.callgrind > 0 {
        println!(
            "callgrind: {} requests per path on one keep-alive connection after {} warm-up requests, Portero with threads = 1, nginx with one process …",
            args.callgrind,
            warmup_requests(args.callgrind)
        );
        match callgrind_figures(args, &out, &portero_bin, &nginx, up_port, &pem, &cookie) {
            Ok(v) => instr = v,
            Err(e) => println!("callgrind: failed: {e}"),
        }
    }
    let instr_of = |k: char| instr.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);

    // The table: medians over rounds.
    println!();
    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>9} {:>8} {:>11} {:>12}",
        "scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "CPU µs/req", "instr/req"
    );
    let med = |i: usize, f: fn(&Sample) -> f64| median(results[i].iter().map(f).collect());
    for (i, s) in scenarios.iter().enumerate() {
        println!(
            "({}) {:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>11.1} {:>12}",
            s.key,
            s.name,
            med(i, |x| x.rps),
            med(i, |x| x.p50) / 1000.0,
            med(i, |x| x.p99) / 1000.0,
            med(i, |x| x.p999) / 1000.0,
            results[i].iter().map(|x| x.errors).sum::<u64>(),
            med(i, |x| x.cpu_per_req),
            instr_of(s.key).map_or_else(|| "-".to_string(), thousands),
        );
    }
    println!();
    let idx = |k: char| scenarios.iter().position(|s| s.key == k).unwrap_or(0);
    let ratio = |a: usize, b: usize| -> (f64, f64, f64) {
        let per_round: Vec<f64> = results[a]
            .iter()
            .zip(&results[b])
            .map(|(x, y)| x.rps / y.rps)
            .collect();
        let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(per_round), lo, hi)
    };
    for label in ["b/d", "b/e", "e/d", "c/d", "b/a", "d/a", "b/f"] {
        let mut keys = label.chars().filter(|c| *c != '/');
        let (a, b) = (keys.next().unwrap_or('a'), keys.next().unwrap_or('a'));
        let (m, lo, hi) = ratio(idx(a), idx(b));
        let mut line = format!("ratio {label}: {m:.2}×  (per round {lo:.2}–{hi:.2})");
        if let (Some(x), Some(y)) = (instr_of(a), instr_of(b)) {
            let _ = write!(line, "   instructions per request {label}: {:.2}", x / y);
        }
        println!("{line}");
    }
    // Requests per CPU-second, Portero over nginx: the per-core throughput
    // ratio, from the CPU time each process spent (user and kernel), which
    // the other load on a shared machine moves far less than req/s.
    let per_cpu = |a: char, b: char| -> (f64, f64, f64) {
        let per_round: Vec<f64> = results[idx(b)]
            .iter()
            .zip(&results[idx(a)])
            .filter(|(y, x)| y.cpu_per_req > 0.0 && x.cpu_per_req > 0.0)
            .map(|(y, x)| y.cpu_per_req / x.cpu_per_req)
            .collect();
        let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(per_round), lo, hi)
    };
    for label in ["b/d", "c/d", "b/e"] {
        let mut keys = label.chars().filter(|c| *c != '/');
        let (a, b) = (keys.next().unwrap_or('a'), keys.next().unwrap_or('a'));
        let (m, lo, hi) = per_cpu(a, b);
        println!("requests per CPU-second {label}: {m:.2}×  (per round {lo:.2}–{hi:.2})");
    }
    let p99 = |k: char| med(idx(k), |x| x.p99);
    println!(
        "p99 (b) / p99 (d): {:.2}  (≤ 1.00 means Portero's tail is no longer than nginx's)",
        p99('b') / p99('d')
    );
    println!("p99 (b) / p99 (e): {:.2}", p99('b') / p99('e'));

    if args.rounds > 0 {
        let plot = out.join("latency.svg");
        std::fs::write(&plot, latency_svg(&scenarios, &results)).map_err(|e| e.to_string())?;
        println!("latency plot: {}", plot.display());
    }

    if args.idle > 0 {
        println!();
        let before = rss_kib(portero_pid).unwrap_or(0);
        let held = hold_idle(p_port, args.idle, Some(&cookie))?;
        let after = rss_kib(portero_pid).unwrap_or(0);
        println!(
            "memory: Portero RSS {:.1} MiB before, {:.1} MiB with {} idle keep-alive connections (each after one signed-in request)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            held.len()
        );
        drop(held);
        let nb = tree_rss_kib(nginx_pid);
        let held = hold_idle(ports.plain, args.idle, Some(&cookie))?;
        let na = tree_rss_kib(nginx_pid);
        println!(
            "        nginx RSS (master + worker) {:.1} MiB before, {:.1} MiB with {} idle keep-alive connections",
            nb as f64 / 1024.0,
            na as f64 / 1024.0,
            held.len()
        );
        drop(held);
    }
    println!("\nlogs and configs: {}", out.display());
    Ok(())
}

/// Portero's configuration: one tenant in front of the upstream, `/static/`
/// bypassed, one member; `threads` in `[server]`.
fn portero_config(port: u16, admin: u16, threads: usize, up_port: u16, pem: &Path) -> String {
    format!(
        r#"# Written by examples/loadtest.rs.
[server]
listen = ["127.0.0.1:{port}"]
admin_listen = "127.0.0.1:{admin}"
threads = {threads}
trusted_proxies = ["127.0.0.1/32"]
grace_period = "1s"

[session]
keys = ["{SESSION_KEY}"]

[assertion]
signing_key = "file:{pem}"
ttl = "60s"

[[tenant]]
name = "load"
hosts = ["127.0.0.1", "localhost"]
upstream = "127.0.0.1:{up_port}"
super_admins = ["root@load.test"]
bypass_paths = ["/static/"]
account = "load.test"

[[tenant.member]]
user = "ana@load.test"
account = "load.test"
permissions = ["technical", "invite"]
name = "Ana Load"

[tenant.external_sso]
url = "http://127.0.0.1:9/sso"
jwt_key = "a-load-test-secret-that-is-32-bytes-long"
"#,
        pem = pem.display()
    )
}

/// A real session cookie, sealed with the configured key.
fn session_cookie() -> Result<String, String> {
    let sealer = Sealer::from_base64_keys(&[SESSION_KEY]).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = SessionClaims::for_tests(
        "load",
        "ana@load.test",
        Some("Ana Load"),
        AuthMethod::Jwt,
        now,
        "loadtest-session-0001",
    );
    Ok(format!(
        "portero_session={}",
        claims.seal(&sealer).ok_or("cannot seal a session")?
    ))
}

/// The scenarios; `pids`: the upstream, Portero and nginx (master).
fn scenarios(up_port: u16, p_port: u16, n: &NginxPorts, pids: [u32; 3]) -> Vec<Scenario> {
    let [up, portero, nginx] = pids;
    vec![
        Scenario {
            key: 'a',
            serving: vec![up],
            name: "upstream direct",
            port: up_port,
            path: "/panel/domains",
            cookie: true,
        },
        Scenario {
            key: 'b',
            serving: vec![portero],
            name: "Portero, signed in",
            port: p_port,
            path: "/panel/domains",
            cookie: true,
        },
        Scenario {
            key: 'c',
            serving: vec![portero],
            name: "Portero, bypass path",
            port: p_port,
            path: "/static/app.css",
            cookie: false,
        },
        Scenario {
            key: 'd',
            serving: vec![nginx],
            name: "nginx plain proxy",
            port: n.plain,
            path: "/panel/domains",
            cookie: true,
        },
        Scenario {
            key: 'e',
            serving: vec![nginx],
            name: "nginx + auth_request service",
            port: n.auth,
            path: "/panel/domains",
            cookie: true,
        },
        Scenario {
            key: 'f',
            serving: vec![nginx, portero],
            name: "nginx + auth_request Portero",
            port: n.via_portero,
            path: "/panel/domains",
            cookie: true,
        },
    ]
}

/// Every path answers 200; the signed-in ones reach the panel with the
/// identity.
fn check_answer(s: &Scenario, status: u16, head: &str) -> Result<(), String> {
    let signed_in = head
        .to_ascii_lowercase()
        .contains("x-seen-user: ana@load.test");
    let must_be_signed_in = matches!(s.key, 'b' | 'e' | 'f');
    if status != 200 || (must_be_signed_in && !signed_in) {
        return Err(format!(
            "({}) {} is not ready: status {status}, signed in: {signed_in}\n{head}",
            s.key, s.name
        ));
    }
    Ok(())
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------- callgrind

fn warmup_requests(measured: usize) -> usize {
    (measured / 5).max(50)
}

/// Instructions per request under callgrind: Portero (threads = 1) for (b)
/// and (c), then one nginx process (`master_process off`) for (d) and (e).
/// Each under its own `valgrind --tool=callgrind`, started here and stopped
/// when done.
fn callgrind_figures(
    args: &Args,
    out: &Path,
    portero_bin: &Path,
    nginx: &Path,
    up_port: u16,
    pem: &Path,
    cookie: &str,
) -> Result<Vec<(char, f64)>, String> {
    let dir = out.join("callgrind");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nginx")).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut figures = Vec::new();

    // Portero, one thread.
    {
        let port = free_port();
        let config = dir.join("portero.toml");
        std::fs::write(&config, portero_config(port, free_port(), 1, up_port, pem))
            .map_err(|e| e.to_string())?;
        let mut procs = Procs(Vec::new());
        let mut cmd = valgrind(&dir.join("portero.cg"), portero_bin);
        cmd.arg("run").arg("--config").arg(&config);
        cmd.env("RUST_LOG", "warn");
        let pid = procs.spawn("portero under callgrind", cmd, &dir.join("portero.log"))?;
        wait_ready_within(port, "/static/ready", "Portero under callgrind", 180)?;
        let ports = NginxPorts {
            plain: 0,
            auth: 0,
            auth_service: 0,
            via_portero: 0,
            upstream: up_port,
            portero: port,
        };
        let mut dumps = 0;
        for s in scenarios(up_port, port, &ports, [0; 3])
            .iter()
            .filter(|s| matches!(s.key, 'b' | 'c'))
        {
            dumps += 1;
            let v = instructions_per_request(
                args.callgrind,
                pid,
                s,
                cookie,
                &dir.join(format!("portero.cg.{dumps}")),
            )?;
            figures.push((s.key, v));
        }
    }

    // nginx, one process, no master.
    {
        let prefix = dir.join("nginx");
        let ports = NginxPorts {
            plain: free_port(),
            auth: free_port(),
            auth_service: free_port(),
            via_portero: free_port(),
            upstream: up_port,
            portero: 9,
        };
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, nginx_config(&prefix, 1, args.connections, &ports))
            .map_err(|e| e.to_string())?;
        let mut procs = Procs(Vec::new());
        let mut cmd = valgrind(&dir.join("nginx.cg"), nginx);
        cmd.arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .arg("-g")
            .arg("daemon off; master_process off;");
        let pid = procs.spawn("nginx under callgrind", cmd, &dir.join("nginx.log"))?;
        wait_ready_within(ports.plain, "/", "nginx under callgrind", 60)?;
        let mut dumps = 0;
        for s in scenarios(up_port, 0, &ports, [0; 3])
            .iter()
            .filter(|s| matches!(s.key, 'd' | 'e'))
        {
            dumps += 1;
            let v = instructions_per_request(
                args.callgrind,
                pid,
                s,
                cookie,
                &dir.join(format!("nginx.cg.{dumps}")),
            )?;
            figures.push((s.key, v));
        }
    }
    println!(
        "callgrind: done in {:.0} s (dumps in {})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(figures)
}

fn valgrind(out_file: &Path, program: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(program);
    cmd
}

/// Warm-up, zero the counters, `n` requests one after another on one
/// keep-alive connection, dump; the dump's total over `n`.
fn instructions_per_request(
    n: usize,
    pid: u32,
    s: &Scenario,
    cookie: &str,
    dump: &Path,
) -> Result<f64, String> {
    let mut conn = KeepAlive::open(s.port)?;
    let cookie = s.cookie.then_some(cookie);
    let mut batch = |count: usize| -> Result<(), String> {
        for i in 0..count {
            let (status, head) = conn
                .get(s.path, cookie)
                .map_err(|e| format!("({}) under callgrind, request {i}: {e}", s.key))?;
            if i == 0 {
                check_answer(s, status, &head)?;
            } else if status != 200 {
                return Err(format!(
                    "({}) under callgrind, request {i}: status {status}",
                    s.key
                ));
            }
        }
        // Let the work after the last response (pool return, logging) finish.
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    };
    batch(warmup_requests(n))?;
    callgrind_control(pid, "--zero")?;
    batch(n)?;
    callgrind_control(pid, "--dump")?;
    let text = std::fs::read_to_string(dump)
        .map_err(|e| format!("cannot read {}: {e}", dump.display()))?;
    let total: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("summary:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no totals in {}", dump.display()))?;
    Ok(total / n as f64)
}

fn callgrind_control(pid: u32, what: &str) -> Result<(), String> {
    let out = Command::new("callgrind_control")
        .arg(what)
        .arg(pid.to_string())
        .output()
        .map_err(|e| format!("cannot run callgrind_control: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "callgrind_control {what} {pid}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Opens `n` connections, makes one request on each, and keeps them open.
fn hold_idle(port: u16, n: usize, cookie: Option<&str>) -> Result<Vec<TcpStream>, String> {
    let req = format!(
        "GET /panel/domains HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
        cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default()
    );
    let mut held = Vec::with_capacity(n);
    let mut buf = [0u8; 4096];
    for i in 0..n {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("idle connection {i}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        // The response is small: one read holds all of it.
        let got = s
            .read(&mut buf)
            .map_err(|e| format!("idle connection {i}: {e}"))?;
        if !buf[..got].starts_with(b"HTTP/1.1 200") {
            return Err(format!(
                "idle connection {i}: {}",
                String::from_utf8_lossy(&buf[..got.min(200)])
            ));
        }
        held.push(s);
    }
    // Let the server settle into idle.
    std::thread::sleep(Duration::from_millis(500));
    Ok(held)
}

struct NginxPorts {
    /// (d) plain proxy.
    plain: u16,
    /// (e) auth_request to the auth service below.
    auth: u16,
    /// The separate auth service (e) asks: its own server, 200 at once.
    auth_service: u16,
    /// (f) auth_request to Portero's `/.portero/auth`.
    via_portero: u16,
    upstream: u16,
    portero: u16,
}

fn nginx_config(prefix: &Path, workers: usize, connections: usize, n: &NginxPorts) -> String {
    let p = prefix.display();
    // Idle upstream connections kept per worker: at least one per wrk
    // connection, so the pools never close and reopen under load.
    let keepalive = connections.max(32);
    let NginxPorts {
        plain,
        auth,
        auth_service,
        via_portero,
        upstream,
        portero,
    } = n;
    format!(
        r#"# Written by examples/loadtest.rs: nginx as a plain reverse proxy (d), with
# auth_request to a separate auth service (e), and with auth_request to
# Portero (f); upstream keep-alive everywhere.
#
# A proxy_set_header in a location drops every inherited proxy_set_header,
# so each location below lists all of its own (Connection "" included).
worker_processes {workers};
worker_rlimit_nofile 20000;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    keepalive_requests 1000000;
    upstream panel {{
        server 127.0.0.1:{upstream};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}
    upstream auth_service {{
        server 127.0.0.1:{auth_service};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}
    upstream portero {{
        server 127.0.0.1:{portero};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}

    # (d) plain reverse proxy.
    server {{
        listen 127.0.0.1:{plain};
        location / {{
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}

    # The separate auth service (e) asks: answers 200 at once, with the
    # identity the panel is to see.
    server {{
        listen 127.0.0.1:{auth_service};
        location / {{
            add_header X-Portero-User "ana@load.test";
            add_header X-Portero-Account "load.test";
            add_header X-Portero-Permissions "technical,invite";
            return 200;
        }}
    }}

    # (e) the pattern Portero replaces: auth_request to the auth service,
    # then the panel, with the identity the auth service answered.
    server {{
        listen 127.0.0.1:{auth};
        location = /_auth {{
            internal;
            proxy_pass http://auth_service;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            auth_request /_auth;
            auth_request_set $auth_user $upstream_http_x_portero_user;
            auth_request_set $auth_account $upstream_http_x_portero_account;
            auth_request_set $auth_permissions $upstream_http_x_portero_permissions;
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Portero-User $auth_user;
            proxy_set_header X-Portero-Account $auth_account;
            proxy_set_header X-Portero-Permissions $auth_permissions;
        }}
    }}

    # (f) auth_request to Portero's /.portero/auth.
    server {{
        listen 127.0.0.1:{via_portero};
        location = /.portero/auth {{
            internal;
            proxy_pass http://portero;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            auth_request /.portero/auth;
            auth_request_set $portero_user $upstream_http_x_portero_user;
            auth_request_set $portero_account $upstream_http_x_portero_account;
            auth_request_set $portero_permissions $upstream_http_x_portero_permissions;
            auth_request_set $portero_assertion $upstream_http_x_portero_assertion;
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Portero-User $portero_user;
            proxy_set_header X-Portero-Account $portero_account;
            proxy_set_header X-Portero-Permissions $portero_permissions;
            proxy_set_header X-Portero-Assertion $portero_assertion;
        }}
    }}
}}
"#
    )
}

/// Latency by percentile, one line per scenario (median round), as SVG.
fn latency_svg(scenarios: &[Scenario], results: &[Vec<Sample>]) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 440.0, 70.0, 50.0, 40.0, 200.0);
    let colours = [
        "#555555", "#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd",
    ];
    // x: "nines" scale, -log10(1 - p/100): 50% → 0.3, 99% → 2, 99.99% → 4.
    let x_of = |p: f64| -(1.0 - p / 100.0).log10();
    let x_max = 4.0;
    // The round with the median p99 stands for each scenario.
    let curves: Vec<&Sample> = results
        .iter()
        .filter_map(|rounds| {
            let mut sorted: Vec<&Sample> = rounds.iter().collect();
            sorted.sort_by(|a, b| a.p99.total_cmp(&b.p99));
            sorted.get(sorted.len() / 2).copied()
        })
        .collect();
    let y_max = curves
        .iter()
        .flat_map(|s| s.curve.iter().map(|&(_, us)| us / 1000.0))
        .fold(0.1_f64, f64::max)
        * 1.1;
    let px = |x: f64| left + (x / x_max) * (w - left - right);
    let py = |y: f64| h - bottom - (y / y_max) * (h - bottom - top);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="15">Latency by percentile (median round), wrk on loopback</text>
<line x1="{left}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{y0}" stroke="black"/>
"#,
        y0 = h - bottom,
        x1 = w - right
    );
    for (p, label) in [
        (50.0, "50%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = px(x_of(p));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y0}" stroke="#ddd"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
            y0 = h - bottom,
            ty = h - bottom + 18.0
        );
    }
    for i in 0..=5 {
        let y = y_max * i as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{py:.1}" x2="{x1}" y2="{py:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{y:.2} ms</text>"##,
            py = py(y),
            x1 = w - right,
            tx = left - 6.0,
            ty = py(y) + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{cx}" y="{ty}" text-anchor="middle">percentile</text>"#,
        cx = (left + w - right) / 2.0,
        ty = h - 12.0
    );
    for (i, (s, sample)) in scenarios.iter().zip(&curves).enumerate() {
        let points: Vec<String> = sample
            .curve
            .iter()
            .map(|&(p, us)| format!("{:.1},{:.1}", px(x_of(p)), py(us / 1000.0)))
            .collect();
        let colour = colours[i % colours.len()];
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 20.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{tx}" y="{ty}">({}) {}</text>"#,
            s.key,
            s.name,
            lx = w - right + 12.0,
            lx2 = w - right + 32.0,
            tx = w - right + 38.0,
            ty = ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
