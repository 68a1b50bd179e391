//! How a tenant's pages look: `[tenant.brand]` (colours, logo, "Secured by
//! Portero"), its stylesheet and its language.

use super::context::Ctx;
use super::raw::{RawBrand, RawTenant};
use super::secret;
use crate::lang::Lang;
use toml::Spanned;

/// How a tenant's pages look, compiled.
pub(super) struct Look {
    /// Its stylesheet: the brand's colours, then its CSS file.
    pub(super) css: Option<String>,
    /// Its logo and content type.
    pub(super) logo: Option<(bytes::Bytes, &'static str)>,
    /// Say "Secured by Portero".
    pub(super) powered_by: bool,
    /// The language of its pages (`None`: the browser's).
    pub(super) language: Option<Lang>,
}

/// `css`, `language` and `[tenant.brand]`.
pub(super) fn compile(cx: &mut Ctx<'_>, raw: &RawTenant, w: &str) -> Look {
    let css = raw.css.as_ref().and_then(|c| {
        let p = secret::resolve_path(c.get_ref(), &cx.dir);
        cx.note_read(&p);
        match std::fs::read_to_string(&p) {
            Ok(s) => Some(s),
            Err(e) => {
                cx.err(
                    c.span(),
                    format!("{w}: cannot read css {}: {e}", p.display()),
                );
                None
            }
        }
    });
    let language = raw
        .language
        .as_ref()
        .and_then(|l| match l.get_ref().as_str() {
            "auto" => None,
            other => match Lang::parse(other) {
                Some(lang) => Some(lang),
                None => {
                    cx.err(
                        l.span(),
                        format!("{w}: language `{other}` is not one of auto, en, es"),
                    );
                    None
                }
            },
        });
    let (css, logo, powered_by) = compile_brand(cx, raw.brand.as_ref(), css, w);
    Look {
        css,
        logo,
        powered_by,
        language,
    }
}

/// `[tenant.brand]`: colours become stylesheet rules in front of the
/// tenant's CSS file; the logo is read once (PNG, SVG, JPEG or WebP).
fn compile_brand(
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
        cx.note_read(&path);
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
