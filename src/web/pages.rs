//! HTML pages Portero shows itself: the sign-in page, the accounts page and
//! the error pages. Every value written into a page goes through [`escape`].

use super::i18n::{tr, Lang};
pub use crate::brand::Brand;
pub use crate::html::escape;
use std::fmt::Write;

/// Percent-encodes a value for a query string.
pub fn query_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The stylesheet every page links; a tenant's own CSS is linked after it.
pub const BASE_CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:26rem;margin:8vh auto;background:#fff;padding:2rem 2.2rem;border-radius:10px;box-shadow:0 2px 14px rgba(0,0,0,.08)}\
h1{font-size:1.35rem;margin:0 0 1rem}p{line-height:1.5}a{color:#2457c5}.brand{color:#667;font-size:.9rem;margin-bottom:.4rem}\
label{display:block;font-weight:600;margin:.6rem 0 .3rem}input[type=email],input[type=text]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #c8ccd4;border-radius:6px}\
button,.button{display:inline-block;margin-top:1rem;padding:.6rem 1.1rem;font-size:1rem;border:0;border-radius:6px;background:#2457c5;color:#fff;text-decoration:none;cursor:pointer}\
.secondary{background:#e6e9ef;color:#1d2330}.error{background:#fdecea;color:#8a1c12;padding:.6rem .8rem;border-radius:6px}\
ul.accounts,ul.invitations{list-style:none;padding:0}ul.accounts li,ul.invitations li{padding:.5rem 0;border-bottom:1px solid #eee}.muted{color:#667;font-size:.9rem}\
ul.accounts li{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem .8rem}ul.accounts li form{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem .6rem}\
ul.accounts li button{margin-top:0}ul.accounts .actions{flex-basis:100%;margin-left:0}.actions a{color:#2457c5}\
ul.accounts li .muted{flex-basis:100%}\
ul.invitations .muted{display:block}form.inline button{margin-top:.5rem}\
code{background:#f0f1f4;padding:.1rem .3rem;border-radius:4px;word-break:break-all}code.link{display:block;padding:.5rem .6rem;line-height:1.4}\
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}main:has(table.members){max-width:44rem}\
table.members,table.members thead,table.members tbody{display:block;width:100%}\
table.members tr{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr) 10.5rem minmax(6rem,1fr);gap:.2rem .8rem;padding:.5rem 0;border-bottom:1px solid #eee}\
table.members th,table.members td{display:block;text-align:left;padding:0;overflow-wrap:anywhere}table.members td:has(details[open]){grid-column:1/-1}\
table.members td:nth-child(3){color:#667;font-size:.9rem;white-space:nowrap;padding-top:.1rem}\
form.inline{display:inline-block;margin-right:.4rem}ul.choices{list-style:none;padding:0}\
ul.choices li{position:relative;margin:.5rem 0;padding-left:1.7rem}ul.choices input{position:absolute;left:0;top:.2rem;margin:0}\
ul.choices .muted{display:block}ul.choices br{display:none}\
label.choice{display:inline;font-weight:600;margin:0}details summary{cursor:pointer;color:#2457c5}form details{margin-top:.7rem}.actions{font-size:.9rem;margin-left:.4rem}\
dl.profile dt{font-weight:600;margin-top:.6rem}dl.profile dd{margin:0;word-break:break-word}\
.notice{background:#e8f4ea;color:#1d4d27;padding:.6rem .8rem;border-radius:6px}\
img.logo{max-height:3rem;max-width:100%}footer{margin-top:1.5rem}\
a:focus,button:focus,input:focus,summary:focus-visible{outline:3px solid #f0b429;outline-offset:2px}\
@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh;box-sizing:border-box;padding:1.5rem}\
table.members thead{display:none}table.members tr{grid-template-columns:minmax(0,1fr) auto}\
table.members td:nth-child(2){grid-row:2;grid-column:1}table.members td:nth-child(3){grid-row:3;grid-column:1;padding-top:0}\
table.members td:nth-child(4){grid-row:1/span 3;grid-column:2}table.members td:has(details[open]){grid-row:4;grid-column:1/-1}}";

/// A whole page in `lang`: title, the tenant's brand and the body (already
/// HTML).
pub fn page(brand: &Brand<'_>, lang: Lang, title: &str, body: &str) -> String {
    let title = tr(lang, title);
    let mut out = String::with_capacity(1024 + body.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">",
        lang.code()
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(out, "<title>{}</title>", escape(title));
    out.push_str("<link rel=\"stylesheet\" href=\"/.portero/assets/portero.css\">");
    if brand.stylesheet {
        out.push_str("<link rel=\"stylesheet\" href=\"/.portero/assets/tenant.css\">");
    }
    out.push_str("</head><body><main>");
    match (brand.logo, brand.name) {
        (true, name) => {
            let _ = write!(
                out,
                "<div class=\"brand\"><img class=\"logo\" src=\"/.portero/assets/logo\" alt=\"{}\"></div>",
                escape(name.unwrap_or(""))
            );
        }
        (false, Some(name)) => {
            let _ = write!(out, "<div class=\"brand\">{}</div>", escape(name));
        }
        (false, None) => {}
    }
    let _ = write!(out, "<h1>{}</h1>", escape(title));
    out.push_str(body);
    if brand.powered_by {
        let _ = write!(
            out,
            "<footer class=\"muted\">{}</footer>",
            escape(tr(lang, "Secured by Portero"))
        );
    }
    out.push_str("</main></body></html>\n");
    out
}

/// One SSO button on the sign-in page.
#[derive(Debug, Clone)]
pub struct SsoButton {
    /// Where it leads (`/.portero/sso/…?return_to=…`).
    pub href: String,
    /// Its label.
    pub label: String,
}

/// What the sign-in page shows.
#[derive(Debug, Clone, Default)]
pub struct SignInForm<'a> {
    /// Show the e-mail field (identifier first).
    pub email_field: bool,
    /// The e-mail typed before, when the page is shown again.
    pub email: &'a str,
    /// The `return_to` carried through the form.
    pub return_to: &'a str,
    /// SSO buttons.
    pub buttons: Vec<SsoButton>,
    /// An error to show above the form.
    pub error: Option<&'a str>,
}

/// The identifier-first sign-in page (no JavaScript).
pub fn sign_in(brand: &Brand<'_>, lang: Lang, form: &SignInForm<'_>) -> String {
    let mut body = String::new();
    if let Some(e) = form.error {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(tr(lang, e))
        );
    }
    if form.email_field {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/.portero/login\">\
             <label for=\"email\">{}</label>\
             <input type=\"email\" id=\"email\" name=\"email\" value=\"{}\" autocomplete=\"username\" required autofocus>\
             <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
             <button type=\"submit\">{}</button></form>",
            escape(tr(lang, "E-mail")),
            escape(form.email),
            escape(form.return_to),
            escape(tr(lang, "Continue"))
        );
    }
    if !form.buttons.is_empty() {
        if form.email_field {
            let _ = write!(
                body,
                "<p class=\"muted\">{}</p>",
                escape(tr(lang, "or sign in directly with"))
            );
        }
        for b in &form.buttons {
            let _ = write!(
                body,
                "<p><a class=\"button secondary\" href=\"{}\">{}</a></p>",
                escape(&b.href),
                escape(tr(lang, &b.label))
            );
        }
    }
    page(brand, lang, "Sign in", &body)
}

/// An error page in `lang`: a sentence, and the links that lead on.
pub fn error(
    brand: &Brand<'_>,
    lang: Lang,
    title: &str,
    message: &str,
    links: &[(&str, &str)],
) -> String {
    let mut body = format!("<p>{}</p>", escape(tr(lang, message)));
    for (href, label) in links {
        let _ = write!(
            body,
            "<p><a class=\"button secondary\" href=\"{}\">{}</a></p>",
            escape(href),
            escape(tr(lang, label))
        );
    }
    page(brand, lang, title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }

    #[test]
    fn sign_in_page_carries_the_fields() {
        let brand = Brand {
            name: Some("Latin<Cloud>"),
            stylesheet: true,
            ..Brand::default()
        };
        let html = sign_in(
            &brand,
            Lang::En,
            &SignInForm {
                email_field: true,
                email: "\"><script>",
                return_to: "/x?a=1&b=2",
                buttons: vec![],
                error: None,
            },
        );
        assert!(html.contains("name=\"email\""));
        assert!(html.contains("name=\"return_to\" value=\"/x?a=1&amp;b=2\""));
        assert!(html.contains("Latin&lt;Cloud&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("/.portero/assets/tenant.css"));
    }
}
