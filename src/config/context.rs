//! The state of one compile: where the file is (relative paths are read
//! next to it), the environment secrets are read from, the findings so far,
//! the documents to fetch from IdPs, and the readers of the values every
//! section uses (durations, secrets, addresses, CIDR blocks, e-mails, paths).

use super::diagnostics::{Diagnostic, Diagnostics, Severity};
use super::duration;
use super::secret::{self, Env};
use crate::auth::normalize_email;
use crate::identity::{Permission, Permissions};
use crate::remote::Refresh;
use ipnet::IpNet;
use portero_policy::PathPrefixes;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// What a compile found, besides what it compiled.
pub(super) struct Finished {
    /// Every finding, in the order found.
    pub(super) diags: Vec<Diagnostic>,
    /// The IdP documents to fetch.
    pub(super) remote: Vec<Arc<dyn Refresh>>,
    /// The other files read ([`Ctx::note_read`]).
    pub(super) reads: Vec<PathBuf>,
}

/// One compile's context, handed to every section's step.
pub(super) struct Ctx<'a> {
    /// The file being compiled.
    pub(super) file: Arc<Path>,
    /// The folder of the configuration file.
    pub(super) dir: PathBuf,
    /// Where `env:NAME` secrets are read.
    env: &'a dyn Env,
    /// The findings so far.
    diags: Diagnostics<'a>,
    /// Documents fetched from IdPs (metadata URLs, discovery), in file order.
    pub(super) remote: Vec<Arc<dyn Refresh>>,
    /// The other files read (certificates, keys, pages, `file:` secrets):
    /// a tenant file is compiled again when one of them changes.
    pub(super) reads: Vec<PathBuf>,
}

