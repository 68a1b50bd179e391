//! Sign-in protocols. Each verifier turns what an identity provider sent
//! into a [`VerifiedLogin`]; nothing else can make one, and only a
//! `VerifiedLogin` can make a session.

mod email;
pub mod external_jwt;
pub mod oidc;
pub mod saml;

pub use email::{clean_display_name, normalize_email};

/// A one-time id a verified token carries (SAML assertion ID, JWT `jti`):
/// the sign-in completes only when it is claimed for the first time
/// ([`crate::onetime::OneTime::first_use`]), and it is remembered for `ttl`,
/// as long as the token could pass the other checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceId {
    /// The key it is remembered under (kind, tenant and id).
    pub key: String,
    /// How long it is remembered.
    pub ttl: std::time::Duration,
}

use serde::{Deserialize, Serialize};

/// How a session was made (`X-Portero-Auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    /// SAML 2.0.
    #[serde(rename = "saml")]
    Saml,
    /// OpenID Connect.
    #[serde(rename = "oidc")]
    Oidc,
    /// An external sign-in page's signed JWT.
    #[serde(rename = "jwt")]
    Jwt,
}

impl AuthMethod {
    /// The header value: `saml`, `oidc`, `jwt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Saml => "saml",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Jwt => "jwt",
        }
    }
}

/// Proof that an identity provider vouched for this person, checked by one
/// of the verifiers in this module. Its constructor is private to `auth`.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    tenant: String,
    email: String,
    name: Option<String>,
    method: AuthMethod,
    roles: Vec<String>,
    username: Option<String>,
}

impl VerifiedLogin {
    /// Only the verifiers in `crate::auth` call this.
    fn new(tenant: &str, email: String, name: Option<String>, method: AuthMethod) -> Self {
        VerifiedLogin {
            tenant: tenant.to_string(),
            email,
            name,
            method,
            roles: Vec::new(),
            username: None,
        }
    }

    /// With the IdP's roles (its role attribute or claim).
    fn with_roles(mut self, roles: Vec<String>) -> Self {
        self.roles = roles;
        self
    }

    /// With the username the IdP sent (the tenant's username attribute).
    fn with_username(mut self, username: Option<String>) -> Self {
        self.username = username.filter(|u| !u.trim().is_empty());
        self
    }

    /// The username from the IdP, when the tenant names its attribute
    /// (kept with a provisioned user).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The IdP's roles, when the tenant names a role attribute.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The tenant the login is for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The verified e-mail, lower-case.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The display name, when the IdP gave one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The protocol that verified it.
    pub fn method(&self) -> AuthMethod {
        self.method
    }
}
