//! Revoking a person's sessions: `POST /tenants/{name}/sessions/revoke`.

use super::{reply, Admin};
use crate::audit::Event;
use http::Response;

impl Admin {
    /// `POST /tenants/{name}/sessions/revoke` with `user`: ends every
    /// session of that person issued up to now; 503 when the other nodes
    /// could not be told (it is in force here, and retried every second).
    pub(super) async fn revoke_person(&self, tenant: &str, body: &[u8]) -> Response<Vec<u8>> {
        let text = "text/plain; charset=utf-8";
        if self.state.config().tenant_named(tenant).is_none() {
            return reply(404, text, format!("no tenant named {tenant:?}\n"));
        }
        let Some(user) = form_urlencoded::parse(body)
            .find(|(k, _)| k == "user")
            .and_then(|(_, v)| crate::auth::normalize_email(&v))
        else {
            return reply(400, text, "the form field `user` (an e-mail) is required\n");
        };
        let now = self.state.now();
        let ending = crate::session::Ending::person(tenant, &user, now);
        let result = self.state.end_sessions(&ending).await;
        let done = format!("sessions of {user} in {tenant} issued up to {now} are void");
        self.state.audit(
            tenant,
            Event::ForceReauth,
            Some(&user),
            None,
            &match &result {
                Ok(()) => "sessions of this person revoked via admin API".to_string(),
                Err(e) => format!("sessions of this person revoked via admin API; {e}"),
            },
        );
        match result {
            Ok(()) => reply(200, text, format!("{done}\n")),
            Err(e) => reply(
                503,
                text,
                format!("{done} on this node; {e}; retried every second\n"),
            ),
        }
    }
}
