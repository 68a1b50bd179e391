//! A real SMTP server (Debian's `python3-aiosmtpd`, run by
//! `tests/common/smtp_catcher.py`) on a free loopback port, keeping every
//! mail it accepts for the test to read.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, the one `python3-aiosmtpd` is installed for.
const PYTHON: &str = "/usr/bin/python3";

/// How the catcher listens.
#[derive(Debug, Default, Clone)]
pub struct CatcherOptions {
    /// Offer STARTTLS (required before MAIL) with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// TLS from the first byte instead of STARTTLS (needs `tls`).
    pub implicit_tls: bool,
    /// Require AUTH with this user and password.
    pub auth: Option<(String, String)>,
}

/// One mail the catcher accepted: the envelope, the decoded headers and
/// parts, and the raw message.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CaughtMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub content_type: String,
    pub parts: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Whether it came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The user it was sent as, when AUTH was required.
    pub user: Option<String>,
    pub raw: String,
}

/// The running catcher; stopped when dropped.
pub struct MailCatcher {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl MailCatcher {
    /// A plain catcher: no TLS, no login.
    pub fn start() -> MailCatcher {
        MailCatcher::start_with(&CatcherOptions::default())
    }

    /// A catcher listening as `opts` says, once it accepts connections.
    pub fn start_with(opts: &CatcherOptions) -> MailCatcher {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mails.jsonl");
        let port = super::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtp_catcher.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(&script).arg(port.to_string()).arg(&out);
        if let Some((cert, key)) = &opts.tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if opts.implicit_tls {
            cmd.arg("--implicit");
        }
        if let Some((user, password)) = &opts.auth {
            cmd.arg("--auth").arg(format!("{user}:{password}"));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "/usr/bin/python3 (Debian package python3-aiosmtpd; scripts/test.sh installs it)",
            );
        // Its first line says it listens; a missing module ends it instead.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.trim() == "listening" => {}
            other => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "the mail catcher did not start ({other:?}, {status:?}); is python3-aiosmtpd installed for /usr/bin/python3?"
                );
            }
        }
        MailCatcher {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    /// The file the catcher writes each mail to (one JSON line a mail),
    /// for a browser that reads its links (`tests/browser/drive.mjs`).
    pub fn file(&self) -> &Path {
        &self.out
    }

    /// Every mail accepted so far, in order.
    pub fn mails(&self) -> Vec<CaughtMail> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The mails once there are at least `n` (fails after 10 seconds).
    pub fn wait_for(&self, n: usize) -> Vec<CaughtMail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} mail(s) caught, {n} expected",
                mails.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MailCatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
