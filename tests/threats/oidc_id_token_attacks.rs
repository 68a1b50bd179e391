//! Attacks on the OpenID Connect sign-in, each refused with its reason.
//! The provider here is a hostile one written for the test: a real HTTP
//! server on 127.0.0.1 serving discovery, a key set, a token endpoint and
//! userinfo, answering with ID tokens the test forges — `alg: none`, HS256
//! keyed with the RSA public key, wrong `iss`/`aud`/`azp`, expired, from the
//! future, another nonce, another key, unknown `kid`s in a flood — with
//! real RSA keys made by `openssl` at test time. And the browser side:
//! `state` from another browser (CSRF), unknown `state`, an `iss`
//! parameter naming another issuer, the provider's error answer.
use crate::common::saml::SigningKey;
use crate::common::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const HOST: &str = "panel.oidcco.test";
const ORIGIN: &str = "http://panel.oidcco.test";

/// An RSA key as the provider publishes it.
struct RsaKey {
    key: SigningKey,
    kid: String,
}

impl RsaKey {
    fn new(kid: &str) -> RsaKey {
        RsaKey {
            key: SigningKey::new(),
            kid: kid.into(),
        }
    }

    fn private_pem(&self) -> Vec<u8> {
        std::fs::read(self.key.key_path()).unwrap()
    }

    fn public_pem(&self) -> Vec<u8> {
        let rsa = openssl::rsa::Rsa::private_key_from_pem(&self.private_pem()).unwrap();
        openssl::pkey::PKey::from_rsa(rsa)
            .unwrap()
            .public_key_to_pem()
            .unwrap()
    }

    fn jwk(&self) -> Value {
        let rsa = openssl::rsa::Rsa::private_key_from_pem(&self.private_pem()).unwrap();
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&self.private_pem()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

/// The hostile provider: what it answers is set by the test.
#[derive(Clone)]
struct Provider {
    port: u16,
    jwks: Arc<Mutex<Value>>,
    token: Arc<Mutex<Value>>,
    userinfo: Arc<Mutex<Value>>,
    issuer_claim: Arc<Mutex<Option<String>>>,
    jwks_hits: Arc<AtomicUsize>,
    last_token_request: Arc<Mutex<String>>,
}

impl Provider {
    fn start(keys: &[&RsaKey]) -> Provider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = Provider {
            port,
            jwks: Arc::new(Mutex::new(
                json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }),
            )),
            token: Arc::new(Mutex::new(json!({}))),
            userinfo: Arc::new(Mutex::new(json!({}))),
            issuer_claim: Arc::new(Mutex::new(None)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
            last_token_request: Arc::new(Mutex::new(String::new())),
        };
        let me = p.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let me = me.clone();
                std::thread::spawn(move || me.serve(&mut conn));
            }
        });
        p
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self, conn: &mut std::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let body: Value = match path.as_str() {
            "/.well-known/openid-configuration" => {
                let iss = self.issuer();
                let named = self
                    .issuer_claim
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or(iss.clone());
                json!({
                    "issuer": named,
                    "authorization_endpoint": format!("{iss}/auth"),
                    "token_endpoint": format!("{iss}/token"),
                    "jwks_uri": format!("{iss}/jwks"),
                    "userinfo_endpoint": format!("{iss}/userinfo"),
                    "code_challenge_methods_supported": ["S256"],
                })
            }
            "/jwks" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                self.jwks.lock().unwrap().clone()
            }
            "/token" => {
                *self.last_token_request.lock().unwrap() =
                    String::from_utf8_lossy(&buf).to_string();
                self.token.lock().unwrap().clone()
            }
            "/userinfo" => self.userinfo.lock().unwrap().clone(),
            _ => json!({"error": "not_found"}),
        };
        let text = body.to_string();
        let _ = conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            )
            .as_bytes(),
        );
    }

    /// The token endpoint will answer with this ID token.
    fn answer_with(&self, id_token: &str) {
        *self.token.lock().unwrap() =
            json!({"access_token": "at-1", "token_type": "Bearer", "id_token": id_token});
    }
}

