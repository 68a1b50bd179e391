//! Bad configuration is refused at load with every error and its line,
//! never silently ignored. README, "Command line" and "Configuration
//! reference".
//!
//! These cases run `portero check` itself: its exit code, what it prints,
//! and secrets read from the real process environment. What each section
//! accepts or refuses is tested in memory, without a process per case, in
//! `src/config/tests.rs`.
use std::process::Command;

fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.pem"),
        portero::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    let path = dir.path().join("portero.toml");
    std::fs::write(&path, config.replace("{DIR}", dir.path().to_str().unwrap())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["check", "--config"])
        .arg(&path)
        .env("K", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        text.replace(dir.path().to_str().unwrap(), "DIR"),
    )
}

/// The smallest configuration that passes (shared with the in-memory config tests).
const GOOD: &str = include_str!("../common/good_config.toml");

#[test]
fn a_good_config_passes() {
    let (ok, out) = check(GOOD);
    assert!(ok, "{out}");
}

#[test]
fn every_error_is_listed_with_its_line() {
    let bad = r#"[server]
listen = ["127.0.0.1:8080"]
trusted_proxies = ["10.0.0.0/33"]
colour = "blue"

[session]
keys = ["env:K"]
reauth = "fortnight"

[assertion]
signing_key = "file:{DIR}/a.pem"

[[tenant]]
name = "t"
hosts = ["panel.t.test", "*.*.t.test"]
upstream = "127.0.0.1:9000"
sso_mode = "sometimes"
netmasks = ["64.233.187.0/24", "not-a-net"]
account = "t.test"
"#;
    let (ok, out) = check(bad);
    assert!(!ok);
    for (line, what) in [
        (3, "10.0.0.0/33"),
        (4, "colour"),
        (8, "fortnight"),
        (15, "*.*.t.test"),
        (17, "sometimes"),
        (18, "not-a-net"),
    ] {
        let needle = format!("portero.toml:{line}:");
        assert!(
            out.lines().any(|l| l.contains(&needle) && l.contains(what)),
            "expected an error on line {line} about {what}:\n{out}"
        );
    }
}

#[test]
fn missing_secrets_and_account_rules_are_errors() {
    let bad = GOOD
        .replace("env:K", "env:NOT_SET_ANYWHERE")
        .replace("account = \"t.test\"\n", "");
    let (ok, out) = check(&bad);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:5:") && out.contains("NOT_SET_ANYWHERE"),
        "{out}"
    );
    assert!(out.contains("account"), "{out}");
}

/// `check` prints each warning with its line on standard error and a
/// summary on standard output, and accepts the file.
#[test]
fn check_prints_warnings_and_a_summary() {
    let config = GOOD.replace("[server]\n", "[server]\nredis_timeout = \"1s\"\n");
    let (ok, out) = check(&config);
    assert!(ok, "{out}");
    assert!(
        out.contains("DIR/portero.toml:2: warning: [server].redis_timeout has no effect without [server].redis"),
        "{out}"
    );
    assert!(
        out.contains("DIR/portero.toml:12: warning: tenant `t`: no identity provider"),
        "{out}"
    );
    assert!(
        out.contains("DIR/portero.toml: ok (1 tenant(s), 2 warning(s))"),
        "{out}"
    );
}
