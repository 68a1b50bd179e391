//! The routing rules of docs/routing.md as a table, plus sweeps over every
//! combination that matters: netmask/no netmask × admin path/not ×
//! super-admin/not × forced external/not × session/none × sso_mode ×
//! browser/not × forward-auth (none, passes redirects, allow-or-deny).

use portero_policy::*;
use std::net::IpAddr;

const INSIDE: &str = "64.233.187.10";
const OUTSIDE: &str = "198.51.100.7";
const ROOT: &str = "root@latincloud.test";
const LEGACY: &str = "legacy-ops@latincloud.test";
const ANA: &str = "ana@latincloud.test";

fn policy(netmasks: bool, forced: bool, mode: SsoMode) -> TenantPolicy {
    TenantPolicy {
        sso_mode: mode,
        netmasks: if netmasks {
            NetmaskSet::new([
                "64.233.187.0/24".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ])
        } else {
            NetmaskSet::default()
        },
        super_admins: [ROOT.to_string()].into(),
        classic_users: [LEGACY.to_string()].into(),
        superadmin_bypass: true,
        admin_paths: PathPrefixes::new(["/admin".to_string()]),
        bypass_paths: PathPrefixes::new(["/static/".to_string(), "/api/".to_string()]),
        forced_external: forced,
        default_idp: Some(Idp::Saml),
    }
}

fn facts<'a>(path: &'a str, ip: &str, session: SessionFact, who: Option<&'a str>) -> Facts<'a> {
    Facts {
        path,
        client_ip: ip.parse::<IpAddr>().unwrap(),
        accepts_html: true,
        session,
        identified_as: who,
        forward_auth: None,
        cookie_conflict: false,
    }
}

use Action::*;
use SessionFact as S;
use SsoMode::*;

