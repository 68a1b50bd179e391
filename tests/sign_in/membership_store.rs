//! The embedded store end to end, through the real binary and a real
//! SQLite file: accounts seeded with `portero accounts` (another process;
//! the server notices), memberships and invitations changed through the
//! admin API as members bound by the membership rules, invitation links
//! used in the browser, two administrators removing an account's last two
//! members at the same moment, reseller sublogin, and just-in-time
//! provisioning. Every change is in the audit log.
use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const TENANTS: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test", "*.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_picker = true
provision = true
refresh_profile = true

[[tenant.client_account]]
name = "cliente1.test"
reseller = "libros.test"

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";

fn start() -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    (up, p)
}

/// `portero accounts` against the running server's configuration.
fn cli(p: &Portero, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["accounts", "--config"])
        .arg(p.path("portero.toml"))
        .arg("libros")
        .args(args)
        .env("PORTERO_SESSION_KEY", SESSION_KEY)
        .env("EXT_SSO_SECRET", EXT_SECRET)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// One change through the admin API; (status, JSON answer).
fn api(p: &Portero, form: &[(&str, &str)]) -> (u16, Value) {
    let r = post_form("127.0.0.1", "/tenants/libros/members", form).send(p.admin);
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// Enters `account` as `user` (signed in by the external page) and returns
/// what the panel received, or the status when it was not forwarded.
fn enter(p: &Portero, user: &str, account: &str) -> Result<Received, u16> {
    let session = sign_in(p, HOST, "libros", user);
    let r = p.send(
        post_form(
            HOST,
            "/.portero/accounts",
            &[("account", account), ("return_to", "/")],
        )
        .cookie("portero_session", &session),
    );
    if r.status != 302 {
        return Err(r.status);
    }
    let chosen = r.set_cookie("portero_session").unwrap();
    let r = p.send(get(HOST, "/").cookie("portero_session", &chosen));
    if r.forwarded() {
        Ok(r.received())
    } else {
        Err(r.status)
    }
}

/// Waits until `user` may enter `account` (the server reloads the store
/// within a second of another process changing it).
fn wait_member(p: &Portero, user: &str, account: &str) -> Received {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(got) = enter(p, user, account) {
            return got;
        }
        assert!(Instant::now() < deadline, "{user} never got into {account}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn seeded_by_the_command_line_and_changed_through_the_api_under_the_rules() {
    let (_up, p) = start();
    assert!(
        p.path("portero.db").exists(),
        "the store is created at first start"
    );
    let (ok, out) = cli(
        &p,
        &[
            "add",
            "--account",
            "libros.test",
            "--user",
            "rosa@libros.test",
            "--permissions",
            "admin",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(
        &p,
        &[
            "add",
            "--account",
            "libros.test",
            "--user",
            "dana@libros.test",
            "--permissions",
            "technical",
        ],
    );
    assert!(ok, "{out}");
    let got = wait_member(&p, "rosa@libros.test", "libros.test");
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("admin,commercial,invite,sublogin,technical")
    );

    // A member without invite cannot invite; one with it only with what they hold.
    let (status, body) = api(
        &p,
        &[
            ("action", "invite"),
            ("actor", "dana@libros.test"),
            ("account", "libros.test"),
            ("email", "new@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("invite"));
    let (status, _) = api(
        &p,
        &[
            ("action", "set"),
            ("actor", "rosa@libros.test"),
            ("account", "libros.test"),
            ("user", "dana@libros.test"),
            ("permissions", "technical,invite"),
        ],
    );
    assert_eq!(status, 200);
    let (status, body) = api(
        &p,
        &[
            ("action", "invite"),
            ("actor", "dana@libros.test"),
            ("account", "libros.test"),
            ("email", "new@libros.test"),
            ("permissions", "commercial"),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("commercial"),
        "{body}"
    );
    // Dana cannot grant herself commercial, nor take admin from Rosa.
    let (status, _) = api(
        &p,
        &[
            ("action", "set"),
            ("actor", "dana@libros.test"),
            ("account", "libros.test"),
            ("user", "dana@libros.test"),
            ("permissions", "technical,invite,commercial"),
        ],
    );
    assert_eq!(status, 403);
    let (status, _) = api(
        &p,
        &[
            ("action", "remove"),
            ("actor", "dana@libros.test"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
        ],
    );
    assert_eq!(status, 403);
    // Only the operator adds directly.
    let (status, _) = api(
        &p,
        &[
            ("action", "add"),
            ("actor", "rosa@libros.test"),
            ("account", "libros.test"),
            ("user", "x@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(status, 409);

    // An invitation: accepted once, by the invited person only.
    let (status, body) = api(
        &p,
        &[
            ("action", "invite"),
            ("actor", "dana@libros.test"),
            ("account", "libros.test"),
            ("email", "new@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let link = body["link"].as_str().unwrap().to_string();
    let intruder = sign_in(&p, HOST, "libros", "eve@libros.test");
    let page = p.send(get(HOST, &link).html().cookie("portero_session", &intruder));
    assert_eq!(page.status, 200, "{}", page.body);
    let token = query_map(&link)["token"].clone();
    let accept = |session: &str| {
        p.send(
            post_form(
                HOST,
                "/.portero/invitations",
                &[("token", &token), ("decision", "accept")],
            )
            .cookie("portero_session", session),
        )
    };
    // A form posted from another site is not acted on.
    let forged = p.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("token", &token), ("decision", "reject")],
        )
        .header("Origin", "https://evil.test")
        .cookie("portero_session", &intruder),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    let r = accept(&intruder);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("new@libros.test"), "{}", r.body);
    // Opened before signing in: the sign-in leads back to the invitation.
    let r = p.send(get(HOST, &link).html());
    assert_eq!(r.status, 302);
    assert!(
        r.location().starts_with("/.portero/login?return_to="),
        "{}",
        r.location()
    );
    let token_jwt = hs256(EXT_SECRET, &claims("libros", "new@libros.test"));
    let back = external_sign_in(&p, HOST, &token_jwt, &link);
    assert_eq!(
        back.location(),
        link,
        "back to the invitation after signing in"
    );
    let invited = back.set_cookie("portero_session").unwrap();
    let r = accept(&invited);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(accept(&invited).status, 409, "a used link stops working");
    let got = enter(&p, "new@libros.test", "libros.test").unwrap();
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));

    // Re-sent: the old link stops working; cancelled: the new one too.
    let (_, body) = api(
        &p,
        &[
            ("action", "invite"),
            ("actor", "rosa@libros.test"),
            ("account", "libros.test"),
            ("email", "late@libros.test"),
            ("permissions", "commercial"),
        ],
    );
    let id = body["invitation"]["id"].as_str().unwrap().to_string();
    let old = query_map(body["link"].as_str().unwrap())["token"].clone();
    let (status, body) = api(
        &p,
        &[
            ("action", "resend"),
            ("actor", "rosa@libros.test"),
            ("id", &id),
        ],
    );
    assert_eq!(status, 200);
    let new = query_map(body["link"].as_str().unwrap())["token"].clone();
    let late = sign_in(&p, HOST, "libros", "late@libros.test");
    let try_token = |t: &str| {
        p.send(
            post_form(
                HOST,
                "/.portero/invitations",
                &[("token", t), ("decision", "accept")],
            )
            .cookie("portero_session", &late),
        )
        .status
    };
    assert_eq!(try_token(&old), 409);
    let (status, _) = api(
        &p,
        &[
            ("action", "cancel"),
            ("actor", "dana@libros.test"),
            ("id", &id),
        ],
    );
    assert_eq!(status, 403, "dana does not hold commercial");
    let (status, _) = api(
        &p,
        &[
            ("action", "cancel"),
            ("actor", "rosa@libros.test"),
            ("id", &id),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(try_token(&new), 409);

    // Listing, and the audit trail.
    let listing = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    let listing: Value = serde_json::from_str(&listing.body).unwrap();
    assert_eq!(listing["members"].as_array().unwrap().len(), 3, "{listing}");
    let audit = p.audit();
    assert!(
        audit.contains("new@libros.test invited to libros.test"),
        "{audit}"
    );
    assert!(audit.contains("refused"), "{audit}");
    assert!(audit.contains("accepted"), "{audit}");
}

#[test]
fn an_account_never_loses_its_last_member_even_to_two_admins_at_once() {
    let (_up, p) = start();
    for round in 0..5 {
        let account = format!("race{round}.test");
        for user in ["a@libros.test", "b@libros.test"] {
            let (ok, out) = cli(
                &p,
                &[
                    "add",
                    "--account",
                    &account,
                    "--user",
                    user,
                    "--permissions",
                    "admin",
                ],
            );
            assert!(ok, "{out}");
        }
        // Each admin removes the other at the same moment.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let admin = p.admin;
        let handles: Vec<_> = [
            ("a@libros.test", "b@libros.test"),
            ("b@libros.test", "a@libros.test"),
        ]
        .into_iter()
        .map(|(actor, target)| {
            let (barrier, account) = (barrier.clone(), account.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post_form(
                    "127.0.0.1",
                    "/tenants/libros/members",
                    &[
                        ("action", "remove"),
                        ("actor", actor),
                        ("account", &account),
                        ("user", target),
                    ],
                )
                .send(admin)
                .status
            })
        })
        .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        // The loser is refused by the last-member rule (403), or — when the
        // winner's change landed first — as an actor who is no longer a
        // member (400).
        assert!(
            matches!(statuses[..], [200, 400 | 403]),
            "round {round}: {statuses:?}"
        );
        let (ok, out) = cli(&p, &["list", "--account", &account]);
        assert!(ok, "{out}");
        assert_eq!(
            out.lines().filter(|l| l.contains("@libros.test")).count(),
            1,
            "{out}"
        );
    }
    // And the operator gets a clear error too.
    let (ok, out) = cli(
        &p,
        &[
            "remove",
            "--account",
            "race0.test",
            "--user",
            "a@libros.test",
        ],
    );
    let (ok2, out2) = cli(
        &p,
        &[
            "remove",
            "--account",
            "race0.test",
            "--user",
            "b@libros.test",
        ],
    );
    assert!(!(ok && ok2), "{out}\n{out2}");
    assert!(
        format!("{out}{out2}").contains("last member"),
        "{out}\n{out2}"
    );
}

#[test]
fn a_reseller_member_with_sublogin_enters_client_accounts_without_sublogin() {
    let (_up, p) = start();
    for (user, perms) in [
        ("rosa@libros.test", "sublogin,technical,commercial"),
        ("tom@libros.test", "technical"),
    ] {
        let (ok, out) = cli(
            &p,
            &[
                "add",
                "--account",
                "libros.test",
                "--user",
                user,
                "--permissions",
                perms,
            ],
        );
        assert!(ok, "{out}");
    }
    // A second client account, made by the operator at run time.
    let (ok, out) = cli(
        &p,
        &[
            "reseller",
            "--account",
            "cliente2.test",
            "--reseller",
            "libros.test",
        ],
    );
    assert!(ok, "{out}");
    wait_member(&p, "rosa@libros.test", "libros.test");
    for client in ["cliente1.test", "cliente2.test"] {
        let got = wait_member(&p, "rosa@libros.test", client);
        assert_eq!(got.one("x-portero-account"), Some(client));
        assert_eq!(
            got.one("x-portero-permissions"),
            Some("commercial,technical")
        );
    }
    assert_eq!(
        enter(&p, "tom@libros.test", "cliente1.test").unwrap_err(),
        403
    );
    // The accounts page lists the client accounts too.
    let session = sign_in(&p, HOST, "libros", "rosa@libros.test");
    let page = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &session),
    );
    assert!(
        page.body.contains("cliente1.test") && page.body.contains("cliente2.test"),
        "{}",
        page.body
    );
}

#[test]
fn the_first_sign_in_provisions_the_user_and_the_name_follows_the_idp() {
    let (_up, p) = start();
    sign_in(&p, HOST, "libros", "ivo@libros.test");
    assert!(
        p.audit().contains("user created at first sign-in"),
        "{}",
        p.audit()
    );
    // Provisioned, not a member: the 403 page, with the way to the accounts page.
    let (ok, out) = cli(
        &p,
        &[
            "add",
            "--account",
            "libros.test",
            "--user",
            "ivo@libros.test",
            "--permissions",
            "technical",
        ],
    );
    assert!(ok, "{out}");
    let got = wait_member(&p, "ivo@libros.test", "libros.test");
    // The external page's name ("Test User") is in the session.
    assert_eq!(got.one("x-portero-name"), Some("Test User"));
    assert_eq!(
        p.audit().matches("user created at first sign-in").count(),
        1
    );
}
