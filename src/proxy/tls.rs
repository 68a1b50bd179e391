//! The TLS certificate for a connection, chosen by SNI: the `[tenant.tls]`
//! certificate of the tenant that serves the name (read from the
//! configuration in force, so a reload brings new ones without a
//! restart), else the name's certificate from the ACME CA (read from
//! [`crate::acme::Certificates`], so a new or renewed one is served from
//! the next handshake). A handshake offering only `acme-tls/1` is the
//! CA's TLS-ALPN-01 validation: it gets the validation certificate of a
//! pending challenge for that name, or no certificate at all.

use crate::state::State;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// Picks the tenant's certificate by SNI.
pub struct SniResolver {
    state: Arc<State>,
}

impl SniResolver {
    /// A resolver over the live configuration.
    pub fn new(state: Arc<State>) -> SniResolver {
        SniResolver { state }
    }
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SniResolver")
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if crate::acme::offers_only_acme_tls(hello.alpn()) {
            return hello
                .server_name()
                .and_then(|name| self.state.acme.pending.tls_certificate(name));
        }
        let cfg = self.state.config();
        match hello.server_name() {
            Some(name) => match cfg.tenant_for_host(name) {
                Some(t) => t
                    .tls
                    .clone()
                    .or_else(|| self.state.acme.certificates.for_name(name)),
                None => None,
            },
            // No SNI: the only certificate, if there is exactly one.
            None => {
                let mut certs = cfg.tenants.iter().filter_map(|t| t.tls.clone());
                let first = certs.next();
                if certs.next().is_some() {
                    None
                } else {
                    first
                }
            }
        }
    }
}
