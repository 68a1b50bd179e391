//! One tenant's SAML service provider: the IdP from its metadata, the
//! AuthnRequest (HTTP-Redirect), the SP metadata, and turning a verified
//! response into a [`UnclaimedLogin`] (its assertion ID to be claimed).

use super::response::{self, Expected, IdpTrust, Refusal, TrustError};
use crate::auth::{clean_display_name, normalize_email, AuthMethod, OnceId, UnclaimedLogin};
use crate::remote::Remote;
use samael::crypto::CertificateDer;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::service_provider::ServiceProvider;
use std::sync::Arc;
use std::time::Duration;

/// Seconds of clock skew tolerated on SAML time checks.
pub const SKEW: u64 = 60;
/// How old an assertion may be when it reaches the ACS, in seconds.
pub const MAX_AGE: u64 = 300;
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const SUCCESS_STATUS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Which attribute carries what (`[tenant.saml.attributes]`).
#[derive(Debug, Clone, Default)]
pub struct AttributeNames {
    /// The e-mail, when the NameID is not one.
    pub email: Option<String>,
    /// The full name (else first and last name joined).
    pub name: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Roles (read by the directory work of issue 6).
    pub roles: Option<String>,
    /// The attribute that names the user, instead of the NameID.
    pub username: Option<String>,
}

/// What the IdP's metadata says: its entity ID and certificates, where to
/// send requests.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    descriptor: EntityDescriptor,
    trust: IdpTrust,
    sso_url: String,
    /// The IdP's single-logout URL (HTTP-Redirect), when its metadata has one.
    pub slo_url: Option<String>,
}

/// Where the IdP's metadata comes from.
#[derive(Debug, Clone)]
pub enum IdpSource {
    /// A file, read when the configuration is compiled.
    File(Arc<IdpMetadata>),
    /// A URL, fetched and refreshed; the last good copy is used.
    Url(Arc<Remote<IdpMetadata>>),
}

impl IdpSource {
    /// The metadata in force, if there is any yet.
    pub fn get(&self) -> Option<Arc<IdpMetadata>> {
        match self {
            IdpSource::File(m) => Some(m.clone()),
            IdpSource::Url(r) => r.get(),
        }
    }
}

/// How the SP names itself to the IdP (its entity ID, the `Issuer` of its
/// requests, the `Audience` it accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpEntityId {
    /// Each host's own metadata URL: `{origin}/.portero/saml/metadata`.
    PerHost,
    /// One name for the whole tenant, whatever host the visitor used
    /// (`tenant_specific_issuer = true`: `urn:portero:tenant:<name>`, or
    /// `sp_entity_id` as written).
    Fixed(String),
}

/// A tenant's SAML service provider.
#[derive(Debug, Clone)]
pub struct SamlSp {
    /// The IdP.
    pub idp: IdpSource,
    /// The SP's entity ID rule.
    pub entity: SpEntityId,
    /// Attribute mapping.
    pub attributes: AttributeNames,
    /// Whether responses to no request are accepted.
    pub allow_idp_initiated: bool,
    /// Whether `/.portero/logout` also ends the IdP session (SP-initiated SLO).
    pub single_logout: bool,
    /// The SP's signing key and certificate: AuthnRequests and
    /// LogoutRequests are signed (redirect binding) and the certificate is
    /// published in the SP metadata.
    pub signing: Option<SpSigning>,
    /// Keep recent exchanges for the admin listener's SAML trace.
    pub trace: bool,
}

/// The SP's own key pair, for IdPs that want signed requests.
#[derive(Clone)]
pub struct SpSigning {
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for SpSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpSigning").finish_non_exhaustive()
    }
}

impl SpSigning {
    /// From a PEM private key (RSA or EC) and a PEM certificate.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<SpSigning, String> {
        let key = openssl::pkey::PKey::private_key_from_pem(key_pem.as_bytes())
            .map_err(|e| format!("not a PEM private key: {e}"))?;
        let cert = openssl::x509::X509::from_pem(cert_pem.as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        let public = cert
            .public_key()
            .map_err(|e| format!("certificate without a public key: {e}"))?;
        if !key.public_eq(&public) {
            return Err("the certificate is not for this key".to_string());
        }
        let cert_der = cert.to_der().map_err(|e| e.to_string())?;
        Ok(SpSigning { key, cert_der })
    }
}

