//! The memory figure: resident memory of Portero and of nginx before and
//! while holding many idle keep-alive connections (`--idle N`).

use crate::procs::{rss_kib, tree_rss_kib};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Prints the resident memory of Portero, then of nginx (master and
/// worker), before and with `idle` idle keep-alive connections, each after
/// one signed-in request.
pub(crate) fn print_memory(
    idle: usize,
    portero_pid: u32,
    portero_port: u16,
    nginx_pid: u32,
    nginx_port: u16,
    cookie: &str,
) -> Result<(), String> {
    println!();
    let before = rss_kib(portero_pid).unwrap_or(0);
    let held = hold_idle(portero_port, idle, Some(cookie))?;
    let after = rss_kib(portero_pid).unwrap_or(0);
    println!(
        "memory: Portero RSS {:.1} MiB before, {:.1} MiB with {} idle keep-alive connections (each after one signed-in request)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        held.len()
    );
    drop(held);
    let nb = tree_rss_kib(nginx_pid);
    let held = hold_idle(nginx_port, idle, Some(cookie))?;
    let na = tree_rss_kib(nginx_pid);
    println!(
        "        nginx RSS (master + worker) {:.1} MiB before, {:.1} MiB with {} idle keep-alive connections",
        nb as f64 / 1024.0,
        na as f64 / 1024.0,
        held.len()
    );
    drop(held);
    Ok(())
}

/// Opens `n` connections, makes one request on each, and keeps them open.
pub(crate) fn hold_idle(
    port: u16,
    n: usize,
    cookie: Option<&str>,
) -> Result<Vec<TcpStream>, String> {
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
