//! Certificates from an ACME certificate authority (RFC 8555, Let's
//! Encrypt by default) for the tenants' hosts (`[server.acme]`; the
//! operator's guide is `docs/certificates.md`).
//!
//! * [`certs`]: the certificates in force, one per host, read by the TLS
//!   listeners' SNI resolver from an in-memory map (swapped whole, so a new
//!   or renewed certificate is served by the next handshake);
//! * [`challenge`]: the challenges waiting for the CA's validation —
//!   HTTP-01 tokens answered on `/.well-known/acme-challenge/`, TLS-ALPN-01
//!   validation certificates handed out for `acme-tls/1` handshakes;
//! * [`order`]: one order for one host (instant-acme does the protocol);
//! * [`renew`]: the control thread's task that orders what is missing or
//!   due, with a backoff per host, a lease per host in the store so one
//!   node of several orders it, and the orders-per-hour limit;
//! * [`client`]: the HTTP client instant-acme talks to the CA through
//!   (Portero's hyper + rustls with ring);
//! * [`files`]: copies of the account and certificates under
//!   `data_dir/acme/` (keys 0600).
//!
//! Nothing a client sends can start an order: orders are made only by
//! [`renew`], only for hosts of the configuration.

pub mod certs;
pub mod challenge;
mod client;
mod files;
mod order;
pub mod renew;

pub use certs::{due, Certificates, Issued};
pub use challenge::{offers_only_acme_tls, Pending, ACME_TLS_ALPN, HTTP_CHALLENGE_PATH};
pub use renew::{load_before_serving, run};

use std::collections::BTreeMap;

/// What the listeners read: the certificates in force and the pending
/// challenges; and, for `/readyz`, the hosts whose last order failed.
#[derive(Debug, Default)]
pub struct Acme {
    /// One certificate per host.
    pub certificates: Certificates,
    /// The challenges the CA may be validating now.
    pub pending: Pending,
    /// Host → why its last order failed (until one succeeds).
    failing: std::sync::Mutex<BTreeMap<String, String>>,
}

impl Acme {
    /// The hosts whose last order failed, and why (at most `limit`), and
    /// how many there are.
    pub fn failing(&self, limit: usize) -> (Vec<(String, String)>, usize) {
        let failing = self
            .failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let some = failing
            .iter()
            .take(limit)
            .map(|(h, e)| (h.clone(), e.clone()))
            .collect();
        (some, failing.len())
    }

    /// Records how a host's last order went (`None`: it succeeded).
    fn note(&self, host: &str, error: Option<&str>) {
        let mut failing = self
            .failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match error {
            Some(e) => {
                failing.insert(host.to_string(), e.to_string());
            }
            None => {
                failing.remove(host);
            }
        }
    }

    /// Forgets the failures of hosts no longer configured.
    fn forget_failures(&self, keep: impl Fn(&str) -> bool) {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|h, _| keep(h));
    }
}
