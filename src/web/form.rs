//! Forms and query strings, read strictly. Every form Portero reads (sign-in,
//! accounts, invitations, the SAML ACS, the admin API) and every query string
//! of its own pages goes through [`Fields::parse`]:
//!
//! * a name given twice (`actor=&actor=ana@…`, `return_to=/a&return_to=//evil`,
//!   also spelt differently: `act%6Fr`) refuses the whole form, so no two
//!   readers can ever take different values from one request;
//! * a name or value that is not UTF-8 once decoded refuses it too (no
//!   U+FFFD guesses);
//! * a body must be `application/x-www-form-urlencoded`, with no charset or
//!   `charset=utf-8` ([`check_content_type`]).
//!
//! A missing field is `None`; a refused form is a [`BadFields`], which each
//! caller answers with a 400.

use std::fmt;

/// Why a form or query string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadFields {
    /// The field with this name was given more than once.
    Repeated(String),
    /// A name or value is not UTF-8 once decoded.
    NotUtf8,
    /// The body is not `application/x-www-form-urlencoded` in UTF-8 (the
    /// `Content-Type` given).
    ContentType(String),
}

impl fmt::Display for BadFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadFields::Repeated(name) => write!(f, "the field `{name}` is given more than once"),
            BadFields::NotUtf8 => write!(f, "a field is not UTF-8 text"),
            BadFields::ContentType(ct) => write!(
                f,
                "a form must be sent as application/x-www-form-urlencoded in UTF-8, not `{ct}`"
            ),
        }
    }
}

impl std::error::Error for BadFields {}

/// The fields of one form or query string: each name at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// Reads `application/x-www-form-urlencoded` text (a body, or a query
    /// string without `?`); refuses repeated names and non-UTF-8.
    pub fn parse(raw: &[u8]) -> Result<Fields, BadFields> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            let name = decode(name)?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(BadFields::Repeated(name));
            }
            pairs.push((name, decode(value)?));
        }
        Ok(Fields { pairs })
    }

    /// The value of `name`, when given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, owned, when given.
    pub fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }
}

/// Accepts a form body's `Content-Type`: `application/x-www-form-urlencoded`
/// with no parameters or only `charset=utf-8` (any case, quoted or not). An
/// empty body has no fields to misread and needs no type.
pub fn check_content_type(content_type: Option<&str>, body: &[u8]) -> Result<(), BadFields> {
    if body.is_empty() {
        return Ok(());
    }
    let Some(ct) = content_type else {
        return Err(BadFields::ContentType(String::new()));
    };
    let mut parts = ct.split(';').map(str::trim);
    let essence_ok = parts
        .next()
        .is_some_and(|e| e.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let params_ok = parts.filter(|p| !p.is_empty()).all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    });
    if essence_ok && params_ok {
        Ok(())
    } else {
        Err(BadFields::ContentType(ct.chars().take(100).collect()))
    }
}

/// `+` is a space, `%XX` a byte (a `%` not followed by two hex digits stays
/// as it is), and the bytes must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, BadFields> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadFields::NotUtf8)
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_as_browsers_send_them() {
        let f =
            Fields::parse(b"email=ana%40x.test&return_to=%2Fa%3Fb%3D1&note=a+b&flag&&").unwrap();
        assert_eq!(f.get("email"), Some("ana@x.test"));
        assert_eq!(f.get("return_to"), Some("/a?b=1"));
        assert_eq!(f.get("note"), Some("a b"));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("missing"), None);
        assert_eq!(Fields::parse(b"").unwrap(), Fields::default());
        // A stray `%` stays as written.
        assert_eq!(
            Fields::parse(b"a=100%&b=%zz%4").unwrap().get("b"),
            Some("%zz%4")
        );
        assert_eq!(Fields::parse(b"a=%41").unwrap().get("a"), Some("A"));
        assert_eq!(Fields::parse("a=ñ".as_bytes()).unwrap().get("a"), Some("ñ"));
    }

    #[test]
    fn a_repeated_field_is_not_a_missing_one() {
        for raw in [
            &b"actor=&actor=ana@x.test"[..],
            b"actor=ana@x.test&actor=ana@x.test",
            b"actor=a&act%6Fr=b",
            b"actor&actor",
            b"return_to=/a&x=1&return_to=//evil.test",
        ] {
            let name = if raw.starts_with(b"return") {
                "return_to"
            } else {
                "actor"
            };
            assert_eq!(
                Fields::parse(raw),
                Err(BadFields::Repeated(name.into())),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn non_utf8_is_refused_not_guessed() {
        assert_eq!(
            Fields::parse(b"email=ana%FF@x.test"),
            Err(BadFields::NotUtf8)
        );
        assert_eq!(
            Fields::parse(b"email=ana\xff@x.test"),
            Err(BadFields::NotUtf8)
        );
        assert_eq!(Fields::parse(b"%C0%AF=1"), Err(BadFields::NotUtf8));
    }

    #[test]
    fn only_urlencoded_utf8_bodies() {
        let form = "application/x-www-form-urlencoded";
        for ok in [
            form,
            "Application/X-WWW-Form-URLEncoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "application/x-www-form-urlencoded;charset=\"utf-8\"",
        ] {
            assert_eq!(check_content_type(Some(ok), b"a=1"), Ok(()), "{ok}");
        }
        for bad in [
            "application/x-www-form-urlencoded; charset=ISO-8859-1",
            "application/x-www-form-urlencoded; charset=utf-16",
            "application/x-www-form-urlencoded; charset=utf-8; charset=latin1",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/json",
        ] {
            assert!(check_content_type(Some(bad), b"a=1").is_err(), "{bad}");
        }
        assert!(check_content_type(None, b"a=1").is_err());
        assert_eq!(check_content_type(None, b""), Ok(()));
        assert_eq!(check_content_type(Some("text/plain"), b""), Ok(()));
    }
}
