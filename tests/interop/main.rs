//! Interoperability with real third-party software started by the tests:
//! SimpleSAMLphp and pysaml2 as SAML IdPs, oidc-provider (npm) as an OpenID
//! provider, Chromium driving the pages, the panel examples of
//! docs/headers.md (PHP, Python, Node.js) verifying real assertions, and
//! nginx and Caddy running the front-proxy kits of docs/front-proxies.md.

#[path = "../common/mod.rs"]
mod common;

mod account_story_browser;
mod browser_pages;
mod front_proxy_kits;
mod oidc_interop_oidc_provider;
mod panel_examples;
mod saml_interop_pysaml2;
mod saml_interop_simplesamlphp;
