//! The compile of the whole file: TOML → its sections → each section's
//! step ([`super::server`], [`super::session`], [`super::tenant`]) →
//! a validated [`Config`], collecting every finding on the way.

use super::context::Ctx;
use super::model::{Config, SessionSettings};
use super::raw::{RawAssertion, RawServer, RawSession, RawTenant};
use super::secret::Env;
use super::tenant_files::{self, KeptFiles, Trial};
use super::{from_env, server, session, tenant, Diagnostic, Loaded, Severity};
use crate::identity::SignedIdentities;
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// How many sessions' signed identity headers are kept for reuse.
const SIGNED_SESSIONS_CACHED: u64 = 200_000;

/// Compiles configuration text once, keeping nothing (`check`, tests);
/// `file` names it in findings and anchors relative paths. `env` answers
/// `env:NAME` secrets: [`super::ProcessEnv`] for the process's own
/// environment, a map when compiling in memory.
pub fn compile_str(src: &str, file: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
    Compiler::default().compile(src, file, env)
}

/// The compiler a running server keeps: the tenant files of `tenants_dir`
/// that did not change since the last compile are not compiled again (their
/// tenants are the same `Arc`s), and the signed-identity cache outlives a
/// reload that leaves `[assertion]` as it was.
#[derive(Default)]
pub struct Compiler {
    files: KeptFiles,
    signed: Option<(String, Arc<SignedIdentities>)>,
    /// The main file's stamp when it was last read.
    main_seen: Option<tenant_files::Stamp>,
}

/// The main file's sections, as read.
#[derive(Default)]
struct Sections {
    server: Option<RawServer>,
    session: Option<Option<RawSession>>,
    assertion: Option<Option<RawAssertion>>,
    tenants: RawTenants,
}

/// `[[tenant]]` tables as read, each with whether it had an unknown key.
pub(super) type RawTenants = Vec<(RawTenant, bool)>;

