//! The mechanism that releases an idle HTTP/1.1 connection's HTTP state
//! between requests (src/proxy/lean.rs) must never lose or mix up bytes:
//! pipelined requests (whole and cut in the middle), HEAD answers, request
//! bodies, and protocol upgrades (WebSocket) all go through one
//! connection as a client sent them, with the right identity.
use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const HOST: &str = "panel.latincloud.test";

fn connect(p: &Portero) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Reads exactly one response (`head_only`: the answer to a HEAD).
fn read_one(conn: &mut TcpStream, head_only: bool) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            conn.read(&mut byte).unwrap(),
            1,
            "connection closed mid-head"
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("keep-alive responses carry a length");
    if !head_only {
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).unwrap();
        buf.extend_from_slice(&body);
    }
    parse_response(&buf)
}

fn get(target: &str, cookie: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={cookie}\r\n\r\n")
}

#[test]
fn pipelined_requests_whole_and_cut_are_all_answered_in_order() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let boss = sign_in(&p, HOST, "latincloud", "boss@latincloud.test");
    let mut conn = connect(&p);
    // Three whole requests in one write, then a fourth cut in its header.
    let fourth = get("/four", &boss);
    let (cut_a, cut_b) = fourth.split_at(fourth.len() / 2);
    let batch = format!(
        "{}{}{}{cut_a}",
        get("/one", &ana),
        get("/two", &boss),
        get("/three", &ana)
    );
    conn.write_all(batch.as_bytes()).unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(read_one(&mut conn, false));
    }
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(cut_b.as_bytes()).unwrap();
    answers.push(read_one(&mut conn, false));
    let seen: Vec<(String, String)> = answers
        .iter()
        .map(|r| {
            let got = r.received();
            (
                got.path.clone(),
                got.one("x-portero-user").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/one", "ana@latincloud.test"),
            ("/two", "boss@latincloud.test"),
            ("/three", "ana@latincloud.test"),
            ("/four", "boss@latincloud.test"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // And the connection goes on serving after an idle moment.
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(get("/five", &ana).as_bytes()).unwrap();
    assert_eq!(read_one(&mut conn, false).received().path, "/five");
}

/// A panel that reads every request body before answering (as panels
/// do), answering as the echo upstream does plus the body's length.
fn reading_panel() -> std::net::SocketAddr {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    serve_http1(|req: hyper::Request<hyper::body::Incoming>| async move {
        let path = req.uri().path().to_string();
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let n = body.map_or(0, |b| b.len());
        let out = format!("PATH {path}\nbody-length: {n}\n");
        Ok::<_, std::convert::Infallible>(
            hyper::Response::builder()
                .header("x-upstream", "echo")
                .body(Full::new(Bytes::from(out)))
                .unwrap(),
        )
    })
}

#[test]
fn head_answers_and_bodies_leave_the_connection_usable() {
    let up = Upstream::start();
    let panel = reading_panel();
    let tenants = TENANTS.replace(
        "upstream = \"{UPSTREAM}\"",
        &format!("upstream = \"{panel}\""),
    );
    let p = Portero::start(&tenants, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let mut conn = connect(&p);
    for round in 0..3 {
        let head = format!(
            "HEAD /h{round} HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={ana}\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).unwrap();
        let r = read_one(&mut conn, true);
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        let body = "x".repeat(10_000);
        let post = format!(
            "POST /p{round} HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={ana}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(post.as_bytes()).unwrap();
        // The body a moment later, in pieces.
        std::thread::sleep(Duration::from_millis(50));
        for piece in body.as_bytes().chunks(3000) {
            conn.write_all(piece).unwrap();
        }
        let r = read_one(&mut conn, false);
        assert_eq!(r.received().path, format!("/p{round}"));
        assert_eq!(r.received().one("body-length"), Some("10000"));
        conn.write_all(get(&format!("/g{round}"), &ana).as_bytes())
            .unwrap();
        assert_eq!(
            read_one(&mut conn, false).received().path,
            format!("/g{round}")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A panel that switches protocols on `Upgrade: echo`, then echoes every
/// byte; the head it received is sent first.
fn upgrading_panel() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let _ = s.write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
                );
                let _ = s.write_all(format!("{}\n", text.len()).as_bytes());
                let _ = s.write_all(text.as_bytes());
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Reads the answer's head and, after a 101, what the panel says it
/// received (its length line, then the request head as it arrived).
fn upgraded_head(conn: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") {
        return (head, String::new());
    }
    let mut len_line = Vec::new();
    while !len_line.ends_with(b"\n") {
        assert_eq!(conn.read(&mut byte).unwrap(), 1);
        len_line.push(byte[0]);
    }
    let n: usize = String::from_utf8_lossy(&len_line).trim().parse().unwrap();
    let mut seen = vec![0u8; n];
    conn.read_exact(&mut seen).unwrap();
    (head, String::from_utf8_lossy(&seen).to_string())
}

#[test]
fn an_upgrade_reaches_the_panel_after_the_decision_and_carries_bytes_both_ways() {
    let up = Upstream::start();
    let panel = upgrading_panel();
    let tenants = TENANTS.replace(
        "upstream = \"{UPSTREAM}\"",
        &format!("upstream = \"{panel}\""),
    );
    let p = Portero::start(&tenants, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");

    // Not signed in, from outside the tenant's netmasks: the panel's own
    // (classic) login gets the upgrade, without an identity.
    let mut anon = connect(&p);
    anon.write_all(
        format!("GET /ws HTTP/1.1\r\nHost: {HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let (status, seen) = upgraded_head(&mut anon);
    assert!(status.starts_with("http/1.1 101"), "{status}");
    assert!(!seen.contains("x-portero-user"), "{seen}");

    // Signed in; the first tunnelled bytes follow the request head in the
    // same write.
    let mut conn = connect(&p);
    conn.write_all(
        format!("GET /ws HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={ana}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly-bytes|")
            .as_bytes(),
    )
    .unwrap();
    let (head, seen) = upgraded_head(&mut conn);
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    assert!(
        seen.contains("x-portero-user: ana@latincloud.test"),
        "{seen}"
    );
    assert!(seen.contains("upgrade: echo"), "{seen}");
    assert!(!seen.contains("portero_session"), "{seen}");
    // Bytes both ways, the early ones first.
    conn.write_all(b"hello").unwrap();
    let mut echoed = vec![0u8; "early-bytes|hello".len()];
    conn.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed, b"early-bytes|hello");
    for i in 0..20 {
        let msg = format!("message {i}");
        conn.write_all(msg.as_bytes()).unwrap();
        let mut back = vec![0u8; msg.len()];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
}

#[test]
fn an_h2c_upgrade_never_reaches_the_panel() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let mut conn = connect(&p);
    for upgrade in ["h2c", "H2C, websocket", "HTTP/2.0"] {
        conn.write_all(
            format!(
                "GET /h2c HTTP/1.1\r\nHost: {HOST}\r\nCookie: portero_session={ana}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: {upgrade}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let r = read_one(&mut conn, false);
        assert_eq!(r.status, 200, "{upgrade}: {}", r.body);
        let got = r.received();
        assert_eq!(got.one("upgrade"), None, "{upgrade}");
        assert_eq!(got.one("http2-settings"), None, "{upgrade}");
        assert_eq!(got.one("connection"), None, "{upgrade}");
    }
}

#[test]
fn a_switch_the_client_did_not_ask_for_is_refused() {
    let up = Upstream::start();
    let panel = upgrading_panel();
    let tenants = TENANTS.replace(
        "upstream = \"{UPSTREAM}\"",
        &format!("upstream = \"{panel}\""),
    );
    let p = Portero::start(&tenants, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let mut conn = connect(&p);
    conn.write_all(get("/plain", &ana).as_bytes()).unwrap();
    let (head, _) = upgraded_head(&mut conn);
    assert!(head.starts_with("http/1.1 502"), "{head}");
}
