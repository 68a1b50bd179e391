//! The rules every membership change obeys (README, "Accounts and
//! permissions"), as pure functions of who acts and what changes. The store applies them inside
//! the transaction that makes the change.

use crate::identity::{Permission, Permissions};

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The operator (command line, admin API without a member): not bound
    /// by a member's permissions, but still by the last-member rule.
    Operator,
    /// A member of the account, with what they hold there (`None`: they
    /// hold nothing in it).
    Member(Option<Permissions>),
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The actor is not a member of the account.
    #[error("you are not a member of this account")]
    NotAMember,
    /// Inviting needs `invite`.
    #[error("inviting needs the invite permission")]
    NoInvite,
    /// The change touches permissions the actor does not hold.
    #[error("you can only grant or remove permissions you hold yourself (not: {0})")]
    BeyondOwn(String),
    /// The account would be left without members.
    #[error("an account never loses its last member; add another member first")]
    LastMember,
    /// Nothing to grant.
    #[error("a membership needs at least one permission")]
    NoPermissions,
}

/// What the actor holds, or `None` for the operator (who holds everything).
fn held(actor: Actor) -> Result<Option<Permissions>, RuleError> {
    match actor {
        Actor::Operator => Ok(None),
        Actor::Member(None) => Err(RuleError::NotAMember),
        Actor::Member(Some(p)) => Ok(Some(p)),
    }
}

/// Every permission in `touched` must be held (admin holds all).
fn within(held: Option<Permissions>, touched: Permissions) -> Result<(), RuleError> {
    let Some(held) = held else { return Ok(()) };
    let beyond: Vec<&str> = touched
        .iter()
        .filter(|p| !held.has(*p))
        .map(Permission::as_str)
        .collect();
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(RuleError::BeyondOwn(beyond.join(",")))
    }
}

/// Inviting someone with `grant`: only `invite` holders, only with
/// permissions they hold.
pub fn may_invite(actor: Actor, grant: Permissions) -> Result<(), RuleError> {
    if grant.is_empty() {
        return Err(RuleError::NoPermissions);
    }
    let held = held(actor)?;
    if held.is_some_and(|h| !h.has(Permission::Invite)) {
        return Err(RuleError::NoInvite);
    }
    within(held, grant)
}

/// Changing a member's permissions from `before` to `after`: every
/// permission granted or removed must be the actor's own.
pub fn may_change(actor: Actor, before: Permissions, after: Permissions) -> Result<(), RuleError> {
    if after.is_empty() {
        return Err(RuleError::NoPermissions);
    }
    within(
        held(actor)?,
        before.difference(after).union(after.difference(before)),
    )
}

/// Removing a member holding `theirs` from an account that has `members`
/// members now: the actor must hold all of theirs, and one must remain.
pub fn may_remove(actor: Actor, theirs: Permissions, members: usize) -> Result<(), RuleError> {
    within(held(actor)?, theirs)?;
    if members <= 1 {
        return Err(RuleError::LastMember);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::type_complexity)]
mod tests {
    use super::*;
    use Permission::*;

    fn p(list: &[Permission]) -> Permissions {
        Permissions::of(list.iter().copied())
    }

    fn m(list: &[Permission]) -> Actor {
        Actor::Member(Some(p(list)))
    }

    #[test]
    fn inviting() {
        let table: &[(Actor, &[Permission], Result<(), RuleError>)] = &[
            (m(&[Invite, Technical]), &[Technical], Ok(())),
            (m(&[Invite, Technical]), &[Invite, Technical], Ok(())),
            (m(&[Technical]), &[Technical], Err(RuleError::NoInvite)),
            (
                m(&[Invite, Technical]),
                &[Commercial],
                Err(RuleError::BeyondOwn("commercial".into())),
            ),
            (
                m(&[Invite]),
                &[Admin],
                Err(RuleError::BeyondOwn(
                    "admin,commercial,sublogin,technical".into(),
                )),
            ),
            (m(&[Admin]), &[Admin], Ok(())),
            (m(&[Admin]), &[], Err(RuleError::NoPermissions)),
            (
                Actor::Member(None),
                &[Technical],
                Err(RuleError::NotAMember),
            ),
            (Actor::Operator, &[Admin], Ok(())),
        ];
        for (actor, grant, want) in table {
            assert_eq!(
                &may_invite(*actor, p(grant)),
                want,
                "{actor:?} inviting with {grant:?}"
            );
        }
    }

    #[test]
    fn granting_and_removing_permissions() {
        let table: &[(Actor, &[Permission], &[Permission], Result<(), RuleError>)] = &[
            (m(&[Technical]), &[Technical], &[Technical], Ok(())),
            (
                m(&[Technical, Invite]),
                &[Commercial],
                &[Commercial, Technical],
                Ok(()),
            ),
            (
                m(&[Technical]),
                &[Commercial, Technical],
                &[Technical],
                Err(RuleError::BeyondOwn("commercial".into())),
            ),
            (
                m(&[Technical]),
                &[Technical],
                &[Technical, Commercial],
                Err(RuleError::BeyondOwn("commercial".into())),
            ),
            (m(&[Admin]), &[Technical], &[Admin], Ok(())),
            (
                m(&[Commercial, Technical, Invite, Sublogin]),
                &[Technical],
                &[Admin],
                Err(RuleError::BeyondOwn("admin".into())),
            ),
            (
                m(&[Technical]),
                &[Technical],
                &[],
                Err(RuleError::NoPermissions),
            ),
            (Actor::Operator, &[Technical], &[Admin], Ok(())),
        ];
        for (actor, before, after, want) in table {
            assert_eq!(
                &may_change(*actor, p(before), p(after)),
                want,
                "{actor:?}: {before:?} → {after:?}"
            );
        }
    }

    #[test]
    fn removing_members() {
        let table: &[(Actor, &[Permission], usize, Result<(), RuleError>)] = &[
            (m(&[Technical]), &[Technical], 2, Ok(())),
            (
                m(&[Technical]),
                &[Technical, Commercial],
                2,
                Err(RuleError::BeyondOwn("commercial".into())),
            ),
            (m(&[Admin]), &[Admin], 2, Ok(())),
            (m(&[Admin]), &[Technical], 1, Err(RuleError::LastMember)),
            (Actor::Operator, &[Admin], 1, Err(RuleError::LastMember)),
            (Actor::Operator, &[Admin], 3, Ok(())),
            (
                Actor::Member(None),
                &[Technical],
                3,
                Err(RuleError::NotAMember),
            ),
        ];
        for (actor, theirs, members, want) in table {
            assert_eq!(
                &may_remove(*actor, p(theirs), *members),
                want,
                "{actor:?} removing {theirs:?} of {members}"
            );
        }
    }
}
