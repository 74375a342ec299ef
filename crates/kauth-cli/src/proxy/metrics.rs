//! `kauth proxy`'s metrics: every request by outcome (`allowed`, `forbidden`, `ignored`,
//! `not_found`, `upstream_error`, or the authentication rejection's precise code such as
//! `tokenreview_unauthenticated`), and the review caches' hits and misses.

use std::sync::Arc;

use kauth_delegation::local_rbac::LocalRbac;
use prometheus::{Encoder, Gauge, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// The proxy's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    caches: IntGaugeVec,
    local_rbac: Option<(Arc<LocalRbac>, Gauge, IntGauge)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers them.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "kauth_proxy_requests_total",
                "Requests through kauth proxy, by outcome (a refusal's precise code).",
            ),
            &["outcome"],
        )?;
        let caches = IntGaugeVec::new(
            Opts::new("kauth_proxy_review_cache_total", "Review cache answers so far, by review and result (hit, miss, stale: served while the cluster could not be asked)."),
            &["review", "result"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(caches.clone()))?;
        Ok(Metrics { registry, requests, caches, local_rbac: None })
    }

    /// The registry, for metrics kept elsewhere (the OIDC issuer's fetches).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reports the local RBAC copy's age (0 while its watches are open, else seconds since
    /// they failed; -1 before the first list) and size at each scrape.
    pub fn with_local_rbac(mut self, rbac: Arc<LocalRbac>) -> Result<Self, prometheus::Error> {
        let age = Gauge::new(
            "kauth_proxy_local_rbac_age_seconds",
            "Seconds the local copy of the cluster's RBAC has not been current (0 while watched, -1: never listed); past --local-max-age it decides nothing.",
        )?;
        let objects = IntGauge::new("kauth_proxy_local_rbac_objects", "RBAC objects in the local copy.")?;
        self.registry.register(Box::new(age.clone()))?;
        self.registry.register(Box::new(objects.clone()))?;
        self.local_rbac = Some((rbac, age, objects));
        Ok(self)
    }

    /// One request, with its outcome.
    pub fn request(&self, outcome: &str) {
        self.requests.with_label_values(&[outcome]).inc();
    }

    /// A cache's (hits, misses) so far.
    pub fn cache(&self, review: &str, (hits, misses): (u64, u64)) {
        self.caches.with_label_values(&[review, "hit"]).set(i64::try_from(hits).unwrap_or(i64::MAX));
        self.caches.with_label_values(&[review, "miss"]).set(i64::try_from(misses).unwrap_or(i64::MAX));
    }

    /// How many stale answers a review's cache gave while the cluster could not be asked.
    pub fn stale(&self, review: &str, served: u64) {
        self.caches.with_label_values(&[review, "stale"]).set(i64::try_from(served).unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        if let Some((rbac, age, objects)) = &self.local_rbac {
            let now = time::OffsetDateTime::now_utc();
            age.set(rbac.age(now).map_or(-1.0, |a| a.as_seconds_f64()));
            objects.set(i64::try_from(rbac.objects()).unwrap_or(i64::MAX));
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
