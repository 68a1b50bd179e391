//! Mails Portero sends itself: invitations to take part in an account,
//! through the SMTP server of `[server.smtp]`, in the inviter's language,
//! with the tenant's own sender and templates (`[tenant.mail]`) or defaults
//! that name only the tenant's display name.
//!
//! [`render_invitation`] makes the mail (pure, for tests and previews);
//! [`Mailer::send_invitation`] sends it, counts it
//! (`portero_mail_sent_total`, `portero_mail_failures_total`) and logs a
//! failure. A mail that cannot be sent is an `Err` the caller shows; the
//! invitation itself is the caller's and stays as it is.

mod smtp;
pub mod template;

pub use template::{utc_date, InvitationTemplates, PerLang, TenantMail};

use crate::config::{Smtp, Tenant};
use crate::lang::Lang;
use crate::metrics::Metrics;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::{Duration, UNIX_EPOCH};
use template::{fill, Part, Values};

/// What one invitation mail says, given by the caller.
#[derive(Debug, Clone, Copy)]
pub struct InvitationMail<'a> {
    /// The invited e-mail address.
    pub to: &'a str,
    /// The absolute URL that accepts the invitation (the tenant's scheme
    /// and host; the caller builds it).
    pub link: &'a str,
    /// The account the person is invited into.
    pub account: &'a str,
    /// The permissions offered, as readable labels ("Technical, Commercial").
    pub permissions: &'a str,
    /// Who invites (a name or an e-mail address).
    pub inviter: &'a str,
    /// When the invitation expires, in Unix seconds (shown as a UTC date).
    pub expires_at: u64,
    /// Unix seconds now: the mail's `Date`.
    pub now: u64,
}

/// A mail made and ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedMail {
    /// The sender: the tenant's `[tenant.mail].from`, else the server's.
    pub from: Mailbox,
    /// The subject, one line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part (every value HTML-escaped).
    pub html: String,
}

/// The invitation mail of `tenant` in `lang`: its own templates where it
/// has them, the defaults elsewhere; sent from its own `from`, else from
/// `server_from` (`[server.smtp].from`).
pub fn render_invitation(
    tenant: &Tenant,
    server_from: &Mailbox,
    lang: Lang,
    inv: &InvitationMail<'_>,
) -> RenderedMail {
    let t = &tenant.mail.invitation;
    let values = Values {
        link: inv.link,
        account: inv.account,
        permissions: inv.permissions,
        inviter: inv.inviter,
        tenant: &tenant.display_name,
        expires: template::utc_date(inv.expires_at),
    };
    RenderedMail {
        from: tenant
            .mail
            .from
            .clone()
            .unwrap_or_else(|| server_from.clone()),
        subject: fill(
            t.subject
                .get(lang)
                .unwrap_or(template::default_subject(lang)),
            &values,
            Part::Subject,
        ),
        text: fill(
            t.text.get(lang).unwrap_or(template::default_text(lang)),
            &values,
            Part::Text,
        ),
        html: fill(
            t.html.get(lang).unwrap_or(template::default_html(lang)),
            &values,
            Part::Html,
        ),
    }
}

/// Why a mail was not sent, in words fit for the log and the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// No connection, or it broke.
    #[error("the mail server at {server} could not be reached: {reason}")]
    Unreachable {
        /// `host:port`.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The whole exchange took longer than `[server.smtp].timeout`.
    #[error("the mail server at {server} did not accept the mail within {after}")]
    TimedOut {
        /// `host:port`.
        server: String,
        /// The timeout, as configured (`10s`).
        after: String,
    },
    /// The TLS handshake failed (an untrusted or mismatched certificate, or
    /// a server that does not speak TLS where it was required).
    #[error("no secure connection to the mail server at {server} could be made: {reason}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with an error (the login, the sender or the
    /// recipient refused, or a temporary failure).
    #[error("the mail server at {server} refused the mail: {reason}")]
    Refused {
        /// `host:port`.
        server: String,
        /// The server's answer.
        reason: String,
    },
    /// The recipient is not an address a mail can be sent to.
    #[error("`{to}` is not an e-mail address a mail can be sent to")]
    BadRecipient {
        /// The address as given.
        to: String,
    },
    /// The message could not be made.
    #[error("the mail could not be composed: {0}")]
    Compose(String),
    /// The transport could not be set up from `[server.smtp]`.
    #[error("the mail server settings for {server} cannot be used: {reason}")]
    Setup {
        /// `host:port`.
        server: String,
        /// What is wrong.
        reason: String,
    },
}

/// Sends Portero's mails through `[server.smtp]`. Built once per
/// configuration of that section ([`crate::state::State::mailer`]).
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `[server.smtp].from`.
    from: Mailbox,
    /// `host:port`, for messages.
    server: String,
    /// The longest one mail may take, connecting included.
    timeout: Duration,
    /// `portero_mail_sent_total`.
    sent: prometheus::IntCounterVec,
    /// `portero_mail_failures_total`.
    failures: prometheus::IntCounterVec,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The mailer of `smtp`, counting into `metrics`. Opens no connection
    /// (the first mail does) and needs no running runtime.
    pub fn new(smtp: &Smtp, metrics: &Metrics) -> Result<Mailer, MailError> {
        Ok(Mailer {
            transport: smtp::transport(smtp)?,
            from: smtp.from.clone(),
            server: smtp.server(),
            timeout: smtp.timeout,
            sent: metrics.mail_sent.clone(),
            failures: metrics.mail_failures.clone(),
        })
    }

    /// The mail server, as `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends the invitation mail of `tenant` in `lang` (the inviter's page
    /// language) to `inv.to`: a text and an HTML part. Counts the mail as
    /// sent or failed under the tenant's name; a failure is logged with the
    /// tenant, the recipient's domain and the error (never the address or
    /// the password).
    pub async fn send_invitation(
        &self,
        tenant: &Tenant,
        lang: Lang,
        inv: &InvitationMail<'_>,
    ) -> Result<(), MailError> {
        let domain = inv
            .to
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .trim_end_matches('>')
            .to_ascii_lowercase();
        match self.send(tenant, lang, inv).await {
            Ok(()) => {
                self.sent.with_label_values(&[&tenant.name]).inc();
                tracing::info!(tenant = %tenant.name, domain = %domain, server = %self.server, "invitation mail sent");
                Ok(())
            }
            Err(e) => {
                self.failures.with_label_values(&[&tenant.name]).inc();
                tracing::warn!(tenant = %tenant.name, domain = %domain, error = %e, "invitation mail not sent");
                Err(e)
            }
        }
    }

    /// Makes the message and hands it to the server, within the timeout.
    async fn send(
        &self,
        tenant: &Tenant,
        lang: Lang,
        inv: &InvitationMail<'_>,
    ) -> Result<(), MailError> {
        let to: Mailbox = inv.to.trim().parse().map_err(|_| MailError::BadRecipient {
            to: inv.to.to_string(),
        })?;
        let mail = render_invitation(tenant, &self.from, lang, inv);
        let message = Message::builder()
            .from(mail.from)
            .to(to)
            .subject(mail.subject)
            .date(UNIX_EPOCH + Duration::from_secs(inv.now))
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| MailError::Compose(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(MailError::TimedOut {
                server: self.server.clone(),
                after: shown(self.timeout),
            }),
            Ok(Err(e)) => Err(smtp::failure(self.server.clone(), shown(self.timeout), &e)),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

/// A duration as configured: `10s`, `500ms`.
fn shown(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests;
