//! Configuration values from the environment (README, "Configuration
//! values from the environment"): `PORTERO_<SECTION>__<KEY>`, with `__`
//! between every level (`PORTERO_SERVER__SMTP__HOST`), laid over the file
//! before it is read, so each value is checked as if the file held it.
//! Only `[server]`, `[server.smtp]`, `[server.acme]`, `[session]` and `[assertion]` keys can
//! be set; a tenant's cannot.

use super::secret::Env;
use std::borrow::Cow;
use std::ops::Range;
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

/// What a key holds, and so how a variable's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The text as it is.
    Text,
    /// Comma-separated; each item trimmed, empty ones dropped.
    List,
    /// A whole number.
    Int,
    /// `true` or `false`.
    Bool,
}

use Kind::{Bool, Int, List, Text};

/// Every key a variable may set: its table, its name, its kind.
const KEYS: &[(&[&str], &str, Kind)] = &[
    (&["server"], "listen", List),
    (&["server"], "listen_tls", List),
    (&["server"], "admin_listen", Text),
    (&["server"], "trusted_proxies", List),
    (&["server"], "threads", Int),
    (&["server"], "admin_token", Text),
    (&["server"], "admin_hosts", List),
    (&["server"], "audit_log", Text),
    (&["server"], "access_log", Text),
    (&["server"], "grace_period", Text),
    (&["server"], "upstream_timeout", Text),
    (&["server"], "data_dir", Text),
    (&["server"], "tenants_dir", Text),
    (&["server"], "outbound_ca", Text),
    (&["server"], "watch_config", Bool),
    (&["server"], "outbound_timeout", Text),
    (&["server"], "redis", Text),
    (&["server"], "database", Text),
    (&["server"], "redis_prefix", Text),
    (&["server"], "redis_timeout", Text),
    (&["server"], "header_timeout", Text),
    (&["server"], "upgrade_sock", Text),
    (&["server"], "saml_verify_timeout", Text),
    (&["server"], "sign_ins_per_client", Int),
    (&["server"], "max_started_sign_ins", Int),
    (&["server", "smtp"], "host", Text),
    (&["server", "smtp"], "port", Int),
    (&["server", "smtp"], "security", Text),
    (&["server", "smtp"], "user", Text),
    (&["server", "smtp"], "password", Text),
    (&["server", "smtp"], "from", Text),
    (&["server", "smtp"], "timeout", Text),
    (&["server", "smtp"], "ca", Text),
    (&["server", "acme"], "directory", Text),
    (&["server", "acme"], "email", Text),
    (&["server", "acme"], "accept_terms", Bool),
    (&["server", "acme"], "challenges", List),
    (&["server", "acme"], "renew_before", Text),
    (&["server", "acme"], "ca", Text),
    (&["server", "acme"], "orders_per_hour", Int),
    (&["session"], "keys", List),
    (&["session"], "reauth", Text),
    (&["session"], "cookie_name", Text),
    (&["session"], "classic_ttl", Text),
    (&["assertion"], "signing_key", Text),
    (&["assertion"], "ttl", Text),
];

/// The variable that sets `key` of `table`.
fn variable(table: &[&str], key: &str) -> String {
    let parts: Vec<String> = table
        .iter()
        .chain(std::iter::once(&key))
        .map(|p| p.to_ascii_uppercase())
        .collect();
    format!("PORTERO_{}", parts.join("__"))
}

/// One value the environment sets.
#[derive(Debug)]
pub(super) struct Override {
    /// The variable, e.g. `PORTERO_SERVER__LISTEN`.
    pub(super) variable: String,
    /// The key it sets, as the reference writes it: `[server].listen`.
    pub(super) key: String,
    table: &'static [&'static str],
    name: &'static str,
    kind: Kind,
    text: String,
}

/// What the environment says about the configuration: the values it
/// sets, and what is wrong with its `PORTERO_` variables (each with the
/// variable it is about).
#[derive(Debug, Default)]
pub(super) struct FromEnv {
    /// The values, in the order of [`KEYS`].
    pub(super) overrides: Vec<Override>,
    /// (variable, what is wrong).
    pub(super) problems: Vec<(String, String)>,
}

