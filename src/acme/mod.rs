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
pub use renew::run;

/// What the listeners read: the certificates in force and the pending
/// challenges.
#[derive(Debug, Default)]
pub struct Acme {
    /// One certificate per host.
    pub certificates: Certificates,
    /// The challenges the CA may be validating now.
    pub pending: Pending,
}
