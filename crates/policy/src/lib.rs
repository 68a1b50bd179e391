//! Portero's routing decision, with nothing else in it.
//!
//! This crate holds the policy data of a tenant and one pure function,
//! [`decide`], from the facts of a request to a [`Decision`] with the rule
//! that produced it. It has no network, no runtime, no cache and no clock:
//! everything it needs arrives in [`Facts`], so every rule can be tested as a
//! table and explained by `portero explain`.
//!
//! Every routing rule is here: rules 1–7 of [`decide`] (a membership source
//! that cannot answer is a fact, [`SessionFact::MembershipUnknown`]; a
//! forward-auth sub-request is one too, [`ForwardAuth`], so the decision
//! is already what its proxy can carry back), and what the sign-in page
//! offers or skips to, with where a started sign-on goes
//! ([`sign_in_options`], [`sso_destination`]).
//!
//! The lookups the decision needs are here too, because they are pure data:
//! [`NetmaskSet`] (CIDR blocks as merged sorted ranges, `O(log n)`),
//! [`PathPrefixes`] (segment-aware path prefixes) and [`HostTable`] (exact
//! host names by hash, `*.` wildcards by suffix).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

mod decision;
mod hosts;
mod netmask;
mod paths;
mod signin;

pub use decision::{
    decide, decide_traced, follows_redirects, Action, ClassicReason, Decision, Facts, ForwardAuth,
    Idp, Rule, SessionFact, SsoMode, Step, TenantPolicy,
};
pub use hosts::{is_host_name, HostPattern, HostPatternError, HostTable};
pub use netmask::NetmaskSet;
pub use paths::PathPrefixes;
pub use signin::{sign_in_options, sso_destination, SignInOptions};
