//! What a session cookie and a classic-login cookie carry, and their checks.

use super::{OpenedCookies, Sealer};
use crate::auth::{AuthMethod, VerifiedLogin};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The content of a session cookie. Made only from a [`VerifiedLogin`]
/// ([`SessionClaims::issue`], then [`SessionClaims::with_account`]) and by
/// opening a cookie ([`SessionClaims::open`]); read through its accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims(Fields);

/// What a session cookie carries, as sealed (private: nothing outside this
/// module reads or writes the wire form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Fields {
    /// The tenant the session was made for.
    #[serde(rename = "t")]
    tenant: String,
    /// The user's stable id inside the tenant (the e-mail, lower-case).
    #[serde(rename = "u")]
    user: String,
    /// E-mail.
    #[serde(rename = "e")]
    email: String,
    /// Display name, when known.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// How the session was made.
    #[serde(rename = "m")]
    method: AuthMethod,
    /// When the user signed in (Unix seconds).
    #[serde(rename = "i")]
    issued_at: u64,
    /// The account picked on `/.portero/accounts`, for tenants with a picker.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// A random id of this session.
    #[serde(rename = "s")]
    sid: String,
    /// The IdP's roles at sign-in (tenants with `membership = "idp"`).
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
}

/// Why a session cookie was not accepted (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not sealed by our keys, tampered with, malformed or for another tenant.
    Unreadable,
    /// Sealed for another tenant.
    ForeignTenant,
    /// Older than the tenant's re-authentication period.
    ReauthDue,
    /// Made before the tenant's last "force re-authentication now".
    Revoked,
    /// Made in the future (clock skew beyond tolerance, or forged).
    FromTheFuture,
    /// Ended by its logout (a copy of the cookie is refused too).
    Ended,
    /// Every session of this person was revoked by an administrator.
    PersonRevoked,
    /// The request carried two session cookies: neither is believed.
    Ambiguous,
}

impl Refusal {
    /// A short reason for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unreadable => "session cookie unreadable (tampered, foreign key or malformed)",
            Refusal::ForeignTenant => "session cookie of another tenant",
            Refusal::ReauthDue => "session older than the re-authentication period",
            Refusal::Revoked => "session revoked by force re-authentication",
            Refusal::FromTheFuture => "session issued in the future",
            Refusal::Ended => "session ended by logout",
            Refusal::PersonRevoked => "sessions of this person revoked by an administrator",
            Refusal::Ambiguous => "two session cookies in one request (planted cookie?)",
        }
    }
}

/// Tolerated clock difference between nodes, in seconds.
const SKEW: u64 = 60;

/// The longest a session lives, whatever `reauth` says (`"never"`
/// included): 400 days, the longest browsers keep a cookie. Every session
/// expires, so a session ended early is remembered for a bounded time.
pub const MAX_SESSION_LIFE: u64 = 400 * 86_400;

/// How long a session lives under a re-authentication period (`None`: never).
pub fn session_life(reauth: Option<u64>) -> u64 {
    reauth.map_or(MAX_SESSION_LIFE, |r| r.min(MAX_SESSION_LIFE))
}

impl SessionClaims {
    /// Makes the claims of a new session from a verified login, signed in
    /// at `now`, no account chosen yet.
    pub fn issue(login: &VerifiedLogin, now: u64) -> SessionClaims {
        SessionClaims(Fields {
            tenant: login.tenant().to_string(),
            user: login.email().to_string(),
            email: login.email().to_string(),
            name: login.name().map(str::to_string),
            method: login.method(),
            issued_at: now,
            account: None,
            sid: random_id(),
            roles: login.roles().to_vec(),
        })
    }

    /// The same session with `account` chosen (`/.portero/accounts`).
    pub fn with_account(&self, account: String) -> SessionClaims {
        let mut chosen = self.0.clone();
        chosen.account = Some(account);
        SessionClaims(chosen)
    }

    /// Claims made up for tests and benchmarks (no login behind them).
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(
        tenant: &str,
        email: &str,
        name: Option<&str>,
        method: AuthMethod,
        issued_at: u64,
        sid: &str,
    ) -> SessionClaims {
        SessionClaims(Fields {
            tenant: tenant.to_string(),
            user: email.to_string(),
            email: email.to_string(),
            name: name.map(str::to_string),
            method,
            issued_at,
            account: None,
            sid: sid.to_string(),
            roles: Vec::new(),
        })
    }

    /// The tenant the session was made for.
    pub fn tenant(&self) -> &str {
        &self.0.tenant
    }

