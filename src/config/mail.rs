//! `[server.smtp]` (the mail server) and `[tenant.mail]` (a tenant's
//! sender and invitation templates).

use super::context::Ctx;
use super::duration;
use super::model::{Smtp, SmtpLogin, SmtpSecurity};
use super::raw::{RawInvitationMail, RawSmtp, RawTenantMail};
use super::secret;
use crate::mail::template;
use crate::mail::{InvitationTemplates, PerLang, TenantMail};
use lettre::message::Mailbox;
use std::net::IpAddr;
use std::time::Duration;
use toml::Spanned;

/// `[server.smtp].timeout` when not set.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// `[server.smtp]`: `None` after an error (the findings say which).
pub(super) fn compile_smtp(cx: &mut Ctx<'_>, raw: &Spanned<RawSmtp>) -> Option<Smtp> {
    let before = cx.errors();
    let section = raw.span();
    let raw = raw.get_ref();
    let host = host(cx, &raw.host);
    let security = match raw.security.as_ref().map(|s| (s.get_ref().as_str(), s)) {
        None | Some(("starttls", _)) => SmtpSecurity::StartTls,
        Some(("tls", _)) => SmtpSecurity::Tls,
        Some(("none", _)) => SmtpSecurity::Unencrypted,
        Some((other, s)) => {
            cx.err(
                s.span(),
                format!("[server.smtp].security `{other}` is not one of starttls, tls, none"),
            );
            SmtpSecurity::StartTls
        }
    };
    let default_port = match security {
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::Unencrypted => 25,
    };
    let port = cx.bounded_int(
        raw.port.as_ref(),
        default_port,
        1..=65_535,
        "[server.smtp].port",
    );
    let port = u16::try_from(port).unwrap_or(587);
    port_fits(cx, raw, security, port);
    let local = host.as_deref().is_some_and(is_local);
    if security == SmtpSecurity::Unencrypted && !local {
        if let (Some(s), Some(h)) = (&raw.security, &host) {
            cx.warn(
                s.span(),
                format!("[server.smtp].security = \"none\": mails to `{h}` cross the network unencrypted; use starttls or tls unless the mail server is on this machine"),
            );
        }
    }
    let login = login(cx, raw, security, local, section.clone());
    let from = match mailbox(raw.from.get_ref()) {
        Ok(m) => Some(m),
        Err(e) => {
            cx.err(raw.from.span(), format!("[server.smtp].from: {e}"));
            None
        }
    };
    let timeout = timeout(cx, raw.timeout.as_ref());
    let ca = raw.ca.as_ref().and_then(|c| ca(cx, c));
    if cx.errors() > before {
        return None;
    }
    Some(Smtp {
        host: host?,
        port,
        security,
        login,
        from: from?,
        timeout,
        ca,
    })
}

/// `host`: a host name or an IP address, without scheme or port.
fn host(cx: &mut Ctx<'_>, raw: &Spanned<String>) -> Option<String> {
    let h = raw.get_ref().trim();
    let bare = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let name = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if name {
        return Some(bare.to_ascii_lowercase());
    }
    cx.err(
        raw.span(),
        format!("[server.smtp].host `{h}` is not a host name or address: write it without scheme or port, e.g. \"smtp.example.test\" (the port is `port`)"),
    );
    None
}

/// Whether the mail server is on this machine.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A warning when the port is the well-known one of the other kind of
/// security (465 is TLS from the first byte; 587 and 25 start plain).
fn port_fits(cx: &mut Ctx<'_>, raw: &RawSmtp, security: SmtpSecurity, port: u16) {
    let Some(p) = &raw.port else { return };
    let hint = match (security, port) {
        (SmtpSecurity::StartTls | SmtpSecurity::Unencrypted, 465) => {
            "port 465 expects TLS from the first byte: set security = \"tls\""
        }
        (SmtpSecurity::Tls, 587 | 25) => {
            "this port starts unencrypted and upgrades with STARTTLS: set security = \"starttls\" (or port = 465)"
        }
        _ => return,
    };
    cx.warn(p.span(), format!("[server.smtp].port {port}: {hint}"));
}

/// `user` and `password` (`env:`/`file:` or inline), both or neither; no
/// password sent unencrypted to another machine.
fn login(
    cx: &mut Ctx<'_>,
    raw: &RawSmtp,
    security: SmtpSecurity,
    local: bool,
    section: std::ops::Range<usize>,
) -> Option<SmtpLogin> {
    match (&raw.user, &raw.password) {
        (None, None) => None,
        (None, Some(p)) => {
            cx.err(
                p.span(),
                "[server.smtp].password is set without user: set user too, or remove password",
            );
            None
        }
        (Some(u), None) => {
            cx.err(
                u.span(),
                "[server.smtp].user is set without password: set password (e.g. \"env:PORTERO_SMTP_PASSWORD\" or \"file:/etc/portero/smtp-password\")",
            );
            None
        }
        (Some(u), Some(p)) => {
            let password = cx.secret(p, "[server.smtp].password")?;
            if password.is_empty() {
                cx.err(p.span(), "[server.smtp].password is empty");
                return None;
            }
            if u.get_ref().trim().is_empty() {
                cx.err(u.span(), "[server.smtp].user is empty");
                return None;
            }
            if security == SmtpSecurity::Unencrypted && !local {
                let span = raw.security.as_ref().map_or(section, |s| s.span());
                cx.err(
                    span,
                    "[server.smtp]: a user and password would cross the network unencrypted with security = \"none\"; use starttls or tls",
                );
                return None;
            }
            Some(SmtpLogin {
                user: u.get_ref().clone(),
                password,
            })
        }
    }
}

