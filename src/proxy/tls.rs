//! The TLS certificate for a connection, chosen by SNI from the tenant that
//! serves the name. Read from the configuration in force, so a reload
//! brings new certificates without a restart.

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
        let cfg = self.state.config();
        match hello.server_name() {
            Some(name) => cfg.tenant_for_host(name).and_then(|t| t.tls.clone()),
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
