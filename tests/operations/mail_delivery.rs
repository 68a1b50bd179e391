//! Invitation mails through a real SMTP server (aiosmtpd, started by the
//! test): both parts arrive with the sender, recipient, subject and the
//! absolute link; STARTTLS and TLS with a login; an untrusted certificate,
//! a closed port and a silent server fail in words, within the timeout,
//! and are counted.
use crate::common::mail::{CatcherOptions, MailCatcher};
use portero::config::Config;
use portero::lang::Lang;
use portero::mail::{InvitationMail, MailError, Mailer};
use portero::metrics::Metrics;
use std::path::Path;
use std::time::{Duration, Instant};

/// A configuration with `[server.smtp]` holding `smtp`, a tenant `shop`
/// ("Acme Panel", the server's sender) and a white-label tenant `libros`
/// with its own sender. `{DIR}` is a folder for files the keys name.
fn config(smtp: &str, dir: &Path, env: &[(&str, &str)]) -> Config {
    std::fs::write(
        dir.join("a.pem"),
        portero::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    let text = format!(
        r#"[server]
listen = ["127.0.0.1:8080"]
[server.smtp]
{smtp}
[session]
keys = ["env:K"]
[assertion]
signing_key = "file:{{DIR}}/a.pem"
[[tenant]]
name = "shop"
display_name = "Acme Panel"
hosts = ["panel.acme.test"]
upstream = "127.0.0.1:9000"
account = "acme.test"
[[tenant]]
name = "libros"
display_name = "Libros ID"
hosts = ["cuenta.libros.test"]
upstream = "127.0.0.1:9000"
account = "libros.test"
[tenant.mail]
from = "Libros ID <hola@libros.test>"
"#
    )
    .replace("{DIR}", dir.to_str().unwrap());
    let mut vars = std::collections::HashMap::from([(
        "K".to_string(),
        crate::common::SESSION_KEY.to_string(),
    )]);
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    match portero::config::compile_str(&text, &dir.join("portero.toml"), &vars) {
        Ok(l) => l.config,
        Err(e) => panic!("{e:#?}"),
    }
}

fn invitation<'a>(to: &'a str, link: &'a str) -> InvitationMail<'a> {
    InvitationMail {
        to,
        link,
        account: "shop.acme.test",
        permissions: "Technical",
        inviter: "Olga <olga@acme.test>",
        expires_at: crate::common::now() + 7 * 86_400,
        now: crate::common::now(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The value of `family{tenant="…"}` in the metrics text (0 when absent).
fn counted(metrics: &Metrics, family: &str, tenant: &str) -> u64 {
    let prefix = format!("{family}{{tenant=\"{tenant}\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0)
}

#[test]
fn an_invitation_mail_arrives_with_both_parts_and_the_tenant_s_sender() {
    let catcher = MailCatcher::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"Example Hosting <no-reply@hosting.test>\"\ntimeout = \"5s\"\n",
            catcher.port
        ),
        dir.path(),
        &[],
    );
    let metrics = Metrics::new().unwrap();
    let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
    let link = "https://panel.acme.test/.portero/invitations?token=tok-123&lang=es";
    let shop = cfg.tenant_named("shop").unwrap();
    let libros = cfg.tenant_named("libros").unwrap();
    let rt = runtime();
    rt.block_on(mailer.send_invitation(shop, Lang::En, &invitation("designer@studio.test", link)))
        .unwrap();
    let white_label_link = "https://cuenta.libros.test/.portero/invitations?token=tok-456";
    rt.block_on(mailer.send_invitation(
        libros,
        Lang::Es,
        &invitation("Diseño <designer@studio.test>", white_label_link),
    ))
    .unwrap();

    let mails = catcher.wait_for(2);
    let en = &mails[0];
    assert_eq!(en.mail_from, "no-reply@hosting.test");
    assert_eq!(en.rcpt_tos, ["designer@studio.test"]);
    assert_eq!(en.from, "Example Hosting <no-reply@hosting.test>");
    assert_eq!(en.to, "designer@studio.test");
    assert_eq!(en.subject, "Invitation to shop.acme.test on Acme Panel");
    assert_eq!(en.content_type, "multipart/alternative");
    assert_eq!(en.parts, ["text/plain", "text/html"]);
    assert!(!en.date.is_empty());
    // Lines end in CRLF on the wire.
    let text = en.text.as_deref().unwrap().replace("\r\n", "\n");
    assert!(text.contains(&format!("\n{link}\n")), "{text}");
    assert!(text.contains("Olga <olga@acme.test> invites you"), "{text}");
    let html = en.html.as_deref().unwrap();
    assert!(
        html.contains(
            "href=\"https://panel.acme.test/.portero/invitations?token=tok-123&amp;lang=es\""
        ),
        "{html}"
    );
    assert!(
        html.contains("Olga &lt;olga@acme.test&gt; invites you"),
        "{html}"
    );
    assert!(!en.tls && en.user.is_none());

    let es = &mails[1];
    assert_eq!(es.mail_from, "hola@libros.test");
    assert_eq!(es.from, "Libros ID <hola@libros.test>");
    assert_eq!(es.to, "Diseño <designer@studio.test>");
    assert_eq!(es.subject, "Invitación a shop.acme.test en Libros ID");
    for part in [es.text.as_deref().unwrap(), es.html.as_deref().unwrap()] {
        assert!(part.contains(white_label_link), "{part}");
        assert!(part.contains("le invita"), "{part}");
        let lower = part.replace(white_label_link, "").to_lowercase();
        assert!(
            !lower.contains("portero") && !lower.contains("hosting"),
            "{part}"
        );
    }
    assert!(!es.raw.contains("Example Hosting"));

    assert_eq!(counted(&metrics, "portero_mail_sent_total", "shop"), 1);
    assert_eq!(counted(&metrics, "portero_mail_sent_total", "libros"), 1);
    assert_eq!(counted(&metrics, "portero_mail_failures_total", "shop"), 0);
}

/// A certificate for 127.0.0.1 and its key, written to `dir`.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("smtp.crt"), dir.join("smtp.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// STARTTLS (port 587's way) and TLS from the first byte (465's), each
/// with a login whose password comes from the environment, to a server
/// whose certificate the configured `ca` vouches for.
#[test]
fn starttls_and_tls_with_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    for (security, implicit_tls) in [("starttls", false), ("tls", true)] {
        let catcher = MailCatcher::start_with(&CatcherOptions {
            tls: Some((cert.clone(), key.clone())),
            implicit_tls,
            auth: Some(("portero".into(), "s3cret pass".into())),
        });
        let cfg = config(
            &format!(
                "host = \"127.0.0.1\"\nport = {}\nsecurity = \"{security}\"\nuser = \"portero\"\npassword = \"env:SMTP_PASSWORD\"\nca = \"{}\"\nfrom = \"Example Hosting <no-reply@hosting.test>\"\ntimeout = \"5s\"\n",
                catcher.port,
                cert.display()
            ),
            dir.path(),
            &[("SMTP_PASSWORD", "s3cret pass")],
        );
        let metrics = Metrics::new().unwrap();
        let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
        let link = "https://panel.acme.test/.portero/invitations?token=tls";
        runtime()
            .block_on(mailer.send_invitation(
                cfg.tenant_named("shop").unwrap(),
                Lang::En,
                &invitation("designer@studio.test", link),
            ))
            .unwrap_or_else(|e| panic!("{security}: {e}"));
        let mails = catcher.wait_for(1);
        assert!(mails[0].tls, "{security}: not over TLS");
        assert_eq!(mails[0].user.as_deref(), Some("portero"), "{security}");
        assert!(mails[0].text.as_deref().unwrap().contains(link));

        // The wrong password: refused in words that never hold it.
        let cfg = config(
            &format!(
                "host = \"127.0.0.1\"\nport = {}\nsecurity = \"{security}\"\nuser = \"portero\"\npassword = \"wrong-password\"\nca = \"{}\"\nfrom = \"no-reply@hosting.test\"\n",
                catcher.port,
                cert.display()
            ),
            dir.path(),
            &[],
        );
        let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
        let err = runtime()
            .block_on(mailer.send_invitation(
                cfg.tenant_named("shop").unwrap(),
                Lang::En,
                &invitation("designer@studio.test", link),
            ))
            .unwrap_err();
        assert!(
            matches!(err, MailError::Refused { .. }),
            "{security}: {err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!(
                "the mail server at 127.0.0.1:{} refused the mail: ",
                catcher.port
            )) && shown.contains("535")
                && !shown.contains("wrong-password"),
            "{shown}"
        );
        assert_eq!(catcher.mails().len(), 1);
        assert_eq!(counted(&metrics, "portero_mail_failures_total", "shop"), 1);
    }
}