/// What went wrong reading IdP metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not SAML metadata.
    #[error("not SAML metadata: {0}")]
    Unreadable(String),
    /// No signing certificate (every response would be unverifiable), or
    /// one xmlsec cannot load.
    #[error(transparent)]
    Certificate(#[from] TrustError),
    /// No SSO endpoint with the HTTP-Redirect binding.
    #[error("the metadata has no SingleSignOnService with the HTTP-Redirect binding")]
    NoRedirectSso,
}

/// What a started SAML sign-in remembers besides its request ID (the
/// flow keeps that, the tenant and `return_to`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    /// The e-mail the flow began with.
    pub login_hint: Option<String>,
}

/// The sign-in a response answers: the AuthnRequest's ID and the e-mail
/// the flow began with.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// The AuthnRequest ID (`InResponseTo` must be it).
    pub request_id: &'a str,
    /// The e-mail the flow began with (the NameID must be it).
    pub login_hint: Option<&'a str>,
}

impl IdpMetadata {
    /// Reads the IdP's metadata (an `EntityDescriptor`).
    pub fn parse(xml: &str) -> Result<IdpMetadata, MetadataError> {
        let descriptor = xml
            .parse::<EntityDescriptor>()
            .map_err(|e| MetadataError::Unreadable(e.to_string()))?;
        let probe = ServiceProvider {
            idp_metadata: descriptor.clone(),
            ..ServiceProvider::default()
        };
        let certs = probe
            .idp_signing_certs()
            .map_err(|e| MetadataError::Unreadable(e.to_string()))?
            .unwrap_or_default();
        let entity_id = descriptor.entity_id.clone().unwrap_or_default();
        let trust = IdpTrust::new(entity_id, certs)?;
        let sso_url = probe
            .sso_binding_location(HTTP_REDIRECT_BINDING)
            .ok_or(MetadataError::NoRedirectSso)?;
        let slo_url = probe.slo_binding_location(HTTP_REDIRECT_BINDING);
        Ok(IdpMetadata {
            descriptor,
            trust,
            sso_url,
            slo_url,
        })
    }

    /// The IdP's entity ID.
    pub fn entity_id(&self) -> &str {
        self.trust.entity_id()
    }

    /// What responses are verified against: the entity ID and the signing
    /// keys, loaded when this metadata was read.
    pub fn trust(&self) -> &IdpTrust {
        &self.trust
    }
}

impl SamlSp {
    /// An SP for the IdP in `idp`, with everything else at its default.
    pub fn new(idp: IdpSource, attributes: AttributeNames, allow_idp_initiated: bool) -> SamlSp {
        SamlSp {
            idp,
            entity: SpEntityId::PerHost,
            attributes,
            allow_idp_initiated,
            single_logout: false,
            signing: None,
            trace: true,
        }
    }

    /// From metadata text (a file's), for tests and benches.
    pub fn from_metadata(
        xml: &str,
        attributes: AttributeNames,
        allow_idp_initiated: bool,
    ) -> Result<SamlSp, MetadataError> {
        let idp = IdpSource::File(Arc::new(IdpMetadata::parse(xml)?));
        Ok(SamlSp::new(idp, attributes, allow_idp_initiated))
    }

    /// The SP entity ID used with `origin`.
    pub fn entity_id(&self, origin: &str) -> String {
        match &self.entity {
            SpEntityId::PerHost => entity_id(origin),
            SpEntityId::Fixed(id) => id.clone(),
        }
    }

    /// The IdP's single-logout URL, when its metadata (in force) has one.
    pub fn slo_url(&self) -> Option<String> {
        self.idp.get()?.slo_url.clone()
    }

    /// The SP as samael sees it, for one origin (`https://panel.example`).
    fn sp(&self, origin: &str, idp: Option<&IdpMetadata>) -> ServiceProvider {
        ServiceProvider {
            entity_id: Some(self.entity_id(origin)),
            metadata_url: Some(entity_id(origin)),
            acs_url: Some(acs_url(origin)),
            slo_url: Some(format!("{origin}/.portero/saml/slo")),
            idp_metadata: idp.map(|i| i.descriptor.clone()).unwrap_or_default(),
            authn_name_id_format: Some(EMAIL_FORMAT.to_string()),
            certificate: self
                .signing
                .as_ref()
                .map(|s| CertificateDer::from(s.cert_der.clone())),
            ..ServiceProvider::default()
        }
    }

