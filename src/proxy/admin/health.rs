//! `/readyz`: what this node depends on, and how each is doing (documents
//! fetched from IdPs, membership endpoints of panels, the shared Redis).

use super::Admin;

impl Admin {
    /// `/readyz`: ready once serving (sign-in through an IdP that is down
    /// is that tenant's trouble, not the node's: break-glass and sessions
    /// still work); each document fetched from an IdP is listed as `ok`,
    /// `stale` (the last fetch failed; the last good copy is used) or
    /// `missing` (never fetched: that sign-in shows the IdP-down page).
    pub(super) fn readiness(&self) -> String {
        let cfg = self.state.config();
        let now = self.state.now();
        let mut out = format!("ready: {} tenants\n", cfg.tenants.len());
        for doc in &cfg.remote {
            let s = doc.status();
            let line = match (s.fetched_at, &s.error) {
                (Some(at), None) => format!(
                    "ok {} {} (fetched {} s ago)",
                    doc.what(),
                    doc.url(),
                    now.saturating_sub(at)
                ),
                (Some(at), Some(e)) => format!(
                    "stale {} {} (using the copy fetched {} s ago; the last fetch failed: {e})",
                    doc.what(),
                    doc.url(),
                    now.saturating_sub(at)
                ),
                (None, e) => format!(
                    "missing {} {} ({})",
                    doc.what(),
                    doc.url(),
                    e.as_deref().unwrap_or("not fetched yet")
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for t in &cfg.tenants {
            if let crate::membership::MemberSource::Panel(p) = &t.members {
                use std::sync::atomic::Ordering;
                let (ok, failed) = (
                    p.last_success.load(Ordering::Relaxed),
                    p.last_failure.load(Ordering::Relaxed),
                );
                let line = if failed > 0 && failed >= ok {
                    format!("failing membership endpoint of {} {} (failed {} s ago; kept answers are used up to stale_for)", t.name, p.url, now.saturating_sub(failed))
                } else {
                    format!("ok membership endpoint of {} {}", t.name, p.url)
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
        if let Some(store) = &self.state.store {
            let at = store.store.describe();
            let line = match store.unreachable() {
                None => format!("ok store {at}"),
                Some(e) => format!("unreachable store {at}: database unreachable (requests are served from the last snapshot; changes are refused until it answers): {e}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        if cfg.server.acme.is_some() {
            let (failing, count) = self.state.acme.failing(10);
            let mut line = format!(
                "acme: {} of {} hosts have a certificate",
                self.state.acme.certificates.len(),
                cfg.acme_hosts.len()
            );
            if count > 0 {
                line.push_str(&format!("; the last order failed for {count} (retried with a backoff; see docs/certificates.md):"));
                for (host, error) in failing {
                    line.push_str(&format!("\n  {host}: {error}"));
                }
                if count > 10 {
                    line.push_str(&format!("\n  … and {} more", count - 10));
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(h) = self.state.onetime.health() {
            let line = match (h.ok, h.error) {
                (Some(false), Some(e)) => format!("unreachable redis {} (sign-ins are refused until it answers; sessions keep working): {e}", h.url),
                (Some(true), _) => format!("ok redis {}", h.url),
                _ => format!("unknown redis {} (not asked yet)", h.url),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}
