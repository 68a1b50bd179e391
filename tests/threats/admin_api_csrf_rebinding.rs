//! Threat: the admin listener has no token by default (loopback only), so a
//! web page in the operator's browser reaching it — a cross-site form post,
//! a script, a DNS-rebinding page (`Host: attacker.example`) — could add
//! administrators, force re-authentication or reload. The listener refuses
//! any `Host` that is not its own address and anything a page sends
//! (`Origin`, `Sec-Fetch-Site` other than `none`), and takes forms only as
//! URL-encoded UTF-8 (no `enctype="text/plain"` trick).
use crate::common::*;

const STORE_TENANT: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

fn start() -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start(STORE_TENANT, &up);
    (up, p)
}

fn add_admin(host: &str, user: &str) -> Req {
    post_form(
        host,
        "/tenants/libros/members",
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", user),
            ("permissions", "admin"),
        ],
    )
}

/// The members of libros.test, as the listing shows them.
fn members(p: &Portero) -> String {
    let r = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    r.body
}

#[test]
fn a_dns_rebinding_page_is_refused() {
    let (_up, p) = start();
    let port = p.admin;
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".to_string(),
        format!("127.0.0.1.attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("10.0.0.1:{port}"),
        String::new(),
    ] {
        let r = add_admin(&host, "mallory@evil.test").send(port);
        assert_eq!(r.status, 421, "Host {host:?}: {}", r.body);
        // The operator's actions too, reading included.
        for (method, path) in [
            ("POST", "/reload"),
            ("POST", "/tenants/libros/reauth"),
            ("GET", "/tenants/libros/members?account=libros.test"),
            ("GET", "/metrics"),
        ] {
            let r = get(&host, path).method(method).send(port);
            assert_eq!(r.status, 421, "{method} {path} with Host {host:?}");
        }
    }
    // Two Host headers: which one would count? Neither (the HTTP layer may
    // already drop the connection: status 0).
    let r = add_admin("127.0.0.1", "mallory@evil.test")
        .header("Host", "attacker.example")
        .send(port);
    assert!(matches!(r.status, 0 | 400), "{} {}", r.status, r.body);
    assert!(!members(&p).contains("mallory"), "{}", members(&p));
    assert!(!p.audit().contains("mallory"), "nothing was changed");

    // Its own address, with or without the port, in every loopback spelling.
    for (i, host) in [
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
    ]
    .iter()
    .enumerate()
    {
        let user = format!("ops{i}@libros.test");
        let r = add_admin(host, &user).send(port);
        assert_eq!(r.status, 200, "Host {host:?}: {}", r.body);
    }
    assert!(members(&p).contains("ops4@libros.test"));
}

#[test]
fn a_web_page_cannot_post_to_the_admin_listener() {
    let (_up, p) = start();
    let port = p.admin;
    let host = format!("127.0.0.1:{port}");
    // A form on another site (Origin), a sandboxed page (Origin: null), and
    // what browsers say in Sec-Fetch-Site — a page on the admin origin
    // itself included: the listener serves no pages, so none is its own.
    let from_pages: [(&str, &str); 7] = [
        ("Origin", "https://attacker.example"),
        ("Origin", "null"),
        ("Origin", "http://127.0.0.1"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Site", "whatever"),
    ];
    for (name, value) in from_pages {
        let r = add_admin(&host, "mallory@evil.test")
            .header(name, value)
            .send(port);
        assert_eq!(r.status, 403, "{name}: {value}: {}", r.body);
        let r = get(&host, "/tenants/libros/reauth")
            .method("POST")
            .header(name, value)
            .send(port);
        assert_eq!(r.status, 403, "reauth, {name}: {value}");
    }
    // `enctype="text/plain"` smuggles a URL-encoded body through a field
    // name; only URL-encoded UTF-8 forms are read.
    for content_type in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded; charset=iso-8859-1",
    ] {
        let body = "action=add&account=libros.test&user=mallory%40evil.test&permissions=admin&x=";
        let raw = format!(
            "POST /tenants/libros/members HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let r = raw_from(None, port, raw.as_bytes());
        assert_eq!(r.status, 400, "{content_type}: {}", r.body);
    }
    assert!(!members(&p).contains("mallory"), "{}", members(&p));

    // Typed into the address bar (Sec-Fetch-Site: none) and programs (no
    // Sec-Fetch-*, no Origin) are served.
    let typed = get(&host, "/healthz")
        .header("Sec-Fetch-Site", "none")
        .header("Sec-Fetch-Mode", "navigate")
        .send(port);
    assert_eq!(typed.status, 200);
    let r = add_admin(&host, "ops@libros.test").send(port);
    assert_eq!(r.status, 200, "{}", r.body);
}
