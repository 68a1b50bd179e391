//! The people's side of accounts on Portero's own pages, through the real
//! binary, a real SQLite store and a real SMTP server (aiosmtpd): an owner
//! invites a designer with `technical` only, the mail arrives, the
//! designer accepts from its link and enters with `technical`; what a
//! member may not do is refused on the page in plain words (inviting
//! without `invite`, leaving an account empty, acting on an account they
//! are not in, forms from another site); re-sent and cancelled invitations
//! stop the old links; a mail server that is down loses no invitation.
use crate::common::mail::MailCatcher;
use crate::common::*;
use serde_json::Value;

const TENANT: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";
const ORIGIN: &str = "http://panel.libros.test";
const MEMBERS: &str = "/.portero/accounts/members";

/// Portero with `[server.smtp]` pointing at `port` (plain SMTP on this machine).
fn start(smtp_port: &str) -> (Upstream, Portero) {
    let up = Upstream::start();
    let smtp = format!(
        "\n[server.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nfrom = \"Libros <no-reply@libros.test>\"\ntimeout = \"2s\"\n"
    );
    let p = Portero::start_with(&format!("{SERVER_AND_SESSION}{smtp}\n{TENANT}"), &up, &[]);
    // The owner, seeded by the operator.
    let (status, body) = api(
        &p,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "ana@libros.test"),
            ("permissions", "admin"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    (up, p)
}

fn api(p: &Portero, form: &[(&str, &str)]) -> (u16, Value) {
    let r = post_form("127.0.0.1", "/tenants/libros/members", form).send(p.admin);
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// A form on the members page, sent from this site as `session`.
fn act(p: &Portero, session: &str, form: &[(&str, &str)]) -> Resp {
    p.send(
        post_form(HOST, MEMBERS, form)
            .html()
            .header("Origin", ORIGIN)
            .cookie("portero_session", session),
    )
}

/// The invitation link's path in a mail's text part.
fn link_in(text: &str) -> String {
    let start = text.find(ORIGIN).expect("no absolute link in the mail") + ORIGIN.len();
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// Accepts the invitation at `link` as `session`.
fn accept(p: &Portero, session: &str, link: &str) -> Resp {
    let token = query_map(link)["token"].clone();
    p.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("token", &token), ("decision", "accept")],
        )
        .html()
        .header("Origin", ORIGIN)
        .cookie("portero_session", session),
    )
}

/// What the panel receives when `session` enters `account`.
fn enter(p: &Portero, session: &str, account: &str) -> Result<Received, u16> {
    let r = p.send(
        post_form(
            HOST,
            "/.portero/accounts",
            &[("account", account), ("return_to", "/")],
        )
        .header("Origin", ORIGIN)
        .cookie("portero_session", session),
    );
    if r.status != 302 {
        return Err(r.status);
    }
    let chosen = r.set_cookie("portero_session").unwrap();
    let got = p.send(get(HOST, "/").cookie("portero_session", &chosen));
    if got.forwarded() {
        Ok(got.received())
    } else {
        Err(got.status)
    }
}

