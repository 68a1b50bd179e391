//! The control thread's task that keeps every ACME host's certificate
//! fresh. Each second (first at start):
//!
//! 1. finished orders are settled: a new certificate goes into the map the
//!    listeners read (served from the next handshake), a failure puts its
//!    host in backoff (5 minutes, doubling up to a day; the next try uses
//!    the next challenge listed) — never the other hosts;
//! 2. after a start or a reload, the certificates kept in the store are
//!    loaded for the hosts configured, and hosts no longer configured stop
//!    being served;
//! 3. on a shared store, the challenges other nodes put up are read (the
//!    CA's validation may reach this node for them);
//! 4. hosts without a certificate, or whose certificate is due
//!    ([`super::due`], the clock is the state's), are ordered: at most
//!    four at once and `orders_per_hour` an hour, those without a
//!    certificate first, then by expiry. Each order first looks in the
//!    store (another node may have renewed it) and takes the host's lease
//!    there, so of several nodes only one orders a host; the others pick
//!    its certificate up from the store.
//!
//! Hosts come only from the configuration: nothing a client sends can
//! start an order.

use super::certs::{due, Issued};
use super::challenge::Challenge;
use super::order::{self, Posting};
use super::{client, files};
use crate::config::{Acme as Settings, AcmeChallenge, Config};
use crate::state::State;
use crate::store::{Store, StoredCertificate};
use instant_acme::{Account, AccountCredentials, NewAccount};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How often the task looks.
const TICK: Duration = Duration::from_secs(1);
/// Orders running at once (on this node).
const AT_ONCE: usize = 4;
/// How long a node holds a host's lease while ordering (longer than an
/// order may take).
const LEASE: u64 = 600;
/// The first wait after a failed order; it doubles with each failure.
const FIRST_BACKOFF: u64 = 300;
/// The longest wait after failures.
const MAX_BACKOFF: u64 = 86_400;
/// How soon a host another node is ordering is looked at again.
const BUSY_RETRY: u64 = 5;
/// How soon a host is tried again when the store could not be asked.
const STORE_RETRY: u64 = 30;
/// The first wait after the account could not be opened or made.
const ACCOUNT_RETRY: u64 = 60;
/// How long no order is placed after the CA said "rate limited".
const RATE_LIMIT_PAUSE: u64 = 3600;

/// Loads the certificates kept in the store for the configured hosts, so
/// the listeners serve them from their first handshake (after a restart or
/// an upgrade). Run before the listeners start, outside any runtime: on a
/// thread and a runtime of its own; no database connection made there is
/// kept.
pub fn load_before_serving(state: &State) {
    let cfg = state.config();
    let (Some(handle), false) = (&state.store, cfg.acme_hosts.is_empty()) else {
        return;
    };
    let loaded = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let mut renewer = Renewer::new();
                    Ok::<bool, String>(renewer.load(state, &cfg, &handle.store).await)
                })
            })
            .join()
            .unwrap_or_else(|_| Err("loading the certificates failed".into()))
    });
    handle.store.release_connections();
    if let Err(e) = loaded {
        tracing::error!("acme: the certificates kept in the store are not loaded yet: {e}");
    }
}

/// Keeps the certificates of every ACME host fresh; runs until dropped.
pub async fn run(state: Arc<State>) {
    let mut renewer = Renewer::new();
    loop {
        renewer.tick(&state).await;
        tokio::time::sleep(TICK).await;
    }
}

/// A host's wait after failures.
#[derive(Debug, Default, Clone, Copy)]
struct Wait {
    /// Not tried again before this (Unix seconds).
    next_try: u64,
    /// Failed orders in a row.
    failures: u32,
}

/// How one host's turn ended.
enum Outcome {
    /// A certificate was issued to this node.
    Issued(Arc<Issued>),
    /// Another node's certificate, not due, was in the store.
    Adopted(Arc<Issued>),
    /// Another node holds the host's lease (ordering, or waiting out a
    /// failure).
    Busy,
    /// The order failed (the host is in backoff, on every node).
    Failed {
        error: String,
        challenge: AcmeChallenge,
        retry_in: u64,
    },
    /// The store could not be asked; nothing was ordered.
    StoreDown(String),
}

/// The wait after the `n`-th failure in a row.
fn backoff(n: u32) -> u64 {
    let doubled = FIRST_BACKOFF.saturating_mul(1u64 << n.saturating_sub(1).min(20));
    doubled.min(MAX_BACKOFF)
}

