//! Faults: the panel is down, the host is unknown, the request is malformed.
//! Clear pages, never a panic or a loop. README, "Faults".
use crate::common::*;

#[test]
fn panel_down_gives_a_clear_502_page() {
    let (_up, p) = start();
    let r = p.send(get("panel.down.test", "/anything").html());
    assert_eq!(r.status, 502);
    assert!(r.body.contains("The panel is not answering"), "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // Portero itself keeps serving.
    assert_eq!(
        p.send(get("panel.nomask.test", "/.portero/jwks.json"))
            .status,
        200
    );
}

#[test]
fn unknown_host_gets_421() {
    let (_up, p) = start();
    for host in ["evil.test", "latincloud.test.evil"] {
        let r = p.send(get(host, "/").html());
        assert_eq!(r.status, 421, "{host:?}: {}", r.body);
        assert!(!r.forwarded());
    }
    // No host, or one that is no host name at all: a bad request.
    for host in ["", "a b"] {
        let r = p.send(get(host, "/").html());
        assert_eq!(r.status, 400, "{host:?}: {}", r.body);
        assert!(!r.forwarded());
    }
    // Case and port do not matter for a known host.
    assert!(p
        .send(get("PANEL.LatinCloud.TEST:8080", "/static/x"))
        .forwarded());
}

#[test]
fn garbage_requests_never_crash_portero() {
    let (_up, p) = start();
    let junk: [&[u8]; 5] = [
        b"GARBAGE\r\nConnection: close\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: panel.latincloud.test\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: panel.latincloud.test\r\nCookie: portero_session=\xff\xfe\r\nConnection: close\r\n\r\n",
        b"POST /.portero/login HTTP/1.1\r\nHost: panel.latincloud.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\n%%%%%",
        b"GET /.portero/jwt/callback?jwt=%ff%fe HTTP/1.1\r\nHost: panel.latincloud.test\r\nConnection: close\r\n\r\n",
    ];
    for j in junk {
        let _ = raw_from(None, p.port, j);
    }
    let r = p.send(get("panel.latincloud.test", "/static/ok"));
    assert!(r.forwarded(), "still serving after junk: {}", p.stderr());
    assert!(!p.stderr().contains("panicked"), "{}", p.stderr());
}

#[test]
fn admin_listener_answers_health_and_metrics() {
    let (_up, p) = start();
    assert_eq!(get("127.0.0.1", "/healthz").send(p.admin).status, 200);
    assert_eq!(get("127.0.0.1", "/readyz").send(p.admin).status, 200);
    let _ = p.send(get("panel.latincloud.test", "/static/x"));
    let m = get("127.0.0.1", "/metrics").send(p.admin);
    assert!(m.body.contains("portero_requests_total"), "{}", m.body);
}
