//! The people's side of an account in a real browser (headless Chromium,
//! `tests/browser/drive.mjs`), the way a hosting customer lives it, in
//! English and in Spanish: the real binary on a store tenant, a real SMTP
//! server (`tests/common/smtp_catcher.py`, aiosmtpd) behind
//! `[server.smtp]`, the tenant's own external sign-in page and the test
//! panel. The owner (seeded by the operator) invites a designer with
//! Technical only; the designer opens the link from the mail, signs in,
//! accepts and enters with `technical`; what the designer may not do is
//! refused on the page; the designer leaves; the owner, the last member,
//! may not; a re-sent invitation voids the old link and a cancelled one
//! stops working. Every page on the way is a screenshot (`page-*-<lang>`,
//! `PORTERO_SCREENSHOTS=docs` writes them to `docs/screenshots/`).
use super::browser_pages::{drive_in, DESKTOP, PHONE};
use crate::common::mail::MailCatcher;
use crate::common::*;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use serde_json::{json, Value};
use std::net::SocketAddr;

const TENANT: &str = r#"
[[tenant]]
name = "libros"
display_name = "Libros Cloud"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "login_page"
account_picker = true

[tenant.external_sso]
url = "http://login.libros.test:{EXTERNAL}/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

/// The people of one language's story, and what its pages say.
struct Cast {
    lang: &'static str,
    accept_language: &'static str,
    account: &'static str,
    owner: &'static str,
    designer: &'static str,
    newcomer: &'static str,
    /// A mailbox the mail server refuses (`.invalid`).
    unknown: &'static str,
    technical: &'static str,
    sent: &'static str,
    mail_failed: &'static str,
    members_only: &'static str,
    no_invite: &'static str,
    left: &'static str,
    not_empty: &'static str,
    not_usable: &'static str,
}

const CASTS: [Cast; 2] = [
    Cast {
        lang: "en",
        accept_language: "en-US,en;q=0.9",
        account: "libros.test",
        owner: "ana@libros.test",
        designer: "dee@estudio.test",
        newcomer: "max@libros.test",
        unknown: "old@libros.invalid",
        technical: "Technical",
        sent: "An invitation was sent to dee@estudio.test.",
        mail_failed:
            "The invitation for old@libros.invalid is kept, but its mail could not be sent",
        members_only: "Only members who may invite see and change who takes part",
        no_invite: "Inviting needs the Invite permission.",
        left: "You left libros.test. Another member can invite you again.",
        not_empty: "An account cannot be left empty",
        not_usable: "Invitation not usable",
    },
    Cast {
        lang: "es",
        accept_language: "es-AR,es;q=0.9,en;q=0.5",
        account: "libreria.test",
        owner: "lucia@libreria.test",
        designer: "diego@estudio.test",
        newcomer: "marta@libreria.test",
        unknown: "antiguo@libreria.invalid",
        technical: "Técnico",
        sent: "Se envió una invitación a diego@estudio.test.",
        mail_failed:
            "La invitación para antiguo@libreria.invalid se guardó, pero su correo no pudo enviarse",
        members_only: "Solo los miembros que pueden invitar ven y cambian quién participa",
        no_invite: "Para invitar hace falta el permiso Invitar.",
        left: "Ha salido de libreria.test. Otro miembro puede volver a invitarle.",
        not_empty: "Una cuenta no puede quedar vacía",
        not_usable: "Invitación no válida",
    },
];

