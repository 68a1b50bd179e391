//! Test peers from npm, installed once into `target/interop/node` from
//! `tests/interop/package-lock.json`: oidc-provider (a certified OpenID
//! Provider) and playwright-core (drives Debian's Chromium).
#![allow(dead_code)]

use super::saml::KillOnDrop;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

static INSTALL: Mutex<()> = Mutex::new(());

/// The folder holding `node_modules/`, installed once.
pub fn node_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/interop/node");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let lock = std::fs::read(root.join("tests/interop/package-lock.json")).unwrap();
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    let ready = dir.join("node_modules/.package-lock.json").exists()
        && installed.as_deref() == Some(&lock[..]);
    if !ready {
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(root.join("tests/interop").join(f), dir.join(f)).unwrap();
        }
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .status()
            .expect("npm is needed (Debian: apt-get install nodejs npm)");
        assert!(ok.success(), "npm ci in target/interop/node failed");
    }
    dir
}

/// oidc-provider on a free port for the RP at `origin`, with `env` on top
/// of the defaults (see `tests/interop/oidc_provider.mjs`).
pub fn start_provider(origin: &str, env: &[(&str, &str)]) -> (KillOnDrop, u16) {
    let dir = node_dir();
    let port = super::free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/oidc_provider.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .env("OIDC_PROVIDER_DIR", &dir)
        .env("PORT", port.to_string())
        .env("REDIRECT_URIS", format!("{origin}/.portero/oidc/callback"))
        .env(
            "POST_LOGOUT_REDIRECT_URIS",
            format!("{origin}/.portero/logout"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("node is needed");
    let stdout = child.stdout.take().unwrap();
    // Read on a thread: a provider that never says READY (its port taken
    // between free_port() and its bind) fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("oidc-provider did not say READY within 60 s");
        }
    };
    assert!(
        line.starts_with("READY"),
        "oidc-provider did not start: {line}"
    );
    (KillOnDrop(child), port)
}
