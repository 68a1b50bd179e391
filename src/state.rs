//! What lives for the whole run: the current configuration (swapped whole on
//! reload), the replay guard, the revocation marks, the clock, the audit log
//! and the metrics.

use crate::audit::{AuditLog, Event, Record};
use crate::auth::ReplayGuard;
use crate::clock::Clock;
use crate::config::{self, Config, Diagnostic, Env};
use crate::metrics::Metrics;
use crate::session::Revocations;
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A file's modification time and size, when it can be read.
fn file_stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Shared by every request.
pub struct State {
    config: ArcSwap<Config>,
    /// Where the configuration was read from (for reloads).
    pub config_path: PathBuf,
    /// Sign-in tokens already used (`jti`).
    pub replay: ReplayGuard,
    /// Per-tenant "force re-authentication now" marks.
    pub revocations: Revocations,
    /// The time source; tests pass a fixed clock.
    pub clock: Arc<dyn Clock>,
    /// The audit log.
    pub audit: AuditLog,
    /// The access log, when `[server].access_log` is set.
    pub access: Option<crate::audit::AccessLog>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// SAML sign-ins started and not yet answered, by request ID (ten minutes).
    pub saml_pending: moka::sync::Cache<String, crate::auth::saml::Pending>,
    /// OpenID Connect sign-ins started and not yet answered, by `state` (ten minutes).
    pub oidc_pending: moka::sync::Cache<String, crate::auth::oidc::Pending>,
    /// Good copies of documents fetched from IdPs.
    pub remote: crate::remote::Keeper,
    /// Each tenant's recent SAML exchanges (admin listener).
    pub saml_trace: crate::auth::saml::trace::SamlTrace,
    /// The configuration file's modification time and size when last read
    /// (changes trigger a reload when `[server].watch_config`).
    config_stamp: std::sync::Mutex<Option<(std::time::SystemTime, u64)>>,
    /// The embedded membership store, when `[server].data_dir` is set.
    pub store: Option<crate::members::StoreHandle>,
}

impl State {
    /// Builds the state around a compiled configuration.
    pub fn new(
        config: Config,
        config_path: PathBuf,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<State> {
        let audit = AuditLog::open(config.server.audit_log.as_deref())?;
        let access = match config.server.access_log.as_deref() {
            Some(p) => Some(crate::audit::AccessLog::open(p)?),
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
        let config_path_for_stamp = config_path.clone();
        let remote = crate::remote::Keeper::new(config.server.data_dir.as_deref());
        let store = crate::members::StoreHandle::open(&config).map_err(std::io::Error::other)?;
        remote.adopt(&config.remote);
        Ok(State {
            config: ArcSwap::from_pointee(config),
            config_path,
            replay: ReplayGuard::new(1_000_000),
            revocations,
            clock,
            audit,
            access,
            metrics,
            saml_pending: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(600))
                .build(),
            oidc_pending: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(600))
                .build(),
            remote,
            store,
            saml_trace: Default::default(),
            config_stamp: std::sync::Mutex::new(file_stamp(&config_path_for_stamp)),
        })
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
    pub fn reload(&self, env: &dyn Env) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        match config::load(&self.config_path, env) {
            Ok(loaded) => {
                // The new configuration starts with the copies known so
                // far; everything is fetched again right away.
                self.remote.adopt(&loaded.config.remote);
                if let Some(store) = &self.store {
                    if let Err(e) = store.reload(&loaded.config) {
                        tracing::error!("membership store: {e}");
                    }
                }
                self.config.store(Arc::new(loaded.config));
                self.remote.wake.notify_one();
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                self.audit(
                    "-",
                    Event::ConfigReload,
                    None,
                    None,
                    "configuration reloaded",
                );
                Ok(loaded.warnings)
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

    /// Fetches the IdP documents that are due (every one when `all`),
    /// logging and counting each outcome.
    pub async fn refresh_remote(&self, all: bool) {
        let cfg = self.config();
        if cfg.remote.is_empty() {
            return;
        }
        let fetched = self
            .remote
            .refresh(&cfg.remote, &cfg.server.outbound, self.now(), all)
            .await;
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
    pub fn reload_if_file_changed(
        &self,
        env: &dyn Env,
    ) -> Option<Result<Vec<Diagnostic>, Vec<Diagnostic>>> {
        if !self.config().server.watch_config {
            return None;
        }
        let now = file_stamp(&self.config_path);
        {
            let mut seen = self
                .config_stamp
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if now.is_none() || *seen == now {
                return None;
            }
            *seen = now;
        }
        Some(self.reload(env))
    }

    /// Loads the store's snapshot again when another process changed it.
    pub fn refresh_store(&self) {
        if let Some(store) = &self.store {
            match store.reload_if_changed(&self.config()) {
                Ok(true) => tracing::info!("membership store changed; reloaded"),
                Ok(false) => {}
                Err(e) => tracing::error!("membership store: {e}"),
            }
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
