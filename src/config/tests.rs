//! The configuration's findings, compiled in memory: the environment is a
//! map (`K` holds a session key), files live in a temporary folder, and no
//! `portero` process is started. `tests/operations/config_check.rs` keeps the cases
//! that need the binary (exit codes, `check`'s output, the real environment).

use super::for_tests::{compile_in, GOOD};
use super::AcmeChallenge;

/// Compiles `config` in memory: whether it was accepted, and every finding,
/// one a line, as `portero check` prints them (the folder shown as `DIR`).
fn check(config: &str) -> (bool, String) {
    let (result, dir) = compile_in(config, &[], &[]);
    let (ok, findings) = match result {
        Ok(loaded) => (true, loaded.warnings),
        Err(findings) => (false, findings),
    };
    let out: String = findings.iter().map(|d| format!("{d}\n")).collect();
    (ok, out.replace(dir.path().to_str().unwrap(), "DIR"))
}

#[test]
fn unknown_keys_in_tenants_are_errors() {
    let bad = GOOD.to_string() + "supper_admins = [\"x@t.test\"]\n";
    let (ok, out) = check(&bad);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:15:") && out.contains("supper_admins"),
        "{out}"
    );
}

#[test]
fn a_bad_external_sso_url_is_named() {
    let bad =
        GOOD.to_string() + "[tenant.external_sso]\nurl = \"not a url\"\njwt_key = \"short\"\n";
    let (ok, out) = check(&bad);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:16:") && out.contains("not a url"),
        "{out}"
    );
}

/// Metadata without a certificate (samael would accept unsigned responses),
/// with one xmlsec cannot load, a missing file, and a plain-http URL to
/// another machine are errors on their line.
#[test]
fn saml_metadata_that_cannot_verify_anything_is_an_error_with_its_line() {
    for (idp_metadata, what) in [
        ("{DIR}/bare.xml", "no signing certificate"),
        ("{DIR}/junk.xml", "signing certificate cannot be loaded"),
        ("{DIR}/missing.xml", "missing.xml"),
        ("http://idp.t.test/metadata", "use https://"),
        ("file:///etc/passwd", "use https://"),
    ] {
        let config = format!("{GOOD}[tenant.saml]\nidp_metadata = \"{idp_metadata}\"\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bare.xml"),
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.t.test"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.t.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("junk.xml"),
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.t.test"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>MIIBszCCAVmgAwIBAgIUXv1Z</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.t.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        )
        .unwrap();
        let config = config
            .replace(
                "{DIR}/bare.xml",
                dir.path().join("bare.xml").to_str().unwrap(),
            )
            .replace(
                "{DIR}/junk.xml",
                dir.path().join("junk.xml").to_str().unwrap(),
            );
        let (ok, out) = check(&config);
        assert!(!ok, "accepted {idp_metadata}");
        assert!(
            out.contains("portero.toml:16:") && out.contains(what),
            "{idp_metadata}: {out}"
        );
    }
}

/// `check` does not fetch: an https URL is accepted as written; the SP's
/// name is given one way at most.
#[test]
fn saml_metadata_url_and_sp_entity_id() {
    let url = "[tenant.saml]\nidp_metadata = \"https://idp.t.test/metadata\"\nmetadata_refresh = \"15m\"\n";
    let (ok, out) = check(&format!("{GOOD}{url}"));
    assert!(ok, "{out}");
    let (ok, out) = check(&format!(
        "{GOOD}{url}tenant_specific_issuer = true\nsp_entity_id = \"urn:x\"\n"
    ));
    assert!(
        !ok && out.contains("portero.toml:19:") && out.contains("keep one"),
        "{out}"
    );
    let (ok, out) = check(
        &format!("{GOOD}{url}metadata_refresh = \"soon\"\n")
            .replace("metadata_refresh = \"15m\"\n", ""),
    );
    assert!(!ok && out.contains("metadata_refresh"), "{out}");
}

