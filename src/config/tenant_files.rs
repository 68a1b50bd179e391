//! `[server].tenants_dir`: every `*.toml` file in it holds `[[tenant]]`
//! tables. Each file is compiled on its own (its findings name it and its
//! lines), kept with the stamps of what it read, and compiled again only
//! when the file, a file it read (certificate, key, page, `file:` secret)
//! or the `[session]` default it depends on changed. Then every tenant —
//! the main file's and each file's — is put together: a name and a host
//! belong to one tenant.

use super::compile::{read_tenants, RawTenants};
use super::context::Ctx;
use super::model::Tenant;
use super::secret::Env;
use super::tenant::{self, Compiled, Defaults};
use super::{Diagnostic, Severity};
use crate::remote::Refresh;
use portero_policy::{HostPattern, HostTable};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use toml::de::DeTable;

/// A file's modification time, size and inode: a file whose stamp has not
/// moved is not read again (a write by rename, as the admin API and most
/// editors do, always moves the inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Stamp {
    modified: SystemTime,
    len: u64,
    inode: u64,
}

impl Stamp {
    /// `path`'s stamp, `None` when it cannot be read.
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        Stamp::from_meta(&std::fs::metadata(path).ok()?)
    }

    fn from_meta(m: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            modified: m.modified().ok()?,
            len: m.len(),
            inode: m.ino(),
        })
    }

    /// The file's size, as a length to read.
    fn size(&self) -> usize {
        usize::try_from(self.len).unwrap_or(0)
    }
}

/// One tenant, compiled, with where its name and hosts are written.
pub(super) struct KeptTenant {
    pub(super) tenant: Arc<Tenant>,
    name_line: usize,
    hosts: Vec<(HostPattern, usize)>,
}

impl From<Compiled> for KeptTenant {
    fn from(c: Compiled) -> KeptTenant {
        KeptTenant {
            tenant: Arc::new(c.tenant),
            name_line: c.name_line,
            hosts: c.hosts,
        }
    }
}

/// One file of `tenants_dir`, compiled without an error.
pub(super) struct KeptFile {
    /// Where it is.
    path: Arc<Path>,
    /// The file's when it was read; unset for text tried but not (yet) on
    /// disk ([`KeptFiles::settle_trial`] sets it once written).
    stamp: std::sync::OnceLock<Stamp>,
    /// What its tenants took from the rest of the configuration
    /// (`[session].reauth`, whether `[server.acme]` is set).
    defaults: Defaults,
    /// The other files its tenants read, with their stamps then.
    reads: Vec<(PathBuf, Option<Stamp>)>,
    tenants: Vec<KeptTenant>,
    remote: Vec<Arc<dyn Refresh>>,
}

impl KeptFile {
    /// Whether it may be used again as it is.
    fn still_good(&self, stamp: Option<Stamp>, defaults: Defaults) -> bool {
        stamp.is_some()
            && stamp == self.stamp.get().copied()
            && defaults == self.defaults
            && self.reads.iter().all(|(p, s)| Stamp::of(p) == *s)
    }
}

/// What each file of `tenants_dir` compiled to, kept between reloads.
#[derive(Default)]
pub(super) struct KeptFiles {
    /// By file name, in the order of the listing.
    files: BTreeMap<String, Arc<KeptFile>>,
    /// The folder and its files (compiled or refused) with their stamps,
    /// as last listed and since changed by the tenant API: what a look
    /// for changes ([`KeptFiles::changed`]) compares with.
    seen: Option<(PathBuf, Listing)>,
    /// What the last trial compiled of its file (by name).
    tried: Option<(String, Arc<KeptFile>)>,
    /// A listing [`KeptFiles::changed`] just made, for the refresh that
    /// follows it (the folder is not listed twice).
    listed: Option<(PathBuf, Listing)>,
}

/// A folder's tenant files: each name with its stamp, in name order.
pub(super) type Listing = Vec<(String, Option<Stamp>)>;

/// The files of `dir` that hold tenants, each with its stamp: `*.toml`,
/// not hidden (atomic writers make `.name.toml.tmp` first), in name order
/// (byte order, so every node lists them alike). Each is looked at
/// through the folder (`fstatat`), not by its whole path.
pub(super) fn list(dir: &Path) -> std::io::Result<Listing> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".toml") {
            continue;
        }
        let meta = match entry.file_type()? {
            // A link is followed.
            t if t.is_symlink() => std::fs::metadata(entry.path()),
            _ => entry.metadata(),
        };
        if let Ok(meta) = meta.as_ref() {
            if !meta.is_file() {
                continue;
            }
        }
        found.push((
            name.to_string(),
            meta.ok().and_then(|m| Stamp::from_meta(&m)),
        ));
    }
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// A change to one file of `tenants_dir` tried before it is made (the
/// tenant API): the whole configuration is compiled as if the file held
/// `text` (`None`: as if it were gone), and nothing of it is kept.
pub struct Trial {
    /// The file's name in `tenants_dir` (`<tenant>.toml`).
    pub file_name: String,
    /// Its new text; `None` to try without it.
    pub text: Option<String>,
}