    /// This SP's metadata document for `origin`.
    pub fn metadata_xml(&self, origin: &str) -> Option<String> {
        use samael::traits::ToXml;
        let metadata = self.sp(origin, None).metadata().ok()?;
        metadata.to_string().ok()
    }

    /// An AuthnRequest for `origin`: its ID and the IdP URL to redirect to
    /// (the request ID doubles as the opaque `RelayState`).
    pub fn authn_request(
        &self,
        origin: &str,
        login_hint: Option<&str>,
    ) -> Option<(String, String)> {
        let idp = self.idp.get()?;
        let request = self
            .sp(origin, Some(&idp))
            .make_authentication_request(&idp.sso_url)
            .ok()?;
        let id = request.id.clone();
        let url = request.redirect(&id).ok()??;
        // The redirect-binding signature covers exactly SAMLRequest,
        // RelayState and SigAlg (IdPs rebuild that string), so the hint
        // is added after it.
        let mut url = self.sign(url)?;
        if let Some(hint) = login_hint {
            url.query_pairs_mut().append_pair("login_hint", hint);
        }
        Some((id, url.to_string()))
    }

    /// Verifies a base64 `SAMLResponse` posted to this origin's ACS for the
    /// sign-in `answering` (or an IdP-initiated one): the login, not yet
    /// claimed (its assertion ID; a replayed assertion is refused there).
    pub fn accept(
        &self,
        tenant: &str,
        origin: &str,
        saml_response: &str,
        answering: Option<Answering<'_>>,
        now: u64,
    ) -> Result<UnclaimedLogin, Refusal> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(saml_response.trim())
            .map_err(|_| Refusal::Malformed)?;
        let xml = std::str::from_utf8(&bytes).map_err(|_| Refusal::Malformed)?;
        let idp = self.idp.get().ok_or(Refusal::NoIdpMetadata)?;
        let entity = self.entity_id(origin);
        let acs = acs_url(origin);
        let expected = Expected {
            sp_entity_id: &entity,
            acs_url: &acs,
            request_id: answering.map(|a| a.request_id),
            allow_idp_initiated: self.allow_idp_initiated,
            login_hint: answering.and_then(|a| a.login_hint),
            now,
            skew: SKEW,
            max_age: MAX_AGE,
        };
        let login = response::verify(xml, &idp.trust, &expected)?;
        let once = OnceId::new(
            "saml",
            tenant,
            &login.assertion_id,
            Duration::from_secs(login.usable_until.saturating_sub(now).max(1)),
        );
        let raw_email = match &self.attributes.email {
            Some(attr) => login.attribute(attr).unwrap_or_default().to_string(),
            None => login.name_id.clone(),
        };
        let email = normalize_email(&raw_email).ok_or(Refusal::NoEmail)?;
        let first = self
            .attributes
            .first_name
            .as_deref()
            .and_then(|a| login.attribute(a));
        let last = self
            .attributes
            .last_name
            .as_deref()
            .and_then(|a| login.attribute(a));
        let full = self
            .attributes
            .name
            .as_deref()
            .and_then(|a| login.attribute(a));
        let name = match (first, last) {
            _ if full.is_some() => full.map(str::to_string),
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(n), None) | (None, Some(n)) => Some(n.to_string()),
            (None, None) => None,
        }
        .and_then(|n| clean_display_name(&n));
        let roles = self
            .attributes
            .roles
            .as_deref()
            .map(|a| login.attribute_values(a))
            .unwrap_or_default();
        let username = self
            .attributes
            .username
            .as_deref()
            .and_then(|a| login.attribute(a))
            .map(str::to_string);
        Ok(
            UnclaimedLogin::new(tenant, email, name, AuthMethod::Saml, once)
                .with_roles(roles)
                .with_username(username),
        )
    }
}