struct Row {
    name: &'static str,
    netmasks: bool,
    forced: bool,
    mode: SsoMode,
    path: &'static str,
    ip: &'static str,
    session: SessionFact,
    who: Option<&'static str>,
    action: Action,
    rule: Rule,
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let r = |name, netmasks, forced, mode, path, ip, session, who, action, rule| Row {
        name, netmasks, forced, mode, path, ip, session, who, action, rule,
    };
    vec![
        r("reserved path wins over everything", true, true, AutoRedirect, "/.portero/login", INSIDE, S::None, None, Answer, Rule::ReservedPath),
        r("reserved path root", false, false, LoginPage, "/.portero", OUTSIDE, S::Member, None, Answer, Rule::ReservedPath),
        r("bypass path, forced external", true, true, AutoRedirect, "/static/app.css", INSIDE, S::None, None, ForwardBypass, Rule::BypassPath),
        r("bypass path with a session stays anonymous", false, false, LoginPage, "/api/v1/x", OUTSIDE, S::Member, None, ForwardBypass, Rule::BypassPath),
        r("not a bypass: /static without slash", false, false, AutoRedirect, "/static", OUTSIDE, S::None, None, Sso(Idp::Saml), Rule::NoNetmasks),
        r("valid session forwards", true, true, AutoRedirect, "/", INSIDE, S::Member, None, ForwardIdentity, Rule::ValidSession),
        r("valid session on admin path forwards", true, false, LoginPage, "/admin", OUTSIDE, S::Member, None, ForwardIdentity, Rule::ValidSession),
        r("session without membership: 403", false, false, LoginPage, "/", OUTSIDE, S::NotMember, None, Forbidden, Rule::ValidSession),
        r("session without account picked", false, false, LoginPage, "/", OUTSIDE, S::NoAccountChosen, None, PickAccount, Rule::ValidSession),
        r("session, membership source cannot answer: 503, not 403", false, false, LoginPage, "/", OUTSIDE, S::MembershipUnknown, None, MembersUnavailable, Rule::ValidSession),
        r("membership unknown on an admin path under forced external", true, true, AutoRedirect, "/admin", INSIDE, S::MembershipUnknown, Some(ROOT), MembersUnavailable, Rule::ValidSession),
        r("membership unknown on a bypass path: still anonymous", false, false, LoginPage, "/static/a.css", OUTSIDE, S::MembershipUnknown, None, ForwardBypass, Rule::BypassPath),
        r("forced external over netmask outside", true, true, LoginPage, "/", OUTSIDE, S::None, None, Sso(Idp::External), Rule::ForcedExternalSso),
        r("forced external over netmask inside", true, true, AutoRedirect, "/", INSIDE, S::None, None, Sso(Idp::External), Rule::ForcedExternalSso),
        r("forced external over a super-admin off admin paths", false, true, LoginPage, "/", OUTSIDE, S::None, Some(ROOT), Sso(Idp::External), Rule::ForcedExternalSso),
        r("forced external over a classic user off admin paths", false, true, LoginPage, "/", OUTSIDE, S::None, Some(LEGACY), Sso(Idp::External), Rule::ForcedExternalSso),
        r("forced external: admin path asks who first", true, true, AutoRedirect, "/admin", INSIDE, S::None, None, SignInPage, Rule::AdminPath),
        r("forced external: super-admin on admin path gets classic", true, true, AutoRedirect, "/admin/users", INSIDE, S::None, Some(ROOT), Classic(ClassicReason::SuperAdmin), Rule::AdminPath),
        r("forced external: others on admin path go external", true, true, AutoRedirect, "/admin", OUTSIDE, S::None, Some(ANA), Sso(Idp::External), Rule::ForcedExternalSso),
        r("admin path, unidentified: identifier page even in auto_redirect", false, false, AutoRedirect, "/admin", OUTSIDE, S::None, None, SignInPage, Rule::AdminPath),
        r("admin path, unidentified, buttons only: identifier page", true, false, SsoButtonsOnly, "/admin", INSIDE, S::None, None, SignInPage, Rule::AdminPath),
        r("super-admin on admin path inside netmask: classic", true, false, LoginPage, "/admin", INSIDE, S::None, Some(ROOT), Classic(ClassicReason::SuperAdmin), Rule::AdminPath),
        r("super-admin on admin path outside netmask: classic", true, false, LoginPage, "/admin", OUTSIDE, S::None, Some(ROOT), Classic(ClassicReason::SuperAdmin), Rule::AdminPath),
        r("classic user on admin path: classic", false, false, AutoRedirect, "/admin", OUTSIDE, S::None, Some(LEGACY), Classic(ClassicReason::ClassicUser), Rule::AdminPath),
        r("ordinary user on admin path inside netmask: SSO with hint", true, false, LoginPage, "/admin", INSIDE, S::None, Some(ANA), Sso(Idp::Saml), Rule::Netmasks),
        r("ordinary user on admin path outside netmask: classic", true, false, LoginPage, "/admin", OUTSIDE, S::None, Some(ANA), Classic(ClassicReason::OutsideNetmasks), Rule::Netmasks),
        r("ordinary user on admin path, no netmasks: SSO", false, false, LoginPage, "/admin", OUTSIDE, S::None, Some(ANA), Sso(Idp::Saml), Rule::NoNetmasks),
        r("inside netmask, auto_redirect: straight to IdP", true, false, AutoRedirect, "/", INSIDE, S::None, None, Sso(Idp::Saml), Rule::Netmasks),
        r("inside netmask, login_page: sign-in page", true, false, LoginPage, "/", INSIDE, S::None, None, SignInPage, Rule::Netmasks),
        r("inside netmask, buttons only: sign-in page", true, false, SsoButtonsOnly, "/", INSIDE, S::None, None, SignInPage, Rule::Netmasks),
        r("inside IPv6 netmask", true, false, AutoRedirect, "/", "2001:db8::5", S::None, None, Sso(Idp::Saml), Rule::Netmasks),
        r("IPv4-mapped IPv6 inside netmask", true, false, AutoRedirect, "/", "::ffff:64.233.187.10", S::None, None, Sso(Idp::Saml), Rule::Netmasks),
        r("super-admin inside netmask off admin paths: SSO", true, false, LoginPage, "/", INSIDE, S::None, Some(ROOT), Sso(Idp::Saml), Rule::Netmasks),
        r("classic user inside netmask: classic", true, false, LoginPage, "/", INSIDE, S::None, Some(LEGACY), Classic(ClassicReason::ClassicUser), Rule::Netmasks),
        r("outside every netmask: classic", true, false, AutoRedirect, "/", OUTSIDE, S::None, None, Classic(ClassicReason::OutsideNetmasks), Rule::Netmasks),
        r("outside IPv6: classic", true, false, AutoRedirect, "/", "2001:db9::1", S::None, None, Classic(ClassicReason::OutsideNetmasks), Rule::Netmasks),
        r("no netmasks, auto_redirect: IdP", false, false, AutoRedirect, "/", OUTSIDE, S::None, None, Sso(Idp::Saml), Rule::NoNetmasks),
        r("no netmasks, login_page: sign-in page", false, false, LoginPage, "/", OUTSIDE, S::None, None, SignInPage, Rule::NoNetmasks),
        r("no netmasks, buttons only: sign-in page", false, false, SsoButtonsOnly, "/", OUTSIDE, S::None, None, SignInPage, Rule::NoNetmasks),
        r("no netmasks, super-admin identified: classic", false, false, LoginPage, "/", OUTSIDE, S::None, Some(ROOT), Classic(ClassicReason::SuperAdmin), Rule::NoNetmasks),
        r("no netmasks, classic user identified: classic", false, false, LoginPage, "/", OUTSIDE, S::None, Some(LEGACY), Classic(ClassicReason::ClassicUser), Rule::NoNetmasks),
        r("no netmasks, ordinary user identified: IdP with hint", false, false, LoginPage, "/", OUTSIDE, S::None, Some(ANA), Sso(Idp::Saml), Rule::NoNetmasks),
    ]
}

