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

/// The embedded store and the snapshot of each store tenant's directory.
#[derive(Debug)]
pub struct StoreHandle {
    /// The store file.
    pub store: Store,
    dirs: ArcSwap<HashMap<String, Arc<Directory>>>,
    version: AtomicU64,
}

impl StoreHandle {
    /// Opens the store under `[server].data_dir` (when set) and loads every
    /// store tenant of `cfg`.
    pub fn open(cfg: &Config) -> Result<Option<StoreHandle>, StoreError> {
        let Some(dir) = cfg.server.data_dir.as_ref() else {
            return Ok(None);
        };
        let handle = StoreHandle {
            store: Store::open(&dir.join("portero.db"))?,
            dirs: ArcSwap::from_pointee(HashMap::new()),
            version: AtomicU64::new(0),
        };
        handle.reload(cfg)?;
        Ok(Some(handle))
    }

    /// A store tenant's directory.
    pub fn get(&self, tenant: &str) -> Option<Arc<Directory>> {
        self.dirs.load().get(tenant).cloned()
    }

    /// Loads every store tenant's directory again (after a change, or a
    /// reload that may have added tenants or reseller accounts).
    pub fn reload(&self, cfg: &Config) -> Result<(), StoreError> {
        let version = self.store.data_version();
        let mut dirs = HashMap::new();
        for t in cfg
            .tenants
            .iter()
            .filter(|t| matches!(t.members, MemberSource::Store))
        {
            for (account, reseller) in &t.client_accounts {
                self.store.put_account(&t.name, account, Some(reseller))?;
            }
            dirs.insert(t.name.clone(), Arc::new(self.load(t)?));
        }
        self.dirs.store(Arc::new(dirs));
        self.version.store(version, Ordering::Release);
        Ok(())
    }

    /// Loads one store tenant's directory again (after a change made here).
    pub fn reload_tenant(&self, cfg: &Config, tenant: &str) -> Result<(), StoreError> {
        let Some(t) = cfg
            .tenant_named(tenant)
            .filter(|t| matches!(t.members, MemberSource::Store))
        else {
            return Ok(());
        };
        let d = Arc::new(self.load(t)?);
        self.dirs.rcu(|dirs| {
            let mut dirs = HashMap::clone(dirs);
            dirs.insert(t.name.clone(), d.clone());
            dirs
        });
        Ok(())
    }

    /// A store tenant's directory read from the file, with the tenant's
    /// settings that shape it.
    fn load(&self, t: &Tenant) -> Result<Directory, StoreError> {
        let mut d = self.store.directory(&t.name)?;
        d.sublogin_keeps_sublogin = t.sublogin_keeps_sublogin;
        d.lock_provisioned_names = t.lock_provisioned_fields;
        Ok(d)
    }

    /// Reloads when another connection (`portero accounts` in another
    /// process) changed the file.
    pub fn reload_if_changed(&self, cfg: &Config) -> Result<bool, StoreError> {
        if self.store.data_version() == self.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload(cfg)?;
        Ok(true)
    }
}
