//! Invitation mails made from compiled configurations, without a mail
//! server (`tests/operations/mail_delivery.rs` sends them to a real one).

use super::*;

/// The tenant of the good configuration with `extra` lines appended to its
/// `[[tenant]]` (`{DIR}`: the configuration's folder, where `files` are
/// written first).
fn tenant_with(extra: &str, files: &[(&str, &str)]) -> Tenant {
    let (mut cfg, _dir) = crate::config::for_tests::compiled(
        &format!("{}{extra}", crate::config::for_tests::GOOD),
        &[],
        files,
    );
    std::sync::Arc::into_inner(cfg.tenants.remove(0)).unwrap()
}

fn server_from() -> Mailbox {
    "Example Hosting <no-reply@hosting.test>".parse().unwrap()
}

fn invitation<'a>() -> InvitationMail<'a> {
    InvitationMail {
        to: "designer@studio.test",
        link: "https://panel.t.test/.portero/invitations?token=tok123",
        account: "shop.test",
        permissions: "Technical",
        inviter: "Olga Owner",
        expires_at: 1_742_000_000,
        now: 1_741_400_000,
    }
}

#[test]
fn the_defaults_need_no_configuration_in_english_and_spanish() {
    let t = tenant_with("display_name = \"Acme Panel\"\n", &[]);
    let en = render_invitation(&t, &server_from(), Lang::En, &invitation());
    assert_eq!(en.from, server_from());
    assert_eq!(en.subject, "Invitation to shop.test on Acme Panel");
    for part in [&en.text, &en.html] {
        for want in [
            "https://panel.t.test/.portero/invitations?token=tok123",
            "shop.test",
            "Technical",
            "Olga Owner",
            "Acme Panel",
            "2025-03-15 00:53 UTC",
            "invites you",
        ] {
            assert!(part.contains(want), "{want} missing in {part}");
        }
    }
    assert!(en.html.contains("<html lang=\"en\">"), "{}", en.html);
    assert!(!en.text.contains('<'), "{}", en.text);

    let es = render_invitation(&t, &server_from(), Lang::Es, &invitation());
    assert_eq!(es.subject, "Invitación a shop.test en Acme Panel");
    for part in [&es.text, &es.html] {
        for want in [
            "https://panel.t.test/.portero/invitations?token=tok123",
            "Olga Owner le invita",
            "caduca el 2025-03-15 00:53 UTC",
        ] {
            assert!(part.contains(want), "{want} missing in {part}");
        }
    }
    assert!(es.html.contains("<html lang=\"es\">"), "{}", es.html);
}

/// A reseller's white-label tenant: its own sender, and mails that name
/// neither Portero nor the hosting company.
#[test]
fn a_white_label_tenant_sends_as_itself_and_never_names_portero() {
    let t = tenant_with(
        "display_name = \"Libros ID\"\n[tenant.mail]\nfrom = \"Libros ID <hola@libros.test>\"\n",
        &[],
    );
    for lang in [Lang::En, Lang::Es] {
        let m = render_invitation(&t, &server_from(), lang, &invitation());
        assert_eq!(m.from.to_string(), "Libros ID <hola@libros.test>");
        for part in [&m.subject, &m.text, &m.html] {
            // The only "portero" allowed is the link's reserved path.
            let lower = part.replace(invitation().link, "").to_lowercase();
            assert!(!lower.contains("portero"), "{part}");
            assert!(!lower.contains("hosting"), "{part}");
            assert!(part.contains("Libros ID"), "{part}");
        }
    }
}

