//! Session cookies already opened: a busy session does not pay the AEAD
//! and the JSON on every request.
//!
//! Keyed by the cookie's whole value (compared in full, as a map key),
//! bounded ([`OPENED_CAPACITY`]; emptied when full), and part of one
//! configuration's session settings, so new keys start an empty cache.
//! Only the opening is remembered: every check that depends on time,
//! tenant, re-authentication or revocation runs on every request
//! ([`SessionClaims::open_cached`](super::SessionClaims::open_cached)), and
//! an entry that fails one of them is dropped.
//!
//! The map hashes with a fast unkeyed hash: a value is inserted only after
//! it opened under Portero's own key, so nobody outside can choose keys
//! that pile into one bucket (a lookup of any other value costs one hash
//! and one probe).

use super::SessionClaims;
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex};

/// The most opened cookies remembered.
pub const OPENED_CAPACITY: usize = 10_000;

/// Opened session cookies by value.
#[derive(Debug, Default)]
pub struct OpenedCookies {
    map: Mutex<HashMap<Box<str>, Arc<SessionClaims>>>,
}

impl OpenedCookies {
    /// The claims `value` opened to, if remembered.
    pub fn get(&self, value: &str) -> Option<Arc<SessionClaims>> {
        self.map.lock().ok()?.get(value).cloned()
    }

    /// Remembers what `value` opened to.
    pub fn put(&self, value: &str, claims: Arc<SessionClaims>) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= OPENED_CAPACITY {
                map.clear();
            }
            map.insert(value.into(), claims);
        }
    }

    /// Forgets `value` (its session was refused).
    pub fn forget(&self, value: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(value);
        }
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
