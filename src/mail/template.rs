//! The texts of Portero's mails: a tenant's own templates (checked when the
//! configuration is compiled) or the defaults, in English and Spanish, and
//! their placeholders filled in (HTML-escaped in the HTML part).
//!
//! A placeholder is `{` + a name + `}`, the name made of letters, digits
//! and `_`; any other brace is text (so CSS such as `p { color: red }` or
//! `a{color:red}` stays as written). An unknown name is an error when the
//! configuration is compiled.

use crate::html::escape;
use crate::lang::Lang;

/// The placeholders of an invitation mail, as written in a template.
pub const PLACEHOLDERS: [&str; 6] = [
    "link",
    "account",
    "permissions",
    "inviter",
    "tenant",
    "expires",
];

/// A tenant's own texts for one kind of mail: `None` where the default is
/// used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerLang {
    /// The English text.
    pub en: Option<String>,
    /// The Spanish text.
    pub es: Option<String>,
}

impl PerLang {
    /// The text for `lang`, when the tenant has its own.
    pub fn get(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.en.as_deref(),
            Lang::Es => self.es.as_deref(),
        }
    }
}

/// `[tenant.mail.invitation]`: the tenant's own subject, text part and
/// HTML part of the invitation mail, per language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitationTemplates {
    /// The subject (one line).
    pub subject: PerLang,
    /// The plain-text part.
    pub text: PerLang,
    /// The HTML part.
    pub html: PerLang,
}

/// `[tenant.mail]`: what a tenant changes of its mails.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantMail {
    /// The sender of its mails, instead of `[server.smtp].from` (a
    /// reseller's white-label tenant names its own brand).
    pub from: Option<lettre::message::Mailbox>,
    /// The invitation mail's texts.
    pub invitation: InvitationTemplates,
}

/// One piece of a template.
enum Piece<'a> {
    /// Text, as written.
    Text(&'a str),
    /// A placeholder's name.
    Name(&'a str),
}

/// Splits a template into text and placeholders, in order.
fn pieces(src: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let closed = after[name_len..].starts_with('}');
        if closed && name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.push(Piece::Text(&rest[..open]));
            out.push(Piece::Name(name));
            rest = &after[name_len + 1..];
        } else {
            out.push(Piece::Text(&rest[..=open]));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Checks a template: `Err` names the first unknown placeholder and the
/// known ones.
pub fn check(src: &str) -> Result<(), String> {
    for p in pieces(src) {
        if let Piece::Name(name) = p {
            if !PLACEHOLDERS.contains(&name) {
                let known: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
                return Err(format!(
                    "unknown placeholder {{{name}}} (the placeholders are {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The values an invitation mail's placeholders stand for.
#[derive(Debug, Clone)]
pub(super) struct Values<'a> {
    /// `{link}`: the absolute URL that accepts the invitation.
    pub(super) link: &'a str,
    /// `{account}`.
    pub(super) account: &'a str,
    /// `{permissions}`: readable labels.
    pub(super) permissions: &'a str,
    /// `{inviter}`.
    pub(super) inviter: &'a str,
    /// `{tenant}`: the tenant's display name.
    pub(super) tenant: &'a str,
    /// `{expires}`: the UTC date the invitation expires.
    pub(super) expires: String,
}

impl Values<'_> {
    /// The value of a known placeholder (`None` for an unknown one, which
    /// a checked template does not hold).
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "link" => self.link,
            "account" => self.account,
            "permissions" => self.permissions,
            "inviter" => self.inviter,
            "tenant" => self.tenant,
            "expires" => &self.expires,
            _ => return None,
        })
    }
}

/// How a value is written into its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// The subject: one line (control characters become spaces).
    Subject,
    /// The plain-text part: as given.
    Text,
    /// The HTML part: HTML-escaped.
    Html,
}

/// The template with its placeholders filled in for `part`. An unknown
/// placeholder (never in a checked template) is left as written.
pub(super) fn fill(src: &str, values: &Values<'_>, part: Part) -> String {
    let mut out = String::with_capacity(src.len() + 256);
    for p in pieces(src) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(name) => match values.get(name) {
                Some(v) => match part {
                    Part::Html => out.push_str(&escape(v)),
                    Part::Text => out.push_str(v),
                    Part::Subject => {
                        out.extend(v.chars().map(|c| if c.is_control() { ' ' } else { c }))
                    }
                },
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    if part == Part::Subject {
        // A template's own line breaks as well.
        out = out.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    }
    out
}

/// A Unix time as the UTC date and time the mails show
/// (`2025-03-14 12:00 UTC`).
pub fn utc_date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The default subject of the invitation mail.
pub(super) fn default_subject(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Invitation to {account} on {tenant}",
        Lang::Es => "Invitación a {account} en {tenant}",
    }
}

/// The default plain-text part of the invitation mail.
pub(super) fn default_text(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "Hello,

{inviter} invites you to take part in the account {account} on {tenant}, with these permissions: {permissions}.

To accept the invitation, open this link and sign in with this e-mail address:

{link}

The invitation expires on {expires}. If you did not expect it, you can ignore this message.

{tenant}
"
        }
        Lang::Es => {
            "Hola:

{inviter} le invita a participar en la cuenta {account} de {tenant}, con estos permisos: {permissions}.

Para aceptar la invitación, abra este enlace e inicie sesión con esta dirección de correo:

{link}

La invitación caduca el {expires}. Si no la esperaba, puede ignorar este mensaje.

{tenant}
"
        }
    }
}

