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
//!
//! One concern a file: `upstream` (the panel stand-in), `procs` (the
//! processes started, their memory and CPU time), `client` (plain HTTP
//! clients), `portero_config` and `nginx` (the proxies' configurations),
//! `scenarios` (the six paths and one wrk run), `soak`, `callgrind`,
//! `idle` (memory with idle connections), `report` (the table and ratios)
//! and `plot` (the latency SVG); this file holds the command line and the
//! run.

mod callgrind;
mod client;
mod idle;
mod nginx;
mod plot;
mod portero_config;
mod procs;
mod report;
mod scenarios;
mod soak;
mod tenants;
mod upstream;

use callgrind::{callgrind_figures, warmup_requests};
use clap::Parser;
use client::{get, wait_ready};
use nginx::{nginx_config, NginxPorts};
use plot::latency_svg;
use portero_config::{portero_config, session_cookie};
use procs::{free_port, pinned, Procs};
use scenarios::{check_answer, run_wrk, scenarios, Sample, WRK_REPORT};
use soak::soak;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use upstream::serve_upstream;

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
    /// Instead of the comparison: N tenants in `tenants_dir` (check, a
    /// change by the API, full reloads, memory, p99 during reloads).
    #[arg(long, default_value_t = 0)]
    tenants: usize,
    /// With --tenants: how many full reloads for the memory figure.
    #[arg(long, default_value_t = 100)]
    reloads: usize,
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

fn run(args: &Args) -> Result<(), String> {
    if args.tenants > 0 {
        let portero = match &args.portero {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| e.to_string())?
                .parent()
                .and_then(Path::parent)
                .ok_or("no target folder")?
                .join("portero"),
        };
        return tenants::run(&portero, &args.out, args.tenants, args.reloads);
    }
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

    report::print_summary(&scenarios, &results, &instr);

    if args.rounds > 0 {
        let plot = out.join("latency.svg");
        std::fs::write(&plot, latency_svg(&scenarios, &results)).map_err(|e| e.to_string())?;
        println!("latency plot: {}", plot.display());
    }

    if args.idle > 0 {
        idle::print_memory(
            args.idle,
            portero_pid,
            p_port,
            nginx_pid,
            ports.plain,
            &cookie,
        )?;
    }
    println!("\nlogs and configs: {}", out.display());
    Ok(())
}
