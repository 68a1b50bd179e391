//! The `portero` command: run, check, explain, keygen, accounts (README,
//! "Command line").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::{Parser, Subcommand};
use portero::config::{self, ProcessEnv};
use portero::explain::{explain, render_text, Question};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: per-size pages keep the memory an idle connection leaves
/// behind reusable (glibc's heap kept the freed HTTP buffers of released
/// connections pinned between small live objects), and it takes fewer
/// instructions per allocation. Each reload allocates from a heap of its
/// own ([`portero::allocator`]).
#[global_allocator]
static ALLOCATOR: portero::allocator::Allocator = portero::allocator::Allocator;

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

/// How the application log is written.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (SIGINT stops at once, SIGTERM gracefully, SIGHUP reloads the
    /// configuration, SIGQUIT hands the listeners to a successor).
    Run {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
        /// Take over from the running Portero (named in `<data_dir>/portero.pid`)
        /// without dropping a connection: a new binary is put in place this way.
        #[arg(long)]
        upgrade: bool,
        /// The application log on standard error: `text` (colours only on a
        /// terminal) or `json` (one object a line, for log collectors).
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
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
    /// Administer a tenant's memberships in the store (the SQLite file, or
    /// PostgreSQL with [server].database; running servers notice within a
    /// second). Without --as, you act as the operator; with --as, as that
    /// member, bound by the rules (only `invite` holders invite, only with
    /// what they hold; nobody grants or removes what they do not hold; an
    /// account never loses its last member). `invite` and `resend` print
    /// the invitation's link and, with [server.smtp], mail it as the
    /// accounts pages do; a mail that fails is said on stderr, and the
    /// invitation stays (exit 0).
    ///
    /// The whole store: `portero accounts migrate` (bring the schema up to
    /// date), `export` (JSON lines to --file or standard output) and
    /// `import` (from --file or standard input, into an empty store).
    Accounts {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
        /// The tenant (or migrate, export, import: the whole store).
        tenant: String,
        /// list, add, set, remove, invite, resend, cancel, reseller, impersonate,
        /// or revoke (--user: end every session of that person now; any
        /// membership source).
        action: Option<String>,
        /// export and import: the file (default: standard output, input).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Comma list: admin, commercial, invite, sublogin, technical.
        #[arg(long)]
        permissions: Option<String>,
        /// An invitation id (resend, cancel). Ids may begin with `-`.
        #[arg(long, allow_hyphen_values = true)]
        id: Option<String>,
        #[arg(long)]
        reseller: Option<String>,
        /// The panel login to act as (impersonate).
        #[arg(long)]
        login: Option<String>,
        /// Act as this member (their e-mail) instead of the operator; an
        /// address that is not a member's is refused, never taken for the operator.
        #[arg(long = "as")]
        actor: Option<String>,
    },
    /// The tenants, and one tenant's file of tenants_dir: `list`, `show
    /// NAME`, `put NAME` (a [[tenant]] table in TOML, or a JSON object with
    /// --json, from --file or standard input), `delete NAME`. A change is
    /// checked against the whole configuration before it is written, then
    /// the node running here (admin listener) is asked to reload.
    Tenants {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
        /// list, show, put or delete.
        action: String,
        /// The tenant (show, put, delete).
        name: Option<String>,
        /// put: read the tenant from this file (default: standard input).
        #[arg(long)]
        file: Option<PathBuf>,
        /// put: the body is a JSON object of the tenant's keys.
        #[arg(long)]
        json: bool,
    },
    /// Write a commented starting configuration for a first tenant, and its
    /// keys (mode 0600, beside it under secrets/), which `check` accepts.
    /// Nothing that exists is replaced unless --force is given.
    Init {
        #[arg(long, default_value = "config/portero.toml")]
        config: PathBuf,
        /// The first tenant's name.
        #[arg(long, default_value = "example")]
        tenant: String,
        /// The panel's host name, as people type it.
        #[arg(long, default_value = "panel.example.com")]
        host: String,
        /// The panel's address behind Portero (host:port).
        #[arg(long, default_value = "127.0.0.1:8081")]
        upstream: String,
        /// Replace the configuration and keys if they exist.
        #[arg(long)]
        force: bool,
    },
    /// Print fresh secrets: a session key and an upstream assertion key.
    Keygen {
        /// Write the assertion key (PKCS#8 PEM, Ed25519) to this file, mode
        /// 0600, instead of printing it. An existing file is refused (it may
        /// be the key the panel trusts) unless --force is given.
        #[arg(long)]
        assertion_key: Option<PathBuf>,
        /// Replace an existing --assertion-key file.
        #[arg(long, requires = "assertion_key")]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            upgrade,
            log_format,
        } => run(config, upgrade, log_format),
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
        Command::Keygen {
            assertion_key,
            force,
        } => keygen(assertion_key, force),
        Command::Init {
            config,
            tenant,
            host,
            upstream,
            force,
        } => init(
            &config,
            &portero::init::FirstTenant {
                name: tenant,
                host,
                upstream,
            },
            force,
        ),
        Command::Tenants {
            config,
            action,
            name,
            file,
            json,
        } => tenants(&config, &action, name, file.as_deref(), json),
        Command::Accounts {
            config,
            tenant,
            action: None,
            file,
            ..
        } if matches!(tenant.as_str(), "migrate" | "export" | "import") => {
            whole_store(&config, &tenant, file.as_deref())
        }
        Command::Accounts {
            config,
            tenant,
            action,
            file: _,
            account,
            user,
            email,
            permissions,
            id,
            reseller,
            login,
            actor,
        } => {
            let fields = [
                ("account", account),
                ("user", user),
                ("email", email),
                ("permissions", permissions),
                ("id", id),
                ("reseller", reseller),
                ("login", login),
            ];
            let Some(action) = action else {
                eprintln!("error: `portero accounts {tenant}` needs an action: list, add, set, remove, invite, resend, cancel, reseller, impersonate or revoke (or, for the whole store: portero accounts migrate | export | import)");
                return ExitCode::FAILURE;
            };
            accounts(&config, &tenant, &action, &fields, actor.as_deref())
        }
    }
}