impl<'a> Ctx<'a> {
    /// The context for compiling `src`, read from `file`, with `env`.
    pub(super) fn new(src: &'a str, file: &'a Path, env: &'a dyn Env) -> Ctx<'a> {
        Ctx {
            file: Arc::from(file),
            dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            env,
            diags: Diagnostics::new(src, file),
            remote: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// The findings, the IdP documents to fetch and the files read.
    pub(super) fn finish(self) -> Finished {
        Finished {
            diags: self.diags.into_vec(),
            remote: self.remote,
            reads: self.reads,
        }
    }

    /// Adds a finding, on the line of `span` when there is one.
    pub(super) fn push(&mut self, severity: Severity, span: Option<Range<usize>>, message: String) {
        self.diags.push(severity, span, message);
    }

    /// Notes that the compile read `path` ([`Ctx::reads`]).
    pub(super) fn note_read(&mut self, path: &Path) {
        self.reads.push(path.to_path_buf());
    }

    /// The 1-based line `span` starts on.
    pub(super) fn line_of(&self, span: &Range<usize>) -> usize {
        self.diags.line_of(span)
    }

    /// Values from the environment span `base + k .. base + k + 1`, the
    /// `k`-th coming from `variables[k]`: findings about them name it.
    pub(super) fn set_variables(&mut self, base: usize, variables: Vec<String>) {
        self.diags.set_variables(base, variables);
    }

    /// An error about an environment variable.
    pub(super) fn err_variable(&mut self, variable: String, message: String) {
        self.diags.push_variable(Severity::Error, variable, message);
    }

    /// An error on the line of `span`.
    pub(super) fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Error, Some(span), message.into());
    }

    /// A warning on the line of `span`.
    pub(super) fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, Some(span), message.into());
    }

    /// Whether any error was found so far.
    pub(super) fn has_errors(&self) -> bool {
        self.diags.errors() > 0
    }

    /// A mark of the findings so far, for [`Ctx::quiet_since`].
    pub(super) fn mark(&self) -> usize {
        self.diags.len()
    }

    /// When a part is `wrong` (it had an error), its warnings since `mark`
    /// are dropped: they mostly follow from the error (a misspelt section
    /// makes "no identity provider"), and the error is what needs fixing.
    pub(super) fn quiet_since(&mut self, mark: usize, wrong: bool) {
        if wrong {
            self.diags.drop_warnings_since(mark);
        }
    }

    /// How many errors were found so far (a step compares it before and
    /// after to tell whether its part was sound).
    pub(super) fn errors(&self) -> usize {
        self.diags.errors()
    }

    /// A log file Portero appends to: its folder must exist (Portero does
    /// not make it), and the path must not be a folder. Relative paths are
    /// taken from the working directory, as `run` opens them.
    pub(super) fn log_file(&mut self, raw: &Spanned<String>, what: &str) -> Option<PathBuf> {
        let path = PathBuf::from(raw.get_ref());
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            self.err(
                raw.span(),
                format!(
                    "{what} `{}`: the folder `{}` does not exist (create it, or point {what} elsewhere)",
                    path.display(),
                    folder.display()
                ),
            );
            return None;
        }
        if path.is_dir() {
            self.err(
                raw.span(),
                format!("{what} `{}` is a folder; name a file", path.display()),
            );
            return None;
        }
        Some(path)
    }

    /// A list of permission names (an error for each unknown one, and for an empty list).
    pub(super) fn permission_list(
        &mut self,
        raw: &Spanned<Vec<Spanned<String>>>,
        what: &str,
    ) -> Permissions {
        let mut out = Vec::new();
        for p in raw.get_ref() {
            match Permission::parse(p.get_ref()) {
                Some(p) => out.push(p),
                None => self.err(p.span(), format!("{what}: `{}` is not a permission (admin, commercial, invite, sublogin, technical)", p.get_ref())),
            }
        }
        if raw.get_ref().is_empty() {
            self.err(raw.span(), format!("{what}: the list is empty"));
        }
        Permissions::of(out)
    }

    /// A secret (`env:NAME`, `file:PATH` or inline), read through the environment given to the compile.
    pub(super) fn secret(&mut self, raw: &Spanned<String>, what: &str) -> Option<String> {
        if let Some(path) = raw.get_ref().strip_prefix("file:") {
            let path = secret::resolve_path(path, &self.dir);
            self.note_read(&path);
        }
        match secret::read(raw.get_ref(), self.env, &self.dir) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(raw.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    /// A duration in whole seconds, or `default` when not set (an error, with the line, when unreadable).
    pub(super) fn duration(
        &mut self,
        raw: &Option<Spanned<String>>,
        default: u64,
        what: &str,
    ) -> u64 {
        match raw {
            None => default,
            Some(r) => match duration::parse(r.get_ref()) {
                Ok(d) => d.as_secs(),
                Err(e) => {
                    self.err(r.span(), format!("{what}: {e}"));
                    default
                }
            },
        }
    }

    /// A whole number in `range`, or `default` when not set (an error,
    /// with the line, when outside it).
    pub(super) fn bounded_int(
        &mut self,
        raw: Option<&Spanned<i64>>,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> i64 {
        match raw {
            None => default,
            Some(r) if range.contains(r.get_ref()) => *r.get_ref(),
            Some(r) => {
                self.err(
                    r.span(),
                    format!(
                        "{what} must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    /// A duration in whole seconds or `never` (`Some(None)`); `None` after an error.
    pub(super) fn duration_or_never(
        &mut self,
        raw: &Spanned<String>,
        what: &str,
    ) -> Option<Option<u64>> {
        match duration::parse_or_never(raw.get_ref()) {
            Ok(d) => Some(d.map(|d| d.as_secs())),
            Err(e) => {
                self.err(raw.span(), format!("{what}: {e} (or \"never\")"));
                None
            }
        }
    }

    /// CIDR blocks or single addresses (a warning when host bits are set).
    pub(super) fn nets(
        &mut self,
        raw: &[Spanned<String>],
        what: std::fmt::Arguments<'_>,
    ) -> Vec<IpNet> {
        let mut out = Vec::with_capacity(raw.len());
        for n in raw {
            let s = n.get_ref().trim();
            let parsed = s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => {
                    if net.trunc() != net {
                        self.warn(
                            n.span(),
                            format!("{what}: `{s}` has host bits set; it is read as {}", net.trunc()),
                        );
                    }
                    out.push(net);
                }
                Err(_) => self.err(
                    n.span(),
                    format!("{what}: `{s}` is not an IPv4 or IPv6 CIDR block (e.g. 64.233.187.0/24, 2001:db8::/32)"),
                ),
            }
        }
        out
    }

    /// An `address:port`.
    pub(super) fn addr(&mut self, raw: &Spanned<String>, what: &str) -> Option<SocketAddr> {
        match raw.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    raw.span(),
                    format!("{what}: `{}` is not an address:port", raw.get_ref()),
                );
                None
            }
        }
    }

    /// E-mail addresses, normalized.
    pub(super) fn emails(
        &mut self,
        raw: &[Spanned<String>],
        what: std::fmt::Arguments<'_>,
    ) -> HashSet<String> {
        let mut out = HashSet::new();
        for e in raw {
            match normalize_email(e.get_ref()) {
                Some(v) => {
                    out.insert(v);
                }
                None => self.err(
                    e.span(),
                    format!("{what}: `{}` is not an e-mail address", e.get_ref()),
                ),
            }
        }
        out
    }

    /// Path prefixes: each starts with `/` and is outside `/.portero`.
    pub(super) fn paths(
        &mut self,
        raw: &[Spanned<String>],
        what: std::fmt::Arguments<'_>,
    ) -> PathPrefixes {
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            let s = p.get_ref();
            if !s.starts_with('/') {
                self.err(p.span(), format!("{what}: `{s}` must start with /"));
            } else if s.starts_with("/.portero") {
                self.err(p.span(), format!("{what}: `{s}` is reserved by Portero"));
            } else {
                out.push(s.clone());
            }
        }
        PathPrefixes::new(out)
    }
}
