//! Stopping, as operators and their supervisors do it, many times over:
//! SIGINT must end the process within a second, always; SIGTERM as soon as
//! the requests in flight are done (not after the whole grace period); and
//! no stop may leave the process spinning or writing a flood of log lines
//! (a stop that loops on a dead runtime once wrote gigabytes of log and
//! ignored SIGTERM).
use crate::common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times each way is stopped.
const ROUNDS: usize = 50;

const HOST: &str = "panel.stopco.test";

/// A tenant whose `/static/` is forwarded as it is, with a long grace
/// period: a stop that waits for it would show.
fn start(upstream: &Upstream, slow_upstream: Option<std::net::SocketAddr>) -> Portero {
    let slow = slow_upstream
        .map(|a| {
            format!(
                r#"
[[tenant]]
name = "slowco"
hosts = ["panel.slowco.test"]
upstream = "{a}"
sso_mode = "login_page"
bypass_paths = ["/"]
account = "slowco.test"
"#
            )
        })
        .unwrap_or_default();
    let server = SERVER_AND_SESSION.replace(
        "grace_period = \"1s\"",
        "grace_period = \"30s\"\nupstream_timeout = \"20s\"",
    );
    Portero::start_with(
        &format!(
            r#"{server}
{slow}
[[tenant]]
name = "stopco"
hosts = ["panel.stopco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "login_page"
bypass_paths = ["/static/"]
account = "stopco.test"
"#
        ),
        upstream,
        &[],
    )
}

/// One request on a fresh connection; whether a full answer came back.
fn one_request(port: u16, host: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let req = format!("GET /static/app.css HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.starts_with(b"HTTP/1.1 200")
}

/// Clients sending requests until told to stop; counts the answers.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let threads = (0..clients)
            .map(|_| {
                let (stop, answered) = (stop.clone(), answered.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if one_request(port, HOST) {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            answered,
            threads,
        }
    }

    fn wait_for(&self, answers: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.answered.load(Ordering::Relaxed) < answers {
            assert!(Instant::now() < deadline, "the load got no answers");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

fn signal(p: &Portero, sig: Signal) {
    kill(Pid::from_raw(p.pid() as i32), sig).unwrap();
}

/// Stops Portero `ROUNDS` times with `sig`, idle or under load; every
/// stop must end the process within `within`, exit 0 and leave a short log.
fn stop_many_times(sig: Signal, under_load: bool, within: Duration) {
    let up = Upstream::start();
    let mut slowest = Duration::ZERO;
    for round in 0..ROUNDS {
        let mut p = start(&up, None);
        let load = under_load.then(|| {
            let load = Load::start(p.port, 3);
            load.wait_for(20);
            load
        });
        let sent = Instant::now();
        signal(&p, sig);
        let status = p.wait_exit(within + Duration::from_secs(5));
        let took = sent.elapsed();
        if let Some(load) = load {
            load.finish();
        }
        let status = status.unwrap_or_else(|| {
            panic!(
                "round {round}: {sig} did not stop Portero: {}",
                tail(&p.stderr())
            )
        });
        assert!(
            status.success(),
            "round {round}: {status}: {}",
            tail(&p.stderr())
        );
        assert!(took < within, "round {round}: {sig} took {took:?}");
        let log = p.stderr();
        assert!(
            log.len() < 16 * 1024,
            "round {round}: {} bytes of log: {}",
            log.len(),
            tail(&log)
        );
        assert!(
            !log.contains("Accept() failed"),
            "round {round}: {}",
            tail(&log)
        );
        slowest = slowest.max(took);
    }
    eprintln!(
        "{sig} {} x{ROUNDS}: slowest stop {slowest:?}",
        if under_load { "under load" } else { "idle" }
    );
}

fn tail(log: &str) -> &str {
    &log[log.len().saturating_sub(2000)..]
}

#[test]
fn sigint_stops_within_a_second_idle() {
    stop_many_times(Signal::SIGINT, false, Duration::from_secs(1));
}

#[test]
fn sigint_stops_within_a_second_under_load() {
    stop_many_times(Signal::SIGINT, true, Duration::from_secs(1));
}

#[test]
fn sigterm_stops_at_once_when_nothing_is_in_flight() {
    stop_many_times(Signal::SIGTERM, false, Duration::from_secs(1));
}

#[test]
fn sigterm_under_load_stops_when_the_requests_in_flight_are_done() {
    // The grace period is 30 s; the requests in flight take milliseconds.
    stop_many_times(Signal::SIGTERM, true, Duration::from_secs(2));
}

/// A panel that answers each request after `delay`.
fn slow_upstream(delay: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow",
                );
            });
        }
    });
    addr
}

#[test]
fn sigterm_waits_for_a_slow_request_and_no_longer() {
    let up = Upstream::start();
    let delay = Duration::from_millis(1500);
    let mut p = start(&up, Some(slow_upstream(delay)));
    let port = p.port;
    let request = std::thread::spawn(move || {
        let started = Instant::now();
        let ok = one_request(port, "panel.slowco.test");
        (ok, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal(&p, Signal::SIGTERM);
    let status = p.wait_exit(Duration::from_secs(10)).expect("stopped");
    let took = sent.elapsed();
    let (ok, request_took) = request.join().unwrap();
    assert!(
        ok,
        "the request in flight was cut off: {}",
        tail(&p.stderr())
    );
    assert!(request_took >= delay);
    assert!(status.success());
    assert!(
        took < delay + Duration::from_secs(1),
        "SIGTERM took {took:?} (the request in flight needed {delay:?} from the start)"
    );
}

#[test]
fn sigint_after_sigterm_stops_at_once() {
    let up = Upstream::start();
    let mut p = start(&up, Some(slow_upstream(Duration::from_secs(20))));
    let port = p.port;
    let request = std::thread::spawn(move || one_request(port, "panel.slowco.test"));
    std::thread::sleep(Duration::from_millis(300));
    signal(&p, Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal(&p, Signal::SIGINT);
    let status = p.wait_exit(Duration::from_secs(5)).expect("stopped");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert!(status.success());
    assert!(!request.join().unwrap());
}
