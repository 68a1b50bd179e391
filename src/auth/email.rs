//! E-mail addresses and display names from identity providers, made safe to
//! compare and to put into headers.

/// Lower-cases and checks an e-mail: one `@`, a non-empty local part and a
/// dotted domain, no white space or control characters, at most 254 bytes.
/// Anything else is refused rather than guessed at.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim();
    if e.is_empty() || e.len() > 254 {
        return None;
    }
    let (local, domain) = e.split_once('@')?;
    if local.is_empty() || domain.contains('@') || !domain.contains('.') {
        return None;
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    let ok_local = local.bytes().all(|b| {
        b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'(' | b')' | b',' | b':' | b';' | b'<' | b'>' | b'[' | b'\\' | b']'
            )
    });
    let ok_domain = domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (ok_local && ok_domain).then(|| e.to_ascii_lowercase())
}

/// A display name fit for a header: control characters dropped, white space
/// folded, at most 200 characters; `None` when nothing is left.
pub fn clean_display_name(raw: &str) -> Option<String> {
    let folded: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    (!folded.is_empty()).then_some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ana@LatinCloud.test "),
            Some("ana@latincloud.test".into())
        );
        assert_eq!(normalize_email("a+b@x.test"), Some("a+b@x.test".into()));
        for bad in [
            "",
            "ana",
            "@x.test",
            "ana@",
            "ana@x",
            "a@b@x.test",
            "a b@x.test",
            "a@x..test",
            "a\r\n@x.test",
            "a@x.test\r\nX-Portero-User: root",
            "a@.x.test",
            "a@x_y.test",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            clean_display_name("  Ana \r\n María "),
            Some("Ana María".into())
        );
        assert_eq!(clean_display_name("\u{7}"), None);
        assert_eq!(clean_display_name("x\u{0}y"), Some("xy".into()));
    }
}
