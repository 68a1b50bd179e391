//! End-to-end tests of the ways in and of accounts: SAML, OpenID Connect
//! and external-JWT sign-ins, invitations, memberships, netmask routing,
//! pages (the people's own: accounts, members, profile), the assertion's
//! keys, the reserved paths, Portero behind a front proxy and the account
//! CLI.

#[path = "../common/mod.rs"]
mod common;

mod account_access;
mod account_pages;
mod assertion_jwks;
mod behind_a_front_proxy;
mod cli_accounts;
mod external_jwt_handback;
mod invitation_sign_in;
mod membership_sources;
mod membership_store;
mod netmask_routing;
mod pages_language_brand;
mod profile_page;
mod reserved_paths;
mod saml_metadata_url;
mod saml_sign_in;