struct Renewer {
    /// This process, as lease holder.
    node: Arc<str>,
    /// The configuration the map was last loaded for; weak, so that a
    /// replaced configuration is freed when it is replaced, not here later.
    loaded: Option<std::sync::Weak<Config>>,
    /// Whether loading from the store failed last time (said once).
    load_failing: bool,
    /// The account, for (directory, extra CA), and its credentials as kept.
    account: Option<((String, Option<String>), Account, String)>,
    /// The CA said the account does not exist: forget it, make another.
    account_gone: bool,
    /// The CA said "rate limited": no new order before this.
    paused_until: u64,
    /// When to try the account again, and how many tries failed.
    account_wait: Wait,
    /// Hosts in backoff.
    waits: HashMap<String, Wait>,
    /// Hosts being ordered now.
    running: HashSet<String>,
    jobs: JoinSet<(String, Outcome)>,
    /// When the orders of the last hour were started.
    placed: VecDeque<u64>,
    /// Whether the store file was made private.
    restricted: bool,
}

impl Renewer {
    fn new() -> Renewer {
        let mut id = [0u8; 6];
        let _ = getrandom::getrandom(&mut id);
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Renewer {
            node: format!("{}-{hex}", std::process::id()).into(),
            loaded: None,
            load_failing: false,
            account: None,
            account_gone: false,
            paused_until: 0,
            account_wait: Wait::default(),
            waits: HashMap::new(),
            running: HashSet::new(),
            jobs: JoinSet::new(),
            placed: VecDeque::new(),
            restricted: false,
        }
    }

