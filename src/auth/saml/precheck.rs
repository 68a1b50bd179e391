//! What a SAML response may look like before xmlsec sees it.
//!
//! xmlsec runs a `ds:Reference`'s transforms and dereferences its URI
//! *before* it knows whether the signature is good: an XSLT or XPath
//! transform costs as much CPU as its author wants, and a reference to
//! `http://…` makes the verifier fetch it (server-side request forgery).
//! An anonymous POST to the ACS must not be able to make Portero do either,
//! so the raw document is read once here, in one pass with fixed limits,
//! and refused unless it has the shape of a SAML response:
//!
//! * no DTD and no processing instruction; at most [`MAX_ELEMENTS`]
//!   elements, [`MAX_DEPTH`] deep, [`MAX_ATTRIBUTES`] attributes each;
//! * no two elements with the same ID (`ID`, `Id`, `id`, `xml:id`);
//! * exactly one plain `Assertion` (none encrypted) whose `NameID` is plain
//!   text;
//! * at most [`MAX_SIGNATURES`] signatures, each the child of a SAML
//!   `Response` or `Assertion`, made of exactly the XML-DSig elements a
//!   SAML signature uses (no `Object`, `Manifest`, `RetrievalMethod`…), with
//!   one `Reference` whose URI is `""` (the document, when the signature sits
//!   in the root) or `#id` naming the element the signature sits in, whose
//!   transforms are only enveloped-signature and (exclusive or inclusive)
//!   canonicalisation, and whose algorithms are on the allowed lists.
//!
//! This is a filter in front of the signature check, never a replacement
//! for it: xmlsec still verifies every signature, and its network and file
//! input is switched off as well ([`super::xmlsec_io`]).

