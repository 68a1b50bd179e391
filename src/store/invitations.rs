//! Invitations: one-time links that make a person a member of an account;
//! created, re-sent, cancelled, accepted and rejected under the rules of
//! [`super::rules`]. Only a hash of each link's token is kept.

use super::db::{args, Conn, Row};
use super::memberships::{actor_in, ensure_account};
use super::people::ensure_user;
use super::rules;
use super::{perms, Store, StoreError};
use crate::identity::Permissions;

/// The columns [`row_invitation`] reads, in order.
const COLUMNS: &str = "id, account, email, permissions, invited_by, state, expires_at";

/// An invitation, as listed (the token itself is shown only once).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invitation {
    /// Its id (stable across re-sends).
    pub id: String,
    /// The account it lets one into.
    pub account: String,
    /// Who is invited.
    pub email: String,
    /// What they will hold.
    pub permissions: String,
    /// Who invited (an e-mail, or `operator`).
    pub invited_by: String,
    /// `pending`, `accepted`, `rejected`, `cancelled` (or `expired`).
    pub state: String,
    /// When the current link stops working (Unix seconds).
    pub expires_at: u64,
}

/// How the person deciding on an invitation names it.
#[derive(Debug, Clone, Copy)]
enum Named<'a> {
    /// By its link's token.
    Token(&'a str),
    /// By its id (the accounts page's list of one's invitations).
    Id(&'a str),
}

/// What the invited person decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject,
}

impl Invitation {
    /// Its permissions in words ("Technical, Commercial"), as the pages
    /// and mails show them.
    pub fn permissions_in_words(&self, lang: crate::lang::Lang) -> String {
        super::parse_permissions(&self.permissions)
            .map(|p| p.labels(lang))
            .unwrap_or_else(|_| self.permissions.clone())
    }
}

