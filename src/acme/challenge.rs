//! The challenges waiting for the CA's validation, and how Portero answers
//! them:
//!
//! * HTTP-01: `GET /.well-known/acme-challenge/<token>` with the `Host` the
//!   challenge is for gets the key authorization (a few dozen bytes); on a
//!   host that gets its certificate through ACME, any other request on that
//!   path gets a short 404 and never reaches the panel or a sign-in;
//! * TLS-ALPN-01 (RFC 8737): a handshake that offers `acme-tls/1` alone,
//!   for a host with a pending challenge, gets a self-signed certificate
//!   with the `acmeIdentifier` extension; the connection then closes.
//!
//! Challenges are made only by this node's orders ("own") or, on a shared
//! store, read from it every second ("shared": another node's order, which
//! the CA's validation may reach through this node). Nothing a client
//! sends adds one; looking one up allocates nothing.

use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// The ALPN protocol of TLS-ALPN-01 validation.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The path prefix of HTTP-01 validation.
pub const HTTP_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// Whether a ClientHello's ALPN offer is `acme-tls/1` and nothing else:
/// the CA's TLS-ALPN-01 validation, never a browser.
pub fn offers_only_acme_tls<'a>(alpn: Option<impl Iterator<Item = &'a [u8]>>) -> bool {
    let Some(mut offered) = alpn else {
        return false;
    };
    offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none()
}

/// One challenge: what it proves and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Its token.
    pub token: String,
    /// The host it proves (lowercase).
    pub host: String,
    /// `http-01` or `tls-alpn-01`.
    pub kind: crate::config::AcmeChallenge,
    /// The key authorization (token + `.` + the account key's thumbprint).
    pub key_authorization: String,
}

/// The answers ready for one set of challenges.
#[derive(Debug, Default)]
struct Answers {
    /// HTTP-01: token → (host, key authorization).
    http: HashMap<String, (String, String)>,
    /// TLS-ALPN-01: host → (token, validation certificate).
    tls: HashMap<String, (String, Arc<CertifiedKey>)>,
}

impl Answers {
    fn with(&self, c: &Challenge, cert: Option<Arc<CertifiedKey>>) -> Answers {
        let mut http = self.http.clone();
        let mut tls = self.tls.clone();
        match (c.kind, cert) {
            (crate::config::AcmeChallenge::Http01, _) => {
                http.insert(
                    c.token.clone(),
                    (c.host.clone(), c.key_authorization.clone()),
                );
            }
            (crate::config::AcmeChallenge::TlsAlpn01, Some(cert)) => {
                tls.insert(c.host.clone(), (c.token.clone(), cert));
            }
            (crate::config::AcmeChallenge::TlsAlpn01, None) => {}
        }
        Answers { http, tls }
    }

    fn without(&self, token: &str) -> Answers {
        let mut http = self.http.clone();
        let mut tls = self.tls.clone();
        http.remove(token);
        tls.retain(|_, (t, _)| t != token);
        Answers { http, tls }
    }
}

/// The challenges pending on this node and those read from the shared store.
#[derive(Debug, Default)]
pub struct Pending {
    own: ArcSwap<Answers>,
    shared: ArcSwap<Answers>,
}

impl Pending {
    /// The key authorization for an HTTP-01 request of `token` on `host`,
    /// when such a challenge is pending.
    pub fn http_answer(&self, token: &str, host: &str) -> Option<String> {
        for answers in [self.own.load(), self.shared.load()] {
            if let Some((h, key_authorization)) = answers.http.get(token) {
                if h == host {
                    return Some(key_authorization.clone());
                }
            }
        }
        None
    }

    /// The TLS-ALPN-01 validation certificate for `host`, when such a
    /// challenge is pending.
    pub fn tls_certificate(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        for answers in [self.own.load(), self.shared.load()] {
            if let Some((_, cert)) = answers.tls.get(host) {
                return Some(cert.clone());
            }
            if host.bytes().any(|b| b.is_ascii_uppercase()) {
                if let Some((_, cert)) = answers.tls.get(&host.to_ascii_lowercase()) {
                    return Some(cert.clone());
                }
            }
        }
        None
    }

    /// Answers `c` from now on (this node's own order).
    pub fn add(&self, c: &Challenge) -> Result<(), String> {
        let cert = match c.kind {
            crate::config::AcmeChallenge::TlsAlpn01 => {
                Some(validation_certificate(&c.host, &c.key_authorization)?)
            }
            crate::config::AcmeChallenge::Http01 => None,
        };
        self.own.rcu(|a| a.with(c, cert.clone()));
        Ok(())
    }

    /// Stops answering the challenge of `token` (validated, or given up).
    pub fn remove(&self, token: &str) {
        self.own.rcu(|a| a.without(token));
    }

