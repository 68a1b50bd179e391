//! The processes a run starts (stopped when it ends), pinned to CPUs with
//! `taskset`, and what they use: resident memory and CPU time, read from
//! `/proc`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Children are stopped when the run ends (SIGTERM, so nginx's master takes
/// its worker with it; SIGKILL after three seconds).
pub(crate) struct Procs(pub(crate) Vec<(String, Child)>);

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
    pub(crate) fn spawn(
        &mut self,
        name: &str,
        mut cmd: Command,
        log: &Path,
    ) -> Result<u32, String> {
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

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn pinned(cpus: &Option<String>, program: &Path) -> Command {
    match cpus {
        Some(set) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(set).arg(program);
            c
        }
        None => Command::new(program),
    }
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// RSS of a process and its children (nginx: master + worker).
pub(crate) fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = rss_kib(pid).unwrap_or(0);
    if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
            total += tree_rss_kib(k);
        }
    }
    total
}

/// CPU time (user + system, all threads) a process has used, in µs.
pub(crate) fn cpu_us(pid: u32) -> u64 {
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
pub(crate) fn tree_cpu_us(pid: u32) -> u64 {
    let mut total = cpu_us(pid);
    if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
            total += tree_cpu_us(k);
        }
    }
    total
}
