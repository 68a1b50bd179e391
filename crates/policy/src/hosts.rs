//! Host name lookup: exact names by hash, `*.` wildcards by suffix.

// Keys are the operator's host names; requests only look up, so a fast
// non-keyed hash is safe here.
use rustc_hash::FxHashMap as HashMap;
use std::fmt;

/// A host pattern: an exact name (`panel.example.test`) or one leading
/// wildcard label (`*.example.test`, which matches any name ending in
/// `.example.test`, at any depth, but not `example.test` itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// An exact host name, lower-case.
    Exact(String),
    /// The suffix after `*`, lower-case and starting with `.`.
    Wildcard(String),
}

/// Why a host pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPatternError(pub String);

impl fmt::Display for HostPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl HostPattern {
    /// Parses `panel.example.test` or `*.example.test`.
    pub fn parse(raw: &str) -> Result<Self, HostPatternError> {
        let lower = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wild, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if name.is_empty() {
            return Err(HostPatternError(format!("`{raw}` names no host")));
        }
        if name.contains('*') {
            return Err(HostPatternError(format!(
                "`{raw}`: only one leading `*.` wildcard is allowed"
            )));
        }
        if name.contains(':') {
            return Err(HostPatternError(format!(
                "`{raw}`: write host names without a port; matching ignores ports"
            )));
        }
        let ok_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name.split('.').all(ok_label) {
            return Err(HostPatternError(format!(
                "`{raw}` is not a valid host name"
            )));
        }
        Ok(if wild {
            HostPattern::Wildcard(format!(".{name}"))
        } else {
            HostPattern::Exact(name.to_string())
        })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Wildcard(s) => write!(f, "*{s}"),
        }
    }
}

/// Maps host names to values (tenant indexes). Exact names win over
/// wildcards; among wildcards the longest suffix wins. A lookup costs one
/// hash probe per label of the host, whatever the number of entries.
#[derive(Debug, Clone)]
pub struct HostTable<T> {
    exact: HashMap<String, T>,
    wildcard: HashMap<String, T>,
}

impl<T> Default for HostTable<T> {
    fn default() -> Self {
        HostTable {
            exact: HashMap::default(),
            wildcard: HashMap::default(),
        }
    }
}

impl<T> HostTable<T> {
    /// An empty table with room for `exact` exact names (wildcards are few).
    pub fn with_capacity(exact: usize) -> Self {
        HostTable {
            exact: HashMap::with_capacity_and_hasher(exact, Default::default()),
            wildcard: HashMap::default(),
        }
    }
}

impl<T: Clone> HostTable<T> {
    /// Adds a pattern; returns the value already there if the pattern was taken.
    pub fn insert(&mut self, pattern: HostPattern, value: T) -> Option<T> {
        let map = match &pattern {
            HostPattern::Exact(_) => &mut self.exact,
            HostPattern::Wildcard(_) => &mut self.wildcard,
        };
        let key = match pattern {
            HostPattern::Exact(h) | HostPattern::Wildcard(h) => h,
        };
        if let Some(existing) = map.get(&key) {
            return Some(existing.clone());
        }
        map.insert(key, value);
        None
    }

