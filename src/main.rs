//! The `portero` command: run, check, explain, keygen (CONTRACT §2).

use clap::{Parser, Subcommand};
use portero::config::{self, ProcessEnv};
use portero::explain::{explain, render_text, Question};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "portero",
    version,
    about = "Authentication reverse proxy for legacy hosting panels"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (SIGINT stops at once, SIGTERM gracefully, SIGHUP reloads the configuration).
    Run {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
    },
    /// Validate the configuration; every error and warning with file:line; exit 1 on error.
    Check {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
    },
    /// Print the decision for one request and the rule chain that led to it.
    Explain {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
        #[command(flatten)]
        question: Question,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print fresh secrets: a session key and an upstream assertion key.
    Keygen {
        /// Also write the assertion key (PKCS#8 PEM, Ed25519) to this file, mode 0600.
        #[arg(long)]
        assertion_key: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check { config } => check(config),
        Command::Explain {
            config,
            question,
            json,
        } => {
            let Some(loaded) = load_or_report(&config) else {
                return ExitCode::FAILURE;
            };
            match explain(&loaded.config, &question) {
                Ok(e) if json => match serde_json::to_string_pretty(&e) {
                    Ok(s) => {
                        println!("{s}");
                        ExitCode::SUCCESS
                    }
                    Err(err) => {
                        eprintln!("error: {err}");
                        ExitCode::FAILURE
                    }
                },
                Ok(e) => {
                    print!("{}", render_text(&e));
                    ExitCode::SUCCESS
                }
                Err(msg) => {
                    eprintln!("{msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keygen { assertion_key } => keygen(assertion_key),
    }
}

fn load_or_report(path: &std::path::Path) -> Option<config::Loaded> {
    match config::load(path, &ProcessEnv) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Some(loaded)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} error(s) in {}", errors.len(), path.display());
            None
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    match load_or_report(&path) {
        Some(loaded) => {
            println!(
                "{}: ok ({} tenant(s), {} warning(s))",
                path.display(),
                loaded.config.tenants.len(),
                loaded.warnings.len()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn run(path: PathBuf) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,pingora=warn,pingora_core=warn,pingora_proxy=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let Some(loaded) = load_or_report(&path) else {
        eprintln!("portero: refusing to start with an invalid configuration");
        return ExitCode::FAILURE;
    };
    let state = match portero::state::State::new(
        loaded.config,
        path,
        Arc::new(portero::clock::SystemClock),
    ) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("portero: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    fetch_idp_documents(&state);
    match portero::proxy::run(state) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portero: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Fetches what the configuration names by URL (IdP metadata, discovery)
/// before serving, for a few seconds at most: an IdP that is down does not
/// hold up the start (its last kept copy, if any, is used, and the
/// refresher keeps trying).
fn fetch_idp_documents(state: &Arc<portero::state::State>) {
    if state.config().remote.is_empty() {
        return;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("cannot fetch IdP documents before serving: {e}");
            return;
        }
    };
    runtime.block_on(async {
        let limit = std::time::Duration::from_secs(5);
        if tokio::time::timeout(limit, state.refresh_remote(true))
            .await
            .is_err()
        {
            tracing::warn!("IdP documents still loading after 5 s; serving, and fetching them in the background");
        }
    });
}

fn keygen(assertion_key: Option<PathBuf>) -> ExitCode {
    let (Some(session), Some(pem)) = (
        portero::session::generate_key(),
        portero::identity::generate_ed25519_pem(),
    ) else {
        eprintln!("error: the system random number generator failed");
        return ExitCode::FAILURE;
    };
    println!(
        "# [session].keys: put this in PORTERO_SESSION_KEY (keys = [\"env:PORTERO_SESSION_KEY\"])"
    );
    println!("PORTERO_SESSION_KEY={session}");
    match assertion_key {
        Some(file) => {
            if let Err(e) = write_private(&file, pem.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
            println!(
                "# [assertion].signing_key: written to {} (signing_key = \"file:{}\")",
                file.display(),
                file.display()
            );
        }
        None => {
            println!("# [assertion].signing_key: save this as a file and point signing_key at it (\"file:PATH\")");
            print!("{pem}");
        }
    }
    ExitCode::SUCCESS
}

fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