    async fn tick(&mut self, state: &Arc<State>) {
        let now = state.now();
        while let Some(done) = self.jobs.try_join_next() {
            if let Ok((host, outcome)) = done {
                self.settle(state, host, outcome, now);
            }
        }
        let cfg = state.config();
        let Some(handle) = &state.store else {
            return;
        };
        let store = &handle.store;
        if !self
            .loaded
            .as_ref()
            .is_some_and(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&cfg)))
        {
            if !self.load(state, &cfg, store).await {
                return;
            }
            self.loaded = Some(Arc::downgrade(&cfg));
        }
        let Some(settings) = &cfg.server.acme else {
            return;
        };
        if store.is_shared() {
            read_shared_challenges(state, store, now).await;
        }
        if self.account_gone {
            self.account_gone = false;
            if let Some(((directory, _), _, json)) = self.account.take() {
                tracing::warn!(directory = %directory, "acme: the CA no longer knows the account; a new one is made");
                if let Err(e) = store.acme_forget_account(&directory, &json).await {
                    tracing::warn!("acme: the unknown account stays in the store: {e}");
                }
            }
        }
        let Some(account) = self.account(state, settings, store, now).await else {
            return;
        };
        self.start_due(state, &cfg, settings, &account, now);
    }

    /// Stops serving hosts no longer configured and loads the stored
    /// certificates of those that are (a newer one than in force replaces
    /// it). False when the store could not be read (tried next tick).
    async fn load(&mut self, state: &State, cfg: &Config, store: &Store) -> bool {
        let gone = state
            .acme
            .certificates
            .retain(|h| cfg.acme_hosts.contains(h));
        state.acme.forget_failures(|h| cfg.acme_hosts.contains(h));
        for host in gone {
            let _ = state.metrics.acme_expiry.remove_label_values(&[&host]);
            tracing::info!(host = %host, "acme: no longer configured; its certificate is no longer served");
        }
        self.waits.retain(|h, _| cfg.acme_hosts.contains(h));
        if cfg.acme_hosts.is_empty() {
            return true;
        }
        if !self.restricted && !store.is_shared() {
            if let Some(dir) = &cfg.server.data_dir {
                files::restrict_store_file(dir);
            }
            self.restricted = true;
        }
        let rows = match store.acme_certificates().await {
            Ok(rows) => rows,
            Err(e) => {
                if !self.load_failing {
                    tracing::error!("acme: the certificates kept in the store cannot be read: {e}");
                }
                self.load_failing = true;
                return false;
            }
        };
        self.load_failing = false;
        let mut fresh = Vec::new();
        for row in rows {
            if !cfg.acme_hosts.contains(&row.host) {
                continue;
            }
            let newer = state
                .acme
                .certificates
                .get(&row.host)
                .is_none_or(|i| (i.not_after as i64) < row.not_after);
            if !newer {
                continue;
            }
            match Issued::from_pem(&row.chain, &row.private_key) {
                Ok(i) => fresh.push((row.host, Arc::new(i))),
                Err(e) => {
                    tracing::warn!(host = %row.host, "acme: the stored certificate cannot be used ({e}); a new one will be ordered")
                }
            }
        }
        for (host, i) in &fresh {
            set_expiry(state, host, i);
        }
        if !fresh.is_empty() {
            tracing::info!(
                hosts = fresh.len(),
                "acme: certificates loaded from the store"
            );
        }
        state.acme.certificates.put(fresh);
        true
    }

    /// The account for the CA in force: opened from the store, or made
    /// (and kept there) the first time; after a failure, tried again with
    /// a backoff.
    async fn account(
        &mut self,
        state: &State,
        settings: &Settings,
        store: &Store,
        now: u64,
    ) -> Option<Account> {
        let key = (settings.directory.clone(), settings.ca.clone());
        if let Some((k, account, _)) = &self.account {
            if *k == key {
                return Some(account.clone());
            }
        }
        if now < self.account_wait.next_try {
            return None;
        }
        match open_account(state, settings, store, now).await {
            Ok((account, json)) => {
                tracing::info!(directory = %settings.directory, "acme: account ready");
                self.account = Some((key, account.clone(), json));
                self.account_wait = Wait::default();
                Some(account)
            }
            Err(e) => {
                let failures = self.account_wait.failures.saturating_add(1);
                let wait = ACCOUNT_RETRY
                    .saturating_mul(1u64 << failures.saturating_sub(1).min(6))
                    .min(3600);
                tracing::warn!(
                    directory = %settings.directory,
                    retry_in_s = wait,
                    "acme: no account with the CA: {e}"
                );
                self.account_wait = Wait {
                    next_try: now + wait,
                    failures,
                };
                None
            }
        }
    }

    /// Starts orders for the hosts that are due, as the limits allow.
    fn start_due(
        &mut self,
        state: &Arc<State>,
        cfg: &Config,
        settings: &Settings,
        account: &Account,
        now: u64,
    ) {
        if self.running.len() >= AT_ONCE || now < self.paused_until {
            return;
        }
        let certs = state.acme.certificates.snapshot();
        let mut wanted: Vec<(u64, &String)> = cfg
            .acme_hosts
            .iter()
            .filter(|h| !self.running.contains(*h))
            .filter(|h| self.waits.get(*h).is_none_or(|w| w.next_try <= now))
            .filter_map(|h| match certs.get(h) {
                None => Some((0, h)),
                Some(i) if due(now, i.not_before, i.not_after, settings.renew_before) => {
                    Some((i.not_after, h))
                }
                Some(_) => None,
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        wanted.sort();
        while self.placed.front().is_some_and(|t| *t + 3600 <= now) {
            self.placed.pop_front();
        }
        for (_, host) in wanted {
            if self.running.len() >= AT_ONCE {
                break;
            }
            if self.placed.len() >= settings.orders_per_hour as usize {
                tracing::debug!("acme: orders_per_hour reached; the next orders wait");
                break;
            }
            self.placed.push_back(now);
            let wait = self.waits.get(host).copied().unwrap_or_default();
            let n = settings.challenges.len().max(1);
            let challenge = settings
                .challenges
                .get(wait.failures as usize % n)
                .copied()
                .unwrap_or(AcmeChallenge::Http01);
            self.running.insert(host.clone());
            let job = Job {
                state: state.clone(),
                account: account.clone(),
                node: self.node.clone(),
                host: host.clone(),
                challenge,
                renew_before: settings.renew_before,
                retry_in: backoff(wait.failures.saturating_add(1)),
            };
            let host = host.clone();
            self.jobs.spawn(async move { (host, job.run().await) });
        }
    }

    /// Records how a host's turn ended.
    fn settle(&mut self, state: &State, host: String, outcome: Outcome, now: u64) {
        self.running.remove(&host);
        let metrics = &state.metrics;
        match outcome {
            Outcome::Issued(i) => {
                metrics.acme_orders.with_label_values(&["issued"]).inc();
                tracing::info!(
                    host = %host,
                    not_after = i.not_after,
                    "acme: certificate issued; served from the next handshake on"
                );
                set_expiry(state, &host, &i);
                self.waits.remove(&host);
                state.acme.note(&host, None);
                state.acme.certificates.put(vec![(host, i)]);
            }
            Outcome::Adopted(i) => {
                self.placed.pop_back();
                tracing::info!(
                    host = %host,
                    not_after = i.not_after,
                    "acme: certificate obtained by another node; served from the next handshake on"
                );
                set_expiry(state, &host, &i);
                self.waits.remove(&host);
                state.acme.note(&host, None);
                state.acme.certificates.put(vec![(host, i)]);
            }
            Outcome::Busy => {
                self.placed.pop_back();
                let w = self.waits.entry(host).or_default();
                w.next_try = now + BUSY_RETRY;
            }
            Outcome::StoreDown(e) => {
                self.placed.pop_back();
                tracing::warn!(host = %host, "acme: not ordered, the store cannot be asked: {e}");
                let w = self.waits.entry(host).or_default();
                w.next_try = now + STORE_RETRY;
            }
            Outcome::Failed {
                error,
                challenge,
                retry_in,
            } => {
                metrics.acme_orders.with_label_values(&["failed"]).inc();
                metrics.acme_failures.with_label_values(&[&host]).inc();
                tracing::warn!(
                    host = %host,
                    challenge = challenge.name(),
                    retry_in_s = retry_in,
                    "acme: ordering a certificate failed: {error}"
                );
                if error.contains("urn:ietf:params:acme:error:rateLimited") {
                    tracing::warn!(
                        pause_s = RATE_LIMIT_PAUSE,
                        "acme: the CA limits this account's rate; no new order for an hour"
                    );
                    self.paused_until = now + RATE_LIMIT_PAUSE;
                }
                if error.contains("urn:ietf:params:acme:error:accountDoesNotExist") {
                    self.account_gone = true;
                }
                state.acme.note(&host, Some(&error));
                let w = self.waits.entry(host).or_default();
                w.failures = w.failures.saturating_add(1);
                w.next_try = now + retry_in;
            }
        }
    }
}

/// `portero_acme_certificate_expiry_timestamp_seconds{host}`.
fn set_expiry(state: &State, host: &str, i: &Issued) {
    state
        .metrics
        .acme_expiry
        .with_label_values(&[host])
        .set(i.not_after as f64);
}

/// Opens the account kept in the store for this CA, or makes one and keeps
/// it (when another node kept one first, that one is used); with its
/// credentials as kept.
async fn open_account(
    state: &State,
    settings: &Settings,
    store: &Store,
    now: u64,
) -> Result<(Account, String), String> {
    let http = || client::Client::new(settings.ca.as_deref()).map(Box::new);
    let restore = |json: &str| {
        serde_json::from_str::<AccountCredentials>(json)
            .map_err(|e| format!("the account kept in the store cannot be read: {e}"))
    };
    let kept = store
        .acme_account(&settings.directory)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(json) = kept {
        let account = Account::builder_with_http(http()?)
            .from_credentials(restore(&json)?)
            .await
            .map_err(|e| format!("the CA's directory: {e}"))?;
        return Ok((account, json));
    }
    let contact: Vec<String> = settings
        .email
        .iter()
        .map(|e| format!("mailto:{e}"))
        .collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = Account::builder_with_http(http()?)
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            settings.directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("making the account: {e}"))?;
    let json = serde_json::to_string(&credentials).map_err(|e| e.to_string())?;
    let kept = store
        .acme_keep_account(&settings.directory, &json, now)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(dir) = &state.config().server.data_dir {
        if let Err(e) = files::write_account(dir, &settings.directory, &kept) {
            tracing::warn!("acme: the copy of the account under data_dir: {e}");
        }
    }
    if kept == json {
        return Ok((account, json));
    }
    // Another node made one at the same moment: everyone uses the one kept.
    let account = Account::builder_with_http(http()?)
        .from_credentials(restore(&kept)?)
        .await
        .map_err(|e| format!("the CA's directory: {e}"))?;
    Ok((account, kept))
}

