//! Unit tests of the request facts.
use super::*;

/// The one-pass check agrees with the plain reading of the rules on
/// every short path over the bytes that matter.
#[test]
fn path_check_matches_the_rules() {
    fn by_the_rules(p: &str) -> Result<(), BadPath> {
        if p.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f) {
            return Err(BadPath::ForbiddenCharacter);
        }
        let dot = |seg: &str| matches!(seg.split(';').next(), Some("." | ".."));
        if p.split('/').any(dot) {
            return Err(BadPath::DotSegment);
        }
        Ok(())
    }
    let alphabet = ['/', '.', ';', 'a', '\\', '\n'];
    let mut paths = vec![String::new()];
    for _ in 0..6 {
        let longer: Vec<String> = paths
            .iter()
            .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
            .collect();
        paths.extend(longer);
        paths.dedup();
    }
    for p in &paths {
        assert_eq!(check_decoded_path(p), by_the_rules(p), "{p:?}");
    }
}

fn trusted() -> NetmaskSet {
    NetmaskSet::new([
        "127.0.0.1/32".parse().unwrap(),
        "10.9.0.0/16".parse().unwrap(),
    ])
}

#[test]
fn untrusted_peer_forwarded_for_is_ignored() {
    let ip = client_ip(
        "203.0.113.9".parse().unwrap(),
        &["64.233.187.5"],
        &trusted(),
    );
    assert_eq!(ip.to_string(), "203.0.113.9");
}

#[test]
fn right_most_untrusted_entry_wins() {
    let ip = client_ip(
        "127.0.0.1".parse().unwrap(),
        &["1.1.1.1, 64.233.187.5", "10.9.0.2"],
        &trusted(),
    );
    assert_eq!(ip.to_string(), "64.233.187.5");
}

#[test]
fn all_trusted_means_left_most() {
    let ip = client_ip("127.0.0.1".parse().unwrap(), &["10.9.1.1"], &trusted());
    assert_eq!(ip.to_string(), "10.9.1.1");
}

#[test]
fn garbage_stops_the_walk() {
    let ip = client_ip(
        "127.0.0.1".parse().unwrap(),
        &["64.233.187.5, nonsense, 10.9.0.3"],
        &trusted(),
    );
    assert_eq!(ip.to_string(), "10.9.0.3");
}

#[test]
fn mapped_addresses_are_ipv4() {
    let ip = client_ip(
        "::ffff:127.0.0.1".parse().unwrap(),
        &["[::ffff:64.233.187.5]:4000"],
        &trusted(),
    );
    assert_eq!(ip.to_string(), "64.233.187.5");
    let peer = client_ip("::ffff:198.51.100.1".parse().unwrap(), &[], &trusted());
    assert_eq!(peer.to_string(), "198.51.100.1");
}

#[test]
fn browsers_and_apis() {
    assert!(accepts_html(
        Some("text/html,application/xhtml+xml;q=0.9"),
        None
    ));
    assert!(!accepts_html(Some("application/json"), None));
    assert!(!accepts_html(None, None));
    assert!(!accepts_html(Some("text/html"), Some("XMLHttpRequest")));
}

#[test]
fn paths() {
    assert_eq!(decision_path("/a/b").unwrap(), "/a/b");
    assert_eq!(decision_path("/static/../admin"), Err(BadPath::DotSegment));
    assert_eq!(
        decision_path("/static/%2E%2E/admin"),
        Err(BadPath::DotSegment)
    );
    assert_eq!(
        decision_path("/static/%2e%2e%2fadmin"),
        Err(BadPath::DotSegment)
    );
    assert_eq!(
        decision_path("/static\\..\\admin"),
        Err(BadPath::ForbiddenCharacter)
    );
    assert_eq!(decision_path("/a%5cb"), Err(BadPath::ForbiddenCharacter));
    assert_eq!(decision_path("/a%00"), Err(BadPath::ForbiddenCharacter));
    assert_eq!(decision_path("*"), Err(BadPath::NotAbsolute));
    assert_eq!(decision_path("/a%zz").unwrap(), "/a%zz");
    assert_eq!(decision_path("/50%").unwrap(), "/50%");
    assert_eq!(decision_path("/.well-known/x").unwrap(), "/.well-known/x");
}

