//! The SMTP transport (lettre, tokio, rustls with ring): built once from
//! `[server.smtp]`, one connection per mail (invitations are rare; nothing
//! is kept open, and building it needs no running runtime), and lettre's
//! errors turned into [`MailError`]s that say what happened in words.

use super::MailError;
use crate::config::{Smtp, SmtpSecurity};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

/// The transport for `smtp`: TLS as configured, checked against the
/// system's certificate authorities plus `ca`, and the login when set.
pub(super) fn transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let setup = |e: String| MailError::Setup {
        server: smtp.server(),
        reason: e,
    };
    let tls = match smtp.security {
        SmtpSecurity::Unencrypted => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters(smtp).map_err(setup)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(smtp).map_err(setup)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(smtp.timeout));
    if let Some(login) = &smtp.login {
        builder = builder.credentials(Credentials::new(login.user.clone(), login.password.clone()));
    }
    Ok(builder.build())
}

/// The TLS settings: the server's name checked against its certificate,
/// signed by a system authority or by `ca`.
fn tls_parameters(smtp: &Smtp) -> Result<TlsParameters, String> {
    // The system's authorities (lettre's default with `rustls-native-certs`).
    let mut builder =
        TlsParameters::builder(smtp.host.clone()).certificate_store(CertificateStore::Default);
    if let Some(pem) = &smtp.ca {
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("[server.smtp].ca holds no usable certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| e.to_string())
}

/// A failed sending of lettre's, in words (`after`: the timeout, shown).
/// lettre reports a failed TLS handshake as a connection error: the cause
/// is looked for among its sources.
pub(super) fn failure(
    server: String,
    after: String,
    e: &lettre::transport::smtp::Error,
) -> MailError {
    if e.is_timeout() {
        return MailError::TimedOut { server, after };
    }
    if e.is_permanent() || e.is_transient() {
        // "permanent error (535): 5.7.8 Authentication credentials invalid"
        return MailError::Refused {
            server,
            reason: e.to_string(),
        };
    }
    let mut tls = e.is_tls().then(|| e.to_string());
    let mut deepest = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        deepest = s.to_string();
        let rustls_error = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(r) = rustls_error {
            tls = Some(r.to_string());
        }
        source = s.source();
    }
    match tls {
        Some(reason) => MailError::Tls { server, reason },
        None => MailError::Unreachable {
            server,
            reason: deepest,
        },
    }
}
