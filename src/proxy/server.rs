//! Starting the pingora server: proxy listeners (plain and TLS), the admin
//! listener, and the SIGHUP reload task.

use super::admin::Admin;
use super::keepalive::LeanKeepalive;
use super::tls::SniResolver;
use super::Portero;
use crate::config::ProcessEnv;
use crate::state::State;
use async_trait::async_trait;
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use std::sync::Arc;

/// Serves until a signal stops it: SIGINT stops at once, SIGTERM as soon
/// as the requests in flight are done (at most `server.grace_period`),
/// SIGHUP reloads, SIGQUIT hands the listeners to a successor (see
/// [`hand_over`] and [`super::stop`]).
///
/// With `upgrade`, this process is that successor: it asks the running
/// Portero (named in the pid file) to hand over its listening sockets,
/// takes them, and serves; the old process keeps accepting for five more
/// seconds, then finishes its open requests and exits. No connection is
/// refused in between: both hold the same sockets.
pub fn run(state: Arc<State>, upgrade: bool) -> Result<(), String> {
    let cfg = state.config();
    let conf = ServerConf {
        upgrade_sock: cfg.server.upgrade_sock.display().to_string(),
        // The successor waits up to 30 s for the sockets.
        upgrade_sock_connect_accept_max_retries: Some(30),
        threads: cfg.server.threads,
        // One single-threaded runtime per thread, as nginx workers: a
        // connection stays on the thread that accepted it, with no
        // cross-thread wake-ups (CPU per request measured equal or lower).
        work_stealing: false,
        grace_period_seconds: Some(cfg.server.grace_period),
        graceful_shutdown_timeout_seconds: Some(cfg.server.grace_period),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    if upgrade {
        hand_over::ask_predecessor(&cfg.server.pid_file)?;
    }
    server.bootstrap();
    hand_over::write_pid(&cfg.server.pid_file);

    let mut app = pingora::proxy::http_proxy(&server.configuration, Portero::new(state.clone()));
    let mut options = HttpServerOptions::default();
    options.h2c = true;
    app.server_options = Some(options);
    let mut proxy = Service::new(
        "portero".to_string(),
        LeanKeepalive::new(
            app,
            std::time::Duration::from_secs(cfg.server.header_timeout),
        ),
    );
    for addr in &cfg.server.listen {
        proxy.add_listener(ListenerConfig::tcp(addr.to_string()).l4_buffer(plain_buffers()));
    }
    for addr in &cfg.server.listen_tls {
        let mut tls =
            TlsSettings::intermediate("", "").map_err(|e| format!("TLS settings: {e}"))?;
        tls.set_cert_resolver(Arc::new(SniResolver::new(state.clone())));
        tls.enable_h2();
        proxy.add_tls_with_settings(&addr.to_string(), None, tls);
    }

    let mut admin = Service::new("portero admin".to_string(), Admin::new(state.clone()));
    admin.add_tcp(&cfg.server.admin_listen.to_string());

    let refresher = background_service(
        "IdP documents",
        Refresher {
            state: state.clone(),
        },
    );
    let state_for_signals = state.clone();
    let reload = background_service("reload on SIGHUP", Reloader { state });
    server.add_service(proxy);
    server.add_service(admin);
    server.add_service(reload);
    server.add_service(refresher);
    let signals = super::stop::watch_signals(
        state_for_signals,
        std::time::Duration::from_secs(cfg.server.grace_period),
        server.watch_execution_phase(),
    )?;
    tracing::info!(
        listen = ?cfg.server.listen,
        listen_tls = ?cfg.server.listen_tls,
        admin = %cfg.server.admin_listen,
        tenants = cfg.tenants.len(),
        "portero is serving"
    );
    server.run(pingora::server::RunArgs {
        shutdown_signal: Box::new(signals),
    });
    Ok(())
}

/// The binary upgrade's two ends: the pid file that names the running
/// server, and the signal that asks it to hand over.
pub mod hand_over {
    use std::path::Path;

    /// Records this process as the running server (a successor reads it).
    pub fn write_pid(file: &Path) {
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(file, format!("{}\n", std::process::id())) {
            tracing::warn!(
                "cannot write the pid file {}: {e} (`portero run --upgrade` needs it)",
                file.display()
            );
        }
    }

    /// Reads the running server's pid and, a moment after this process
    /// starts waiting for the sockets, sends it SIGQUIT (it then connects
    /// to the upgrade socket and sends them).
    pub fn ask_predecessor(pid_file: &Path) -> Result<(), String> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let raw = std::fs::read_to_string(pid_file).map_err(|e| {
            format!(
                "--upgrade: no running Portero to take over from ({}: {e})",
                pid_file.display()
            )
        })?;
        let pid: i32 = raw.trim().parse().map_err(|_| {
            format!(
                "--upgrade: {} does not hold a process ID",
                pid_file.display()
            )
        })?;
        let pid = Pid::from_raw(pid);
        kill(pid, None).map_err(|e| {
            format!(
                "--upgrade: the Portero named in {} (pid {pid}) is not running: {e}",
                pid_file.display()
            )
        })?;
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            match kill(pid, Signal::SIGQUIT) {
                Ok(()) => {
                    tracing::info!(%pid, "asked the running Portero to hand over its listeners")
                }
                Err(e) => tracing::error!(%pid, "cannot signal the running Portero: {e}"),
            }
        });
        Ok(())
    }
}

