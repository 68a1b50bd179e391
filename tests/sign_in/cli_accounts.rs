//! The command line must not fail open or silently: `portero accounts
//! --as` with an address that is no member's acted as the operator;
//! `list` with no or an unknown account printed nothing and exited 0;
//! `keygen --assertion-key FILE` overwrote the key the panel trusts.
//! `portero accounts … invite|resend` mails the invitation through
//! `[server.smtp]` as the pages do (a real SMTP server, aiosmtpd), and says
//! so when the mail server is down (the invitation stays, its link printed).
use crate::common::mail::MailCatcher;
use std::process::Command;

const CONFIG: &str = r#"[server]
listen = ["127.0.0.1:8080"]
data_dir = "{DIR}"
audit_log = "{DIR}/audit.log"

[session]
keys = ["env:K"]

[assertion]
signing_key = "file:{DIR}/a.pem"

[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "127.0.0.1:9000"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:K"
jwt_alg = "HS256"
"#;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup::with_smtp("")
    }

    /// With `[server.smtp]` holding `smtp` (none when empty).
    fn with_smtp(smtp: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.pem"),
            portero::identity::generate_ed25519_pem().unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("portero.toml"),
            CONFIG
                .replace("{DIR}", dir.path().to_str().unwrap())
                .replace("\n[session]", &format!("{smtp}\n[session]")),
        )
        .unwrap();
        Setup { dir }
    }

    /// `portero accounts … libros ARGS`: (success, stdout, stderr).
    fn accounts(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["accounts", "--config"])
            .arg(self.dir.path().join("portero.toml"))
            .arg("libros")
            .args(args)
            .env("K", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// The audit log's lines.
    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// `[server.smtp]` for a plain SMTP server on this machine at `port`.
fn smtp_at(port: u16) -> String {
    format!(
        "\n[server.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"Libros <no-reply@libros.test>\"\ntimeout = \"3s\"\n"
    )
}

/// The tenant's first host, where invitation links point (`listen` is
/// on 8080).
const ORIGIN: &str = "http://panel.libros.test:8080";

/// The value of the line `name: …` of `out`.
fn line<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

const ROSA_ADMIN: [&str; 7] = [
    "add",
    "--account",
    "libros.test",
    "--user",
    "rosa@libros.test",
    "--permissions",
    "admin",
];

const INVITE_DEE: [&str; 9] = [
    "invite",
    "--as",
    "rosa@libros.test",
    "--account",
    "libros.test",
    "--email",
    "dee@libros.test",
    "--permissions",
    "technical,invite",
];

#[test]
fn an_invitation_on_the_command_line_is_mailed_like_the_pages_do() {
    let catcher = MailCatcher::start();
    let s = Setup::with_smtp(&smtp_at(catcher.port));
    let (ok, out, err) = s.accounts(&ROSA_ADMIN);
    assert!(ok, "{out}{err}");
    assert!(!out.contains("mail:"), "no invitation, no mail: {out}");

    // A member invites: the mail, from the tenant's sender, in words, with
    // the absolute link on the tenant's first host the command printed.
    let (ok, out, err) = s.accounts(&INVITE_DEE);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("dee@libros.test invited to libros.test"),
        "{out}"
    );
    assert_eq!(line(&out, "mail"), Some("sent to dee@libros.test"), "{out}");
    let path = line(&out, "link").unwrap();
    assert!(path.starts_with("/.portero/invitations?token="), "{out}");
    let url = line(&out, "url").unwrap();
    assert_eq!(url, format!("{ORIGIN}{path}"));
    let mails = catcher.wait_for(1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, ["dee@libros.test"]);
    assert_eq!(mail.from, "Libros <no-reply@libros.test>");
    assert_eq!(mail.parts, ["text/plain", "text/html"]);
    let text = mail.text.as_deref().unwrap().replace("\r\n", "\n");
    assert!(text.contains(&format!("\n{url}\n")), "{text}");
    assert!(text.contains("rosa@libros.test invites you"), "{text}");
    assert!(
        text.contains("Technical") && text.contains("Invite"),
        "{text}"
    );
    let html = mail.html.as_deref().unwrap();
    assert!(html.contains(&format!("href=\"{url}\"")), "{html}");

    // Re-sent by the operator: a new link, mailed, in the operator's name
    // (the tenant's).
    let id = out
        .split("(invitation ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .to_string();
    // An id may begin with `-`: it is still the id.
    let (ok, again, err) = s.accounts(&["resend", "--id", &id]);
    assert!(ok, "{again}{err}");
    assert_eq!(line(&again, "mail"), Some("sent to dee@libros.test"));
    let second = line(&again, "url").unwrap();
    assert_ne!(second, url, "a new link");
    let mails = catcher.wait_for(2);
    let text = mails[1].text.as_deref().unwrap().replace("\r\n", "\n");
    assert!(text.contains(&format!("\n{second}\n")), "{text}");
    assert!(!text.contains(url), "not the old link: {text}");

    // The audit lines of the pages and the admin API, via "command line".
    let lines: Vec<String> = s
        .audit()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dee@libros.test invited to libros.test")
                && l.ends_with("(by rosa@libros.test, command line)")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with(&format!("invitation {id} for dee@libros.test re-sent"))
            && l.ends_with("(by operator, command line)")),
        "{lines:?}"
    );
    // A refusal sends nothing, and is audited in the same words.
    let (ok, out, err) = s.accounts(&[
        "add",
        "--account",
        "libros.test",
        "--user",
        "tec@libros.test",
        "--permissions",
        "technical",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = s.accounts(&[
        "invite",
        "--as",
        "tec@libros.test",
        "--account",
        "libros.test",
        "--email",
        "eve@libros.test",
        "--permissions",
        "technical",
    ]);
    assert!(!ok, "{out}{err}");
    assert!(err.starts_with("refused: "), "{err}");
    assert!(!out.contains("link:") && !out.contains("mail:"), "{out}");
    let refusal = s.audit().last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        refusal.starts_with("refused Invite")
            && refusal.contains("by tec@libros.test (command line): "),
        "{refusal}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(catcher.mails().len(), 2);
}

#[test]
fn a_mail_server_that_is_down_leaves_the_invitation_and_prints_its_link() {
    // Nothing listens on this port.
    let s = Setup::with_smtp(&smtp_at(crate::common::free_port()));
    let (ok, out, err) = s.accounts(&ROSA_ADMIN);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = s.accounts(&INVITE_DEE);
    assert!(ok, "the invitation was made: exit 0: {out}{err}");
    let url = line(&out, "url").unwrap();
    assert!(
        url.starts_with(&format!("{ORIGIN}/.portero/invitations?token=")),
        "{out}"
    );
    assert!(line(&out, "mail").is_none(), "{out}");
    assert!(
        err.contains("mail: FAILED")
            && err.contains("dee@libros.test")
            && err.contains("could not be reached")
            && err.contains("pass on the link yourself"),
        "{err}"
    );
    let (ok, list, err) = s.accounts(&["list", "--account", "libros.test"]);
    assert!(ok, "{err}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("invitation ") && l.contains("dee@libros.test")),
        "the invitation stays: {list}"
    );
}

#[test]
fn without_a_mail_server_the_link_is_printed() {
    let s = Setup::new();
    let (ok, out, err) = s.accounts(&ROSA_ADMIN);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = s.accounts(&INVITE_DEE);
    assert!(ok, "{out}{err}");
    assert!(err.is_empty(), "{err}");
    let path = line(&out, "link").unwrap();
    assert!(path.starts_with("/.portero/invitations?token="), "{out}");
    assert_eq!(line(&out, "url"), Some(format!("{ORIGIN}{path}").as_str()));
    assert!(
        line(&out, "mail").is_some_and(|m| m.contains("[server.smtp] is not set")),
        "{out}"
    ); // Ids are URL-safe base64, and may begin with `-`: still an id, not
       // an option.
    let (ok, _, err) = s.accounts(&["cancel", "--id", "-Xunknown"]);
    assert!(!ok);
    assert!(err.contains("refused: no such invitation"), "{err}");
}

const ADD_MALLORY: [&str; 6] = [
    "add",
    "--account",
    "libros.test",
    "--user",
    "mallory@evil.test",
    "--permissions",
];

#[test]
fn an_unreadable_as_is_not_the_operator() {
    let s = Setup::new();
    let (ok, out, err) = s.accounts(&[
        "add",
        "--account",
        "libros.test",
        "--user",
        "rosa@libros.test",
        "--permissions",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    for actor in [
        "mallory",
        "",
        " ",
        "nobody@libros.test",
        "rosa@@libros.test",
    ] {
        let mut args = ADD_MALLORY.to_vec();
        args.extend(["admin", "--as", actor]);
        let (ok, out, err) = s.accounts(&args);
        assert!(!ok, "--as {actor:?}: {out}{err}");
        assert!(
            err.contains("--as"),
            "--as {actor:?}: the message says what: {err}"
        );
    }
    let (ok, out, err) = s.accounts(&["list", "--account", "libros.test"]);
    assert!(ok, "{err}");
    assert!(!out.contains("mallory"), "{out}");
    // A member acting: bound by the rules (only the operator adds).
    let mut args = ADD_MALLORY.to_vec();
    args.extend(["admin", "--as", "Rosa@libros.test"]);
    let (ok, _, err) = s.accounts(&args);
    assert!(!ok);
    assert!(err.contains("only the operator"), "{err}");
}

#[test]
fn list_needs_an_account_that_exists() {
    let s = Setup::new();
    let (ok, _, err) = s.accounts(&["list"]);
    assert!(!ok);
    assert!(err.contains("--account"), "{err}");
    let (ok, _, err) = s.accounts(&["list", "--account", "nowhere.test"]);
    assert!(!ok);
    assert!(err.contains("nowhere.test"), "{err}");
    let (ok, out, err) = s.accounts(&[
        "add",
        "--account",
        "libros.test",
        "--user",
        "rosa@libros.test",
        "--permissions",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = s.accounts(&["list", "--account", "LIBROS.test"]);
    assert!(ok, "{err}");
    assert!(out.contains("rosa@libros.test"), "{out}");
}

#[test]
fn keygen_does_not_overwrite_a_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("assertion.pem");
    let keygen = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["keygen", "--assertion-key"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap()
    };
    let first = keygen(&[]);
    assert!(first.status.success());
    let key = std::fs::read_to_string(&file).unwrap();
    assert!(key.contains("PRIVATE KEY"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let again = keygen(&[]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert!(again.stdout.is_empty(), "no secret printed on refusal");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        key,
        "the key is kept"
    );

    // A link to another file is not written through either.
    let target = dir.path().join("elsewhere.pem");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link.pem");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["keygen", "--assertion-key"])
        .arg(&link)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    // --force replaces it, mode 0600 again.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let forced = keygen(&["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_ne!(std::fs::read_to_string(&file).unwrap(), key);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
