//! What lives for the whole run: the current configuration (swapped whole on
//! reload), the one-time records, the revocation marks, the clock, the audit log,
//! the metrics and the mailer.

use crate::audit::{AuditLog, Event, Record};
use crate::clock::Clock;
use crate::config::{self, Config, Diagnostic, Env};
use crate::metrics::Metrics;
use crate::session::{EndedSessions, Ending, Revocations};
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Shared by every request.
pub struct State {
    config: ArcSwap<Config>,
    /// Where the configuration was read from (for reloads).
    pub config_path: PathBuf,
    /// Started sign-ins and used one-time ids (in this process, or in the
    /// Redis named at start).
    pub onetime: crate::onetime::OneTime,
    /// How many sign-ins each client address may still start.
    pub start_budget: crate::budget::StartBudget,
    /// Invitations each member may send (made or re-sent) per hour, per
    /// tenant ([`crate::members::change::INVITATIONS_PER_HOUR`]).
    pub invitation_budget: crate::budget::Budgets<(String, String)>,
    /// Per-tenant "force re-authentication now" marks.
    pub revocations: Revocations,
    /// Sessions ended early: by logout, or every session of one person.
    pub ended: EndedSessions,
    /// The time source; tests pass a fixed clock.
    pub clock: Arc<dyn Clock>,
    /// The audit log.
    pub audit: AuditLog,
    /// The access log, when `[server].access_log` is set.
    pub access: Option<crate::audit::AccessLog>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Good copies of documents fetched from IdPs.
    pub remote: crate::remote::Keeper,
    /// Each tenant's recent SAML exchanges (admin listener).
    pub saml_trace: crate::auth::saml::trace::SamlTrace,
    /// Where SAML responses are verified (off the request workers, bounded).
    pub saml_verify: crate::auth::saml::VerifyPool,
    /// Where reloads compile ([`config::CompileThread`]).
    compiles: config::CompileThread,
    /// The number of the compile in force (one put in force at a time).
    in_force: tokio::sync::Mutex<u64>,
    /// The embedded membership store, when `[server].data_dir` is set.
    pub store: Option<crate::members::StoreHandle>,
    /// Certificates from the ACME CA and the challenges pending
    /// (`[server.acme]`; kept fresh by [`crate::acme::run`]).
    pub acme: crate::acme::Acme,
    /// The mailer of `[server.smtp]` in force (built again when a reload
    /// changes that section; `None` without it).
    mailer: arc_swap::ArcSwapOption<crate::mail::Mailer>,
}

