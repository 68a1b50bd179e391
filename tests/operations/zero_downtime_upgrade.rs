//! A new binary takes over without a failed request (`portero run
//! --upgrade`): load keeps running across the hand-over of the listening
//! sockets, the old process finishes and exits, sessions stay valid.
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOST: &str = "panel.latincloud.test";

/// One request on a fresh connection; true when the panel answered 200
/// through Portero (with the identity when a session is given).
fn one_request(port: u16, session: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "GET /home HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={session}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let r = parse_response(&buf);
    if r.status == 200 && r.received().one("x-portero-user") == Some("ana@latincloud.test") {
        Ok(())
    } else {
        Err(format!(
            "status {}: {}",
            r.status,
            r.body.chars().take(200).collect::<String>()
        ))
    }
}

#[test]
fn an_upgrade_under_load_fails_no_request() {
    let (_up, mut old) = start();
    let session = sign_in(&old, HOST, "latincloud", "ana@latincloud.test");
    let port = old.port;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failures, session) =
                (stop.clone(), ok.clone(), failures.clone(), session.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match one_request(port, &session) {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = ok.load(Ordering::Relaxed);
    assert!(before > 0, "no load before the upgrade");

    let old_pid = old.pid();
    let mut new = old.spawn_successor("new");
    let status = old
        .wait_exit(Duration::from_secs(30))
        .expect("the old process did not exit within 30 s");
    assert!(status.success(), "old process: {status}\n{}", old.stderr());
    assert!(new.try_wait().unwrap().is_none(), "the new process exited");
    let at_exit = ok.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let after = ok.load(Ordering::Relaxed);
    let failures = failures.lock().unwrap().clone();
    let new_log = std::fs::read_to_string(old.path("stderr-new.log")).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed across the upgrade: {:?}\nnew: {new_log}",
        failures.len(),
        after as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        after > at_exit,
        "the new process served nothing after the old one left"
    );
    // The pid file now names the new process.
    let pid: u32 = std::fs::read_to_string(old.path("portero.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, new.id());
    assert_ne!(pid, old_pid);
    eprintln!("upgrade under load: {after} requests, 0 failed ({before} before the hand-over, {} while both ran, {} after)", at_exit - before, after - at_exit);
    let started = Instant::now();
    let _ = new.kill();
    let _ = new.wait();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_upgrade_without_a_running_portero_says_so() {
    let (_up, mut old) = start();
    old.admin_post("/reload");
    // Stop it, then try to take over from nobody.
    let _ = std::process::Command::new("kill")
        .arg(old.pid().to_string())
        .status();
    old.wait_exit(Duration::from_secs(10))
        .expect("did not stop on SIGTERM");
    let mut new = old.spawn_successor("orphan");
    let status = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = new.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "--upgrade without a predecessor kept running"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(old.path("stderr-orphan.log")).unwrap();
    assert!(
        log.contains("is not running") || log.contains("no running Portero"),
        "{log}"
    );
}