#[test]
fn a_tenant_s_templates_replace_the_defaults_per_language() {
    let t = tenant_with(
        "display_name = \"Acme\"\n[tenant.mail.invitation]\nsubject_en = \"{inviter} wants you in {account}\"\ntext_en = \"Go to {link} before {expires}. Rights: {permissions}. -- {tenant}\"\nhtml_es = \"file:{DIR}/invitation.es.html\"\n",
        &[(
            "invitation.es.html",
            "<p>Hola de {tenant}: <a href=\"{link}\">{account}</a></p>\n<style>p { color: red }</style>\n",
        )],
    );
    let en = render_invitation(&t, &server_from(), Lang::En, &invitation());
    assert_eq!(en.subject, "Olga Owner wants you in shop.test");
    assert_eq!(
        en.text,
        "Go to https://panel.t.test/.portero/invitations?token=tok123 before 2025-03-15 00:53 UTC. Rights: Technical. -- Acme"
    );
    // No html_en: the default.
    assert!(en.html.contains("Accept the invitation"), "{}", en.html);
    let es = render_invitation(&t, &server_from(), Lang::Es, &invitation());
    // No subject_es or text_es: the defaults; html_es from its file.
    assert_eq!(es.subject, "Invitación a shop.test en Acme");
    assert!(es.text.contains("le invita"), "{}", es.text);
    assert_eq!(
        es.html,
        "<p>Hola de Acme: <a href=\"https://panel.t.test/.portero/invitations?token=tok123\">shop.test</a></p>\n<style>p { color: red }</style>\n"
    );
}

/// Threat: the inviter's name and the account are chosen by people, and an
/// invited person's mail program renders the HTML part.
#[test]
fn hostile_values_are_escaped_in_html_and_kept_in_text() {
    let t = tenant_with("display_name = \"Acme <b>&</b>\"\n", &[]);
    let mut inv = invitation();
    inv.inviter = "<img src=x onerror=alert(1)>";
    inv.account = "a\"><script>alert('x')</script>";
    inv.link = "https://panel.t.test/.portero/invitations?token=a&b=\"c\"";
    for lang in [Lang::En, Lang::Es] {
        let m = render_invitation(&t, &server_from(), lang, &inv);
        assert!(!m.html.contains("<img"), "{}", m.html);
        assert!(!m.html.contains("<script"), "{}", m.html);
        assert!(!m.html.contains("<b>"), "{}", m.html);
        assert!(m.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(m
            .html
            .contains("a&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(m.html.contains(
            "href=\"https://panel.t.test/.portero/invitations?token=a&amp;b=&quot;c&quot;\""
        ));
        assert!(m.html.contains("Acme &lt;b&gt;&amp;&lt;/b&gt;"));
        assert!(
            m.text.contains("<img src=x onerror=alert(1)>"),
            "{}",
            m.text
        );
        assert!(m.text.contains(inv.link), "{}", m.text);
    }
}

#[test]
fn a_hostile_inviter_cannot_add_headers_through_the_subject() {
    let t = tenant_with(
        "[tenant.mail.invitation]\nsubject_en = \"{inviter} invites you\"\n",
        &[],
    );
    let mut inv = invitation();
    inv.inviter = "Eve\r\nBcc: everyone@victim.test";
    let m = render_invitation(&t, &server_from(), Lang::En, &inv);
    assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
    assert_eq!(m.subject, "Eve  Bcc: everyone@victim.test invites you");
}

#[test]
fn errors_say_what_failed_and_where() {
    let e = MailError::Unreachable {
        server: "smtp.t.test:587".into(),
        reason: "Connection refused".into(),
    };
    assert_eq!(
        e.to_string(),
        "the mail server at smtp.t.test:587 could not be reached: Connection refused"
    );
    let e = MailError::TimedOut {
        server: "smtp.t.test:587".into(),
        after: shown(Duration::from_millis(1500)),
    };
    assert_eq!(
        e.to_string(),
        "the mail server at smtp.t.test:587 did not accept the mail within 1500ms"
    );
    assert_eq!(shown(Duration::from_secs(10)), "10s");
}

/// A mailer is built without a runtime and without connecting; its
/// `Debug` never shows the password.
#[test]
fn a_mailer_is_built_without_connecting_and_hides_the_password() {
    let smtp = crate::config::Smtp {
        host: "smtp.t.test".into(),
        port: 587,
        security: crate::config::SmtpSecurity::StartTls,
        login: Some(crate::config::SmtpLogin {
            user: "portero".into(),
            password: "hunter2-secret".into(),
        }),
        from: server_from(),
        timeout: Duration::from_secs(10),
        ca: None,
    };
    let metrics = Metrics::new().unwrap();
    let m = Mailer::new(&smtp, &metrics).unwrap();
    assert_eq!(m.server(), "smtp.t.test:587");
    assert!(!format!("{m:?}{smtp:?}").contains("hunter2"));
}