#[test]
fn an_owner_invites_a_designer_who_accepts_enters_and_leaves() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");

    // The accounts page leads to the members page; the page offers each
    // permission with its description.
    let accounts = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &ana),
    );
    assert!(accounts.body.contains("Administrator"), "{}", accounts.body);
    assert!(accounts
        .body
        .contains("/.portero/accounts/members?account=libros.test"));
    let page = p.send(
        get(HOST, &format!("{MEMBERS}?account=libros.test"))
            .html()
            .cookie("portero_session", &ana),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("ana@libros.test") && page.body.contains("Domains, FTP"));

    // Invited with technical only: the mail arrives with an absolute link.
    let r = act(
        &p,
        &ana,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "dee@libros.test"),
            ("p_technical", "1"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("An invitation was sent to dee@libros.test"),
        "{}",
        r.body
    );
    let mails = mail.wait_for(1);
    assert_eq!(mails[0].rcpt_tos, vec!["dee@libros.test".to_string()]);
    let text = mails[0].text.clone().unwrap();
    assert!(
        text.contains("libros.test") && text.contains("Technical"),
        "{text}"
    );
    let link = link_in(&text);

    // The designer accepts and enters with technical.
    let dee = sign_in(&p, HOST, "libros", "dee@libros.test");
    let page = p.send(get(HOST, &link).html().cookie("portero_session", &dee));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(accept(&p, &dee, &link).status, 200);
    let got = enter(&p, &dee, "libros.test").unwrap();
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));

    // Without invite, the designer neither sees the members page nor invites.
    let page = p.send(
        get(HOST, &format!("{MEMBERS}?account=libros.test"))
            .html()
            .cookie("portero_session", &dee),
    );
    assert_eq!(page.status, 403);
    let r = act(
        &p,
        &dee,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "eve@libros.test"),
            ("p_commercial", "1"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("Inviting needs the Invite permission"),
        "{}",
        r.body
    );
    assert_eq!(mail.mails().len(), 1, "no mail for a refused invitation");

    // The designer leaves, and cannot enter any more.
    let confirm = p.send(
        get(HOST, "/.portero/accounts/leave?account=libros.test")
            .html()
            .cookie("portero_session", &dee),
    );
    assert!(
        confirm.body.contains("another member can invite you again"),
        "{}",
        confirm.body
    );
    let r = act(&p, &dee, &[("action", "leave"), ("account", "libros.test")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("You left libros.test"), "{}", r.body);
    assert_eq!(enter(&p, &dee, "libros.test").unwrap_err(), 403);

    // The owner, now the last member, may not leave.
    let r = act(&p, &ana, &[("action", "leave"), ("account", "libros.test")]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("An account cannot be left empty"),
        "{}",
        r.body
    );
    assert!(enter(&p, &ana, "libros.test").is_ok());
    let audit = p.audit();
    assert!(
        audit.contains(
            "dee@libros.test removed from libros.test (by dee@libros.test, accounts page)"
        ),
        "{audit}"
    );
}

