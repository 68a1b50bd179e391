//! What a membership is and where a tenant's memberships come from: the
//! [`Membership`] and [`Directory`] types, the account rule, and the kinds
//! of source the configuration sets (`membership = …`) with the two that
//! hold state of their own, the panel's endpoint and the IdP's role mapping.
//!
//! A leaf below both [`crate::config`], which builds sources, and
//! [`crate::members`], which looks memberships up through them at request
//! time and administers them; [`crate::store`] keeps the embedded store's.

mod directory;
pub mod panel;
pub mod roles;

pub use directory::{AccountRule, Directory, Membership};

use panel::PanelEndpoint;
use roles::RoleMap;
use std::sync::Arc;

/// A tenant's source of memberships (`membership = …`).
#[derive(Debug)]
pub enum MemberSource {
    /// `[[tenant.member]]` in the configuration.
    Static(Directory),
    /// The embedded store (`<data_dir>/portero.db`).
    Store,
    /// The panel's endpoint.
    Panel(Arc<PanelEndpoint>),
    /// The IdP's roles, read at sign-in and kept in the session.
    Idp(RoleMap),
}

impl MemberSource {
    /// The name used in configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberSource::Static(_) => "static",
            MemberSource::Store => "store",
            MemberSource::Panel(_) => "panel",
            MemberSource::Idp(_) => "idp",
        }
    }
}
