//! External SSO (docs/external-sso.md): a sign-in page of the tenant's
//! own, sent `return_to` and `state`, hands back a signed JWT to
//! `/.portero/jwt/callback` — a sign-in [`Protocol`] whose one-time id is
//! the token's `jti`.

use super::flow::{self, Ctx, Names, Protocol, Reason, Refusal, Started};
use super::pages::query_encode;
use super::{read_query, return_to, tenant_page, Reply};
use crate::auth::external_jwt::{random_state, ExternalSso, Refused};
use crate::auth::UnclaimedLogin;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use portero_policy::Idp;
use std::borrow::Cow;
use std::future::Future;

/// `302` to the tenant's external sign-in page with `return_to` (absolute,
/// so the page knows the host to hand back to) and `state`, starting the
/// sign-in.
pub fn to_external(
    tenant: &Tenant,
    ext: &ExternalSso,
    seen: &Seen<'_>,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let Some(state) = random_state() else {
        return Reply::html(500, super::internal_error_page(seen.lang));
    };
    let absolute = if return_to.starts_with('/') {
        format!("{}{}", seen.origin(), return_to)
    } else {
        return_to.to_string()
    };
    let mut url = ext.redirect_url(&absolute, &state);
    if let Some(hint) = login_hint {
        url.push_str("&login_hint=");
        url.push_str(&query_encode(hint));
    }
    flow::start::<External>(seen, tenant, state, return_to, Nothing {}, &url)
}

/// An external started sign-in remembers nothing besides its `state`,
/// tenant and `return_to`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Nothing {}

/// The hand-back (`GET /.portero/jwt/callback?jwt=…&return_to=…&state=…`)
/// as a sign-in [`Protocol`]. A page that does not return `state` is
/// bound by the browser's cookie alone; an unsolicited hand-back is taken
/// only when the tenant allows it (`allow_idp_initiated`), and only then
/// is the handed-back `return_to` followed.
pub struct External;

/// The hand-back's parameters, kept past the request's borrowed facts.
#[derive(Debug)]
pub struct HandBack {
    token: String,
    /// The `return_to` handed back (sanitised): an unsolicited
    /// hand-back's way on, and the "Try again" link.
    return_to: String,
    state: Option<String>,
}

impl Protocol for External {
    type Idp = ExternalSso;
    type Data = Nothing;
    type Answer = HandBack;
    type Refusal = Refused;
    const NAMES: Names = Names {
        idp: Idp::External,
        kind: "ext",
        id_field: "state",
        cookie: "portero_jwt",
        path: "/.portero/jwt",
        cross_site_post: false,
        cookie_stands_in: true,
        metric: "external_jwt",
        refused: "external SSO token",
        signed_in: "external SSO (jwt)",
        not_checked: "external SSO token not checked",
    };

    fn idp(tenant: &Tenant) -> Option<&ExternalSso> {
        tenant.external_sso.as_ref()
    }

    fn read(
        state: &State,
        cfg: &Config,
        tenant: &Tenant,
        seen: &Seen<'_>,
    ) -> Result<HandBack, Reply> {
        if tenant.external_sso.is_none() {
            return Err(super::signin::start_sso(
                state,
                cfg,
                tenant,
                seen,
                Idp::External,
            ));
        }
        let query = read_query(tenant, seen)?;
        Ok(HandBack {
            token: query.owned("jwt").unwrap_or_default(),
            return_to: return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index)
                .to_string(),
            state: query.owned("state"),
        })
    }

    fn names(answer: &HandBack) -> Option<&str> {
        answer.state.as_deref()
    }

    fn takes_unsolicited(ext: &ExternalSso) -> bool {
        ext.allow_idp_initiated
    }

    fn verify<'a>(
        ctx: Ctx<'a>,
        ext: &'a ExternalSso,
        answer: &'a HandBack,
        _: Option<&'a Started<Nothing>>,
    ) -> impl Future<Output = Result<UnclaimedLogin, Refusal<Refused>>> + Send + 'a {
        let verified = ext
            .verify(&ctx.tenant.name, &answer.token, ctx.now)
            .map_err(Refusal::Verifier);
        std::future::ready(verified)
    }

    fn reason(refusal: &Refusal<Refused>) -> Reason {
        let (label, words) = match refusal {
            Refusal::NotStartedHere => (
                "not_started_in_this_browser",
                "the sign-in was not started in this browser",
            ),
            Refusal::NotThisBrowser => (
                "state_not_this_browser",
                "the sign-in was not started in this browser",
            ),
            Refusal::UnknownOrUsed => (
                "unknown_or_used_sign_in",
                "this sign-in is unknown, expired or was already used",
            ),
            Refusal::OfAnotherTenant => (
                "sign_in_of_another_tenant",
                "the sign-in was started for another site",
            ),
            Refusal::Replayed => ("replayed", "the token was already used"),
            Refusal::Verifier(r) => {
                return Reason {
                    label: r.as_str(),
                    words: Cow::Owned(r.to_string()),
                }
            }
        };
        Reason {
            label,
            words: Cow::Borrowed(words),
        }
    }

    fn refused_page(
        tenant: &Tenant,
        lang: super::i18n::Lang,
        _: &Refusal<Refused>,
        reason: &Reason,
        answer: &HandBack,
    ) -> Reply {
        let retry = format!(
            "/.portero/sso/external?return_to={}",
            query_encode(&answer.return_to)
        );
        tenant_page(
            tenant,
            lang,
            401,
            "Sign-in refused",
            &super::i18n::trf(
                lang,
                "The sign-in could not be completed: {}. Nothing was signed in.",
                &[&reason.words],
            ),
            &[(&retry, "Try again")],
        )
    }

    fn unsolicited_return_to(answer: &HandBack) -> &str {
        &answer.return_to
    }
}
