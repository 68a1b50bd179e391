//! The five permissions, with `admin` implying the others.

use std::fmt;

/// One permission on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Everything.
    Admin,
    /// Billing and plan changes.
    Commercial,
    /// May invite others, with permissions they hold themselves.
    Invite,
    /// On a reseller account, may enter its client accounts.
    Sublogin,
    /// Domains, FTP, mailboxes, snapshots.
    Technical,
}

impl Permission {
    /// All of them, in header order.
    pub const ALL: [Permission; 5] = [
        Permission::Admin,
        Permission::Commercial,
        Permission::Invite,
        Permission::Sublogin,
        Permission::Technical,
    ];

    /// The name used in configuration and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Admin => "admin",
            Permission::Commercial => "commercial",
            Permission::Invite => "invite",
            Permission::Sublogin => "sublogin",
            Permission::Technical => "technical",
        }
    }

    /// Parses a configured name.
    pub fn parse(raw: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Its name on Portero's pages and in mails.
    pub fn label(self, lang: crate::lang::Lang) -> &'static str {
        use crate::lang::Lang::{En, Es};
        match (self, lang) {
            (Permission::Admin, En) => "Administrator",
            (Permission::Admin, Es) => "Administrador",
            (Permission::Commercial, En) => "Commercial",
            (Permission::Commercial, Es) => "Comercial",
            (Permission::Invite, En) => "Invite",
            (Permission::Invite, Es) => "Invitar",
            (Permission::Sublogin, En) => "Client accounts",
            (Permission::Sublogin, Es) => "Cuentas de clientes",
            (Permission::Technical, En) => "Technical",
            (Permission::Technical, Es) => "Técnico",
        }
    }

    /// One line on what it allows.
    pub fn description(self, lang: crate::lang::Lang) -> &'static str {
        use crate::lang::Lang::{En, Es};
        match (self, lang) {
            (Permission::Admin, En) => "Everything, including all the permissions below.",
            (Permission::Admin, Es) => "Todo, incluidos todos los permisos siguientes.",
            (Permission::Commercial, En) => "Billing, invoices and plan changes.",
            (Permission::Commercial, Es) => "Facturación, facturas y cambios de plan.",
            (Permission::Invite, En) => "Invite others, with permissions one holds oneself.",
            (Permission::Invite, Es) => {
                "Invitar a otras personas, con permisos que uno mismo tiene."
            }
            (Permission::Sublogin, En) => "Enter the client accounts of a reseller account.",
            (Permission::Sublogin, Es) => {
                "Entrar en las cuentas de clientes de una cuenta de revendedor."
            }
            (Permission::Technical, En) => "Domains, FTP, mailboxes and snapshots.",
            (Permission::Technical, Es) => "Dominios, FTP, buzones de correo e instantáneas.",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of permissions, always kept expanded (`admin` holds all five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Permissions(u8);

impl Permissions {
    /// The expanded set of the given permissions.
    pub fn of(perms: impl IntoIterator<Item = Permission>) -> Permissions {
        let mut bits = 0u8;
        for p in perms {
            bits |= p.bit();
        }
        if bits & Permission::Admin.bit() != 0 {
            bits = Permission::ALL.iter().fold(0, |b, p| b | p.bit());
        }
        Permissions(bits)
    }

    /// The raw bits (for storage); [`Permissions::from_bits`] reads them back.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From stored bits, expanded again (unknown bits are dropped).
    pub fn from_bits(bits: u8) -> Permissions {
        Permissions::of(Permission::ALL.into_iter().filter(|p| bits & p.bit() != 0))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets together.
    pub fn union(self, other: Permissions) -> Permissions {
        Permissions::from_bits(self.0 | other.0)
    }

    /// What `self` holds and `other` does not (not re-expanded: a lost
    /// `admin` shows as `admin` alone).
    pub fn difference(self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
    }

    /// `self` without `p` (dropping `admin` too when `p` is one it implies).
    pub fn without(self, p: Permission) -> Permissions {
        let mut bits = self.0 & !p.bit();
        if p != Permission::Admin {
            bits &= !Permission::Admin.bit();
        }
        Permissions(bits)
    }

    /// Whether the set holds `p`.
    pub fn has(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// The permissions held, in header order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.has(*p))
    }

    /// The header value: a comma list in the order
    /// `admin,commercial,invite,sublogin,technical`.
    pub fn header_value(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Permissions {
    /// The set in words: "Administrator" for `admin` (which holds the
    /// rest), else each label, comma-separated.
    pub fn labels(self, lang: crate::lang::Lang) -> String {
        if self.has(Permission::Admin) {
            return Permission::Admin.label(lang).to_string();
        }
        self.iter()
            .map(|p| p.label(lang))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn expanded_and_ordered() {
        assert_eq!(
            Permissions::of([Technical, Invite]).header_value(),
            "invite,technical"
        );
        assert_eq!(
            Permissions::of([Admin]).header_value(),
            "admin,commercial,invite,sublogin,technical"
        );
        assert_eq!(Permissions::of([]).header_value(), "");
        assert!(Permissions::of([Admin]).has(Sublogin));
        assert_eq!(Permission::parse("technical"), Some(Technical));
        assert_eq!(Permission::parse("root"), None);
    }
}
