//! The command line must not fail open or silently: `portero accounts
//! --as` with an address that is no member's acted as the operator;
//! `list` with no or an unknown account printed nothing and exited 0;
//! `keygen --assertion-key FILE` overwrote the key the panel trusts.
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
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.pem"),
            portero::identity::generate_ed25519_pem().unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("portero.toml"),
            CONFIG.replace("{DIR}", dir.path().to_str().unwrap()),
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