#[test]
fn permissions_are_changed_within_ones_own_and_shrink_at_the_next_request() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let (status, _) = api(
        &p,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "bea@libros.test"),
            ("permissions", "invite,technical,commercial"),
        ],
    );
    assert_eq!(status, 200);
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    let bea = sign_in(&p, HOST, "libros", "bea@libros.test");
    let before = enter(&p, &bea, "libros.test").unwrap();
    assert_eq!(
        before.one("x-portero-permissions"),
        Some("commercial,invite,technical")
    );
    // Bea may not grant what she lacks (sublogin), even to herself.
    let r = act(
        &p,
        &bea,
        &[
            ("action", "set"),
            ("account", "libros.test"),
            ("user", "bea@libros.test"),
            ("p_sublogin", "1"),
            ("p_invite", "1"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("you do not hold: Client accounts"),
        "{}",
        r.body
    );
    // Ana takes commercial away: Bea's very next request lacks it.
    let r = act(
        &p,
        &ana,
        &[
            ("action", "set"),
            ("account", "libros.test"),
            ("user", "bea@libros.test"),
            ("p_invite", "1"),
            ("p_technical", "1"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = enter(&p, &bea, "libros.test").unwrap();
    assert_eq!(after.one("x-portero-permissions"), Some("invite,technical"));
}

/// A member who may invite but is no administrator: the invite form
/// offers only what they hold (the rest disabled, with why), and an
/// invitation with nothing ticked is for what they hold — not for
/// Administrator, which they could not grant.
#[test]
fn an_invitation_with_nothing_ticked_offers_what_the_inviter_holds() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let (status, _) = api(
        &p,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "ines@libros.test"),
            ("permissions", "invite,technical"),
        ],
    );
    assert_eq!(status, 200);
    let ines = sign_in(&p, HOST, "libros", "ines@libros.test");
    let page = p.send(
        get(HOST, &format!("{MEMBERS}?account=libros.test"))
            .html()
            .cookie("portero_session", &ines),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(
            "Without a choice, the invited person gets what you hold: Invite, Technical."
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("gets Administrator"), "{}", page.body);
    for (name, disabled) in [
        ("admin", true),
        ("commercial", true),
        ("invite", false),
        ("sublogin", true),
        ("technical", false),
    ] {
        let tag = format!("name=\"p_{name}\" value=\"1\" disabled");
        assert_eq!(
            page.body.contains(&tag),
            disabled,
            "p_{name}: {}",
            page.body
        );
    }
    let r = act(
        &p,
        &ines,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "joel@libros.test"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, listed) = api_get(&p, "libros.test");
    let joel = listed["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "joel@libros.test")
        .cloned()
        .unwrap();
    assert_eq!(joel["permissions"], "invite,technical", "{joel:#}");
    let text = mail.wait_for(1)[0].text.clone().unwrap();
    assert!(text.contains("Invite, Technical"), "{text}");
}

/// `GET /tenants/libros/members?account=…` on the admin API.
fn api_get(p: &Portero, account: &str) -> (u16, Value) {
    let r = get(
        "127.0.0.1",
        &format!("/tenants/libros/members?account={account}"),
    )
    .send(p.admin);
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

#[test]
fn resent_and_cancelled_invitations_stop_their_old_links() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    let invite = [
        ("action", "invite"),
        ("account", "libros.test"),
        ("email", "max@libros.test"),
    ];
    assert_eq!(act(&p, &ana, &invite).status, 200);
    let first = link_in(mail.wait_for(1)[0].text.as_deref().unwrap());
    let listed = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    let id = listed["invitations"][0]["id"].as_str().unwrap().to_string();
    // The default is admin (everything).
    assert_eq!(
        listed["invitations"][0]["permissions"],
        "admin,commercial,invite,sublogin,technical"
    );

    let r = act(
        &p,
        &ana,
        &[
            ("action", "resend"),
            ("account", "libros.test"),
            ("id", &id),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let second = link_in(mail.wait_for(2)[1].text.as_deref().unwrap());
    assert_ne!(first, second);
    let max = sign_in(&p, HOST, "libros", "max@libros.test");
    assert_eq!(
        p.send(get(HOST, &first).html().cookie("portero_session", &max))
            .status,
        410
    );

    let r = act(
        &p,
        &ana,
        &[
            ("action", "cancel"),
            ("account", "libros.test"),
            ("id", &id),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        p.send(get(HOST, &second).html().cookie("portero_session", &max))
            .status,
        410
    );
    assert_ne!(accept(&p, &max, &second).status, 200);
    assert_eq!(enter(&p, &max, "libros.test").unwrap_err(), 403);
}

#[test]
fn forms_from_elsewhere_and_accounts_one_is_not_in_change_nothing() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let (status, _) = api(
        &p,
        &[
            ("action", "add"),
            ("account", "other.test"),
            ("user", "olga@libros.test"),
            ("permissions", "admin"),
        ],
    );
    assert_eq!(status, 200);
    let olga = sign_in(&p, HOST, "libros", "olga@libros.test");
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    // Olga, admin of another account, acts on libros.test.
    let page = p.send(
        get(HOST, &format!("{MEMBERS}?account=libros.test"))
            .html()
            .cookie("portero_session", &olga),
    );
    assert_eq!(page.status, 403);
    for form in [
        vec![
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "x@libros.test"),
        ],
        vec![
            ("action", "remove"),
            ("account", "libros.test"),
            ("user", "ana@libros.test"),
        ],
        vec![
            ("action", "set"),
            ("account", "libros.test"),
            ("user", "ana@libros.test"),
            ("p_technical", "1"),
        ],
        vec![("action", "leave"), ("account", "libros.test")],
    ] {
        let r = act(&p, &olga, &form);
        assert!(
            matches!(r.status, 403 | 404),
            "{form:?}: {} {}",
            r.status,
            r.body
        );
    }
    // Olga cannot cancel an invitation of libros.test by its id through her own account.
    assert_eq!(
        act(
            &p,
            &ana,
            &[
                ("action", "invite"),
                ("account", "libros.test"),
                ("email", "y@libros.test")
            ]
        )
        .status,
        200
    );
    let listed = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    let id = listed["invitations"][0]["id"].as_str().unwrap().to_string();
    let r = act(
        &p,
        &olga,
        &[("action", "cancel"), ("account", "other.test"), ("id", &id)],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // A form posted from another site, with Ana's cookie.
    let r = p.send(
        post_form(
            HOST,
            MEMBERS,
            &[
                ("action", "leave"),
                ("account", "libros.test"),
                ("p_x", "1"),
            ],
        )
        .html()
        .header("Origin", "http://evil.test")
        .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 403);
    // A field sent twice is refused before anything is done.
    let r = p.send(
        post_form(
            HOST,
            MEMBERS,
            &[
                ("action", "remove"),
                ("account", "libros.test"),
                ("user", "ana@libros.test"),
                ("user", "olga@libros.test"),
            ],
        )
        .html()
        .header("Origin", ORIGIN)
        .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 400);
    assert!(enter(&p, &ana, "libros.test").is_ok());
    assert!(enter(&p, &olga, "libros.test").is_err());
}

#[test]
fn a_mail_server_that_is_down_loses_no_invitation() {
    let closed = free_port();
    let (_up, p) = start(&closed.to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    let r = act(
        &p,
        &ana,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "zoe@libros.test"),
            ("p_technical", "1"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("could not be sent"), "{}", r.body);
    assert!(
        r.body
            .contains("http://panel.libros.test/.portero/invitations?token="),
        "{}",
        r.body
    );
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("portero_mail_failures_total{tenant=\"libros\"} 1")),
        "{metrics}"
    );
    // The invitation is kept: its link works.
    let listed = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    assert!(
        listed.body.contains("zoe@libros.test") && listed.body.contains("pending"),
        "{}",
        listed.body
    );
}

#[test]
fn a_member_cannot_turn_portero_into_a_mail_cannon() {
    let mail = MailCatcher::start();
    let (_up, p) = start(&mail.port.to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    for i in 0..20 {
        let email = format!("guest{i}@example.test");
        let r = act(
            &p,
            &ana,
            &[
                ("action", "invite"),
                ("account", "libros.test"),
                ("email", &email),
            ],
        );
        assert_eq!(r.status, 200, "{i}: {}", r.body);
    }
    let r = act(
        &p,
        &ana,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "one-more@example.test"),
        ],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("invitations in the last hour"),
        "{}",
        r.body
    );
    assert_eq!(mail.wait_for(20).len(), 20);
    // The operator (the panel without an actor) is not held to it.
    let (status, _) = api(
        &p,
        &[
            ("action", "invite"),
            ("account", "libros.test"),
            ("email", "by-operator@example.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(status, 200);
}

/// The value of the first hidden input `name` on a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// An invitation decided from the accounts page's list (by its id).
fn decide(p: &Portero, session: &str, origin: &str, id: &str, decision: &str) -> Resp {
    p.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("id", id), ("decision", decision)],
        )
        .html()
        .header("Origin", origin)
        .cookie("portero_session", session),
    )
}

/// The state of the invitation to `email` on libros.test (admin API).
fn invitation_state(p: &Portero, email: &str) -> (String, String) {
    let listed = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    let inv = listed["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == email)
        .unwrap_or_else(|| panic!("no invitation to {email}: {listed}"));
    (
        inv["id"].as_str().unwrap().to_string(),
        inv["state"].as_str().unwrap().to_string(),
    )
}

#[test]
fn invitations_received_are_listed_and_decided_only_by_their_person() {
    let (_up, p) = start(&free_port().to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    for (email, perm) in [
        ("dee@libros.test", "p_technical"),
        ("eve@libros.test", "p_commercial"),
    ] {
        let r = act(
            &p,
            &ana,
            &[
                ("action", "invite"),
                ("account", "libros.test"),
                ("email", email),
                (perm, "1"),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let (eve_id, _) = invitation_state(&p, "eve@libros.test");

    // Dee sees her invitation (not Eve's): account, permissions in words,
    // who sent it, until when, and the buttons.
    let dee = sign_in(&p, HOST, "libros", "dee@libros.test");
    let page = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &dee),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    for want in [
        "Invitations for you",
        "<strong>libros.test</strong> — Technical",
        "Invited by ana@libros.test; you can accept until ",
        " UTC",
        ">Accept</button>",
        ">Reject</button>",
        "You take part in no account",
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    assert!(!page.body.contains("Commercial"), "{}", page.body);
    let dee_id = hidden(&page.body, "id");
    assert_ne!(dee_id, eve_id);
    // In Spanish too.
    let es = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .header("Accept-Language", "es")
            .cookie("portero_session", &dee),
    );
    assert!(
        es.body.contains("Invitaciones para usted")
            && es
                .body
                .contains("Invitación de ana@libros.test; puede aceptarla hasta "),
        "{}",
        es.body
    );

    // Eve's invitation, by its id, as Dee: refused, nothing changes.
    for decision in ["accept", "reject"] {
        let r = decide(&p, &dee, ORIGIN, &eve_id, decision);
        assert_eq!(r.status, 403, "{decision}: {}", r.body);
        assert!(r.body.contains("no such invitation for you"), "{}", r.body);
    }
    assert_eq!(invitation_state(&p, "eve@libros.test").1, "pending");
    // Her own, from another site: refused, nothing changes.
    let r = decide(&p, &dee, "http://evil.test", &dee_id, "accept");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(invitation_state(&p, "dee@libros.test").1, "pending");
    assert_eq!(enter(&p, &dee, "libros.test").unwrap_err(), 403);
    // Named both ways at once: refused.
    let r = p.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("id", &dee_id), ("token", "x"), ("decision", "accept")],
        )
        .html()
        .header("Origin", ORIGIN)
        .cookie("portero_session", &dee),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Accepted from the list: Dee enters with the invited permissions.
    let r = decide(&p, &dee, ORIGIN, &dee_id, "accept");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("You are now a member of libros.test (Technical)"),
        "{}",
        r.body
    );
    let got = enter(&p, &dee, "libros.test").unwrap();
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));
    assert_eq!(invitation_state(&p, "dee@libros.test").1, "accepted");
    // Used once: accepting again is refused.
    assert_eq!(decide(&p, &dee, ORIGIN, &dee_id, "accept").status, 409);
    let page = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &dee),
    );
    assert!(!page.body.contains("Invitations for you"), "{}", page.body);

    // Eve rejects hers from the list.
    let eve = sign_in(&p, HOST, "libros", "eve@libros.test");
    let r = decide(&p, &eve, ORIGIN, &eve_id, "reject");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(invitation_state(&p, "eve@libros.test").1, "rejected");
    assert_eq!(enter(&p, &eve, "libros.test").unwrap_err(), 403);
    let audit = p.audit();
    assert!(
        audit.contains(&format!("invitation {dee_id} to libros.test accepted"))
            && audit.contains(&format!("invitation {eve_id} to libros.test rejected")),
        "{audit}"
    );
}

