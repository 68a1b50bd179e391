//! Faults that must stay bounded. Threats: slow clients holding
//! connections for ever (slowloris), oversized or endless headers, a panel
//! that answers slowly or never (each request gets a clear 504 page in
//! time, other panels keep being served: no pile-up).
use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const FAST: &str = "panel.fast.test";
const SLOW: &str = "panel.slow.test";

/// A panel that answers `/wait/<ms>` after that many milliseconds, and
/// everything else at once.
fn slow_panel() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                if let Some(ms) = path.strip_prefix("/wait/") {
                    std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream: echo\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    addr
}

fn start_faults() -> (Upstream, Portero) {
    let up = Upstream::start();
    let slow = slow_panel();
    let template = format!(
        "{SERVER_AND_SESSION}\n{}",
        r#"
[[tenant]]
name = "fast"
hosts = ["panel.fast.test"]
upstream = "{UPSTREAM}"
account = "fast.test"
bypass_paths = ["/"]

[[tenant]]
name = "jwt"
hosts = ["panel.jwt.test"]
upstream = "{UPSTREAM}"
account = "jwt.test"

[[tenant.member]]
user = "ana@jwt.test"
account = "jwt.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.jwt.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"

[[tenant]]
name = "slow"
hosts = ["panel.slow.test"]
upstream = "SLOW"
account = "slow.test"
bypass_paths = ["/"]
"#
        .replace("SLOW", &slow.to_string())
    )
    .replace(
        "[server]\n",
        "[server]\nheader_timeout = \"2s\"\nupstream_timeout = \"3s\"\n",
    );
    let p = Portero::start_with(&template, &up, &[]);
    (up, p)
}

/// Time for one plain request on a fresh connection.
fn timed(p: &Portero, host: &str, path: &str) -> (Resp, Duration) {
    let t = Instant::now();
    let r = p.send(get(host, path).html());
    (r, t.elapsed())
}

#[test]
fn slow_clients_are_cut_off_and_others_served_meanwhile() {
    let (_up, p) = start_faults();
    // 40 connections trickling a header byte every 300 ms.
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: panel.fast.test\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let mut cut = vec![false; slow.len()];
    while started.elapsed() < Duration::from_secs(6) && cut.iter().any(|c| !c) {
        for (i, s) in slow.iter_mut().enumerate() {
            if !cut[i] && s.write_all(b"X").is_err() {
                cut[i] = true;
            }
        }
        // Someone else is served promptly meanwhile.
        let (r, took) = timed(&p, FAST, "/x");
        assert!(r.forwarded(), "{}", r.body);
        assert!(
            took < Duration::from_secs(1),
            "a normal request took {took:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // A write may still succeed into a closed socket's buffer once; the
    // read tells for sure.
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a slow client still has its connection: {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "slow clients held on for {:?} (header_timeout is 2 s)",
        started.elapsed()
    );
}

#[test]
fn oversized_and_endless_headers_are_refused_and_bounded() {
    let (_up, p) = start_faults();
    let rss_before = p.rss_kib();
    // 100 KiB in one header: 431, not forwarded.
    let big = "a".repeat(100 * 1024);
    let r = p.send(get(FAST, "/x").header("X-Big", &big));
    assert_eq!(r.status, 431, "{}", r.body);
    assert!(!r.forwarded());
    // Just under the limit passes.
    let r = p.send(get(FAST, "/x").header("X-Big", &"a".repeat(32 * 1024)));
    assert!(r.forwarded(), "{}", r.status);
    // 2 MiB of header, 20 times: Portero reads no more than 80 KiB; the
    // connection is refused without a response or with a 4xx.
    let huge = format!(
        "GET /x HTTP/1.1\r\nHost: {FAST}\r\nX-Huge: {}\r\n\r\n",
        "b".repeat(2 * 1024 * 1024)
    );
    for _ in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(huge.as_bytes());
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(
            buf.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{}",
            text.chars().take(200).collect::<String>()
        );
    }
    // 300 header lines (Portero reads at most 100): refused.
    let mut many = format!("GET /x HTTP/1.1\r\nHost: {FAST}\r\n");
    for i in 0..300 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let r = raw_from(None, p.port, many.as_bytes());
    assert!(!r.forwarded());
    assert!(
        r.status == 0 || (400..500).contains(&r.status),
        "{}",
        r.status
    );
    // Still serving, and memory did not keep the junk.
    assert!(timed(&p, FAST, "/x").0.forwarded());
    let rss_after = p.rss_kib();
    assert!(
        rss_after < rss_before + 32 * 1024,
        "resident memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[test]
fn a_slow_panel_gets_a_clear_504_in_time_and_others_are_served() {
    let (_up, p) = start_faults();
    // Slower than the header deadline but within upstream_timeout: answered.
    let (r, took) = timed(&p, SLOW, "/wait/2500");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(took >= Duration::from_millis(2400), "{took:?}");
    // 30 requests that the panel never answers in time, at once.
    let port = p.port;
    let hung: Vec<_> = (0..30)
        .map(|_| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let r = get(SLOW, "/wait/60000").html().send(port);
                (r, t.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile, another panel is served at once.
    for _ in 0..10 {
        let (r, took) = timed(&p, FAST, "/x");
        assert!(r.forwarded());
        assert!(
            took < Duration::from_secs(1),
            "{took:?} while a panel hangs"
        );
    }
    for h in hung {
        let (r, took) = h.join().unwrap();
        assert_eq!(r.status, 504, "{}", r.body);
        assert!(r.body.contains("The panel is not answering"), "{}", r.body);
        assert!(
            took < Duration::from_secs(6),
            "a hung panel held a request for {took:?} (upstream_timeout is 3 s)"
        );
    }
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics.contains(r#"portero_upstream_errors_total{status="504",tenant="slow"} 30"#),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("upstream_errors"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A reload does not drop a request in flight nor end a session, and the
/// configuration it brings is in force for the next request.
#[test]
fn a_reload_keeps_requests_in_flight_and_sessions() {
    let (_up, p) = start_faults();
    let session = sign_in(&p, "panel.jwt.test", "jwt", "ana@jwt.test");
    let port = p.port;
    let in_flight = std::thread::spawn(move || get(SLOW, "/wait/1500").html().send(port));
    std::thread::sleep(Duration::from_millis(300));
    let path = p.path("portero.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{config}\n[[tenant]]\nname = \"late\"\nhosts = [\"panel.late.test\"]\nupstream = \"{}\"\naccount = \"late.test\"\nbypass_paths = [\"/\"]\n",
            config.split("upstream = \"").nth(1).unwrap().split('"').next().unwrap()),
    )
    .unwrap();
    let r = p.admin_post("/reload");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = in_flight.join().unwrap();
    assert_eq!(
        r.status, 200,
        "the request in flight during the reload: {}",
        r.body
    );
    assert!(p.send(get("panel.late.test", "/x")).forwarded());
    let got = p
        .send(get("panel.jwt.test", "/home").cookie("portero_session", &session))
        .received();
    assert_eq!(
        got.one("x-portero-user"),
        Some("ana@jwt.test"),
        "the session after the reload"
    );
}
