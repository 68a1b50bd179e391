//! Configuration values from the environment (README, "Configuration
//! values from the environment"): `PORTERO_<SECTION>__<KEY>` read by the
//! real `portero check` and `portero run`. What each variable accepts or
//! refuses is tested in memory in `src/config/from_env.rs` and
//! `src/config/tests.rs`.
use crate::common::{free_port, get, SESSION_KEY};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The smallest configuration that passes (shared with the in-memory config tests).
const GOOD: &str = include_str!("../common/good_config.toml");

/// Writes GOOD (its `{DIR}` filled in) and its key into `dir`; the config's path.
fn write_config(dir: &Path) -> std::path::PathBuf {
    std::fs::write(
        dir.join("a.pem"),
        portero::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    let path = dir.join("portero.toml");
    std::fs::write(&path, GOOD.replace("{DIR}", dir.to_str().unwrap())).unwrap();
    path
}

/// `portero check` with `vars` set: whether it passed, and what it printed.
fn check_with(vars: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["check", "--config"])
        .arg(&path)
        .env("K", SESSION_KEY)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

/// `check` names the variable a value came from, where it would name the
/// file's line: for the value in force, for a value of the wrong kind,
/// for a value the key refuses, and for a variable that is no key.
#[test]
fn check_names_the_variable_a_value_came_from() {
    let (ok, out) = check_with(&[("PORTERO_SERVER__LISTEN", "127.0.0.1:8181,127.0.0.2:8181")]);
    assert!(ok, "{out}");
    assert!(
        out.contains("[server].listen from PORTERO_SERVER__LISTEN (environment)"),
        "{out}"
    );
    for (var, value, said) in [
        (
            "PORTERO_SERVER__THREADS",
            "four",
            "`four` is not a whole number",
        ),
        (
            "PORTERO_SERVER__WATCH_CONFIG",
            "yes",
            "neither true nor false",
        ),
        (
            "PORTERO_SERVER__ADMIN_LISTEN",
            "nowhere",
            "is not an address:port",
        ),
        ("PORTERO_SESSION__REAUTH", "fortnight", "reauth"),
        (
            "PORTERO_SERVER__LISTN",
            "x",
            "did you mean `PORTERO_SERVER__LISTEN`?",
        ),
        (
            "PORTERO_SERVER_THREADS",
            "2",
            "did you mean `PORTERO_SERVER__THREADS`?",
        ),
        ("PORTERO_TENANT__NAME", "t", "a tenant's keys cannot be set"),
    ] {
        let (ok, out) = check_with(&[(var, value)]);
        assert!(!ok, "{var}={value} was accepted: {out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{var} (environment): error:")) && l.contains(said)),
            "{var}={value}: {out}"
        );
    }
    // A secret's own variable is not a configuration key, and not an error.
    let (ok, out) = check_with(&[("PORTERO_SESSION_KEY", "anything")]);
    assert!(ok, "{out}");
}

/// `run` listens where the variable says, not where the file says.
#[test]
fn run_listens_where_the_variable_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path());
    let (port, admin) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["run", "--config"])
        .arg(&path)
        .env("K", SESSION_KEY)
        .env("PORTERO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTERO_SERVER__ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env("PORTERO_SERVER__DATA_DIR", dir.path())
        .env("PORTERO_SERVER__THREADS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _running = crate::common::saml::KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "not listening on {port}: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = get("panel.t.test", "/.portero/jwks.json").send(port);
    assert_eq!(r.status, 200, "{}", r.body);
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(
        log.contains("[server].listen from PORTERO_SERVER__LISTEN (environment)"),
        "{log}"
    );
}