impl Compiler {
    /// Reads the configuration file at `path` and compiles it.
    pub fn load(&mut self, path: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
        // Taken before the read: a change made while it runs is seen by
        // the next look.
        self.main_seen = tenant_files::Stamp::of(path);
        let src = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic {
                severity: Severity::Error,
                file: path.to_path_buf(),
                line: None,
                variable: None,
                message: format!("cannot read the configuration file: {e}"),
            }]
        })?;
        self.compile(&src, path, env)
    }

    /// As [`Compiler::load`], when the main file or the files of
    /// `tenants_dir` changed since they were last read (`None`: nothing
    /// to do). A change is tried once: a refused file waits for its next
    /// change. A main file that cannot be looked at now (being replaced)
    /// is looked at again next time.
    pub fn load_if_changed(
        &mut self,
        path: &Path,
        env: &dyn Env,
    ) -> Option<Result<Loaded, Vec<Diagnostic>>> {
        let main = tenant_files::Stamp::of(path)?;
        if Some(main) == self.main_seen && !self.files.changed() {
            return None;
        }
        let loaded = self.load(path, env);
        // Unused when the main file failed before its folder was read.
        self.files.forget_listing();
        Some(loaded)
    }

    /// Compiles the main file's text and the files of its `tenants_dir`.
    pub fn compile(
        &mut self,
        src: &str,
        file: &Path,
        env: &dyn Env,
    ) -> Result<Loaded, Vec<Diagnostic>> {
        self.compile_trying(src, file, env, None)
    }

    /// Where tenant `name` is written, and whether it is the only tenant
    /// of its file (as of the last compile).
    pub(super) fn holding(&self, name: &str) -> Option<(&Path, bool)> {
        self.files.holding(name)
    }

    /// Takes the files `cfg` was compiled from (`main` and its
    /// `tenants_dir`) as they are now, as if this compiler had read them:
    /// for a configuration compiled elsewhere, so that the first look for
    /// changes does not find every file changed.
    pub fn note_sources(&mut self, main: &Path, cfg: &Config) {
        self.note_main_read(main);
        if let Some(dir) = &cfg.server.tenants_dir {
            self.files.note_listing(dir);
        }
    }

    /// Notes the main file's stamp as it is about to be read.
    pub(super) fn note_main_read(&mut self, path: &Path) {
        self.main_seen = tenant_files::Stamp::of(path);
    }

    /// See [`KeptFiles::settle_trial`].
    pub(super) fn settle_trial(&mut self, file_name: &str, written: Option<tenant_files::Stamp>) {
        self.files.settle_trial(file_name, written);
    }

    /// As [`Compiler::compile`], with one file of `tenants_dir` as `trial`
    /// would make it.
    pub(super) fn compile_trying(
        &mut self,
        src: &str,
        file: &Path,
        env: &dyn Env,
        trial: Option<&Trial>,
    ) -> Result<Loaded, Vec<Diagnostic>> {
        let mut cx = Ctx::new(src, file, env);
        let from_env = from_env::read(env, src);
        for (variable, problem) in &from_env.problems {
            cx.err_variable(variable.clone(), problem.clone());
        }
        // Values from the environment span past the end of the file.
        let base = src.len() + 1;
        cx.set_variables(
            base,
            from_env
                .overrides
                .iter()
                .map(|o| o.variable.clone())
                .collect(),
        );
        let root = match DeTable::parse(src) {
            Ok(t) => t,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                cx.err(span, format!("not valid TOML: {}", e.message()));
                return Err(cx.finish().diags);
            }
        };
        let whole = root.span();
        let mut root = root.into_inner();
        for (variable, problem) in from_env::overlay(&mut root, &from_env.overrides, base) {
            cx.err_variable(variable, problem);
        }
        let sections = sections(&mut cx, root);
        let acme_on = sections.server.as_ref().is_some_and(|s| s.acme.is_some());
        let server = server::compile_server(&mut cx, sections.server.unwrap_or_default());
        let session = match sections.session {
            Some(Some(s)) => session::compile_session(&mut cx, s),
            Some(None) => None,
            None => {
                cx.err(
                    whole.start..whole.start,
                    "[session] is missing: it needs `keys` (make one with `portero keygen`)",
                );
                None
            }
        };
        let assertion = match sections.assertion {
            Some(Some(a)) => session::compile_assertion(&mut cx, a),
            Some(None) => None,
            None => {
                cx.err(
                    whole.start..whole.start,
                    "[assertion] is missing: it needs `signing_key` (make one with `portero keygen`)",
                );
                None
            }
        };
        let defaults = tenant::Defaults {
            reauth: session.as_ref().and_then(|s: &SessionSettings| s.reauth),
            acme: acme_on,
        };
        let main_tenants: Vec<_> = sections
            .tenants
            .into_iter()
            .filter_map(|(raw, misspelt)| tenant::compile(&mut cx, raw, misspelt, defaults))
            .collect();
        let main_errors = cx.has_errors();
        let finished = cx.finish();
        let mut diags = finished.diags;
        let files = match server.as_ref().and_then(|s| s.tenants_dir.as_deref()) {
            Some(dir) => self.files.refresh(dir, defaults, env, &mut diags, trial),
            None => {
                self.files.clear();
                Vec::new()
            }
        };
        let together =
            tenant_files::assemble(file, main_tenants, finished.remote, &files, &mut diags);
        let error = |message: &str| Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: Some(1),
            variable: None,
            message: message.to_string(),
        };
        let sound = !main_errors && !diags.iter().any(|d| d.severity == Severity::Error);
        if together.tenants.is_empty() && sound {
            diags.push(error(
                "no [[tenant]] is configured (here or in tenants_dir): nothing would be served",
            ));
        }
        if let Some(server) = &server {
            let any_cert = together
                .tenants
                .iter()
                .any(|t| t.tls.is_some() || !t.acme_hosts.is_empty());
            if !server.listen_tls.is_empty() && !any_cert {
                diags.push(Diagnostic {
                    line: None,
                    ..error(
                        "[server].listen_tls is set but no tenant has a [tenant.tls] certificate, nor a host that gets one through [server.acme]",
                    )
                });
            }
        }
        let sound = !main_errors && !diags.iter().any(|d| d.severity == Severity::Error);
        let acme_hosts = together
            .tenants
            .iter()
            .flat_map(|t| t.acme_hosts.iter().cloned())
            .collect();
        match (server, session, assertion) {
            (Some(server), Some(session), Some(assertion)) if sound => {
                // The key's thumbprint, algorithm and lifetime.
                let text = format!("{assertion:?}");
                let signed = match &self.signed {
                    Some((kept, signed)) if *kept == text => signed.clone(),
                    _ => Arc::new(SignedIdentities::new(SIGNED_SESSIONS_CACHED, assertion.ttl)),
                };
                self.signed = Some((text, signed.clone()));
                Ok(Loaded {
                    config: Config {
                        source: file.to_path_buf(),
                        server,
                        session,
                        signed,
                        assertion,
                        tenants: together.tenants,
                        hosts: together.hosts,
                        by_name: together.by_name,
                        acme_hosts,
                        remote: together.remote,
                    },
                    warnings: diags,
                    from_env: from_env
                        .overrides
                        .iter()
                        .map(|o| (o.key.clone(), o.variable.clone()))
                        .collect(),
                })
            }
            _ => Err(diags),
        }
    }
}

