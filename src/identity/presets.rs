//! `[tenant.headers] preset`: the identity header names of another
//! sign-in gateway, for a panel that already reads them (docs/headers.md).

/// A family of identity header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// Portero's own names, `X-Portero-*`.
    #[default]
    Portero,
    /// oauth2-proxy's: what it sends the upstream (`X-Forwarded-User`,
    /// `-Email`, `-Preferred-Username`, `-Groups`) and what it answers
    /// nginx's `auth_request` (`X-Auth-Request-*`), both.
    Oauth2Proxy,
    /// Authelia's `Remote-User`, `-Email`, `-Name`, `-Groups`.
    Authelia,
}

impl Preset {
    /// Every preset, as written in the configuration.
    pub const ALL: [(&'static str, Preset); 3] = [
        ("portero", Preset::Portero),
        ("oauth2-proxy", Preset::Oauth2Proxy),
        ("authelia", Preset::Authelia),
    ];

    /// The preset written `name`.
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        Preset::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("portero", |(n, _)| n)
    }

    /// The names (lower-case) the identity header at `slot` (the order of
    /// [`super::DEFAULT_NAMES`]: user, email, name, tenant, account,
    /// permissions, impersonate, auth, assertion) is sent under; empty
    /// when the preset has none for it, and Portero's name stays.
    pub fn names(self, slot: usize) -> &'static [&'static str] {
        match (self, slot) {
            (Preset::Oauth2Proxy, 0) => &["x-forwarded-user", "x-auth-request-user"],
            (Preset::Oauth2Proxy, 1) => &["x-forwarded-email", "x-auth-request-email"],
            (Preset::Oauth2Proxy, 2) => &[
                "x-forwarded-preferred-username",
                "x-auth-request-preferred-username",
            ],
            (Preset::Oauth2Proxy, 5) => &["x-forwarded-groups", "x-auth-request-groups"],
            (Preset::Authelia, 0) => &["remote-user"],
            (Preset::Authelia, 1) => &["remote-email"],
            (Preset::Authelia, 2) => &["remote-name"],
            (Preset::Authelia, 5) => &["remote-groups"],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for (name, preset) in Preset::ALL {
            assert_eq!(Preset::parse(name), Some(preset));
            assert_eq!(preset.as_str(), name);
        }
        assert_eq!(Preset::parse("Authelia"), None);
    }

    #[test]
    fn every_preset_name_is_a_lower_case_header_name() {
        for (_, preset) in Preset::ALL {
            for slot in 0..9 {
                for n in preset.names(slot) {
                    let parsed = http::HeaderName::from_bytes(n.as_bytes()).unwrap();
                    assert_eq!(parsed.as_str(), *n);
                }
            }
        }
    }
}
