//! The SAML trace: each tenant's recent SAML exchanges (requests sent,
//! responses and logout messages received), decoded, for administrators
//! debugging an IdP set-up (`GET /tenants/<name>/saml-trace` on the admin
//! listener). In memory only, the last [`KEEP`] per tenant; signature
//! values, certificates and encrypted data are cut short.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Exchanges kept per tenant.
pub const KEEP: usize = 20;
/// The longest message kept, in bytes.
const MAX_XML: usize = 64 * 1024;

/// One SAML message that passed through.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// When (Unix seconds).
    pub at: u64,
    /// What it was ("AuthnRequest sent", "Response received", …).
    pub what: &'static str,
    /// What Portero made of it ("accepted", "refused: wrong_audience", …).
    pub outcome: String,
    /// The message, decoded and redacted.
    pub xml: String,
}

/// Recent exchanges, per tenant.
#[derive(Debug, Default)]
pub struct SamlTrace {
    by_tenant: Mutex<HashMap<String, VecDeque<Exchange>>>,
}

impl SamlTrace {
    /// Records a message (XML as sent or received).
    pub fn record(&self, tenant: &str, at: u64, what: &'static str, outcome: &str, xml: &str) {
        let mut map = self
            .by_tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = map.entry(tenant.to_string()).or_default();
        if list.len() == KEEP {
            list.pop_front();
        }
        list.push_back(Exchange {
            at,
            what,
            outcome: outcome.to_string(),
            xml: redact(&xml[..floor_char_boundary(xml, MAX_XML)]),
        });
    }

    /// A tenant's exchanges, newest first.
    pub fn recent(&self, tenant: &str) -> Vec<Exchange> {
        let map = self
            .by_tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(tenant)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// The exchanges as text for the admin listener.
    pub fn render(&self, tenant: &str) -> String {
        let list = self.recent(tenant);
        if list.is_empty() {
            return format!(
                "no SAML exchanges of {tenant} yet (the last {KEEP} are kept, in memory)\n"
            );
        }
        let mut out = String::new();
        for e in list {
            let when = chrono::DateTime::from_timestamp(i64::try_from(e.at).unwrap_or(0), 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "== {when}  {}  {}\n{}\n\n",
                e.what, e.outcome, e.xml
            ));
        }
        out
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts the text of signature values, certificates and encrypted data
/// short (they say nothing to a person debugging, and are long).
pub fn redact(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let tag = &rest[open..open + close + 1];
        out.push_str(tag);
        rest = &rest[open + close + 1..];
        let name = tag
            .trim_start_matches('<')
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if matches!(local, "SignatureValue" | "X509Certificate" | "CipherValue")
            && !tag.ends_with("/>")
        {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = rest[..end].trim();
            let head: String = text.chars().take(12).collect();
            out.push_str(&format!("{head}…[{} characters cut]", text.chars().count()));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_few_and_cuts_signatures() {
        let t = SamlTrace::default();
        for i in 0..KEEP + 3 {
            t.record(
                "a",
                i as u64,
                "Response received",
                "accepted",
                &format!("<r n=\"{i}\"/>"),
            );
        }
        let recent = t.recent("a");
        assert_eq!(recent.len(), KEEP);
        assert!(recent[0].xml.contains(&format!("n=\"{}\"", KEEP + 2)));
        assert!(t.recent("b").is_empty());
        let xml = "<ds:Signature><ds:SignatureValue>AAAABBBBCCCCDDDDEEEE</ds:SignatureValue><ds:X509Certificate>MIIBxyz0123456789</ds:X509Certificate></ds:Signature><saml:NameID>ana@x</saml:NameID>";
        let r = redact(xml);
        assert!(r.contains("AAAABBBBCCCC…[20 characters cut]"), "{r}");
        assert!(!r.contains("DDDD"));
        assert!(r.contains("<saml:NameID>ana@x</saml:NameID>"), "{r}");
    }
}