#[test]
fn one_account_and_no_invitation_goes_straight_in() {
    let (_up, p) = start(&free_port().to_string());
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    // The gate sends Ana, who has chosen nothing yet, to choose.
    let r = p.send(
        get(HOST, "/books?x=1")
            .html()
            .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let pick = r.location().to_string();
    assert!(pick.starts_with("/.portero/accounts?return_to="), "{pick}");
    // With one account and no invitation, she is taken straight in.
    let r = p.send(get(HOST, &pick).html().cookie("portero_session", &ana));
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/books?x=1");
    let chosen = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(get(HOST, "/books?x=1").cookie("portero_session", &chosen))
        .received();
    assert_eq!(got.one("x-portero-account"), Some("libros.test"));
    // Visiting the page plainly (or having chosen already) shows it.
    for (session, target) in [(&ana, "/.portero/accounts"), (&chosen, pick.as_str())] {
        let page = p.send(get(HOST, target).html().cookie("portero_session", session));
        assert_eq!(page.status, 200, "{target}: {}", page.body);
        assert!(page.body.contains("Enter libros.test"), "{}", page.body);
    }
    // A HEAD only looks: the page, not a way in.
    let r = p.send(
        get(HOST, &pick)
            .method("HEAD")
            .html()
            .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 200);

    // A pending invitation (to another account): the page, so it is seen.
    let (status, body) = api(
        &p,
        &[
            ("action", "invite"),
            ("account", "otra.test"),
            ("email", "ana@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let page = p.send(get(HOST, &pick).html().cookie("portero_session", &ana));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Invitations for you") && page.body.contains("otra.test"));

    // Two accounts: the page, to choose.
    for account in ["uno.test", "dos.test"] {
        let (status, _) = api(
            &p,
            &[
                ("action", "add"),
                ("account", account),
                ("user", "bea@libros.test"),
                ("permissions", "technical"),
            ],
        );
        assert_eq!(status, 200);
    }
    let bea = sign_in(&p, HOST, "libros", "bea@libros.test");
    let page = p.send(get(HOST, &pick).html().cookie("portero_session", &bea));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Enter uno.test") && page.body.contains("Enter dos.test"));
}

#[test]
fn accounts_entered_through_a_reseller_are_marked() {
    let (_up, p) = start(&free_port().to_string());
    let (status, body) = api(
        &p,
        &[
            ("action", "reseller"),
            ("account", "cliente1.test"),
            ("reseller", "libros.test"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let ana = sign_in(&p, HOST, "libros", "ana@libros.test");
    let page = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &ana),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    // Only the client account, entered through Ana's sublogin, is marked.
    assert_eq!(
        page.body.matches("through libros.test").count(),
        1,
        "{}",
        page.body
    );
    let row = page
        .body
        .split("<li>")
        .find(|r| r.contains("Enter cliente1.test"))
        .unwrap();
    assert!(row.contains("through libros.test"), "{row}");
    // Not a member of the client account itself: no Members or Leave there.
    assert!(!row.contains("/.portero/accounts/leave"), "{row}");
    let es = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .header("Accept-Language", "es")
            .cookie("portero_session", &ana),
    );
    assert!(es.body.contains("a través de libros.test"), "{}", es.body);
    assert!(enter(&p, &ana, "cliente1.test").is_ok());
}
