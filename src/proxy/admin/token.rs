//! The admin token: when `server.admin_token` is set, every call but
//! `/metrics`, `/healthz` and `/readyz` needs `Authorization: Bearer
//! <token>`, compared in constant time.

use super::Admin;

impl Admin {
    /// Whether the request carries the admin token (or none is set).
    pub(super) fn authorized(&self, req: &http::request::Parts) -> bool {
        let cfg = self.state.config();
        let Some(token) = cfg.server.admin_token.as_deref() else {
            return true;
        };
        let given = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        token_matches(given, token)
    }
}

/// Whether `given` is the admin token, compared in constant time: both are
/// MACed under a key made for this comparison and the tags checked by
/// `ring` (which compares in constant time), so neither the time taken nor
/// the length says anything about the token.
fn token_matches(given: &str, token: &str) -> bool {
    use ring::hmac;
    let rng = ring::rand::SystemRandom::new();
    let Ok(key) = hmac::Key::generate(hmac::HMAC_SHA256, &rng) else {
        return false;
    };
    let expected = hmac::sign(&key, token.as_bytes());
    hmac::verify(&key, given.as_bytes(), expected.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_compared_whole() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for bad in [
            "",
            "s3cret",
            "s3cret-token ",
            "S3cret-token",
            "s3cret-tokens",
        ] {
            assert!(!token_matches(bad, "s3cret-token"), "{bad}");
        }
    }
}
