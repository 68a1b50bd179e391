//! Path prefixes that match on segment boundaries.

/// A list of path prefixes such as `/admin` or `/static/`.
///
/// `/admin` matches `/admin`, `/admin/` and `/admin/users`, but not
/// `/administrator`; a prefix that ends in `/` matches everything below it.
/// Matching is case-sensitive, as paths are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPrefixes {
    prefixes: Vec<String>,
}

impl PathPrefixes {
    /// Builds the list; each prefix should start with `/`.
    pub fn new<I: IntoIterator<Item = String>>(prefixes: I) -> Self {
        PathPrefixes {
            prefixes: prefixes.into_iter().collect(),
        }
    }

    /// The prefixes, as configured.
    pub fn as_slice(&self) -> &[String] {
        &self.prefixes
    }

    /// The first prefix that `path` falls under, if any.
    pub fn matching(&self, path: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .find(|p| under(path, p))
            .map(String::as_str)
    }

    /// Whether `path` falls under any prefix.
    pub fn matches(&self, path: &str) -> bool {
        self.matching(path).is_some()
    }
}

fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_boundaries() {
        let p = PathPrefixes::new(["/admin".to_string(), "/static/".to_string()]);
        assert!(p.matches("/admin"));
        assert!(p.matches("/admin/"));
        assert!(p.matches("/admin/users"));
        assert!(!p.matches("/administrator"));
        assert!(!p.matches("/Admin"));
        assert!(p.matches("/static/app.css"));
        assert!(!p.matches("/static"));
        assert!(!p.matches("/"));
    }
}