/// A file that cannot be opened, as the store reports it.
fn naming(f: &std::path::Path, e: std::io::Error) -> portero::store::StoreError {
    portero::store::StoreError::Database(format!("{}: {e}", f.display()))
}

/// `portero accounts migrate | export | import`: the whole store.
fn whole_store(path: &std::path::Path, verb: &str, file: Option<&std::path::Path>) -> ExitCode {
    let Some(loaded) = load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = &loaded.config.server;
    let result = runtime.block_on(async {
        let Some(store) = portero::store::Store::for_server(server).await? else {
            return Err(portero::store::StoreError::Database(
                "neither [server].database nor [server].data_dir is set".into(),
            ));
        };
        let at = store.describe();
        match verb {
            "migrate" => Ok(format!(
                "{at}: schema version {} (this Portero writes {})",
                store.schema_version().await?,
                portero::store::SCHEMA_VERSION
            )),
            "export" => {
                let counts = match file {
                    Some(f) => {
                        let mut out = std::io::BufWriter::new(
                            std::fs::File::create(f).map_err(|e| naming(f, e))?,
                        );
                        store.export(&mut out).await?
                    }
                    None => store.export(&mut std::io::stdout().lock()).await?,
                };
                Ok(format!("exported {counts} from {at}"))
            }
            _ => {
                let counts = match file {
                    Some(f) => {
                        let mut input = std::io::BufReader::new(
                            std::fs::File::open(f).map_err(|e| naming(f, e))?,
                        );
                        store.import(&mut input).await?
                    }
                    None => store.import(&mut std::io::stdin().lock()).await?,
                };
                Ok(format!("imported {counts} into {at}"))
            }
        }
    });
    match result {
        Ok(done) => {
            eprintln!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `portero accounts`: one change (or a listing) on the store.
fn accounts(
    path: &std::path::Path,
    tenant: &str,
    action: &str,
    fields: &[(&str, Option<String>)],
    actor: Option<&str>,
) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(accounts_now(path, tenant, action, fields, actor)),
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn accounts_now(
    path: &std::path::Path,
    tenant: &str,
    action: &str,
    fields: &[(&str, Option<String>)],
    actor: Option<&str>,
) -> ExitCode {
    use portero::members::admin;
    use portero::members::change::Asker;
    use portero::membership::MemberSource;
    let Some(loaded) = load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    let cfg = &loaded.config;
    let Some(t) = cfg.tenant_named(tenant) else {
        eprintln!("error: no tenant named {tenant:?}");
        return ExitCode::FAILURE;
    };
    if action == "revoke" {
        let user = fields
            .iter()
            .find(|(k, _)| *k == "user")
            .and_then(|(_, v)| v.as_deref());
        return revoke_person(cfg, tenant, user);
    }
    if !matches!(t.members, MemberSource::Store) {
        eprintln!(
            "error: tenant {tenant:?} reads memberships from `{}`, not the embedded store",
            t.members.as_str()
        );
        return ExitCode::FAILURE;
    }
    let store = match portero::members::StoreHandle::open(cfg).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("error: neither [server].database nor [server].data_dir is set");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.clone())
    };
    let now = portero::clock::Clock::now(&portero::clock::SystemClock);
    let actor = match admin::resolve_actor(&store.store, tenant, actor).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: --as: {e}");
            return ExitCode::FAILURE;
        }
    };
    if action == "list" {
        let Some(account) = field("account")
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
        else {
            eprintln!("error: `list` needs --account");
            return ExitCode::FAILURE;
        };
        match store.store.has_account(tenant, &account).await {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("error: tenant {tenant:?} has no account named {account:?}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        if let Some(d) = store.get(tenant) {
            for (user, m) in d.members_of(&account) {
                let acts = m
                    .impersonate
                    .as_deref()
                    .map(|l| format!(" (acts as {l})"))
                    .unwrap_or_default();
                println!("{user}\t{}{acts}", m.permissions_header);
            }
        }
        match store.store.invitations(tenant, &account, now).await {
            Ok(list) => {
                for i in list {
                    println!(
                        "invitation {}\t{}\t{}\t{} (by {})",
                        i.id, i.email, i.permissions, i.state, i.invited_by
                    );
                }
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let change = match admin::parse(action, &field) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let audit = portero::audit::AuditLog::open(cfg.server.audit_log.as_deref());
    // The same audit lines as the pages and the admin API, "command line".
    let asker = Asker {
        actor: actor.as_deref(),
        via: "command line",
        client: None,
        lang: t.language.unwrap_or(portero::lang::Lang::En),
    };
    let result = admin::apply(&store.store, tenant, actor.as_deref(), &change, now).await;
    let (line, code) = match &result {
        Ok(done) => {
            println!("{}", done.summary);
            (asker.done_line(&done.summary), ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("refused: {e}");
            (asker.refused_line(&change, e), ExitCode::FAILURE)
        }
    };
    if let Ok(audit) = audit {
        audit.write(&portero::audit::Record {
            ts: now,
            event: portero::audit::Event::Membership,
            tenant,
            user: actor.as_deref(),
            client: None,
            reason: &line,
        });
    }
    if let Some((invitation, token)) = result.ok().and_then(|done| done.invitation) {
        pass_on(cfg, t, &asker, &invitation, &token, now).await;
    }
    code
}

/// Passes on an invitation made (or re-sent) on the command line: its
/// link printed, and with `[server.smtp]` its mail sent as the pages and
/// the admin API send it (the same templates, the same absolute link on the
/// tenant's first host). A mail that cannot be sent is said on stderr; the
/// invitation stays and its link works, so the command still succeeds.
async fn pass_on(
    cfg: &config::Config,
    tenant: &config::Tenant,
    asker: &portero::members::change::Asker<'_>,
    invitation: &portero::store::Invitation,
    token: &str,
    now: u64,
) {
    use portero::members::change::{mail_invitation, Mailed};
    let path = portero::members::admin::invitation_path(token);
    let link = cfg.home_origin(tenant).map(|o| format!("{o}{path}"));
    // The mailer counts into metrics nobody reads here.
    let mailer = match &cfg.server.smtp {
        None => Ok(None),
        Some(smtp) => portero::metrics::Metrics::new()
            .map_err(|e| e.to_string())
            .and_then(|m| portero::mail::Mailer::new(smtp, &m).map_err(|e| e.to_string()))
            .map(Some),
    };
    let mailed = match mailer {
        Ok(mailer) => {
            mail_invitation(
                mailer.as_ref(),
                tenant,
                asker,
                invitation,
                link.as_deref(),
                now,
            )
            .await
        }
        Err(e) => Mailed::Failed(e),
    };
    println!("link: {path}");
    if let Some(link) = &link {
        println!("url: {link}");
    }
    match &mailed {
        Mailed::Sent => println!("mail: sent to {}", invitation.email),
        Mailed::NotConfigured | Mailed::NoInvitation => {
            println!("mail: none ([server.smtp] is not set); pass on the link yourself")
        }
        Mailed::Failed(e) => eprintln!(
            "mail: FAILED, the invitation mail to {} was not sent: {e}. The invitation stays; pass on the link yourself, or `resend` it once the mail server works",
            invitation.email
        ),
    }
}

/// `portero accounts TENANT revoke --user U`: ends every session of that
/// person issued up to now. Written to `<data_dir>/ended-sessions.jsonl`
/// (the Portero running on that data dir applies it within a second and
/// tells the other nodes) and, with `[server].redis`, to Redis at once.
/// Says clearly what could not be reached; exits 1 when no running node
/// would learn of it.
fn revoke_person(cfg: &config::Config, tenant: &str, user: Option<&str>) -> ExitCode {
    let Some(user) = user.and_then(portero::auth::normalize_email) else {
        eprintln!("error: revoke needs --user EMAIL");
        return ExitCode::FAILURE;
    };
    let now = portero::clock::Clock::now(&portero::clock::SystemClock);
    let ending = portero::session::Ending::person(tenant, &user, now);
    let mut reached = false;
    if let Some(dir) = &cfg.server.data_dir {
        let file = dir.join("ended-sessions.jsonl");
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| portero::session::append_line(&file, &ending));
        match (written, running_pid(&cfg.server.pid_file)) {
            (Ok(()), Some(pid)) => {
                println!(
                    "written to {}; the running Portero (pid {pid}) applies it within a second",
                    file.display()
                );
                reached = true;
            }
            (Ok(()), None) => println!(
                "written to {}; no running Portero found on this data directory (it applies it when it starts)",
                file.display()
            ),
            (Err(e), _) => eprintln!("error: cannot write {}: {e}", file.display()),
        }
    }
    if let Some(r) = &cfg.server.redis {
        let told = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                let shared = portero::onetime::OneTime::redis(
                    &r.url,
                    &r.prefix,
                    r.timeout,
                    cfg.server.max_started_sign_ins,
                )?;
                rt.block_on(shared.publish_endings(&[ending.to_json()]))
                    .map_err(|e| e.to_string())
            });
        match told {
            Ok(()) => {
                println!("sent through Redis: every node applies it within a second");
                reached = true;
            }
            Err(e) => {
                eprintln!("error: Redis could not be reached, the other nodes are not told: {e}")
            }
        }
    }
    if reached {
        println!("sessions of {user} in {tenant} issued up to {now} are void");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: no running Portero was reached; use `POST /tenants/{tenant}/sessions/revoke` (user={user}) on the admin listener of each node"
        );
        ExitCode::FAILURE
    }
}

