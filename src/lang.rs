//! The languages Portero's pages are written in, and the choice of one
//! for a request (the pages themselves are in [`crate::web::i18n`]).

/// A language Portero's pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the fallback).
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// A configured language name.
    pub fn parse(raw: &str) -> Option<Lang> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The browser's preferred language among those Portero has
    /// (`Accept-Language`, with q-values); English when none fits.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
            return Lang::En;
        };
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::parse(primary) else {
                continue;
            };
            if q <= 0.0 {
                continue;
            }
            // Highest q wins; the earlier one on a tie.
            if best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, i, lang));
            }
        }
        best.map_or(Lang::En, |(_, _, l)| l)
    }
}