/// Threat: a man in the middle with a certificate nobody vouches for
/// gets no mail (the invitation link is a key to the account).
#[test]
fn an_untrusted_certificate_gets_no_mail() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let catcher = MailCatcher::start_with(&CatcherOptions {
        tls: Some((cert, key)),
        ..Default::default()
    });
    let cfg = config(
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nfrom = \"no-reply@hosting.test\"\ntimeout = \"5s\"\n",
            catcher.port
        ),
        dir.path(),
        &[],
    );
    let metrics = Metrics::new().unwrap();
    let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
    let err = runtime()
        .block_on(mailer.send_invitation(
            cfg.tenant_named("shop").unwrap(),
            Lang::En,
            &invitation("designer@studio.test", "https://panel.acme.test/x"),
        ))
        .unwrap_err();
    assert!(matches!(err, MailError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "no secure connection to the mail server at 127.0.0.1:{} could be made: ",
            catcher.port
        )) && err.to_string().contains("certificate"),
        "{err}"
    );
    assert!(catcher.mails().is_empty());
    assert_eq!(counted(&metrics, "portero_mail_failures_total", "shop"), 1);
}

/// SMTP down: nothing listens on the port. The error says so at once, and
/// the failure is counted (the caller keeps the invitation and shows its link).
#[test]
fn a_mail_server_that_is_down_fails_clearly_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::free_port();
    let cfg = config(
        &format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"no-reply@hosting.test\"\ntimeout = \"2s\"\n"),
        dir.path(),
        &[],
    );
    let metrics = Metrics::new().unwrap();
    let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
    let started = Instant::now();
    let err = runtime()
        .block_on(mailer.send_invitation(
            cfg.tenant_named("libros").unwrap(),
            Lang::Es,
            &invitation("designer@studio.test", "https://cuenta.libros.test/x"),
        ))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, MailError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "the mail server at 127.0.0.1:{port} could not be reached: "
        )) && err.to_string().contains("Connection refused"),
        "{err}"
    );
    assert_eq!(
        counted(&metrics, "portero_mail_failures_total", "libros"),
        1
    );
    assert_eq!(counted(&metrics, "portero_mail_sent_total", "libros"), 0);
    assert!(metrics
        .render()
        .contains("portero_mail_failures_total{tenant=\"libros\"} 1"));
}

