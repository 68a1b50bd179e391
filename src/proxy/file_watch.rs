//! Watches the configuration's files through inotify, so that a change to
//! the main file or to a file of `tenants_dir` is looked at within a few
//! milliseconds instead of at the next second's look. The look every
//! second stays: inotify does not see every change (a folder shared over
//! NFS written by another machine, a file read through a link).

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// How long after a first event more are awaited, so that a burst (a
/// panel writing many files) makes one reload.
const SETTLE: Duration = Duration::from_millis(15);

/// What is looked at in the watched folders: a file written and closed,
/// moved in or out, created or removed.
fn interesting() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One inotify instance watching the main file's folder and `tenants_dir`.
pub struct FileWatch {
    fd: AsyncFd<Fd>,
    /// The main file's folder and the file's name in it.
    main: (WatchDescriptor, OsString),
    /// `tenants_dir` and its watch, when set.
    tenants: Option<(PathBuf, WatchDescriptor)>,
}

impl FileWatch {
    /// Watches `main`'s folder and `tenants_dir`; `None` (logged) when
    /// inotify cannot be used here: the look every second still works.
    pub fn start(main: &Path, tenants_dir: Option<&Path>) -> Option<FileWatch> {
        let started = || -> Result<FileWatch, String> {
            let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
                .map_err(|e| e.to_string())?;
            let folder = match main.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = main.file_name().map(OsString::from).unwrap_or_default();
            let wd = inotify
                .add_watch(folder, interesting())
                .map_err(|e| format!("{}: {e}", folder.display()))?;
            // SAFETY: `Fd` owns the inotify descriptor for as long as the
            // `AsyncFd` lives and always answers that same descriptor.
            let fd = unsafe { AsyncFd::register(Fd(inotify)) }.map_err(|e| e.to_string())?;
            let mut watch = FileWatch {
                fd,
                main: (wd, name),
                tenants: None,
            };
            watch.follow(tenants_dir);
            Ok(watch)
        };
        match started() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "configuration files are not watched ({e}); changes are seen within a second"
                );
                None
            }
        }
    }

    /// Watches `tenants_dir` (after a reload that may have changed it).
    pub fn follow(&mut self, tenants_dir: Option<&Path>) {
        if self.tenants.as_ref().map(|(d, _)| d.as_path()) == tenants_dir {
            return;
        }
        if let Some((_, wd)) = self.tenants.take() {
            let _ = self.fd.get_ref().0.rm_watch(wd);
        }
        if let Some(dir) = tenants_dir {
            match self.fd.get_ref().0.add_watch(dir, interesting()) {
                Ok(wd) => self.tenants = Some((dir.to_path_buf(), wd)),
                Err(e) => tracing::warn!(
                    "tenants_dir {} is not watched ({e}); its changes are seen within a second",
                    dir.display()
                ),
            }
        }
    }

    /// Returns once a configuration file may have changed (and the burst
    /// of events it came with has settled).
    pub async fn changed(&mut self) {
        loop {
            if self.read_relevant().await {
                tokio::time::sleep(SETTLE).await;
                // What came meanwhile belongs to the same look.
                self.drain();
                return;
            }
        }
    }

    /// Waits for events; whether one of them is about a configuration file.
    async fn read_relevant(&mut self) -> bool {
        let Ok(mut ready) = self.fd.readable().await else {
            // The descriptor broke: never report again (the look every
            // second goes on).
            std::future::pending::<()>().await;
            return false;
        };
        let events =
            match ready.try_io(|fd| fd.get_ref().0.read_events().map_err(std::io::Error::from)) {
                Ok(Ok(events)) => events,
                Ok(Err(_)) | Err(_) => return false,
            };
        let mut any = false;
        for e in &events {
            any |= self.relevant(e);
            // The folder itself went away or moved: the watch is gone, and
            // is made again by the next `follow` if the folder is back.
            let gone = AddWatchFlags::IN_IGNORED
                | AddWatchFlags::IN_DELETE_SELF
                | AddWatchFlags::IN_MOVE_SELF;
            if e.mask.intersects(gone) && self.tenants.as_ref().is_some_and(|(_, wd)| *wd == e.wd) {
                if let Some((_, wd)) = self.tenants.take() {
                    let _ = self.fd.get_ref().0.rm_watch(wd);
                }
            }
        }
        any
    }

    /// Reads what is pending without waiting, and drops it.
    fn drain(&self) {
        while let Ok(events) = self.fd.get_ref().0.read_events() {
            if events.is_empty() {
                break;
            }
        }
    }

    fn relevant(&self, e: &nix::sys::inotify::InotifyEvent) -> bool {
        if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            return true;
        }
        let name = e.name.as_deref().and_then(|n| n.to_str());
        if e.wd == self.main.0 {
            return e.name.as_deref() == Some(self.main.1.as_os_str());
        }
        match (&self.tenants, name) {
            (Some((_, wd)), Some(n)) if *wd == e.wd => n.ends_with(".toml") && !n.starts_with('.'),
            // The folder itself moved or went away.
            (Some((_, wd)), None) if *wd == e.wd => true,
            _ => false,
        }
    }
}