#[test]
fn single_logout_needs_an_idp_slo_url_and_warns_with_auto_redirect() {
    let dir = tempfile::tempdir().unwrap();
    // A real certificate: the metadata's certificates are loaded into
    // xmlsec keys when it is read, and one that does not load is refused.
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/fixtures/idp-metadata.xml"
    ))
    .unwrap();
    let cert = fixture
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|c| c.split("</ds:X509Certificate>").next())
        .unwrap();
    let md = |slo: &str| {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.t.test"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>{slo}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.t.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    };
    let with_slo = dir.path().join("slo.xml");
    let without = dir.path().join("noslo.xml");
    std::fs::write(&with_slo, md(r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.t.test/slo"/>"#)).unwrap();
    std::fs::write(&without, md("")).unwrap();
    let config = |file: &std::path::Path, mode: &str| {
        GOOD.replace(
            "account = \"t.test\"\n",
            &format!("account = \"t.test\"\nsso_mode = \"{mode}\"\n"),
        ) + &format!(
            "[tenant.saml]\nidp_metadata = \"{}\"\nsingle_logout = true\n",
            file.display()
        )
    };
    let (ok, out) = check(&config(&without, "login_page"));
    assert!(
        !ok && out.contains("portero.toml:18:") && out.contains("SingleLogoutService"),
        "{out}"
    );
    let (ok, out) = check(&config(&with_slo, "auto_redirect"));
    assert!(ok, "{out}");
    assert!(
        out.contains("portero.toml:18:")
            && out.contains("warning")
            && out.contains("auto_redirect"),
        "{out}"
    );
    let (ok, out) = check(&config(&with_slo, "login_page"));
    assert!(ok && !out.contains("auto_redirect"), "{out}");
}

#[test]
fn an_sp_signing_key_needs_its_certificate() {
    let md = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/fixtures/idp-metadata.xml"
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.xml");
    std::fs::write(&path, md.unwrap()).unwrap();
    let config = format!(
        "{GOOD}[tenant.saml]\nidp_metadata = \"{}\"\nsp_signing_key = \"file:{}/a.pem\"\n",
        path.display(),
        "{DIR}"
    );
    let (ok, out) = check(&config);
    assert!(!ok, "{out}");
    assert!(
        out.contains("portero.toml:17:") && out.contains("go together"),
        "{out}"
    );
}

/// One OpenID provider per tenant (a second `[tenant.oidc]` or an array of
/// them is refused), a usable issuer, a secret, a known client
/// authentication.
#[test]
fn oidc_settings_are_checked() {
    let oidc = "[tenant.oidc]\nissuer = \"https://op.t.test\"\nclient_id = \"portero\"\nclient_secret = \"env:K\"\n";
    let (ok, out) = check(&format!("{GOOD}{oidc}"));
    assert!(ok, "{out}");
    let (ok, out) = check(&format!("{GOOD}{oidc}{oidc}"));
    assert!(
        !ok && out.contains("portero.toml:19:") && out.contains("duplicate"),
        "two [tenant.oidc]: {out}"
    );
    let twice = "[[tenant.oidc]]\nissuer = \"https://op.t.test\"\nclient_id = \"a\"\nclient_secret = \"x\"\n[[tenant.oidc]]\nissuer = \"https://op2.t.test\"\nclient_id = \"b\"\nclient_secret = \"y\"\n";
    let (ok, out) = check(&format!("{GOOD}{twice}"));
    assert!(
        !ok && out.contains("one OpenID Connect provider"),
        "array of providers: {out}"
    );
    for (bad, what, line) in [
        (
            oidc.replace("https://op.t.test", "http://op.t.test"),
            "use https://",
            16,
        ),
        (
            oidc.replace("client_secret = \"env:K\"\n", ""),
            "client_secret",
            15,
        ),
        (
            format!("{oidc}client_auth = \"private_key_jwt\"\n"),
            "client_auth",
            19,
        ),
        (
            format!("{oidc}discovery_refresh = \"often\"\n"),
            "discovery_refresh",
            19,
        ),
    ] {
        let (ok, out) = check(&format!("{GOOD}{bad}"));
        assert!(
            !ok && out.contains(what) && out.contains(&format!("portero.toml:{line}:")),
            "{what}: {out}"
        );
    }
}

#[test]
fn brand_and_language_are_checked() {
    let (ok, out) = check(&format!("{GOOD}language = \"fr\"\n"));
    assert!(
        !ok && out.contains("portero.toml:15:") && out.contains("language"),
        "{out}"
    );
    let (ok, out) = check(&format!(
        "{GOOD}[tenant.brand]\nprimary_color = \"blue\"\nlogo = \"{{DIR}}/logo.gif\"\n"
    ));
    assert!(
        !ok && out.contains("portero.toml:16:") && out.contains("#rgb"),
        "{out}"
    );
    assert!(
        out.contains("portero.toml:17:") && out.contains(".png"),
        "{out}"
    );
}

#[test]
fn redis_and_header_timeout_keys_are_checked_with_their_line() {
    let with = |extra: &str| GOOD.replace("[server]\n", &format!("[server]\n{extra}"));
    let (ok, out) = check(&with(
        "redis = \"redis://127.0.0.1:6379/0\"\nredis_timeout = \"2s\"\nheader_timeout = \"5s\"\n",
    ));
    assert!(ok, "{out}");
    let (ok, out) = check(&with("redis = \"http://127.0.0.1:6379\"\n"));
    assert!(
        !ok && out.contains("portero.toml:2:") && out.contains("redis:// URL"),
        "{out}"
    );
    let (ok, out) = check(&with("redis = \"env:NO_SUCH_REDIS_VARIABLE\"\n"));
    assert!(!ok && out.contains("portero.toml:2:"), "{out}");
    let (ok, out) = check(&with("redis_timeout = \"1s\"\n"));
    assert!(
        ok && out.contains("portero.toml:2:") && out.contains("no effect without [server].redis"),
        "{out}"
    );
    let (ok, out) = check(&with("header_timeout = \"soon\"\n"));
    assert!(
        !ok && out.contains("portero.toml:2:") && out.contains("header_timeout"),
        "{out}"
    );
    let long = "x".repeat(120);
    let (ok, out) = check(&with(&format!("upgrade_sock = \"/tmp/{long}.sock\"\n")));
    assert!(
        !ok && out.contains("portero.toml:2:") && out.contains("107 bytes"),
        "{out}"
    );
}

/// Threat: an admin listener off loopback without a token lets anyone who
/// reaches it add administrators; `check` said "warning" and `run` served.
#[test]
fn an_admin_listener_off_loopback_needs_a_token() {
    for listen in ["0.0.0.0:9090", "10.0.0.5:9090", "[::]:9090"] {
        let cfg = GOOD.replace(
            "listen = [\"127.0.0.1:8080\"]",
            &format!("listen = [\"127.0.0.1:8080\"]\nadmin_listen = \"{listen}\""),
        );
        let (ok, out) = check(&cfg);
        assert!(!ok, "{listen}: {out}");
        assert!(
            out.contains("portero.toml:3:") && out.contains("admin_token"),
            "{listen}: {out}"
        );
    }
    let with_token = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\nadmin_listen = \"0.0.0.0:9090\"\nadmin_token = \"env:K\"\nadmin_hosts = [\"portero-admin.internal\"]",
    );
    let (ok, out) = check(&with_token);
    assert!(ok, "{out}");
    let empty_token = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\nadmin_listen = \"0.0.0.0:9090\"\nadmin_token = \"\"",
    );
    let (ok, out) = check(&empty_token);
    assert!(
        !ok && out.contains("portero.toml:4:") && out.contains("empty"),
        "{out}"
    );
    let bad_host = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\nadmin_hosts = [\"http://admin.internal:9090\"]",
    );
    let (ok, out) = check(&bad_host);
    assert!(
        !ok && out.contains("portero.toml:3:") && out.contains("admin_hosts"),
        "{out}"
    );
    let (ok, out) = check(GOOD);
    assert!(ok, "loopback without a token is fine: {out}");
}

