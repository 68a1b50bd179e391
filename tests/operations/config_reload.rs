//! A broken configuration on reload must not take Portero down: it keeps
//! serving with the old one and says why (README, "Reload"). Also `explain`.
use crate::common::*;

#[test]
fn a_refused_reload_keeps_the_old_configuration() {
    let (_up, p) = start();
    let path = p.path("portero.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        good.replace("sso_mode = \"auto_redirect\"", "sso_mode = \"whenever\""),
    )
    .unwrap();
    let r = p.admin_post("/reload");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("whenever") && r.body.contains("portero.toml:"),
        "{}",
        r.body
    );
    assert!(
        p.send(get("panel.latincloud.test", "/static/x"))
            .forwarded(),
        "still serving"
    );
    // A good change is taken: a new tenant appears.
    let added = good.clone()
        + "\n[[tenant]]\nname = \"fresh\"\nhosts = [\"panel.fresh.test\"]\nupstream = \"{UP}\"\naccount = \"fresh.test\"\nbypass_paths = [\"/\"]\n";
    let upstream = good
        .split("upstream = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&path, added.replace("{UP}", &upstream)).unwrap();
    let r = p.admin_post("/reload");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(p.send(get("panel.fresh.test", "/")).forwarded());
}

/// Editing the file is enough (no SIGHUP): a good edit is taken within a
/// second or two; a broken one is refused, counted, and the old
/// configuration keeps serving.
#[test]
fn a_changed_file_is_reloaded_and_a_broken_one_refused() {
    let (_up, p) = start();
    let path = p.path("portero.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    let upstream = good
        .split("upstream = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let wait = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !what() {
            assert!(std::time::Instant::now() < deadline, "not reloaded");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    std::fs::write(
        &path,
        good.replace("sso_mode = \"auto_redirect\"", "sso_mode = \"whenever\""),
    )
    .unwrap();
    wait(&|| {
        get("127.0.0.1", "/metrics")
            .send(p.admin)
            .body
            .contains(r#"portero_config_reloads_total{result="refused"} 1"#)
    });
    assert!(
        p.send(get("panel.latincloud.test", "/static/x"))
            .forwarded(),
        "still serving"
    );
    assert!(
        p.stderr().contains("whenever"),
        "the log says why: {}",
        p.stderr()
    );
    let added = good.clone()
        + &format!("\n[[tenant]]\nname = \"fresh\"\nhosts = [\"panel.fresh.test\"]\nupstream = \"{upstream}\"\naccount = \"fresh.test\"\nbypass_paths = [\"/\"]\n");
    std::fs::write(&path, added).unwrap();
    wait(&|| p.send(get("panel.fresh.test", "/")).forwarded());
}

#[test]
fn explain_prints_the_rule_chain_as_json() {
    let (_up, p) = start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["explain", "--config"])
        .arg(p.path("portero.toml"))
        .args([
            "--host",
            "panel.latincloud.test",
            "--path",
            "/admin/x",
            "--ip",
            "127.0.0.2",
        ])
        .args([
            "--forwarded-for",
            "64.233.187.5",
            "--user",
            "root@latincloud.test",
            "--json",
        ])
        .env("PORTERO_SESSION_KEY", SESSION_KEY)
        .env("EXT_SSO_SECRET", EXT_SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tenant"], "latincloud");
    assert_eq!(v["client_ip"], "64.233.187.5");
    assert_eq!(v["rule"], 5);
    assert!(v["action"].as_str().unwrap().contains("super-admin"));
    assert_eq!(v["steps"].as_array().unwrap().len(), 5);
}

/// `explain` builds the session's fact with the gate's own builder: a
/// picker tenant's chosen account is looked up (not always "no account
/// chosen"), a membership source that cannot answer is its own fact, and a
/// forward-auth sub-request is judged for the proxy that asks.
#[test]
fn explain_shows_the_session_and_forward_auth_facts() {
    let (_up, p) = start();
    let explain = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["explain", "--config"])
            .arg(p.path("portero.toml"))
            .args(args)
            .arg("--json")
            .env("PORTERO_SESSION_KEY", SESSION_KEY)
            .env("EXT_SSO_SECRET", EXT_SECRET)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let picker = ["--host", "panel.picker.test", "--path", "/", "--session"];
    let v = explain(&[&picker[..], &["--user", "ana@picker.test"]].concat());
    assert_eq!(v["session"], "valid, no account chosen yet");
    let v = explain(
        &[
            &picker[..],
            &["--user", "ana@picker.test", "--account", "client-two.test"],
        ]
        .concat(),
    );
    assert_eq!(v["session"], "valid, member of the account");
    assert_eq!(v["rule"], 3);
    let v = explain(
        &[
            &picker[..],
            &[
                "--user",
                "ana@picker.test",
                "--account",
                "someone-else.test",
            ],
        ]
        .concat(),
    );
    assert_eq!(v["session"], "valid, not a member of the account");
    assert!(v["action"].as_str().unwrap().starts_with("403"), "{v}");

    let v = explain(&[
        "--host",
        "panel.latincloud.test",
        "--path",
        "/",
        "--session",
        "--user",
        "ana@latincloud.test",
        "--members-unavailable",
    ]);
    assert_eq!(v["session"], "valid, membership source cannot answer");
    assert_eq!(v["rule"], 3);
    assert!(v["action"].as_str().unwrap().starts_with("503"), "{v}");
    assert!(v.get("forward_auth").is_none(), "{v}");

    // No session, no netmask: a browser is sent to sign in, but nginx's
    // auth_request cannot follow that redirect.
    let nomask = ["--host", "panel.nomask.test", "--path", "/"];
    let v = explain(&nomask);
    assert!(v["action"].as_str().unwrap().starts_with("302"), "{v}");
    let v = explain(&[&nomask[..], &["--forward-auth", "traefik"]].concat());
    assert!(v["action"].as_str().unwrap().starts_with("302"), "{v}");
    let v = explain(&[&nomask[..], &["--forward-auth", "nginx"]].concat());
    assert!(v["action"].as_str().unwrap().starts_with("401"), "{v}");
    assert_eq!(v["rule"], 7);
    assert!(
        v["forward_auth"].as_str().unwrap().starts_with("nginx"),
        "{v}"
    );
}