    /// The user's stable id inside the tenant (the e-mail, lower-case).
    pub fn user(&self) -> &str {
        &self.0.user
    }

    /// The e-mail.
    pub fn email(&self) -> &str {
        &self.0.email
    }

    /// The display name, when known.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// How the session was made.
    pub fn method(&self) -> AuthMethod {
        self.0.method
    }

    /// When the user signed in (Unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.0.issued_at
    }

    /// The account picked on `/.portero/accounts`, for tenants with a picker.
    pub fn account(&self) -> Option<&str> {
        self.0.account.as_deref()
    }

    /// The random id of this session.
    pub fn sid(&self) -> &str {
        &self.0.sid
    }

    /// The IdP's roles at sign-in (tenants with `membership = "idp"`).
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Seals the claims into a cookie value for `tenant`.
    pub fn seal(&self, sealer: &Sealer) -> Option<String> {
        let json = serde_json::to_vec(&self.0).ok()?;
        sealer.seal(self.0.tenant.as_bytes(), &json)
    }

    /// Opens a cookie value and checks it for `tenant` at `now`.
    pub fn open(
        sealer: &Sealer,
        tenant: &str,
        value: &str,
        now: u64,
        reauth: Option<u64>,
        revoked_before: u64,
    ) -> Result<SessionClaims, Refusal> {
        let claims = Self::unseal(sealer, tenant, value)?;
        claims.check(tenant, now, reauth, revoked_before)?;
        Ok(claims)
    }

    /// As [`SessionClaims::open`], remembering the opening in `cache`
    /// (the checks run every time; a refused entry is forgotten).
    pub fn open_cached(
        sealer: &Sealer,
        cache: &OpenedCookies,
        tenant: &str,
        value: &str,
        now: u64,
        reauth: Option<u64>,
        revoked_before: u64,
    ) -> Result<Arc<SessionClaims>, Refusal> {
        // A remembered opening for another tenant is no opening for this
        // one (its key context differs): open it afresh, as anyone would.
        let claims = match cache.get(value).filter(|c| c.tenant() == tenant) {
            Some(c) => c,
            None => {
                let c = Arc::new(Self::unseal(sealer, tenant, value)?);
                cache.put(value, c.clone());
                c
            }
        };
        if let Err(r) = claims.check(tenant, now, reauth, revoked_before) {
            cache.forget(value);
            return Err(r);
        }
        Ok(claims)
    }

    /// Decrypts and reads a cookie value sealed for `tenant`.
    fn unseal(sealer: &Sealer, tenant: &str, value: &str) -> Result<SessionClaims, Refusal> {
        let plain = sealer
            .open(tenant.as_bytes(), value)
            .ok_or(Refusal::Unreadable)?;
        serde_json::from_slice(&plain)
            .map(SessionClaims)
            .map_err(|_| Refusal::Unreadable)
    }

    /// The checks of an opened session for `tenant` at `now`.
    fn check(
        &self,
        tenant: &str,
        now: u64,
        reauth: Option<u64>,
        revoked_before: u64,
    ) -> Result<(), Refusal> {
        let claims = &self.0;
        if claims.tenant != tenant {
            return Err(Refusal::ForeignTenant);
        }
        if claims.issued_at > now + SKEW {
            return Err(Refusal::FromTheFuture);
        }
        if claims.issued_at < revoked_before {
            return Err(Refusal::Revoked);
        }
        if now.saturating_sub(claims.issued_at) >= session_life(reauth) {
            return Err(Refusal::ReauthDue);
        }
        Ok(())
    }

    /// When this session expires under `reauth` (an ended session is
    /// remembered until then).
    pub fn expires_at(&self, reauth: Option<u64>) -> u64 {
        self.0
            .issued_at
            .saturating_add(session_life(reauth))
            .saturating_add(SKEW)
    }
}

/// The content of a classic-login cookie: the e-mail someone gave on the
/// sign-in page, kept so the panel's following pages are not re-routed. It
/// routes; it never vouches for anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicClaims {
    /// The tenant.
    #[serde(rename = "t")]
    pub tenant: String,
    /// The e-mail given, lower-case.
    #[serde(rename = "e")]
    pub email: String,
    /// Until when (Unix seconds).
    #[serde(rename = "x")]
    pub expires: u64,
}

