//! The panel examples of `docs/headers.md` (`examples/panels/verify.php`,
//! `verify.py`, `verify.mjs`) run as the panels behind a real Portero:
//! each verifies the `X-Portero-Assertion` of real forwarded requests
//! against `/.portero/jwks.json` with a maintained library (PHP's sodium
//! and openssl, PyJWT with cryptography, npm `jose`) and answers with the
//! identity it read. Checked for an EdDSA and an ES256 assertion key:
//!
//! * a signed-in member's request reaches each panel, which reads the
//!   right user, e-mail, name, tenant, account, permissions,
//!   impersonation login and sign-in method (a renamed assertion header
//!   included);
//! * a valid assertion sent by a client is stripped by Portero (the panel
//!   refuses the request: it did not come through Portero);
//! * sent straight to the panel, bypassing Portero: an assertion made with
//!   Portero's own key is accepted, and refused when expired, issued for
//!   another tenant (a real one, forwarded to another panel), signed by
//!   another key under Portero's `kid`, `alg: none`, HS256 keyed with the
//!   public key, edited after signing, or naming an unknown key;
//! * key rotation: a new `signing_key` put in force by a reload is fetched
//!   by each panel at the first assertion naming it, and an assertion of
//!   the retired key is refused from then on.
use crate::common::saml::{wait_for_port, KillOnDrop};
use crate::common::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const MEMBERS: &str = r#"
[[tenant.member]]
user = "ana@panels.test"
account = "{ACCOUNT}"
permissions = ["technical", "invite"]

[[tenant.member]]
user = "boss@panels.test"
account = "{ACCOUNT}"
permissions = ["admin"]
impersonate = "bossuser"

[tenant.external_sso]
url = "https://login.panels.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;

/// One example panel: its language, its tenant and how it was started.
struct Panel {
    lang: &'static str,
    tenant: &'static str,
    port: u16,
    /// The header the tenant sends the assertion in.
    header: &'static str,
    _process: KillOnDrop,
}

impl Panel {
    fn host(&self) -> String {
        format!("panel.{}.test", self.tenant)
    }

    fn tenant_toml(&self) -> String {
        let renamed = if self.header == "X-Portero-Assertion" {
            String::new()
        } else {
            format!("\n[tenant.headers]\nassertion = \"{}\"\n", self.header)
        };
        format!(
            "\n[[tenant]]\nname = \"{t}\"\nhosts = [\"panel.{t}.test\"]\nupstream = \"127.0.0.1:{port}\"\naccount = \"{t}.test\"\nbypass_paths = [\"/public/\"]\n{members}{renamed}",
            t = self.tenant,
            port = self.port,
            members = MEMBERS.replace("{ACCOUNT}", &format!("{}.test", self.tenant)),
        )
    }

    /// A request sent straight to the panel, bypassing Portero.
    fn direct(&self, assertion: &str) -> Resp {
        get("127.0.0.1", "/domains")
            .header(self.header, assertion)
            .send(self.port)
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Debian's Python, where `python3-jwt` and `python3-cryptography` live
/// (another `python3` first on the PATH may lack them).
fn python() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/python3");
    let python = if debian.exists() {
        debian
    } else {
        PathBuf::from("python3")
    };
    let ok = Command::new(&python)
        .args(["-c", "import jwt, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "PyJWT with cryptography is needed (Debian: apt-get install python3-jwt python3-cryptography)"
    );
    python
}

fn spawn(mut cmd: Command, port: u16, what: &str) -> KillOnDrop {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} could not be started: {e}"));
    let process = KillOnDrop(child);
    wait_for_port(port, what);
    process
}

/// The three example panels, for the tenants `php`, `python` and `node`,
/// fetching their keys from `jwks`.
fn start_panels(jwks: &str, php_tmp: &Path) -> Vec<Panel> {
    let examples = root().join("examples/panels");

    let port = free_port();
    let mut php = Command::new("php");
    php.arg("-S")
        .arg(format!("127.0.0.1:{port}"))
        .arg(examples.join("verify.php"))
        .env("PORTERO_JWKS_URL", jwks)
        .env("PORTERO_TENANT", "php")
        // The PHP tenant renames the header: the example is told so.
        .env("PORTERO_ASSERTION_HEADER", "X-Panel-Assertion")
        // Its key cache, apart from other runs'.
        .env("TMPDIR", php_tmp);
    let php = Panel {
        lang: "php",
        tenant: "php",
        port,
        header: "X-Panel-Assertion",
        _process: spawn(php, port, "php -S examples/panels/verify.php"),
    };

    let port = free_port();
    let mut py = Command::new(python());
    py.arg(examples.join("verify.py"))
        .env("PORTERO_JWKS_URL", jwks)
        .env("PORTERO_TENANT", "python")
        .env("PORT", port.to_string());
    let py = Panel {
        lang: "python",
        tenant: "python",
        port,
        header: "X-Portero-Assertion",
        _process: spawn(py, port, "examples/panels/verify.py"),
    };

    // ESM resolves `jose` next to the script: it runs from the folder the
    // npm packages are installed in (written whole, then renamed, since
    // tests run side by side).
    let dir = crate::common::oidc::node_dir();
    let script = dir.join("panel-verify.mjs");
    let partial = dir.join(format!("panel-verify.mjs.{}", std::process::id()));
    std::fs::copy(examples.join("verify.mjs"), &partial).unwrap();
    std::fs::rename(&partial, &script).unwrap();
    let port = free_port();
    let mut node = Command::new("node");
    node.arg(&script)
        .env("PORTERO_JWKS_URL", jwks)
        .env("PORTERO_TENANT", "node")
        .env("PORT", port.to_string());
    let node = Panel {
        lang: "node",
        tenant: "node",
        port,
        header: "X-Portero-Assertion",
        _process: spawn(node, port, "node examples/panels/verify.mjs"),
    };
    vec![php, py, node]
}

/// A P-256 key as PKCS#8 PEM (what `[assertion].signing_key` takes for ES256).
fn p256_pem() -> String {
    let rng = ring::rand::SystemRandom::new();
    let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()))
}

