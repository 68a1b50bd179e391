//! Threat: a forged, swapped, stale, foreign or replayed hand-back token
//! becomes a session. docs/external-sso.md.
use crate::common::*;
use serde_json::json;

const HOST: &str = "panel.latincloud.test";

/// A browser's external sign-in: started on `host`, handed back with `token`.
fn callback(p: &Portero, host: &str, token: &str) -> Resp {
    external_sign_in(p, host, token, "/home")
}

fn refused(r: &Resp) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.set_cookie("portero_session").is_none(),
        "no session may be set"
    );
    assert!(
        r.body.contains("Try again"),
        "a way on, never a redirect loop"
    );
}

#[test]
fn a_good_token_makes_a_session_once() {
    let (_up, p) = start();
    let token = hs256(EXT_SECRET, &claims("latincloud", "Ana@LatinCloud.test"));
    let r = callback(&p, HOST, &token);
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), "/home");
    let cookie = r.set_cookie("portero_session").unwrap();
    let set = r.all("set-cookie").join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Domain"),
        "{set}"
    );
    let got = p
        .send(get(HOST, "/").cookie("portero_session", &cookie))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
    assert!(p.audit().contains("\"event\":\"sign_in\""));
    // Replayed jti.
    let again = callback(&p, HOST, &token);
    refused(&again);
    assert!(again.body.contains("already used"));
    assert!(p.audit().contains("already used"));
}

#[test]
fn bad_signature_is_refused() {
    let (_up, p) = start();
    refused(&callback(
        &p,
        HOST,
        &hs256(
            "another-secret-that-is-32-bytes-long!!",
            &claims("latincloud", "ana@latincloud.test"),
        ),
    ));
    let good = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    // Change the payload, keep the signature.
    let forged = base64_url(
        &json!({"email":"root@latincloud.test","aud":"latincloud","iat":now(),"exp":now()+60,"jti":"x"}),
    );
    parts[1] = forged;
    refused(&callback(&p, HOST, &parts.join(".")));
}

#[test]
fn alg_swaps_are_refused() {
    let (_up, p) = start();
    // The reseller tenant pins EdDSA; an HS256 token keyed with its public key must fail.
    let public = std::fs::read_to_string(p.path("reseller.pub")).unwrap();
    let swapped = hs256(&public, &claims("reseller", "ana@latincloud.test"));
    refused(&callback(&p, "panel.reseller.test", &swapped));
    // alg none.
    let header = base64_url(&json!({"alg":"none","typ":"JWT"}));
    let body = base64_url(&claims("latincloud", "ana@latincloud.test"));
    refused(&callback(&p, HOST, &format!("{header}.{body}.")));
    // HS512 where HS256 is pinned, right secret.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims("latincloud", "ana@latincloud.test"),
        &jsonwebtoken::EncodingKey::from_secret(EXT_SECRET.as_bytes()),
    )
    .unwrap();
    refused(&callback(&p, HOST, &hs512));
    // The real EdDSA token works there.
    let ok = eddsa(&p, &claims("reseller", "ana@latincloud.test"));
    let r = callback(&p, "panel.reseller.test", &ok);
    assert_eq!(r.status, 302, "{}", r.body);
}

#[test]
fn expired_future_and_long_lived_tokens_are_refused() {
    let (_up, p) = start();
    let mut c = claims("latincloud", "ana@latincloud.test");
    c["iat"] = json!(now() - 600);
    c["exp"] = json!(now() - 400);
    refused(&callback(&p, HOST, &hs256(EXT_SECRET, &c)));
    let mut c = claims("latincloud", "ana@latincloud.test");
    c["iat"] = json!(now() + 3600);
    c["exp"] = json!(now() + 3700);
    refused(&callback(&p, HOST, &hs256(EXT_SECRET, &c)));
    let mut c = claims("latincloud", "ana@latincloud.test");
    c["exp"] = json!(now() + 86_400);
    refused(&callback(&p, HOST, &hs256(EXT_SECRET, &c)));
}

#[test]
fn wrong_audience_and_missing_claims_are_refused() {
    let (_up, p) = start();
    refused(&callback(
        &p,
        HOST,
        &hs256(EXT_SECRET, &claims("nomask", "ana@latincloud.test")),
    ));
    for missing in ["aud", "email", "exp", "iat", "jti"] {
        let mut c = claims("latincloud", "ana@latincloud.test");
        c.as_object_mut().unwrap().remove(missing);
        refused(&callback(&p, HOST, &hs256(EXT_SECRET, &c)));
    }
    let mut c = claims("latincloud", "two@at@latincloud.test");
    c["email"] = json!("two@at@latincloud.test");
    refused(&callback(&p, HOST, &hs256(EXT_SECRET, &c)));
    refused(&callback(&p, HOST, "not-a-jwt"));
    assert!(p.audit().matches("refused_assertion").count() >= 8);
}

#[test]
fn a_token_for_one_tenant_does_not_sign_in_to_another() {
    let (_up, p) = start();
    // nomask shares the HS256 secret with latincloud; the audience still binds it.
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    refused(&callback(&p, "panel.nomask.test", &token));
}

#[test]
fn a_sign_in_started_on_another_tenant_is_not_finished_here() {
    let (_up, p) = start();
    // Started on nomask; its `state` (and flow cookie value) brought to
    // latincloud with a token that is good for latincloud.
    let (cookie, state) = start_external(&p, "panel.nomask.test", "/home");
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let r = p.send(
        get(HOST, &handback(&token, "/home", &state))
            .html()
            .cookie("portero_jwt", &cookie),
    );
    refused(&r);
    assert!(
        p.audit()
            .contains("the sign-in was started for another site"),
        "{}",
        p.audit()
    );
}

#[test]
fn forced_external_sso_redirects_with_return_to() {
    let (_up, p) = start();
    let r = p.send(get("panel.reseller.test", "/billing?x=1").html());
    assert_eq!(r.status, 302);
    assert!(
        r.location().starts_with("https://login.reseller.test/sso?"),
        "{}",
        r.location()
    );
    assert_eq!(
        query_map(r.location())["return_to"],
        "http://panel.reseller.test/billing?x=1"
    );
    // The login page and the other SSO buttons lead there too.
    let r = p.send(get("panel.reseller.test", "/.portero/login?return_to=%2Fx").html());
    assert!(
        r.location().starts_with("https://login.reseller.test/sso?"),
        "{}",
        r.location()
    );
}

fn base64_url(v: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}