#[test]
fn every_row_of_the_table() {
    let mut failures = Vec::new();
    for row in rows() {
        let p = policy(row.netmasks, row.forced, row.mode);
        let f = facts(row.path, row.ip, row.session, row.who);
        let d = decide(&p, &f);
        if (d.action, d.rule) != (row.action, row.rule) {
            failures.push(format!(
                "{}: got {:?} by {}, want {:?} by {}",
                row.name, d.action, d.rule, row.action, row.rule
            ));
        }
        // The traced decision is the same decision, and its chain ends in the rule that applied.
        let mut trace = Vec::new();
        assert_eq!(decide_traced(&p, &f, &mut trace), d, "{}", row.name);
        let last = trace.last().unwrap();
        assert!(
            last.applied && last.rule == d.rule,
            "{}: trace {:?}",
            row.name,
            trace
        );
        assert!(
            trace[..trace.len() - 1].iter().all(|s| !s.applied),
            "{}",
            row.name
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn superadmin_bypass_off_means_no_break_glass() {
    let mut p = policy(false, false, LoginPage);
    p.superadmin_bypass = false;
    let d = decide(&p, &facts("/admin", OUTSIDE, S::None, Some(ROOT)));
    assert_eq!(d.action, Sso(Idp::Saml));
    let d = decide(&p, &facts("/", OUTSIDE, S::None, Some(ROOT)));
    assert_eq!(d.action, Sso(Idp::Saml));
    // Forced external then covers the admin paths too.
    p.forced_external = true;
    let d = decide(&p, &facts("/admin", OUTSIDE, S::None, None));
    assert_eq!(
        (d.action, d.rule),
        (Sso(Idp::External), Rule::ForcedExternalSso)
    );
    // Classic users are not super-admins: they keep the classic login where they can identify.
    p.forced_external = false;
    let d = decide(&p, &facts("/", OUTSIDE, S::None, Some(LEGACY)));
    assert_eq!(d.action, Classic(ClassicReason::ClassicUser));
}

#[test]
fn tenant_without_idp_gets_an_error_page_not_a_loop() {
    let mut p = policy(false, false, AutoRedirect);
    p.default_idp = None;
    assert_eq!(
        decide(&p, &facts("/", OUTSIDE, S::None, None)).action,
        NoIdp
    );
    // The super-admin still gets in.
    assert_eq!(
        decide(&p, &facts("/admin", OUTSIDE, S::None, Some(ROOT))).action,
        Classic(ClassicReason::SuperAdmin)
    );
}

const PATHS: [&str; 4] = ["/", "/admin", "/admin/x", "/billing"];
const IPS: [&str; 3] = [INSIDE, OUTSIDE, "2001:db8::1"];
const WHO: [Option<&str>; 4] = [None, Some(ROOT), Some(LEGACY), Some(ANA)];
const SESSIONS: [SessionFact; 5] = [
    S::None,
    S::Member,
    S::NotMember,
    S::NoAccountChosen,
    S::MembershipUnknown,
];
const FORWARD_AUTH: [Option<ForwardAuth>; 3] = [
    None,
    Some(ForwardAuth::PassesRedirects),
    Some(ForwardAuth::AllowOrDeny),
];
const MODES: [SsoMode; 3] = [AutoRedirect, LoginPage, SsoButtonsOnly];

/// Runs `check` over every combination.
fn sweep(mut check: impl FnMut(&TenantPolicy, &Facts<'_>, Decision)) {
    for netmasks in [false, true] {
        for forced in [false, true] {
            for mode in MODES {
                for bypass in [false, true] {
                    let mut p = policy(netmasks, forced, mode);
                    p.superadmin_bypass = bypass;
                    for path in PATHS {
                        for ip in IPS {
                            for session in SESSIONS {
                                for who in WHO {
                                    for html in [true, false] {
                                        for fa in FORWARD_AUTH {
                                            let mut f = facts(path, ip, session, who);
                                            f.accepts_html = html;
                                            f.forward_auth = fa;
                                            let d = decide(&p, &f);
                                            check(&p, &f, d);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_valid_session_always_decides() {
    sweep(|_, f, d| {
        if f.session != S::None {
            assert_eq!(d.rule, Rule::ValidSession, "{f:?}");
        } else {
            assert_ne!(d.rule, Rule::ValidSession, "{f:?}");
        }
    });
}

#[test]
fn forced_external_leaves_only_the_super_admin_door() {
    sweep(|p, f, d| {
        if !p.forced_external || f.session != S::None {
            return;
        }
        let door = p.superadmin_bypass && p.admin_paths.matches(f.path);
        match d.action {
            Sso(Idp::External) | Unauthorized => {}
            SignInPage => assert!(door && f.identified_as.is_none(), "{f:?}"),
            Classic(_) => assert!(
                door,
                "classic login under forced SSO off the admin door: {f:?}"
            ),
            other => panic!("forced external SSO gave {other:?} for {f:?}"),
        }
    });
}

#[test]
fn break_glass_super_admin_is_never_locked_out() {
    sweep(|p, f, d| {
        if p.superadmin_bypass
            && f.session == S::None
            && f.identified_as == Some(ROOT)
            && p.admin_paths.matches(f.path)
        {
            assert_eq!(d.action, Classic(ClassicReason::SuperAdmin), "{f:?}");
        }
    });
}

#[test]
fn non_browsers_never_get_a_sign_in_redirect() {
    sweep(|_, f, d| {
        if !f.follows_redirects() {
            assert!(
                !matches!(d.action, SignInPage | Sso(_) | NoIdp),
                "{f:?} → {d:?}"
            );
        }
    });
}

#[test]
fn an_email_alone_routes_away_from_sso_only_for_super_admins_and_classic_users() {
    sweep(|p, f, d| {
        if let Classic(reason) = d.action {
            match reason {
                ClassicReason::SuperAdmin => assert_eq!(f.identified_as, Some(ROOT)),
                ClassicReason::ClassicUser => assert_eq!(f.identified_as, Some(LEGACY)),
                ClassicReason::OutsideNetmasks => {
                    assert!(!p.netmasks.is_empty() && !p.netmasks.contains(f.client_ip))
                }
            }
        }
    });
}

#[test]
fn two_readings_of_a_path_route_alike_only_under_the_same_rules() {
    let p = policy(true, false, SsoMode::LoginPage);
    // `;` parameters dropped by servlet containers, kept by others.
    assert!(p.routes_alike("/static/a;v=1.css", "/static/a.css"));
    assert!(p.routes_alike("/home;jsessionid=1/x", "/home/x"));
    assert!(!p.routes_alike("/admin;jsessionid=1/users", "/admin/users"));
    assert!(!p.routes_alike("/static;x/private", "/static/private"));
    assert!(!p.routes_alike("/.portero;x/login", "/.portero/login"));
    // Alike readings decide alike.
    for (a, b) in [("/static/a;v=1.css", "/static/a.css"), ("/x;y", "/x")] {
        for session in [SessionFact::None, SessionFact::Member] {
            assert_eq!(
                decide(&p, &facts(a, INSIDE, session, None)).action,
                decide(&p, &facts(b, INSIDE, session, None)).action
            );
        }
    }
}

/// Forward-auth (`/.portero/auth`): the proxy that asks carries back only
/// allow (`2xx`), deny (`401`, `403`) and, for Traefik, a redirect.
struct FaRow {
    name: &'static str,
    forced: bool,
    idp: Option<Idp>,
    path: &'static str,
    session: SessionFact,
    html: bool,
    via: Option<ForwardAuth>,
    action: Action,
    rule: Rule,
}

#[rustfmt::skip]
fn forward_auth_rows() -> Vec<FaRow> {
    let r = |name, forced, idp, path, session, html, via, action, rule| FaRow {
        name, forced, idp, path, session, html, via, action, rule,
    };
    const PASSES: Option<ForwardAuth> = Some(ForwardAuth::PassesRedirects);
    const ALLOW_DENY: Option<ForwardAuth> = Some(ForwardAuth::AllowOrDeny);
    vec![
        r("traefik, browser: 302 to the IdP", false, Some(Idp::Saml), "/", S::None, true, PASSES, Sso(Idp::Saml), Rule::NoNetmasks),
        r("traefik, browser, admin path: 302 to the sign-in page", false, Some(Idp::Saml), "/admin", S::None, true, PASSES, SignInPage, Rule::AdminPath),
        r("traefik, API client: 401", false, Some(Idp::Saml), "/", S::None, false, PASSES, Unauthorized, Rule::NoNetmasks),
        r("traefik, no IdP: 401, not the 503 page", false, None, "/", S::None, true, PASSES, Unauthorized, Rule::NoNetmasks),
        r("direct, no IdP: the 503 page", false, None, "/", S::None, true, None, NoIdp, Rule::NoNetmasks),
        r("nginx, browser: 401 (auth_request cannot follow a redirect)", false, Some(Idp::Saml), "/", S::None, true, ALLOW_DENY, Unauthorized, Rule::NoNetmasks),
        r("nginx, browser, admin path: 401", false, Some(Idp::Saml), "/admin", S::None, true, ALLOW_DENY, Unauthorized, Rule::AdminPath),
        r("nginx, browser, forced external: 401", true, Some(Idp::Saml), "/", S::None, true, ALLOW_DENY, Unauthorized, Rule::ForcedExternalSso),
        r("traefik, browser, forced external: 302 external", true, Some(Idp::Saml), "/", S::None, true, PASSES, Sso(Idp::External), Rule::ForcedExternalSso),
        r("nginx, member: allowed", false, Some(Idp::Saml), "/", S::Member, false, ALLOW_DENY, ForwardIdentity, Rule::ValidSession),
        r("nginx, not a member: 403", false, Some(Idp::Saml), "/", S::NotMember, true, ALLOW_DENY, Forbidden, Rule::ValidSession),
        r("nginx, membership unknown: members unavailable", false, Some(Idp::Saml), "/", S::MembershipUnknown, true, ALLOW_DENY, MembersUnavailable, Rule::ValidSession),
        r("nginx, no account picked", false, Some(Idp::Saml), "/", S::NoAccountChosen, true, ALLOW_DENY, PickAccount, Rule::ValidSession),
        r("nginx, bypass path: allowed anonymously", false, None, "/api/x", S::None, false, ALLOW_DENY, ForwardBypass, Rule::BypassPath),
    ]
}

#[test]
fn forward_auth_rows_of_the_table() {
    let mut failures = Vec::new();
    for row in forward_auth_rows() {
        let mut p = policy(false, row.forced, AutoRedirect);
        p.default_idp = row.idp;
        let mut f = facts(row.path, OUTSIDE, row.session, None);
        f.accepts_html = row.html;
        f.forward_auth = row.via;
        let d = decide(&p, &f);
        if (d.action, d.rule) != (row.action, row.rule) {
            failures.push(format!(
                "{}: got {:?} by {}, want {:?} by {}",
                row.name, d.action, d.rule, row.action, row.rule
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn forward_auth_never_gets_a_page_its_proxy_cannot_pass_on() {
    sweep(|_, f, d| match f.forward_auth {
        None => {}
        Some(ForwardAuth::PassesRedirects) => assert_ne!(d.action, NoIdp, "{f:?}"),
        Some(ForwardAuth::AllowOrDeny) => assert!(
            !matches!(d.action, SignInPage | Sso(_) | NoIdp),
            "{f:?} → {d:?}"
        ),
    });
}

#[test]
fn forward_auth_decides_like_a_direct_request_but_for_the_reply() {
    // The same rule applies either way; only what the proxy can carry back differs.
    sweep(|p, f, d| {
        let direct = decide(
            p,
            &Facts {
                forward_auth: None,
                ..*f
            },
        );
        assert_eq!(direct.rule, d.rule, "{f:?}");
        if d.action != direct.action {
            assert_eq!(d.action, Unauthorized, "{f:?}: {direct:?} → {d:?}");
        }
    });
}

#[test]
fn membership_unknown_is_never_a_refusal_or_an_entry() {
    sweep(|p, f, d| {
        if f.session == S::MembershipUnknown && !p.bypass_paths.matches(f.path) {
            assert_eq!(
                (d.action, d.rule),
                (MembersUnavailable, Rule::ValidSession),
                "{f:?}"
            );
        }
    });
}

/// A sign-in cookie sent twice (one perhaps planted by a sibling site):
/// wherever the rules would send someone to sign in, they get the page
/// that says how to clear the cookies instead (a sign-in would not help),
/// by the same rule; every other decision stands.
#[test]
fn a_conflicting_cookie_replaces_only_the_ways_to_sign_in() {
    sweep(|p, f, d| {
        let conflicted = decide(
            p,
            &Facts {
                cookie_conflict: true,
                ..*f
            },
        );
        match d.action {
            SignInPage | Sso(_) => {
                assert_eq!(conflicted.action, CookieConflict, "{f:?}");
                assert_eq!(conflicted.rule, d.rule, "{f:?}");
            }
            _ => assert_eq!(conflicted, d, "{f:?}"),
        }
    });
}
