//! One tenant's OpenID Connect relying party: the authorization request,
//! the code exchange, the key set, userinfo, and the [`UnclaimedLogin`].

use super::discovery::Discovery;
use super::id_token::{verify_id_token, IdTokenCheck};
use super::refusal::Refusal;
use crate::auth::{clean_display_name, normalize_email, AuthMethod, OnceId, UnclaimedLogin};
use crate::outbound::Outbound;
use crate::remote::Remote;
use arc_swap::ArcSwapOption;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Seconds of clock skew tolerated on ID token times.
pub const SKEW: u64 = 60;
/// How old an ID token may be when it arrives, in seconds.
pub const MAX_AGE: u64 = 600;
/// At most one key-set fetch for an unknown `kid` per this many seconds:
/// a flood of tokens naming made-up keys cannot hammer the IdP.
pub const UNKNOWN_KID_REFETCH: u64 = 10;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client ID and secret (the default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// Which claim carries what (`[tenant.oidc.claims]`).
#[derive(Debug, Clone)]
pub struct ClaimNames {
    /// The e-mail (default `email`).
    pub email: String,
    /// The display name (default `name`).
    pub name: String,
    /// Roles (read by the directory work of issue 6).
    pub roles: Option<String>,
    /// The claim that names the user (issue 6).
    pub username: Option<String>,
}

impl Default for ClaimNames {
    fn default() -> ClaimNames {
        ClaimNames {
            email: "email".into(),
            name: "name".into(),
            roles: None,
            username: None,
        }
    }
}

/// What a started OpenID Connect sign-in remembers besides its `state`
/// (the flow keeps that, the tenant and `return_to`): what the callback
/// must match.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URI used (the token request repeats it).
    pub redirect_uri: String,
}

/// The key set in force and when it was fetched.
#[derive(Debug)]
struct Keys {
    uri: String,
    set: Arc<JwkSet>,
    fetched_at: u64,
}

/// A tenant's OpenID Connect relying party.
pub struct OidcRp {
    /// The issuer, as configured (and as `iss` must say).
    pub issuer: String,
    /// The client ID.
    pub client_id: String,
    client_secret: String,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// The scopes asked for, space-separated (`openid` always among them).
    pub scopes: String,
    /// Claim mapping.
    pub claims: ClaimNames,
    /// Refuse an e-mail the provider does not say is verified.
    pub require_verified_email: bool,
    /// Whether `/.portero/logout` also ends the provider's session.
    pub single_logout: bool,
    /// The discovery document, kept fresh.
    pub discovery: Arc<Remote<Discovery>>,
    /// How long a key set is used before it is fetched again, in seconds.
    keys_every: u64,
    keys: ArcSwapOption<Keys>,
    last_unknown_kid_fetch: AtomicU64,
}

impl std::fmt::Debug for OidcRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRp")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