fn random_token() -> Result<String, StoreError> {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Invitation(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Invites `email` into `account` with `grant`, as `actor`; returns the
    /// invitation and its one-time token (valid `ttl` seconds).
    #[allow(clippy::too_many_arguments)]
    pub async fn invite(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        email: &str,
        grant: Permissions,
        now: u64,
        ttl: u64,
    ) -> Result<(Invitation, String), StoreError> {
        let token = random_token()?;
        let id = random_token()?;
        let mut tx = self.write(tenant).await?;
        let who = actor_in(&mut tx, tenant, account, actor).await?;
        rules::may_invite(who, grant)?;
        ensure_account(&mut tx, tenant, account).await?;
        tx.execute(
            "INSERT INTO invitations (id, tenant, account, email, permissions, invited_by, token_hash, expires_at, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)",
            args![&id, tenant, account, email, grant.bits() as i64, actor.unwrap_or("operator"), hash_token(&token), now.saturating_add(ttl), now],
        )
        .await?;
        tx.commit().await?;
        Ok((self.invitation(tenant, &id, now).await?, token))
    }

    /// One invitation by id.
    pub async fn invitation(
        &self,
        tenant: &str,
        id: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let mut conn = self.read().await?;
        find(&mut conn, tenant, Named::Id(id), now)
            .await?
            .ok_or_else(|| StoreError::NotFound("no such invitation".into()))
    }

    /// The invitation a token opens, if it is still usable.
    pub async fn invitation_by_token(
        &self,
        tenant: &str,
        token: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let mut conn = self.read().await?;
        let inv = find(&mut conn, tenant, Named::Token(token), now)
            .await?
            .ok_or_else(not_valid)?;
        usable(&inv)?;
        Ok(inv)
    }

    /// Every invitation of an account.
    pub async fn invitations(
        &self,
        tenant: &str,
        account: &str,
        now: u64,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.listed("tenant = ?1 AND account = ?2", args![tenant, account], now)
            .await
    }

    /// The pending invitations addressed to `email` (compared without
    /// regard to ASCII case), oldest first; expired ones are left out.
    pub async fn pending_for(
        &self,
        tenant: &str,
        email: &str,
        now: u64,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.listed(
            "tenant = ?1 AND lower(email) = lower(?2) AND state = 'pending' AND expires_at > ?3",
            args![tenant, email, now],
            now,
        )
        .await
    }

    /// The invitations `condition` selects, oldest first.
    async fn listed(
        &self,
        condition: &str,
        params: &[super::db::Value],
        now: u64,
    ) -> Result<Vec<Invitation>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM invitations WHERE {condition} ORDER BY created_at, id");
        let rows = self.read().await?.query(&sql, params).await?;
        rows.iter().map(|r| row_invitation(r, now)).collect()
    }

    /// Accepts an invitation as the signed-in `email`: they become a member
    /// (or gain the invited permissions) and the link stops working.
    pub async fn accept(
        &self,
        tenant: &str,
        token: &str,
        email: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        self.settle(
            tenant,
            Named::Token(token),
            Some(email),
            Decision::Accept,
            now,
        )
        .await
    }

    /// Rejects an invitation (by its link); the link stops working.
    pub async fn reject(
        &self,
        tenant: &str,
        token: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        self.settle(tenant, Named::Token(token), None, Decision::Reject, now)
            .await
    }

    /// Accepts an invitation named by its id, as the signed-in `email`,
    /// under the same rules as [`Store::accept`]. An invitation addressed
    /// to someone else is refused as if there were none
    /// ([`StoreError::NotFound`]), so an id tells nothing about it.
    pub async fn accept_by_id(
        &self,
        tenant: &str,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        self.settle(tenant, Named::Id(id), Some(email), Decision::Accept, now)
            .await
    }

    /// Rejects an invitation named by its id, only as the signed-in
    /// `email` it is addressed to (else [`StoreError::NotFound`]).
    pub async fn reject_by_id(
        &self,
        tenant: &str,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        self.settle(tenant, Named::Id(id), Some(email), Decision::Reject, now)
            .await
    }

    /// Accepts or rejects a pending, unexpired invitation in one write
    /// transaction (read, checked and changed under the write lock, so a
    /// link re-sent or cancelled meanwhile cannot be used). By token:
    /// whoever holds the link may reject it; accepting needs `email` to be
    /// the invited one. By id: both need `email` to be the invited one.
    async fn settle(
        &self,
        tenant: &str,
        named: Named<'_>,
        email: Option<&str>,
        decision: Decision,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let mut tx = self.write(tenant).await?;
        let found = find(&mut tx, tenant, named, now).await?;
        let addressed = |inv: &Invitation| email.is_some_and(|e| inv.email.eq_ignore_ascii_case(e));
        let inv = match (found, named) {
            (Some(inv), Named::Id(_)) if addressed(&inv) => inv,
            (_, Named::Id(_)) => {
                return Err(StoreError::NotFound(
                    "there is no such invitation for you".into(),
                ))
            }
            (Some(inv), Named::Token(_)) => inv,
            (None, Named::Token(_)) => return Err(not_valid()),
        };
        usable(&inv)?;
        if decision == Decision::Accept && !addressed(&inv) {
            return Err(StoreError::Invitation(format!(
                "this invitation is for {}; sign in as that person to accept it",
                inv.email
            )));
        }
        let to = match decision {
            Decision::Accept => "accepted",
            Decision::Reject => "rejected",
        };
        tx.execute(
            "UPDATE invitations SET state = ?3 WHERE tenant = ?1 AND id = ?2 AND state = 'pending'",
            args![tenant, &inv.id, to],
        )
        .await?;
        if decision == Decision::Accept {
            let grant = tx
                .first(
                    "SELECT permissions FROM invitations WHERE tenant = ?1 AND id = ?2",
                    args![tenant, &inv.id],
                )
                .await?
                .map_or(Ok(0), |r| r.int(0))?;
            ensure_user(&mut tx, tenant, &inv.email, now).await?;
            tx.execute(
                "INSERT INTO members (tenant, account, \"user\", permissions, since) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, account, \"user\") DO UPDATE SET permissions = members.permissions | excluded.permissions",
                args![tenant, &inv.account, &inv.email, grant, now],
            )
            .await?;
        }
        tx.commit().await?;
        self.invitation(tenant, &inv.id, now).await
    }

    /// Cancels a pending invitation, as `actor` (who must be allowed to
    /// invite with its permissions); its link stops working.
    pub async fn cancel(
        &self,
        tenant: &str,
        actor: Option<&str>,
        id: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let mut tx = self.write(tenant).await?;
        pending_for_actor(&mut tx, tenant, id, actor).await?;
        tx.execute(
            "UPDATE invitations SET state = 'cancelled' WHERE tenant = ?1 AND id = ?2",
            args![tenant, id],
        )
        .await?;
        tx.commit().await?;
        self.invitation(tenant, id, now).await
    }

    /// Re-sends a pending invitation: a new link valid `ttl` seconds; the
    /// old link stops working.
    pub async fn resend(
        &self,
        tenant: &str,
        actor: Option<&str>,
        id: &str,
        now: u64,
        ttl: u64,
    ) -> Result<(Invitation, String), StoreError> {
        let token = random_token()?;
        let mut tx = self.write(tenant).await?;
        pending_for_actor(&mut tx, tenant, id, actor).await?;
        tx.execute(
            "UPDATE invitations SET token_hash = ?3, expires_at = ?4 WHERE tenant = ?1 AND id = ?2",
            args![tenant, id, hash_token(&token), now.saturating_add(ttl)],
        )
        .await?;
        tx.commit().await?;
        Ok((self.invitation(tenant, id, now).await?, token))
    }
}

