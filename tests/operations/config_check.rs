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
        out.contains("DIR/portero.toml: ok (1 tenant(s), no errors, 2 warnings)"),
        "{out}"
    );
}

/// A misspelt key names the key it was probably meant to be; the summary
/// counts errors and warnings apart; a mistake's follow-on warnings (a
/// misspelt sign-in section makes "no identity provider") are left out,
/// so the one line to fix is the one shown; netmasks that can never apply
/// are pointed out.
#[test]
fn misspelt_keys_are_named_and_one_mistake_is_one_finding() {
    let bad = GOOD
        .replace(
            "[server]\n",
            "[server]\nlisen = [\"127.0.0.1:1\"]\nredis_timeout = \"1s\"\n",
        )
        .replace("[[tenant]]", "[[tennant]]");
    let (ok, out) = check(&bad);
    assert!(!ok);
    assert!(
        out.contains("unknown key `lisen` (did you mean `listen`?)"),
        "{out}"
    );
    assert!(
        out.contains("unknown key `tennant` (did you mean `tenant`?)"),
        "{out}"
    );
    assert!(
        out.contains("errors, 1 warning in DIR/portero.toml"),
        "errors and warnings counted apart:\n{out}"
    );

    let misspelt_section =
        format!("{GOOD}\n[tenant.extrnal_sso]\nurl = \"https://login.t.test/sso\"\n");
    let (ok, out) = check(&misspelt_section);
    assert!(!ok);
    assert!(out.contains("did you mean `external_sso`?"), "{out}");
    assert!(
        !out.contains("no identity provider"),
        "a follow-on warning:\n{out}"
    );
    assert!(out.contains("1 error, no warnings"), "{out}");

    let forced = format!(
        "{GOOD}netmasks = [\"10.0.0.0/8\"]\n\n[tenant.external_sso]\nurl = \"https://login.t.test/sso\"\njwt_key = \"env:K\"\njwt_alg = \"HS256\"\nforced = true\n"
    );
    let (ok, out) = check(&forced);
    assert!(ok, "{out}");
    assert!(out.contains("netmasks never apply"), "{out}");
}

/// `portero init` writes a starting configuration and its keys (mode 0600)
/// that `check` accepts, and never replaces them unless told to.
#[test]
fn init_writes_a_configuration_that_check_accepts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etc/portero.toml");
    let init = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["init", "--config"])
            .arg(&config)
            .args(["--tenant", "acme", "--host", "panel.acme.test"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = init(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for key in ["etc/secrets/session.key", "etc/secrets/assertion.pem"] {
        let mode = std::fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    let check = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["check", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{said}");
    assert!(said.contains("ok (1 tenant(s), no errors"), "{said}");
    let before = std::fs::read(dir.path().join("etc/secrets/session.key")).unwrap();
    let again = init(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(dir.path().join("etc/secrets/session.key")).unwrap(),
        before
    );
    assert!(init(&["--force"]).status.success());
    assert_ne!(
        std::fs::read(dir.path().join("etc/secrets/session.key")).unwrap(),
        before
    );
}