/// `check` said ok, then `run` failed with "No such file or directory"
/// naming no file.
#[test]
fn log_files_in_a_missing_folder_are_errors_with_their_line() {
    let cfg = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\naudit_log = \"{DIR}/nope/audit.log\"\naccess_log = \"{DIR}/gone/access.log\"",
    );
    let (ok, out) = check(&cfg);
    assert!(!ok, "{out}");
    assert!(
        out.contains("portero.toml:3:") && out.contains("DIR/nope"),
        "{out}"
    );
    assert!(
        out.contains("portero.toml:4:") && out.contains("DIR/gone"),
        "{out}"
    );
    let cfg = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\naudit_log = \"{DIR}\"",
    );
    let (ok, out) = check(&cfg);
    assert!(!ok && out.contains("is a folder"), "{out}");
    let cfg = GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]",
        "listen = [\"127.0.0.1:8080\"]\naudit_log = \"{DIR}/audit.log\"\naccess_log = \"{DIR}/access.log\"",
    );
    let (ok, out) = check(&cfg);
    assert!(ok, "{out}");
}

/// The good configuration with `[server.smtp]` holding `keys` (its header
/// on line 3, the keys from line 4).
fn with_smtp(keys: &str) -> String {
    GOOD.replace(
        "listen = [\"127.0.0.1:8080\"]\n",
        &format!("listen = [\"127.0.0.1:8080\"]\n[server.smtp]\n{keys}"),
    )
}

/// Compiles `config` like [`check`] and returns the configuration.
fn compiled(config: &str, env: &[(&str, &str)], files: &[(&str, &str)]) -> super::Config {
    super::for_tests::compiled(config, env, files).0
}

