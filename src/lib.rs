//! Portero: an authentication reverse proxy for legacy hosting panels.
//!
//! A request's way through the code:
//!
//! ```text
//! request ─▶ facts (tenant, client address, session, account) ─▶ portero_policy::decide
//!         ─▶ web (answer: pages, redirects, sign-in hand-backs)
//!          or proxy (forward: strip spoofed headers, inject identity, assertion JWT)
//! ```
//!
//! * [`config`] compiles the TOML file into validated types.
//! * [`facts`] gathers what the decision needs from a request.
//! * [`portero_policy`] (its own crate) decides, purely.
//! * [`auth`] holds the sign-in protocols' verifiers; they make an
//!   [`auth::UnclaimedLogin`], and only claiming its one-time id makes a
//!   [`auth::VerifiedLogin`] ([`web::flow`] runs the steps in order).
//! * [`session`] seals and checks cookies.
//! * [`identity`] turns a session into headers and a signed assertion.
//! * [`forward`] rewrites the request for the panel (strip, forward, inject).
//! * [`web`] answers the reserved `/.portero/` paths and renders pages.
//! * [`proxy`] is the data plane (hyper) and the admin listener.
//! * [`membership`] is what a membership is and where a tenant's come from;
//!   [`members`] looks them up per request and administers them; [`store`]
//!   is the embedded membership store (SQLite) and its rules.
//! * [`mail`] sends invitation mails through `[server.smtp]`.
//! * [`acme`] obtains and renews the tenants' certificates from an ACME CA
//!   (`[server.acme]`), served by the TLS listeners by SNI.
//! * [`remote`] keeps documents fetched from IdPs (metadata, discovery,
//!   keys) through [`outbound`], Portero's own HTTP client.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

// Unit tests reuse the integration tests' SAML fixtures
// (tests/common/saml.rs), which name this crate `portero`.
#[cfg(test)]
extern crate self as portero;

pub mod acme;
pub mod allocator;
pub mod audit;
pub mod auth;
pub mod brand;
pub mod budget;
pub mod clock;
pub mod config;
pub mod explain;
pub mod facts;
pub mod forward;
pub mod gate;
pub mod html;
pub mod identity;
pub mod init;
pub mod lang;
pub mod mail;
pub mod members;
pub mod membership;
pub mod metrics;
pub mod onetime;
pub mod outbound;
pub mod proxy;
pub mod remote;
pub mod session;
pub mod state;
pub mod store;
pub mod tenant_command;
pub mod web;

pub use portero_policy as policy;
