//! The SAML ACS on arbitrary documents: shape checks, xmlsec verification,
//! parsing and every check; never a panic, never an accepted login (the
//! fuzzer cannot sign).
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use portero::auth::saml::{Answering, SamlSp};

const METADATA: &str = include_str!("../../tests/interop/fixtures/idp-metadata.xml");

fuzz_target!(|data: &[u8]| {
    let Ok(sp) = SamlSp::from_metadata(METADATA, Default::default(), true) else { return };
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let answering = Answering {
        request_id: "_req1",
        login_hint: None,
    };
    for p in [None, Some(answering)] {
        let got = sp.accept("t", "https://panel.t.test", &b64, p, 1_800_000_000);
        assert!(got.is_err(), "an unsigned document was accepted");
    }
});