/// Reads the `PORTERO_` variables of `env`. A name with `__` must be a
/// key of [`KEYS`]; one without is not read (secrets' `env:NAME` use such
/// names), unless it is a key's variable with one `_` for a `__` and no
/// `env:` of the configuration (`src`) names it — a misspelling that
/// would otherwise be silently ignored.
pub(super) fn read(env: &dyn Env, src: &str) -> FromEnv {
    let known: Vec<(String, &'static [&'static str], &'static str, Kind)> = KEYS
        .iter()
        .map(|(table, key, kind)| (variable(table, key), *table, *key, *kind))
        .collect();
    let mut vars = env.vars_with_prefix("PORTERO_");
    vars.sort();
    let mut out = FromEnv::default();
    for (name, text) in vars {
        if let Some((_, table, key, kind)) = known.iter().find(|(v, ..)| *v == name) {
            let what = format!("[{}].{key}", table.join("."));
            out.overrides.push(Override {
                variable: name,
                key: what,
                table,
                name: key,
                kind: *kind,
                text,
            });
        } else if name.contains("__") {
            let problem = unknown_variable(&name, &known);
            out.problems.push((name, problem));
        } else if let Some(meant) = known.iter().find(|(v, ..)| v.replace("__", "_") == name) {
            let named_by_secret = |text: &str| text.contains(&format!("env:{name}"));
            let referenced = named_by_secret(src)
                || env
                    .vars_with_prefix("PORTERO_")
                    .iter()
                    .any(|(_, v)| named_by_secret(v));
            if !referenced {
                let problem = format!(
                    "not read: a configuration variable has two underscores between section and key (did you mean `{}`?)",
                    meant.0
                );
                out.problems.push((name, problem));
            }
        }
    }
    out.overrides
        .sort_by_key(|o| known.iter().position(|(v, ..)| *v == o.variable));
    out
}

/// Why a `PORTERO_…__…` variable is not a configuration key.
fn unknown_variable(name: &str, known: &[(String, &[&str], &str, Kind)]) -> String {
    if name.starts_with("PORTERO_TENANT__") || name.starts_with("PORTERO_TENANT_") {
        return "a tenant's keys cannot be set from the environment (only [server], [server.smtp], [server.acme], [session] and [assertion]): write them in the file".into();
    }
    let near = known
        .iter()
        .map(|(v, ..)| (strsim::jaro_winkler(name, v), v))
        .filter(|(score, _)| *score >= 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match near {
        Some((_, v)) => format!("not a configuration key (did you mean `{v}`?)"),
        None => "not a configuration key: PORTERO_<SECTION>__<KEY> sets [server], [server.smtp], [session] and [assertion] keys (README, \"Configuration values from the environment\")".into(),
    }
}

/// Lays the values over the file's tables: each replaces the key the file
/// may have, creating its table if need be. The value of the `k`-th
/// override spans `base + k .. base + k + 1`, past the end of the file, so
/// a finding about it names its variable ([`super::diagnostics`]). A
/// value that is not of its key's kind is reported instead, with why.
pub(super) fn overlay<'a>(
    root: &mut DeTable<'a>,
    overrides: &'a [Override],
    base: usize,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    'next: for (k, o) in overrides.iter().enumerate() {
        let span = base + k..base + k + 1;
        let value = match value_of(o, span.clone()) {
            Ok(v) => v,
            Err(why) => {
                problems.push((o.variable.clone(), why));
                continue;
            }
        };
        let mut table = &mut *root;
        for part in o.table {
            let entry = table
                .entry(Spanned::new(span.clone(), Cow::Borrowed(*part)))
                .or_insert_with(|| Spanned::new(span.clone(), DeValue::Table(DeTable::new())));
            match entry.get_mut() {
                DeValue::Table(t) => table = t,
                // The file's own `server = …` is reported when it is read.
                _ => continue 'next,
            }
        }
        table.insert(Spanned::new(span, Cow::Borrowed(o.name)), value);
    }
    problems
}

