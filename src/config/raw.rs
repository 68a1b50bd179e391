//! The configuration file as written: serde structs that refuse unknown keys.
//!
//! Fields that the compile step checks keep their location (`Spanned`), so
//! every error can name its line.

use serde::Deserialize;
use toml::Spanned;

/// `[server]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    #[serde(default)]
    pub listen: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub listen_tls: Vec<Spanned<String>>,
    pub admin_listen: Option<Spanned<String>>,
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    pub threads: Option<Spanned<usize>>,
    pub admin_token: Option<Spanned<String>>,
    #[serde(default)]
    pub admin_hosts: Vec<Spanned<String>>,
    pub audit_log: Option<Spanned<String>>,
    pub access_log: Option<Spanned<String>>,
    pub grace_period: Option<Spanned<String>>,
    pub upstream_timeout: Option<Spanned<String>>,
    pub data_dir: Option<Spanned<String>>,
    pub tenants_dir: Option<Spanned<String>>,
    pub outbound_ca: Option<Spanned<String>>,
    pub watch_config: Option<bool>,
    pub outbound_timeout: Option<Spanned<String>>,
    pub redis: Option<Spanned<String>>,
    pub database: Option<Spanned<String>>,
    pub redis_prefix: Option<Spanned<String>>,
    pub redis_timeout: Option<Spanned<String>>,
    pub header_timeout: Option<Spanned<String>>,
    pub upgrade_sock: Option<Spanned<String>>,
    pub saml_verify_timeout: Option<Spanned<String>>,
    pub sign_ins_per_client: Option<Spanned<i64>>,
    pub max_started_sign_ins: Option<Spanned<i64>>,
    pub smtp: Option<Spanned<RawSmtp>>,
    pub acme: Option<Spanned<RawAcme>>,
}

/// `[server.acme]`: certificates from an ACME certificate authority.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcme {
    pub directory: Option<Spanned<String>>,
    pub email: Option<Spanned<String>>,
    pub accept_terms: Option<Spanned<bool>>,
    pub challenges: Option<Spanned<Vec<Spanned<String>>>>,
    pub renew_before: Option<Spanned<String>>,
    pub ca: Option<Spanned<String>>,
    pub orders_per_hour: Option<Spanned<i64>>,
}

/// `[server.smtp]`: the mail server invitations are sent through.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub security: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub from: Spanned<String>,
    pub timeout: Option<Spanned<String>>,
    pub ca: Option<Spanned<String>>,
}

/// `[session]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub keys: Spanned<Vec<Spanned<String>>>,
    pub reauth: Option<Spanned<String>>,
    pub cookie_name: Option<Spanned<String>>,
    pub classic_ttl: Option<Spanned<String>>,
}

/// `[assertion]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    pub signing_key: Spanned<String>,
    pub ttl: Option<Spanned<String>>,
}

/// `[[tenant]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    pub name: Spanned<String>,
    pub display_name: Option<String>,
    pub hosts: Spanned<Vec<Spanned<String>>>,
    pub upstream: Spanned<String>,
    pub sso_mode: Option<Spanned<String>>,
    pub default_idp: Option<Spanned<String>>,
    #[serde(default)]
    pub netmasks: Vec<Spanned<String>>,
    #[serde(default)]
    pub super_admins: Vec<Spanned<String>>,
    #[serde(default)]
    pub classic_users: Vec<Spanned<String>>,
    pub superadmin_bypass: Option<bool>,
    #[serde(default)]
    pub admin_paths: Vec<Spanned<String>>,
    #[serde(default)]
    pub bypass_paths: Vec<Spanned<String>>,
    pub account: Option<Spanned<String>>,
    pub account_from_host: Option<Spanned<String>>,
    pub account_picker: Option<Spanned<bool>>,
    pub reauth: Option<Spanned<String>>,
    pub css: Option<Spanned<String>>,
    pub language: Option<Spanned<String>>,
    pub brand: Option<RawBrand>,
    #[serde(default)]
    pub member: Vec<RawMember>,
    pub membership: Option<Spanned<String>>,
    #[serde(default)]
    pub client_account: Vec<RawClientAccount>,
    pub sublogin_keeps_sublogin: Option<bool>,
    pub provision: Option<bool>,
    pub refresh_profile: Option<bool>,
    pub lock_provisioned_fields: Option<Spanned<bool>>,
    pub panel_members: Option<Spanned<RawPanelMembers>>,
    pub roles: Option<RawRoles>,
    pub external_sso: Option<RawExternalSso>,
    pub saml: Option<Spanned<RawSaml>>,
    pub oidc: Option<Spanned<RawOidc>>,
    pub headers: Option<RawHeaders>,
    pub tls: Option<RawTls>,
    pub acme: Option<Spanned<bool>>,
    pub mail: Option<RawTenantMail>,
}

