//! Several nodes sharing one directory on a real PostgreSQL
//! (`[server].database`), each serving from its own snapshot. Threats: a
//! member removed (or whose permissions shrank) on one node who keeps them
//! on another; an account emptied by two administrators acting at the same
//! moment on two nodes; a database outage that fails forwarded requests, or
//! that loses or half-applies a change.
use crate::common::pg::{self, PgServer};
use crate::common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TENANTS: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";
const ORIGIN: &str = "http://panel.libros.test";

/// One node on the database at `url`.
fn node(url: &str, up: &Upstream) -> Portero {
    let template = format!("{SERVER_AND_SESSION}\n{TENANTS}")
        .replace("[server]\n", &format!("[server]\ndatabase = \"{url}\"\n"));
    Portero::start_with(&template, up, &[])
}

/// Two nodes on a fresh database of the shared server.
fn cluster() -> (Upstream, Portero, Portero) {
    let url = pg::fresh_database("nodes");
    let up = Upstream::start();
    let a = node(&url, &up);
    let b = node(&url, &up);
    (up, a, b)
}

/// One change through a node's admin API; (status, JSON answer).
fn api(p: &Portero, form: &[(&str, &str)]) -> (u16, Value) {
    let r = post_form("127.0.0.1", "/tenants/libros/members", form).send(p.admin);
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// A session of `user` that has entered `account` on node `p`, or the
/// status that refused it.
fn entered(p: &Portero, user: &str, account: &str) -> Result<String, u16> {
    choose(p, &sign_in(p, HOST, "libros", user), account)
}

/// Enters `account` with a signed-in `session` on node `p`.
fn choose(p: &Portero, session: &str, account: &str) -> Result<String, u16> {
    let r = p.send(
        post_form(
            HOST,
            "/.portero/accounts",
            &[("account", account), ("return_to", "/")],
        )
        .cookie("portero_session", session),
    );
    if r.status != 302 {
        return Err(r.status);
    }
    Ok(r.set_cookie("portero_session").unwrap())
}

/// What the panel receives for a request of `session` on `p` (or the status).
fn forward(p: &Portero, session: &str) -> Result<Received, u16> {
    let r = p.send(get(HOST, "/").cookie("portero_session", session));
    if r.forwarded() {
        Ok(r.received())
    } else {
        Err(r.status)
    }
}

/// How long until `check` holds on node `p` (polled every 10 ms, at most 5 s).
fn until(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: not seen within 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[test]
fn a_change_on_one_node_is_in_force_on_the_other_within_two_seconds() {
    let (_up, a, b) = cluster();
    let (s, _) = api(
        &a,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "admin"),
        ],
    );
    assert_eq!(s, 200);
    // Signed in once (sessions are good on every node); the account is
    // chosen again and again until the node knows the membership.
    let rosa = sign_in(&b, HOST, "libros", "rosa@libros.test");
    let mut delays = vec![until("rosa's membership on B", || {
        choose(&b, &rosa, "libros.test").is_ok()
    })];
    // A member added on B, whose permissions shrink on A and who is then
    // removed on A: B's very next forwarded request follows each change.
    let (s, _) = api(
        &b,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "dis@libros.test"),
            ("permissions", "technical,commercial"),
        ],
    );
    assert_eq!(s, 200);
    let dis = sign_in(&a, HOST, "libros", "dis@libros.test");
    let mut session = None;
    delays.push(until("dis's membership on A", || {
        session = choose(&a, &dis, "libros.test").ok();
        session.is_some()
    }));
    let session = session.unwrap();
    let got = forward(&b, &session).unwrap();
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("commercial,technical")
    );
    let (s, body) = api(
        &a,
        &[
            ("action", "set"),
            ("account", "libros.test"),
            ("user", "dis@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(s, 200, "{body}");
    delays.push(until("the shrunk permissions on B", || {
        forward(&b, &session).is_ok_and(|r| r.one("x-portero-permissions") == Some("technical"))
    }));
    let (s, _) = api(
        &a,
        &[
            ("action", "remove"),
            ("account", "libros.test"),
            ("user", "dis@libros.test"),
        ],
    );
    assert_eq!(s, 200);
    delays.push(until("the removal on B", || {
        matches!(forward(&b, &session), Err(403))
    }));
    let worst = delays.iter().max().unwrap();
    eprintln!("change → in force on the other node: {delays:?} (worst {worst:?})");
    assert!(*worst < Duration::from_secs(2), "{delays:?}");
}

#[test]
fn an_invitation_made_on_one_node_is_accepted_on_the_other() {
    let (_up, a, b) = cluster();
    api(
        &a,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "admin"),
        ],
    );
    let (s, inv) = api(
        &a,
        &[
            ("action", "invite"),
            ("actor", "rosa@libros.test"),
            ("account", "libros.test"),
            ("email", "nuevo@libros.test"),
            ("permissions", "technical"),
        ],
    );
    assert_eq!(s, 200, "{inv}");
    let link = inv["link"].as_str().unwrap().to_string();
    let token = query_map(&link)["token"].clone();
    let session = sign_in(&b, HOST, "libros", "nuevo@libros.test");
    let shown = b.send(get(HOST, &link).cookie("portero_session", &session));
    assert_eq!(shown.status, 200, "{}", shown.body);
    let r = b.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("token", &token), ("decision", "accept")],
        )
        .header("Origin", ORIGIN)
        .cookie("portero_session", &session),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // In force on B at once (the node that made the change) and on A soon.
    let on_b = entered(&b, "nuevo@libros.test", "libros.test").unwrap();
    assert_eq!(
        forward(&b, &on_b).unwrap().one("x-portero-permissions"),
        Some("technical")
    );
    until("the accepted invitation on A", || {
        choose(&a, &session, "libros.test").is_ok()
    });
    // The link was used once, on whichever node.
    let again = a.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("token", &token), ("decision", "accept")],
        )
        .header("Origin", ORIGIN)
        .cookie("portero_session", &session),
    );
    assert_eq!(again.status, 409, "{}", again.body);
}

