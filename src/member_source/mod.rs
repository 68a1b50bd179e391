//! Where a tenant's memberships come from, as the configuration sets it
//! (`membership = …`): the kinds of source and the two that hold state of
//! their own, the panel's endpoint and the IdP's role mapping.
//!
//! Kept below both [`crate::config`], which builds them, and
//! [`crate::members`], which looks memberships up through them (and
//! re-exports this module's items under its own paths).

pub mod panel;
pub mod roles;

use crate::identity::Directory;
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