fn fresh_key(alg: Algorithm) -> String {
    match alg {
        Algorithm::EdDSA => portero::identity::generate_ed25519_pem().unwrap(),
        _ => p256_pem(),
    }
}

fn encoding_key(alg: Algorithm, pem: &str) -> EncodingKey {
    match alg {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    }
}

/// Portero's published key: (`kid`, the JWK).
fn published(p: &Portero) -> (String, Value) {
    let r = p.send(get("127.0.0.1", "/.portero/jwks.json"));
    assert_eq!(r.status, 200, "{}", r.body);
    let set: Value = serde_json::from_str(&r.body).unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    (
        keys[0]["kid"].as_str().unwrap().to_string(),
        keys[0].clone(),
    )
}

/// Claims as Portero writes them, for `tenant`, issued at `iat`.
fn assertion_claims(tenant: &str, iat: u64) -> Value {
    json!({
        "iss": "portero", "aud": tenant, "sub": "mallory@panels.test",
        "email": "mallory@panels.test", "tenant": tenant, "account": format!("{tenant}.test"),
        "permissions": ["technical"], "auth": "jwt", "iat": iat, "exp": iat + 60,
    })
}

fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn identity(r: &Resp, who: &str) -> Value {
    assert_eq!(r.status, 200, "{who}: {}", r.body);
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{who}: {e}: {}", r.body))
}

fn refused(r: &Resp, who: &str, why: &str) {
    assert_eq!(r.status, 401, "{who} accepted {why}: {}", r.body);
    assert!(r.body.contains("error"), "{who}, {why}: {}", r.body);
}

