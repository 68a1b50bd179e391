//! Real signed SAML responses for the tests: an RSA key pair made with
//! `openssl`, responses signed with the `xmlsec1` command line (not with
//! Portero's code), in whatever shape a test or an attack needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub const SP_ENTITY: &str = "https://panel.latincloud.test/.portero/saml/metadata";
pub const ACS: &str = "https://panel.latincloud.test/.portero/saml/acs";
pub const IDP_ENTITY: &str = "https://idp.latincloud.test/saml";
/// The time every fixture is issued at (2026-11-01T00:00:00Z).
pub const T0: u64 = 1_793_491_200;

/// An IdP's metadata: entity `IDP_ENTITY`, `key`'s certificate, an
/// HTTP-Redirect SSO endpoint at `sso`.
pub fn idp_metadata(key: &SigningKey, sso: &str) -> String {
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD.encode(&key.cert_der);
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// An identity provider's signing key and certificate.
pub struct SigningKey {
    _dir: tempfile::TempDir,
    key: PathBuf,
    cert: PathBuf,
    pub cert_der: Vec<u8>,
}

impl SigningKey {
    pub fn new() -> SigningKey {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("idp.key");
        let cert = dir.path().join("idp.crt");
        let ok = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            ])
            .args(["-subj", "/CN=test idp"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let pem_text = std::fs::read_to_string(&cert).unwrap();
        let cert_der = pem::parse(pem_text).unwrap().contents().to_vec();
        SigningKey {
            _dir: dir,
            key,
            cert,
            cert_der,
        }
    }

    /// The private key file (PEM).
    pub fn key_path(&self) -> &std::path::Path {
        &self.key
    }

    /// The certificate file (PEM).
    pub fn cert_path(&self) -> &std::path::Path {
        &self.cert
    }

    /// Signs the first `<ds:Signature>` template in `xml` with `xmlsec1`.
    pub fn sign(&self, xml: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.xml");
        let output = dir.path().join("out.xml");
        std::fs::write(&input, xml).unwrap();
        let out = Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(format!("{},{}", self.key.display(), self.cert.display()))
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            ])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            ])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:Extensions",
            ])
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmlsec1 --sign failed: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&output).unwrap()
    }

    pub fn trust(&self) -> portero::auth::saml::IdpTrust {
        portero::auth::saml::IdpTrust::new(
            IDP_ENTITY.to_string(),
            vec![self.cert_der.clone().into()],
        )
        .unwrap()
    }
}

/// An enveloped-signature template referencing `#id`.
pub fn signature_template(id: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##
    )
}

pub fn iso(t: u64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What goes into one response; every field can be bent by a test.
#[derive(Clone)]
pub struct Spec {
    pub response_id: String,
    pub assertion_id: String,
    pub issued: u64,
    pub destination: String,
    pub in_response_to: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub recipient: String,
    pub name_id: String,
    pub not_before: u64,
    pub not_on_or_after: u64,
    pub status: String,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub attributes: Vec<(String, String)>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            response_id: "_resp1".into(),
            assertion_id: "_assert1".into(),
            issued: T0,
            destination: ACS.into(),
            in_response_to: Some("_req1".into()),
            issuer: IDP_ENTITY.into(),
            audience: SP_ENTITY.into(),
            recipient: ACS.into(),
            name_id: "ana@latincloud.test".into(),
            not_before: T0 - 5,
            not_on_or_after: T0 + 300,
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            sign_response: true,
            sign_assertion: true,
            attributes: vec![("givenName".into(), "Ana".into())],
        }
    }
}

impl Spec {
    /// The assertion element (with a signature template when it is to be signed).
    pub fn assertion(&self) -> String {
        let irt = self
            .in_response_to
            .as_ref()
            .map(|i| format!(r#" InResponseTo="{i}""#))
            .unwrap_or_default();
        let attrs: String = self
            .attributes
            .iter()
            .map(|(n, v)| {
                format!(r#"<saml:Attribute Name="{n}"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>"#)
            })
            .collect();
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{recipient}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#,
            aid = self.assertion_id,
            issued = iso(self.issued),
            issuer = self.issuer,
            sig = if self.sign_assertion {
                signature_template(&self.assertion_id)
            } else {
                String::new()
            },
            name = self.name_id,
            until = iso(self.not_on_or_after),
            recipient = self.recipient,
            nb = iso(self.not_before),
            aud = self.audience,
        )
    }

    /// The response around `assertion` (with a signature template when it is to be signed).
    pub fn response_around(&self, assertion: &str, extra: &str) -> String {
        let irt = self
            .in_response_to
            .as_ref()
            .map(|i| format!(r#" InResponseTo="{i}""#))
            .unwrap_or_default();
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{issued}" Destination="{dest}"{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}{extra}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            rid = self.response_id,
            issued = iso(self.issued),
            dest = self.destination,
            issuer = self.issuer,
            sig = if self.sign_response {
                signature_template(&self.response_id)
            } else {
                String::new()
            },
            status = self.status,
        )
    }

    /// The whole response, signed as the spec says, by `key`.
    pub fn signed_by(&self, key: &SigningKey) -> String {
        let mut assertion = self.assertion();
        if self.sign_assertion {
            let doc = format!(r#"<?xml version="1.0"?>{assertion}"#);
            assertion = strip_decl(&key.sign(&doc));
        }
        let response = self.response_around(&assertion, "");
        if self.sign_response {
            strip_decl(&key.sign(&response))
        } else {
            response
        }
    }

    /// What a verifier is told to expect for this spec.
    pub fn expected(&self) -> portero::auth::saml::Expected<'static> {
        portero::auth::saml::Expected {
            sp_entity_id: SP_ENTITY,
            acs_url: ACS,
            request_id: Some("_req1"),
            allow_idp_initiated: false,
            login_hint: None,
            now: T0 + 10,
            skew: 60,
            max_age: 300,
        }
    }
}

/// Drops an `<?xml …?>` declaration.
pub fn strip_decl(xml: &str) -> String {
    let xml = xml.trim();
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, r)| r.trim().to_string())
            .unwrap_or_default(),
        None => xml.to_string(),
    }
}

/// A child process (an IdP) stopped when the test ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on `port` (at most 20 s).
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The value of `<input … name="NAME" … value="…">` in an IdP's HTML form.
pub fn input_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let v = tag.find("value=\"").unwrap() + "value=\"".len();
    let value = &tag[v..];
    value[..value.find('"').unwrap()]
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#x2B;", "+")
        .replace("&#43;", "+")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&amp;", "&")
}
