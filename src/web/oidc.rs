//! OpenID Connect pages: starting a sign-in (redirect with PKCE, `state`,
//! `nonce`; the sign-in kept server-side under its `state` and bound to the
//! browser by a cookie) and the callback, a sign-in [`Protocol`] whose
//! verification — the token exchange and the ID token check — runs in
//! [`super::flow::finish`].

use super::flow::{self, Ctx, Names, Protocol, Reason, Refusal, Started};
use super::i18n::Lang;
use super::{tenant_page, Reply};
use crate::auth::oidc::{OidcRp, Pending, Refusal as RpRefusal};
use crate::auth::UnclaimedLogin;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use std::borrow::Cow;

/// The redirect URI for an origin.
pub fn redirect_uri(origin: &str) -> String {
    format!("{origin}/.portero/oidc/callback")
}

/// `302` to the provider, starting the sign-in.
pub fn start(
    tenant: &Tenant,
    rp: &OidcRp,
    seen: &Seen<'_>,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let redirect = redirect_uri(&seen.origin());
    let Some((state, pending, url)) = rp.start(&redirect, login_hint) else {
        tracing::warn!(tenant = %tenant.name, "OpenID Connect sign-in asked for, but there is no copy of the discovery document yet");
        return super::idp_unavailable(tenant, seen.lang, portero_policy::Idp::Oidc);
    };
    flow::start::<Oidc>(seen, tenant, state, return_to, pending, &url)
}

/// The callback (`GET /.portero/oidc/callback?code=…&state=…`) as a
/// sign-in [`Protocol`]: `state` names the started sign-in and is the
/// one-time id; the `iss` parameter, when sent, must be the issuer
/// (RFC 9207); the code is exchanged and the ID token verified.
pub struct Oidc;

/// The callback's parameters, kept past the request's borrowed facts.
#[derive(Debug)]
pub struct Callback {
    state: String,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// Why a callback was refused before or while verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The provider answered with an error (its code, kept to
    /// `[A-Za-z0-9_]`, at most 64 characters).
    Provider(String),
    /// The `iss` parameter names another issuer.
    WrongIssuerParameter,
    /// No `code`.
    NoCode,
    /// The relying party's checks (token exchange, ID token, userinfo).
    Rp(RpRefusal),
}

impl Protocol for Oidc {
    type Idp = OidcRp;
    type Data = Pending;
    type Answer = Callback;
    type Refusal = Refused;
    const NAMES: Names = Names {
        idp: portero_policy::Idp::Oidc,
        kind: "oidc",
        id_field: "state",
        cookie: "portero_oidc",
        path: "/.portero/oidc",
        cross_site_post: false,
        cookie_stands_in: false,
        metric: "oidc",
        refused: "OpenID Connect sign-in",
        signed_in: "OpenID Connect",
        not_checked: "OpenID Connect callback not checked",
    };

    fn idp(tenant: &Tenant) -> Option<&OidcRp> {
        tenant.oidc.as_deref()
    }

    fn read(_: &State, _: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Result<Callback, Reply> {
        if tenant.oidc.is_none() {
            return Err(super::not_configured(
                tenant,
                seen.lang,
                portero_policy::Idp::Oidc,
            ));
        }
        let query = super::read_query(tenant, seen)?;
        Ok(Callback {
            state: query.owned("state").unwrap_or_default(),
            code: query.owned("code").filter(|c| !c.is_empty()),
            error: query.owned("error"),
            iss: query.owned("iss"),
        })
    }

    fn names(answer: &Callback) -> Option<&str> {
        Some(&answer.state)
    }

    fn takes_unsolicited(_: &OidcRp) -> bool {
        false
    }

    async fn verify<'a>(
        ctx: Ctx<'a>,
        rp: &'a OidcRp,
        answer: &'a Callback,
        started: Option<&'a Started<Pending>>,
    ) -> Result<UnclaimedLogin, Refusal<Refused>> {
        {
            let Some(started) = started else {
                return Err(Refusal::UnknownOrUsed);
            };
            if let Some(error) = &answer.error {
                let error: String = error
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect();
                return Err(Refusal::Verifier(Refused::Provider(error)));
            }
            // RFC 9207: a provider that names itself must name the right one.
            if answer.iss.as_deref().is_some_and(|iss| iss != rp.issuer) {
                return Err(Refusal::Verifier(Refused::WrongIssuerParameter));
            }
            let Some(code) = &answer.code else {
                return Err(Refusal::Verifier(Refused::NoCode));
            };
            let this = (ctx.tenant.name.as_str(), started.id());
            rp.finish(
                &ctx.cfg.server.outbound,
                this,
                code,
                started.data(),
                ctx.now,
            )
            .await
            .map_err(|r| Refusal::Verifier(Refused::Rp(r)))
        }
    }

    fn reason(refusal: &Refusal<Refused>) -> Reason {
        match refusal {
            // The provider's own error code is the client's text: one label for all.
            Refusal::Verifier(Refused::Provider(code)) => Reason {
                label: "provider_error",
                words: Cow::Owned(format!("provider_error_{code}")),
            },
            Refusal::UnknownOrUsed | Refusal::NotStartedHere => {
                Reason::label("unknown_or_used_state")
            }
            Refusal::OfAnotherTenant => Reason::label("state_of_another_tenant"),
            Refusal::NotThisBrowser => Reason::label("state_not_this_browser"),
            Refusal::Replayed => Reason::label("replayed_state"),
            Refusal::Verifier(Refused::WrongIssuerParameter) => {
                Reason::label("wrong_issuer_parameter")
            }
            Refusal::Verifier(Refused::NoCode) => Reason::label("no_code"),
            Refusal::Verifier(Refused::Rp(r)) => Reason::label(r.as_str()),
        }
    }

    fn refused_page(
        tenant: &Tenant,
        lang: Lang,
        _: &Refusal<Refused>,
        _: &Reason,
        _: &Callback,
    ) -> Reply {
        tenant_page(
            tenant,
            lang,
            401,
            "Sign-in refused",
            "The identity provider's answer could not be accepted. Nothing was signed in.",
            &[("/.portero/sso/oidc", "Try again")],
        )
    }
}