fn start(provider: &Provider) -> (Upstream, Portero) {
    let up = Upstream::start();
    let tenants = format!(
        r#"
[[tenant]]
name = "oidcco"
hosts = ["panel.oidcco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
super_admins = ["root@oidcco.test"]
account = "oidcco.test"

[[tenant.member]]
user = "ana@oidcco.test"
account = "oidcco.test"
permissions = ["technical"]

[tenant.oidc]
issuer = "{0}"
client_id = "portero"
client_secret = "s3cret"

[[tenant]]
name = "othertenant"
hosts = ["panel.othertenant.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "othertenant.test"

[[tenant.member]]
user = "ana@oidcco.test"
account = "othertenant.test"
permissions = ["admin"]

[tenant.oidc]
issuer = "{0}"
client_id = "portero"
client_secret = "s3cret"
"#,
        provider.issuer()
    );
    let p = Portero::start(&tenants, &up);
    (up, p)
}

/// A sign-in started by the browser: its state, nonce, code challenge and
/// flow cookie.
struct Flow {
    state: String,
    nonce: String,
    challenge: String,
    cookie: String,
}

fn begin(p: &Portero) -> Flow {
    let r = p.send(get(HOST, "/").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let q = query_map(r.location());
    Flow {
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
        challenge: q["code_challenge"].clone(),
        cookie: r.set_cookie("portero_oidc").unwrap(),
    }
}

fn claims(provider: &Provider, flow: &Flow) -> Value {
    let now = now();
    json!({
        "iss": provider.issuer(), "aud": "portero", "sub": "ana-1",
        "email": "ana@oidcco.test", "email_verified": true, "name": "Ana",
        "iat": now, "exp": now + 300, "nonce": flow.nonce,
    })
}

fn call_back(p: &Portero, flow: &Flow, extra: &str) -> Resp {
    p.send(
        get(
            HOST,
            &format!(
                "/.portero/oidc/callback?code=c-1&state={}{extra}",
                flow.state
            ),
        )
        .html()
        .cookie("portero_oidc", &flow.cookie),
    )
}

/// The last audit line.
fn last_audit(p: &Portero) -> String {
    p.audit().lines().last().unwrap_or_default().to_string()
}

fn assert_refused(p: &Portero, r: &Resp, reason: &str) {
    assert_eq!(r.status, 401, "{reason}: {}", r.body);
    assert!(r.set_cookie("portero_session").is_none(), "{reason}");
    let line = last_audit(p);
    assert!(
        line.contains(&format!("refused: {reason}")),
        "wanted {reason}: {line}"
    );
}

#[test]
fn a_genuine_token_signs_in_with_pkce_and_basic_auth() {
    let key = RsaKey::new("k1");
    let op = Provider::start(&[&key]);
    let (_up, p) = start(&op);
    let flow = begin(&p);
    op.answer_with(&key.sign(&claims(&op, &flow)));
    let r = call_back(&p, &flow, "");
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    let got = p
        .send(get(HOST, "/").cookie("portero_session", &r.set_cookie("portero_session").unwrap()))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@oidcco.test"));
    assert_eq!(got.one("x-portero-name"), Some("Ana"));
    // What reached the token endpoint: the code, the verifier of this
    // flow's challenge, the client by HTTP Basic.
    let request = op.last_token_request.lock().unwrap().clone();
    let body = request.split("\r\n\r\n").nth(1).unwrap().to_string();
    let form = query_map(&format!("/?{body}"));
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "c-1");
    assert_eq!(
        form["redirect_uri"],
        format!("{ORIGIN}/.portero/oidc/callback")
    );
    use sha2::Digest;
    let derived = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(form["code_verifier"].as_bytes()));
    assert_eq!(derived, flow.challenge);
    let basic = base64::engine::general_purpose::STANDARD.encode("portero:s3cret");
    assert!(
        request.contains(&format!("authorization: Basic {basic}")),
        "{request}"
    );
    assert!(!body.contains("client_secret"), "{body}");
}

#[test]
fn forged_id_tokens_are_refused() {
    let key = RsaKey::new("k1");
    let stranger = RsaKey::new("k1");
    let op = Provider::start(&[&key]);
    let (_up, p) = start(&op);
    type Forge = Box<dyn Fn(&Provider, &Flow) -> String>;
    let k = Arc::new(key);
    let signed = |edit: fn(&mut Value)| -> Forge {
        let k = k.clone();
        Box::new(move |op, flow| {
            let mut c = claims(op, flow);
            edit(&mut c);
            k.sign(&c)
        })
    };
    let cases: Vec<(&str, Forge)> = vec![
        (
            "malformed",
            Box::new(|op, flow| {
                // alg: none, no signature.
                let head = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
                let body = URL_SAFE_NO_PAD.encode(claims(op, flow).to_string());
                format!("{head}.{body}.")
            }),
        ),
        ("wrong_algorithm", {
            // HS256 keyed with the provider's public key (the classic swap).
            let k = k.clone();
            Box::new(move |op, flow| {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                header.kid = Some("k1".into());
                let secret = jsonwebtoken::EncodingKey::from_secret(&k.public_pem());
                jsonwebtoken::encode(&header, &claims(op, flow), &secret).unwrap()
            })
        }),
        (
            "bad_signature",
            Box::new(move |op, flow| stranger.sign(&claims(op, flow))),
        ),
        (
            "wrong_issuer",
            signed(|c| c["iss"] = json!("http://127.0.0.1:1")),
        ),
        (
            "wrong_audience",
            signed(|c| c["aud"] = json!("someone-else")),
        ),
        (
            "wrong_audience",
            signed(|c| c["aud"] = json!(["portero", "someone-else"])),
        ),
        (
            "wrong_audience",
            signed(|c| c["azp"] = json!("someone-else")),
        ),
        (
            "expired",
            signed(|c| {
                let t = c["iat"].as_u64().unwrap();
                c["iat"] = json!(t - 400);
                c["exp"] = json!(t - 100);
            }),
        ),
        (
            "issued_in_future",
            signed(|c| {
                let t = c["iat"].as_u64().unwrap();
                c["iat"] = json!(t + 600);
                c["exp"] = json!(t + 900);
            }),
        ),
        (
            "stale",
            signed(|c| {
                let t = c["iat"].as_u64().unwrap();
                c["iat"] = json!(t - 3600);
                c["exp"] = json!(t + 3600);
            }),
        ),
        (
            "nonce_mismatch",
            signed(|c| c["nonce"] = json!("another-nonce")),
        ),
        (
            "missing_claim",
            signed(|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
    ];
    for (reason, forge) in &cases {
        let flow = begin(&p);
        op.answer_with(&forge(&op, &flow));
        let r = call_back(&p, &flow, "");
        assert_refused(&p, &r, reason);
    }
    // A token that passes everything, for contrast, after all of those.
    let flow = begin(&p);
    op.answer_with(&k.sign(&claims(&op, &flow)));
    assert_eq!(call_back(&p, &flow, "").status, 302, "{}", p.audit());
}

#[test]
fn a_flood_of_unknown_kids_does_not_hammer_the_provider_but_a_new_key_is_found() {
    let k1 = RsaKey::new("k1");
    let op = Provider::start(&[&k1]);
    let (_up, p) = start(&op);
    // One key, twenty made-up kids: the flood is as fast as Portero answers.
    let mut bogus = RsaKey::new("bogus");
    let started = std::time::Instant::now();
    for i in 0..20 {
        let flow = begin(&p);
        bogus.kid = format!("bogus-{i}");
        op.answer_with(&bogus.sign(&claims(&op, &flow)));
        assert_refused(&p, &call_back(&p, &flow, ""), "unknown_kid");
    }
    // The first use fetches the set; then at most one fetch per 10 s window
    // the flood spans (a slow machine may cross a window).
    let windows = started.elapsed().as_secs() / 10 + 1;
    let hits = op.jwks_hits.load(Ordering::SeqCst) as u64;
    assert!(
        hits <= 1 + windows,
        "the key set was fetched {hits} times for 20 unknown kids in {:?}",
        started.elapsed()
    );

    // A real rotation on a fresh Portero: the new kid is fetched once.
    let op2 = Provider::start(&[&k1]);
    let (_up2, p2) = start(&op2);
    let flow = begin(&p2);
    op2.answer_with(&k1.sign(&claims(&op2, &flow)));
    assert_eq!(call_back(&p2, &flow, "").status, 302);
    let k2 = RsaKey::new("k2");
    *op2.jwks.lock().unwrap() = json!({ "keys": [k1.jwk(), k2.jwk()] });
    let flow = begin(&p2);
    op2.answer_with(&k2.sign(&claims(&op2, &flow)));
    assert_eq!(call_back(&p2, &flow, "").status, 302, "{}", p2.audit());
}

#[test]
fn the_callback_belongs_to_the_browser_and_the_issuer() {
    let key = RsaKey::new("k1");
    let op = Provider::start(&[&key]);
    let (_up, p) = start(&op);

    // CSRF: an attacker's callback URL opened in the victim's browser (no flow cookie).
    let flow = begin(&p);
    op.answer_with(&key.sign(&claims(&op, &flow)));
    let r = p.send(
        get(
            HOST,
            &format!("/.portero/oidc/callback?code=c-1&state={}", flow.state),
        )
        .html(),
    );
    assert_refused(&p, &r, "state_not_this_browser");
    // ... and that state is now used up, even for the browser that began it.
    assert_refused(&p, &call_back(&p, &flow, ""), "unknown_or_used_state");

    // A state Portero never issued.
    let r = p.send(
        get(HOST, "/.portero/oidc/callback?code=c-1&state=made-up")
            .html()
            .cookie("portero_oidc", "made-up"),
    );
    assert_refused(&p, &r, "unknown_or_used_state");

    // A sign-in started on one tenant, brought back on another's host
    // (same provider, same client): refused there, and used up.
    let flow = begin(&p);
    op.answer_with(&key.sign(&claims(&op, &flow)));
    let r = p.send(
        get(
            "panel.othertenant.test",
            &format!("/.portero/oidc/callback?code=c-1&state={}", flow.state),
        )
        .html()
        .cookie("portero_oidc", &flow.cookie),
    );
    assert_refused(&p, &r, "state_of_another_tenant");
    assert_refused(&p, &call_back(&p, &flow, ""), "unknown_or_used_state");

    // The provider's own refusal.
    let flow = begin(&p);
    let r = p.send(
        get(
            HOST,
            &format!(
                "/.portero/oidc/callback?error=access_denied&state={}",
                flow.state
            ),
        )
        .html()
        .cookie("portero_oidc", &flow.cookie),
    );
    assert_refused(&p, &r, "provider_error_access_denied");

    // An `iss` parameter naming another issuer (mix-up).
    let flow = begin(&p);
    op.answer_with(&key.sign(&claims(&op, &flow)));
    let r = call_back(&p, &flow, "&iss=http%3A%2F%2Fevil.test");
    assert_refused(&p, &r, "wrong_issuer_parameter");

    // Refusals are counted by reason; the provider's error text is not a label.
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    for reason in [
        "state_not_this_browser",
        "unknown_or_used_state",
        "state_of_another_tenant",
        "provider_error",
        "wrong_issuer_parameter",
    ] {
        assert!(
            metrics.contains(&format!(
                r#"portero_refusals_total{{kind="oidc",reason="{reason}"}}"#
            )),
            "{reason}: {metrics}"
        );
    }
    assert!(!metrics.contains("access_denied"), "{metrics}");
}

#[test]
fn userinfo_about_another_subject_is_refused() {
    let key = RsaKey::new("k1");
    let op = Provider::start(&[&key]);
    let (_up, p) = start(&op);
    let flow = begin(&p);
    let mut c = claims(&op, &flow);
    c.as_object_mut().unwrap().remove("email");
    op.answer_with(&key.sign(&c));
    *op.userinfo.lock().unwrap() = json!({"sub": "mallory", "email": "ana@oidcco.test"});
    assert_refused(&p, &call_back(&p, &flow, ""), "userinfo_failed");
    // The same subject: the e-mail from userinfo is used.
    let flow = begin(&p);
    let mut c = claims(&op, &flow);
    c.as_object_mut().unwrap().remove("email");
    op.answer_with(&key.sign(&c));
    *op.userinfo.lock().unwrap() = json!({"sub": "ana-1", "email": "ana@oidcco.test"});
    assert_eq!(call_back(&p, &flow, "").status, 302, "{}", p.audit());
}

#[test]
fn a_discovery_document_for_another_issuer_is_never_used() {
    let key = RsaKey::new("k1");
    let op = Provider::start(&[&key]);
    *op.issuer_claim.lock().unwrap() = Some("http://127.0.0.1:1".into());
    let (_up, p) = start(&op);
    let ready = get("127.0.0.1", "/readyz").send(p.admin).body;
    assert!(
        ready.contains("missing OpenID discovery") && ready.contains("not `http://127.0.0.1:"),
        "{ready}"
    );
    let r = p.send(get(HOST, "/").html());
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("cannot be reached"), "{}", r.body);
}
