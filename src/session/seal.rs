//! Sealing cookie payloads with an AEAD (XChaCha20-Poly1305).
//!
//! The first key seals; every key opens, so keys rotate by adding a new key
//! in front and removing the old one after the longest session has passed.
//! The tenant name is bound in as associated data: a cookie sealed for one
//! tenant does not open for another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

/// Seals and opens short payloads with the configured session keys.
#[derive(Clone)]
pub struct Sealer {
    ciphers: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.ciphers.len())
    }
}

/// Why a key was refused.
#[derive(Debug, thiserror::Error)]
#[error("a session key must be the base64 of 32 random bytes (make one with `portero keygen`)")]
pub struct BadKey;

impl Sealer {
    /// Builds a sealer from base64 keys of 32 bytes each; the first seals.
    pub fn from_base64_keys<S: AsRef<str>>(keys: &[S]) -> Result<Sealer, BadKey> {
        let mut ciphers = Vec::with_capacity(keys.len());
        for k in keys {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(k.as_ref().trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(k.as_ref().trim()))
                .map_err(|_| BadKey)?;
            if raw.len() != 32 {
                return Err(BadKey);
            }
            ciphers.push(XChaCha20Poly1305::new_from_slice(&raw).map_err(|_| BadKey)?);
        }
        if ciphers.is_empty() {
            return Err(BadKey);
        }
        Ok(Sealer { ciphers })
    }

    /// Seals `plain` for `context` (the tenant); URL-safe base64 out.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).ok()?;
        let cipher = self.ciphers.first()?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed value for `context`; `None` when it is malformed,
    /// tampered with, sealed by an unknown key or for another context.
    pub fn open(&self, context: &[u8], sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > 8192 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        self.ciphers.iter().find_map(|c| {
            c.decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .ok()
        })
    }
}

/// A fresh random key, base64: what `portero keygen` prints.
pub fn generate_key() -> Option<String> {
    let mut k = [0u8; 32];
    getrandom::getrandom(&mut k).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        generate_key().unwrap()
    }

    #[test]
    fn round_trip_and_context_binding() {
        let s = Sealer::from_base64_keys(&[key()]).unwrap();
        let t = s.seal(b"latincloud", b"hello").unwrap();
        assert_eq!(s.open(b"latincloud", &t).unwrap(), b"hello");
        assert!(
            s.open(b"other", &t).is_none(),
            "another tenant must not open it"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let s = Sealer::from_base64_keys(&[key()]).unwrap();
        let t = s.seal(b"a", b"hello world").unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert!(
                s.open(b"a", &URL_SAFE_NO_PAD.encode(&bytes)).is_none(),
                "bit {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(s.open(b"a", "").is_none());
        assert!(s.open(b"a", "!!!").is_none());
    }

    #[test]
    fn rotation_first_seals_all_open() {
        let (old, new) = (key(), key());
        let before = Sealer::from_base64_keys(std::slice::from_ref(&old)).unwrap();
        let during = Sealer::from_base64_keys(&[new.clone(), old.clone()]).unwrap();
        let after = Sealer::from_base64_keys(&[new]).unwrap();
        let old_cookie = before.seal(b"t", b"x").unwrap();
        assert!(during.open(b"t", &old_cookie).is_some());
        let new_cookie = during.seal(b"t", b"y").unwrap();
        assert!(after.open(b"t", &new_cookie).is_some());
        assert!(after.open(b"t", &old_cookie).is_none());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Sealer::from_base64_keys(&["c2hvcnQ="]).is_err());
        assert!(Sealer::from_base64_keys::<&str>(&[]).is_err());
        assert!(Sealer::from_base64_keys(&["not base64 at all"]).is_err());
    }
}
