//! The issuer's discovery document (`/.well-known/openid-configuration`).

use serde::Deserialize;

/// What Portero uses of an OpenID Provider's discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must be exactly the configured issuer.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The issuer's public keys.
    pub jwks_uri: String,
    /// Claims about the user, for an ID token without an e-mail.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// PKCE methods; when listed, `S256` must be one.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl Discovery {
    /// The discovery URL of an issuer.
    pub fn url_for(issuer: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    }

    /// Reads a discovery document published by `issuer`: it must name that
    /// very issuer, and every endpoint must be one Portero may call.
    pub fn parse(body: &str, issuer: &str) -> Result<Discovery, String> {
        let d: Discovery = serde_json::from_str(body)
            .map_err(|e| format!("not an OpenID discovery document: {e}"))?;
        if d.issuer != issuer {
            return Err(format!(
                "the document names the issuer `{}`, not `{issuer}`",
                d.issuer
            ));
        }
        let endpoints = [
            ("authorization_endpoint", Some(&d.authorization_endpoint)),
            ("token_endpoint", Some(&d.token_endpoint)),
            ("jwks_uri", Some(&d.jwks_uri)),
            ("userinfo_endpoint", d.userinfo_endpoint.as_ref()),
            ("end_session_endpoint", d.end_session_endpoint.as_ref()),
        ];
        for (name, url) in endpoints {
            if let Some(url) = url {
                crate::outbound::check_url(url).map_err(|e| format!("{name} `{url}`: {e}"))?;
            }
        }
        if let Some(methods) = &d.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err("the provider does not offer PKCE with S256".into());
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str, token: &str, pkce: &str) -> String {
        format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"https://op.test/auth","token_endpoint":"{token}","jwks_uri":"https://op.test/jwks","code_challenge_methods_supported":[{pkce}]}}"#
        )
    }

    #[test]
    fn the_document_must_be_the_issuers_own_and_usable() {
        let ok = Discovery::parse(
            &doc("https://op.test", "https://op.test/token", r#""S256""#),
            "https://op.test",
        )
        .unwrap();
        assert_eq!(ok.token_endpoint, "https://op.test/token");
        let other = Discovery::parse(
            &doc("https://evil.test", "https://op.test/token", r#""S256""#),
            "https://op.test",
        );
        assert!(other.unwrap_err().contains("not `https://op.test`"));
        let plain = Discovery::parse(
            &doc("https://op.test", "http://op.test/token", r#""S256""#),
            "https://op.test",
        );
        assert!(plain.unwrap_err().contains("token_endpoint"));
        let no_s256 = Discovery::parse(
            &doc("https://op.test", "https://op.test/token", r#""plain""#),
            "https://op.test",
        );
        assert!(no_s256.unwrap_err().contains("S256"));
        assert!(Discovery::parse("<html>", "https://op.test").is_err());
        assert_eq!(
            Discovery::url_for("https://op.test/"),
            "https://op.test/.well-known/openid-configuration"
        );
    }
}
