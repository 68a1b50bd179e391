//! A started sign-in: what it remembers (server-side, in the one-time
//! store, under `<kind>:<id>`), the cookie that binds it to the browser
//! that started it, and how long both live.

use super::{Names, Protocol};
use crate::config::Tenant;
use crate::gate::Seen;
use crate::web::Reply;
use serde_json::{Map, Value};

/// How long a started sign-in waits for the identity provider's answer
/// (the record and its cookie alike).
pub const LIVES_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// A sign-in Portero started and has not finished: the tenant it was
/// started for, its random id (the browser's flow cookie carries it), where
/// it leads afterwards, and what the protocol needs to check the answer.
#[derive(Debug, Clone)]
pub struct Started<D> {
    tenant: String,
    id: String,
    return_to: String,
    data: D,
}

impl<D> Started<D> {
    /// The tenant's name (not its index, which a reload may reorder).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The random id (SAML request ID, OpenID Connect or external `state`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where to go afterwards (already sanitised to the tenant).
    pub fn return_to(&self) -> &str {
        &self.return_to
    }

    /// What the protocol remembers besides.
    pub fn data(&self) -> &D {
        &self.data
    }
}

impl<D: serde::Serialize + serde::de::DeserializeOwned> Started<D> {
    /// The record as kept: the protocol's fields with `tenant`,
    /// `return_to` and the id under the protocol's own name (`request_id`,
    /// `state`), as records were always kept (nodes of the previous release
    /// read them).
    fn to_record(&self, id_field: &str) -> Option<Value> {
        let mut record = match serde_json::to_value(&self.data).ok()? {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        record.insert("tenant".into(), Value::String(self.tenant.clone()));
        record.insert(id_field.into(), Value::String(self.id.clone()));
        record.insert("return_to".into(), Value::String(self.return_to.clone()));
        Some(Value::Object(record))
    }

    /// Reads a kept record back; one that does not read counts as absent.
    pub(super) fn from_record(record: &str, id_field: &str) -> Option<Started<D>> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str(record) else {
            return None;
        };
        let mut text = |name: &str| match fields.remove(name) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let (tenant, id, return_to) = (text("tenant")?, text(id_field)?, text("return_to")?);
        Some(Started {
            tenant,
            id,
            return_to,
            data: serde_json::from_value(Value::Object(fields)).ok()?,
        })
    }
}

/// `302` to the identity provider at `to`, starting sign-in `id` for
/// `tenant`: the record is kept before the reply goes out
/// ([`crate::web::keep_started`]) and the browser gets the flow cookie.
pub fn start<P: Protocol>(
    seen: &Seen<'_>,
    tenant: &Tenant,
    id: String,
    return_to: &str,
    data: P::Data,
    to: &str,
) -> Reply {
    let names = &P::NAMES;
    let started = Started {
        tenant: tenant.name.clone(),
        id,
        return_to: return_to.to_string(),
        data,
    };
    let Some(record) = started.to_record(names.id_field) else {
        return Reply::html(500, crate::web::internal_error_page(seen.lang));
    };
    Reply::redirect(to)
        .cookie(&flow_cookie(names, &started.id, seen.req.tls))
        .remember(
            format!("{}:{}", names.kind, started.id),
            &record,
            LIVES_FOR,
            seen.client_ip,
            seen.lang,
        )
}

/// The `Set-Cookie` binding sign-in `id` to this browser, for as long as
/// the sign-in lives. An answer that comes back by a cross-site POST (SAML
/// ACS) needs `SameSite=None` on TLS (on plain HTTP browsers treat a
/// cookie without SameSite as Lax but still send it on a top-level POST
/// made within two minutes); a top-level GET redirect carries `Lax` ones.
fn flow_cookie(names: &Names, id: &str, tls: bool) -> String {
    let (name, path, age) = (names.cookie, names.path, LIVES_FOR.as_secs());
    let attrs = match (names.cross_site_post, tls) {
        (true, true) => "; Secure; SameSite=None",
        (true, false) => "",
        (false, true) => "; SameSite=Lax; Secure",
        (false, false) => "; SameSite=Lax",
    };
    format!("{name}={id}; Path={path}; Max-Age={age}; HttpOnly{attrs}")
}

/// The `Set-Cookie` that ends the browser's flow cookie.
pub(super) fn clear_flow_cookie(names: &Names) -> String {
    format!(
        "{}=; Path={}; Max-Age=0; HttpOnly",
        names.cookie, names.path
    )
}

/// Every value of the flow cookie in the request (the browser's started
/// sign-ins of this protocol).
pub(super) fn flow_cookies(names: &Names, seen: &Seen<'_>) -> Vec<String> {
    crate::session::find_cookie_values(seen.req.cookies.iter().copied(), names.cookie)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Data {
        nonce: String,
    }

    #[test]
    fn a_record_keeps_the_protocols_own_id_field_and_reads_back() {
        let s = Started {
            tenant: "t".into(),
            id: "abc".into(),
            return_to: "/x".into(),
            data: Data { nonce: "n".into() },
        };
        let record = s.to_record("state").unwrap();
        assert_eq!(
            record,
            serde_json::json!({"tenant": "t", "state": "abc", "return_to": "/x", "nonce": "n"})
        );
        let back = Started::<Data>::from_record(&record.to_string(), "state").unwrap();
        assert_eq!(
            (back.tenant(), back.id(), back.return_to()),
            ("t", "abc", "/x")
        );
        assert_eq!(back.data(), &Data { nonce: "n".into() });
        assert!(Started::<Data>::from_record(&record.to_string(), "request_id").is_none());
    }

    #[test]
    fn flow_cookies_keep_their_attributes() {
        let saml = Names {
            cookie: "portero_saml",
            path: "/.portero/saml",
            cross_site_post: true,
            ..Names::EXAMPLE
        };
        assert_eq!(
            flow_cookie(&saml, "id1", true),
            "portero_saml=id1; Path=/.portero/saml; Max-Age=600; HttpOnly; Secure; SameSite=None"
        );
        assert_eq!(
            flow_cookie(&saml, "id1", false),
            "portero_saml=id1; Path=/.portero/saml; Max-Age=600; HttpOnly"
        );
        let jwt = Names {
            cookie: "portero_jwt",
            path: "/.portero/jwt",
            cross_site_post: false,
            ..Names::EXAMPLE
        };
        assert_eq!(
            flow_cookie(&jwt, "s", true),
            "portero_jwt=s; Path=/.portero/jwt; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            clear_flow_cookie(&jwt),
            "portero_jwt=; Path=/.portero/jwt; Max-Age=0; HttpOnly"
        );
    }
}