use super::Refusal;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Most elements a response may have (a response with a hundred
/// attributes of several values each has a few hundred).
pub const MAX_ELEMENTS: usize = 4000;
/// Deepest nesting of elements.
pub const MAX_DEPTH: usize = 32;
/// Most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 32;
/// Most signatures: one on the response and one on the assertion.
pub const MAX_SIGNATURES: usize = 2;
/// Most elements a signature's `KeyInfo` may hold (Portero ignores them:
/// the keys come from the IdP's metadata).
const MAX_KEYINFO_ITEMS: usize = 16;

const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const DSIG11: &[u8] = b"http://www.w3.org/2009/xmldsig11#";
const EXC_C14N_NS: &[u8] = b"http://www.w3.org/2001/10/xml-exc-c14n#";
const SAMLP: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const XML_NS: &[u8] = b"http://www.w3.org/XML/1998/namespace";

/// Canonicalisation algorithms (for `CanonicalizationMethod` and as a
/// reference transform).
const C14N: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// Signature algorithms (the same list samael is given; no SHA-1, no DSA).
const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
/// Digest algorithms (no SHA-1).
const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// What is known of the element a signature sits in.
#[derive(Debug, Default)]
struct Signature {
    /// Depth of the `Signature` element itself.
    depth: usize,
    /// The `ID` of the element it sits in.
    parent_id: Option<String>,
    /// Whether that element is the document's root.
    parent_is_root: bool,
    /// How many of each part were seen.
    signed_info: usize,
    signature_value: usize,
    key_info: usize,
    c14n_method: usize,
    signature_method: usize,
    references: usize,
    transforms: usize,
    transform: usize,
    digest_method: usize,
    digest_value: usize,
    key_items: usize,
}

/// One open element: its namespace (`None` when unbound or unknown), local
/// name and `ID`.
struct Open {
    ns: Option<Vec<u8>>,
    local: Vec<u8>,
    id: Option<String>,
}

/// Reads `xml` once and refuses it unless it has the shape described in
/// the module documentation.
pub fn check(xml: &str) -> Result<(), Refusal> {
    let mut reader = NsReader::from_str(xml);
    let mut open: Vec<Open> = Vec::new();
    let mut ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut elements = 0usize;
    let mut assertions = 0usize;
    let mut signatures = 0usize;
    let mut in_name_id = false;
    let mut signature: Option<Signature> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| Refusal::Malformed)?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(n.0.to_vec()),
            _ => None,
        };
        if in_name_id {
            // Only plain text (and entities) may sit inside a NameID.
            match event {
                Event::Text(_) | Event::GeneralRef(_) => continue,
                Event::End(ref e) if e.local_name().as_ref() == b"NameID" => {
                    in_name_id = false;
                }
                _ => return Err(Refusal::NameIdNotPlainText),
            }
        }
        let (start, empty) = match event {
            Event::DocType(_) | Event::PI(_) => return Err(Refusal::Malformed),
            Event::Eof => break,
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                let depth = open.len();
                open.pop();
                if signature.as_ref().is_some_and(|s| s.depth == depth) {
                    if let Some(done) = signature.take() {
                        complete(&done)?;
                    }
                }
                continue;
            }
            _ => continue,
        };
        elements += 1;
        if elements > MAX_ELEMENTS || open.len() >= MAX_DEPTH {
            return Err(Refusal::TooComplex);
        }
        let local = start.local_name().as_ref().to_vec();
        let id = element_ids(&reader, &start, &mut ids)?;
        let in_saml = |want: &[u8]| ns.as_deref() == Some(want);
        match local.as_slice() {
            b"Assertion" if in_saml(SAML) => assertions += 1,
            b"EncryptedAssertion" => return Err(Refusal::AssertionCount),
            b"NameID" if !empty => in_name_id = true,
            _ => {}
        }
        let is_signature = ns.as_deref() == Some(DSIG) && local == b"Signature";
        if open.is_empty() && !(ns.as_deref() == Some(SAMLP) && local == b"Response") {
            return Err(Refusal::Malformed);
        }
        if let Some(sig) = signature.as_mut() {
            let parent = open.last().map_or(&b""[..], |o| o.local.as_slice());
            signature_part(sig, parent, ns.as_deref(), &local, &start)?;
        } else if is_signature {
            signatures += 1;
            if signatures > MAX_SIGNATURES {
                return Err(Refusal::SignatureShape);
            }
            let parent = open.last().ok_or(Refusal::SignatureShape)?;
            let signed_element = matches!(
                (parent.ns.as_deref(), parent.local.as_slice()),
                (Some(SAMLP), b"Response") | (Some(SAML), b"Assertion")
            );
            if !signed_element || empty {
                return Err(Refusal::SignatureShape);
            }
            signature = Some(Signature {
                depth: open.len() + 1,
                parent_id: parent.id.clone(),
                parent_is_root: open.len() == 1,
                ..Signature::default()
            });
        } else if ns.as_deref() == Some(DSIG) {
            // XML-DSig elements outside a signature have no business here.
            return Err(Refusal::SignatureShape);
        }
        if !empty {
            open.push(Open { ns, local, id });
        }
    }
    if signature.is_some() || !open.is_empty() {
        return Err(Refusal::Malformed);
    }
    if assertions != 1 {
        return Err(Refusal::AssertionCount);
    }
    Ok(())
}

/// Records the element's ID attributes (any spelling libxml2 or xmlsec
/// could take for one) and returns its SAML `ID`.
fn element_ids(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    ids: &mut std::collections::HashSet<String>,
) -> Result<Option<String>, Refusal> {
    let mut id = None;
    let mut count = 0usize;
    for attr in start.attributes() {
        let attr = attr.map_err(|_| Refusal::Malformed)?;
        count += 1;
        if count > MAX_ATTRIBUTES {
            return Err(Refusal::TooComplex);
        }
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let local = local.as_ref();
        let xml_id = matches!(ns, ResolveResult::Bound(n) if n.0 == XML_NS) && local == b"id";
        if !(xml_id || local.eq_ignore_ascii_case(b"id")) {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| Refusal::Malformed)?
            .into_owned();
        if !ids.insert(value.clone()) {
            return Err(Refusal::DuplicateId);
        }
        if local == b"ID" && attr.key.prefix().is_none() {
            id = Some(value);
        }
    }
    Ok(id)
}