#[test]
fn smtp_defaults_and_secret_passwords() {
    use super::SmtpSecurity;
    let cfg = compiled(
        &with_smtp(
            "host = \"smtp.example.test\"\nfrom = \"Example Hosting <no-reply@example.test>\"\n",
        ),
        &[],
        &[],
    );
    let smtp = cfg.server.smtp.unwrap();
    assert_eq!(smtp.host, "smtp.example.test");
    assert_eq!((smtp.port, smtp.security), (587, SmtpSecurity::StartTls));
    assert_eq!(smtp.timeout, std::time::Duration::from_secs(10));
    assert_eq!(
        smtp.from.to_string(),
        "Example Hosting <no-reply@example.test>"
    );
    assert!(smtp.login.is_none() && smtp.ca.is_none());
    assert_eq!(smtp.server(), "smtp.example.test:587");

    for (security, port) in [("tls", 465), ("none", 25)] {
        let cfg = compiled(
            &with_smtp(&format!(
                "host = \"127.0.0.1\"\nsecurity = \"{security}\"\nfrom = \"a@example.test\"\n"
            )),
            &[],
            &[],
        );
        assert_eq!(cfg.server.smtp.unwrap().port, port, "{security}");
    }

    let cfg = compiled(
        &with_smtp("host = \"[::1]\"\nport = 2525\nuser = \"portero\"\npassword = \"env:SMTP_PASSWORD\"\nfrom = \"a@example.test\"\ntimeout = \"1500ms\"\n"),
        &[("SMTP_PASSWORD", "from-the-environment")],
        &[],
    );
    let smtp = cfg.server.smtp.unwrap();
    let login = smtp.login.as_ref().unwrap();
    assert_eq!(
        (login.user.as_str(), login.password.as_str()),
        ("portero", "from-the-environment")
    );
    assert_eq!(smtp.server(), "[::1]:2525");
    assert_eq!(smtp.timeout, std::time::Duration::from_millis(1500));
    assert!(!format!("{smtp:?}").contains("from-the-environment"));

    let cfg = compiled(
        &with_smtp("host = \"smtp.example.test\"\nuser = \"portero\"\npassword = \"file:{DIR}/smtp-password\"\nfrom = \"a@example.test\"\n"),
        &[],
        &[("smtp-password", "from-a-file\n")],
    );
    assert_eq!(
        cfg.server.smtp.unwrap().login.unwrap().password,
        "from-a-file"
    );
    assert!(compiled(GOOD, &[], &[]).server.smtp.is_none());
}

/// Every bad `[server.smtp]` value is an error on its own line.
#[test]
fn smtp_mistakes_are_named_with_their_line() {
    let from = "from = \"a@example.test\"\n";
    for (keys, line, what) in [
        (format!("host = \"smtp://smtp.example.test:587\"\n{from}"), 4, "without scheme or port"),
        (format!("host = \"smtp.example.test\"\nsecurity = \"ssl\"\n{from}"), 5, "starttls, tls, none"),
        (format!("host = \"smtp.example.test\"\nport = 70000\n{from}"), 5, "between 1 and 65535"),
        (format!("host = \"smtp.example.test\"\nuser = \"portero\"\n{from}"), 5, "without password"),
        (format!("host = \"smtp.example.test\"\npassword = \"env:SMTP_PASSWORD\"\n{from}"), 5, "without user"),
        (
            format!("host = \"smtp.example.test\"\nuser = \"portero\"\npassword = \"env:NO_SUCH_SMTP_PASSWORD\"\n{from}"),
            6,
            "NO_SUCH_SMTP_PASSWORD is not set",
        ),
        ("host = \"smtp.example.test\"\nfrom = \"Example Hosting\"\n".to_string(), 5, "is not a mailbox"),
        ("host = \"smtp.example.test\"\nfrom = \"a@@example.test\"\n".to_string(), 5, "is not a mailbox"),
        (format!("host = \"smtp.example.test\"\n{from}timeout = \"soon\"\n"), 6, "[server.smtp].timeout"),
        (format!("host = \"smtp.example.test\"\n{from}timeout = \"20m\"\n"), 6, "between 100ms and 10m"),
        (format!("host = \"smtp.example.test\"\n{from}ca = \"{{DIR}}/missing.pem\"\n"), 6, "missing.pem"),
        (format!("host = \"smtp.example.test\"\n{from}ca = \"{{DIR}}/a.pem\"\n"), 6, "no PEM certificate"),
        (
            format!("host = \"smtp.example.test\"\nsecurity = \"none\"\nuser = \"u\"\npassword = \"p\"\n{from}"),
            5,
            "unencrypted",
        ),
        (from.to_string(), 3, "missing field `host`"),
        ("host = \"smtp.example.test\"\n".to_string(), 3, "missing field `from`"),
        (format!("host = \"smtp.example.test\"\n{from}starttls = true\n"), 6, "unknown field `starttls`"),
    ] {
        let (ok, out) = check(&with_smtp(&keys));
        assert!(!ok, "accepted: {keys}");
        assert!(
            out.contains(&format!("portero.toml:{line}: error")) && out.contains(what),
            "{keys}: want line {line} and {what:?} in:\n{out}"
        );
    }
    // The secret is never part of a message.
    let (_, out) = check(&with_smtp(&format!(
        "host = \"smtp.example.test\"\nsecurity = \"none\"\nuser = \"u\"\npassword = \"hunter2\"\n{from}"
    )));
    assert!(!out.contains("hunter2"), "{out}");
}