/// Sorts the main file's top-level tables into their sections.
fn sections(cx: &mut Ctx<'_>, root: DeTable<'_>) -> Sections {
    let mut out = Sections::default();
    for (key, value) in root {
        match key.get_ref().as_ref() {
            "server" => out.server = shape::<RawServer>(cx, "[server]", value),
            "session" => out.session = Some(shape::<RawSession>(cx, "[session]", value)),
            "assertion" => out.assertion = Some(shape::<RawAssertion>(cx, "[assertion]", value)),
            "tenant" => read_tenants(cx, value, &mut out.tenants),
            other => {
                match did_you_mean(other, "expected `server`, `session`, `assertion`, `tenant`") {
                    Some(near) => cx.err(
                        key.span(),
                        format!("unknown key `{other}` (did you mean `{near}`?)"),
                    ),
                    None => cx.err(
                        key.span(),
                        format!(
                            "unknown key `{other}` (expected server, session, assertion or tenant)"
                        ),
                    ),
                }
            }
        }
    }
    out
}

/// Reads the value of a `tenant` key: an array of tables, each read into
/// `out` with whether it had an unknown key (its follow-on warnings are
/// then left out).
pub(super) fn read_tenants(cx: &mut Ctx<'_>, value: Spanned<DeValue<'_>>, out: &mut RawTenants) {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let what = format!("[[tenant]] #{}", i + 1);
                let before = cx.errors();
                let item = one_idp_per_protocol(cx, &what, item);
                if let Some(t) = shape::<RawTenant>(cx, &what, item) {
                    out.push((t, cx.errors() > before));
                }
            }
        }
        _ => cx.err(
            span,
            "`tenant` must be an array of tables: write [[tenant]]",
        ),
    }
}

/// One identity provider per protocol per tenant (README, "Configuration
/// reference"). A tenant listing several (`[[tenant.oidc]]` twice) gets
/// one clear error on the line, and the list is set aside so the rest of
/// the tenant is checked.
pub(super) fn one_idp_per_protocol<'a>(
    cx: &mut Ctx<'_>,
    what: &str,
    item: Spanned<DeValue<'a>>,
) -> Spanned<DeValue<'a>> {
    const PROTOCOLS: [(&str, &str); 3] = [
        ("saml", "SAML identity provider"),
        ("oidc", "OpenID Connect provider"),
        ("external_sso", "external sign-in page"),
    ];
    let span = item.span();
    let listed = |table: &DeTable<'_>| {
        PROTOCOLS.iter().any(|(p, _)| {
            table
                .get(*p)
                .is_some_and(|v| matches!(v.get_ref(), DeValue::Array(_)))
        })
    };
    let table = match item.into_inner() {
        // The usual case, left as it is: the table is not built again.
        DeValue::Table(table) if !listed(&table) => {
            return Spanned::new(span, DeValue::Table(table))
        }
        DeValue::Table(table) => table,
        _ => return Spanned::new(span, DeValue::Table(Default::default())),
    };
    let kept = table
        .into_iter()
        .filter(|(k, v)| {
            let key = k.get_ref().as_ref();
            match PROTOCOLS.iter().find(|(p, _)| *p == key) {
                Some((p, label)) if matches!(v.get_ref(), DeValue::Array(_)) => {
                    cx.err(k.span(), format!("{what}: one {label} per tenant; write [tenant.{p}] once (use another tenant for another provider)"));
                    false
                }
                _ => true,
            }
        })
        .collect();
    Spanned::new(span, DeValue::Table(kept))
}

