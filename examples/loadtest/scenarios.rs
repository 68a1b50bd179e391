//! The six scenarios, (a) to (f), each a path on a port with or without
//! the session cookie; one wrk run on one of them (with the Lua report
//! that prints the figures); and the check that a path does what it
//! claims before it is timed.

use crate::nginx::NginxPorts;
use crate::procs::{pinned, tree_cpu_us};
use crate::Args;
use std::path::Path;

pub(crate) struct Scenario {
    pub(crate) key: char,
    /// The processes whose CPU time serves it (trees: nginx's workers).
    pub(crate) serving: Vec<u32>,
    pub(crate) name: &'static str,
    pub(crate) port: u16,
    pub(crate) path: &'static str,
    pub(crate) cookie: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) rps: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) errors: u64,
    pub(crate) requests: u64,
    /// CPU time (user + system) the serving processes spent per request,
    /// in µs: Portero for (b) and (c), nginx for (d) and (e), both for (f),
    /// the upstream for (a).
    pub(crate) cpu_per_req: f64,
    /// (percentile, latency µs) for the plot.
    pub(crate) curve: Vec<(f64, f64)>,
}

pub(crate) const WRK_REPORT: &str = r#"
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

pub(crate) fn run_wrk(
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

/// The scenarios; `pids`: the upstream, Portero and nginx (master).
pub(crate) fn scenarios(
    up_port: u16,
    p_port: u16,
    n: &NginxPorts,
    pids: [u32; 3],
) -> Vec<Scenario> {
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
pub(crate) fn check_answer(s: &Scenario, status: u16, head: &str) -> Result<(), String> {
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