impl KeptFiles {
    /// Forgets every file (no `tenants_dir` any more).
    pub(super) fn clear(&mut self) {
        self.files.clear();
        self.seen = None;
    }

    /// Takes `dir`'s listing now as the one last seen.
    pub(super) fn note_listing(&mut self, dir: &Path) {
        self.seen = list(dir).ok().map(|l| (dir.to_path_buf(), l));
    }

    /// Whether the folder's files changed since they were last listed (a
    /// file added, removed or written; the tenant API's own writes do not
    /// count). False without a `tenants_dir`; true when it cannot be
    /// listed any more.
    pub(super) fn changed(&mut self) -> bool {
        let Some((dir, seen)) = &self.seen else {
            return false;
        };
        match list(dir) {
            Ok(now) if now == *seen => false,
            Ok(now) => {
                // The reload that follows uses this listing.
                self.listed = Some((dir.clone(), now));
                true
            }
            Err(_) => true,
        }
    }

    /// Drops the listing [`KeptFiles::changed`] made, if still unused.
    pub(super) fn forget_listing(&mut self) {
        self.listed = None;
    }

    /// Every file of `dir` as it is now (or as `trial` would make it): kept
    /// ones that did not change, the others compiled (their findings added
    /// to `diags`). A file with an error is left out (and the compile fails
    /// on its error). A trial does not look at the folder again: the other
    /// files are taken as they were last compiled (a change made to them
    /// meanwhile is the next reload's).
    pub(super) fn refresh(
        &mut self,
        dir: &Path,
        defaults: Defaults,
        env: &dyn Env,
        diags: &mut Vec<Diagnostic>,
        trial: Option<&Trial>,
    ) -> Vec<(bool, Arc<KeptFile>)> {
        self.tried = None;
        let same_dir = self.seen.as_ref().is_some_and(|(d, _)| d == dir);
        match trial {
            Some(trial) if same_dir => self.refresh_trial(dir, defaults, env, diags, trial),
            _ => {
                let listed = self.listed.take().filter(|(d, _)| d == dir).map(|(_, l)| l);
                let listing = match listed.map_or_else(|| list(dir), Ok) {
                    Ok(l) => l,
                    Err(e) => {
                        self.seen = None;
                        diags.push(Diagnostic {
                            severity: Severity::Error,
                            file: dir.to_path_buf(),
                            line: None,
                            variable: None,
                            message: format!("cannot list tenants_dir: {e}"),
                        });
                        return Vec::new();
                    }
                };
                let out = self.refresh_listed(dir, &listing, defaults, env, diags, trial);
                self.seen = Some((dir.to_path_buf(), listing));
                out
            }
        }
    }

    /// [`KeptFiles::refresh`] of a trial in the folder last listed: the
    /// kept files and the trial's, nothing read from the folder.
    fn refresh_trial(
        &mut self,
        dir: &Path,
        defaults: Defaults,
        env: &dyn Env,
        diags: &mut Vec<Diagnostic>,
        trial: &Trial,
    ) -> Vec<(bool, Arc<KeptFile>)> {
        let tried = match &trial.text {
            None => None,
            Some(text) => {
                let path = dir.join(&trial.file_name);
                match compile_text(&path, text, None, defaults, env, diags) {
                    Some(k) => Some(Arc::new(k)),
                    // Refused: the compile fails on its error.
                    None => return Vec::new(),
                }
            }
        };
        let mut out = Vec::with_capacity(self.files.len() + 1);
        let mut placed = false;
        for (name, kept) in &self.files {
            if !placed && name.as_str() >= trial.file_name.as_str() {
                placed = true;
                if let Some(t) = &tried {
                    out.push((true, t.clone()));
                }
                if *name == trial.file_name {
                    continue;
                }
            }
            if kept.defaults == defaults {
                out.push((false, kept.clone()));
            } else if let Some(k) = compile_file(&kept.path, None, defaults, env, diags) {
                out.push((true, Arc::new(k)));
            }
        }
        if !placed {
            if let Some(t) = &tried {
                out.push((true, t.clone()));
            }
        }
        self.tried = tried.map(|t| (trial.file_name.clone(), t));
        out
    }