fn not_valid() -> StoreError {
    StoreError::Invitation(
        "this invitation link is not valid (it may have been re-sent or cancelled)".into(),
    )
}

/// An invitation by its link's token or by its id.
async fn find(
    conn: &mut Conn<'_>,
    tenant: &str,
    named: Named<'_>,
    now: u64,
) -> Result<Option<Invitation>, StoreError> {
    let row = match named {
        Named::Token(token) => {
            conn.first(
                &format!("SELECT {COLUMNS} FROM invitations WHERE tenant = ?1 AND token_hash = ?2"),
                args![tenant, hash_token(token)],
            )
            .await?
        }
        Named::Id(id) => {
            conn.first(
                &format!("SELECT {COLUMNS} FROM invitations WHERE tenant = ?1 AND id = ?2"),
                args![tenant, id],
            )
            .await?
        }
    };
    row.map(|r| row_invitation(&r, now)).transpose()
}

fn row_invitation(r: &Row, now: u64) -> Result<Invitation, StoreError> {
    let state = r.text(5)?;
    let expires_at = r.int(6)?.max(0) as u64;
    let state = if state == "pending" && now >= expires_at {
        "expired".to_string()
    } else {
        state
    };
    Ok(Invitation {
        id: r.text(0)?,
        account: r.text(1)?,
        email: r.text(2)?,
        permissions: perms(r.int(3)?).header_value(),
        invited_by: r.text(4)?,
        state,
        expires_at,
    })
}

fn usable(inv: &Invitation) -> Result<(), StoreError> {
    match inv.state.as_str() {
        "pending" => Ok(()),
        "expired" => Err(StoreError::Invitation(
            "this invitation has expired; ask for it to be re-sent".into(),
        )),
        other => Err(StoreError::Invitation(format!(
            "this invitation was {other}"
        ))),
    }
}

/// Checks that invitation `id` is pending and that `actor` may invite with
/// its permissions (who may re-send or cancel it).
async fn pending_for_actor(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    actor: Option<&str>,
) -> Result<(), StoreError> {
    let (account, grant, state) = invitation_row(conn, tenant, id).await?;
    if state != "pending" {
        return Err(StoreError::Invitation(format!("the invitation is {state}")));
    }
    rules::may_invite(actor_in(conn, tenant, &account, actor).await?, grant)?;
    Ok(())
}

