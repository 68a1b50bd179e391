//! The deterministic figure: user-space instructions per request under
//! `valgrind --tool=callgrind`, for Portero (one thread) and one nginx
//! process, each path measured on one keep-alive connection.

use crate::client::{wait_ready_within, KeepAlive};
use crate::nginx::{nginx_config, NginxPorts};
use crate::portero_config::portero_config;
use crate::procs::{free_port, Procs};
use crate::scenarios::{check_answer, scenarios, Scenario};
use crate::Args;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) fn warmup_requests(measured: usize) -> usize {
    (measured / 5).max(50)
}

/// Instructions per request under callgrind: Portero (threads = 1) for (b)
/// and (c), then one nginx process (`master_process off`) for (d) and (e).
/// Each under its own `valgrind --tool=callgrind`, started here and stopped
/// when done.
pub(crate) fn callgrind_figures(
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

pub(crate) fn valgrind(out_file: &Path, program: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(program);
    cmd
}

/// Warm-up, zero the counters, `n` requests one after another on one
/// keep-alive connection, dump; the dump's total over `n`.
pub(crate) fn instructions_per_request(
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

pub(crate) fn callgrind_control(pid: u32, what: &str) -> Result<(), String> {
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
