//! The certificates in force: one per host, in a map swapped whole on each
//! change, so the TLS listeners read it without a lock and serve a new
//! certificate from the next handshake on; and when one is due.

use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// A certificate obtained from the CA (here, or by another node).
#[derive(Debug)]
pub struct Issued {
    /// The chain and its key, ready for rustls.
    pub key: Arc<CertifiedKey>,
    /// When the leaf became valid (Unix seconds).
    pub not_before: u64,
    /// When the leaf expires (Unix seconds).
    pub not_after: u64,
}

impl Issued {
    /// Reads a PEM chain (leaf first) and its PEM private key, checking
    /// that they belong together.
    pub fn from_pem(chain: &str, private_key: &str) -> Result<Issued, String> {
        let certs: Vec<_> = rustls_pemfile::certs(&mut chain.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the chain is not PEM: {e}"))?;
        let Some(leaf) = certs.first() else {
            return Err("the chain holds no certificate".into());
        };
        let (not_before, not_after) = validity(leaf.as_ref())?;
        let key = rustls_pemfile::private_key(&mut private_key.as_bytes())
            .map_err(|e| format!("the private key is not PEM: {e}"))?
            .ok_or("no private key")?;
        let signing = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("the private key is not usable: {e}"))?;
        let key = CertifiedKey::new(certs, signing);
        key.keys_match()
            .map_err(|e| format!("the private key does not match the certificate: {e}"))?;
        Ok(Issued {
            key: Arc::new(key),
            not_before,
            not_after,
        })
    }
}

/// A DER certificate's `notBefore` and `notAfter`, in Unix seconds.
pub fn validity(der: &[u8]) -> Result<(u64, u64), String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the certificate cannot be read: {e}"))?;
    let v = &cert.tbs_certificate.validity;
    Ok((
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    ))
}

/// Whether a certificate valid from `not_before` to `not_after` is due
/// for renewal at `now`: `renew_before` ahead of its end, or, when its
/// whole life is no longer than that, once a third of it is left (so a
/// short-lived certificate is not renewed again the moment it arrives).
pub fn due(now: u64, not_before: u64, not_after: u64, renew_before: u64) -> bool {
    let lifetime = not_after.saturating_sub(not_before);
    let window = if renew_before >= lifetime {
        lifetime / 3
    } else {
        renew_before
    };
    now.saturating_add(window) >= not_after
}

/// The certificates in force, by host (lowercase).
#[derive(Debug, Default)]
pub struct Certificates {
    map: ArcSwap<HashMap<String, Arc<Issued>>>,
}

impl Certificates {
    /// The certificate to serve for an SNI name (the hot path: a load and
    /// a lookup; a name with capitals is looked up again in lowercase).
    pub fn for_name(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let map = self.map.load();
        if map.is_empty() {
            return None;
        }
        match map.get(name) {
            Some(i) => Some(i.key.clone()),
            None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
                map.get(&name.to_ascii_lowercase()).map(|i| i.key.clone())
            }
            None => None,
        }
    }

    /// The certificate in force for `host`.
    pub fn get(&self, host: &str) -> Option<Arc<Issued>> {
        self.map.load().get(host).cloned()
    }

    /// Every certificate in force, as it stands now.
    pub fn snapshot(&self) -> Arc<HashMap<String, Arc<Issued>>> {
        self.map.load_full()
    }

    /// How many hosts have a certificate.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// Whether no host has one.
    pub fn is_empty(&self) -> bool {
        self.map.load().is_empty()
    }

    /// Puts certificates in force (each replacing its host's).
    pub fn put(&self, issued: Vec<(String, Arc<Issued>)>) {
        if issued.is_empty() {
            return;
        }
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            for (host, i) in &issued {
                map.insert(host.clone(), i.clone());
            }
            map
        });
    }

    /// Stops serving the hosts `keep` says no to (no longer configured);
    /// returns them.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let gone: Vec<String> = self
            .map
            .load()
            .keys()
            .filter(|h| !keep(h))
            .cloned()
            .collect();
        if !gone.is_empty() {
            self.map.rcu(|map| {
                let mut map = HashMap::clone(map);
                map.retain(|h, _| keep(h));
                map
            });
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn a_ninety_day_certificate_is_due_thirty_days_before_it_ends() {
        let (start, end) = (1_000 * DAY, 1_090 * DAY);
        let window = 30 * DAY;
        assert!(!due(start, start, end, window));
        assert!(!due(end - window - 1, start, end, window));
        assert!(due(end - window, start, end, window));
        assert!(due(end + 5, start, end, window), "expired: due");
    }

    #[test]
    fn a_certificate_shorter_than_the_window_is_due_with_a_third_left() {
        // A six-day certificate under the default 30-day window.
        let (start, end) = (1_000 * DAY, 1_006 * DAY);
        assert!(!due(start, start, end, 30 * DAY), "not at once again");
        assert!(!due(end - 2 * DAY - 1, start, end, 30 * DAY));
        assert!(due(end - 2 * DAY, start, end, 30 * DAY));
    }

    fn self_signed(host: &str) -> (String, String) {
        let ck = rcgen::generate_simple_self_signed(vec![host.to_string()]).unwrap();
        (ck.cert.pem(), ck.signing_key.serialize_pem())
    }

    #[test]
    fn a_chain_and_its_key_are_read_with_their_dates_and_a_wrong_key_is_refused() {
        let (chain, key) = self_signed("a.test");
        let issued = Issued::from_pem(&chain, &key).unwrap();
        assert!(issued.not_after > issued.not_before);
        let (_, other_key) = self_signed("b.test");
        let e = Issued::from_pem(&chain, &other_key).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        assert!(Issued::from_pem("junk", &key).is_err());
        assert!(Issued::from_pem(&chain, "junk").is_err());
    }

    #[test]
    fn names_are_found_in_any_case_and_removed_hosts_are_no_longer_served() {
        let certs = Certificates::default();
        assert!(certs.for_name("a.test").is_none());
        let (chain, key) = self_signed("a.test");
        let a = Arc::new(Issued::from_pem(&chain, &key).unwrap());
        certs.put(vec![("a.test".into(), a.clone()), ("b.test".into(), a)]);
        assert!(certs.for_name("a.test").is_some());
        assert!(certs.for_name("A.Test").is_some());
        assert!(certs.for_name("c.test").is_none());
        assert_eq!(certs.retain(|h| h == "b.test"), vec!["a.test".to_string()]);
        assert!(certs.for_name("a.test").is_none());
        assert_eq!(certs.len(), 1);
    }
}
