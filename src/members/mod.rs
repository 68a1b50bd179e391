//! A tenant's memberships looked up per request, behind one call, from the
//! source [`crate::membership`] describes: the embedded
//! store (a snapshot in memory), the static `[[tenant.member]]` list, the
//! panel's HTTP endpoint (cached), or the IdP's roles carried by the
//! session. Every lookup is in memory; the panel endpoint is asked before
//! the decision, only when its cache has no usable answer
//! ([`Source::Fetch`]).

pub mod admin;
pub mod change;

use crate::config::{Config, Tenant};
use crate::membership::panel::{Cached, PanelEndpoint};
use crate::membership::Directory;
use crate::membership::MemberSource;
use crate::session::SessionClaims;
use crate::store::{Store, StoreError};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

static EMPTY: LazyLock<Directory> = LazyLock::new(Directory::default);

/// A directory to read, however it is held.
#[derive(Debug)]
pub enum Dir<'a> {
    /// The configuration's.
    Borrowed(&'a Directory),
    /// A snapshot or cache entry.
    Shared(Arc<Directory>),
    /// Built for this request (IdP roles).
    Owned(Directory),
}

impl std::ops::Deref for Dir<'_> {
    type Target = Directory;
    fn deref(&self) -> &Directory {
        match self {
            Dir::Borrowed(d) => d,
            Dir::Shared(d) => d,
            Dir::Owned(d) => d,
        }
    }
}

/// What the source can tell about a session's user now.
#[derive(Debug)]
pub enum Source<'a> {
    /// Their memberships.
    Ready(Dir<'a>),
    /// Ask the panel's endpoint first.
    Fetch(Arc<PanelEndpoint>),
    /// The source cannot answer now.
    Unavailable,
}

/// The memberships that apply to a session on this tenant.
pub fn resolve<'a>(
    store: Option<&StoreHandle>,
    tenant: &'a Tenant,
    session: &SessionClaims,
    now: u64,
) -> Source<'a> {
    match &tenant.members {
        MemberSource::Static(d) => Source::Ready(Dir::Borrowed(d)),
        MemberSource::Store => match store.and_then(|s| s.get(&tenant.name)) {
            Some(d) => Source::Ready(Dir::Shared(d)),
            None => Source::Ready(Dir::Borrowed(&EMPTY)),
        },
        MemberSource::Panel(p) => match p.cached(session.user(), now) {
            Cached::Use(Some(d)) => Source::Ready(Dir::Shared(d)),
            Cached::Use(None) => Source::Ready(Dir::Borrowed(&EMPTY)),
            Cached::Fetch => Source::Fetch(p.clone()),
            Cached::Unavailable => Source::Unavailable,
        },
        MemberSource::Idp(map) => {
            Source::Ready(Dir::Owned(map.directory(session.user(), session.roles())))
        }
    }
}

/// The store and the snapshot of each store tenant's directory.
#[derive(Debug)]
pub struct StoreHandle {
    /// The store (a SQLite file, or PostgreSQL).
    pub store: Store,
    dirs: ArcSwap<HashMap<String, Arc<Directory>>>,
    version: AtomicU64,
    /// Why the database cannot be reached now (`None`: it can).
    unreachable: std::sync::Mutex<Option<String>>,
    /// One reload at a time: each reads and stores under it, so a reload
    /// that read earlier can never store over one that read later (a
    /// node's own change and another node's notification arrive together).
    reloading: tokio::sync::Mutex<()>,
}

impl StoreHandle {
    /// Opens the store (`[server].database`, else the file under
    /// `[server].data_dir`; neither: no store) and loads every store tenant
    /// of `cfg`.
    pub async fn open(cfg: &Config) -> Result<Option<StoreHandle>, StoreError> {
        let Some(store) = Store::for_server(&cfg.server).await? else {
            return Ok(None);
        };
        let handle = StoreHandle {
            store,
            dirs: ArcSwap::from_pointee(HashMap::new()),
            version: AtomicU64::new(0),
            unreachable: std::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        };
        handle.reload(cfg).await?;
        Ok(Some(handle))
    }