/// The tenant's own sign-in page (external SSO), as a hosting company
/// runs one: it asks for the e-mail (a real one would check a password
/// too) and hands a signed token back to Portero with `state`.
fn external_sign_in_page() -> SocketAddr {
    serve_http1(|req: hyper::Request<hyper::body::Incoming>| async move {
        let query = req.uri().query().unwrap_or("").to_string();
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let encode = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let (return_to, state) = (param("return_to"), param("state"));
        let reply = if req.uri().path() == "/signed-in" {
            // Back to the host that sent the browser here.
            let origin = return_to
                .splitn(4, '/')
                .take(3)
                .collect::<Vec<_>>()
                .join("/");
            let token = hs256(EXT_SECRET, &claims("libros", &param("email")));
            Response::builder()
                .status(302)
                .header(
                    "location",
                    format!(
                        "{origin}/.portero/jwt/callback?jwt={token}&return_to={}&state={}",
                        encode(&return_to),
                        encode(&state)
                    ),
                )
                .body(Full::new(Bytes::new()))
        } else {
            Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .body(Full::new(Bytes::from(format!(
                    "<!DOCTYPE html><title>Libros Cloud</title><h1>Libros Cloud</h1>\
                     <form action=\"/signed-in\"><label>E-mail <input name=\"email\" type=\"email\" value=\"{}\"></label>\
                     <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
                     <input type=\"hidden\" name=\"state\" value=\"{}\">\
                     <button type=\"submit\">Sign in</button></form>",
                    attribute(&param("login_hint")),
                    attribute(&return_to),
                    attribute(&state)
                ))))
        };
        Ok(reply.unwrap())
    })
}

fn attribute(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// Signs in from Portero's sign-in page, where the browser was sent:
/// the e-mail first, then the tenant's own sign-in page; waits to be back
/// at `back_at`.
fn sign_in_as(email: &str, back_at: &str) -> Vec<Value> {
    vec![
        json!({"waitUrl": "/.portero/login"}),
        json!({"fill": "input[name=email]", "value": email}),
        json!({"click": "button[type=submit]"}),
        json!({"waitUrl": "login.libros.test"}),
        json!({"fill": "input[name=email]", "value": email}),
        json!({"click": "button[type=submit]"}),
        json!({"waitUrl": back_at}),
    ]
}

fn members_of(p: &Portero, account: &str) -> Value {
    let r = get(
        "127.0.0.1",
        &format!("/tenants/libros/members?account={account}"),
    )
    .send(p.admin);
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn an_account_s_people_in_chromium_from_the_invitation_mail_to_leaving() {
    let mail = MailCatcher::start();
    let external = external_sign_in_page();
    let up = Upstream::start();
    let smtp = format!(
        "\n[server.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"Libros Cloud <no-reply@libros.test>\"\ntimeout = \"5s\"\n",
        mail.port
    );
    let tenant = TENANT.replace("{EXTERNAL}", &external.port().to_string());
    let p = Portero::start_with(&format!("{SERVER_AND_SESSION}{smtp}\n{tenant}"), &up, &[]);
    let origin = format!("http://panel.libros.test:{}", p.port);
    for cast in &CASTS {
        story(&p, &mail, &origin, cast);
    }
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("portero_mail_failures_total{tenant=\"libros\"} 2")),
        "one refused mail per language: {metrics}"
    );
}