impl SamlSp {
    /// A `LogoutRequest` for `name_id` by HTTP-Redirect to the IdP's SLO URL,
    /// with `relay_state`, signed when the SP has a key.
    pub fn logout_url(
        &self,
        origin: &str,
        name_id: &str,
        now: u64,
        relay_state: &str,
    ) -> Option<String> {
        use samael::traits::ToXml;
        let slo = self.slo_url()?;
        let request = samael::schema::LogoutRequest {
            id: Some(samael::crypto::gen_saml_response_id()),
            version: Some("2.0".to_string()),
            issue_instant: chrono::DateTime::from_timestamp(i64::try_from(now).ok()?, 0),
            destination: Some(slo.clone()),
            issuer: Some(samael::schema::Issuer {
                value: Some(self.entity_id(origin)),
                ..Default::default()
            }),
            signature: None,
            session_index: None,
            name_id: Some(samael::schema::NameID {
                format: Some(EMAIL_FORMAT.to_string()),
                value: name_id.to_string(),
            }),
        };
        let xml = request.to_string().ok()?;
        self.redirect(&slo, "SAMLRequest", &xml, relay_state)
    }

    /// Answers an IdP's `LogoutRequest` (HTTP-Redirect, the `SAMLRequest`
    /// value as sent): a `LogoutResponse` with status Success to the IdP's
    /// SLO URL, echoing `relay_state`. `None` when the request is not
    /// readable or not from this IdP.
    pub fn logout_response_url(
        &self,
        origin: &str,
        saml_request: &str,
        now: u64,
        relay_state: Option<&str>,
    ) -> Option<String> {
        use samael::traits::ToXml;
        let idp = self.idp.get()?;
        let slo = idp.slo_url.clone()?;
        let xml = inflate(saml_request)?;
        let request: samael::schema::LogoutRequest = xml.parse().ok()?;
        let from_idp = request
            .issuer
            .as_ref()
            .and_then(|i| i.value.as_deref())
            .is_some_and(|v| v == idp.entity_id());
        if !from_idp {
            return None;
        }
        let response = samael::schema::LogoutResponse {
            id: Some(samael::crypto::gen_saml_response_id()),
            in_response_to: request.id.clone(),
            version: Some("2.0".to_string()),
            issue_instant: chrono::DateTime::from_timestamp(i64::try_from(now).ok()?, 0),
            destination: Some(slo.clone()),
            consent: None,
            issuer: Some(samael::schema::Issuer {
                value: Some(self.entity_id(origin)),
                ..Default::default()
            }),
            signature: None,
            status: Some(samael::schema::Status {
                status_code: samael::schema::StatusCode {
                    value: Some(SUCCESS_STATUS.to_string()),
                },
                status_message: None,
                status_detail: None,
            }),
        };
        let xml = response.to_string().ok()?;
        self.redirect(&slo, "SAMLResponse", &xml, relay_state.unwrap_or(""))
    }

    /// `to?{param}=<deflated, base64 xml>&RelayState=…`, signed when the SP has a key.
    fn redirect(&self, to: &str, param: &str, xml: &str, relay_state: &str) -> Option<String> {
        use base64::Engine;
        use flate2::write::DeflateEncoder;
        use std::io::Write;
        let mut deflated = Vec::new();
        {
            let mut encoder = DeflateEncoder::new(&mut deflated, flate2::Compression::default());
            encoder.write_all(xml.as_bytes()).ok()?;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&deflated);
        let mut url = url::Url::parse(to).ok()?;
        url.query_pairs_mut().append_pair(param, &encoded);
        if !relay_state.is_empty() {
            url.query_pairs_mut().append_pair("RelayState", relay_state);
        }
        Some(self.sign(url)?.to_string())
    }

    /// Adds `SigAlg` and `Signature` (HTTP-Redirect binding) when the SP has a key.
    fn sign(&self, url: url::Url) -> Option<url::Url> {
        match &self.signing {
            Some(s) => samael::crypto::sign_url(url, &s.key).ok(),
            None => Some(url),
        }
    }
}

/// A redirect-binding message: base64, then raw deflate (at most 1 MiB).
pub fn inflate(b64: &str) -> Option<String> {
    use base64::Engine;
    use std::io::Read;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .take(1 << 20)
        .read_to_string(&mut out)
        .ok()?;
    Some(out)
}

/// The SP entity ID for an origin: its metadata URL.
pub fn entity_id(origin: &str) -> String {
    format!("{origin}/.portero/saml/metadata")
}

/// The ACS URL for an origin.
pub fn acs_url(origin: &str) -> String {
    format!("{origin}/.portero/saml/acs")
}
