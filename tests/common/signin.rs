//! Sign-ins as a browser makes them: external-SSO hand-back tokens (HS256,
//! EdDSA), the SAML ACS post, and the keys they are made with.

use super::*;

/// A hand-back JWT with these claims, HS256 with `secret`.
pub fn hs256(secret: &str, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Claims of a good token for `tenant` and `email`, issued now.
pub fn claims(tenant: &str, email: &str) -> serde_json::Value {
    let n = now();
    let jti = format!(
        "{}-{}-{}",
        std::process::id(),
        n,
        JTI.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    serde_json::json!({"email": email, "name": "Test User", "aud": tenant, "iat": n, "exp": n + 120, "jti": jti})
}

/// Starts an external sign-in on `host` as a browser does (following the
/// SSO button): the flow cookie it gets and the `state` sent to the page.
pub fn start_external(p: &Portero, host: &str, return_to: &str) -> (String, String) {
    let r = p.send(
        get(
            host,
            &format!(
                "/.portero/sso/external?return_to={}",
                form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            ),
        )
        .html(),
    );
    assert_eq!(r.status, 302, "external sign-in not started: {}", r.body);
    let state = query_map(r.location())
        .get("state")
        .cloned()
        .expect("no state sent to the external page");
    let cookie = r.set_cookie("portero_jwt").expect("no flow cookie");
    assert_eq!(cookie, state);
    (cookie, state)
}

/// The hand-back an external page sends the browser to.
pub fn handback(token: &str, return_to: &str, state: &str) -> String {
    format!(
        "/.portero/jwt/callback?jwt={token}&return_to={}&state={state}",
        form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    )
}

/// A browser's whole external sign-in on `host` with `token`: started,
/// then handed back (with the flow cookie and `state`).
pub fn external_sign_in(p: &Portero, host: &str, token: &str, return_to: &str) -> Resp {
    let (cookie, state) = start_external(p, host, return_to);
    p.send(
        get(host, &handback(token, return_to, &state))
            .html()
            .cookie("portero_jwt", &cookie),
    )
}

/// Signs in through the external SSO hand-back and returns the session cookie value.
pub fn sign_in(p: &Portero, host: &str, tenant: &str, email: &str) -> String {
    let token = hs256(EXT_SECRET, &claims(tenant, email));
    let r = external_sign_in(p, host, &token, "/home");
    assert_eq!(r.status, 302, "sign-in failed: {}", r.body);
    r.set_cookie("portero_session").expect("no session cookie")
}

/// An Ed25519 key pair: (PKCS#8 private PEM, SPKI public PEM).
pub fn ed25519_pair() -> (String, String) {
    let private = portero::identity::generate_ed25519_pem().unwrap();
    let der = pem::parse(&private).unwrap().contents().to_vec();
    let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&der[16..48]).unwrap();
    use ring::signature::KeyPair;
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(kp.public_key().as_ref());
    (private, pem::encode(&pem::Pem::new("PUBLIC KEY", spki)))
}

/// An EdDSA token signed with the reseller tenant's external SSO key.
pub fn eddsa(p: &Portero, claims: &serde_json::Value) -> String {
    let pem = std::fs::read_to_string(p.path("reseller.pem")).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        claims,
        &jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Plays the IdP's auto-POST page into Portero's ACS (with the flow cookie
/// the browser got when it was sent to the IdP), checks the redirect back
/// to `return_to`, and returns what the panel then receives and the session.
pub fn finish_at_acs(
    p: &Portero,
    host: &str,
    idp_page: &str,
    flow_cookie: &str,
    return_to: &str,
) -> (Received, String) {
    assert!(idp_page.contains("/.portero/saml/acs"), "{idp_page}");
    let saml_response = saml::input_value(idp_page, "SAMLResponse");
    let relay = saml::input_value(idp_page, "RelayState");
    let r = p.send(
        post_form(
            host,
            "/.portero/saml/acs",
            &[("SAMLResponse", &saml_response), ("RelayState", &relay)],
        )
        .cookie("portero_saml", flow_cookie),
    );
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), return_to);
    let session = r.set_cookie("portero_session").unwrap();
    let received = p
        .send(get(host, return_to).cookie("portero_session", &session))
        .received();
    (received, session)
}