impl State {
    /// Builds the state around a compiled configuration.
    pub fn new(
        config: Config,
        config_path: PathBuf,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<State> {
        let mut compiler = config::Compiler::default();
        compiler.note_sources(&config_path, &config);
        State::with_compiler(config, compiler, config_path, clock)
    }

    /// Builds the state around a configuration and the compiler that made
    /// it: reloads compile again only the tenant files that change.
    pub fn with_compiler(
        config: Config,
        compiler: config::Compiler,
        config_path: PathBuf,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<State> {
        let compiles = config::CompileThread::start(compiler)?;
        let audit = AuditLog::open(config.server.audit_log.as_deref()).map_err(|e| {
            naming_file(e, "[server].audit_log", config.server.audit_log.as_deref())
        })?;
        let access = match config.server.access_log.as_deref() {
            Some(p) => Some(
                crate::audit::AccessLog::open(p)
                    .map_err(|e| naming_file(e, "[server].access_log", Some(p)))?,
            ),
            None => None,
        };
        let revocations = Revocations::load(
            config
                .server
                .data_dir
                .as_ref()
                .map(|d| d.join("revocations.json")),
        );
        let metrics = Metrics::new().map_err(std::io::Error::other)?;
        let remote = crate::remote::Keeper::new(config.server.data_dir.as_deref());
        let store =
            crate::members::StoreHandle::open_now(&config).map_err(std::io::Error::other)?;
        remote.adopt(&config.remote);
        let max_started = config.server.max_started_sign_ins;
        let onetime = match &config.server.redis {
            Some(r) => crate::onetime::OneTime::redis(&r.url, &r.prefix, r.timeout, max_started)
                .map_err(std::io::Error::other)?,
            None => crate::onetime::OneTime::local(max_started, crate::onetime::MAX_USED_LOCAL),
        };
        let ended = EndedSessions::load(
            config
                .server
                .data_dir
                .as_ref()
                .map(|d| d.join("ended-sessions.jsonl")),
            crate::session::CAPACITY,
            onetime.is_shared(),
            clock.now(),
        );
        let saml_verify =
            crate::auth::saml::VerifyPool::per_core(config.server.saml_verify_timeout);
        let mailer = match &config.server.smtp {
            Some(smtp) => Some(Arc::new(
                crate::mail::Mailer::new(smtp, &metrics)
                    .map_err(|e| std::io::Error::other(format!("[server.smtp]: {e}")))?,
            )),
            None => None,
        };
        Ok(State {
            config: ArcSwap::from_pointee(config),
            config_path,
            onetime,
            start_budget: Default::default(),
            invitation_budget: crate::budget::Budgets::with_window(10_000, 3600),
            revocations,
            ended,
            clock,
            audit,
            access,
            metrics,
            remote,
            store,
            saml_trace: Default::default(),
            saml_verify,
            compiles,
            in_force: tokio::sync::Mutex::new(0),
            acme: Default::default(),
            mailer: arc_swap::ArcSwapOption::new(mailer),
        })
    }

    /// The mailer of `[server.smtp]` in force, `None` when no mail server
    /// is configured (then invitation links are shown to the inviter).
    /// Hold it for one sending; a reload may replace it.
    pub fn mailer(&self) -> Option<Arc<crate::mail::Mailer>> {
        self.mailer.load_full()
    }

    /// The configuration in force now. Cheap; hold it for one request.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Unix seconds now, from the state's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Reads the configuration file again. On success it replaces the one in
    /// force (listeners and the admin address stay as they were started);
    /// on failure the old one keeps serving and every error is returned.
    /// Only the tenant files that changed are compiled again; the others'
    /// tenants are kept as they were.
    pub async fn reload(
        &self,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let started = std::time::Instant::now();
        let (n, loaded) = self.compiles.load(self.config_path.clone(), env).await;
        self.put_in_force(n, loaded, started, Fetch::Every).await
    }

    /// Writes tenant `name`'s file in `tenants_dir` (`text`; `None`
    /// removes it) once the configuration with it compiles, and puts that
    /// configuration in force. The warnings, or why nothing was changed.
    pub async fn change_tenant(
        &self,
        env: Arc<dyn Env + Send + Sync>,
        name: &str,
        text: Option<String>,
    ) -> Result<Vec<Diagnostic>, config::Refused> {
        let started = std::time::Instant::now();
        let (n, loaded) = self
            .compiles
            .change_tenant(
                self.config_path.clone(),
                env,
                self.config(),
                name.to_string(),
                text,
            )
            .await;
        self.put_in_force(n, Ok(loaded?), started, Fetch::Compiled)
            .await
            .map_err(config::Refused::Invalid)
    }

    /// Puts the `n`-th compile's configuration in force, unless a later
    /// compile's already is. `started`: when the reload was asked for (the
    /// audit line says how long it took to be in force).
    async fn put_in_force(
        &self,
        n: u64,
        loaded: Result<config::Loaded, Vec<Diagnostic>>,
        started: std::time::Instant,
        fetch: Fetch,
    ) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let mut in_force = self.in_force.lock().await;
        match loaded {
            Ok(_) if n < *in_force => Ok(Vec::new()),
            Ok(loaded) => {
                *in_force = n;
                // The documents of the tenants compiled now start with the
                // copies known so far, and are fetched again right away
                // (every document, on a full reload).
                let (fresh, new_urls) =
                    fresh_documents(&self.config().remote, &loaded.config.remote);
                self.remote.adopt(&fresh);
                let mut warnings = loaded.warnings;
                if loaded.config.server.redis != self.config().server.redis {
                    warnings.push(Diagnostic {
                        severity: config::Severity::Warning,
                        file: self.config_path.clone(),
                        line: None,
                        variable: None,
                        message: "[server].redis changed: it takes effect at the next start or upgrade; the one in force is kept".to_string(),
                    });
                }
                if loaded.config.server.database != self.config().server.database {
                    warnings.push(Diagnostic {
                        severity: config::Severity::Warning,
                        file: self.config_path.clone(),
                        line: None,
                        variable: None,
                        message: "[server].database changed: it takes effect at the next start or upgrade; the one in force is kept".to_string(),
                    });
                }
                if loaded.config.server.max_started_sign_ins
                    != self.config().server.max_started_sign_ins
                {
                    warnings.push(Diagnostic {
                        severity: config::Severity::Warning,
                        file: self.config_path.clone(),
                        line: None,
                        variable: None,
                        message: "[server].max_started_sign_ins changed: it takes effect at the next start or upgrade; the one in force is kept".to_string(),
                    });
                }
                if loaded.config.server.smtp != self.config().server.smtp {
                    self.replace_mailer(loaded.config.server.smtp.as_ref(), &mut warnings);
                }
                let before = self.config();
                if let Some(store) = &self.store {
                    if let Err(e) = store.reload_changed(&before, &loaded.config).await {
                        tracing::error!("membership store: {e}");
                    }
                }
                let changed = Changed::between(&before, &loaded.config);
                drop(before);
                let old = self.config.swap(Arc::new(loaded.config));
                self.compiles.retire(old);
                self.remote.ask(match fetch {
                    Fetch::Every => crate::remote::Asked::All,
                    Fetch::Compiled => crate::remote::Asked::These(new_urls),
                });
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                self.audit(
                    "-",
                    Event::ConfigReload,
                    None,
                    None,
                    &format!(
                        "configuration reloaded in {} ms: {changed}",
                        started.elapsed().as_millis()
                    ),
                );
                Ok(warnings)
            }
            Err(errors) => {
                self.metrics.reloads.with_label_values(&["refused"]).inc();
                let first = errors.first().map(|d| d.to_string()).unwrap_or_default();
                self.audit(
                    "-",
                    Event::ConfigReload,
                    None,
                    None,
                    &format!("reload refused: {first}"),
                );
                Err(errors)
            }
        }
    }

    /// Builds the mailer of a reloaded `[server.smtp]` (none without it);
    /// one that cannot be built leaves the one in force, with a warning.
    fn replace_mailer(&self, smtp: Option<&config::Smtp>, warnings: &mut Vec<Diagnostic>) {
        match smtp.map(|s| crate::mail::Mailer::new(s, &self.metrics)) {
            None => self.mailer.store(None),
            Some(Ok(m)) => self.mailer.store(Some(Arc::new(m))),
            Some(Err(e)) => warnings.push(Diagnostic {
                severity: config::Severity::Warning,
                file: self.config_path.clone(),
                line: None,
                variable: None,
                message: format!("[server.smtp]: {e}; the mail server settings in force are kept"),
            }),
        }
    }

    /// Fetches the IdP documents that are due (every one when `all`),
    /// logging and counting each outcome.
    pub async fn refresh_remote(&self, all: bool) {
        let cfg = self.config();
        self.fetch_remote(&cfg.remote, all).await;
    }

    /// Fetches what reloads asked for ([`crate::remote::Keeper::ask`]).
    pub async fn fetch_asked(&self) {
        match self.remote.take_asked() {
            crate::remote::Asked::Nothing => {}
            crate::remote::Asked::All => self.refresh_remote(true).await,
            crate::remote::Asked::These(docs) => self.fetch_remote(&docs, true).await,
        }
    }

    /// Fetches `docs` (those due, or every one when `all`), logging and
    /// counting each outcome.
    async fn fetch_remote(&self, docs: &[Arc<dyn crate::remote::Refresh>], all: bool) {
        if docs.is_empty() {
            return;
        }
        let outbound = self.config().server.outbound.clone();
        let fetched = self.remote.refresh(docs, &outbound, self.now(), all).await;
        for f in fetched {
            let result = if f.error.is_some() { "failed" } else { "ok" };
            self.metrics
                .idp_fetches
                .with_label_values(&[f.what, result])
                .inc();
            match f.error {
                None => tracing::info!(url = %f.url, "fetched the {}", f.what),
                Some(e) => tracing::warn!(
                    url = %f.url,
                    "fetching the {} failed ({e}); the last good copy stays in force",
                    f.what
                ),
            }
        }
    }

    /// Reloads when the configuration file changed since it was last read
    /// (each change is tried once: a refused file waits for the next edit).
    pub async fn reload_if_file_changed(
        &self,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Option<Result<Vec<Diagnostic>, Vec<Diagnostic>>> {
        if !self.config().server.watch_config {
            return None;
        }
        let started = std::time::Instant::now();
        let (n, loaded) = self
            .compiles
            .load_if_changed(self.config_path.clone(), env)
            .await?;
        Some(self.put_in_force(n, loaded, started, Fetch::Compiled).await)
    }

    /// Exchanges "force re-authentication now" marks with the other nodes
    /// through Redis (when set): marks made here are published, marks made
    /// elsewhere are adopted (the later of two wins). Every second, from
    /// the refresher; a failure is noted on `/readyz` and retried.
    pub async fn sync_revocations(&self) -> Result<(), crate::onetime::Unavailable> {
        if !self.onetime.is_shared() {
            return Ok(());
        }
        let local = self.revocations.snapshot();
        let held = self.onetime.sync_revocations(&local).await?;
        for (tenant, at) in held {
            if at > local.get(&tenant).copied().unwrap_or(0) {
                if let Err(e) = self.revocations.revoke_all(&tenant, at) {
                    tracing::error!(tenant = %tenant, "cannot save the revocation mark: {e}");
                }
                tracing::info!(tenant = %tenant, "re-authentication forced on another node; adopted");
            }
        }
        Ok(())
    }

    /// Ends sessions (a logout, or every session of a person) on this node
    /// at once, then tells the other nodes through Redis (when set). `Err`
    /// says the other nodes are not told yet (it is retried every second);
    /// the ending is in force here either way.
    pub async fn end_sessions(&self, ending: &Ending) -> Result<(), String> {
        let now = self.now();
        let saved = self.ended.end(ending, now);
        let shared = self.push_endings().await;
        match (saved, shared) {
            (Ok(_), Ok(())) => Ok(()),
            (Err(e), _) => Err(format!("in force on this node, but not saved to disk: {e}")),
            (Ok(_), Err(e)) => Err(format!(
                "in force on this node; the other nodes are not told yet: {e}"
            )),
        }
    }

    /// Sends the endings made here to Redis.
    async fn push_endings(&self) -> Result<(), crate::onetime::Unavailable> {
        if !self.onetime.is_shared() || !self.ended.has_unshared() {
            return Ok(());
        }
        let unshared = self.ended.take_unshared();
        let lines: Vec<String> = unshared.iter().map(Ending::to_json).collect();
        match self.onetime.publish_endings(&lines).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.ended.requeue(unshared);
                Err(e)
            }
        }
    }