#[test]
fn two_nodes_removing_the_last_two_members_at_once_leave_exactly_one() {
    let (_up, a, b) = cluster();
    for round in 0..10 {
        let account = format!("r{round}.libros.test");
        for user in ["uno@libros.test", "dos@libros.test"] {
            let (s, _) = api(
                &a,
                &[
                    ("action", "add"),
                    ("account", &account),
                    ("user", user),
                    ("permissions", "admin"),
                ],
            );
            assert_eq!(s, 200);
        }
        // Both nodes know both members before they race (so that a node
        // still catching up cannot be taken for an emptied account).
        let members = |node: &Portero| {
            let r = get(
                "127.0.0.1",
                &format!("/tenants/libros/members?account={account}"),
            )
            .send(node.admin);
            let listed: Value = serde_json::from_str(&r.body).unwrap();
            listed["members"].as_array().unwrap().len()
        };
        for node in [&a, &b] {
            until("both members known", || members(node) == 2);
        }
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let tasks: Vec<_> = [
                (&a, "uno@libros.test", "dos@libros.test"),
                (&b, "dos@libros.test", "uno@libros.test"),
            ]
            .into_iter()
            .map(|(node, actor, target)| {
                let (barrier, account) = (barrier.clone(), account.clone());
                scope.spawn(move || {
                    barrier.wait();
                    api(
                        node,
                        &[
                            ("action", "remove"),
                            ("actor", actor),
                            ("account", &account),
                            ("user", target),
                        ],
                    )
                    .0
                })
            })
            .collect();
            tasks.into_iter().map(|t| t.join().unwrap()).collect()
        });
        // The other is refused: by the last-member rule (403), or, when
        // the first removal came first, as an actor who is no longer a
        // member (400).
        let mut sorted = statuses.clone();
        sorted.sort();
        assert!(
            sorted[0] == 200 && matches!(sorted[1], 400 | 403),
            "round {round}: {statuses:?}"
        );
        // Each node's snapshot follows (the other within milliseconds),
        // and never shows the account empty.
        for node in [&a, &b] {
            until("one member left", || {
                let n = members(node);
                assert_ne!(n, 0, "round {round}: the account was left empty");
                n == 1
            });
        }
    }
}

/// Sorted latencies' 99th percentile.
fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