/// One language's story, in one browser with a context per person.
fn story(p: &Portero, mail: &MailCatcher, origin: &str, cast: &Cast) {
    let r = post_form(
        "127.0.0.1",
        "/tenants/libros/members",
        &[
            ("action", "add"),
            ("account", cast.account),
            ("user", cast.owner),
            ("permissions", "admin"),
        ],
    )
    .send(p.admin);
    assert_eq!(r.status, 200, "the operator seeds the owner: {}", r.body);

    let lang = cast.lang;
    let account = cast.account;
    let accounts = format!("{origin}/.portero/accounts");
    let members = format!("{origin}/.portero/accounts/members?account={account}");
    let shot = |name: &str| json!({"shot": format!("page-{name}-{lang}")});
    let text = |name: &str| json!({"text": name});
    let expect = |words: &str| json!({"expect": words});
    let mail_link = |to: &str, nth: usize| {
        json!({"mailLink": mail.file(), "to": to, "nth": nth,
               "prefix": format!("{origin}/.portero/invitations?token=")})
    };
    let invite_form = "form:has(input[name=action][value=invite])";
    let invite = format!("{invite_form} > button[type=submit]");
    let pending = |who: &str, action: &str| {
        format!("li:has-text('{who}') form:has(input[value={action}]) button")
    };
    let leave_link = "a[href^='/.portero/accounts/leave?']";
    let leave_button = "form:has(input[name=action][value=leave]) button[type=submit]";
    // The page in view, on a phone: it must fit (then back to the desktop).
    let phone = json!({"size": PHONE});
    let desktop = json!({"size": DESKTOP});
    let fits = |name: &str| json!({"fits": format!("{name} on a phone")});

    let mut steps: Vec<Value> = vec![
        // The owner signs in and goes from their accounts to the members page.
        json!({"as": "owner"}),
        json!({"go": accounts}),
    ];
    steps.extend(sign_in_as(cast.owner, "/.portero/accounts"));
    steps.extend([
        text("owner's accounts"),
        shot("accounts-actions"),
        json!({"click": "a[href^='/.portero/accounts/members?']"}),
        // Technical only: the one box ticked inside "Choose permissions".
        json!({"fill": "#email", "value": cast.designer}),
        json!({"open": format!("{invite_form} details")}),
        json!({"check": format!("{invite_form} input[name=p_technical]")}),
        json!({"click": invite}),
        text("invited"),
        expect(cast.sent),
        shot("invite-sent"),
        phone.clone(),
        fits("invite-sent"),
        desktop.clone(),
        // The designer opens the link from the mail, signs in, accepts, enters.
        json!({"as": "designer"}),
        mail_link(cast.designer, 0),
    ]);
    steps.extend(sign_in_as(cast.designer, "/.portero/invitations?token="));
    steps.extend([
        text("invitation"),
        phone.clone(),
        fits("invitation"),
        desktop.clone(),
        json!({"click": "form:has(input[value=accept]) button"}),
        text("accepted"),
        json!({"go": accounts}),
        json!({"click": format!("form:has(input[value='{account}']) button")}),
        json!({"waitUrl": format!("{origin}/")}),
        text("panel"),
        // Without Invite: no members page, and an invitation with
        // Commercial sent from a form of this site is refused.
        json!({"go": members}),
        text("designer's members page"),
        json!({"post": "/.portero/accounts/members", "fields": {
            "action": "invite", "account": account,
            "email": "eve@estudio.test", "p_commercial": "1"}}),
        text("designer's invitation"),
        shot("invite-refused"),
        phone.clone(),
        fits("invite-refused"),
        desktop.clone(),
        // The owner invites the newcomer (the default: Administrator) and a
        // mailbox the mail server refuses (the link is shown instead).
        json!({"as": "owner"}),
        json!({"go": members}),
        json!({"fill": "#email", "value": cast.newcomer}),
        json!({"click": invite}),
        text("newcomer invited"),
        json!({"go": members}),
        json!({"fill": "#email", "value": cast.unknown}),
        json!({"open": format!("{invite_form} details")}),
        json!({"check": format!("{invite_form} input[name=p_technical]")}),
        json!({"click": invite}),
        text("mail failed"),
        shot("invite-mail-failed"),
        phone.clone(),
        fits("invite-mail-failed"),
        desktop.clone(),
        // The members page with its disclosures open, on a desktop and a phone.
        json!({"go": members}),
        json!({"open": format!("tr:has-text('{}') details", cast.designer)}),
        json!({"open": format!("{invite_form} details")}),
        text("members"),
        shot("members"),
        phone.clone(),
        shot("members-phone"),
        json!({"go": accounts}),
        shot("accounts-actions-phone"),
        desktop.clone(),
        // The designer leaves: a confirmation, then the account is gone.
        json!({"as": "designer"}),
        json!({"go": accounts}),
        json!({"click": leave_link}),
        text("leave?"),
        shot("leave"),
        phone.clone(),
        fits("leave"),
        desktop.clone(),
        json!({"click": leave_button}),
        text("left"),
        shot("account-left"),
        phone.clone(),
        fits("account-left"),
        desktop.clone(),
        json!({"go": accounts}),
        text("designer's accounts after"),
        // The owner, now the last member, may not leave.
        json!({"as": "owner"}),
        json!({"go": accounts}),
        json!({"click": leave_link}),
        json!({"click": leave_button}),
        text("owner leaves"),
        shot("leave-refused"),
        phone.clone(),
        fits("leave-refused"),
        desktop.clone(),
        // Sent again: a new mail, and the first link no longer works.
        json!({"go": members}),
        json!({"click": pending(cast.newcomer, "resend")}),
        text("resent"),
        json!({"as": "newcomer"}),
        mail_link(cast.newcomer, 0),
    ]);
    steps.extend(sign_in_as(cast.newcomer, "/.portero/invitations?token="));
    steps.extend([
        text("first link"),
        mail_link(cast.newcomer, 1),
        text("second link"),
        // Cancelled while the newcomer has it open: Accept no longer works,
        // nor does the link.
        json!({"as": "owner"}),
        json!({"go": members}),
        json!({"click": pending(cast.newcomer, "cancel")}),
        text("cancelled"),
        json!({"as": "newcomer"}),
        json!({"click": "form:has(input[value=accept]) button"}),
        text("accept after cancel"),
        mail_link(cast.newcomer, 1),
        text("second link after cancel"),
    ]);
    let result = drive_in("account-story", cast.accept_language, Value::Array(steps));
    let page = |name: &str| -> String {
        result["named"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{lang}: no page named {name}: {result:#}"))
            .to_string()
    };
    let says = |name: &str, words: &str| {
        let t = page(name);
        assert!(t.contains(words), "{lang}, {name}: {words:?} not in\n{t}");
    };
    let lacks = |name: &str, words: &str| {
        let t = page(name);
        assert!(!t.contains(words), "{lang}, {name}: {words:?} in\n{t}");
    };

    // The mail: to the designer, with the permission in words and the link
    // to this host.
    let mails = mail.mails();
    let to_designer: Vec<_> = mails
        .iter()
        .filter(|m| m.rcpt_tos == [cast.designer.to_string()])
        .collect();
    assert_eq!(to_designer.len(), 1, "{lang}");
    let text_part = to_designer[0].text.as_deref().unwrap_or_default();
    assert!(
        text_part.contains(cast.technical)
            && text_part.contains(account)
            && text_part.contains(&format!("{origin}/.portero/invitations?token=")),
        "{lang}: {text_part}"
    );
    // Exactly what was ticked: Technical, not the default Administrator.
    says("owner's accounts", account);
    says("invitation", cast.designer);
    says("accepted", account);
    says("panel", &format!("x-portero-account: {account}"));
    assert!(
        page("panel")
            .lines()
            .any(|l| l.trim() == "x-portero-permissions: technical"),
        "{lang}: {}",
        page("panel")
    );
    says("panel", &format!("x-portero-user: {}", cast.designer));
    says("designer's members page", cast.members_only);
    says("designer's invitation", cast.no_invite);
    assert!(
        !mails.iter().any(|m| m.rcpt_tos == ["eve@estudio.test"]),
        "{lang}: no mail for a refused invitation"
    );
    says("mail failed", cast.mail_failed);
    says(
        "mail failed",
        &format!("{origin}/.portero/invitations?token="),
    );
    says("newcomer invited", cast.newcomer);
    says("members", cast.designer);
    says("members", cast.newcomer);
    says("members", cast.unknown);
    says("leave?", account);
    says("left", cast.left);
    lacks("designer's accounts after", account);
    says("owner leaves", cast.not_empty);
    says("first link", cast.not_usable);
    says("second link", cast.newcomer);
    lacks("second link", cast.not_usable);
    says("accept after cancel", cast.not_usable);
    says("second link after cancel", cast.not_usable);

    // What the store holds afterwards: the owner alone, and the newcomer's
    // invitation no longer pending.
    let listed = members_of(p, account);
    let people: Vec<&str> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["user"].as_str())
        .collect();
    assert_eq!(people, [cast.owner], "{lang}: {listed:#}");
    assert!(
        !listed["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["email"] == cast.newcomer && i["state"] == "pending"),
        "{lang}: {listed:#}"
    );
    let audit = p.audit();
    assert!(
        audit.contains(&format!(
            "{} removed from {account} (by {}, accounts page)",
            cast.designer, cast.designer
        )),
        "{lang}: {audit}"
    );
}