/// Accepted, but probably not what was meant.
#[test]
fn smtp_warnings_for_a_port_of_the_other_kind_and_mail_in_clear() {
    let from = "from = \"a@example.test\"\n";
    for (keys, line, what) in [
        (
            format!("host = \"smtp.example.test\"\nport = 465\n{from}"),
            5,
            "security = \"tls\"",
        ),
        (
            format!("host = \"smtp.example.test\"\nsecurity = \"tls\"\nport = 587\n{from}"),
            6,
            "starttls",
        ),
        (
            format!("host = \"smtp.example.test\"\nsecurity = \"none\"\n{from}"),
            5,
            "unencrypted",
        ),
    ] {
        let (ok, out) = check(&with_smtp(&keys));
        assert!(ok, "{keys}: {out}");
        assert!(
            out.contains(&format!("portero.toml:{line}: warning")) && out.contains(what),
            "{keys}: {out}"
        );
    }
    // A catcher on this machine: no warning, a login allowed.
    let (ok, out) = check(&with_smtp(&format!(
        "host = \"localhost\"\nport = 1025\nsecurity = \"none\"\nuser = \"u\"\npassword = \"p\"\n{from}"
    )));
    assert!(ok && !out.contains("[server.smtp]"), "{out}");
}

#[test]
fn tenant_mail_templates_are_checked_with_their_line() {
    let (ok, out) = check(&format!(
        "{GOOD}[tenant.mail]\nfrom = \"Libros ID <hola@libros.test>\"\n[tenant.mail.invitation]\nsubject_en = \"{{inviter}} invites you\"\ntext_es = \"Hola {{tenant}}: {{link}} ({{expires}}, {{permissions}}, {{account}})\"\nhtml_en = \"<style>p {{ color: red }}</style><a href='{{link}}'>{{account}}</a>\"\n"
    ));
    assert!(ok && !out.contains("mail"), "{out}");
    for (extra, line, what) in [
        (
            "[tenant.mail.invitation]\ntext_en = \"Open {link} now, {invitee}\"\n",
            16,
            "tenant `t`: mail.invitation.text_en: unknown placeholder {invitee} (the placeholders are {link}, {account}, {permissions}, {inviter}, {tenant}, {expires})",
        ),
        ("[tenant.mail.invitation]\nhtml_es = \"<a href={Link}>\"\n", 16, "{Link}"),
        ("[tenant.mail.invitation]\nsubject_es = \"one\\ntwo\"\n", 16, "one line"),
        ("[tenant.mail.invitation]\nsubject_en = \"\"\n", 16, "is empty"),
        ("[tenant.mail.invitation]\ntext_en = \"file:{DIR}/nope.txt\"\n", 16, "cannot read DIR/nope.txt"),
        ("[tenant.mail.invitation]\ntext_fr = \"Bonjour\"\n", 16, "unknown key `text_fr` (did you mean `text_es`?)"),
        ("[tenant.mail]\nfrom = \"Libros ID\"\n", 16, "mail.from"),
    ] {
        let (ok, out) = check(&format!("{GOOD}{extra}"));
        assert!(!ok, "accepted: {extra}");
        assert!(
            out.contains(&format!("portero.toml:{line}: error")) && out.contains(what),
            "{extra}: want line {line} and {what:?} in:\n{out}"
        );
    }
}

/// Templates may live in files beside the configuration; an unknown
/// placeholder in one names the key, its line and the file.
#[test]
fn tenant_mail_templates_from_files() {
    let cfg = compiled(
        &format!("{GOOD}[tenant.mail.invitation]\nhtml_en = \"file:invite.html\"\ntext_en = \"file:{{DIR}}/invite.txt\"\n"),
        &[],
        &[("invite.html", "<p>{inviter}: <a href=\"{link}\">{account}</a></p>\n"), ("invite.txt", "{link}\n")],
    );
    let t = &cfg.tenants[0].mail.invitation;
    assert_eq!(
        t.html.en.as_deref(),
        Some("<p>{inviter}: <a href=\"{link}\">{account}</a></p>\n")
    );
    assert_eq!(t.text.en.as_deref(), Some("{link}\n"));
    assert!(t.subject.en.is_none() && t.html.es.is_none());

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<p>{inviter} {whoever}</p>").unwrap();
    let (ok, out) = check(&format!(
        "{GOOD}[tenant.mail.invitation]\nhtml_en = \"file:{}\"\n",
        bad.display()
    ));
    assert!(
        !ok && out.contains("portero.toml:16: error")
            && out.contains("mail.invitation.html_en in ")
            && out.contains("bad.html")
            && out.contains("{whoever}"),
        "{out}"
    );
}