/// Reads the challenges put up in the shared store (by any node).
async fn read_shared_challenges(state: &State, store: &Store, now: u64) {
    let Ok(rows) = store.acme_challenges(now).await else {
        return;
    };
    let list: Vec<Challenge> = rows
        .into_iter()
        .filter_map(|r| {
            let kind = match r.kind.as_str() {
                "http-01" => AcmeChallenge::Http01,
                "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
                _ => return None,
            };
            Some(Challenge {
                token: r.token,
                host: r.host,
                kind,
                key_authorization: r.key_authorization,
            })
        })
        .collect();
    state.acme.pending.replace_shared(&list);
}

/// One host's turn, off the task's loop.
struct Job {
    state: Arc<State>,
    account: Account,
    node: Arc<str>,
    host: String,
    challenge: AcmeChallenge,
    renew_before: u64,
    /// The backoff should this order fail.
    retry_in: u64,
}

impl Job {
    /// The stored certificate of the host when it is not due and newer
    /// than the one in force here.
    async fn stored_fresh(
        &self,
        store: &Store,
        now: u64,
    ) -> Result<Option<Arc<Issued>>, crate::store::StoreError> {
        let Some(row) = store.acme_certificate(&self.host).await? else {
            return Ok(None);
        };
        match Issued::from_pem(&row.chain, &row.private_key) {
            Ok(i) if !due(now, i.not_before, i.not_after, self.renew_before) => {
                let newer = self
                    .state
                    .acme
                    .certificates
                    .get(&self.host)
                    .is_none_or(|mine| mine.not_after < i.not_after);
                Ok(newer.then(|| Arc::new(i)))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(host = %self.host, "acme: the stored certificate cannot be used ({e}); ordering a new one");
                Ok(None)
            }
        }
    }

