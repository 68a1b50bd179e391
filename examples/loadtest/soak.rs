//! The soak (`--soak N`): one long wrk run on the signed-in path (b) while
//! Portero's resident memory is sampled.

use crate::procs::rss_kib;
use crate::scenarios::{run_wrk, Scenario, WRK_REPORT};
use crate::Args;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// The soak: one long wrk run on (b) while Portero's resident memory is
/// sampled; prints the figures and fails on any error or on memory that
/// keeps growing after the first minute (more than 10 %).
pub(crate) fn soak(
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
