//! The auth hot path, piece by piece: deciding, opening a session cookie,
//! finding the client address. `cargo bench --bench hot_path`.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use portero::auth::AuthMethod;
use portero::facts::client_ip;
use portero::policy::*;
use portero::session::{Sealer, SessionClaims};
use std::hint::black_box;

fn policy() -> TenantPolicy {
    TenantPolicy {
        sso_mode: SsoMode::LoginPage,
        netmasks: NetmaskSet::new(
            (0..200u32).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap()),
        ),
        super_admins: ["root@x.test".to_string()].into_iter().collect(),
        classic_users: Default::default(),
        superadmin_bypass: true,
        admin_paths: PathPrefixes::new(["/admin".to_string()]),
        bypass_paths: PathPrefixes::new(["/static/".to_string(), "/api/".to_string()]),
        forced_external: false,
        default_idp: Some(Idp::External),
    }
}

fn bench(c: &mut Criterion) {
    let p = policy();
    let facts = Facts {
        path: "/panel/domains",
        client_ip: "10.0.150.7".parse().unwrap(),
        accepts_html: true,
        session: SessionFact::Member,
        identified_as: None,
    };
    c.bench_function("decide (session, 200 netmasks)", |b| {
        b.iter(|| decide(black_box(&p), black_box(&facts)))
    });

    let sealer =
        Sealer::from_base64_keys(&["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]).unwrap();
    let claims = SessionClaims {
        tenant: "latincloud".into(),
        user: "ana@latincloud.test".into(),
        email: "ana@latincloud.test".into(),
        name: Some("Ana".into()),
        method: AuthMethod::Jwt,
        issued_at: 1_800_000_000,
        account: None,
        sid: "0123456789abcdef".into(),
    };
    let cookie = claims.seal(&sealer).unwrap();
    c.bench_function("open session cookie", |b| {
        b.iter(|| {
            SessionClaims::open(
                &sealer,
                "latincloud",
                black_box(&cookie),
                1_800_000_100,
                Some(86_400),
                0,
            )
        })
    });

    let trusted = NetmaskSet::new(["127.0.0.1/32".parse().unwrap()]);
    let peer = "127.0.0.1".parse().unwrap();
    c.bench_function("client address from X-Forwarded-For", |b| {
        b.iter(|| client_ip(peer, black_box(&["203.0.113.9, 64.233.187.5"]), &trusted))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