    async fn run(self) -> Outcome {
        let Some(handle) = &self.state.store else {
            return Outcome::StoreDown("no store".into());
        };
        let store = &handle.store;
        let host = self.host.as_str();
        let now = self.state.now();
        // Renewed by another node meanwhile?
        match self.stored_fresh(store, now).await {
            Err(e) => return Outcome::StoreDown(e.to_string()),
            Ok(Some(i)) => return Outcome::Adopted(i),
            Ok(None) => {}
        }
        match store
            .acme_take_lease(host, &self.node, now + LEASE, now)
            .await
        {
            Err(e) => return Outcome::StoreDown(e.to_string()),
            Ok(false) => return Outcome::Busy,
            Ok(true) => {}
        }
        // Another node may have stored one and let go of the lease between
        // the look and the lease: look again, holding it.
        match self.stored_fresh(store, now).await {
            Err(e) => {
                let _ = store.acme_release_lease(host, &self.node).await;
                return Outcome::StoreDown(e.to_string());
            }
            Ok(Some(i)) => {
                let _ = store.acme_release_lease(host, &self.node).await;
                return Outcome::Adopted(i);
            }
            Ok(None) => {}
        }
        let posting = Posting {
            pending: &self.state.acme.pending,
            shared: store.is_shared().then_some(store),
            now,
        };
        let obtained = order::obtain(&self.account, host, self.challenge, &posting)
            .await
            .and_then(|o| {
                let i = Issued::from_pem(&o.chain, &o.private_key)
                    .map_err(|e| format!("the CA's certificate cannot be used: {e}"))?;
                Ok((o, i))
            });
        let (obtained, issued) = match obtained {
            Ok(done) => done,
            Err(error) => {
                let until = self.state.now() + self.retry_in;
                if let Err(e) = store.acme_hold_lease(host, &self.node, until).await {
                    tracing::warn!(
                        host,
                        "acme: the backoff is not shared with the other nodes: {e}"
                    );
                }
                return Outcome::Failed {
                    error,
                    challenge: self.challenge,
                    retry_in: self.retry_in,
                };
            }
        };
        let row = StoredCertificate {
            host: host.to_string(),
            chain: obtained.chain,
            private_key: obtained.private_key,
            not_after: i64::try_from(issued.not_after).unwrap_or(i64::MAX),
            updated_at: i64::try_from(self.state.now()).unwrap_or(0),
        };
        if let Err(e) = store.acme_put_certificate(&row).await {
            tracing::error!(host, "acme: the new certificate is served by this node but not kept in the store (other nodes and a restart will not have it): {e}");
        }
        if let Some(dir) = &self.state.config().server.data_dir {
            if let Err(e) = files::write_certificate(dir, host, &row.chain, &row.private_key) {
                tracing::warn!(host, "acme: the copy under data_dir: {e}");
            }
        }
        if let Err(e) = store.acme_release_lease(host, &self.node).await {
            tracing::warn!(host, "acme: the lease stays until it runs out: {e}");
        }
        Outcome::Issued(Arc::new(issued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_five_minutes_up_to_a_day() {
        assert_eq!(backoff(1), 300);
        assert_eq!(backoff(2), 600);
        assert_eq!(backoff(3), 1200);
        assert_eq!(backoff(9), 76_800);
        assert_eq!(backoff(10), 86_400);
        assert_eq!(backoff(1000), 86_400);
    }
}
