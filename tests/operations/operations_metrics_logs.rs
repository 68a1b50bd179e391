//! What operators read: the JSON access log (no query strings, no tokens),
//! the metrics of upstream time, upstream errors and the reuse of signed
//! identities, what is running and the process's resources, and the
//! application log (plain without a terminal, JSON on request, no error
//! lines in normal operation).
use crate::common::*;

#[test]
fn access_log_and_operational_metrics() {
    let up = Upstream::start();
    let template = SERVER_AND_SESSION.replace(
        "audit_log = \"{DIR}/audit.log\"",
        "audit_log = \"{DIR}/audit.log\"\naccess_log = \"{DIR}/access.log\"",
    );
    let p = Portero::start_with(&format!("{template}\n{TENANTS}"), &up, &[]);
    let session = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    for _ in 0..3 {
        let r = p.send(
            get("panel.latincloud.test", "/domains?secret=s3cr3t")
                .cookie("portero_session", &session),
        );
        assert!(r.forwarded());
    }
    assert_eq!(
        p.send(get("panel.down.test", "/static/x").html()).status,
        502
    );

    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics.contains(r#"portero_upstream_seconds_count{tenant="latincloud"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portero_upstream_errors_total{status="502",tenant="down"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portero_cache_lookups_total{cache="signed_identity",result="hit"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portero_cache_lookups_total{cache="signed_identity",result="miss"} 1"#),
        "{metrics}"
    );

    // The access log is flushed every second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = std::fs::read_to_string(p.path("access.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let forwarded: Vec<_> = lines
        .iter()
        .filter(|l| l["outcome"] == "forward_identity")
        .collect();
    assert_eq!(forwarded.len(), 3, "{log}");
    assert_eq!(forwarded[0]["path"], "/domains");
    assert_eq!(forwarded[0]["status"], 200);
    assert_eq!(forwarded[0]["tenant"], "latincloud");
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == 502 && l["tenant"] == "down"),
        "{log}"
    );
    assert!(
        !log.contains("s3cr3t") && !log.contains("jwt="),
        "no query strings or tokens: {log}"
    );
}

/// Threat: a log becomes a place to steal sessions from. Tokens, cookies,
/// assertions and secrets never reach the audit log, the access log or
/// standard error — not even when they are refused.
#[test]
fn no_token_cookie_or_secret_reaches_any_log() {
    let up = Upstream::start();
    let template = SERVER_AND_SESSION.replace(
        "audit_log = \"{DIR}/audit.log\"",
        "audit_log = \"{DIR}/audit.log\"\naccess_log = \"{DIR}/access.log\"",
    );
    let p = Portero::start_with(&format!("{template}\n{TENANTS}"), &up, &[]);
    let host = "panel.latincloud.test";
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let callback = |t: &str| external_sign_in(&p, host, t, "/");
    let r = callback(&token);
    assert_eq!(r.status, 302, "{}", r.body);
    let session = r.set_cookie("portero_session").unwrap();
    assert_eq!(callback(&token).status, 401, "replay refused");
    let forged = hs256(
        "another-secret-of-enough-length-1234567",
        &claims("latincloud", "ana@latincloud.test"),
    );
    assert_eq!(callback(&forged).status, 401);
    let tampered = format!("{}x", &session[..session.len() - 1]);
    p.send(
        get(host, "/domains")
            .cookie("portero_session", &tampered)
            .html(),
    );
    assert!(p
        .send(get(host, "/domains").cookie("portero_session", &session))
        .forwarded());
    std::thread::sleep(std::time::Duration::from_millis(1300)); // access log flush
    let logs = [
        ("audit", p.audit()),
        (
            "access",
            std::fs::read_to_string(p.path("access.log")).unwrap_or_default(),
        ),
        ("stderr", p.stderr()),
    ];
    assert!(
        logs[0].1.contains("refused_assertion") && logs[0].1.contains("refused_cookie"),
        "{}",
        logs[0].1
    );
    assert!(logs[1].1.contains("jwt/callback"), "{}", logs[1].1);
    let signature = |jwt: &str| jwt.rsplit('.').next().unwrap().to_string();
    for (name, text) in &logs {
        for (what, secret) in [
            ("token", token.clone()),
            ("token signature", signature(&token)),
            ("forged token signature", signature(&forged)),
            ("session cookie", session.clone()),
            ("tampered cookie", tampered.clone()),
            ("session key", SESSION_KEY.to_string()),
            ("external SSO secret", EXT_SECRET.to_string()),
        ] {
            assert!(
                !text.contains(&secret),
                "the {what} is in the {name} log:\n{text}"
            );
        }
    }
}

/// Normal operation (sign-in, forwarded requests, a page, a refused
/// cookie, a reload) writes no error or warning line, and no colour codes
/// when standard error is not a terminal; `--log-format json` writes one
/// JSON object a line. `/metrics` says which Portero runs and what the
/// process uses.
#[test]
fn the_application_log_is_quiet_plain_and_json_on_request() {
    let up = Upstream::start();
    // A configuration without warnings (the shared one has some on purpose).
    let tenant = r#"
[[tenant]]
name = "latincloud"
hosts = ["panel.latincloud.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "latincloud.test"

[[tenant.member]]
user = "ana@latincloud.test"
account = "latincloud.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.latincloud.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;
    let template = format!("{SERVER_AND_SESSION}\n{tenant}");
    for json in [false, true] {
        let args: &[&str] = &["--log-format", if json { "json" } else { "text" }];
        let p = Portero::start_with_args(&template, &up, args);
        let host = "panel.latincloud.test";
        let session = sign_in(&p, host, "latincloud", "ana@latincloud.test");
        for _ in 0..3 {
            assert!(p
                .send(get(host, "/domains").cookie("portero_session", &session))
                .forwarded());
        }
        p.send(
            get(host, "/.portero/accounts")
                .cookie("portero_session", &session)
                .html(),
        );
        p.send(
            get(host, "/domains")
                .cookie("portero_session", "forged")
                .html(),
        );
        assert_eq!(p.admin_post("/reload").status, 200);
        let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
        for needle in [
            "portero_build_info{version=\"",
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
        ] {
            assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let log = p.stderr();
        assert!(!log.contains('\u{1b}'), "colour codes in a file:\n{log}");
        assert!(
            !log.contains("ERROR") && !log.contains("WARN"),
            "error or warning lines in normal operation:\n{log}"
        );
        if json {
            assert!(!log.trim().is_empty(), "nothing logged at all");
            for line in log.lines() {
                let v: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(
                    v["level"].is_string() && v["timestamp"].is_string(),
                    "{line}"
                );
            }
        }
    }
}