/// A sender: `Name <address>` or a bare address.
fn mailbox(raw: &str) -> Result<Mailbox, String> {
    raw.trim().parse::<Mailbox>().map_err(|e| {
        format!("`{raw}` is not a mailbox ({e}): write e.g. \"Example Hosting <no-reply@example.test>\"")
    })
}

/// `timeout`: from 100ms to 10m, default [`DEFAULT_SMTP_TIMEOUT`].
fn timeout(cx: &mut Ctx<'_>, raw: Option<&Spanned<String>>) -> Duration {
    let Some(raw) = raw else {
        return DEFAULT_SMTP_TIMEOUT;
    };
    match duration::parse(raw.get_ref()) {
        Ok(d) if (100..=600_000).contains(&d.as_millis()) => d,
        Ok(_) => {
            cx.err(
                raw.span(),
                "[server.smtp].timeout must be between 100ms and 10m",
            );
            DEFAULT_SMTP_TIMEOUT
        }
        Err(e) => {
            cx.err(raw.span(), format!("[server.smtp].timeout: {e}"));
            DEFAULT_SMTP_TIMEOUT
        }
    }
}

/// `ca`: a PEM file of certificate authorities rustls can use.
fn ca(cx: &mut Ctx<'_>, raw: &Spanned<String>) -> Option<String> {
    let path = secret::resolve_path(raw.get_ref(), &cx.dir);
    let pem = match std::fs::read_to_string(&path) {
        Ok(p) => p,
        Err(e) => {
            cx.err(
                raw.span(),
                format!("[server.smtp].ca `{}`: {e}", path.display()),
            );
            return None;
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    let mut problem = None;
    for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
        match cert.map_err(|e| e.to_string()).and_then(|c| {
            roots
                .add(c)
                .map_err(|e| format!("not a usable CA certificate: {e}"))
        }) {
            Ok(()) => {}
            Err(e) => problem = problem.or(Some(e)),
        }
    }
    let problem = problem.or_else(|| roots.is_empty().then(|| "holds no PEM certificate".into()));
    match problem {
        Some(e) => {
            cx.err(
                raw.span(),
                format!("[server.smtp].ca `{}`: {e}", path.display()),
            );
            None
        }
        None => Some(pem),
    }
}

/// `[tenant.mail]`: its sender and its invitation templates, each checked
/// for unknown placeholders.
pub(super) fn compile_tenant_mail(
    cx: &mut Ctx<'_>,
    raw: Option<&RawTenantMail>,
    w: &str,
) -> TenantMail {
    let Some(raw) = raw else {
        return TenantMail::default();
    };
    let from = raw.from.as_ref().and_then(|f| match mailbox(f.get_ref()) {
        Ok(m) => Some(m),
        Err(e) => {
            cx.err(f.span(), format!("{w}: mail.from: {e}"));
            None
        }
    });
    let invitation = raw
        .invitation
        .as_ref()
        .map(|i| invitation(cx, i, w))
        .unwrap_or_default();
    TenantMail { from, invitation }
}

/// `[tenant.mail.invitation]`.
fn invitation(cx: &mut Ctx<'_>, raw: &RawInvitationMail, w: &str) -> InvitationTemplates {
    let mut text = |key: &str, v: &Option<Spanned<String>>| {
        v.as_ref()
            .and_then(|v| mail_text(cx, v, &format!("{w}: mail.invitation.{key}")))
    };
    let subject = PerLang {
        en: text("subject_en", &raw.subject_en),
        es: text("subject_es", &raw.subject_es),
    };
    let out = InvitationTemplates {
        subject,
        text: PerLang {
            en: text("text_en", &raw.text_en),
            es: text("text_es", &raw.text_es),
        },
        html: PerLang {
            en: text("html_en", &raw.html_en),
            es: text("html_es", &raw.html_es),
        },
    };
    for (key, raw, value) in [
        ("subject_en", &raw.subject_en, &out.subject.en),
        ("subject_es", &raw.subject_es, &out.subject.es),
    ] {
        if let (Some(r), Some(v)) = (raw, value) {
            if v.trim().contains('\n') {
                cx.err(
                    r.span(),
                    format!("{w}: mail.invitation.{key} must be one line"),
                );
            }
        }
    }
    out
}

/// One template: inline, or `file:PATH` (relative to the configuration's
/// folder); its placeholders checked.
fn mail_text(cx: &mut Ctx<'_>, raw: &Spanned<String>, what: &str) -> Option<String> {
    let (text, file) = match raw.get_ref().strip_prefix("file:") {
        Some(path) => {
            let p = secret::resolve_path(path, &cx.dir);
            cx.note_read(&p);
            match std::fs::read_to_string(&p) {
                Ok(t) => (t, Some(p)),
                Err(e) => {
                    cx.err(
                        raw.span(),
                        format!("{what}: cannot read {}: {e}", p.display()),
                    );
                    return None;
                }
            }
        }
        None => (raw.get_ref().clone(), None),
    };
    if text.trim().is_empty() {
        cx.err(raw.span(), format!("{what} is empty"));
        return None;
    }
    if let Err(e) = template::check(&text) {
        let at = file
            .map(|p| format!(" in {}", p.display()))
            .unwrap_or_default();
        cx.err(raw.span(), format!("{what}{at}: {e}"));
        return None;
    }
    Some(text)
}