/// The default HTML part of the invitation mail (inline styles: mail
/// programs drop style sheets).
pub(super) fn default_html(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Invitation to {account}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#1f2328;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
<p style="margin:0 0 16px;font-size:14px;color:#57606a">{tenant}</p>
<h1 style="margin:0 0 16px;font-size:20px">Invitation to {account}</h1>
<p>{inviter} invites you to take part in the account <strong>{account}</strong> on {tenant}, with these permissions: {permissions}.</p>
<p>To accept the invitation, open this link and sign in with this e-mail address:</p>
<p style="margin:24px 0"><a href="{link}" style="display:inline-block;padding:12px 20px;background:#0969da;color:#ffffff;text-decoration:none;border-radius:6px">Accept the invitation</a></p>
<p style="font-size:13px;color:#57606a">If the button does not work, copy this address into your browser:<br><a href="{link}" style="color:#0969da;word-break:break-all">{link}</a></p>
<p style="font-size:13px;color:#57606a">The invitation expires on {expires}. If you did not expect it, you can ignore this message.</p>
</div>
</body></html>
"#
        }
        Lang::Es => {
            r#"<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Invitación a {account}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#1f2328;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
<p style="margin:0 0 16px;font-size:14px;color:#57606a">{tenant}</p>
<h1 style="margin:0 0 16px;font-size:20px">Invitación a {account}</h1>
<p>{inviter} le invita a participar en la cuenta <strong>{account}</strong> de {tenant}, con estos permisos: {permissions}.</p>
<p>Para aceptar la invitación, abra este enlace e inicie sesión con esta dirección de correo:</p>
<p style="margin:24px 0"><a href="{link}" style="display:inline-block;padding:12px 20px;background:#0969da;color:#ffffff;text-decoration:none;border-radius:6px">Aceptar la invitación</a></p>
<p style="font-size:13px;color:#57606a">Si el botón no funciona, copie esta dirección en su navegador:<br><a href="{link}" style="color:#0969da;word-break:break-all">{link}</a></p>
<p style="font-size:13px;color:#57606a">La invitación caduca el {expires}. Si no la esperaba, puede ignorar este mensaje.</p>
</div>
</body></html>
"#
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            link: "https://panel.t.test/.portero/invitations?token=abc&x=1",
            account: "shop.test",
            permissions: "Technical",
            inviter: "Ana <ana@t.test>",
            tenant: "Acme Panel",
            expires: utc_date(1_742_000_000),
        }
    }

    #[test]
    fn placeholders_are_found_and_other_braces_are_text() {
        assert!(check("{link} {account} {permissions} {inviter} {tenant} {expires}").is_ok());
        assert!(check("p { color: red } a{color:red} {} {1} { link }").is_ok());
        let e = check("Hi {invitee}").unwrap_err();
        assert!(e.contains("{invitee}") && e.contains("{link}"), "{e}");
        assert!(check("{Link}").is_err(), "names are case-sensitive");
        let out = fill("a{b:c} {} {{link}} {tenant}.", &values(), Part::Text);
        assert_eq!(
            out,
            "a{b:c} {} {https://panel.t.test/.portero/invitations?token=abc&x=1} Acme Panel."
        );
    }

    #[test]
    fn html_values_are_escaped_and_text_values_are_not() {
        let mut v = values();
        v.inviter = "<script>alert('x')</script> \"&";
        let html = fill("<p>{inviter}</p><a href=\"{link}\">", &v, Part::Html);
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;&amp;</p><a href=\"https://panel.t.test/.portero/invitations?token=abc&amp;x=1\">"
        );
        let text = fill("{inviter}", &v, Part::Text);
        assert_eq!(text, "<script>alert('x')</script> \"&");
    }

    #[test]
    fn the_subject_is_one_line() {
        let mut v = values();
        v.inviter = "Ana\r\nBcc: victim@x.test";
        let s = fill("{inviter}\ninvites you", &v, Part::Subject);
        assert_eq!(s, "Ana  Bcc: victim@x.test invites you");
    }

    #[test]
    fn the_defaults_hold_only_known_placeholders_and_never_name_portero() {
        for lang in [Lang::En, Lang::Es] {
            for t in [
                default_subject(lang),
                default_text(lang),
                default_html(lang),
            ] {
                check(t).unwrap();
                assert!(!t.to_lowercase().contains("portero"), "{t}");
            }
            for t in [default_text(lang), default_html(lang)] {
                for p in PLACEHOLDERS {
                    assert!(t.contains(&format!("{{{p}}}")), "{p} missing in {t}");
                }
            }
        }
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_742_000_000), "2025-03-15 00:53 UTC");
    }
}
