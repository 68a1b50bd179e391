//! The session and classic-login cookie openers, and the Cookie header
//! parser, on arbitrary input: never a panic, never a session from bytes
//! that were not sealed by the key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portero::session::{find_cookie_values, ClassicClaims, Sealer, SessionClaims};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fuzz_target!(|data: &[u8]| {
    let Ok(sealer) = Sealer::from_base64_keys(&[KEY]) else { return };
    let text = String::from_utf8_lossy(data);
    for value in find_cookie_values(std::iter::once(text.as_ref()), "portero_session") {
        let _ = SessionClaims::open(&sealer, "t", value, 1_800_000_000, Some(86_400), 0);
    }
    // Whole input as a cookie value.
    assert!(SessionClaims::open(&sealer, "t", &text, 1_800_000_000, None, 0).is_err() || text.len() > 40);
    let _ = ClassicClaims::open(&sealer, "t", &text, 1_800_000_000);
    // Sealed by us, but with arbitrary contents: the claims parser must cope.
    if let Some(sealed) = sealer.seal(b"t", data) {
        let _ = SessionClaims::open(&sealer, "t", &sealed, 1_800_000_000, None, 0);
    }
});