impl ClassicClaims {
    /// Seals the claims for the tenant.
    pub fn seal(&self, sealer: &Sealer) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        // A distinct context keeps a classic cookie from ever opening as a session.
        sealer.seal(classic_context(&self.tenant).as_bytes(), &json)
    }

    /// Opens and checks a classic-login cookie.
    pub fn open(sealer: &Sealer, tenant: &str, value: &str, now: u64) -> Option<ClassicClaims> {
        let plain = sealer.open(classic_context(tenant).as_bytes(), value)?;
        let c: ClassicClaims = serde_json::from_slice(&plain).ok()?;
        (c.tenant == tenant && c.expires > now).then_some(c)
    }
}

fn classic_context(tenant: &str) -> String {
    format!("classic\0{tenant}")
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    // A failing system RNG leaves the id all zeros; the id only names the session.
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One cookie's value in the request: `Ok(None)` when absent, `Err(())`
/// when it is there more than once (a sibling subdomain or a network
/// attacker may have planted one: neither is believed).
pub type OneCookie<'a> = Result<Option<&'a str>, ()>;

/// The values of Portero's session and classic-login cookies (names `a`
/// and `b`), read in one pass over the request's `Cookie` lines.
#[inline]
pub fn own_cookie_values<'a>(
    lines: &[&'a str],
    a: &str,
    b: &str,
) -> (OneCookie<'a>, OneCookie<'a>) {
    let (mut first, mut second): (OneCookie<'a>, OneCookie<'a>) = (Ok(None), Ok(None));
    for pair in lines.iter().flat_map(|line| line.split(';')) {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let slot = if name == a {
            &mut first
        } else if name == b {
            &mut second
        } else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        *slot = match slot {
            Ok(None) => Ok(Some(value)),
            _ => Err(()),
        };
    }
    (first, second)
}

/// The prefix of cookie names on TLS listeners: the browser keeps such a
/// cookie only if it is `Secure`, `Path=/` and host-only, so no sibling
/// subdomain (and no plain-HTTP page) can set one.
pub const HOST_PREFIX: &str = "__Host-";

/// Every value of cookie `name` in the request's `Cookie` headers.
pub fn find_cookie_values<'a>(
    cookie_headers: impl Iterator<Item = &'a str> + 'a,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    cookie_headers
        .flat_map(|h| h.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// `Set-Cookie` for a session: host-only, `HttpOnly`, `SameSite=Lax`,
/// `Secure` on TLS listeners, lasting the re-authentication period.
pub fn session_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    // "never" re-authenticates: keep the cookie for 400 days, the most browsers allow.
    build(name, value, secure, Some(session_life(max_age)))
}

/// `Set-Cookie` for the classic-login choice.
pub fn classic_cookie(name: &str, value: &str, secure: bool, max_age: u64) -> String {
    build(name, value, secure, Some(max_age))
}

/// `Set-Cookie` that removes a cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    build(name, "", secure, Some(0))
}

