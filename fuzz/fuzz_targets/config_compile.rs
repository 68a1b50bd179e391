//! The configuration compiler on arbitrary text: every problem is a
//! finding with a line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portero::config::{compile_str, Env};

struct FixedEnv;

impl Env for FixedEnv {
    fn var(&self, _name: &str) -> Option<String> {
        Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(findings) = compile_str(text, std::path::Path::new("/nonexistent/fuzz.toml"), &FixedEnv) {
        assert!(!findings.is_empty());
    }
});
