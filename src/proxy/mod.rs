//! The data plane, on hyper 1.x: [`plane`] runs the listeners (one
//! current-thread runtime per worker thread), [`serve`] takes one request
//! from its head to its answer ([`answer`] decides; the panel is reached
//! through [`upstream`]), [`lean`] releases idle HTTP/1 connections'
//! state, [`handover`] passes the listening sockets to a successor, and
//! [`stop`] handles the stop signals. [`admin`] is the admin listener's
//! application.

mod admin;
pub mod answer;
mod body;
mod control;
mod file_watch;
mod handover;
mod lean;
mod plane;
mod serve;
pub mod stop;
mod tls;
mod upstream;

pub use plane::run;

/// The largest body Portero reads for its own forms.
pub(crate) const MAX_FORM_BODY: usize = 64 * 1024;

/// What a panel answers (any status) when `X-Portero-Impersonate` names a
/// login it does not have; Portero shows a page instead of the answer.
pub const UNKNOWN_IMPERSONATION: http::HeaderName =
    http::HeaderName::from_static("x-portero-impersonate-unknown");

/// The largest request header Portero reads on (target and header lines);
/// larger ones get `431`. Legacy panels rarely take more than a few KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