    /// Looks up a `Host` header value: case-insensitive, a `:digits` port
    /// ignored, one trailing dot ignored. Anything that is not a plain host
    /// name (`a:b.test`, `a@b.test`, `a..b.test`, a second port) matches
    /// nothing: a wildcard must never adopt a name a web server would read
    /// as another host.
    pub fn lookup(&self, host: &str) -> Option<&T> {
        let name = strip_port(host)?;
        let name = name.strip_suffix('.').unwrap_or(name);
        if !is_host_name(name) {
            return None;
        }
        // Most hosts are lower-case already; avoid allocating for them.
        let lowered;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        if let Some(v) = self.exact.get(name) {
            return Some(v);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        // Longest suffix first: ".b.c.test" before ".c.test".
        for (i, b) in name.bytes().enumerate() {
            if b == b'.' {
                if let Some(v) = self.wildcard.get(&name[i..]) {
                    return Some(v);
                }
            }
        }
        None
    }
}

/// Whether `name` is a host name: dot-separated labels of ASCII letters,
/// digits, `-` and `_`, each 1 to 63 bytes, 253 bytes at most in all.
pub fn is_host_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    // One pass: every label 1 to 63 letters, digits, `-` or `_`.
    let mut label = 0usize;
    for b in name.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// `example.test:8080` → `example.test`; `[::1]:8080` → `[::1]`; `None`
/// when what follows the first `:` is not a port (1 to 5 digits), or a
/// bracketed literal is followed by anything but a port.
pub(crate) fn strip_port(host: &str) -> Option<&str> {
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')? + 1;
        let rest = &host[end..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&host[..end], port)
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    match port {
        Some(p) if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        _ => Some(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> HostTable<u32> {
        let mut t = HostTable::default();
        t.insert(HostPattern::parse("panel.latincloud.test").unwrap(), 1);
        t.insert(HostPattern::parse("*.latincloud.test").unwrap(), 2);
        t.insert(HostPattern::parse("*.eu.latincloud.test").unwrap(), 3);
        t
    }

    #[test]
    fn exact_wins_then_longest_wildcard() {
        let t = table();
        assert_eq!(t.lookup("panel.latincloud.test"), Some(&1));
        assert_eq!(t.lookup("PANEL.LatinCloud.test:8443"), Some(&1));
        assert_eq!(t.lookup("panel.latincloud.test."), Some(&1));
        assert_eq!(t.lookup("x.latincloud.test"), Some(&2));
        assert_eq!(t.lookup("a.b.latincloud.test"), Some(&2));
        assert_eq!(t.lookup("x.eu.latincloud.test"), Some(&3));
        assert_eq!(t.lookup("latincloud.test"), None);
        assert_eq!(t.lookup("evil-latincloud.test"), None);
        assert_eq!(t.lookup(""), None);
    }

    #[test]
    fn only_plain_names_match() {
        let t = table();
        // What nginx and most panels read as another host never reaches a wildcard.
        for bad in [
            "panel.beta.test:x.latincloud.test",
            "panel.latincloud.test:80:81",
            "evil.test@x.latincloud.test",
            "x..latincloud.test",
            "x.latincloud.test..",
            "x.latincloud.test:",
            "x.latincloud.test:123456",
            "x latincloud.test",
            "[::1]x.latincloud.test",
            " x.latincloud.test",
        ] {
            assert_eq!(t.lookup(bad), None, "{bad}");
        }
        assert_eq!(t.lookup("x.latincloud.test:08080"), Some(&2));
    }

    #[test]
    fn patterns_are_checked() {
        assert!(HostPattern::parse("*.*.x.test").is_err());
        assert!(HostPattern::parse("a.*.test").is_err());
        assert!(HostPattern::parse("x.test:80").is_err());
        assert!(HostPattern::parse("*.").is_err());
        assert!(HostPattern::parse("bad host.test").is_err());
        assert_eq!(
            HostPattern::parse("*.X.test").unwrap(),
            HostPattern::Wildcard(".x.test".into())
        );
    }

    #[test]
    fn duplicates_are_reported() {
        let mut t = table();
        assert_eq!(
            t.insert(HostPattern::parse("Panel.latincloud.test").unwrap(), 9),
            Some(1)
        );
    }

    #[test]
    fn host_names_are_labels_of_name_bytes() {
        let label63 = "a".repeat(63);
        let long = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        assert_eq!(long.len(), 253);
        for good in ["a", "a.b", "x_y-z.test", "0.0.0.0", &label63, &long] {
            assert!(is_host_name(good), "{good}");
        }
        let label64 = "a".repeat(64);
        let too_long = format!("{long}c");
        for bad in [
            "", ".", "a.", ".a", "a..b", "a b", "a/b", "a:1", "ä.test", "[::1]", &label64,
            &too_long,
        ] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn ports_and_brackets() {
        assert_eq!(strip_port("a.test:80"), Some("a.test"));
        assert_eq!(strip_port("[::1]:80"), Some("[::1]"));
        assert_eq!(strip_port("[::1]"), Some("[::1]"));
        assert_eq!(strip_port("a.test"), Some("a.test"));
        assert_eq!(strip_port("a.test:b"), None);
        assert_eq!(strip_port("a.test:80:81"), None);
        assert_eq!(strip_port("[::1]x"), None);
    }
}
