//! Stopping: SIGINT at once, SIGTERM as soon as the requests in flight are
//! done, SIGQUIT after handing the listeners to a successor.
//!
//! Signals are read on a thread of their own (its own small runtime), for
//! the life of the process, registered before any socket listens: a second
//! signal during a graceful stop is still heard, and no runtime is ever
//! torn down under a listener (the process ends with `_exit` once done).
//!
//! * SIGINT: the logs are flushed and the process exits, within a second,
//!   whatever is running.
//! * SIGTERM: the listeners stop accepting, and the process exits the
//!   moment no request is in flight (idle keep-alive connections are
//!   closed with it) — at the latest after `[server].grace_period`.
//! * SIGQUIT: the listening sockets go to the successor (`run --upgrade`);
//!   both accept for five seconds; then as SIGTERM.
//!
//! A request is in flight from the moment its header is read to the end of
//! its answer, and an upgraded connection (WebSocket) until it closes
//! ([`InFlight`] guards).

use crate::state::State;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

/// Requests in flight in this process.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one request as in flight for as long as it lives.
#[derive(Debug)]
pub struct InFlight(());

impl InFlight {
    /// Starts counting.
    pub fn start() -> InFlight {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Requests in flight now.
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// Exits once no request has been in flight for a moment, or when `grace`
/// has passed.
async fn drain_then_exit(state: Arc<State>, grace: Duration) {
    let deadline = Instant::now() + grace;
    let mut idle_checks = 0;
    while Instant::now() < deadline {
        if in_flight() == 0 {
            idle_checks += 1;
            // Twice in a row, a few milliseconds apart: a request whose
            // first byte just arrived is counted by then.
            if idle_checks >= 2 {
                tracing::info!("requests in flight done; stopping");
                exit_now(&state);
            }
        } else {
            idle_checks = 0;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(
        in_flight = in_flight(),
        "grace period over; stopping with requests still in flight"
    );
    exit_now(&state)
}

/// Flushes the logs and ends the process without running any other
/// thread's or library's exit handlers (which could race with requests
/// still running on other threads).
fn exit_now(state: &State) -> ! {
    if let Some(access) = &state.access {
        access.flush();
    }
    // SAFETY: `_exit` ends the process; it has no preconditions.
    unsafe { libc::_exit(0) }
}

/// What the hyper data plane does when asked to stop (see [`Signals::watch`]).
pub struct Stopping {
    /// Stops every accept loop (the listening sockets are closed, or left
    /// to the successor that holds them too).
    pub stop_accepting: Box<dyn Fn() + Send + Sync>,
    /// Sends the listening sockets to the successor (`run --upgrade`).
    pub hand_over: Box<dyn Fn() -> Result<(), String> + Send + Sync>,
}

/// How long both processes accept after a hand-over.
const BOTH_ACCEPT: Duration = Duration::from_secs(5);

/// The stop signals, listened for from the start (see [`Signals::watch`]).
pub struct Signals {
    runtime: tokio::runtime::Runtime,
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers for SIGINT, SIGTERM and SIGQUIT.
    pub fn register() -> Result<Signals, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
        let listeners = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::quit())?,
            ))
        });
        let (int, term, quit) = listeners.map_err(|e| format!("cannot listen for signals: {e}"))?;
        Ok(Signals {
            runtime,
            int,
            term,
            quit,
        })
    }

    /// Starts the signal thread for the hyper data plane: SIGINT exits at
    /// once; SIGTERM stops accepting and exits when no request is in
    /// flight (at most `grace`); SIGQUIT hands the listeners over, accepts
    /// five more seconds, then stops as SIGTERM does.
    pub fn watch(self, state: Arc<State>, grace: Duration, on: Stopping) -> Result<(), String> {
        let Signals {
            runtime,
            mut int,
            mut term,
            mut quit,
        } = self;
        std::thread::Builder::new()
        .name("portero signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                let on = Arc::new(on);
                let mut stopping = false;
                loop {
                    tokio::select! {
                        _ = int.recv() => {
                            tracing::info!("SIGINT: stopping now");
                            exit_now(&state);
                        }
                        _ = term.recv() => {
                            if stopping {
                                tracing::info!("SIGTERM again: stopping now");
                                exit_now(&state);
                            }
                            tracing::info!(in_flight = in_flight(), "SIGTERM: no new connections; stopping when the requests in flight are done (at most {grace:?})");
                            stopping = true;
                            (on.stop_accepting)();
                            tokio::spawn(drain_then_exit(state.clone(), grace));
                        }
                        _ = quit.recv(), if !stopping => {
                            tracing::info!("SIGQUIT: handing the listeners to the successor");
                            let sent = {
                                let on = on.clone();
                                tokio::task::spawn_blocking(move || (on.hand_over)()).await
                            };
                            match sent {
                                Ok(Ok(())) => {
                                    stopping = true;
                                    tracing::info!("listeners handed over; accepting {BOTH_ACCEPT:?} more, then stopping");
                                    let (state, on) = (state.clone(), on.clone());
                                    tokio::spawn(async move {
                                        tokio::time::sleep(BOTH_ACCEPT).await;
                                        (on.stop_accepting)();
                                        drain_then_exit(state, grace).await;
                                    });
                                }
                                Ok(Err(e)) => tracing::error!("hand-over failed; still serving: {e}"),
                                Err(e) => tracing::error!("hand-over failed; still serving: {e}"),
                            }
                        }
                    }
                }
            })
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
        Ok(())
    }
}
