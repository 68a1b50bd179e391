//! The proofs a sign-in passes through, in the only order the types allow:
//! a verifier makes an [`UnclaimedLogin`] (the answer verified, its
//! one-time id not yet claimed); [`UnclaimedLogin::claim`] claims that id
//! in the one-time store and is the one way to a [`VerifiedLogin`]; only a
//! `VerifiedLogin` makes a session
//! ([`crate::session::SessionClaims::issue`]).

use super::AuthMethod;
use crate::onetime::{OneTime, Unavailable};
use std::time::Duration;

/// A one-time id a verified answer carries (SAML assertion ID, JWT `jti`,
/// OpenID Connect `state`): the sign-in completes only when it is claimed
/// for the first time, and it is remembered for as long as the answer
/// could pass the other checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceId {
    key: String,
    ttl: Duration,
}

impl OnceId {
    /// The id `id` of kind `kind` (`saml`, `jwt`, `oidc`) for `tenant`,
    /// remembered for `ttl`.
    pub(in crate::auth) fn new(kind: &str, tenant: &str, id: &str, ttl: Duration) -> OnceId {
        OnceId {
            key: format!("{kind}:{tenant}:{id}"),
            ttl,
        }
    }

    /// The key it is remembered under (kind, tenant and id).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How long it is remembered.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// Who an identity provider vouched for (what a login says).
#[derive(Debug, Clone)]
struct Person {
    tenant: String,
    email: String,
    name: Option<String>,
    method: AuthMethod,
    roles: Vec<String>,
    username: Option<String>,
}

/// An answer that verified, whose one-time id is not claimed yet: it
/// cannot make a session until [`claim`](Self::claim) turns it into a
/// [`VerifiedLogin`]. Only the verifiers in `crate::auth` make one.
#[derive(Debug)]
#[must_use = "a verified answer signs nobody in until its one-time id is claimed"]
pub struct UnclaimedLogin {
    person: Person,
    once: OnceId,
}

/// The one-time id was claimed before: the answer is a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed;

impl UnclaimedLogin {
    /// A login for `tenant`, to be claimed under `once`.
    pub(in crate::auth) fn new(
        tenant: &str,
        email: String,
        name: Option<String>,
        method: AuthMethod,
        once: OnceId,
    ) -> UnclaimedLogin {
        UnclaimedLogin {
            person: Person {
                tenant: tenant.to_string(),
                email,
                name,
                method,
                roles: Vec::new(),
                username: None,
            },
            once,
        }
    }

    /// With the IdP's roles (its role attribute or claim).
    pub(in crate::auth) fn with_roles(mut self, roles: Vec<String>) -> Self {
        self.person.roles = roles;
        self
    }

    /// With the username the IdP sent (the tenant's username attribute).
    pub(in crate::auth) fn with_username(mut self, username: Option<String>) -> Self {
        self.person.username = username.filter(|u| !u.trim().is_empty());
        self
    }

    /// The one-time id to be claimed.
    pub fn once(&self) -> &OnceId {
        &self.once
    }

    /// The tenant the answer was verified for.
    pub fn tenant(&self) -> &str {
        &self.person.tenant
    }

    /// Claims the one-time id in `store`: the first claim yields the
    /// [`VerifiedLogin`], every later one (on any node sharing the store)
    /// is [`Replayed`]. A store that cannot be asked refuses too.
    pub async fn claim(
        self,
        store: &OneTime,
    ) -> Result<Result<VerifiedLogin, Replayed>, Unavailable> {
        Ok(if store.first_use(&self.once.key, self.once.ttl).await? {
            Ok(VerifiedLogin {
                person: self.person,
            })
        } else {
            Err(Replayed)
        })
    }
}

#[cfg(test)]
impl UnclaimedLogin {
    /// What a made-up protocol's verifier returns in the flow's unit tests:
    /// `email` of `tenant`, to be claimed under one-time id `once`.
    pub(crate) fn for_tests(tenant: &str, email: &str, once: &str) -> UnclaimedLogin {
        let once = OnceId::new("test", tenant, once, Duration::from_secs(600));
        UnclaimedLogin::new(tenant, email.to_string(), None, AuthMethod::Jwt, once)
    }
}

/// Proof that an identity provider vouched for this person and that the
/// answer was used once. Its only constructor is [`UnclaimedLogin::claim`].
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    person: Person,
}

impl VerifiedLogin {
    /// The username from the IdP, when the tenant names its attribute
    /// (kept with a provisioned user).
    pub fn username(&self) -> Option<&str> {
        self.person.username.as_deref()
    }

    /// The IdP's roles, when the tenant names a role attribute.
    pub fn roles(&self) -> &[String] {
        &self.person.roles
    }

    /// The tenant the login is for.
    pub fn tenant(&self) -> &str {
        &self.person.tenant
    }

    /// The verified e-mail, lower-case.
    pub fn email(&self) -> &str {
        &self.person.email
    }

    /// The display name, when the IdP gave one.
    pub fn name(&self) -> Option<&str> {
        self.person.name.as_deref()
    }

    /// The protocol that verified it.
    pub fn method(&self) -> AuthMethod {
        self.person.method
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unclaimed(id: &str) -> UnclaimedLogin {
        UnclaimedLogin::new(
            "t",
            "ana@t.test".into(),
            None,
            AuthMethod::Jwt,
            OnceId::new("jwt", "t", id, Duration::from_secs(60)),
        )
    }

    #[tokio::test]
    async fn only_the_first_claim_of_a_one_time_id_yields_a_login() {
        let store = OneTime::local(10, 10);
        let login = unclaimed("a").claim(&store).await.unwrap().unwrap();
        assert_eq!(login.email(), "ana@t.test");
        assert_eq!(
            unclaimed("a").claim(&store).await.unwrap().unwrap_err(),
            Replayed
        );
        assert!(unclaimed("b").claim(&store).await.unwrap().is_ok());
    }
}