/// Checks one element inside a signature against the SAML signature
/// profile: where it may sit, how often, and its algorithm or URI.
///
/// Only elements this function let in can be a parent here, so the
/// parent's local name says which one it is.
fn signature_part(
    sig: &mut Signature,
    parent: &[u8],
    ns: Option<&[u8]>,
    local: &[u8],
    start: &BytesStart<'_>,
) -> Result<(), Refusal> {
    let ns = ns.ok_or(Refusal::SignatureShape)?;
    let algorithm = || attribute(start, b"Algorithm");
    let count = match (parent, ns, local) {
        (b"Signature", DSIG, b"SignedInfo") => &mut sig.signed_info,
        (b"Signature", DSIG, b"SignatureValue") => &mut sig.signature_value,
        (b"Signature", DSIG, b"KeyInfo") => &mut sig.key_info,
        (b"SignedInfo", DSIG, b"CanonicalizationMethod") => {
            if !algorithm()?.is_some_and(|a| C14N.contains(&a.as_str())) {
                return Err(Refusal::SignatureShape);
            }
            &mut sig.c14n_method
        }
        (b"SignedInfo", DSIG, b"SignatureMethod") => {
            if !algorithm()?.is_some_and(|a| SIGNATURE_METHODS.contains(&a.as_str())) {
                return Err(Refusal::SignatureShape);
            }
            &mut sig.signature_method
        }
        (b"SignedInfo", DSIG, b"Reference") => {
            check_reference_uri(sig, attribute(start, b"URI")?)?;
            &mut sig.references
        }
        (b"Reference", DSIG, b"Transforms") => &mut sig.transforms,
        (b"Transforms", DSIG, b"Transform") => {
            let allowed =
                algorithm()?.is_some_and(|a| a == ENVELOPED || C14N.contains(&a.as_str()));
            if !allowed {
                return Err(Refusal::ForbiddenTransform);
            }
            &mut sig.transform
        }
        (b"Transform" | b"CanonicalizationMethod", EXC_C14N_NS, b"InclusiveNamespaces") => {
            return Ok(())
        }
        // Anything else inside a transform (an XPath expression, a
        // stylesheet) means a transform of another kind.
        (b"Transform", _, _) => return Err(Refusal::ForbiddenTransform),
        (b"Reference", DSIG, b"DigestMethod") => {
            if !algorithm()?.is_some_and(|a| DIGEST_METHODS.contains(&a.as_str())) {
                return Err(Refusal::SignatureShape);
            }
            &mut sig.digest_method
        }
        (b"Reference", DSIG, b"DigestValue") => &mut sig.digest_value,
        (b"KeyInfo", DSIG, b"X509Data" | b"KeyName" | b"KeyValue") => &mut sig.key_items,
        (b"X509Data", DSIG, b"X509Certificate" | b"X509SubjectName" | b"X509SKI")
        | (b"X509Data", DSIG, b"X509IssuerSerial")
        | (b"X509IssuerSerial", DSIG, b"X509IssuerName" | b"X509SerialNumber")
        | (b"KeyValue", DSIG, b"RSAKeyValue")
        | (b"RSAKeyValue", DSIG, b"Modulus" | b"Exponent")
        | (b"KeyValue", DSIG11, b"ECKeyValue")
        | (b"ECKeyValue", DSIG11, b"NamedCurve" | b"PublicKey") => &mut sig.key_items,
        _ => return Err(Refusal::SignatureShape),
    };
    *count += 1;
    if sig.key_items > MAX_KEYINFO_ITEMS {
        return Err(Refusal::TooComplex);
    }
    Ok(())
}

/// A reference may name only the element its signature sits in: `#` and
/// that element's `ID`, or `""` when that element is the root.
fn check_reference_uri(sig: &Signature, uri: Option<String>) -> Result<(), Refusal> {
    let Some(uri) = uri else {
        return Err(Refusal::ForbiddenReference);
    };
    let ok = match uri.strip_prefix('#') {
        Some(id) => !id.is_empty() && sig.parent_id.as_deref() == Some(id),
        None => uri.is_empty() && sig.parent_is_root,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::ForbiddenReference)
    }
}

/// A finished signature must have had exactly one of each required part.
fn complete(sig: &Signature) -> Result<(), Refusal> {
    let once = [
        sig.signed_info,
        sig.signature_value,
        sig.c14n_method,
        sig.signature_method,
        sig.references,
        sig.digest_method,
        sig.digest_value,
    ];
    if once.iter().any(|&n| n != 1) || sig.key_info > 1 || sig.transforms > 1 || sig.transform > 2 {
        return Err(Refusal::SignatureShape);
    }
    Ok(())
}