/// The pid in the pid file, when that process is alive.
fn running_pid(pid_file: &std::path::Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        .ok()
        .map(|()| pid)
}

/// "2 errors and 1 warning", "no errors, 3 warnings".
fn counted(errors: usize, warnings: usize) -> String {
    let n = |k: usize, what: &str| match k {
        0 => format!("no {what}s"),
        1 => format!("1 {what}"),
        k => format!("{k} {what}s"),
    };
    format!("{}, {}", n(errors, "error"), n(warnings, "warning"))
}

fn load_or_report(path: &std::path::Path) -> Option<config::Loaded> {
    match config::load(path, &ProcessEnv) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Some(loaded)
        }
        Err(findings) => {
            for e in &findings {
                eprintln!("{e}");
            }
            let errors = findings
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .count();
            eprintln!(
                "{} in {}",
                counted(errors, findings.len() - errors),
                path.display()
            );
            None
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    match load_or_report(&path) {
        Some(loaded) => {
            for (key, variable) in &loaded.from_env {
                println!("{key} from {variable} (environment)");
            }
            println!(
                "{}: ok ({} tenant(s), {})",
                path.display(),
                loaded.config.tenants.len(),
                counted(0, loaded.warnings.len())
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn run(path: PathBuf, upgrade: bool, log_format: LogFormat) -> ExitCode {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log_format {
        LogFormat::Text => log.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => log.json().with_current_span(false).init(),
    }
    // Through the log, so `--log-format json` holds these lines too.
    let mut compiler = config::Compiler::default();
    let loaded = match compiler.load(&path, &ProcessEnv) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            for (key, variable) in &loaded.from_env {
                tracing::info!("{key} from {variable} (environment)");
            }
            loaded
        }
        Err(findings) => {
            for d in &findings {
                match d.severity {
                    config::Severity::Error => tracing::error!("{d}"),
                    _ => tracing::warn!("{d}"),
                }
            }
            tracing::error!("refusing to start with an invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let state = match portero::state::State::with_compiler(
        loaded.config,
        compiler,
        path,
        Arc::new(portero::clock::SystemClock),
    ) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    fetch_idp_documents(&state);
    match portero::proxy::run(state, upgrade) {
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

/// `portero init`: the configuration and its two keys; the keys first, so
/// a refusal leaves nothing half written.
fn init(config: &std::path::Path, first: &portero::init::FirstTenant, force: bool) -> ExitCode {
    let (Some(session), Some(pem)) = (
        portero::session::generate_key(),
        portero::identity::generate_ed25519_pem(),
    ) else {
        eprintln!("error: the system random number generator failed");
        return ExitCode::FAILURE;
    };
    let dir = config.parent().unwrap_or(std::path::Path::new("."));
    let (session_file, assertion_file) = ("secrets/session.key", "secrets/assertion.pem");
    let existing: Vec<PathBuf> = [
        config.to_path_buf(),
        dir.join(session_file),
        dir.join(assertion_file),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect();
    if !force && !existing.is_empty() {
        for p in &existing {
            eprintln!("error: {} already exists", p.display());
        }
        eprintln!("nothing was written; give --force to replace them, or another --config");
        return ExitCode::FAILURE;
    }
    let text = portero::init::config_text(first, session_file, assertion_file);
    let written = std::fs::create_dir_all(dir.join("secrets"))
        .and_then(|()| {
            write_private(
                &dir.join(session_file),
                format!("{session}\n").as_bytes(),
                true,
            )
        })
        .and_then(|()| write_private(&dir.join(assertion_file), pem.as_bytes(), true))
        .and_then(|()| std::fs::write(config, text));
    if let Err(e) = written {
        eprintln!("error: cannot write under {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {} and its keys under {}",
        config.display(),
        dir.join("secrets").display()
    );
    println!("next: portero check --config {}", config.display());
    println!("then: connect an identity provider (the commented [tenant.saml], [tenant.oidc] or [tenant.external_sso] in the file) and portero run --config {}", config.display());
    ExitCode::SUCCESS
}

fn keygen(assertion_key: Option<PathBuf>, force: bool) -> ExitCode {
    let (Some(session), Some(pem)) = (
        portero::session::generate_key(),
        portero::identity::generate_ed25519_pem(),
    ) else {
        eprintln!("error: the system random number generator failed");
        return ExitCode::FAILURE;
    };
    // The file first: a refusal prints no secret.
    if let Some(file) = &assertion_key {
        match write_private(file, pem.as_bytes(), force) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                eprintln!(
                    "error: {} already exists (it may be the key your panel trusts); nothing was written. Give --force to replace it, or choose another file",
                    file.display()
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "# [session].keys: put this in PORTERO_SESSION_KEY (keys = [\"env:PORTERO_SESSION_KEY\"])"
    );
    println!("PORTERO_SESSION_KEY={session}");
    match assertion_key {
        Some(file) => {
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

/// Writes a new file with mode 0600. An existing file (or link) is an
/// `AlreadyExists` error unless `replace`, which removes it first (so a
/// link is replaced, not written through, and the mode is 0600 again).
fn write_private(path: &std::path::Path, data: &[u8], replace: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if replace {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

/// `portero tenants`.
fn tenants(
    config: &std::path::Path,
    action: &str,
    name: Option<String>,
    file: Option<&std::path::Path>,
    json: bool,
) -> ExitCode {
    use portero::tenant_command::{run, TenantAction};
    let need_name = || {
        name.clone()
            .ok_or_else(|| format!("portero tenants {action} needs the tenant's name"))
    };
    let action = match action {
        "list" => Ok(TenantAction::List),
        "show" => need_name().map(TenantAction::Show),
        "delete" => need_name().map(TenantAction::Delete),
        "put" => need_name().and_then(|name| {
            let body = match file {
                Some(f) => {
                    std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))
                }
                None => {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                        .map(|_| b)
                        .map_err(|e| format!("cannot read standard input: {e}"))
                }
            }?;
            Ok(TenantAction::Put { name, body, json })
        }),
        other => Err(format!(
            "unknown action {other:?}: list, show, put or delete"
        )),
    };
    match action.and_then(|a| run(config, a)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portero tenants: {e}");
            ExitCode::FAILURE
        }
    }
}