/// The variable's text as a value of its key's kind.
fn value_of(o: &Override, span: Range<usize>) -> Result<Spanned<DeValue<'_>>, String> {
    let value = match o.kind {
        Text => DeValue::String(Cow::Borrowed(o.text.as_str())),
        List => {
            let mut items = DeArray::new();
            for item in o.text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                items.push(Spanned::new(
                    span.clone(),
                    DeValue::String(Cow::Borrowed(item)),
                ));
            }
            DeValue::Array(items)
        }
        Int => {
            let text = o.text.trim();
            match (text.parse::<i64>(), DeValue::parse(text)) {
                (Ok(_), Ok(v)) if v.get_ref().is_integer() => v.into_inner(),
                _ => return Err(format!("`{}` is not a whole number", o.text)),
            }
        }
        Bool => match o.text.trim() {
            "true" => DeValue::Boolean(true),
            "false" => DeValue::Boolean(false),
            _ => return Err(format!("`{}` is neither true nor false", o.text)),
        },
    };
    Ok(Spanned::new(span, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_have_two_underscores_between_levels() {
        assert_eq!(variable(&["server"], "listen"), "PORTERO_SERVER__LISTEN");
        assert_eq!(
            variable(&["server"], "admin_listen"),
            "PORTERO_SERVER__ADMIN_LISTEN"
        );
        assert_eq!(
            variable(&["server", "smtp"], "host"),
            "PORTERO_SERVER__SMTP__HOST"
        );
    }

    /// Every key of `[server]`, `[server.smtp]`, `[session]` and
    /// `[assertion]` (as serde lists them) can be set.
    #[test]
    fn every_key_of_the_settable_sections_has_a_variable() {
        use super::super::raw::{RawAcme, RawAssertion, RawServer, RawSession, RawSmtp};
        fn fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
            let probe = DeTable::parse("zz_not_a_key = 1").unwrap();
            let err = match T::deserialize(toml::de::ValueDeserializer::from(Spanned::new(
                0..0,
                DeValue::Table(probe.into_inner()),
            ))) {
                Err(e) => e.message().to_string(),
                Ok(_) => String::new(),
            };
            let expected = err.split_once("expected").map_or("", |(_, e)| e);
            expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        }
        let sections: [(&[&str], Vec<String>); 5] = [
            (&["server"], fields::<RawServer>()),
            (&["server", "smtp"], fields::<RawSmtp>()),
            (&["server", "acme"], fields::<RawAcme>()),
            (&["session"], fields::<RawSession>()),
            (&["assertion"], fields::<RawAssertion>()),
        ];
        for (table, keys) in sections {
            assert!(!keys.is_empty(), "{table:?}");
            for key in keys.iter().filter(|k| *k != "smtp" && *k != "acme") {
                assert!(
                    KEYS.iter().any(|(t, k, _)| t == &table && k == key),
                    "[{}].{key} has no variable",
                    table.join(".")
                );
            }
        }
    }

    #[test]
    fn unknown_and_misspelt_variables_are_named() {
        let read = read(
            &env(&[
                ("PORTERO_SERVER__LISTN", "x"),
                ("PORTERO_SERVER_THREADS", "2"),
                ("PORTERO_TENANT__NAME", "x"),
                ("PORTERO_SESSION_KEY", "a-secret"),
                ("PORTERO_SERVER_ADMIN_TOKEN", "named by env:"),
                ("PORTERO_SERVER__LISTEN", "127.0.0.1:1"),
            ]),
            "admin_token = \"env:PORTERO_SERVER_ADMIN_TOKEN\"",
        );
        assert_eq!(read.overrides.len(), 1);
        assert_eq!(read.overrides[0].key, "[server].listen");
        let problems: HashMap<_, _> = read.problems.into_iter().collect();
        assert!(
            problems["PORTERO_SERVER__LISTN"].contains("did you mean `PORTERO_SERVER__LISTEN`?")
        );
        assert!(
            problems["PORTERO_SERVER_THREADS"].contains("did you mean `PORTERO_SERVER__THREADS`?")
        );
        assert!(problems["PORTERO_TENANT__NAME"].contains("a tenant's keys cannot be set"));
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn values_are_read_as_their_kind() {
        let read = read(
            &env(&[
                ("PORTERO_SERVER__LISTEN", "0.0.0.0:9000, [::]:9000,"),
                ("PORTERO_SERVER__THREADS", "four"),
                ("PORTERO_SERVER__WATCH_CONFIG", "yes"),
                ("PORTERO_SERVER__SMTP__PORT", "2525"),
            ]),
            "",
        );
        let mut root = DeTable::new();
        let problems: HashMap<_, _> = overlay(&mut root, &read.overrides, 100)
            .into_iter()
            .collect();
        assert_eq!(
            problems["PORTERO_SERVER__THREADS"],
            "`four` is not a whole number"
        );
        assert_eq!(
            problems["PORTERO_SERVER__WATCH_CONFIG"],
            "`yes` is neither true nor false"
        );
        let Some(DeValue::Table(server)) = root.get("server").map(Spanned::get_ref) else {
            panic!("no [server]");
        };
        let Some(DeValue::Array(listen)) = server.get("listen").map(Spanned::get_ref) else {
            panic!("no listen");
        };
        let items: Vec<_> = listen
            .iter()
            .map(|i| i.get_ref().as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(items, ["0.0.0.0:9000", "[::]:9000"]);
        let Some(DeValue::Table(smtp)) = server.get("smtp").map(Spanned::get_ref) else {
            panic!("no [server.smtp]");
        };
        assert!(smtp.get("port").is_some_and(|p| p.get_ref().is_integer()));
    }
}