#[test]
fn hosts() {
    assert_eq!(
        request_host(Some("Panel.Test:8080"), None).unwrap(),
        "panel.test"
    );
    assert_eq!(
        request_host(None, Some("panel.test.")).unwrap(),
        "panel.test"
    );
    assert_eq!(request_host(Some("[::1]:80"), None).unwrap(), "[::1]");
    assert!(request_host(Some("a b"), None).is_none());
    assert!(request_host(None, None).is_none());
}

#[test]
fn one_spelling_per_host() {
    for (raw, normal) in [
        ("panel.alpha.test", "panel.alpha.test"),
        ("PANEL.Alpha.TEST", "panel.alpha.test"),
        ("panel.alpha.test.", "panel.alpha.test"),
        ("panel.alpha.test.:80", "panel.alpha.test:80"),
        ("panel.alpha.test:0080", "panel.alpha.test:80"),
        ("panel.alpha.test:65535", "panel.alpha.test:65535"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]", "[::1]"),
        ("[2001:DB8:0:0::1]:443", "[2001:db8::1]:443"),
        ("under_score.test", "under_score.test"),
    ] {
        assert_eq!(Authority::parse(raw).unwrap().as_str(), normal, "{raw}");
    }
    for bad in [
        "panel.beta.test:x.gamma.test",
        "panel.alpha.test:80:81",
        "user@panel.alpha.test",
        "panel.alpha.test:",
        "panel.alpha.test:0",
        "panel.alpha.test:65536",
        "panel.alpha.test:123456",
        "panel.alpha.test:+80",
        "panel.alpha.test:8 0",
        "panel..alpha.test",
        "panel.alpha.test..",
        ".panel.alpha.test",
        "panel alpha.test",
        " panel.alpha.test",
        "panel.alpha.test/x",
        "panel.alpha.test\\x",
        "p\u{e4}nel.test",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[::1]:x",
        "[fe80::1%eth0]",
        "[v1.fe80]",
        "[127.0.0.1]",
        "::1",
        "1::1:80",
        ":80",
        "*.alpha.test",
    ] {
        assert_eq!(Authority::parse(bad), Err(BadHost::Malformed), "{bad}");
    }
    let long = format!("{}.test", "a".repeat(64));
    assert_eq!(Authority::parse(&long), Err(BadHost::Malformed));
    assert_eq!(Authority::parse(""), Err(BadHost::Missing));
}

#[test]
fn the_target_and_host_must_agree() {
    assert_eq!(
        request_authority("panel.alpha.test", Some("PANEL.alpha.test."), false)
            .unwrap()
            .as_str(),
        "panel.alpha.test"
    );
    assert_eq!(
        request_authority("panel.alpha.test", Some("other.test"), false),
        Err(BadHost::Conflict)
    );
    assert_eq!(
        request_authority("panel.alpha.test", Some("panel.alpha.test:81"), false),
        Err(BadHost::Conflict)
    );
    assert_eq!(
        request_authority("panel.alpha.test", Some("x:y"), false),
        Err(BadHost::Malformed)
    );
    assert_eq!(request_authority("", None, false), Err(BadHost::Missing));
    assert_eq!(
        request_authority("a.test", None, true),
        Err(BadHost::Duplicate)
    );
}

#[test]
fn path_parameters_cannot_hide_dot_segments() {
    for bad in [
        "/static/..;/private",
        "/static/..;x=1/private",
        "/static/.;/private",
        "/static/%2e%2e;/private",
        "/static/%2E%2e%3b/private",
        "/static/..%3Bx/private",
        "/static/.%2e;jsessionid=1/private",
    ] {
        assert_eq!(decision_path(bad), Err(BadPath::DotSegment), "{bad}");
    }
    assert_eq!(decision_path("/a;x=1/b").unwrap(), "/a;x=1/b");
    assert_eq!(decision_path("/a/...;x").unwrap(), "/a/...;x");
    assert_eq!(
        without_path_parameters("/static;a/b;c=d;e/..x").as_deref(),
        Some("/static/b/..x")
    );
    assert_eq!(without_path_parameters("/a/b"), None);
}
