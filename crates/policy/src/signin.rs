//! What Portero's own sign-in page offers, and where a started single
//! sign-on goes: the routing rules of the page, beside [`decide`]'s.

use crate::decision::{decide, Facts, Idp, Rule, SessionFact, SsoMode, TenantPolicy};

/// What the sign-in page offers for one request, or where it sends the
/// visitor instead of showing itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOptions {
    /// Skip the page and go straight to this identity provider (forced
    /// external SSO, rule 4, wherever rule 5's break-glass does not apply).
    pub straight_to: Option<Idp>,
    /// Whether the page has the e-mail field (identifier first).
    pub email_field: bool,
    /// A button per identity provider, in this order.
    pub idps: Vec<Idp>,
}

/// The sign-in page for the request it was sent from: `facts` are that
/// request's (its path is the page's `return_to` target; the session is
/// taken as none, since a signed-in visitor is sent back instead), and
/// `configured` the tenant's identity providers in the order of their
/// buttons.
///
/// * Forced external SSO (rule 4) skips the page, except on an admin path
///   with `superadmin_bypass` on, where rule 5 asks who this is first; its
///   one button is then the external sign-in page.
/// * The e-mail field is shown unless `sso_mode` is `sso_buttons_only`, but
///   always on admin paths (rule 5 is identifier-first) and when there is
///   no button to press.
pub fn sign_in_options(
    policy: &TenantPolicy,
    configured: &[Idp],
    facts: &Facts<'_>,
) -> SignInOptions {
    let facts = Facts {
        session: SessionFact::None,
        ..*facts
    };
    let d = decide(policy, &facts);
    let straight_to = (d.rule == Rule::ForcedExternalSso).then_some(Idp::External);
    let idps = if policy.forced_external {
        vec![Idp::External]
    } else {
        configured.to_vec()
    };
    let email_field = policy.sso_mode != SsoMode::SsoButtonsOnly
        || policy.admin_paths.matches(facts.path)
        || idps.is_empty();
    SignInOptions {
        straight_to,
        email_field,
        idps,
    }
}

/// Where a single sign-on Portero starts goes: forced external SSO
/// overrides every choice (a button pressed included); otherwise the
/// provider `chosen`, else the tenant's default. `None`: the tenant has no
/// identity provider.
pub fn sso_destination(policy: &TenantPolicy, chosen: Option<Idp>) -> Option<Idp> {
    if policy.forced_external {
        Some(Idp::External)
    } else {
        chosen.or(policy.default_idp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NetmaskSet, PathPrefixes};

    fn policy(mode: SsoMode, forced: bool, default_idp: Option<Idp>) -> TenantPolicy {
        TenantPolicy {
            sso_mode: mode,
            netmasks: NetmaskSet::default(),
            super_admins: ["root@example.test".to_string()].into(),
            classic_users: Default::default(),
            superadmin_bypass: true,
            admin_paths: PathPrefixes::new(["/admin".to_string()]),
            bypass_paths: PathPrefixes::default(),
            forced_external: forced,
            default_idp,
        }
    }

    fn facts(path: &str) -> Facts<'_> {
        Facts {
            path,
            client_ip: [192, 0, 2, 1].into(),
            accepts_html: true,
            session: SessionFact::None,
            identified_as: None,
            forward_auth: None,
            cookie_conflict: false,
        }
    }

    const BOTH: [Idp; 2] = [Idp::Saml, Idp::Oidc];

    #[test]
    fn login_page_offers_the_field_and_every_provider() {
        let p = policy(SsoMode::LoginPage, false, Some(Idp::Saml));
        let o = sign_in_options(&p, &BOTH, &facts("/"));
        assert_eq!(
            o,
            SignInOptions {
                straight_to: None,
                email_field: true,
                idps: BOTH.to_vec(),
            }
        );
    }

    #[test]
    fn buttons_only_hides_the_field_except_on_admin_paths() {
        let p = policy(SsoMode::SsoButtonsOnly, false, Some(Idp::Saml));
        let o = sign_in_options(&p, &BOTH, &facts("/billing"));
        assert!(!o.email_field);
        assert_eq!((o.straight_to, o.idps), (None, BOTH.to_vec()));
        // Rule 5 is identifier-first: the admin path always asks who this is.
        let o = sign_in_options(&p, &BOTH, &facts("/admin/users"));
        assert!(o.email_field);
        assert_eq!(o.idps, BOTH.to_vec());
    }

    #[test]
    fn forced_external_skips_the_page_but_on_the_admin_door() {
        let mut p = policy(SsoMode::LoginPage, true, Some(Idp::Saml));
        let all = [Idp::Saml, Idp::External];
        let o = sign_in_options(&p, &all, &facts("/"));
        assert_eq!(o.straight_to, Some(Idp::External));
        assert_eq!(o.idps, vec![Idp::External]);
        // The admin path with superadmin_bypass: the page, with the field
        // and the external button only.
        let o = sign_in_options(&p, &all, &facts("/admin"));
        assert_eq!(
            o,
            SignInOptions {
                straight_to: None,
                email_field: true,
                idps: vec![Idp::External],
            }
        );
        // Without break-glass the admin path is forced too.
        p.superadmin_bypass = false;
        let o = sign_in_options(&p, &all, &facts("/admin"));
        assert_eq!(o.straight_to, Some(Idp::External));
        // Forced even in buttons-only mode: no field off the admin paths.
        p = policy(SsoMode::SsoButtonsOnly, true, Some(Idp::External));
        let o = sign_in_options(&p, &all, &facts("/admin"));
        assert_eq!((o.straight_to, o.email_field), (None, true));
    }

    #[test]
    fn a_session_in_the_facts_does_not_change_the_page() {
        let p = policy(SsoMode::LoginPage, true, Some(Idp::External));
        let mut f = facts("/");
        f.session = SessionFact::Member;
        assert_eq!(
            sign_in_options(&p, &[Idp::External], &f).straight_to,
            Some(Idp::External)
        );
    }

    #[test]
    fn without_a_provider_the_page_is_the_field_alone() {
        for mode in [SsoMode::LoginPage, SsoMode::SsoButtonsOnly] {
            let p = policy(mode, false, None);
            let o = sign_in_options(&p, &[], &facts("/"));
            assert_eq!(
                o,
                SignInOptions {
                    straight_to: None,
                    email_field: true,
                    idps: vec![],
                }
            );
        }
    }

    #[test]
    fn a_started_sso_goes_external_when_forced() {
        let mut p = policy(SsoMode::LoginPage, false, Some(Idp::Saml));
        assert_eq!(sso_destination(&p, Some(Idp::Oidc)), Some(Idp::Oidc));
        assert_eq!(sso_destination(&p, None), Some(Idp::Saml));
        p.default_idp = None;
        assert_eq!(sso_destination(&p, None), None);
        p.forced_external = true;
        assert_eq!(sso_destination(&p, Some(Idp::Saml)), Some(Idp::External));
        assert_eq!(sso_destination(&p, None), Some(Idp::External));
    }
}
