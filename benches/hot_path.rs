//! The auth hot path, piece by piece and whole, at 1, 1,000 and 10,000
//! tenants and with 10, 1,000 and 10,000 netmasks in one tenant, so growth
//! shows. `cargo bench --bench hot_path` (about two minutes).
//!
//! * `decision`: host → tenant lookup, then the rules for a visitor without a
//!   session (the netmask lookup is on this path);
//! * `session_open`: find and open the session cookie, check its age;
//! * `identity_plan`: strip spoofable headers and own cookies, set the
//!   forwarding and identity headers, with the assertion JWT signed afresh
//!   (`sign`) or reused from the per-session cache (`cached`);
//! * `whole_path`: a signed-in request from its header to the rewritten
//!   upstream request, as the proxy runs it.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portero::auth::AuthMethod;
use portero::clock::FixedClock;
use portero::config::{compile_str, Config};
use portero::forward::{self, Arrival, Peer};
use portero::gate::{self, identity_headers, Outcome, RequestView};
use portero::identity::SignedFor;
use portero::policy::{decide, Facts, SessionFact};
use portero::session::SessionClaims;
use portero::state::State;
use std::collections::HashMap;
use std::fmt::Write;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_800_000_000;
const SESSION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SCALES: [usize; 3] = [1, 1_000, 10_000];
const NETMASKS: [usize; 3] = [10, 1_000, 10_000];

/// A configuration of `tenants` tenants, the middle one with `netmasks`
/// disjoint blocks (the others with 10), each with an exact and a wildcard host.
fn config(tenants: usize, netmasks: usize) -> Config {
    let mut src = String::from(
        "[server]\nlisten = [\"127.0.0.1:8080\"]\n\
         [session]\nkeys = [\"env:KEY\"]\n\
         [assertion]\nsigning_key = \"env:PEM\"\n",
    );
    for i in 0..tenants {
        let masks = if i == tenants / 2 { netmasks } else { 10 };
        let nets: Vec<String> = (0..masks)
            .map(|n| format!("\"10.{}.{}.0/25\"", n / 256 % 256, n % 256))
            .collect();
        write!(
            src,
            "[[tenant]]\nname = \"t{i}\"\nhosts = [\"panel{i}.example.test\", \"*.t{i}.example.test\"]\n\
             upstream = \"127.0.0.1:9000\"\nsuper_admins = [\"root@t{i}.test\"]\n\
             netmasks = [{}]\nadmin_paths = [\"/admin\"]\nbypass_paths = [\"/static/\"]\n\
             account = \"t{i}.test\"\n\
             [[tenant.member]]\nuser = \"ana@t{i}.test\"\naccount = \"t{i}.test\"\n\
             permissions = [\"technical\", \"invite\"]\nname = \"Ana\"\n\
             [tenant.external_sso]\nurl = \"https://sso.t{i}.test/\"\njwt_key = \"env:EXT\"\n",
            nets.join(", ")
        )
        .unwrap();
    }
    let env: HashMap<String, String> = [
        ("KEY", SESSION_KEY.to_string()),
        ("PEM", portero::identity::generate_ed25519_pem().unwrap()),
        (
            "EXT",
            "an-external-sso-secret-of-32-bytes-or-more".to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match compile_str(&src, Path::new("bench.toml"), &env) {
        Ok(l) => l.config,
        Err(d) => panic!("{d:?}"),
    }
}

/// A tenant in the middle of the table, and a session cookie for its member.
struct Fixture {
    state: State,
    cfg: Arc<Config>,
    host: String,
    authority: portero::facts::Authority,
    cookie: String,
    tenant: usize,
}

fn fixture(tenants: usize, netmasks: usize) -> Fixture {
    let cfg = config(tenants, netmasks);
    let tenant = tenants / 2;
    let claims = SessionClaims::for_tests(
        &format!("t{tenant}"),
        &format!("ana@t{tenant}.test"),
        None,
        AuthMethod::Jwt,
        NOW - 60,
        "0123456789abcdef0123456789abcdef",
    );
    let sealed = claims.seal(&cfg.session.sealer).unwrap();
    let cookie = format!("lang=es; {}={sealed}; theme=dark", cfg.session.cookie_name);
    let state = State::new(cfg, "bench.toml".into(), Arc::new(FixedClock::at(NOW))).unwrap();
    Fixture {
        cfg: state.config(),
        state,
        host: format!("www.t{tenant}.example.test"),
        authority: portero::facts::Authority::parse(&format!("www.t{tenant}.example.test"))
            .unwrap(),
        cookie,
        tenant,
    }
}

impl Fixture {
    fn view(&self) -> RequestView<'_> {
        RequestView {
            accept_language: None,
            method: "GET",
            path: "/panel/domains",
            query: Some("page=2"),
            authority: &self.host,
            tls: false,
            peer: Some("198.51.100.7".parse().unwrap()),
            accept: Some("text/html,application/xhtml+xml"),
            cookies: vec![&self.cookie],
            ..RequestView::default()
        }
    }

    /// The request header the proxy copies for the upstream, with a few
    /// spoofed identity headers and Portero's cookie in it.
    fn upstream_template(&self) -> http::HeaderMap {
        use http::HeaderValue;
        let mut r = http::HeaderMap::new();
        r.insert("host", HeaderValue::from_str(&self.host).unwrap());
        r.insert("accept", HeaderValue::from_static("text/html"));
        r.insert("user-agent", HeaderValue::from_static("bench/1"));
        r.insert("cookie", HeaderValue::from_str(&self.cookie).unwrap());
        r.append("x-portero-user", HeaderValue::from_static("root@evil.test"));
        r.append("x_portero_permissions", HeaderValue::from_static("admin"));
        r
    }

    fn arrival<'a>(&'a self, peer: &'a Peer) -> Arrival<'a> {
        Arrival {
            forwarded_for: forward::forwarded_for(&[], peer, false),
            peer,
            client_ip: peer.ip,
            tls: false,
            authority: &self.authority,
        }
    }
}

/// The value of a future that needs nothing to wait for (a signed-in
/// request whose membership is known never waits).
fn ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(fut).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the gate waited on something"),
    }
}