    /// Exchanges ended sessions with the other nodes and reads what the
    /// command line appended to the file. Every second, from the refresher;
    /// requests never wait on Redis for this (a node that cannot reach it
    /// keeps refusing what it knows, and catches up when it can).
    pub async fn sync_endings(&self) -> Result<(), crate::onetime::Unavailable> {
        let now = self.now();
        self.ended.read_new_lines(now);
        if now.is_multiple_of(60) {
            self.ended.purge(now);
        }
        if !self.onetime.is_shared() {
            return Ok(());
        }
        self.push_endings().await?;
        let mut cursor = self.ended.cursor();
        // At most 100 rounds of 1,000 per tick; the rest next second.
        for _ in 0..100 {
            let (lines, next) = self.onetime.endings_after(&cursor, 1000).await?;
            for e in lines.iter().filter_map(|l| Ending::from_json(l)) {
                self.ended.adopt(&e, now);
            }
            let done = lines.len() < 1000 || next == cursor;
            cursor = next;
            self.ended.set_cursor(cursor.clone());
            if done {
                break;
            }
        }
        Ok(())
    }

    /// Loads the store's snapshot again when another process or node
    /// changed it (the periodic check; an unreachable database is noted
    /// once, on `/readyz` and in the log, and tried again next time).
    pub async fn refresh_store(&self) {
        if let Some(store) = &self.store {
            match store.reload_if_changed(&self.config()).await {
                Ok(true) => tracing::info!("membership store changed; reloaded"),
                Ok(false) => {}
                Err(e) if e.is_unreachable() => {}
                Err(e) => tracing::error!("membership store: {e}"),
            }
        }
    }

