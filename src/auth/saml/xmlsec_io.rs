//! xmlsec without network or file input.
//!
//! libxmlsec1 opens a `ds:Reference` URI that is not in the document
//! through its IO callbacks, which by default read files and fetch
//! `http://` and `ftp://` URLs — before the signature is known good. A
//! response is never signed over anything but itself, so Portero removes
//! every IO callback once xmlsec is initialised: a reference that names
//! anything outside the document then fails inside xmlsec, whatever got
//! past [`super::precheck`].
//!
//! samael initialises xmlsec lazily (on the first key it loads), and
//! xmlsec's initialisation registers the default callbacks, so the order
//! is: load a key through samael (which initialises), then clear the
//! callbacks. [`lock_down`] does both, once per process; every verification
//! calls it first.

use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use std::sync::OnceLock;

extern "C" {
    /// libxmlsec1: removes every registered IO callback (`xmlsec/io.h`).
    fn xmlSecIOCleanupCallbacks();
}

static LOCKED: OnceLock<Result<(), String>> = OnceLock::new();

/// Initialises xmlsec through samael and removes its IO callbacks; the
/// result of the first call is kept. An error means xmlsec could not be
/// initialised (then no signature can be verified either).
pub fn lock_down() -> Result<(), String> {
    LOCKED
        .get_or_init(|| {
            let cert = throwaway_certificate()?;
            // Loading the certificate initialises xmlsec; the document has no
            // signature, so nothing is verified and nothing is printed.
            let _ = Crypto::verify_signed_xml("<init/>", &cert, None);
            // SAFETY: a plain libxmlsec1 call with no arguments. It runs once,
            // before this process verifies anything (every verification waits
            // on this OnceLock), so no verification uses the list meanwhile.
            unsafe { xmlSecIOCleanupCallbacks() };
            Ok(())
        })
        .clone()
}

/// A self-signed certificate made now, used only to make samael load a key.
fn throwaway_certificate() -> Result<CertificateDer, String> {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509NameBuilder, X509};
    let fail = |e: openssl::error::ErrorStack| format!("cannot initialise xmlsec: {e}");
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(fail)?;
    let key = PKey::from_ec_key(EcKey::generate(&group).map_err(fail)?).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    name.append_entry_by_nid(Nid::COMMONNAME, "portero xmlsec init")
        .map_err(fail)?;
    let name = name.build();
    let mut cert = X509::builder().map_err(fail)?;
    cert.set_version(2).map_err(fail)?;
    cert.set_subject_name(&name).map_err(fail)?;
    cert.set_issuer_name(&name).map_err(fail)?;
    cert.set_pubkey(&key).map_err(fail)?;
    let now = openssl::asn1::Asn1Time::days_from_now(0).map_err(fail)?;
    let later = openssl::asn1::Asn1Time::days_from_now(1).map_err(fail)?;
    cert.set_not_before(&now).map_err(fail)?;
    cert.set_not_after(&later).map_err(fail)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let der = cert.build().to_der().map_err(fail)?;
    Ok(CertificateDer::from(der))
}
