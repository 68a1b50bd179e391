//! Making the session of a finished sign-in, whatever the protocol.

use super::{Ctx, Visitor};
use crate::audit::Event;
use crate::auth::VerifiedLogin;
use crate::config::{Config, Tenant};
use crate::session::{clear_cookie, session_cookie, SessionClaims};
use crate::state::State;
use crate::web::Reply;

/// A verified sign-in, whatever the protocol: a session cookie, an audit
/// line, a metric, and the way back to `return_to`.
pub(super) async fn complete(
    ctx: Ctx<'_>,
    visitor: Visitor,
    login: &VerifiedLogin,
    return_to: &str,
    how: &str,
) -> Reply {
    let Ctx {
        state,
        cfg,
        tenant,
        now,
        ..
    } = ctx;
    provision(state, cfg, tenant, login, now).await;
    let claims = SessionClaims::issue(login, now);
    let Some(sealed) = claims.seal(&cfg.session.sealer) else {
        return Reply::html(500, crate::web::internal_error_page(visitor.lang));
    };
    state
        .metrics
        .sign_ins
        .with_label_values(&[&tenant.name, login.method().as_str()])
        .inc();
    state.audit(
        &tenant.name,
        Event::SignIn,
        Some(login.email()),
        Some(visitor.client_ip),
        how,
    );
    let reauth = tenant.reauth.or(cfg.session.reauth);
    Reply::redirect(return_to)
        .cookie(&session_cookie(
            cfg.session.session_name(visitor.tls),
            &sealed,
            visitor.tls,
            reauth,
        ))
        .cookie(&clear_cookie(
            cfg.session.classic_name(visitor.tls),
            visitor.tls,
        ))
}

/// Just-in-time provisioning (`provision = true`, tenants on the embedded
/// store): the first sign-in through an IdP creates the user (e-mail, name,
/// username, roles); with `refresh_profile`, each one refreshes them. A store that
/// cannot be written does not stop the sign-in (it is logged).
async fn provision(state: &State, cfg: &Config, tenant: &Tenant, login: &VerifiedLogin, now: u64) {
    let (true, crate::membership::MemberSource::Store, Some(store)) =
        (tenant.provision, &tenant.members, state.store.as_ref())
    else {
        return;
    };
    let profile = crate::store::Profile {
        email: login.email(),
        name: login.name(),
        username: login.username(),
        roles: login.roles(),
    };
    match store
        .store
        .provision(&tenant.name, &profile, now, tenant.refresh_profile)
        .await
    {
        Ok(created) => {
            if created {
                state.audit(
                    &tenant.name,
                    Event::Membership,
                    Some(login.email()),
                    None,
                    "user created at first sign-in (provisioning)",
                );
            }
            if created || tenant.refresh_profile {
                if let Err(e) = store.reload_tenant(cfg, &tenant.name).await {
                    tracing::error!("membership store: {e}");
                }
            }
        }
        Err(e) => tracing::error!(tenant = %tenant.name, "provisioning {}: {e}", login.email()),
    }
}