    /// Follows the changes other nodes make to a shared store (PostgreSQL
    /// `LISTEN`): each tenant announced is loaded again at once. When the
    /// connection is lost, everything is loaded again once it is back (the
    /// periodic check covers the time between). Returns at once for the
    /// SQLite file. Runs until dropped.
    pub async fn follow_store(&self) {
        let Some(store) = &self.store else { return };
        loop {
            match store.store.listen().await {
                None => return,
                Some(Ok(mut listener)) => {
                    let _ = store.reload(&self.config()).await;
                    while let Some(tenant) = listener.next().await {
                        let _ = match tenant.as_str() {
                            // An import: every tenant at once.
                            "*" => store.reload(&self.config()).await,
                            _ => store.reload_tenant(&self.config(), &tenant).await,
                        };
                    }
                }
                Some(Err(e)) => {
                    let failed: Result<(), _> = Err(e);
                    store.note_reach(&failed);
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Writes an audit line stamped with the state's clock.
    pub fn audit(
        &self,
        tenant: &str,
        event: Event,
        user: Option<&str>,
        client: Option<IpAddr>,
        reason: &str,
    ) {
        self.audit.write(&Record {
            ts: self.now(),
            event,
            tenant,
            user,
            client,
            reason,
        });
    }
}

/// An I/O error that says which file (and which setting) it is about.
/// Which IdP documents a reload fetches at once.
#[derive(Debug, Clone, Copy)]
enum Fetch {
    /// Every one (`POST /reload`, SIGHUP): what an operator asks for when
    /// an IdP changed its keys.
    Every,
    /// Those at URLs the configuration did not have (a tenant changed by
    /// the API or in its file): the others keep their copies and schedule.
    Compiled,
}

/// An IdP document by URL.
type Document = Arc<dyn crate::remote::Refresh>;

/// The documents of `new` that are not `old`'s (their tenants were
/// compiled again), and of those, the ones at a URL `old` did not have.
fn fresh_documents(old: &[Document], new: &[Document]) -> (Vec<Document>, Vec<Document>) {
    let thin = |d: &Document| Arc::as_ptr(d).cast::<()>();
    let before: std::collections::HashSet<*const ()> = old.iter().map(thin).collect();
    let fresh: Vec<_> = new
        .iter()
        .filter(|d| !before.contains(&thin(d)))
        .cloned()
        .collect();
    if fresh.is_empty() {
        return (fresh, Vec::new());
    }
    let urls: std::collections::HashSet<(&str, &str)> =
        old.iter().map(|d| (d.what(), d.url())).collect();
    let new_urls = fresh
        .iter()
        .filter(|d| !urls.contains(&(d.what(), d.url())))
        .cloned()
        .collect();
    (fresh, new_urls)
}

fn naming_file(e: std::io::Error, setting: &str, path: Option<&std::path::Path>) -> std::io::Error {
    let file = path.map(|p| p.display().to_string()).unwrap_or_default();
    std::io::Error::new(e.kind(), format!("{setting} `{file}`: {e}"))
}

#[cfg(test)]
impl State {
    /// A process for unit tests: the smallest configuration (one tenant,
    /// `t`, on `panel.t.test`) compiled in memory, the clock standing at
    /// `now`. The folder holds its key file; keep it while the state lives.
    pub(crate) fn for_tests(now: u64) -> (State, tempfile::TempDir) {
        let (cfg, dir) =
            crate::config::for_tests::compiled(crate::config::for_tests::GOOD, &[], &[]);
        let clock = Arc::new(crate::clock::FixedClock::at(now));
        let state = State::new(cfg, dir.path().join("portero.toml"), clock).unwrap();
        (state, dir)
    }
}

/// What a reload changed, for its audit line and for what it sets off.
struct Changed {
    /// Tenants compiled again (added or changed).
    compiled: Vec<String>,
    /// Tenants gone.
    removed: Vec<String>,
}

impl Changed {
    fn between(old: &Config, new: &Config) -> Changed {
        let kept = |t: &Arc<config::Tenant>| {
            old.by_name
                .get(&t.name)
                .and_then(|&i| old.tenants.get(i))
                .is_some_and(|o| Arc::ptr_eq(o, t))
        };
        Changed {
            compiled: new
                .tenants
                .iter()
                .filter(|t| !kept(t))
                .map(|t| t.name.clone())
                .collect(),
            removed: old
                .tenants
                .iter()
                .filter(|t| !new.by_name.contains_key(&t.name))
                .map(|t| t.name.clone())
                .collect(),
        }
    }
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// At most this many names are listed.
        const SHOWN: usize = 10;
        let list = |f: &mut std::fmt::Formatter<'_>, what: &str, names: &[String]| {
            write!(f, "{} {what}", names.len())?;
            if !names.is_empty() {
                write!(f, " ({}", names[..names.len().min(SHOWN)].join(", "))?;
                if names.len() > SHOWN {
                    write!(f, ", …")?;
                }
                write!(f, ")")?;
            }
            Ok(())
        };
        list(f, "tenant(s) compiled", &self.compiled)?;
        f.write_str(", ")?;
        list(f, "removed", &self.removed)
    }
}