fn build(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = cookie::Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(
            i64::try_from(age).unwrap_or(i64::MAX),
        ));
    }
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::generate_key;

    fn claims(tenant: &str, at: u64) -> SessionClaims {
        SessionClaims::for_tests(
            tenant,
            "ana@x.test",
            None,
            AuthMethod::Jwt,
            at,
            &random_id(),
        )
    }

    #[test]
    fn an_opened_cookie_is_remembered_but_checked_every_time() {
        let s = Sealer::from_base64_keys(&[generate_key().unwrap()]).unwrap();
        let cache = OpenedCookies::default();
        let v = claims("a", 1000).seal(&s).unwrap();
        let first = SessionClaims::open_cached(&s, &cache, "a", &v, 1000, None, 0).unwrap();
        assert_eq!(cache.len(), 1);
        let again = SessionClaims::open_cached(&s, &cache, "a", &v, 1001, None, 0).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "opened twice");
        // Another tenant: no opening, whatever is remembered.
        assert_eq!(
            SessionClaims::open_cached(&s, &cache, "b", &v, 1001, None, 0).unwrap_err(),
            Refusal::Unreadable
        );
        // Re-authentication due and revocation apply to a remembered
        // opening, which is then forgotten.
        assert_eq!(
            SessionClaims::open_cached(&s, &cache, "a", &v, 1100, Some(100), 0).unwrap_err(),
            Refusal::ReauthDue
        );
        assert!(cache.is_empty());
        SessionClaims::open_cached(&s, &cache, "a", &v, 1001, None, 0).unwrap();
        assert_eq!(
            SessionClaims::open_cached(&s, &cache, "a", &v, 1001, None, 1001).unwrap_err(),
            Refusal::Revoked
        );
        assert!(cache.is_empty());
        // A value that differs in one character is another cookie.
        SessionClaims::open_cached(&s, &cache, "a", &v, 1001, None, 0).unwrap();
        let mut forged = v.clone().into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            SessionClaims::open_cached(&s, &cache, "a", &forged, 1001, None, 0).unwrap_err(),
            Refusal::Unreadable
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let s = Sealer::from_base64_keys(&[generate_key().unwrap()]).unwrap();
        let cache = OpenedCookies::default();
        for i in 0..crate::session::OPENED_CAPACITY + 10 {
            let v = claims("a", 1000 + i as u64).seal(&s).unwrap();
            SessionClaims::open_cached(&s, &cache, "a", &v, 1_000_000, None, 0).unwrap();
        }
        assert!(cache.len() <= crate::session::OPENED_CAPACITY);
    }

    #[test]
    fn checks() {
        let s = Sealer::from_base64_keys(&[generate_key().unwrap()]).unwrap();
        let v = claims("a", 1000).seal(&s).unwrap();
        assert!(SessionClaims::open(&s, "a", &v, 1000, Some(100), 0).is_ok());
        assert_eq!(
            SessionClaims::open(&s, "b", &v, 1000, None, 0),
            Err(Refusal::Unreadable)
        );
        assert_eq!(
            SessionClaims::open(&s, "a", &v, 1100, Some(100), 0),
            Err(Refusal::ReauthDue)
        );
        assert!(SessionClaims::open(&s, "a", &v, 1099, Some(100), 0).is_ok());
        // "never" still ends after 400 days (the longest a browser keeps it).
        assert!(SessionClaims::open(&s, "a", &v, 1000 + MAX_SESSION_LIFE - 1, None, 0).is_ok());
        assert_eq!(
            SessionClaims::open(&s, "a", &v, 1000 + MAX_SESSION_LIFE, None, 0),
            Err(Refusal::ReauthDue)
        );
        assert_eq!(
            SessionClaims::open(&s, "a", &v, 99_999_999, Some(u64::MAX), 0),
            Err(Refusal::ReauthDue)
        );
        assert_eq!(
            SessionClaims::open(&s, "a", &v, 1000, None, 1001),
            Err(Refusal::Revoked)
        );
        assert_eq!(
            SessionClaims::open(&s, "a", &v, 500, None, 0),
            Err(Refusal::FromTheFuture)
        );
        // A classic cookie never opens as a session, nor the other way round.
        let c = ClassicClaims {
            tenant: "a".into(),
            email: "x@y.z".into(),
            expires: 2000,
        };
        let cv = c.seal(&s).unwrap();
        assert_eq!(
            SessionClaims::open(&s, "a", &cv, 1000, None, 0),
            Err(Refusal::Unreadable)
        );
        assert!(ClassicClaims::open(&s, "a", &v, 1000).is_none());
        assert_eq!(ClassicClaims::open(&s, "a", &cv, 1000), Some(c));
        assert!(ClassicClaims::open(&s, "a", &cv, 2000).is_none());
    }

    #[test]
    fn finds_cookies() {
        let headers = ["a=1; portero_session=xyz", "portero_session=\"q\"; b=2"];
        let found: Vec<_> =
            find_cookie_values(headers.iter().copied(), "portero_session").collect();
        assert_eq!(found, vec!["xyz", "q"]);
        let one = |lines: &[&'static str], name| own_cookie_values(lines, name, "unused").0;
        assert_eq!(one(&headers, "portero_session"), Err(()));
        assert_eq!(one(&headers, "a"), Ok(Some("1")));
        assert_eq!(one(&headers, "zz"), Ok(None));
        // Spaces around the name do not make it another cookie.
        let spaced = ["portero_session=a; portero_session =b"];
        assert_eq!(one(&spaced, "portero_session"), Err(()));
        // Both names in one pass; a duplicate of one leaves the other read.
        let both = own_cookie_values(&["a=1; s=\"x\"", " c = y "], "s", "c");
        assert_eq!(both, (Ok(Some("x")), Ok(Some("y"))));
        let both = own_cookie_values(&["s=1", "other=2; s=2"], "s", "c");
        assert_eq!(both, (Err(()), Ok(None)));
        let both = own_cookie_values(&["c=1; c=1; s"], "s", "c");
        assert_eq!(both, (Ok(None), Err(())));
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("portero_session", "v", true, Some(60));
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Lax"));
        assert!(c.contains("Path=/") && c.contains("Max-Age=60") && !c.contains("Domain"));
        assert!(!session_cookie("n", "v", false, None).contains("Secure"));
    }
}