/// Socket buffers of a plain-HTTP connection. pingora's default keeps a
/// 64 KiB read buffer for the life of every connection, which is what an idle
/// keep-alive connection would mostly cost; its HTTP/1 parser reads into its
/// own (4 KiB, growing) buffer anyway, so plain listeners read unbuffered.
/// TLS listeners keep the default (TLS reads whole 16 KiB records).
fn plain_buffers() -> L4BufferSettings {
    L4BufferSettings::default().read(0)
}

/// Every second: reloads the configuration when its file changed (with
/// `watch_config`), notices when another process changed the membership
/// store, and fetches the IdP documents that are due (all of them right
/// after a reload).
struct Refresher {
    state: Arc<State>,
}

/// How often the refresher looks for documents that are due.
const REFRESH_TICK: std::time::Duration = std::time::Duration::from_secs(1);

#[async_trait]
impl BackgroundService for Refresher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = refresh_forever(self.state.clone()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// The refresher's loop (see [`Refresher`]); runs until dropped.
pub async fn refresh_forever(state: Arc<State>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_TICK) => {
                if let Some(result) = state.reload_if_file_changed(&ProcessEnv) {
                    log_reload("configuration file changed", result);
                }
                state.refresh_store();
                if let Err(e) = state.sync_revocations().await {
                    tracing::warn!("revocation marks not exchanged with the other nodes: {e}");
                }
                if let Err(e) = state.sync_endings().await {
                    tracing::warn!("ended sessions not exchanged with the other nodes: {e}");
                }
                state.refresh_remote(false).await;
                if let Some(access) = &state.access {
                    access.flush();
                }
            }
            _ = state.remote.wake.notified() => state.refresh_remote(true).await,
        }
    }
}

/// Logs a reload's outcome: its warnings, or every error of a refused one.
fn log_reload(
    why: &str,
    result: Result<Vec<crate::config::Diagnostic>, Vec<crate::config::Diagnostic>>,
) {
    match result {
        Ok(warnings) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
            tracing::info!("{why}: configuration reloaded");
        }
        Err(errors) => {
            for e in errors {
                tracing::error!("{why}: reload refused (the old configuration keeps serving): {e}");
            }
        }
    }
}

/// Reloads the configuration on SIGHUP; a refused one leaves the old in force.
struct Reloader {
    state: Arc<State>,
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = reload_on_hangup(self.state.clone()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Reloads the configuration on every SIGHUP; runs until dropped.
pub async fn reload_on_hangup(state: Arc<State>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!(
            "cannot listen for SIGHUP; reload through the admin listener's POST /reload"
        );
        return;
    };
    while hup.recv().await.is_some() {
        log_reload("SIGHUP", state.reload(&ProcessEnv));
    }
}