/// `lock_provisioned_fields`: off by default; on a store tenant that
/// provisions its users it is kept; elsewhere it warns at its line, and a
/// value that is not a boolean is an error at its line.
#[test]
fn lock_provisioned_fields_is_read_and_checked_with_its_line() {
    let cfg = compiled(GOOD, &[], &[]);
    assert!(!cfg.tenants[0].lock_provisioned_fields);
    let (ok, out) = check(&format!(
        "{GOOD}provision = true\nlock_provisioned_fields = true\n"
    ));
    assert!(ok && !out.contains("lock_provisioned_fields"), "{out}");
    let cfg = compiled(
        &format!("{GOOD}provision = true\nlock_provisioned_fields = true\n"),
        &[],
        &[],
    );
    assert!(cfg.tenants[0].lock_provisioned_fields);
    let (ok, out) = check(&format!("{GOOD}lock_provisioned_fields = true\n"));
    assert!(
        ok && out.contains("portero.toml:15: warning") && out.contains("without provision = true"),
        "{out}"
    );
    let (ok, out) = check(&format!(
        "{GOOD}provision = true\nlock_provisioned_fields = true\n[[tenant.member]]\naccount = \"t.test\"\nuser = \"ana@t.test\"\npermissions = [\"admin\"]\n"
    ));
    assert!(
        ok && out.contains("portero.toml:16: warning")
            && out.contains(
                "lock_provisioned_fields has no effect: only tenants on the embedded store"
            ),
        "{out}"
    );
    let (ok, out) = check(&format!("{GOOD}lock_provisioned_fields = \"yes\"\n"));
    assert!(
        !ok && out.contains("portero.toml:15:") && out.contains("invalid type"),
        "{out}"
    );
}

/// A renamed identity header may not take a name another one still sends
/// (the panel would get one value under it, the other lost), nor be used
/// twice; renaming both ways round is fine.
#[test]
fn renamed_headers_stay_distinct_from_the_defaults_left() {
    let taken = format!("{GOOD}[tenant.headers]\nuser = \"X-Portero-Email\"\n");
    let (ok, out) = check(&taken);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:16:") && out.contains("default name of `email`"),
        "{out}"
    );
    let twice = format!("{GOOD}[tenant.headers]\nuser = \"X-Who\"\nemail = \"x_who\"\n");
    let (ok, out) = check(&twice);
    assert!(!ok);
    assert!(out.contains("used twice"), "{out}");
    let swapped =
        format!("{GOOD}[tenant.headers]\nuser = \"X-Portero-Email\"\nemail = \"X-Portero-User\"\n");
    let (ok, out) = check(&swapped);
    assert!(ok, "{out}");
}

/// `[server].database`: a postgres:// URL (from the environment here), kept
/// out of every `Debug` (it holds the password); anything else is refused
/// at its line.
#[test]
fn the_database_url_is_checked_and_never_shown() {
    let with_db = |v: &str| GOOD.replace("[server]\n", &format!("[server]\ndatabase = \"{v}\"\n"));
    let cfg = compiled(
        &with_db("env:DB"),
        &[("DB", "postgres://portero:s3cr3t-pw@db.test:5432/portero")],
        &[],
    );
    let url = cfg.server.database.as_ref().unwrap();
    assert_eq!(url.0, "postgres://portero:s3cr3t-pw@db.test:5432/portero");
    assert!(!format!("{:?}", cfg.server).contains("s3cr3t-pw"));
    for bad in ["mysql://db.test/portero", "postgres://db.test:notaport/x"] {
        let (ok, out) = check(&with_db(bad));
        assert!(!ok, "{bad}");
        assert!(
            out.contains("portero.toml:2: error: [server].database"),
            "{bad}: {out}"
        );
    }
}

/// A configuration with a TLS listener, `[server.acme]` holding `acme`
/// (its header on line 4, its keys from line 5) and one tenant whose
/// `hosts` (line 16 after one line of `acme`) and extra keys are given.
fn with_acme(acme: &str, hosts: &str, tenant_keys: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:8080\"]\nlisten_tls = [\"127.0.0.1:8443\"]\n[server.acme]\n{acme}\n\n[session]\nkeys = [\"env:K\"]\n\n[assertion]\nsigning_key = \"file:{{DIR}}/a.pem\"\n\n[[tenant]]\nname = \"t\"\nupstream = \"127.0.0.1:9000\"\nhosts = [{hosts}]\naccount = \"t.test\"\n{tenant_keys}"
    )
}

#[test]
fn acme_defaults_and_the_hosts_that_get_certificates() {
    let cfg = compiled(
        &with_acme(
            "accept_terms = true",
            "\"panel.t.test\", \"Panel.Two.Test\"",
            "",
        ),
        &[],
        &[],
    );
    let acme = cfg.server.acme.as_ref().unwrap();
    assert_eq!(acme.directory, super::acme::LETS_ENCRYPT);
    assert_eq!(
        acme.challenges,
        vec![AcmeChallenge::TlsAlpn01, AcmeChallenge::Http01]
    );
    assert_eq!(acme.renew_before, 30 * 86_400);
    assert_eq!(acme.orders_per_hour, 100);
    assert_eq!(acme.email, None);
    let hosts: Vec<&str> = cfg.acme_hosts.iter().map(String::as_str).collect();
    assert_eq!(hosts, ["panel.t.test", "panel.two.test"]);
    // No [tenant.tls] anywhere: the TLS listener serves ACME's certificates.
    let (ok, out) = check(&with_acme(
        "accept_terms = true\nemail = \"Ops@Hosting.test\"\nchallenges = [\"http-01\"]\nrenew_before = \"20d\"\norders_per_hour = 10\ndirectory = \"https://acme-staging-v02.api.letsencrypt.org/directory\"",
        "\"panel.t.test\"",
        "",
    ));
    assert!(ok && !out.contains("acme"), "{out}");
}

