//! What operators read: the JSON access log (no query strings, no tokens)
//! and the metrics of upstream time, upstream errors and the reuse of
//! signed identities.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

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
