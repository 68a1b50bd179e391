//! The members API of tenants on the embedded store: `GET
//! /tenants/{name}/members?account=…` lists an account's members and
//! invitations, `POST /tenants/{name}/members` makes one membership change
//! (bound by the membership rules, README's "Accounts and permissions",
//! when it names an `actor`).

use super::{reply, Admin};
use crate::audit::Event;
use crate::lang::Lang;
use crate::members::admin::BadActor;
use crate::members::change::{carry_out, Asker, Mailed};
use crate::web::form::{self, Fields};
use http::Response;

impl Admin {
    /// The store, for a tenant on it.
    fn store_for(
        &self,
        tenant: &str,
    ) -> Result<&crate::members::StoreHandle, Box<Response<Vec<u8>>>> {
        let text = "text/plain; charset=utf-8";
        let cfg = self.state.config();
        let Some(t) = cfg.tenant_named(tenant) else {
            return Err(Box::new(reply(
                404,
                text,
                format!("no tenant named {tenant:?}\n"),
            )));
        };
        match (&t.members, self.state.store.as_ref()) {
            (crate::membership::MemberSource::Store, Some(store)) => Ok(store),
            (other, _) => Err(Box::new(reply(
                409,
                text,
                format!(
                    "tenant {tenant:?} reads memberships from `{}`, not the embedded store\n",
                    other.as_str()
                ),
            ))),
        }
    }

    pub(super) async fn list_members(&self, tenant: &str, query: &str) -> Response<Vec<u8>> {
        let store = match self.store_for(tenant) {
            Ok(s) => s,
            Err(r) => return *r,
        };
        let fields = match Fields::parse(query.as_bytes()) {
            Ok(f) => f,
            Err(e) => return refused(400, &e.to_string()),
        };
        let Some(account) = fields
            .get("account")
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
        else {
            return refused(400, "`account` is required: ?account=<account>");
        };
        match store.store.has_account(tenant, &account).await {
            Ok(true) => {}
            Ok(false) => {
                return refused(
                    404,
                    &format!("tenant {tenant:?} has no account named {account:?}"),
                )
            }
            Err(e) => return refused(failed(&e), &e.to_string()),
        }
        let members: Vec<serde_json::Value> = store
            .get(tenant)
            .map(|d| {
                d.members_of(&account)
                    .into_iter()
                    .map(|(user, m)| serde_json::json!({"user": user, "permissions": m.permissions_header.as_ref(), "impersonate": m.impersonate, "since": (m.since > 0).then_some(m.since)}))
                    .collect()
            })
            .unwrap_or_default();
        match store.store.invitations(tenant, &account, self.state.now()).await {
            Ok(invitations) => reply(
                200,
                "application/json",
                serde_json::json!({"account": account, "members": members, "invitations": invitations}).to_string(),
            ),
            Err(e) => reply(failed(&e), "text/plain; charset=utf-8", format!("{e}\n")),
        }
    }

    pub(super) async fn change_members(
        &self,
        tenant: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response<Vec<u8>> {
        let store = match self.store_for(tenant) {
            Ok(s) => s,
            Err(r) => return *r,
        };
        let fields =
            match form::check_content_type(content_type, body).and_then(|()| Fields::parse(body)) {
                Ok(f) => f,
                Err(e) => return refused(400, &e.to_string()),
            };
        let actor =
            match crate::members::admin::resolve_actor(&store.store, tenant, fields.get("actor"))
                .await
            {
                Ok(a) => a,
                Err(BadActor::Store(e)) => return refused(failed(&e), &e.to_string()),
                Err(e) => {
                    self.state.audit(
                        tenant,
                        Event::Membership,
                        None,
                        None,
                        &format!("refused a change through the admin API: actor {e}"),
                    );
                    return refused(400, &format!("actor: {e}"));
                }
            };
        let field = |name: &str| fields.owned(name);
        let change = match crate::members::admin::parse(fields.get("action").unwrap_or(""), &field)
        {
            Ok(c) => c,
            Err(e) => return refused(400, &e),
        };
        let cfg = self.state.config();
        let Some(t) = cfg.tenant_named(tenant) else {
            return refused(404, "no such tenant");
        };
        let asker = Asker {
            actor: actor.as_deref(),
            via: "admin API",
            client: None,
            lang: t.language.unwrap_or(Lang::En),
        };
        let origin = cfg.home_origin(t);
        match carry_out(&self.state, &cfg, t, asker, &change, origin.as_deref()).await {
            Ok(done) => {
                let mut out = serde_json::json!({"ok": true, "summary": done.summary});
                if let (Some(inv), Some(path), Some(url)) = (done.invitation, done.path, done.link)
                {
                    out["invitation"] = serde_json::json!(inv);
                    out["link"] = serde_json::json!(path);
                    out["url"] = serde_json::json!(url);
                    out["mail"] = match done.mailed {
                        Mailed::Sent => serde_json::json!("sent"),
                        Mailed::Failed(e) => serde_json::json!(format!("failed: {e}")),
                        Mailed::NotConfigured | Mailed::NoInvitation => {
                            serde_json::json!("not configured")
                        }
                    };
                }
                reply(200, "application/json", out.to_string())
            }
            Err(e) => {
                let status = match e {
                    crate::store::StoreError::Rule(_) => 403,
                    crate::store::StoreError::NotFound(_) => 404,
                    crate::store::StoreError::Invitation(_) => 409,
                    ref e => failed(e),
                };
                refused(status, &e.to_string())
            }
        }
    }
}

/// A refusal of the members API: JSON `{"ok": false, "error": …}`.
fn refused(status: u16, error: &str) -> Response<Vec<u8>> {
    reply(
        status,
        "application/json",
        serde_json::json!({"ok": false, "error": error}).to_string(),
    )
}

/// The status of a store failure: 503 while the database cannot be
/// reached (nothing was changed; try again), else 500.
fn failed(e: &crate::store::StoreError) -> u16 {
    if e.is_unreachable() {
        503
    } else {
        500
    }
}