#[test]
fn the_database_down_under_load_fails_no_forwarded_request_and_loses_no_change() {
    let mut server = PgServer::start();
    let url = server.new_database("outage");
    let up = Upstream::start();
    let a = node(&url, &up);
    let (s, _) = api(
        &a,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "admin"),
        ],
    );
    assert_eq!(s, 200);
    let session = entered(&a, "rosa@libros.test", "libros.test").unwrap();
    // Load: one client forwarding requests all along, its latencies kept
    // by phase (0 up, 1 down, 2 back).
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new([Vec::new(), Vec::new(), Vec::new()]));
    let load = {
        let (stop, phase, failed, latencies) = (
            stop.clone(),
            phase.clone(),
            failed.clone(),
            latencies.clone(),
        );
        let (port, session) = (a.port, session.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let at = Instant::now();
                let r = get(HOST, "/")
                    .cookie("portero_session", &session)
                    .send(port);
                let took = at.elapsed();
                if r.forwarded() && r.received().one("x-portero-user") == Some("rosa@libros.test") {
                    latencies.lock().unwrap()[phase.load(Ordering::Relaxed) as usize].push(took);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    server.kill();
    phase.store(1, Ordering::Relaxed);
    let change = [
        ("action", "add"),
        ("account", "libros.test"),
        ("user", "tarde@libros.test"),
        ("permissions", "technical"),
    ];
    let (s, body) = api(&a, &change);
    assert_eq!(s, 503, "a change while the database is down: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("database unreachable"),
        "{body}"
    );
    until("/readyz says so", || {
        get("127.0.0.1", "/readyz")
            .send(a.admin)
            .body
            .contains("database unreachable")
    });
    let metrics = get("127.0.0.1", "/metrics").send(a.admin).body;
    assert!(
        metrics.contains("portero_store_up{store=\"postgres\"} 0"),
        "{metrics}"
    );
    // A person's own change on a page: a clear 503 page, nothing lost.
    let r = a.send(
        post_form(HOST, "/.portero/profile", &[("name", "Rosa")])
            .header("Origin", ORIGIN)
            .cookie("portero_session", &session),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("nothing was changed"), "{}", r.body);
    std::thread::sleep(Duration::from_secs(2));

    server.run();
    phase.store(2, Ordering::Relaxed);
    let back = until("changes work again", || api(&a, &change).0 == 200);
    until("/readyz says ok", || {
        get("127.0.0.1", "/readyz")
            .send(a.admin)
            .body
            .contains("ok store postgres://")
    });
    entered(&a, "tarde@libros.test", "libros.test").expect("the change made after the outage");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    let l = latencies.lock().unwrap().clone();
    eprintln!(
        "forwarded requests: {} up (p99 {:?}), {} down (p99 {:?}), {} back (p99 {:?}); changes again {back:?} after the restart",
        l[0].len(),
        p99(l[0].clone()),
        l[1].len(),
        p99(l[1].clone()),
        l[2].len(),
        p99(l[2].clone()),
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "forwarded requests failed"
    );
    assert!(l.iter().all(|v| !v.is_empty()), "load in every phase");
    // The refused change was not half made: the database holds what the
    // node says, and the audit log says what was refused.
    assert!(a.audit().contains("tarde@libros.test"), "{}", a.audit());
}

/// `portero accounts` on a node's configuration; (success, stdout + stderr).
fn cli(p: &Portero, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["accounts", "--config"])
        .arg(p.path("portero.toml"))
        .args(args)
        .env("PORTERO_SESSION_KEY", SESSION_KEY)
        .env("EXT_SSO_SECRET", EXT_SECRET)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_store_moved_from_the_sqlite_file_to_postgres_serves_the_same_people() {
    let up = Upstream::start();
    let file = Portero::start(TENANTS, &up);
    let (ok, out) = cli(
        &file,
        &[
            "libros",
            "add",
            "--account",
            "libros.test",
            "--user",
            "rosa@libros.test",
            "--permissions",
            "admin",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(
        &file,
        &[
            "libros",
            "invite",
            "--account",
            "libros.test",
            "--email",
            "tarde@libros.test",
            "--permissions",
            "technical",
        ],
    );
    assert!(ok, "{out}");
    let link = out
        .lines()
        .find_map(|l| l.strip_prefix("link: "))
        .expect("the invitation link")
        .to_string();
    let export = file.path("directory.jsonl");
    let (ok, out) = cli(&file, &["export", "--file", export.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("exported 1 accounts, 1 users, 1 memberships, 1 invitations"),
        "{out}"
    );

    let db = node(&pg::fresh_database("moved"), &up);
    let (ok, out) = cli(&db, &["migrate"]);
    assert!(ok, "{out}");
    assert!(out.contains("schema version 4"), "{out}");
    let (ok, out) = cli(&db, &["import", "--file", export.to_str().unwrap()]);
    assert!(ok, "{out}");
    // The running node learns of it at once.
    let rosa = sign_in(&db, HOST, "libros", "rosa@libros.test");
    until("the imported membership", || {
        choose(&db, &rosa, "libros.test").is_ok()
    });
    // A link mailed before the move still works after it.
    let token = query_map(&link)["token"].clone();
    let tarde = sign_in(&db, HOST, "libros", "tarde@libros.test");
    let r = db.send(
        post_form(
            HOST,
            "/.portero/invitations",
            &[("token", &token), ("decision", "accept")],
        )
        .header("Origin", ORIGIN)
        .cookie("portero_session", &tarde),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Importing again into a store that holds data changes nothing.
    let (ok, out) = cli(&db, &["import", "--file", export.to_str().unwrap()]);
    assert!(!ok && out.contains("already holds data"), "{out}");
}
