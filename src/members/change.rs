//! One membership change carried out, whoever asks for it (the accounts
//! pages, the admin API): the rules applied in the store
//! ([`super::admin::apply`]), the audit line, the snapshot reloaded (so a
//! member who lost something loses it at their next request), and for an
//! invitation its absolute link and its mail ([`mail_invitation`], which
//! `portero accounts` uses too, with the same audit lines).

use super::admin::{apply, invitation_path, Change};
use crate::audit::Event;
use crate::config::{Config, Tenant};
use crate::lang::Lang;
use crate::mail::{InvitationMail, Mailer};
use crate::state::State;
use crate::store::{Invitation, StoreError};
use std::net::IpAddr;

/// Invitations (made or re-sent) one member may send per hour on a
/// tenant: enough for a team, too few to make Portero a mail cannon that
/// spoils the hosting company's mail reputation. The operator (no actor)
/// is not counted.
pub const INVITATIONS_PER_HOUR: u32 = 20;

/// Who asks, from where: the audit line's words.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The member acting (`None`: the operator).
    pub actor: Option<&'a str>,
    /// Through what (`admin API`, `accounts page`).
    pub via: &'static str,
    /// Their client address, when known.
    pub client: Option<IpAddr>,
    /// Their language (the invitation mail's).
    pub lang: Lang,
}

impl Asker<'_> {
    /// Who, in the audit line: the member, or `operator`.
    fn by(&self) -> &str {
        self.actor.unwrap_or("operator")
    }

    /// The audit line of a change made: `<summary> (by <who>, <via>)`.
    pub fn done_line(&self, summary: &str) -> String {
        format!("{summary} (by {}, {})", self.by(), self.via)
    }

    /// The audit line of a change refused:
    /// `refused <change> by <who> (<via>): <why>`.
    pub fn refused_line(&self, change: &Change, e: &StoreError) -> String {
        format!("refused {change:?} by {} ({}): {e}", self.by(), self.via)
    }
}

/// What became of an invitation's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailed {
    /// The change made no invitation.
    NoInvitation,
    /// No `[server.smtp]`: the link is for the inviter to pass on.
    NotConfigured,
    /// Handed to the mail server.
    Sent,
    /// Not sent (why); the invitation stays, its link works.
    Failed(String),
}

/// A change made.
#[derive(Debug)]
pub struct Carried {
    /// What happened, in a sentence.
    pub summary: String,
    /// The invitation made or re-sent.
    pub invitation: Option<Invitation>,
    /// Its link's path and query (`/.portero/invitations?token=…`).
    pub path: Option<String>,
    /// Its link: absolute when the tenant's origin is known.
    pub link: Option<String>,
    /// Its mail.
    pub mailed: Mailed,
}

/// Carries out `change` on `tenant` (a store tenant) for `asker`; `origin`
/// (`https://host`) makes the invitation link absolute. A refusal is
/// audited too, and changes nothing.
pub async fn carry_out(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    asker: Asker<'_>,
    change: &Change,
    origin: Option<&str>,
) -> Result<Carried, StoreError> {
    let Some(handle) = state.store.as_ref() else {
        return Err(StoreError::NotFound(
            "this tenant keeps no membership store".into(),
        ));
    };
    let now = state.now();
    let refused = |e: StoreError| {
        state.audit(
            &tenant.name,
            Event::Membership,
            asker.actor,
            asker.client,
            &asker.refused_line(change, &e),
        );
        e
    };
    let invites = matches!(change, Change::Invite { .. } | Change::Resend { .. });
    if let (true, Some(actor)) = (invites, asker.actor) {
        let key = (tenant.name.clone(), actor.to_string());
        if !state
            .invitation_budget
            .take_for(key, INVITATIONS_PER_HOUR, now)
        {
            state.metrics.refused("invitation", "member_budget");
            return Err(refused(StoreError::Invitation(format!(
                "{actor} sent {INVITATIONS_PER_HOUR} invitations in the last hour; please wait before sending more"
            ))));
        }
    }
    let done = match apply(&handle.store, &tenant.name, asker.actor, change, now).await {
        Ok(done) => done,
        Err(e) => return Err(refused(e)),
    };
    state.audit(
        &tenant.name,
        Event::Membership,
        asker.actor,
        asker.client,
        &asker.done_line(&done.summary),
    );
    if let Err(e) = handle.reload_tenant(cfg, &tenant.name).await {
        tracing::error!("membership store: {e}");
    }
    let Some((invitation, token)) = done.invitation else {
        return Ok(Carried {
            summary: done.summary,
            invitation: None,
            path: None,
            link: None,
            mailed: Mailed::NoInvitation,
        });
    };
    let path = invitation_path(&token);
    let absolute = origin.map(|o| format!("{o}{path}"));
    let mailer = state.mailer();
    let mailed = mail_invitation(
        mailer.as_deref(),
        tenant,
        &asker,
        &invitation,
        absolute.as_deref(),
        now,
    )
    .await;
    Ok(Carried {
        summary: done.summary,
        invitation: Some(invitation),
        link: Some(absolute.unwrap_or_else(|| path.clone())),
        path: Some(path),
        mailed,
    })
}

/// Mails `invitation`, made or re-sent, through `mailer` (`None`: no
/// `[server.smtp]`): the tenant's templates in `asker`'s language, from
/// `asker` (the operator: the tenant's display name), with `link`, the
/// absolute link that accepts it (`None`: the tenant has no host to link
/// to, and no mail is sent). A mail that fails leaves the invitation as it
/// is. Shared by [`carry_out`] and `portero accounts`.
pub async fn mail_invitation(
    mailer: Option<&Mailer>,
    tenant: &Tenant,
    asker: &Asker<'_>,
    invitation: &Invitation,
    link: Option<&str>,
    now: u64,
) -> Mailed {
    let Some(mailer) = mailer else {
        return Mailed::NotConfigured;
    };
    let Some(link) = link else {
        return Mailed::Failed("the tenant has no host to link to, so no mail was sent".into());
    };
    let labels = invitation.permissions_in_words(asker.lang);
    let mail = InvitationMail {
        to: &invitation.email,
        link,
        account: &invitation.account,
        permissions: &labels,
        inviter: asker.actor.unwrap_or(&tenant.display_name),
        expires_at: invitation.expires_at,
        now,
    };
    match mailer.send_invitation(tenant, asker.lang, &mail).await {
        Ok(()) => Mailed::Sent,
        Err(e) => Mailed::Failed(e.to_string()),
    }
}