    /// [`KeptFiles::refresh`] of the files listed (one of them as `trial`
    /// would make it, if any).
    fn refresh_listed(
        &mut self,
        dir: &Path,
        listing: &Listing,
        defaults: Defaults,
        env: &dyn Env,
        diags: &mut Vec<Diagnostic>,
        trial: Option<&Trial>,
    ) -> Vec<(bool, Arc<KeptFile>)> {
        let mut names: Vec<(&str, Option<Stamp>)> =
            listing.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        if let Some(t) = trial {
            names.retain(|(n, _)| *n != t.file_name);
            if t.text.is_some() {
                let at = names.partition_point(|(n, _)| *n < t.file_name.as_str());
                names.insert(at, (t.file_name.as_str(), None));
            }
        }
        // What each file needs: its trial text, nothing (kept), or a read.
        let steps: Vec<(&str, PathBuf, Step<'_>)> = names
            .into_iter()
            .map(|(name, stamp)| {
                let path = dir.join(name);
                let trial_text = trial
                    .filter(|t| t.file_name == name)
                    .and_then(|t| t.text.as_deref());
                let step = match (trial_text, self.files.get(name)) {
                    (Some(text), _) => Step::Trial(text),
                    (None, Some(k)) if k.path.as_ref() == path && k.still_good(stamp, defaults) => {
                        Step::Kept(k.clone())
                    }
                    (None, _) => Step::Read(stamp),
                };
                (name, path, step)
            })
            .collect();
        let reads: Vec<(&Path, usize)> = steps
            .iter()
            .filter_map(|(_, path, step)| match step {
                Step::Read(stamp) => Some((path.as_path(), stamp.map_or(0, |s| s.size()))),
                _ => None,
            })
            .collect();
        let mut kept = Vec::with_capacity(steps.len());
        let mut out = Vec::with_capacity(steps.len());
        with_texts(&reads, |texts| {
            for (name, path, step) in &steps {
                let (file, fresh) = match step {
                    Step::Trial(text) => {
                        match compile_text(path, text, None, defaults, env, diags) {
                            Some(k) => {
                                let k = Arc::new(k);
                                self.tried = Some((name.to_string(), k.clone()));
                                (k, true)
                            }
                            None => continue,
                        }
                    }
                    Step::Kept(k) => (k.clone(), false),
                    Step::Read(stamp) => {
                        let text = texts
                            .next()
                            .unwrap_or_else(|| Err(std::io::Error::other("the file was not read")));
                        match compile_read(path, *stamp, text, defaults, env, diags) {
                            Some(k) => (Arc::new(k), true),
                            None => continue,
                        }
                    }
                };
                out.push((fresh, file.clone()));
                if !matches!(step, Step::Trial(_)) {
                    kept.push((name.to_string(), file));
                }
            }
        });
        if trial.is_some() {
            // A trial leaves the files as they are: only what it compiled
            // of them is kept.
            self.files.extend(kept);
        } else {
            // In order: built in one pass.
            self.files = kept.into_iter().collect();
        }
        out
    }

    /// After the file a trial compiled was written (`Some`: its stamp now)
    /// or removed (`None`): the cache takes it as it is on disk.
    pub(super) fn settle_trial(&mut self, file_name: &str, written: Option<Stamp>) {
        if let Some((_, seen)) = &mut self.seen {
            match (
                seen.binary_search_by(|(n, _)| n.as_str().cmp(file_name)),
                written,
            ) {
                (Ok(i), Some(stamp)) => seen[i].1 = Some(stamp),
                (Ok(i), None) => {
                    seen.remove(i);
                }
                (Err(i), Some(stamp)) => seen.insert(i, (file_name.to_string(), Some(stamp))),
                (Err(_), None) => {}
            }
        }
        let tried = self.tried.take().filter(|(n, _)| n == file_name);
        match (written, tried) {
            (Some(stamp), Some((name, file))) => {
                let _ = file.stamp.set(stamp);
                self.files.insert(name, file);
            }
            _ => {
                self.files.remove(file_name);
            }
        }
    }

    /// The file `tenant` is written in, and whether it is the only tenant
    /// there.
    pub(super) fn holding(&self, tenant: &str) -> Option<(&Path, bool)> {
        self.files.values().find_map(|f| {
            f.tenants
                .iter()
                .any(|t| t.tenant.name == tenant)
                .then(|| (f.path.as_ref(), f.tenants.len() == 1))
        })
    }
}

/// What [`KeptFiles::refresh_listed`] does with one file.
enum Step<'a> {
    /// Compiles the trial's text for it.
    Trial(&'a str),
    /// Keeps it as it was compiled before.
    Kept(Arc<KeptFile>),
    /// Reads and compiles it (its stamp from the listing).
    Read(Option<Stamp>),
}

/// From how many files a refresh reads them on a helper thread, ahead of
/// the compile: opening and reading thousands of files is then done
/// beside the compile, not between its steps. Only the reads move; every
/// file is still compiled on the calling thread.
const READ_AHEAD_FROM: usize = 64;

/// The helper hands the texts over this many at a time (one wake-up of
/// the compile per chunk, not per file)…
const READ_CHUNK: usize = 32;

/// …and reads at most this many chunks ahead of the compile.
const CHUNKS_AHEAD: usize = 4;

/// Calls `use_texts` with the texts of `files` (each path with its size
/// as listed), in order: read on a helper thread when there are many.
fn with_texts<R>(
    files: &[(&Path, usize)],
    use_texts: impl FnOnce(&mut dyn Iterator<Item = std::io::Result<String>>) -> R,
) -> R {
    let mut here = files.iter().map(|(path, size)| read_text(path, *size));
    if files.len() < READ_AHEAD_FROM {
        return use_texts(&mut here);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<_>>(CHUNKS_AHEAD);
        let reading = std::thread::Builder::new()
            .name("portero-read".into())
            .spawn_scoped(scope, move || {
                for chunk in files.chunks(READ_CHUNK) {
                    let texts = chunk
                        .iter()
                        .map(|(path, size)| read_text(path, *size))
                        .collect();
                    if tx.send(texts).is_err() {
                        break;
                    }
                }
            })
            .is_ok();
        // Where no thread could be started, the files are read here.
        let mut ahead = rx.into_iter().flatten();
        use_texts(if reading { &mut ahead } else { &mut here })
    })
}

