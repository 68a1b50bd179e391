//! End-to-end tests named after the threat they guard against: each file
//! attacks a running Portero (real upstream, real keys) the way an attacker
//! would, and fails if the check that stops it is removed.

#[path = "../common/mod.rs"]
mod common;

mod admin_api_auth;
mod admin_api_csrf_rebinding;
mod cookie_tossing;
mod cross_origin_forms;
mod cross_tenant_cookie;
mod external_jwt_login_csrf;
mod header_spoofing;
mod host_header_confusion;
mod keepalive_identity;
mod oidc_id_token_attacks;
mod open_redirect;
mod path_parameter_traversal;
mod repeated_form_fields;
mod saml_assertion_checks;
mod saml_costly_transforms;
mod saml_reference_ssrf;
mod saml_signature_wrapping;
mod session_revocation;
mod slow_clients_and_upstreams;
mod stale_permissions;
mod started_signin_flood;