    /// Replaces the challenges read from the shared store (validation
    /// certificates already made for a token are kept, not made again).
    pub fn replace_shared(&self, challenges: &[Challenge]) {
        let before = self.shared.load();
        if challenges.is_empty() && before.http.is_empty() && before.tls.is_empty() {
            return;
        }
        let mut next = Answers::default();
        for c in challenges {
            let cert = match c.kind {
                crate::config::AcmeChallenge::Http01 => None,
                crate::config::AcmeChallenge::TlsAlpn01 => match before.tls.get(&c.host) {
                    Some((token, cert)) if *token == c.token => Some(cert.clone()),
                    _ => match validation_certificate(&c.host, &c.key_authorization) {
                        Ok(cert) => Some(cert),
                        Err(e) => {
                            tracing::warn!(host = %c.host, "acme: a validation certificate cannot be made: {e}");
                            None
                        }
                    },
                },
            };
            next = next.with(c, cert);
        }
        self.shared.store(Arc::new(next));
    }
}

/// The TLS-ALPN-01 validation certificate for `host` (RFC 8737):
/// self-signed, for that name only, with the critical `acmeIdentifier`
/// extension holding the SHA-256 digest of the key authorization.
pub fn validation_certificate(
    host: &str,
    key_authorization: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let digest = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    let mut params = rcgen::CertificateParams::new(vec![host.to_string()])
        .map_err(|e| format!("validation certificate for {host}: {e}"))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest.as_ref())];
    let key = rcgen::KeyPair::generate().map_err(|e| format!("a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("validation certificate for {host}: {e}"))?;
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| format!("validation certificate key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AcmeChallenge::{Http01, TlsAlpn01};

    fn ch(token: &str, host: &str, kind: crate::config::AcmeChallenge) -> Challenge {
        Challenge {
            token: token.into(),
            host: host.into(),
            kind,
            key_authorization: format!("{token}.thumbprint"),
        }
    }

    #[test]
    fn only_an_offer_of_acme_tls_alone_is_a_validation() {
        let offer = |p: &[&'static [u8]]| offers_only_acme_tls(Some(p.iter().copied()));
        assert!(offer(&[b"acme-tls/1"]));
        assert!(!offer(&[b"h2", b"acme-tls/1"]));
        assert!(!offer(&[b"acme-tls/1", b"http/1.1"]));
        assert!(!offer(&[b"h2"]));
        assert!(!offer(&[]));
        assert!(!offers_only_acme_tls(None::<std::vec::IntoIter<&[u8]>>));
    }

    #[test]
    fn an_http_token_is_answered_only_for_its_host_and_only_while_pending() {
        let p = Pending::default();
        assert_eq!(p.http_answer("tok", "a.test"), None);
        p.add(&ch("tok", "a.test", Http01)).unwrap();
        assert_eq!(
            p.http_answer("tok", "a.test").as_deref(),
            Some("tok.thumbprint")
        );
        assert_eq!(p.http_answer("tok", "b.test"), None);
        assert_eq!(p.http_answer("other", "a.test"), None);
        p.remove("tok");
        assert_eq!(p.http_answer("tok", "a.test"), None);
    }

    #[test]
    fn a_validation_certificate_names_the_host_and_carries_the_digest() {
        let p = Pending::default();
        p.add(&ch("tok", "a.test", TlsAlpn01)).unwrap();
        let cert = p.tls_certificate("a.test").unwrap();
        assert!(p.tls_certificate("A.TEST").is_some());
        assert!(p.tls_certificate("b.test").is_none());
        let der = cert.end_entity_cert().unwrap().as_ref().to_vec();
        let digest = ring::digest::digest(&ring::digest::SHA256, b"tok.thumbprint");
        // The extension's OID (1.3.6.1.5.5.7.1.31), then the digest as an OCTET STRING.
        let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f];
        assert!(der.windows(oid.len()).any(|w| w == oid));
        assert!(der.windows(32).any(|w| w == digest.as_ref()));
        assert!(der.windows(6).any(|w| w == b"a.test"));
        p.remove("tok");
        assert!(p.tls_certificate("a.test").is_none());
    }

    #[test]
    fn shared_challenges_are_replaced_whole_and_their_certificates_kept() {
        let p = Pending::default();
        p.replace_shared(&[ch("t1", "a.test", TlsAlpn01), ch("t2", "b.test", Http01)]);
        let first = p.tls_certificate("a.test").unwrap();
        assert!(p.http_answer("t2", "b.test").is_some());
        p.replace_shared(&[ch("t1", "a.test", TlsAlpn01)]);
        assert!(Arc::ptr_eq(&first, &p.tls_certificate("a.test").unwrap()));
        assert!(p.http_answer("t2", "b.test").is_none());
        p.replace_shared(&[]);
        assert!(p.tls_certificate("a.test").is_none());
    }
}
