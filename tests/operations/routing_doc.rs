//! `docs/routing.md` shows real `portero explain` output for
//! `examples/routing/portero.toml`: every `$ portero explain …` block is
//! run again here against the built binary and must print exactly what
//! the page says (standard output, or standard error when explain exits 1),
//! so the page cannot drift from the rules. The example configuration must
//! also pass `portero check` without a warning.
use crate::common::SESSION_KEY;
use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `portero ARGS --config examples/routing/portero.toml`, with the secrets
/// the example names in its environment.
fn portero(args: &[String]) -> Output {
    let key = portero::identity::generate_ed25519_pem().unwrap();
    Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(args)
        .arg("--config")
        .arg(root().join("examples/routing/portero.toml"))
        .env("PORTERO_SESSION_KEY", SESSION_KEY)
        .env("PORTERO_ASSERTION_KEY", key)
        .env("EXT_SSO_SECRET", "an-example-secret-of-at-least-32-bytes")
        .output()
        .unwrap()
}

/// Splits a command line shown on the page (double quotes group words).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// Every fenced block of the page that starts with `$ portero explain`:
/// (the arguments after `explain`, the output shown).
fn examples(page: &str) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let Some(command) = block
            .first()
            .and_then(|l| l.strip_prefix("$ portero explain "))
        else {
            continue;
        };
        let shown = block[1..].iter().map(|l| format!("{l}\n")).collect();
        found.push((words(command), shown));
    }
    found
}

#[test]
fn routing_doc_shows_what_explain_prints() {
    let page = std::fs::read_to_string(root().join("docs/routing.md")).unwrap();
    let examples = examples(&page);
    assert!(
        examples.len() >= 20,
        "only {} explain examples found in docs/routing.md",
        examples.len()
    );
    for (args, shown) in examples {
        let mut argv = vec!["explain".to_string()];
        argv.extend(args.iter().cloned());
        let out = portero(&argv);
        let printed = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).to_string()
        } else {
            String::from_utf8_lossy(&out.stderr).to_string()
        };
        assert_eq!(
            printed,
            shown,
            "docs/routing.md: `portero explain {}` prints otherwise",
            args.join(" ")
        );
    }
}

#[test]
fn the_routing_example_passes_check_without_warnings() {
    let out = portero(&["check".to_string()]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no errors, no warnings"), "{text}");
}
