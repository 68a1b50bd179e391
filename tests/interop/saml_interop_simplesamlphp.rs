//! Interop with SimpleSAMLphp (Debian package `simplesamlphp`, served by
//! `php -S` on 127.0.0.1 with a configuration of the test's own): the
//! test is the browser — panel → SimpleSAMLphp's SSO service → its
//! `exampleauth` login form, filled in and posted → its auto-POST page →
//! Portero's ACS → session → the panel sees the identity.
use crate::common::saml::input_value;
use crate::common::simplesamlphp::SimpleSamlPhp;
use crate::common::*;
use std::collections::HashMap;

const HOST: &str = "panel.samlco.test";

/// A browser for the IdP's side: keeps cookies, follows redirects on it.
struct Browser {
    port: u16,
    jar: HashMap<String, String>,
}

impl Browser {
    fn send(&mut self, mut req: Req) -> Resp {
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("Cookie", &cookies.join("; "));
        }
        let r = req.send(self.port);
        for c in r.all("set-cookie") {
            if let Some((k, rest)) = c.split_once('=') {
                let v = rest.split(';').next().unwrap_or("");
                self.jar.insert(k.trim().to_string(), v.to_string());
            }
        }
        r
    }

    /// GETs `target`, following redirects that stay on the IdP; a redirect
    /// that leaves it is returned as it is.
    fn get(&mut self, target: &str) -> Resp {
        let host = format!("127.0.0.1:{}", self.port);
        let mut target = target.to_string();
        for _ in 0..10 {
            let r = self.send(get(&host, &target).html());
            if !matches!(r.status, 301 | 302 | 303 | 307) {
                return r;
            }
            let loc = r.location().to_string();
            match loc.strip_prefix(&format!("http://{host}")) {
                Some(t) => target = t.to_string(),
                None => return r,
            }
        }
        panic!("too many redirects at the IdP")
    }
}

/// The whole sign-in as a browser does it: panel → SimpleSAMLphp's SSO
/// service → its login form, filled in → its auto-POST page → Portero.
fn sign_in(p: &Portero, idp: &mut Browser, return_to: &str) -> (Received, String) {
    let port = idp.port;
    // The panel sends the browser to SimpleSAMLphp.
    let r = p.send(get(HOST, return_to).html());
    assert_eq!(r.status, 302, "{}", r.body);
    let flow = r.set_cookie("portero_saml").unwrap();
    let location = r.location().to_string();
    assert!(location.contains("&Signature="), "{location}");
    let target = location
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("{location}"))
        .to_string();
    let form = idp.get(&target);
    assert_eq!(form.status, 200, "{}", form.body);
    let auth_state = input_value(&form.body, "AuthState");
    let posted = idp.send(
        post_form(
            &format!("127.0.0.1:{port}"),
            "/module.php/core/loginuserpass.php",
            &[
                ("username", "ana"),
                ("password", "anapass"),
                ("AuthState", &auth_state),
            ],
        )
        .html(),
    );
    let page = if matches!(posted.status, 302 | 303) {
        let loc = posted.location().to_string();
        idp.get(
            loc.strip_prefix(&format!("http://127.0.0.1:{port}"))
                .unwrap(),
        )
    } else {
        posted
    };
    assert_eq!(page.status, 200, "{}", page.body);
    finish_at_acs(p, HOST, &page.body, &flow, return_to)
}

#[test]
fn sign_in_and_single_logout_through_simplesamlphp() {
    let ssp = SimpleSamlPhp::start(&format!("http://{HOST}"));
    let (port, sp_key) = (ssp.port, &ssp.sp_key);
    let mut idp = Browser {
        port,
        jar: HashMap::new(),
    };
    let up = Upstream::start();
    let tenants = format!(
        r#"
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical", "invite"]
{}"#,
        SimpleSamlPhp::SAML_SECTION
    );
    let files = ssp.files();
    let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = Portero::start_with(&format!("{SERVER_AND_SESSION}\n{tenants}"), &up, &files);
    // Metadata out carries the SP's certificate.
    let sp_md = p.send(get(HOST, "/.portero/saml/metadata"));
    let sp_cert_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&sp_key.cert_der)
    };
    assert!(
        sp_md
            .body
            .replace(['\n', ' '], "")
            .contains(&sp_cert_b64[..60]),
        "{}",
        sp_md.body
    );

    let (got, session) = sign_in(&p, &mut idp, "/domains?page=3");
    assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    assert_eq!(got.one("x-portero-auth"), Some("saml"));
    assert_eq!(got.one("x-portero-name"), Some("Ana Perez"));
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));

    // Single logout: Portero → SimpleSAMLphp → back to Portero's SLO endpoint.
    let r = p.send(get(HOST, "/.portero/logout").cookie("portero_session", &session));
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.set_cookie("portero_session").as_deref(), Some(""));
    let to_idp = r.location().to_string();
    let target = to_idp
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("{to_idp}"))
        .to_string();
    let back = idp.get(&target);
    assert!(
        matches!(back.status, 302 | 303),
        "{} {}",
        back.status,
        back.body
    );
    let slo = back.location().to_string();
    let path = slo
        .strip_prefix(&format!("http://{HOST}"))
        .unwrap_or_else(|| panic!("{slo}"));
    assert!(
        path.starts_with("/.portero/saml/slo?SAMLResponse="),
        "{slo}"
    );
    let logout_response = inflate(&query_map(&slo)["SAMLResponse"]);
    assert!(
        logout_response.contains("status:Success"),
        "{logout_response}"
    );
    let landing = p.send(get(HOST, path).html());
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("signed out"), "{}", landing.body);
    // The IdP session is gone too: signing in again asks for the password.
    let r = p.send(get(HOST, "/").html());
    let again = idp.get(
        r.location()
            .strip_prefix(&format!("http://127.0.0.1:{port}"))
            .unwrap(),
    );
    assert!(again.body.contains("AuthState"), "{}", again.body);

    // Logout started at the IdP: SimpleSAMLphp asks Portero, Portero answers.
    let (_, session) = sign_in(&p, &mut idp, "/");
    let done = format!("http://127.0.0.1:{port}/bye");
    let to_portero = idp.get(&format!(
        "/saml2/idp/initSLO.php?RelayState={}",
        query_encode(&done)
    ));
    let slo = to_portero.location().to_string();
    let path = slo
        .strip_prefix(&format!("http://{HOST}"))
        .unwrap_or_else(|| panic!("{} {slo} {}", to_portero.status, to_portero.body));
    assert!(path.starts_with("/.portero/saml/slo?SAMLRequest="), "{slo}");
    let answer = p.send(get(HOST, path).cookie("portero_session", &session));
    assert_eq!(answer.status, 302, "{}", answer.body);
    assert_eq!(answer.set_cookie("portero_session").as_deref(), Some(""));
    let to_idp = answer.location().to_string();
    assert!(
        to_idp.contains("SAMLResponse=") && to_idp.contains("&Signature="),
        "{to_idp}"
    );
    // SimpleSAMLphp takes the LogoutResponse and sends the browser on to RelayState.
    let finished = idp.send(
        get(
            &format!("127.0.0.1:{port}"),
            to_idp
                .strip_prefix(&format!("http://127.0.0.1:{port}"))
                .unwrap_or_else(|| panic!("{to_idp}")),
        )
        .html(),
    );
    assert_eq!(
        finished.location(),
        done,
        "{} {}",
        finished.status,
        finished.body
    );
}

fn query_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn inflate(b64: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}
