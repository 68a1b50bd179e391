//! Prometheus metrics served on the admin listener's `/metrics`.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The counters and histograms Portero keeps.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by tenant and outcome (`forward_identity`, `classic`, `sign_in`, …).
    pub requests: IntCounterVec,
    /// Time Portero spent deciding, by outcome (not the upstream's time).
    pub decision_seconds: HistogramVec,
    /// Sign-ins by tenant and method.
    pub sign_ins: IntCounterVec,
    /// Refused cookies, tokens and assertions by kind and reason
    /// (count through [`Metrics::refused`]).
    refusals: IntCounterVec,
    /// Configuration reloads by result (`ok`, `refused`).
    pub reloads: IntCounterVec,
    /// Fetches of IdP documents by kind and result (`ok`, `failed`).
    pub idp_fetches: IntCounterVec,
    /// Questions to panels' membership endpoints by tenant and result.
    pub member_fetches: IntCounterVec,
    /// Forwarded requests' time until the answer was sent, by tenant.
    pub upstream_seconds: HistogramVec,
    /// Requests the panel did not answer (502/504), by tenant.
    pub upstream_errors: IntCounterVec,
    /// Age of the copy in force of each IdP document (set at each scrape).
    pub idp_document_age: GaugeVec,
    /// Cache lookups by cache and result (`hit`, `miss`).
    pub cache_lookups: IntCounterVec,
    /// Mails handed to the mail server, by tenant ([`crate::mail`]).
    pub mail_sent: IntCounterVec,
    /// Mails that could not be sent, by tenant.
    pub mail_failures: IntCounterVec,
    /// Whether the directory's database answered its last question (1) or
    /// not (0), by store (`sqlite`, `postgres`); set at each scrape.
    pub store_up: prometheus::IntGaugeVec,
    /// When each ACME host's certificate in force expires (Unix seconds).
    pub acme_expiry: GaugeVec,
    /// ACME orders by result (`issued`, `failed`).
    pub acme_orders: IntCounterVec,
    /// Failed ACME orders by host.
    pub acme_failures: IntCounterVec,
    /// `cache_lookups` for signed identity headers, resolved once (the
    /// forward path counts without a label lookup): [reused, signed afresh].
    signed_identity: [prometheus::IntCounter; 2],
    /// `cache_lookups` for panel-endpoint memberships, resolved once:
    /// [answered from the cache, the endpoint asked first].
    panel_members: [prometheus::IntCounter; 2],
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("portero_requests_total", "Requests by tenant and outcome"),
            &["tenant", "outcome"],
        )?;
        let decision_seconds = HistogramVec::new(
            HistogramOpts::new(
                "portero_decision_seconds",
                "Time to decide a request, before any upstream work",
            )
            .buckets(vec![
                0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05,
            ]),
            &["outcome"],
        )?;
        let sign_ins = IntCounterVec::new(
            Opts::new("portero_sign_ins_total", "Sign-ins by tenant and method"),
            &["tenant", "method"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "portero_refusals_total",
                "Refused cookies, tokens and assertions, by kind and reason",
            ),
            &["kind", "reason"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new(
                "portero_config_reloads_total",
                "Configuration reloads by result",
            ),
            &["result"],
        )?;
        let idp_fetches = IntCounterVec::new(
            Opts::new(
                "portero_idp_document_fetches_total",
                "Fetches of IdP documents (metadata, discovery, keys) by kind and result",
            ),
            &["document", "result"],
        )?;
        registry.register(Box::new(idp_fetches.clone()))?;
        let member_fetches = IntCounterVec::new(
            Opts::new(
                "portero_membership_fetches_total",
                "Questions to a panel's membership endpoint by tenant and result",
            ),
            &["tenant", "result"],
        )?;
        registry.register(Box::new(member_fetches.clone()))?;
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "portero_upstream_seconds",
                "Forwarded requests: time from arrival until the answer was sent, by tenant",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["tenant"],
        )?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "portero_upstream_errors_total",
                "Requests the panel did not answer, by tenant and status",
            ),
            &["tenant", "status"],
        )?;
        registry.register(Box::new(upstream_errors.clone()))?;
        let idp_document_age = GaugeVec::new(
            Opts::new(
                "portero_idp_document_age_seconds",
                "Age of the copy in force of each IdP document (metadata, discovery); absent until one is fetched",
            ),
            &["document", "url"],
        )?;
        registry.register(Box::new(idp_document_age.clone()))?;
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "portero_cache_lookups_total",
                "Cache lookups by cache and result",
            ),
            &["cache", "result"],
        )?;
        registry.register(Box::new(cache_lookups.clone()))?;
        let mail_sent = IntCounterVec::new(
            Opts::new(
                "portero_mail_sent_total",
                "Mails handed to the mail server ([server.smtp]), by tenant",
            ),
            &["tenant"],
        )?;
        registry.register(Box::new(mail_sent.clone()))?;
        let mail_failures = IntCounterVec::new(
            Opts::new(
                "portero_mail_failures_total",
                "Mails that could not be sent (server unreachable, refused, timed out), by tenant",
            ),
            &["tenant"],
        )?;
        registry.register(Box::new(mail_failures.clone()))?;
        let store_up = prometheus::IntGaugeVec::new(
            Opts::new(
                "portero_store_up",
                "1 when the directory's database answered its last question, 0 when it cannot be reached (requests are served from the last snapshot; changes are refused)",
            ),
            &["store"],
        )?;
        registry.register(Box::new(store_up.clone()))?;
        let acme_expiry = GaugeVec::new(
            Opts::new(
                "portero_acme_certificate_expiry_timestamp_seconds",
                "When the certificate in force for each ACME host expires (Unix time); absent until the host has one",
            ),
            &["host"],
        )?;
        registry.register(Box::new(acme_expiry.clone()))?;
        let acme_orders = IntCounterVec::new(
            Opts::new(
                "portero_acme_orders_total",
                "Certificate orders placed with the ACME CA by this node, by result (issued, failed)",
            ),
            &["result"],
        )?;
        registry.register(Box::new(acme_orders.clone()))?;
        let acme_failures = IntCounterVec::new(
            Opts::new(
                "portero_acme_failures_total",
                "Failed certificate orders by host (the log says why)",
            ),
            &["host"],
        )?;
        registry.register(Box::new(acme_failures.clone()))?;
        // What is running, and the process's CPU, memory and open files.
        let build_info = prometheus::IntGaugeVec::new(
            Opts::new(
                "portero_build_info",
                "Always 1; the labels say which Portero is running",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(decision_seconds.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            decision_seconds,
            sign_ins,
            refusals,
            reloads,
            idp_fetches,
            member_fetches,
            upstream_seconds,
            upstream_errors,
            idp_document_age,
            mail_sent,
            mail_failures,
            store_up,
            acme_expiry,
            acme_orders,
            acme_failures,
            signed_identity: [
                cache_lookups.with_label_values(&["signed_identity", "hit"]),
                cache_lookups.with_label_values(&["signed_identity", "miss"]),
            ],
            panel_members: [
                cache_lookups.with_label_values(&["panel_members", "hit"]),
                cache_lookups.with_label_values(&["panel_members", "miss"]),
            ],
            cache_lookups,
        })
    }

    /// The counter of signed identity headers reused (`true`) or signed afresh.
    pub fn signed_identity(&self, reused: bool) -> &prometheus::IntCounter {
        &self.signed_identity[usize::from(!reused)]
    }

    /// The counter of forwarded requests whose memberships came from the
    /// panel endpoint's cache (`true`) or needed the endpoint asked first.
    pub fn panel_members(&self, cached: bool) -> &prometheus::IntCounter {
        &self.panel_members[usize::from(!cached)]
    }

    /// Counts one refusal: `kind` (`session_cookie`, `saml_response`,
    /// `oidc`, `external_jwt`, `shared_store_unavailable`, `sign_in_start`)
    /// and a reason from a fixed set (never text a client chose).
    pub fn refused(&self, kind: &str, reason: &str) {
        self.refusals.with_label_values(&[kind, reason]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// One tenant's request metrics, each looked up in its family once per
/// configuration (kept in the compiled tenant), so the hot path counts
/// without hashing label values per request.
#[derive(Debug, Default)]
pub struct TenantCounters {
    upstream_seconds: std::sync::OnceLock<prometheus::Histogram>,
    /// Requests by outcome label; labels are compared by address (a label
    /// spelt twice only gets a second entry for the same counter).
    requests: std::sync::Mutex<Vec<(&'static str, prometheus::IntCounter)>>,
}

impl TenantCounters {
    /// Counts a request of this tenant with this outcome label.
    pub fn request(&self, metrics: &Metrics, tenant: &str, label: &'static str) {
        let mut known = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, c)) = known.iter().find(|(l, _)| std::ptr::eq(*l, label)) {
            c.inc();
            return;
        }
        let c = metrics.requests.with_label_values(&[tenant, label]);
        c.inc();
        known.push((label, c));
    }

    /// Records how long the panel took to answer.
    pub fn upstream(&self, metrics: &Metrics, tenant: &str, seconds: f64) {
        self.upstream_seconds
            .get_or_init(|| metrics.upstream_seconds.with_label_values(&[tenant]))
            .observe(seconds);
    }
}
