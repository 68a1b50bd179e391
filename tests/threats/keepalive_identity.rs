//! Identity leaking between requests that share something: one keep-alive
//! connection carrying several visitors, the per-session cache of signed
//! identity headers (it must never outlive a revocation or cross users),
//! HTTP/2 cleartext through the keep-alive wrapper, and the memory an idle
//! keep-alive connection may hold (many idle connections must not exhaust
//! the proxy).
use crate::common::*;
use base64::Engine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const HOST: &str = "panel.latincloud.test";

/// One HTTP/1.1 request on an open connection; reads exactly one response.
fn exchange(conn: &mut TcpStream, target: &str, cookie: Option<&str>) -> Resp {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/html\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: portero_session={c}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
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
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).unwrap();
    buf.extend_from_slice(&body);
    parse_response(&buf)
}

fn connect(p: &Portero) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

fn assertion_sub(r: &Resp) -> String {
    let jwt = r.received().one("x-portero-assertion").unwrap().to_string();
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

#[test]
fn visitors_sharing_one_connection_never_share_an_identity() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let boss = sign_in(&p, HOST, "latincloud", "boss@latincloud.test");
    let mut conn = connect(&p);
    for round in 0..3 {
        let r = exchange(&mut conn, "/home", Some(&ana));
        assert_eq!(
            r.received().one("x-portero-user"),
            Some("ana@latincloud.test")
        );
        assert_eq!(assertion_sub(&r), "ana@latincloud.test", "round {round}");

        // The next visitor on the same connection, without a session.
        let r = exchange(&mut conn, "/home", None);
        if r.forwarded() {
            assert!(r.received().identity_like(&[]).is_empty(), "round {round}");
        }

        let r = exchange(&mut conn, "/home", Some(&boss));
        assert_eq!(
            r.received().one("x-portero-user"),
            Some("boss@latincloud.test")
        );
        assert_eq!(
            r.received()
                .one("x-portero-permissions")
                .unwrap()
                .split(',')
                .count(),
            5
        );
        assert_eq!(assertion_sub(&r), "boss@latincloud.test", "round {round}");

        let r = exchange(&mut conn, "/static/app.css", Some(&ana));
        assert!(
            r.received().identity_like(&[]).is_empty(),
            "bypass path, round {round}"
        );
    }
}

#[test]
fn cached_identity_headers_do_not_survive_force_reauth() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    // Warm the cache of signed headers for this session.
    for _ in 0..3 {
        let r = p.send(get(HOST, "/home").cookie("portero_session", &ana));
        assert_eq!(
            r.received().one("x-portero-user"),
            Some("ana@latincloud.test")
        );
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(p.admin_post("/tenants/latincloud/reauth").status, 200);
    let r = p.send(get(HOST, "/home").cookie("portero_session", &ana));
    assert!(
        !r.forwarded() || r.received().identity_like(&[]).is_empty(),
        "a revoked session was forwarded with its cached identity"
    );
}

#[test]
fn h2c_prior_knowledge_is_still_served() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let cookie = format!("portero_session={ana}");
    let r = h2c_send(
        p.port,
        &format!("http://{HOST}/home"),
        &[("cookie", &cookie)],
    )
    .unwrap();
    let (status, body) = (r.status, r.body);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("x-portero-user: ana@latincloud.test"),
        "{body}"
    );
}

#[test]
fn idle_keepalive_connections_stay_small() {
    const IDLE: usize = 1000;
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    // Warm up, then measure what idle connections add.
    let mut warm = connect(&p);
    for _ in 0..50 {
        exchange(&mut warm, "/home", Some(&ana));
    }
    let before = p.rss_kib();
    let mut held = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut c = connect(&p);
        let r = exchange(&mut c, "/home", Some(&ana));
        assert!(r.forwarded());
        held.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = p.rss_kib();
    let per_connection = (after.saturating_sub(before)) * 1024 / IDLE as u64;
    eprintln!(
        "RSS {before} KiB → {after} KiB with {IDLE} idle connections: {per_connection} B each"
    );
    // The data plane releases a connection's HTTP state between requests
    // (src/proxy/lean.rs): ~1 KiB each measured (the socket, its task, its
    // small state). pingora, the engine before, held ~10.5 KiB with
    // Portero's keep-alive wrapper (~31 KiB as pingora is configured by
    // default).
    assert!(
        per_connection < 4 * 1024,
        "{per_connection} bytes per idle keep-alive connection"
    );
    // And every one of them is still usable.
    for c in held.iter_mut().step_by(100) {
        assert!(exchange(c, "/home", Some(&ana)).forwarded());
    }
}