/// Reads the text of the file at `path`, `size` bytes as listed (more or
/// less is read if it changed). The file's access time is left as it is
/// where the system lets the reader do so: a reload is not a use.
pub(super) fn read_text(path: &Path, size: usize) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Set once the system refused `O_NOATIME` (a file of another user).
    static NOATIME_REFUSED: AtomicBool = AtomicBool::new(false);
    // `O_NONBLOCK` changes nothing for a file; a pipe put in its place
    // after the listing then cannot hold the reload up.
    let open = |flags: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_NONBLOCK)
            .open(path)
    };
    let file = if NOATIME_REFUSED.load(Ordering::Relaxed) {
        open(0)?
    } else {
        match open(libc::O_NOATIME) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                NOATIME_REFUSED.store(true, Ordering::Relaxed);
                open(0)?
            }
            other => other?,
        }
    };
    // `take` reads without first asking the file's size again.
    let mut bytes = Vec::with_capacity(size + 64);
    file.take(u64::MAX).read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        )
    })
}

/// Compiles one file of `tenants_dir`; `None` when it has an error.
/// `listed`: its stamp from the listing just made (taken before it is
/// read, so a write meanwhile is seen by the next look).
fn compile_file(
    path: &Path,
    listed: Option<Stamp>,
    defaults: Defaults,
    env: &dyn Env,
    diags: &mut Vec<Diagnostic>,
) -> Option<KeptFile> {
    let stamp = listed.or_else(|| Stamp::of(path));
    let text = read_text(path, stamp.map_or(0, |s| s.size()));
    compile_read(path, stamp, text, defaults, env, diags)
}

/// Compiles one file of `tenants_dir` from `text` as read (`stamp`: the
/// file's from before the read).
fn compile_read(
    path: &Path,
    stamp: Option<Stamp>,
    text: std::io::Result<String>,
    defaults: Defaults,
    env: &dyn Env,
    diags: &mut Vec<Diagnostic>,
) -> Option<KeptFile> {
    let error = |message: String| Diagnostic {
        severity: Severity::Error,
        file: path.to_path_buf(),
        line: None,
        variable: None,
        message,
    };
    let src = match text {
        Ok(s) => s,
        Err(e) => {
            diags.push(error(format!("cannot read this tenant file: {e}")));
            return None;
        }
    };
    if stamp.is_none() {
        diags.push(error("cannot read this tenant file's metadata".into()));
        return None;
    }
    compile_text(path, &src, stamp, defaults, env, diags)
}

