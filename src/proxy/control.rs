//! The control thread's work beside the listeners: the configuration
//! reloads (file change, SIGHUP), the refresh of IdP documents and of what
//! other nodes share, and the pid file and signal of the binary upgrade.

use crate::config::ProcessEnv;
use crate::state::State;
use std::sync::Arc;

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

/// How often the refresher looks for documents that are due.
const REFRESH_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Every second: reloads the configuration when its file changed (with
/// `watch_config`), notices when another process changed the membership
/// store, exchanges revocations and ended sessions with the other nodes,
/// and fetches the IdP documents that are due (all of them right after a
/// reload). Runs until dropped.
pub async fn refresh_forever(state: Arc<State>) {
    let mut watch = Watch::Off;
    loop {
        follow_files(&state, &mut watch);
        tokio::select! {
            _ = changed(&mut watch) => {
                if let Some(result) = state.reload_if_file_changed(Arc::new(ProcessEnv)).await {
                    log_reload("configuration file changed", result);
                }
            }
            _ = tokio::time::sleep(REFRESH_TICK) => {
                if let Some(result) = state.reload_if_file_changed(Arc::new(ProcessEnv)).await {
                    log_reload("configuration file changed", result);
                }
                state.refresh_store().await;
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
            _ = state.remote.wake.notified() => state.fetch_asked().await,
        }
    }
}

/// Watches the configuration's files while `[server].watch_config` is on
/// (and `tenants_dir` as it is now), not when it is off.
fn follow_files(state: &State, watch: &mut Watch) {
    let cfg = state.config();
    let dir = cfg.server.tenants_dir.as_deref();
    match watch {
        _ if !cfg.server.watch_config => *watch = Watch::Off,
        Watch::On(w) => w.follow(dir),
        Watch::Unavailable => {}
        Watch::Off => {
            *watch = match super::file_watch::FileWatch::start(&state.config_path, dir) {
                Some(w) => Watch::On(w),
                None => Watch::Unavailable,
            }
        }
    }
}

/// Whether the configuration's files are watched.
enum Watch {
    /// `watch_config` is off.
    Off,
    On(super::file_watch::FileWatch),
    /// inotify could not be used (said once in the log); the look every
    /// second still sees changes.
    Unavailable,
}

/// Returns when a watched configuration file may have changed; never
/// without a watch.
async fn changed(watch: &mut Watch) {
    match watch {
        Watch::On(w) => w.changed().await,
        _ => std::future::pending().await,
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

/// Reloads the configuration on every SIGHUP; runs until dropped.
pub async fn reload_on_hangup(state: Arc<State>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!(
            "cannot listen for SIGHUP; reload through the admin listener's POST /reload"
        );
        return;
    };
    while hup.recv().await.is_some() {
        log_reload("SIGHUP", state.reload(Arc::new(ProcessEnv)).await);
    }
}