/// The value of the unprefixed attribute `name`.
fn attribute(start: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, Refusal> {
    for attr in start.attributes() {
        let attr = attr.map_err(|_| Refusal::Malformed)?;
        if attr.key.as_ref() == name {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| Refusal::Malformed)?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

    /// A signature over `#id` with the given transforms (and extra parts).
    fn signature(uri: &str, transforms: &str, key_info: &str) -> String {
        format!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue>{key_info}</ds:Signature>"#
        )
    }

    fn usual_transforms() -> String {
        format!(
            r#"<ds:Transform Algorithm="{ENV}"/><ds:Transform Algorithm="{EXC}"><ec:InclusiveNamespaces xmlns:ec="{EXC}" PrefixList="xs"/></ds:Transform>"#
        )
    }

    const KEY_INFO: &str =
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo>";

    /// A response whose response signature is `response_sig` and whose
    /// assertion is signed the usual way.
    fn response(response_sig: &str, extra: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0"><saml:Issuer>idp</saml:Issuer>{response_sig}{extra}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" Version="2.0"><saml:Issuer>idp</saml:Issuer>{assertion_sig}<saml:Subject><saml:NameID>ana@example.test</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#,
            assertion_sig = signature("#_a", &usual_transforms(), KEY_INFO),
        )
    }

    fn with_response_transforms(transforms: &str) -> String {
        response(&signature("#_r", transforms, KEY_INFO), "")
    }

    #[test]
    fn a_response_shaped_as_saml_signs_passes() {
        assert_eq!(
            check(&response(
                &signature("#_r", &usual_transforms(), KEY_INFO),
                ""
            )),
            Ok(())
        );
        assert_eq!(check(&response("", "")), Ok(()));
        // The whole document, when the signature sits in the root.
        assert_eq!(
            check(&response(&signature("", &usual_transforms(), ""), "")),
            Ok(())
        );
    }

    #[test]
    fn every_transform_but_enveloped_and_canonicalisation_is_refused() {
        let xslt = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:call-template name="a"/></xsl:template></xsl:stylesheet></ds:Transform>"#;
        let xpath = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform>"#;
        let xpath2 = r#"<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" Filter="union">//*</dsig-xpath:XPath></ds:Transform>"#;
        let base64 = r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>"#;
        let no_algorithm = r#"<ds:Transform/>"#;
        // A permitted algorithm with an expression hidden inside it.
        let smuggled =
            format!(r#"<ds:Transform Algorithm="{ENV}"><ds:XPath>//*</ds:XPath></ds:Transform>"#);
        for t in [xslt, xpath, xpath2, base64, no_algorithm, &smuggled] {
            assert_eq!(
                check(&with_response_transforms(t)),
                Err(Refusal::ForbiddenTransform),
                "{t}"
            );
        }
        let three = format!(
            r#"<ds:Transform Algorithm="{ENV}"/><ds:Transform Algorithm="{EXC}"/><ds:Transform Algorithm="{EXC}"/>"#
        );
        assert_eq!(
            check(&with_response_transforms(&three)),
            Err(Refusal::SignatureShape)
        );
    }

    #[test]
    fn every_reference_but_the_signed_element_itself_is_refused() {
        for uri in [
            "http://127.0.0.1:9/x",
            "https://example.test/doc.xml",
            "file:///etc/passwd",
            "ftp://example.test/x",
            "#xpointer(/)",
            "#xpointer(id('_r'))",
            "#_a",
            "#",
            "_r",
            "//example.test/x",
        ] {
            let doc = response(&signature(uri, &usual_transforms(), KEY_INFO), "");
            assert_eq!(check(&doc), Err(Refusal::ForbiddenReference), "{uri}");
        }
        // No URI at all, and "" when the signature is not in the root.
        let no_uri = signature("#_r", &usual_transforms(), "").replace(r##" URI="#_r""##, "");
        assert_eq!(
            check(&response(&no_uri, "")),
            Err(Refusal::ForbiddenReference)
        );
        let doc = response("", "").replace(
            &signature("#_a", &usual_transforms(), KEY_INFO),
            &signature("", &usual_transforms(), ""),
        );
        assert_eq!(check(&doc), Err(Refusal::ForbiddenReference));
    }

    #[test]
    fn signatures_not_shaped_as_saml_signs_are_refused() {
        let sig = signature("#_r", &usual_transforms(), KEY_INFO);
        let cases = [
            // A third signature (in the response's Extensions).
            response(&sig, &format!("<samlp:Extensions ID=\"_e\">{}</samlp:Extensions>", signature("#_e", "", ""))),
            // Two references.
            response(&sig.replace("</ds:SignedInfo>", r##"<ds:Reference URI="#_r"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>"##), ""),
            // An Object with a Manifest (references xmlsec does not check).
            response(&sig.replace("</ds:Signature>", r#"<ds:Object><ds:Manifest><ds:Reference URI="http://127.0.0.1:9/"/></ds:Manifest></ds:Object></ds:Signature>"#), ""),
            // A key to be fetched.
            response(&sig.replace(KEY_INFO, r#"<ds:KeyInfo><ds:RetrievalMethod URI="http://127.0.0.1:9/key"/></ds:KeyInfo>"#), ""),
            // SHA-1, and a MAC.
            response(&sig.replace("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1"), ""),
            response(&sig.replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"), ""),
            // No SignatureValue.
            response(&sig.replace("<ds:SignatureValue>AA==</ds:SignatureValue>", ""), ""),
            // An XML-DSig element outside any signature.
            response(&sig, r#"<ds:Reference xmlns:ds="http://www.w3.org/2000/09/xmldsig#" URI="http://127.0.0.1:9/"/>"#),
            // A signature in the Issuer.
            response("", "").replacen("<saml:Issuer>idp</saml:Issuer>", &format!("<saml:Issuer>idp{sig}</saml:Issuer>"), 1),
        ];
        for (i, doc) in cases.iter().enumerate() {
            let got = check(doc);
            assert!(
                matches!(
                    got,
                    Err(Refusal::SignatureShape | Refusal::NameIdNotPlainText)
                ),
                "case {i}: {got:?}"
            );
        }
    }

    #[test]
    fn documents_over_the_limits_are_refused_before_any_work() {
        let many = "<saml:Attribute/>".repeat(MAX_ELEMENTS);
        assert_eq!(check(&response("", &many)), Err(Refusal::TooComplex));
        let deep = format!(
            "{}{}",
            "<x:a xmlns:x=\"urn:x\">".repeat(MAX_DEPTH),
            "</x:a>".repeat(MAX_DEPTH)
        );
        assert_eq!(check(&response("", &deep)), Err(Refusal::TooComplex));
        let attrs: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"v\""))
            .collect();
        assert_eq!(
            check(&response("", &format!("<x:a xmlns:x=\"urn:x\"{attrs}/>"))),
            Err(Refusal::TooComplex)
        );
    }

    #[test]
    fn ids_are_unique_in_every_spelling() {
        for dup in [
            r#"<x:a xmlns:x="urn:x" ID="_r"/>"#,
            r#"<x:a xmlns:x="urn:x" xml:id="_r"/>"#,
            r#"<x:a xmlns:x="urn:x" Id="_a"/>"#,
            r#"<x:a xmlns:x="urn:x" x:ID="_r"/>"#,
        ] {
            assert_eq!(
                check(&response("", dup)),
                Err(Refusal::DuplicateId),
                "{dup}"
            );
        }
    }

    #[test]
    fn dtds_instructions_and_odd_assertions_are_refused() {
        let doc = response("", "");
        let dtd = doc.replace(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]>",
        );
        assert_eq!(check(&dtd), Err(Refusal::Malformed));
        let pi = doc.replace(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\"?><?xml-stylesheet href=\"http://127.0.0.1:9/\"?>",
        );
        assert_eq!(check(&pi), Err(Refusal::Malformed));
        assert_eq!(
            check(&doc.replace("samlp:Response", "samlp:LogoutResponse")),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            check(&response("", "<saml:EncryptedAssertion/>")),
            Err(Refusal::AssertionCount)
        );
        assert_eq!(
            check(&response("", r#"<saml:Assertion ID="_b"/>"#)),
            Err(Refusal::AssertionCount)
        );
        assert_eq!(
            check(&doc.replace("ana@example.test", "ana@example.test<!---->.evil")),
            Err(Refusal::NameIdNotPlainText)
        );
        assert_eq!(check("<samlp:Response"), Err(Refusal::Malformed));
    }
}
