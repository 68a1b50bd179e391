//! Findings about the configuration file: each error or warning with the
//! file and line it is about, collected over the whole compile so that one
//! run reports every problem.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration is refused.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
}

/// One finding about the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The environment variable the value came from (README, "Configuration
    /// values from the environment"), named instead of a line.
    pub variable: Option<String>,
    /// What is wrong, and how to fix it where we can tell.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if let Some(var) = &self.variable {
            return write!(f, "{} (environment): {}: {}", var, sev, self.message);
        }
        match self.line {
            Some(l) => write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                l,
                sev,
                self.message
            ),
            None => write!(f, "{}: {}: {}", self.file.display(), sev, self.message),
        }
    }
}

/// The findings of one compile: turns a byte span of the source into its
/// line, and keeps every finding in the order found.
#[derive(Debug)]
pub(super) struct Diagnostics<'a> {
    src: &'a str,
    file: &'a Path,
    found: Vec<Diagnostic>,
    /// Where each line after the first starts, made at the first finding
    /// (a file of 10,000 tenants has as many warnings: counting newlines
    /// from the top for each took seconds).
    line_starts: std::cell::OnceCell<Vec<usize>>,
    /// How many of `found` are errors (asked after every part).
    errors: usize,
    /// Where values from the environment begin in the span space (past
    /// the end of the file), and their variables, one span each.
    variables: (usize, Vec<String>),
}

impl<'a> Diagnostics<'a> {
    /// An empty collector for `src`, read from `file`.
    pub(super) fn new(src: &'a str, file: &'a Path) -> Diagnostics<'a> {
        Diagnostics {
            src,
            file,
            found: Vec::new(),
            line_starts: std::cell::OnceCell::new(),
            errors: 0,
            variables: (usize::MAX, Vec::new()),
        }
    }

    /// Values from the environment span `base + k .. base + k + 1`, the
    /// `k`-th coming from `variables[k]`.
    pub(super) fn set_variables(&mut self, base: usize, variables: Vec<String>) {
        self.variables = (base, variables);
    }

    /// The variable a span past the end of the file belongs to.
    fn variable_of(&self, span: &Range<usize>) -> Option<String> {
        let (base, variables) = &self.variables;
        let k = span.start.checked_sub(*base)?;
        variables.get(k).cloned()
    }

    /// Adds a finding about an environment variable.
    pub(super) fn push_variable(&mut self, severity: Severity, variable: String, message: String) {
        if severity == Severity::Error {
            self.errors += 1;
        }
        self.found.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            line: None,
            variable: Some(variable),
            message,
        });
    }

    /// The 1-based line a span starts on.
    pub(super) fn line_of(&self, span: &Range<usize>) -> usize {
        let starts = self.line_starts.get_or_init(|| {
            memchr::memchr_iter(b'\n', self.src.as_bytes())
                .map(|i| i + 1)
                .collect()
        });
        let at = span.start.min(self.src.len());
        starts.partition_point(|&s| s <= at) + 1
    }

    /// Adds a finding, on the line of `span` when there is one.
    pub(super) fn push(&mut self, severity: Severity, span: Option<Range<usize>>, message: String) {
        if let Some(variable) = span.as_ref().and_then(|s| self.variable_of(s)) {
            return self.push_variable(severity, variable, message);
        }
        let line = span.map(|s| self.line_of(&s));
        if severity == Severity::Error {
            self.errors += 1;
        }
        self.found.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            line,
            variable: None,
            message,
        });
    }

    /// How many errors were found so far.
    pub(super) fn errors(&self) -> usize {
        self.errors
    }

    /// Every finding, in the order found.
    /// How many findings there are (a mark to [`Diagnostics::drop_warnings_since`]).
    pub(super) fn len(&self) -> usize {
        self.found.len()
    }

    /// Forgets the warnings found since `mark` (the errors stay).
    pub(super) fn drop_warnings_since(&mut self, mark: usize) {
        let mut i = 0;
        self.found.retain(|d| {
            i += 1;
            i <= mark || d.severity == Severity::Error
        });
    }

    pub(super) fn into_vec(self) -> Vec<Diagnostic> {
        self.found
    }
}
