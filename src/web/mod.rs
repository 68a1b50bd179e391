//! Everything Portero answers itself: the reserved `/.portero/` paths (rule
//! 1), redirects to sign in, and the error pages. [`respond`] is the one
//! place a gate [`Verdict`](crate::gate::Verdict) becomes a [`Reply`];
//! handlers take the facts of a request ([`Seen`](crate::gate::Seen)) and
//! return a reply; the proxy writes it out.
//!
//! - [`routes`]: verdict → reply, and which handler a reserved path reaches;
//! - [`reply`]: the reply type; [`refusals`]: the pages that refuse or explain;
//! - [`fields`]: a handler's query and form, read strictly, and the origin check;
//! - [`start`]: sending a visitor to sign in; [`flow`]: the one sign-in flow
//!   that finishes it, with one [`flow::Protocol`] per kind of IdP;
//! - one module per page: [`signin`], [`accounts`], [`invitations`],
//!   [`team`], [`profile`], [`forward_auth`].

pub mod accounts;
pub mod external;
pub mod fields;
pub mod flow;
pub mod form;
pub mod forward_auth;
pub mod i18n;
pub mod invitations;
pub mod oidc;
pub mod pages;
pub mod profile;
pub mod refusals;
pub mod reply;
pub mod return_to;
pub mod routes;
pub mod saml;
pub mod signin;
pub mod start;
pub mod team;

pub use fields::{bad_fields, body_fields, query_fields, read_form, read_query, same_origin};
pub use form::{BadFields, Fields};
pub use refusals::*;
pub use reply::{Remember, Reply};
pub use routes::respond;
pub use start::{keep_started, to_idp, to_sign_in_page};