/// The expected key closest to a misspelt one, from serde's "unknown
/// field `x`, expected one of `a`, `b`" message; `None` when none is close.
fn did_you_mean(unknown: &str, message: &str) -> Option<String> {
    let expected = message.split_once("expected")?.1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// Deserializes one section. An unknown key is reported and taken out,
/// then the section is read again, so the errors behind it are found in
/// the same run.
fn shape<T: DeserializeOwned>(
    cx: &mut Ctx<'_>,
    what: &str,
    value: Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    if only_known_keys::<T>(&value) {
        // The usual case: read once, without the copy a second try needs.
        // An error here is not an unknown key of this table, so there is
        // nothing to take out and try again.
        return match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                report(cx, what, &e, span);
                None
            }
        };
    }
    let mut value = value;
    for _ in 0..64 {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => {
                let field = report(cx, what, &e, span.clone())?;
                let inner_span = value.span();
                let DeValue::Table(table) = value.into_inner() else {
                    return None;
                };
                let before = table.len();
                let table: toml::de::DeTable<'_> = table
                    .into_iter()
                    .filter(|(k, _)| k.get_ref().as_ref() != field.as_str())
                    .collect();
                if table.len() == before {
                    return None;
                }
                value = Spanned::new(inner_span, DeValue::Table(table));
            }
        }
    }
    None
}

/// Reports a section's deserialize error `e` (`span`: the section's, for
/// an error that has none); the key, when it is an unknown one.
fn report(cx: &mut Ctx<'_>, what: &str, e: &toml::de::Error, span: Range<usize>) -> Option<String> {
    let at = e.span().unwrap_or(span);
    let unknown = e
        .message()
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
        .map(str::to_string);
    match unknown
        .as_deref()
        .and_then(|u| did_you_mean(u, e.message()))
    {
        Some(near) => cx.err(
            at,
            format!(
                "{what}: unknown key `{}` (did you mean `{near}`?)",
                unknown.as_deref().unwrap_or_default()
            ),
        ),
        None => cx.err(at, format!("{what}: {}", e.message())),
    }
    unknown
}

/// Whether `value` is a table whose keys are all fields of `T` (a struct
/// that serde derives): then it can be read once, without a copy.
fn only_known_keys<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>) -> bool {
    let DeValue::Table(table) = value.get_ref() else {
        return false;
    };
    let fields = fields_of::<T>();
    !fields.is_empty() && table.keys().all(|k| fields.contains(&k.get_ref().as_ref()))
}

/// The field names serde's derive gives `T`'s `deserialize_struct`
/// (empty for a type that is not such a struct).
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Deserializer, Error, Visitor};
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields")
        }
    }
    impl std::error::Error for Found {}
    impl Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    /// Answers nothing but the fields it is asked for.
    struct Fields;
    impl<'de> Deserializer<'de> for Fields {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Fields) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables a configuration holds are read once, without a copy,
    /// when all their keys are known: the field list that decides it must
    /// be found for every section.
    #[test]
    fn the_fields_of_each_section_are_known() {
        assert!(fields_of::<RawTenant>().contains(&"netmasks"));
        assert!(fields_of::<RawServer>().contains(&"tenants_dir"));
        assert!(fields_of::<RawSession>().contains(&"keys"));
        assert!(fields_of::<RawAssertion>().contains(&"signing_key"));
        assert!(fields_of::<String>().is_empty());
    }

    /// Reads `src`'s `[[tenant]]` tables: their findings, as shown.
    fn findings(src: &str) -> String {
        let env = std::collections::HashMap::new();
        let mut cx = Ctx::new(src, Path::new("t.toml"), &env);
        let mut out = RawTenants::default();
        for (k, v) in DeTable::parse(src).unwrap().into_inner() {
            assert_eq!(k.get_ref(), "tenant");
            read_tenants(&mut cx, v, &mut out);
        }
        let shown: Vec<String> = cx.finish().diags.iter().map(|d| d.to_string()).collect();
        shown.join("\n")
    }

    /// An unknown key is reported with the key meant, in a tenant's table
    /// (and the keys after it are still checked) and in a nested one.
    #[test]
    fn unknown_keys_are_reported_where_they_are() {
        let shown = findings("[[tenant]]\nname = \"a\"\nnetmask = []\nupstream = 3\n");
        assert!(
            shown.contains(
                "t.toml:3: error: [[tenant]] #1: unknown key `netmask` (did you mean `netmasks`?)"
            ),
            "{shown}"
        );
        assert!(
            shown.contains("t.toml:4: error"),
            "the key after it: {shown}"
        );
        let shown = findings("[[tenant]]\nname = \"a\"\n[tenant.external_sso]\nurll = \"x\"\n");
        assert!(
            shown.contains(
                "t.toml:4: error: [[tenant]] #1: unknown key `urll` (did you mean `url`?)"
            ),
            "{shown}"
        );
    }
}
