//! ACS verification throughput: a login storm after "force re-authentication
//! now" is this, once per person. A real response (RSA-2048, SHA-256, both
//! Response and Assertion signed by `xmlsec1`) is verified end to end:
//! shape checks, xmlsec signature verification and reduction, parsing, and
//! every semantic check. `cargo bench --bench saml_acs`.

#[path = "../tests/common/saml.rs"]
mod saml;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portero::auth::saml::verify;
use saml::{SigningKey, Spec};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let key = SigningKey::new();
    let trust = key.trust();
    let mut g = c.benchmark_group("saml_acs");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .throughput(Throughput::Elements(1));
    for (name, response, assertion) in [
        ("response+assertion signed", true, true),
        ("assertion signed", false, true),
    ] {
        let spec = Spec {
            sign_response: response,
            sign_assertion: assertion,
            ..Spec::default()
        };
        let xml = spec.signed_by(&key);
        let expected = spec.expected();
        g.bench_function(name, |b| {
            b.iter(|| verify(black_box(&xml), &trust, &expected).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
