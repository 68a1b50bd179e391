//! The one thread a running server compiles its configuration on. Every
//! reload (SIGHUP, the admin API, a changed file) is queued to it, so
//! reloads never overlap and their allocations all come from one thread's
//! heap; the configuration a reload replaces is dropped there too, and the
//! memory it held is handed back to the system after each job.

use super::{Compiler, Diagnostic, Env, Loaded, Severity};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Work for the compile thread.
type Job = Box<dyn FnOnce(&mut Compiler) + Send>;

/// The compile thread and its [`Compiler`].
pub struct CompileThread {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Numbers the compiles in the order they ran.
    done: Arc<AtomicU64>,
}

/// A compile's outcome and its place in the order compiles ran: of two
/// compiles finished close together, the later one must be the one left
/// in force.
pub type Numbered<T> = (u64, T);

impl std::fmt::Debug for CompileThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompileThread")
    }
}

impl CompileThread {
    /// Starts the thread with `compiler` (the one the running
    /// configuration was compiled with, so its files are kept).
    pub fn start(compiler: Compiler) -> std::io::Result<CompileThread> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("portero-config".into())
            .spawn(move || {
                lower_priority();
                let mut compiler = compiler;
                while let Ok(job) = rx.recv() {
                    // Each job in a heap of its own: a configuration shares
                    // no page with the next one's (see `crate::allocator`).
                    crate::allocator::in_a_heap_of_its_own(|| job(&mut compiler));
                    give_back_memory();
                }
            })?;
        Ok(CompileThread {
            jobs: Mutex::new(tx),
            done: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Compiles the configuration at `path` on the thread.
    pub async fn load(
        &self,
        path: PathBuf,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Numbered<Result<Loaded, Vec<Diagnostic>>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = self.done.clone();
        self.run(Box::new(move |c| {
            let loaded = c.load(&path, &*env);
            let _ = tx.send((done.fetch_add(1, Ordering::SeqCst) + 1, loaded));
        }));
        rx.await.unwrap_or_else(|_| {
            (
                0,
                Err(vec![Diagnostic {
                    severity: Severity::Error,
                    file: PathBuf::new(),
                    line: None,
                    variable: None,
                    message: "the configuration compile thread has stopped".into(),
                }]),
            )
        })
    }

    /// Compiles the configuration at `path` on the thread when it or the
    /// files of its `tenants_dir` changed ([`Compiler::load_if_changed`]).
    pub async fn load_if_changed(
        &self,
        path: PathBuf,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Option<Numbered<Result<Loaded, Vec<Diagnostic>>>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = self.done.clone();
        self.run(Box::new(move |c| {
            let loaded = c
                .load_if_changed(&path, &*env)
                .map(|l| (done.fetch_add(1, Ordering::SeqCst) + 1, l));
            let _ = tx.send(loaded);
        }));
        rx.await.unwrap_or_default()
    }

    /// Changes one tenant's file of `tenants_dir` on the thread
    /// ([`Compiler::change_tenant`]).
    pub async fn change_tenant(
        &self,
        path: PathBuf,
        env: Arc<dyn Env + Send + Sync>,
        current: Arc<super::Config>,
        name: String,
        text: Option<String>,
    ) -> Numbered<Result<Loaded, super::Refused>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = self.done.clone();
        self.run(Box::new(move |c| {
            let changed = c.change_tenant(&path, &*env, &current, &name, text);
            let _ = tx.send((done.fetch_add(1, Ordering::SeqCst) + 1, changed));
        }));
        rx.await.unwrap_or_else(|_| {
            (
                0,
                Err(super::Refused::Io(
                    "the configuration compile thread has stopped".into(),
                )),
            )
        })
    }

    /// Drops `old` (a configuration just replaced) on the thread.
    pub fn retire<T: Send + 'static>(&self, old: T) {
        self.run(Box::new(move |_| drop(old)));
    }

    fn run(&self, job: Job) {
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A send fails only when the thread is gone; the job's reply
        // channel then says so.
        let _ = jobs.send(job);
    }
}

/// Returns the memory the allocator holds but no longer uses to the
/// system (mimalloc, the server's allocator, keeps freed pages otherwise).
fn give_back_memory() {
    // SAFETY: `mi_collect` only walks the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// How much nicer than the request workers the compile thread is: a
/// reload that compiles thousands of tenants takes the CPU the requests
/// leave, rather than sharing it equally with them.
const NICE: i32 = 5;

/// Lowers this thread's scheduling priority by [`NICE`] (on Linux a
/// thread has its own nice value); left as it is where that fails.
fn lower_priority() {
    // SAFETY: `gettid` and `setpriority` only read their arguments; the
    // thread id is this thread's own.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}