/// The terms must be accepted; challenges need their listener; dns-01 and
/// unknown names, a plain-http directory off loopback, a missing CA file
/// and a bad window are refused at their line.
#[test]
fn acme_settings_are_checked_with_their_line() {
    for (acme, line, what) in [
        ("email = \"a@b.test\"", 4, "accept_terms = true"),
        ("accept_terms = false", 5, "accept_terms = true"),
        (
            "accept_terms = true\nchallenges = [\"dns-01\"]",
            6,
            "dns-01 is not supported",
        ),
        (
            "accept_terms = true\nchallenges = [\"tls-alpn-02\"]",
            6,
            "not one of tls-alpn-01, http-01",
        ),
        (
            "accept_terms = true\nchallenges = []",
            6,
            "challenges is empty",
        ),
        (
            "accept_terms = true\ndirectory = \"http://ca.test/dir\"",
            6,
            "use https://",
        ),
        (
            "accept_terms = true\nca = \"{DIR}/missing.pem\"",
            6,
            "missing.pem",
        ),
        (
            "accept_terms = true\nrenew_before = \"soon\"",
            6,
            "renew_before",
        ),
        (
            "accept_terms = true\nemail = \"nobody\"",
            6,
            "not an e-mail address",
        ),
        (
            "accept_terms = true\norders_per_hour = 0",
            6,
            "orders_per_hour",
        ),
    ] {
        let (ok, out) = check(&with_acme(acme, "\"panel.t.test\"", ""));
        assert!(!ok, "accepted {acme}");
        assert!(
            out.contains(&format!("portero.toml:{line}: error:")) && out.contains(what),
            "{acme}: {out}"
        );
    }
    // TLS-ALPN-01 without a TLS listener.
    let no_tls = with_acme(
        "accept_terms = true\nchallenges = [\"tls-alpn-01\", \"http-01\"]",
        "\"panel.t.test\"",
        "",
    )
    .replace("listen_tls = [\"127.0.0.1:8443\"]\n", "");
    let (ok, out) = check(&no_tls);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:5: error:") && out.contains("needs [server].listen_tls"),
        "{out}"
    );
    // The CA's own certificate authority, read from a file.
    let (result, _dir) = compile_in(
        &with_acme(
            "accept_terms = true\nca = \"{DIR}/ca.pem\"",
            "\"panel.t.test\"",
            "",
        ),
        &[],
        &[("ca.pem", "not a certificate")],
    );
    let out: String = result
        .unwrap_err()
        .iter()
        .map(|d| format!("{d}\n"))
        .collect();
    assert!(out.contains("[server.acme].ca"), "{out}");
}