fn examples_verify_assertions(alg: Algorithm) {
    let php_tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let jwks = format!("http://127.0.0.1:{port}/.portero/jwks.json");
    let panels = start_panels(&jwks, php_tmp.path());
    let echo = Upstream::start();
    // `echo` serves 127.0.0.1 too: the panels fetch the key set there.
    let mut tenants = String::from(
        r#"
[[tenant]]
name = "echo"
hosts = ["panel.echo.test", "127.0.0.1"]
upstream = "{UPSTREAM}"
account = "echo.test"
"#,
    );
    tenants.push_str(&MEMBERS.replace("{ACCOUNT}", "echo.test"));
    for panel in &panels {
        tenants.push_str(&panel.tenant_toml());
    }
    let key = fresh_key(alg);
    let template = format!("{SERVER_AND_SESSION}\n{tenants}");
    let p = Portero::start_on(port, &template, &echo, &[("assertion.pem", &key)]);
    let (kid, jwk) = published(&p);
    let alg_name = if alg == Algorithm::EdDSA {
        "EdDSA"
    } else {
        "ES256"
    };
    assert_eq!(jwk["alg"], alg_name, "{jwk}");
    let portero_key = encoding_key(alg, &key);

    // A real assertion Portero forwarded to another tenant's panel.
    let echo_session = sign_in(&p, "panel.echo.test", "echo", "ana@panels.test");
    let other_tenants = p
        .send(get("panel.echo.test", "/").cookie("portero_session", &echo_session))
        .received()
        .one("x-portero-assertion")
        .unwrap()
        .to_string();

    for panel in &panels {
        let who = format!("{} ({alg_name})", panel.lang);
        let host = panel.host();

        // Signed in through Portero: the panel reads who this is.
        let ana = sign_in(&p, &host, panel.tenant, "ana@panels.test");
        let got = identity(
            &p.send(get(&host, "/domains").cookie("portero_session", &ana)),
            &who,
        );
        assert_eq!(got["user"], "ana@panels.test", "{who}: {got}");
        assert_eq!(got["email"], "ana@panels.test", "{who}: {got}");
        assert_eq!(got["name"], "Test User", "{who}: {got}");
        assert_eq!(got["tenant"], panel.tenant, "{who}: {got}");
        assert_eq!(got["account"], format!("{}.test", panel.tenant), "{who}");
        assert_eq!(got["permissions"], json!(["invite", "technical"]), "{who}");
        assert_eq!(got["impersonate"], Value::Null, "{who}: {got}");
        assert_eq!(got["auth"], "jwt", "{who}: {got}");
        assert_eq!(got["may_manage_billing"], false, "{who}: {got}");

        let boss = sign_in(&p, &host, panel.tenant, "boss@panels.test");
        let got = identity(
            &p.send(get(&host, "/").cookie("portero_session", &boss)),
            &who,
        );
        assert_eq!(got["user"], "boss@panels.test", "{who}: {got}");
        assert_eq!(
            got["permissions"],
            json!(["admin", "commercial", "invite", "sublogin", "technical"]),
            "{who}"
        );
        assert_eq!(got["impersonate"], "bossuser", "{who}: {got}");
        assert_eq!(got["may_manage_billing"], true, "{who}: {got}");

        // Made with Portero's own key and sent straight to the panel: the
        // examples accept it (so the refusals below are the checks').
        let now = now();
        let good = signed(
            alg,
            &kid,
            &portero_key,
            &assertion_claims(panel.tenant, now),
        );
        let got = identity(&panel.direct(&good), &who);
        assert_eq!(got["user"], "mallory@panels.test", "{who}: {got}");

        // A client's copy never reaches the panel, in either spelling.
        let r = p.send(
            get(&host, "/public/page")
                .header("X-Portero-Assertion", &good)
                .header(panel.header, &good),
        );
        refused(&r, &who, "a client's assertion on a bypass path");
        assert!(r.body.contains("no assertion"), "{who}: {}", r.body);

        // Straight to the panel, bypassing Portero.
        let expired = signed(
            alg,
            &kid,
            &portero_key,
            &assertion_claims(panel.tenant, now - 600),
        );
        refused(&panel.direct(&expired), &who, "an expired assertion");
        refused(
            &panel.direct(&other_tenants),
            &who,
            "another tenant's assertion",
        );
        let forger = encoding_key(alg, &fresh_key(alg));
        let forged = signed(alg, &kid, &forger, &assertion_claims(panel.tenant, now));
        refused(
            &panel.direct(&forged),
            &who,
            "another key under Portero's kid",
        );
        let payload = b64(&assertion_claims(panel.tenant, now));
        let none = format!(
            "{}.{payload}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": kid}))
        );
        refused(&panel.direct(&none), &who, "alg none");
        let public = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let confused = signed(
            Algorithm::HS256,
            &kid,
            &EncodingKey::from_secret(&public),
            &assertion_claims(panel.tenant, now),
        );
        refused(
            &panel.direct(&confused),
            &who,
            "HS256 keyed with the public key",
        );
        let mut raised = assertion_claims(panel.tenant, now);
        raised["permissions"] = json!(["admin"]);
        let parts: Vec<&str> = good.split('.').collect();
        let edited = format!("{}.{}.{}", parts[0], b64(&raised), parts[2]);
        refused(&panel.direct(&edited), &who, "claims edited after signing");
        let unknown = signed(
            alg,
            "not-a-published-kid",
            &portero_key,
            &assertion_claims(panel.tenant, now),
        );
        refused(&panel.direct(&unknown), &who, "an unknown kid");
        refused(&panel.direct(""), &who, "no assertion at all");
    }

    // Key rotation: a new signing key, put in force by a reload. The panels
    // look for new keys at most every 10 s; their last look was just now.
    std::thread::sleep(Duration::from_secs(11));
    std::fs::write(p.path("assertion.pem"), fresh_key(alg)).unwrap();
    let r = p.admin_post("/reload");
    assert_eq!(r.status, 200, "{}", r.body);
    let (new_kid, _) = published(&p);
    assert_ne!(new_kid, kid, "the reload did not change the key");
    for panel in &panels {
        let who = format!("{} ({alg_name}, rotated)", panel.lang);
        let host = panel.host();
        let ana = sign_in(&p, &host, panel.tenant, "ana@panels.test");
        let got = identity(
            &p.send(get(&host, "/").cookie("portero_session", &ana)),
            &who,
        );
        assert_eq!(got["user"], "ana@panels.test", "{who}: {got}");
        let retired = signed(
            alg,
            &kid,
            &portero_key,
            &assertion_claims(panel.tenant, now()),
        );
        refused(&panel.direct(&retired), &who, "the retired key");
    }
}

#[test]
fn panel_examples_verify_eddsa_assertions() {
    examples_verify_assertions(Algorithm::EdDSA);
}

#[test]
fn panel_examples_verify_es256_assertions() {
    examples_verify_assertions(Algorithm::ES256);
}
