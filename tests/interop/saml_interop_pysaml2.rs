//! Interop with a real third-party SAML IdP: pysaml2 from PyPI (installed
//! by this test into `target/interop/pysaml2` on first run), run by
//! `tests/interop/pysaml2_idp.py` on 127.0.0.1. The test plays the browser:
//! panel → redirect with an AuthnRequest → the IdP's login form → its
//! auto-POST page → Portero's ACS → session → the panel sees the identity.
use crate::common::saml::{input_value, wait_for_port, KillOnDrop, SigningKey};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HOST: &str = "panel.samlco.test";

/// The venv's python, made (once) with pysaml2 in it.
fn pysaml2_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/interop/pysaml2");
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if !ready.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(
            made.success(),
            "python3 -m venv failed (Debian: apt-get install python3-venv)"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "pysaml2==7.5.*"])
            .status()
            .unwrap();
        assert!(pip.success(), "pip install pysaml2 failed");
        std::fs::write(&ready, "").unwrap();
    }
    python
}

#[test]
fn sign_in_through_pysaml2() {
    let python = pysaml2_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pysaml2_idp.py");
    let key = SigningKey::new();
    let idp_port = free_port();
    let base = format!("http://127.0.0.1:{idp_port}");
    let md_dir = tempfile::tempdir().unwrap();
    let idp_md = md_dir.path().join("idp.xml");
    let out = Command::new(&python)
        .arg(&script)
        .args(["metadata", &base])
        .arg(key.key_path())
        .arg(key.cert_path())
        .arg(&idp_md)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(&idp_md).unwrap();

    let up = Upstream::start();
    let tenants = r#"
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
[tenant.saml.attributes]
first_name = "givenName"
last_name = "sn"
"#;
    let p = Portero::start_with(
        &format!("{SERVER_AND_SESSION}\n{tenants}"),
        &up,
        &[("idp.xml", md.as_str())],
    );
    // Metadata out: what an administrator hands to the IdP.
    let sp_md = p.send(get(HOST, "/.portero/saml/metadata"));
    assert_eq!(sp_md.status, 200);
    let sp_md_path = md_dir.path().join("sp.xml");
    std::fs::write(&sp_md_path, &sp_md.body).unwrap();
    let _idp = KillOnDrop(
        Command::new(&python)
            .arg(&script)
            .args(["serve", &base])
            .arg(key.key_path())
            .arg(key.cert_path())
            .arg(&sp_md_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(idp_port, "the pysaml2 IdP");

    // The browser: the panel sends it to the IdP.
    let r = p.send(get(HOST, "/domains").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let flow = r.set_cookie("portero_saml").unwrap();
    let to_idp = r.location().to_string();
    let target = to_idp
        .strip_prefix(&base)
        .unwrap_or_else(|| panic!("{to_idp}"));
    let login = get(&format!("127.0.0.1:{idp_port}"), target).send(idp_port);
    assert_eq!(login.status, 200, "{}", login.body);
    let token = input_value(&login.body, "token");
    let posted = post_form(
        &format!("127.0.0.1:{idp_port}"),
        "/login",
        &[
            ("token", &token),
            ("username", "ana"),
            ("password", "anapass"),
        ],
    )
    .send(idp_port);
    assert_eq!(posted.status, 200, "{}", posted.body);
    let (got, _) = finish_at_acs(&p, HOST, &posted.body, &flow, "/domains");
    assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    assert_eq!(got.one("x-portero-auth"), Some("saml"));
    assert_eq!(got.one("x-portero-name"), Some("Ana Perez"));
}