impl OidcRp {
    /// A relying party for `issuer`; the discovery document is fetched
    /// every `refresh` seconds (the key set as often, and sooner for a new
    /// `kid`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        client_auth: ClientAuth,
        scopes: &[String],
        claims: ClaimNames,
        refresh: u64,
    ) -> OidcRp {
        let expected = issuer.to_string();
        let discovery = Arc::new(Remote::new(
            &Discovery::url_for(issuer),
            "OpenID discovery",
            refresh,
            move |body| Discovery::parse(body, &expected),
        ));
        let mut all = vec!["openid".to_string()];
        all.extend(scopes.iter().filter(|s| *s != "openid").cloned());
        OidcRp {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            client_auth,
            scopes: all.join(" "),
            claims,
            require_verified_email: false,
            single_logout: false,
            discovery,
            keys_every: refresh.max(1),
            keys: ArcSwapOption::empty(),
            last_unknown_kid_fetch: AtomicU64::new(0),
        }
    }

    /// Starts a sign-in: its `state`, the pending record (to keep under
    /// that `state`) and the URL to send the browser to. `None` without
    /// discovery.
    pub fn start(
        &self,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Option<(String, Pending, String)> {
        use sha2::{Digest, Sha256};
        let discovery = self.discovery.get()?;
        let state = random_token()?;
        let pending = Pending {
            nonce: random_token()?,
            verifier: random_token()?,
            redirect_uri: redirect_uri.to_string(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        let mut url = url::Url::parse(&discovery.authorization_endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = login_hint {
            url.query_pairs_mut().append_pair("login_hint", hint);
        }
        Some((state, pending, url.to_string()))
    }

    /// Finishes the sign-in `state` of `tenant`: exchanges `code`, verifies
    /// the ID token, reads userinfo when the token has no e-mail, and makes
    /// the login, not yet claimed (its `state`, remembered as long as the
    /// ID token could pass).
    pub async fn finish(
        &self,
        client: &Outbound,
        (tenant, state): (&str, &str),
        code: &str,
        pending: &Pending,
        now: u64,
    ) -> Result<UnclaimedLogin, Refusal> {
        let discovery = self.discovery.get().ok_or(Refusal::NoDiscovery)?;
        let tokens = self.exchange(client, &discovery, code, pending).await?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or(Refusal::TokenExchange)?;
        let check = IdTokenCheck {
            issuer: &self.issuer,
            client_id: &self.client_id,
            nonce: &pending.nonce,
            now,
            skew: SKEW,
            max_age: MAX_AGE,
        };
        let keys = self.keys(client, &discovery, now, false).await?;
        let claims = match verify_id_token(id_token, &keys, &check) {
            Err(Refusal::UnknownKey) if self.may_refetch_for_unknown_kid(now) => {
                let keys = self.keys(client, &discovery, now, true).await?;
                verify_id_token(id_token, &keys, &check)?
            }
            other => other?,
        };
        // The e-mail from the ID token, else from userinfo (about the same subject).
        let from_userinfo;
        let source = if claims.contains_key(&self.claims.email) {
            &claims
        } else {
            let access = tokens
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or(Refusal::NoEmail)?;
            let endpoint = discovery
                .userinfo_endpoint
                .as_deref()
                .ok_or(Refusal::NoEmail)?;
            from_userinfo = userinfo(client, endpoint, access).await?;
            if from_userinfo.get("sub") != claims.get("sub") {
                return Err(Refusal::Userinfo);
            }
            &from_userinfo
        };
        let raw_email = source
            .get(&self.claims.email)
            .and_then(Value::as_str)
            .ok_or(Refusal::NoEmail)?;
        let email = normalize_email(raw_email).ok_or(Refusal::NoEmail)?;
        if self.require_verified_email {
            let verified = match source.get("email_verified") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            };
            if !verified {
                return Err(Refusal::EmailNotVerified);
            }
        }
        let name = source
            .get(&self.claims.name)
            .or_else(|| claims.get(&self.claims.name))
            .and_then(Value::as_str)
            .and_then(clean_display_name);
        let roles = match self
            .claims
            .roles
            .as_ref()
            .and_then(|r| source.get(r).or_else(|| claims.get(r)))
        {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(one)) => one.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let username = self
            .claims
            .username
            .as_ref()
            .and_then(|u| source.get(u).or_else(|| claims.get(u)))
            .and_then(Value::as_str)
            .map(str::to_string);
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
        let once = OnceId::new(
            "oidc",
            tenant,
            state,
            std::time::Duration::from_secs(exp.saturating_sub(now).saturating_add(SKEW)),
        );
        Ok(
            UnclaimedLogin::new(tenant, email, name, AuthMethod::Oidc, once)
                .with_roles(roles)
                .with_username(username),
        )
    }

    /// The code for tokens at the token endpoint.
    async fn exchange(
        &self,
        client: &Outbound,
        discovery: &Discovery,
        code: &str,
        pending: &Pending,
    ) -> Result<Map<String, Value>, Refusal> {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let mut body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
            enc(code),
            enc(&pending.redirect_uri),
            enc(&pending.verifier)
        );
        let basic;
        let mut headers = vec![("accept", "application/json")];
        match self.client_auth {
            ClientAuth::Post => {
                body.push_str(&format!(
                    "&client_id={}&client_secret={}",
                    enc(&self.client_id),
                    enc(&self.client_secret)
                ));
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded, then base64.
                basic = format!(
                    "Basic {}",
                    STANDARD.encode(format!(
                        "{}:{}",
                        enc(&self.client_id),
                        enc(&self.client_secret)
                    ))
                );
                headers.push(("authorization", &basic));
            }
        }
        let reply = client
            .post_form(&discovery.token_endpoint, &headers, body)
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %self.issuer, "token endpoint: {e}");
                Refusal::TokenExchange
            })?;
        let body: Map<String, Value> =
            serde_json::from_slice(&reply.body).map_err(|_| Refusal::TokenExchange)?;
        if reply.status != 200 {
            let error = body.get("error").and_then(|e| e.as_str()).unwrap_or("");
            tracing::info!(
                issuer = %self.issuer,
                status = reply.status,
                error,
                "the token endpoint refused the code"
            );
            return Err(Refusal::TokenExchange);
        }
        Ok(body)
    }

    /// Whether a fetch for an unknown `kid` may go out now (at most one
    /// per [`UNKNOWN_KID_REFETCH`] seconds).
    fn may_refetch_for_unknown_kid(&self, now: u64) -> bool {
        let last = self.last_unknown_kid_fetch.load(Ordering::Acquire);
        now >= last + UNKNOWN_KID_REFETCH
            && self
                .last_unknown_kid_fetch
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The key set: the one in force while fresh, else fetched (a failed
    /// fetch keeps the last good set).
    async fn keys(
        &self,
        client: &Outbound,
        discovery: &Discovery,
        now: u64,
        force: bool,
    ) -> Result<Arc<JwkSet>, Refusal> {
        let current = self.keys.load_full();
        let fresh = current.as_ref().filter(|k| {
            k.uri == discovery.jwks_uri
                && now >= k.fetched_at
                && now - k.fetched_at < self.keys_every
        });
        if let (Some(k), false) = (fresh, force) {
            return Ok(k.set.clone());
        }
        let fetched = client
            .get(&discovery.jwks_uri, &[("accept", "application/json")])
            .await
            .and_then(|r| {
                let text = r.ok_text()?;
                serde_json::from_str::<JwkSet>(text).map_err(|e| format!("not a JWK set: {e}"))
            });
        match fetched {
            Ok(set) => {
                let set = Arc::new(set);
                self.keys.store(Some(Arc::new(Keys {
                    uri: discovery.jwks_uri.clone(),
                    set: set.clone(),
                    fetched_at: now,
                })));
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(url = %discovery.jwks_uri, "fetching the key set failed ({e})");
                current
                    .filter(|k| k.uri == discovery.jwks_uri)
                    .map(|k| k.set.clone())
                    .ok_or(Refusal::KeysUnavailable)
            }
        }
    }

    /// The provider's logout URL (RP-initiated logout), coming back to
    /// `post_logout_redirect_uri`; `None` when the provider has none.
    pub fn logout_url(&self, post_logout_redirect_uri: &str) -> Option<String> {
        let endpoint = self.discovery.get()?.end_session_endpoint.clone()?;
        let mut url = url::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        Some(url.to_string())
    }
}

/// Claims from the userinfo endpoint.
async fn userinfo(
    client: &Outbound,
    endpoint: &str,
    access_token: &str,
) -> Result<Map<String, Value>, Refusal> {
    let bearer = format!("Bearer {access_token}");
    let reply = client
        .get(
            endpoint,
            &[("authorization", &bearer), ("accept", "application/json")],
        )
        .await
        .map_err(|_| Refusal::Userinfo)?;
    let text = reply.ok_text().map_err(|_| Refusal::Userinfo)?;
    serde_json::from_str(text).map_err(|_| Refusal::Userinfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp() -> OidcRp {
        OidcRp::new(
            "https://op.test",
            "portero",
            "s",
            ClientAuth::Basic,
            &["email".into(), "openid".into()],
            ClaimNames::default(),
            3600,
        )
    }

    #[test]
    fn the_authorization_request_carries_pkce_state_and_nonce() {
        let rp = rp();
        assert!(rp.start("https://p/cb", None).is_none(), "no discovery yet");
        use crate::remote::Refresh;
        rp.discovery
            .offer(r#"{"issuer":"https://op.test","authorization_endpoint":"https://op.test/auth","token_endpoint":"https://op.test/token","jwks_uri":"https://op.test/jwks"}"#, 1)
            .unwrap();
        let (state, p, url) = rp.start("https://p/cb", Some("ana@t.test")).unwrap();
        let q: std::collections::HashMap<_, _> = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], state);
        assert_eq!(q["nonce"], p.nonce);
        assert_eq!(q["code_challenge_method"], "S256");
        use sha2::{Digest, Sha256};
        assert_eq!(
            q["code_challenge"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(p.verifier.as_bytes()))
        );
        assert_eq!(q["login_hint"], "ana@t.test");
        assert!(p.verifier.len() >= 43 && state != p.nonce);
    }

    #[test]
    fn unknown_kid_refetches_are_rate_limited() {
        let rp = rp();
        assert!(rp.may_refetch_for_unknown_kid(1000));
        assert!(!rp.may_refetch_for_unknown_kid(1000));
        assert!(!rp.may_refetch_for_unknown_kid(1000 + UNKNOWN_KID_REFETCH - 1));
        assert!(rp.may_refetch_for_unknown_kid(1000 + UNKNOWN_KID_REFETCH));
    }
}