async fn invitation_row(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
) -> Result<(String, Permissions, String), StoreError> {
    let row = conn
        .first(
            "SELECT account, permissions, state FROM invitations WHERE tenant = ?1 AND id = ?2",
            args![tenant, id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("no such invitation".into()))?;
    Ok((row.text(0)?, perms(row.int(1)?), row.text(2)?))
}

#[cfg(test)]
mod tests {
    use super::super::rules::RuleError;
    use super::super::testing::on_both;
    use super::*;
    use crate::identity::Permission::*;

    on_both!(
        invitations_accept_once_and_links_stop_working,
        |s: Store| async move {
            s.add_member(
                "t",
                "a.test",
                "boss@a.test",
                Permissions::of([Invite, Technical]),
                1,
            )
            .await
            .unwrap();
            // Beyond what the inviter holds.
            let e = s
                .invite(
                    "t",
                    Some("boss@a.test"),
                    "a.test",
                    "x@a.test",
                    Permissions::of([Commercial]),
                    10,
                    100,
                )
                .await;
            assert!(matches!(e, Err(StoreError::Rule(RuleError::BeyondOwn(_)))));
            let (inv, token) = s
                .invite(
                    "t",
                    Some("boss@a.test"),
                    "a.test",
                    "new@a.test",
                    Permissions::of([Technical]),
                    10,
                    100,
                )
                .await
                .unwrap();
            assert_eq!(inv.state, "pending");
            // Someone else cannot accept it.
            assert!(s.accept("t", &token, "other@a.test", 20).await.is_err());
            // Re-sent: the old link stops working, the new one works once.
            let (_, token2) = s
                .resend("t", Some("boss@a.test"), &inv.id, 30, 100)
                .await
                .unwrap();
            assert!(s.accept("t", &token, "new@a.test", 40).await.is_err());
            assert_eq!(
                s.accept("t", &token2, "new@a.test", 40)
                    .await
                    .unwrap()
                    .state,
                "accepted"
            );
            assert!(s.accept("t", &token2, "new@a.test", 41).await.is_err());
            let d = s.directory("t").await.unwrap();
            assert_eq!(
                d.membership("new@a.test", "a.test").unwrap().permissions,
                Permissions::of([Technical])
            );
            // Cancelled and expired links.
            let (inv, token) = s
                .invite(
                    "t",
                    None,
                    "a.test",
                    "c@a.test",
                    Permissions::of([Technical]),
                    50,
                    100,
                )
                .await
                .unwrap();
            s.cancel("t", Some("boss@a.test"), &inv.id, 60)
                .await
                .unwrap();
            assert!(s.accept("t", &token, "c@a.test", 61).await.is_err());
            let (_, token) = s
                .invite(
                    "t",
                    None,
                    "a.test",
                    "late@a.test",
                    Permissions::of([Technical]),
                    50,
                    100,
                )
                .await
                .unwrap();
            assert!(s
                .accept("t", &token, "late@a.test", 150)
                .await
                .unwrap_err()
                .to_string()
                .contains("expired"));
            let (_, token) = s
                .invite(
                    "t",
                    None,
                    "a.test",
                    "no@a.test",
                    Permissions::of([Technical]),
                    50,
                    100,
                )
                .await
                .unwrap();
            assert_eq!(s.reject("t", &token, 60).await.unwrap().state, "rejected");
            assert!(s.accept("t", &token, "no@a.test", 61).await.is_err());
        }
    );

    on_both!(
        by_id_only_the_invited_person_decides,
        |s: Store| async move {
            s.add_member("t", "a.test", "boss@a.test", Permissions::of([Admin]), 1)
                .await
                .unwrap();
            let invite = async |email: &str| {
                s.invite(
                    "t",
                    Some("boss@a.test"),
                    "a.test",
                    email,
                    Permissions::of([Technical]),
                    10,
                    100,
                )
                .await
                .unwrap()
                .0
            };
            let mine = invite("dee@a.test").await;
            let theirs = invite("eve@a.test").await;
            let listed = s.pending_for("t", "DEE@a.test", 20).await.unwrap();
            assert_eq!(listed, vec![mine.clone()]);
            // Someone else's invitation, or one that does not exist: the same refusal.
            for id in [theirs.id.as_str(), "no-such-id"] {
                let e = s.accept_by_id("t", id, "dee@a.test", 20).await.unwrap_err();
                assert!(matches!(e, StoreError::NotFound(_)), "{e}");
                let e = s.reject_by_id("t", id, "dee@a.test", 20).await.unwrap_err();
                assert!(matches!(e, StoreError::NotFound(_)), "{e}");
            }
            assert_eq!(
                s.invitation("t", &theirs.id, 20).await.unwrap().state,
                "pending"
            );
            // Another tenant's store holds nothing for this id.
            assert!(s
                .accept_by_id("u", &mine.id, "dee@a.test", 20)
                .await
                .is_err());
            assert_eq!(
                s.accept_by_id("t", &mine.id, "dee@a.test", 20)
                    .await
                    .unwrap()
                    .state,
                "accepted"
            );
            assert!(matches!(
                s.accept_by_id("t", &mine.id, "dee@a.test", 21).await,
                Err(StoreError::Invitation(_))
            ));
            assert_eq!(
                s.directory("t")
                    .await
                    .unwrap()
                    .membership("dee@a.test", "a.test")
                    .unwrap()
                    .permissions,
                Permissions::of([Technical])
            );
            assert_eq!(
                s.reject_by_id("t", &theirs.id, "eve@a.test", 30)
                    .await
                    .unwrap()
                    .state,
                "rejected"
            );
            // Expired invitations are neither listed nor accepted.
            let late = invite("late@a.test").await;
            assert!(s
                .pending_for("t", "late@a.test", 110)
                .await
                .unwrap()
                .is_empty());
            assert!(s
                .accept_by_id("t", &late.id, "late@a.test", 110)
                .await
                .unwrap_err()
                .to_string()
                .contains("expired"));
        }
    );
}