    /// [`StoreHandle::open`] from code that is not async (the process's
    /// start, before its runtime): run on a thread of its own, and no
    /// connection made there is kept (the pool makes new ones on the
    /// runtime that serves).
    pub fn open_now(cfg: &Config) -> Result<Option<StoreHandle>, StoreError> {
        let handle = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| StoreError::Database(format!("a runtime: {e}")))?
                        .block_on(StoreHandle::open(cfg))
                })
                .join()
                .unwrap_or_else(|_| Err(StoreError::Database("opening the store failed".into())))
        })?;
        if let Some(h) = &handle {
            h.store.release_connections();
        }
        Ok(handle)
    }

    /// A store tenant's directory.
    pub fn get(&self, tenant: &str) -> Option<Arc<Directory>> {
        self.dirs.load().get(tenant).cloned()
    }

    /// Why the database cannot be reached now (`None`: it can, or it is
    /// the embedded file).
    pub fn unreachable(&self) -> Option<String> {
        self.unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records whether the last attempt reached the database; says so in
    /// the log when that changes.
    pub fn note_reach<T>(&self, outcome: &Result<T, StoreError>) {
        let now = match outcome {
            Err(e) if e.is_unreachable() => Some(e.to_string()),
            _ => None,
        };
        let mut was = self
            .unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&*was, &now) {
            (None, Some(e)) => tracing::error!(
                "membership store: {e}; serving the last snapshot, changes are refused until it is back"
            ),
            (Some(_), None) => tracing::info!("membership store: the database is reachable again"),
            _ => {}
        }
        *was = now;
    }

    /// Loads every store tenant's directory again (after a change, or a
    /// reload that may have added tenants or reseller accounts). On any
    /// error the snapshot in force is kept whole.
    pub async fn reload(&self, cfg: &Config) -> Result<(), StoreError> {
        let outcome = self.reload_all(cfg).await;
        self.note_reach(&outcome);
        outcome
    }

    async fn reload_all(&self, cfg: &Config) -> Result<(), StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let version = self.store.data_version().await?;
        let mut dirs = HashMap::new();
        for t in cfg
            .tenants
            .iter()
            .filter(|t| matches!(t.members, MemberSource::Store))
        {
            self.store.put_accounts(&t.name, &t.client_accounts).await?;
            dirs.insert(t.name.clone(), Arc::new(self.load(t).await?));
        }
        self.dirs.store(Arc::new(dirs));
        self.version.store(version, Ordering::Release);
        Ok(())
    }

    /// After a configuration reload: loads the directories of the store
    /// tenants that are new or were compiled again (`old` did not have
    /// the same tenant), keeps the others' and forgets the tenants that
    /// are gone. A reload that changed one tenant file reads one tenant's
    /// directory, not every tenant's.
    pub async fn reload_changed(&self, old: &Config, new: &Config) -> Result<(), StoreError> {
        let outcome = self.reload_changed_inner(old, new).await;
        self.note_reach(&outcome);
        outcome
    }

    async fn reload_changed_inner(&self, old: &Config, new: &Config) -> Result<(), StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let kept = self.dirs.load_full();
        let mut dirs = HashMap::with_capacity(kept.len());
        for (i, t) in new.tenants.iter().enumerate() {
            if !matches!(t.members, MemberSource::Store) {
                continue;
            }
            let same = old
                .by_name
                .get(&t.name)
                .and_then(|&j| old.tenants.get(j))
                .is_some_and(|o| Arc::ptr_eq(o, t));
            match kept.get(&t.name) {
                Some(d) if same => {
                    dirs.insert(t.name.clone(), d.clone());
                }
                _ => {
                    let t = &new.tenants[i];
                    self.store.put_accounts(&t.name, &t.client_accounts).await?;
                    dirs.insert(t.name.clone(), Arc::new(self.load(t).await?));
                }
            }
        }
        self.dirs.store(Arc::new(dirs));
        Ok(())
    }

    /// Loads one store tenant's directory again (after a change made here,
    /// or announced by another node).
    pub async fn reload_tenant(&self, cfg: &Config, tenant: &str) -> Result<(), StoreError> {
        let Some(t) = cfg
            .tenant_named(tenant)
            .filter(|t| matches!(t.members, MemberSource::Store))
        else {
            return Ok(());
        };
        let _one_at_a_time = self.reloading.lock().await;
        let loaded = self.load(t).await;
        self.note_reach(&loaded);
        let d = Arc::new(loaded?);
        self.dirs.rcu(|dirs| {
            let mut dirs = HashMap::clone(dirs);
            dirs.insert(t.name.clone(), d.clone());
            dirs
        });
        Ok(())
    }

    /// A store tenant's directory read from the store, with the tenant's
    /// settings that shape it.
    async fn load(&self, t: &Tenant) -> Result<Directory, StoreError> {
        let mut d = self.store.directory(&t.name).await?;
        d.sublogin_keeps_sublogin = t.sublogin_keeps_sublogin;
        d.lock_provisioned_names = t.lock_provisioned_fields;
        Ok(d)
    }

    /// Reloads when another connection (`portero accounts` in another
    /// process, another node) changed the store: the periodic check, and
    /// the fallback when notifications are lost.
    pub async fn reload_if_changed(&self, cfg: &Config) -> Result<bool, StoreError> {
        let version = self.store.data_version().await;
        self.note_reach(&version);
        if version? == self.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload(cfg).await?;
        Ok(true)
    }
}