/// `[tenant.mail]`: the sender and templates of the tenant's mails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantMail {
    pub from: Option<Spanned<String>>,
    pub invitation: Option<RawInvitationMail>,
}

/// `[tenant.mail.invitation]`: the invitation mail, per language; each
/// text inline or `file:PATH`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInvitationMail {
    pub subject_en: Option<Spanned<String>>,
    pub subject_es: Option<Spanned<String>>,
    pub text_en: Option<Spanned<String>>,
    pub text_es: Option<Spanned<String>>,
    pub html_en: Option<Spanned<String>>,
    pub html_es: Option<Spanned<String>>,
}

/// `[[tenant.member]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    pub user: Spanned<String>,
    pub account: Spanned<String>,
    pub permissions: Spanned<Vec<Spanned<String>>>,
    pub impersonate: Option<Spanned<String>>,
    pub name: Option<String>,
}

/// `[tenant.brand]`: how the tenant's pages look.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrand {
    pub logo: Option<Spanned<String>>,
    pub primary_color: Option<Spanned<String>>,
    pub background_color: Option<Spanned<String>>,
    pub powered_by: Option<bool>,
}

/// `[[tenant.client_account]]`: a reseller's client account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientAccount {
    pub name: Spanned<String>,
    pub reseller: Spanned<String>,
}

/// `[tenant.panel_members]`: the panel's membership endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPanelMembers {
    pub url: Spanned<String>,
    pub token: Option<Spanned<String>>,
    pub ttl: Option<Spanned<String>>,
    pub negative_ttl: Option<Spanned<String>>,
    pub stale_for: Option<Spanned<String>>,
}

/// `[tenant.roles]`: how the IdP's roles become memberships.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoles {
    pub account: Option<Spanned<String>>,
    pub whitelabel_admin: Option<Spanned<Vec<Spanned<String>>>>,
    pub whitelabel_manager: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[tenant.external_sso]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternalSso {
    pub url: Spanned<String>,
    pub jwt_key: Spanned<String>,
    pub jwt_alg: Option<Spanned<String>>,
    pub forced: Option<bool>,
    pub max_token_age: Option<Spanned<String>>,
    pub allow_idp_initiated: Option<bool>,
}

/// `[tenant.saml]`: the IdP metadata (file or URL), SP entity ID, attribute
/// mapping, SP key, logout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSaml {
    pub idp_metadata: Spanned<String>,
    pub metadata_refresh: Option<Spanned<String>>,
    pub sp_entity_id: Option<Spanned<String>>,
    pub tenant_specific_issuer: Option<Spanned<bool>>,
    pub allow_idp_initiated: Option<bool>,
    pub single_logout: Option<Spanned<bool>>,
    pub trace: Option<bool>,
    pub sp_signing_key: Option<Spanned<String>>,
    pub sp_certificate: Option<Spanned<String>>,
    pub attributes: Option<RawAttributes>,
}

/// `[tenant.saml.attributes]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAttributes {
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub roles: Option<String>,
    pub username: Option<String>,
}

/// `[tenant.oidc]`: the issuer, the client, scopes, claim mapping, logout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    pub issuer: Spanned<String>,
    pub client_id: Spanned<String>,
    pub client_secret: Spanned<String>,
    pub client_auth: Option<Spanned<String>>,
    pub scopes: Option<Vec<String>>,
    pub claims: Option<RawAttributes>,
    pub require_verified_email: Option<bool>,
    pub single_logout: Option<Spanned<bool>>,
    pub discovery_refresh: Option<Spanned<String>>,
}

/// `[tenant.headers]`: new names for the identity headers (docs/headers.md).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    pub preset: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub email: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub tenant: Option<Spanned<String>>,
    pub account: Option<Spanned<String>>,
    pub permissions: Option<Spanned<String>>,
    pub impersonate: Option<Spanned<String>>,
    pub auth: Option<Spanned<String>>,
    pub assertion: Option<Spanned<String>>,
}

/// `[tenant.tls]`: the certificate served for this tenant's hosts (by SNI).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}