/// Compiles the text of one file of `tenants_dir` (`stamp`: the file's
/// when it was read, `None` for text that is not on disk).
fn compile_text(
    path: &Path,
    src: &str,
    stamp: Option<Stamp>,
    defaults: Defaults,
    env: &dyn Env,
    diags: &mut Vec<Diagnostic>,
) -> Option<KeptFile> {
    let mut cx = Ctx::new(src, path, env);
    let raw = match DeTable::parse(src) {
        Ok(root) => {
            let mut raw = RawTenants::default();
            for (key, value) in root.into_inner() {
                if key.get_ref() == "tenant" {
                    read_tenants(&mut cx, value, &mut raw);
                } else {
                    cx.err(
                        key.span(),
                        format!(
                            "a file in tenants_dir holds only [[tenant]] tables; `{}` belongs in the main configuration file",
                            key.get_ref()
                        ),
                    );
                }
            }
            raw
        }
        Err(e) => {
            cx.err(
                e.span().unwrap_or(0..0),
                format!("not valid TOML: {}", e.message()),
            );
            RawTenants::default()
        }
    };
    if raw.is_empty() && !cx.has_errors() {
        cx.warn(0..0, "this file holds no [[tenant]]");
    }
    let tenants: Vec<KeptTenant> = raw
        .into_iter()
        .filter_map(|(t, misspelt)| tenant::compile(&mut cx, t, misspelt, defaults))
        .map(KeptTenant::from)
        .collect();
    let sound = !cx.has_errors();
    let finished = cx.finish();
    diags.extend(finished.diags);
    sound.then(|| KeptFile {
        path: Arc::from(path),
        stamp: stamp.map(std::sync::OnceLock::from).unwrap_or_default(),
        defaults,
        reads: finished
            .reads
            .into_iter()
            .map(|p| {
                let s = Stamp::of(&p);
                (p, s)
            })
            .collect(),
        tenants,
        remote: finished.remote,
    })
}

/// Every tenant of a compile, put together.
pub(super) struct Assembled {
    /// In order: the main file's, then each file's.
    pub(super) tenants: Vec<Arc<Tenant>>,
    /// Host → index into `tenants`.
    pub(super) hosts: HostTable<usize>,
    /// Name → index into `tenants`.
    pub(super) by_name: HashMap<String, usize>,
    /// Every tenant's IdP documents.
    pub(super) remote: Vec<Arc<dyn Refresh>>,
}

/// Puts the main file's tenants and each file's together, refusing a name
/// or a host two tenants claim. The tenant blamed is one compiled now when
/// the other was kept from before: the file just written is the one to fix.
pub(super) fn assemble(
    main_file: &Path,
    main: Vec<Compiled>,
    main_remote: Vec<Arc<dyn Refresh>>,
    files: &[(bool, Arc<KeptFile>)],
    diags: &mut Vec<Diagnostic>,
) -> Assembled {
    let main_file: Arc<Path> = Arc::from(main_file);
    let main: Vec<KeptTenant> = main.into_iter().map(KeptTenant::from).collect();
    // (file, fresh, tenant) in final order.
    let mut all: Vec<(&Arc<Path>, bool, &KeptTenant)> =
        main.iter().map(|t| (&main_file, true, t)).collect();
    for (fresh, file) in files {
        all.extend(file.tenants.iter().map(|t| (&file.path, *fresh, t)));
    }
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| all[i].1);
    let mut hosts = HostTable::with_capacity(all.iter().map(|(_, _, k)| k.hosts.len()).sum());
    let mut by_name = HashMap::with_capacity(all.len());
    for i in order {
        let (file, _, kept) = all[i];
        let t = &kept.tenant;
        let at = |line: usize, message: String| Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: Some(line),
            variable: None,
            message,
        };
        let other = |j: usize| {
            let (f, _, o) = all[j];
            format!(
                "tenant `{}` ({}:{})",
                o.tenant.name,
                f.display(),
                o.name_line
            )
        };
        if let Some(&j) = by_name.get(&t.name) {
            diags.push(at(
                kept.name_line,
                format!(
                    "tenant `{}`: another tenant has the same name: {}",
                    t.name,
                    other(j)
                ),
            ));
            continue;
        }
        by_name.insert(t.name.clone(), i);
        for (pattern, line) in &kept.hosts {
            if let Some(j) = hosts.insert(pattern.clone(), i) {
                if j != i {
                    diags.push(at(
                        *line,
                        format!(
                            "tenant `{}`: host `{pattern}` is already served by {}",
                            t.name,
                            other(j)
                        ),
                    ));
                }
            }
        }
    }
    let mut remote = main_remote;
    for (_, file) in files {
        remote.extend(file.remote.iter().cloned());
    }
    Assembled {
        tenants: all.iter().map(|(_, _, k)| k.tenant.clone()).collect(),
        hosts,
        by_name,
        remote,
    }
}
