//! How a tenant's pages look: `[tenant.brand]` (colours, logo, "Secured by
//! Portero"), its stylesheet and its language.

use super::context::Ctx;
use super::raw::RawBrand;
use super::secret;
use toml::Spanned;

/// `[tenant.brand]`: colours become stylesheet rules in front of the
/// tenant's CSS file; the logo is read once (PNG, SVG, JPEG or WebP).
pub(super) fn compile_brand(
    cx: &mut Ctx<'_>,
    raw: Option<&RawBrand>,
    css: Option<String>,
    w: &str,
) -> (Option<String>, Option<(bytes::Bytes, &'static str)>, bool) {
    let Some(raw) = raw else {
        return (css, None, false);
    };
    let mut rules = String::new();
    let mut colour = |c: &Option<Spanned<String>>, what: &str, rule: &dyn Fn(&str) -> String| {
        if let Some(c) = c {
            let v = c.get_ref().trim();
            let hex = v.strip_prefix('#').unwrap_or("");
            if matches!(hex.len(), 3 | 6) && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                rules.push_str(&rule(v));
            } else {
                cx.err(
                    c.span(),
                    format!("{w}: brand.{what} `{v}` is not a #rgb or #rrggbb colour"),
                );
            }
        }
    };
    colour(&raw.primary_color, "primary_color", &|v| {
        format!("button,.button{{background:{v}}}h1{{color:{v}}}")
    });
    colour(&raw.background_color, "background_color", &|v| {
        format!("body{{background:{v}}}")
    });
    let logo = raw.logo.as_ref().and_then(|l| {
        let path = secret::resolve_path(l.get_ref(), &cx.dir);
        let kind = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("webp") => "image/webp",
            _ => {
                cx.err(
                    l.span(),
                    format!("{w}: brand.logo must be a .png, .svg, .jpg or .webp file"),
                );
                return None;
            }
        };
        match std::fs::read(&path) {
            Ok(b) if b.len() <= 512 * 1024 => Some((bytes::Bytes::from(b), kind)),
            Ok(_) => {
                cx.err(l.span(), format!("{w}: brand.logo is larger than 512 KiB"));
                None
            }
            Err(e) => {
                cx.err(l.span(), format!("{w}: brand.logo {}: {e}", path.display()));
                None
            }
        }
    });
    let css = match (rules.is_empty(), css) {
        (true, css) => css,
        (false, Some(file)) => Some(format!("{rules}\n{file}")),
        (false, None) => Some(rules),
    };
    (css, logo, raw.powered_by.unwrap_or(false))
}
