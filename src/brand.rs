//! How a tenant's pages look, as the configuration gives it and the pages
//! ([`crate::web::pages`]) render it. Kept below both, so the configuration
//! does not depend on the web layer.

/// How a tenant's pages look: its product name, its stylesheet (colours
/// and the tenant's CSS file), its logo, and whether to say "Secured by
/// Portero" (white-label: not unless asked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Brand<'a> {
    /// The product name ("Miempresa ID"), shown above the title.
    pub name: Option<&'a str>,
    /// Link `/.portero/assets/tenant.css`.
    pub stylesheet: bool,
    /// Show `/.portero/assets/logo` instead of the name.
    pub logo: bool,
    /// A "Secured by Portero" line at the bottom.
    pub powered_by: bool,
}
