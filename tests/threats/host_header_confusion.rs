//! Threat: a `Host` that Portero reads as one tenant's host while the
//! panel's web server reads it as another's (`panel.beta.test:x.gamma.test`
//! is gamma's wildcard to a lax parser, beta's site to nginx), or a request
//! target that names another host than the one judged. Portero accepts one
//! spelling per host, `name[:port]` or `[IPv6]:port`, judges that, and
//! forwards only its normalised form (`Host`, `X-Forwarded-Host`) with an
//! origin-form target.
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpListener;

const TENANTS: &str = r#"
[[tenant]]
name = "alpha"
hosts = ["panel.alpha.test"]
upstream = "{UPSTREAM}"
account = "alpha.test"

[[tenant.member]]
user = "ana@alpha.test"
account = "alpha.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.alpha.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "beta"
hosts = ["panel.beta.test"]
upstream = "{UPSTREAM}"
account = "beta.test"
bypass_paths = ["/static/"]

[tenant.external_sso]
url = "https://login.beta.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "gamma"
hosts = ["*.gamma.test"]
upstream = "{UPSTREAM}"
account = "gamma.test"

[[tenant.member]]
user = "eve@gamma.test"
account = "gamma.test"
permissions = ["admin"]

[tenant.external_sso]
url = "https://login.gamma.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;

/// A panel that answers with its request head exactly as it arrived
/// (request line and header lines, bytes as sent by Portero).
fn raw_panel() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nx-upstream: echo\r\ncontent-type: text/plain\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{head}",
                    head.len()
                );
                let _ = s.write_all(reply.as_bytes());
            });
        }
    });
    Upstream { addr }
}

/// The panel's view: its request line, and its headers (lower-case names).
fn panel_view(r: &Resp) -> (String, Vec<(String, String)>) {
    assert_eq!(
        r.header("x-upstream"),
        Some("echo"),
        "not forwarded: {} {}",
        r.status,
        r.body
    );
    let mut lines = r.body.lines();
    let line = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (line, headers)
}

fn one<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn start() -> (Upstream, Portero, String) {
    let up = raw_panel();
    let p = Portero::start(TENANTS, &up);
    let eve = sign_in(&p, "x.gamma.test", "gamma", "eve@gamma.test");
    (up, p, eve)
}

#[test]
fn a_host_that_a_web_server_reads_as_another_is_refused() {
    let (_up, p, eve) = start();
    // The normal case works, signed in on gamma.
    let (_, h) = panel_view(&p.send(get("x.gamma.test", "/home").cookie("portero_session", &eve)));
    assert_eq!(one(&h, "x-portero-tenant"), vec!["gamma"]);
    for host in [
        // nginx reads up to the first `:`: beta's site, with gamma's identity.
        "panel.beta.test:x.gamma.test",
        "panel.beta.test:1.gamma.test",
        "panel.alpha.test:80:81",
        "x.gamma.test:80:81",
        "evil.test@x.gamma.test",
        "x.gamma.test:",
        "x.gamma.test:0",
        "x.gamma.test:65536",
        "x.gamma.test:123456",
        "x..gamma.test",
        "x.gamma.test..",
        "x.gamma.test/",
        "x.gamma.test,panel.beta.test",
        "[::1]x.gamma.test",
        "[::1]:x.gamma.test",
    ] {
        let r = p.send(get(host, "/home").cookie("portero_session", &eve).html());
        assert_eq!(r.status, 400, "{host}: {} {}", r.status, r.body);
        assert!(!r.forwarded(), "{host} was forwarded");
    }
    // A host with no tenant (an IPv6 literal included) is unknown, not a guess.
    assert_eq!(p.send(get("[::1]:80", "/home")).status, 421);
    assert_eq!(p.send(get("gamma.test", "/home")).status, 421);
}

#[test]
fn the_panel_receives_the_normalised_host_only() {
    let (_up, p, eve) = start();
    for (sent, normal) in [
        ("X.GAMMA.test", "x.gamma.test"),
        ("x.gamma.test.", "x.gamma.test"),
        ("X.Gamma.Test.:08080", "x.gamma.test:8080"),
        ("x.gamma.test:80", "x.gamma.test:80"),
    ] {
        let r = p.send(
            get(sent, "/home")
                .cookie("portero_session", &eve)
                .header("X-Forwarded-Host", "panel.beta.test"),
        );
        let (line, h) = panel_view(&r);
        assert_eq!(line, "GET /home HTTP/1.1", "{sent}");
        assert_eq!(one(&h, "host"), vec![normal], "{sent}");
        assert_eq!(one(&h, "x-forwarded-host"), vec![normal], "{sent}");
        assert_eq!(one(&h, "x-portero-tenant"), vec!["gamma"], "{sent}");
    }
    // Bypass paths too.
    let (_, h) = panel_view(&p.send(get("PANEL.Beta.test.", "/static/a.css")));
    assert_eq!(one(&h, "host"), vec!["panel.beta.test"]);
}

#[test]
fn duplicate_hosts_are_refused() {
    let (_up, p, eve) = start();
    for second in ["panel.beta.test", "x.gamma.test"] {
        let r = p.send(
            get("x.gamma.test", "/home")
                .header("Host", second)
                .cookie("portero_session", &eve),
        );
        assert_eq!(r.status, 400, "{second}: {}", r.body);
        assert!(!r.forwarded());
    }
}

#[test]
fn an_absolute_form_target_is_judged_by_its_host_and_forwarded_in_origin_form() {
    let (_up, p, eve) = start();
    // Target and Host agree: the panel gets origin-form and the judged host.
    let r =
        p.send(get("x.gamma.test", "http://x.gamma.test/home?a=1").cookie("portero_session", &eve));
    let (line, h) = panel_view(&r);
    assert_eq!(line, "GET /home?a=1 HTTP/1.1");
    assert_eq!(one(&h, "host"), vec!["x.gamma.test"]);
    assert_eq!(one(&h, "x-portero-tenant"), vec!["gamma"]);
    // A target naming another host than the Host judged never reaches a panel.
    for target in [
        "http://panel.beta.test/home",
        "http://panel.beta.test:x.gamma.test/home",
        "http://evil@x.gamma.test/home",
    ] {
        let r = p.send(get("x.gamma.test", target).cookie("portero_session", &eve));
        assert_eq!(r.status, 400, "{target}: {}", r.body);
        assert!(!r.forwarded(), "{target}");
    }
}

#[test]
fn http2_authority_is_normalised_and_must_agree_with_host() {
    let (_up, p, eve) = start();
    let cookie = format!("portero_session={eve}");
    let send = |uri: String, host: Option<&str>| {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(host.map(|h| ("host", h)));
        h2c_send(p.port, &uri, &headers).map(|r| (r.status, r.from_upstream, r.body))
    };
    let (status, upstream, body) = send("http://X.Gamma.Test.:80/home".into(), None).unwrap();
    assert!(status == 200 && upstream, "{status} {body}");
    let lower = body.to_ascii_lowercase();
    assert!(lower.contains("\r\nhost: x.gamma.test:80\r\n"), "{body}");
    assert!(
        lower.contains("\r\nx-forwarded-host: x.gamma.test:80\r\n"),
        "{body}"
    );
    // `:authority` and `Host` naming different hosts: refused, never forwarded.
    if let Some((status, upstream, body)) =
        send("http://x.gamma.test/home".into(), Some("panel.beta.test"))
    {
        assert!(status == 400 && !upstream, "{status} {body}");
    }
}