/// A server that takes the connection and never greets: the sending gives
/// up after `timeout`, not later.
#[test]
fn a_silent_mail_server_times_out_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let cfg = config(
        &format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"no-reply@hosting.test\"\ntimeout = \"700ms\"\n"),
        dir.path(),
        &[],
    );
    let metrics = Metrics::new().unwrap();
    let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
    let started = Instant::now();
    let err = runtime()
        .block_on(mailer.send_invitation(
            cfg.tenant_named("shop").unwrap(),
            Lang::En,
            &invitation("designer@studio.test", "https://panel.acme.test/x"),
        ))
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("the mail server at 127.0.0.1:{port} did not accept the mail within 700ms")
    );
    assert_eq!(counted(&metrics, "portero_mail_failures_total", "shop"), 1);
    drop(silent);
}

#[test]
fn a_recipient_that_is_no_address_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        "host = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\nfrom = \"no-reply@hosting.test\"\n",
        dir.path(),
        &[],
    );
    let metrics = Metrics::new().unwrap();
    let mailer = Mailer::new(cfg.server.smtp.as_ref().unwrap(), &metrics).unwrap();
    let err = runtime()
        .block_on(mailer.send_invitation(
            cfg.tenant_named("shop").unwrap(),
            Lang::En,
            &invitation("not an address", "https://panel.acme.test/x"),
        ))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`not an address` is not an e-mail address a mail can be sent to"
    );
    assert_eq!(counted(&metrics, "portero_mail_failures_total", "shop"), 1);
}

/// `State::mailer` is the one of the `[server.smtp]` in force: none without
/// it, built again when a reload changes it, kept when it does not.
#[tokio::test]
async fn the_mailer_follows_reloads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.pem"),
        portero::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    let path = dir.path().join("portero.toml");
    let write = |smtp: &str| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/good_config.toml"
        ))
        .unwrap()
        .replace(
            "listen = [\"127.0.0.1:8080\"]\n",
            &format!("listen = [\"127.0.0.1:8080\"]\naudit_log = \"{{DIR}}/audit.log\"\n{smtp}"),
        )
        .replace("{DIR}", dir.path().to_str().unwrap());
        std::fs::write(&path, text).unwrap();
    };
    let env = std::collections::HashMap::from([(
        "K".to_string(),
        crate::common::SESSION_KEY.to_string(),
    )]);
    write("");
    let loaded = portero::config::load(&path, &env).unwrap();
    let state = portero::state::State::new(
        loaded.config,
        path.clone(),
        std::sync::Arc::new(portero::clock::FixedClock::at(crate::common::now())),
    )
    .unwrap();
    assert!(state.mailer().is_none());

    let smtp = |port: u16| {
        format!("[server.smtp]\nhost = \"smtp.example.test\"\nport = {port}\nfrom = \"no-reply@example.test\"\n")
    };
    write(&smtp(587));
    state
        .reload(std::sync::Arc::new(env.clone()))
        .await
        .unwrap();
    let first = state.mailer().unwrap();
    assert_eq!(first.server(), "smtp.example.test:587");

    // Another part of the file changed: the same mailer.
    write(&format!("header_timeout = \"9s\"\n{}", smtp(587)));
    state
        .reload(std::sync::Arc::new(env.clone()))
        .await
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &state.mailer().unwrap()));

    write(&smtp(2525));
    state
        .reload(std::sync::Arc::new(env.clone()))
        .await
        .unwrap();
    assert_eq!(state.mailer().unwrap().server(), "smtp.example.test:2525");

    write("");
    state
        .reload(std::sync::Arc::new(env.clone()))
        .await
        .unwrap();
    assert!(state.mailer().is_none());
}