/// Names a CA does not issue for through HTTP-01 or TLS-ALPN-01 are said
/// at their line (and get none); a tenant opts out with acme = false, and
/// one with its own [tenant.tls] is left alone (acme = true there too is
/// an error); acme without [server.acme] does nothing.
#[test]
fn acme_tenants_wildcards_and_opting_out() {
    let (ok, out) = check(&with_acme(
        "accept_terms = true",
        "\"panel.t.test\", \"*.t.test\", \"10.0.0.1\", \"intranet\"",
        "",
    ));
    assert!(ok, "{out}");
    for (what, why) in [
        ("*.t.test", "wildcard names need the DNS-01 challenge"),
        ("10.0.0.1", "IP address"),
        ("intranet", "names with a dot"),
    ] {
        assert!(
            out.lines().any(|l| l.contains("portero.toml:16: warning:")
                && l.contains(&format!("host `{what}` gets no certificate through ACME"))
                && l.contains(why)),
            "{what}: {out}"
        );
    }
    let cfg = compiled(
        &with_acme("accept_terms = true", "\"panel.t.test\", \"*.t.test\"", ""),
        &[],
        &[],
    );
    assert_eq!(cfg.acme_hosts.len(), 1);

    // Opted out: nothing to serve on the TLS listener, which says so.
    let (ok, out) = check(&with_acme(
        "accept_terms = true",
        "\"panel.t.test\"",
        "acme = false\n",
    ));
    assert!(!ok);
    assert!(
        out.contains("nor a host that gets one through [server.acme]"),
        "{out}"
    );

    let cert = rcgen::generate_simple_self_signed(vec!["panel.t.test".to_string()]).unwrap();
    let files = [
        ("t.crt", cert.cert.pem()),
        ("t.key", cert.signing_key.serialize_pem()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let static_tls = "[tenant.tls]\ncert = \"{DIR}/t.crt\"\nkey = \"{DIR}/t.key\"\n";
    let (result, _dir) = compile_in(
        &with_acme("accept_terms = true", "\"panel.t.test\"", static_tls),
        &[],
        &files,
    );
    assert!(result.unwrap().config.acme_hosts.is_empty(), "left alone");
    let (result, _dir) = compile_in(
        &with_acme(
            "accept_terms = true",
            "\"panel.t.test\"",
            &format!("acme = true\n{static_tls}"),
        ),
        &[],
        &files,
    );
    let out: String = result
        .unwrap_err()
        .iter()
        .map(|d| format!("{d}\n"))
        .collect();
    assert!(
        out.contains("portero.toml:18: error:") && out.contains("acme = true and [tenant.tls]"),
        "{out}"
    );

    let (ok, out) = check(&format!("{GOOD}acme = true\n"));
    assert!(ok);
    assert!(
        out.contains("portero.toml:15: warning:")
            && out.contains("acme has no effect without [server.acme]"),
        "{out}"
    );
}

/// `[tenant.headers] preset`: a known family of names, an unknown one
/// refused at its line with the one probably meant; a rename may not take
/// a name the preset gives another header, and overrides the preset for
/// its own.
#[test]
fn header_presets_are_known_names_and_renames_override_them() {
    let (ok, out) = check(&format!(
        "{GOOD}[tenant.headers]\npreset = \"oauth2proxy\"\n"
    ));
    assert!(!ok);
    assert!(
        out.contains("portero.toml:16:") && out.contains("did you mean `oauth2-proxy`?"),
        "{out}"
    );
    let (ok, out) = check(&format!("{GOOD}[tenant.headers]\npreset = \"keycloak\"\n"));
    assert!(!ok);
    assert!(
        out.contains("portero.toml:16:")
            && out.contains("expected portero, oauth2-proxy, authelia"),
        "{out}"
    );
    let taken = format!("{GOOD}[tenant.headers]\npreset = \"authelia\"\nemail = \"Remote-User\"\n");
    let (ok, out) = check(&taken);
    assert!(!ok);
    assert!(
        out.contains("portero.toml:17:") && out.contains("from preset \"authelia\""),
        "{out}"
    );
    let cfg = compiled(
        &format!("{GOOD}[tenant.headers]\npreset = \"authelia\"\nuser = \"X-Panel-User\"\n"),
        &[],
        &[],
    );
    let names = &cfg.tenants[0].headers;
    assert_eq!(names.sent_as(0)[0].as_str(), "x-panel-user");
    assert_eq!(names.sent_as(1)[0].as_str(), "remote-email");
    assert!(names.is_stripped("Remote-User"));
}

/// `PORTERO_<SECTION>__<KEY>` replaces the file's value (or adds one the
/// file lacks, its table included), and is checked as the file's would be:
/// a finding about it names the variable instead of a line.
#[test]
fn values_from_the_environment_replace_the_files() {
    let cfg = compiled(
        GOOD,
        &[
            ("PORTERO_SERVER__LISTEN", "127.0.0.1:9001, 127.0.0.1:9002"),
            ("PORTERO_SERVER__THREADS", "3"),
            ("PORTERO_SESSION__COOKIE_NAME", "panel_session"),
            ("PORTERO_SERVER__SMTP__HOST", "mail.t.test"),
            ("PORTERO_SERVER__SMTP__FROM", "Portero <portero@t.test>"),
        ],
        &[],
    );
    let listen: Vec<String> = cfg.server.listen.iter().map(|a| a.to_string()).collect();
    assert_eq!(listen, ["127.0.0.1:9001", "127.0.0.1:9002"]);
    assert_eq!(cfg.server.threads, 3);
    assert!(cfg.server.smtp.is_some());
    assert_eq!(cfg.session.session_name(false), "panel_session");

    for (var, value, said) in [
        (
            "PORTERO_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/33",
            "10.0.0.0/33",
        ),
        ("PORTERO_SERVER__THREADS", "-1", "expected usize"),
        ("PORTERO_ASSERTION__TTL", "2h", "ttl"),
    ] {
        let (result, dir) = super::for_tests::compile_in(GOOD, &[(var, value)], &[]);
        drop(dir);
        let Err(findings) = result else {
            panic!("{var}={value} accepted");
        };
        let errors: Vec<String> = findings
            .iter()
            .filter(|d| d.severity == super::Severity::Error)
            .map(|d| d.to_string())
            .collect();
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with(&format!("{var} (environment): error:"))),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.contains(said)), "{errors:?}");
    }
}