fn quick<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    g
}

fn decision(c: &mut Criterion) {
    let mut g = quick(c, "decision");
    for (axis, tenants, netmasks) in SCALES
        .iter()
        .map(|&t| ("tenants", t, 10))
        .chain(NETMASKS.iter().map(|&n| ("netmasks", 1, n)))
    {
        let cfg = config(tenants, netmasks);
        let host = format!("panel{}.example.test", tenants / 2);
        // Inside the last block: the lookup walks as far as it ever does.
        let n = netmasks - 1;
        let client: IpAddr = format!("10.{}.{}.9", n / 256 % 256, n % 256)
            .parse()
            .unwrap();
        let scale = if axis == "tenants" { tenants } else { netmasks };
        g.bench_with_input(BenchmarkId::new(axis, scale), &scale, |b, _| {
            b.iter(|| {
                let i = *cfg.hosts.lookup(black_box(&host)).unwrap();
                let facts = Facts {
                    path: "/panel/domains",
                    client_ip: black_box(client),
                    accepts_html: true,
                    session: SessionFact::None,
                    identified_as: None,
                    forward_auth: None,
                    cookie_conflict: false,
                };
                decide(&cfg.tenants[i].policy, &facts)
            })
        });
    }
    g.finish();
}

fn session_open(c: &mut Criterion) {
    let mut g = quick(c, "session_open");
    for tenants in SCALES {
        let f = fixture(tenants, 10);
        let name = &f.cfg.session.cookie_name;
        let tenant = &f.cfg.tenants[f.tenant].name;
        g.bench_with_input(BenchmarkId::new("tenants", tenants), &tenants, |b, _| {
            b.iter(|| {
                let value =
                    portero::session::find_cookie_values(std::iter::once(f.cookie.as_str()), name)
                        .next()
                        .unwrap();
                SessionClaims::open(
                    &f.cfg.session.sealer,
                    tenant,
                    black_box(value),
                    NOW,
                    Some(86_400),
                    0,
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

fn identity_plan(c: &mut Criterion) {
    let mut g = quick(c, "identity_plan");
    for tenants in SCALES {
        let f = fixture(tenants, 10);
        let cfg = &f.cfg;
        let tenant = &cfg.tenants[f.tenant];
        let claims = SessionClaims::open(
            &cfg.session.sealer,
            &tenant.name,
            portero::session::find_cookie_values(
                std::iter::once(f.cookie.as_str()),
                &cfg.session.cookie_name,
            )
            .next()
            .unwrap(),
            NOW,
            None,
            0,
        )
        .unwrap();
        let account = format!("t{}.test", f.tenant);
        let portero::membership::MemberSource::Static(directory) = &tenant.members else {
            panic!("the bench tenants list their members");
        };
        let member = directory.membership(claims.user(), &account).unwrap();
        let member = &member;
        let template = f.upstream_template();
        let peer = Peer::new("198.51.100.7".parse().unwrap());
        let arrival = f.arrival(&peer);
        g.bench_with_input(
            BenchmarkId::new("sign/tenants", tenants),
            &tenants,
            |b, _| {
                b.iter(|| {
                    let id = identity_headers(cfg, tenant, &claims, member, None, NOW);
                    let mut up = template.clone();
                    forward::prepare(&mut up, cfg, tenant, &arrival, Some(&id));
                    up
                })
            },
        );
        let holder = SignedFor {
            tenant: tenant.generation,
            sid: claims.sid(),
            user: claims.user(),
            account: &member.account,
            permissions: member.permissions,
            impersonate: member.impersonate.as_deref(),
            name: claims.name(),
        };
        g.bench_with_input(
            BenchmarkId::new("cached/tenants", tenants),
            &tenants,
            |b, _| {
                b.iter(|| {
                    let id = cfg.signed.get_or_sign(holder, NOW, |now| {
                        identity_headers(cfg, tenant, &claims, member, None, now)
                    });
                    let mut up = template.clone();
                    forward::prepare(&mut up, cfg, tenant, &arrival, Some(&id));
                    up
                })
            },
        );
    }
    g.finish();
}

fn whole_path(c: &mut Criterion) {
    let mut g = quick(c, "whole_path");
    for (axis, tenants, netmasks) in SCALES
        .iter()
        .map(|&t| ("tenants", t, 10))
        .chain(NETMASKS.iter().map(|&n| ("netmasks", 1, n)))
    {
        let f = fixture(tenants, netmasks);
        let template = f.upstream_template();
        let peer = Peer::new("198.51.100.7".parse().unwrap());
        let arrival = f.arrival(&peer);
        let scale = if axis == "tenants" { tenants } else { netmasks };
        g.bench_with_input(BenchmarkId::new(axis, scale), &scale, |b, _| {
            b.iter(|| {
                let view = f.view();
                let ev = ready(gate::evaluate(&f.state, &f.cfg, black_box(&view)));
                let Outcome::Forward { identity } = ev.outcome else {
                    panic!("not forwarded: {}", ev.label)
                };
                let tenant = &f.cfg.tenants[ev.tenant.unwrap()];
                let mut up = template.clone();
                forward::prepare(&mut up, &f.cfg, tenant, &arrival, identity.as_ref());
                up
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decision, session_open, identity_plan, whole_path);
criterion_main!(benches);
