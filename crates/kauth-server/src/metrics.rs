//! Prometheus metrics, named after kube-apiserver's where the concept is the same.

use std::sync::Arc;
use std::time::Duration;

use kauth::authn::{Authenticated, Rejection};
use kauth::authz::Decision;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry as Prom, TextEncoder,
};

use crate::replicas::Replicas;

/// Whether an accepted token was stale (used after its `warnafter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Stale.
    Yes,
    /// Fresh, or not a token with a `warnafter`.
    No,
}

/// The server's metrics.
pub struct Metrics {
    registry: Prom,
    authn_attempts: IntCounterVec,
    tokens_issued: IntCounterVec,
    stale_tokens: IntCounterVec,
    token_reviews: IntCounterVec,
    /// The children every request touches, looked up once rather than per request (a lookup
    /// hashes the label values and takes the vector's lock).
    hot: Hot,
    /// Certificates whose expiry is exported: (name, not-after unix seconds).
    pub certificates: Vec<(String, i64)>,
    /// Calls to the token webhook.
    pub webhook: Arc<WebhookRequests>,
    /// Calls to the authorization webhooks, and reloads of `--authorization-config`.
    pub authorization_config: Arc<AuthorizationConfigMetrics>,
}

/// kube-apiserver's metrics of an `AuthorizationConfiguration`: its automatic reloads
/// (`apiserver_authorization_config_controller_automatic_reloads_total` and
/// `_reload_last_timestamp_seconds`, by `status` success or failure and `apiserver_id_hash`),
/// and each call to a webhook by its name and result (kauth's name: kube-apiserver's own
/// `apiserver_authorization_webhook_evaluations_total` counts decisions, with results kauth
/// does not tell apart).
pub struct AuthorizationConfigMetrics {
    reloads: IntCounterVec,
    last_reload: prometheus::GaugeVec,
    webhook_requests: IntCounterVec,
}

impl AuthorizationConfigMetrics {
    fn new(registry: &Prom) -> Result<Self, prometheus::Error> {
        let reloads = IntCounterVec::new(
            Opts::new(
                "apiserver_authorization_config_controller_automatic_reloads_total",
                "Total number of automatic reloads of authorization configuration split by status and apiserver identity.",
            ),
            &["status", "apiserver_id_hash"],
        )?;
        let last_reload = prometheus::GaugeVec::new(
            Opts::new(
                "apiserver_authorization_config_controller_automatic_reload_last_timestamp_seconds",
                "Timestamp of the last automatic reload of authorization configuration split by status and apiserver identity.",
            ),
            &["status", "apiserver_id_hash"],
        )?;
        let webhook_requests = IntCounterVec::new(
            Opts::new(
                "kauth_authorization_webhook_request_total",
                "Number of HTTP requests to authorization webhooks, by webhook name and status code.",
            ),
            &["name", "code"],
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(last_reload.clone()))?;
        registry.register(Box::new(webhook_requests.clone()))?;
        Ok(AuthorizationConfigMetrics { reloads, last_reload, webhook_requests })
    }

    /// One automatic reload: `success` or `failure`, at `unix_seconds`.
    pub fn reload(&self, success: bool, id_hash: &str, unix_seconds: f64) {
        let status = if success { "success" } else { "failure" };
        self.reloads.with_label_values(&[status, id_hash]).inc();
        self.last_reload.with_label_values(&[status, id_hash]).set(unix_seconds);
    }

    /// The metrics sink of the webhook named `name`.
    pub fn webhook(self: &Arc<Self>, name: &str) -> Arc<dyn kauth_delegation::webhook::WebhookMetrics> {
        Arc::new(NamedWebhook { metrics: self.clone(), name: name.to_owned() })
    }
}

struct NamedWebhook {
    metrics: Arc<AuthorizationConfigMetrics>,
    name: String,
}

impl kauth_delegation::webhook::WebhookMetrics for NamedWebhook {
    fn request(&self, code: &str, _latency: Duration) {
        self.metrics.webhook_requests.with_label_values(&[&self.name, code]).inc();
    }
}

/// Calls to the token webhook (`--authentication-token-webhook-config-file`), by HTTP status
/// (`<error>` when none came), each attempt of a retried call counted: the shape of kube's
/// webhook `AuthenticatorMetrics` (`apiserver_delegated_authn_request_total` and
/// `_duration_seconds` in a delegating server; kube-apiserver records none for its own token
/// webhook), under kauth's name.
pub struct WebhookRequests {
    total: IntCounterVec,
    latency: HistogramVec,
}

impl WebhookRequests {
    fn new(registry: &Prom) -> Result<Self, prometheus::Error> {
        let total = IntCounterVec::new(
            Opts::new(
                "kauth_authentication_webhook_request_total",
                "Number of HTTP requests to the token authentication webhook, by status code.",
            ),
            &["code"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kauth_authentication_webhook_request_duration_seconds",
                "Request latency in seconds of the token authentication webhook, by status code.",
            )
            .buckets(vec![0.25, 0.5, 0.7, 1.0, 1.5, 3.0, 5.0, 10.0]),
            &["code"],
        )?;
        registry.register(Box::new(total.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(WebhookRequests { total, latency })
    }
}

impl kauth_delegation::webhook::WebhookMetrics for WebhookRequests {
    fn request(&self, code: &str, latency: Duration) {
        self.total.with_label_values(&[code]).inc();
        self.latency.with_label_values(&[code]).observe(latency.as_secs_f64());
    }
}

/// Pre-resolved children of the label sets every request uses.
struct Hot {
    authn_success: Histogram,
    authn_failure: Histogram,
    /// By decision: allowed, denied, no-opinion.
    authz: [(Histogram, IntCounter); 3],
    review_authenticated: IntCounter,
}

impl Hot {
    fn new(
        authn: &HistogramVec,
        authz_duration: &HistogramVec,
        authz: &IntCounterVec,
        reviews: &IntCounterVec,
    ) -> Self {
        let decision = |l: &str| (authz_duration.with_label_values(&[l]), authz.with_label_values(&[l]));
        Hot {
            authn_success: authn.with_label_values(&["success"]),
            authn_failure: authn.with_label_values(&["failure"]),
            authz: [decision("allowed"), decision("denied"), decision("no-opinion")],
            review_authenticated: reviews.with_label_values(&["authenticated", ""]),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn buckets() -> Vec<f64> {
    // kube-apiserver: exponential from 1 ms.
    prometheus::exponential_buckets(0.0001, 2.0, 16).unwrap_or_default()
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Prom::new();
        let authn_duration = HistogramVec::new(
            HistogramOpts::new(
                "authentication_duration_seconds",
                "Authentication duration in seconds broken out by result.",
            )
            .buckets(buckets()),
            &["result"],
        )?;
        let authn_attempts = IntCounterVec::new(
            Opts::new(
                "authentication_attempts",
                "Counter of authenticated attempts, by authenticator, result and reason code.",
            ),
            &["authenticator", "result", "code"],
        )?;
        let authz_duration = HistogramVec::new(
            HistogramOpts::new(
                "authorization_duration_seconds",
                "Authorization duration in seconds broken out by result.",
            )
            .buckets(buckets()),
            &["result"],
        )?;
        let authz_decisions = IntCounterVec::new(
            Opts::new("authorization_decisions_total", "Total number of terminal decisions made by an authorizer."),
            &["decision"],
        )?;
        let tokens_issued = IntCounterVec::new(
            Opts::new("serviceaccount_tokens_issued_total", "Service-account tokens issued, by kind (bound, legacy)."),
            &["kind"],
        )?;
        let stale_tokens = IntCounterVec::new(
            Opts::new("serviceaccount_stale_tokens_total", "Cumulative stale projected service account tokens used"),
            &["authenticator"],
        )?;
        let token_reviews = IntCounterVec::new(
            Opts::new("kauth_tokenreviews_total", "TokenReviews answered, by result and reason code."),
            &["result", "code"],
        )?;
        for c in [&authn_attempts, &authz_decisions, &tokens_issued, &stale_tokens, &token_reviews] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(authn_duration.clone()))?;
        registry.register(Box::new(authz_duration.clone()))?;
        let hot = Hot::new(&authn_duration, &authz_duration, &authz_decisions, &token_reviews);
        let webhook = Arc::new(WebhookRequests::new(&registry)?);
        let authorization_config = Arc::new(AuthorizationConfigMetrics::new(&registry)?);
        Ok(Metrics {
            webhook,
            authorization_config,
            hot,
            registry,
            authn_attempts,
            tokens_issued,
            stale_tokens,
            token_reviews,
            certificates: Vec::new(),
        })
    }

    /// Records one request authentication.
    /// `authenticator` is the one that accepted the credential, or the one whose rejection is
    /// reported with `Err(code)`; `stale` marks a service-account token used after its
    /// `warnafter`.
    pub fn authentication(&self, authenticator: &str, result: Result<Stale, &str>, took: Duration) {
        match result {
            Ok(stale) => {
                self.hot.authn_success.observe(took.as_secs_f64());
                self.authn_attempts.with_label_values(&[authenticator, "success", ""]).inc();
                if stale == Stale::Yes {
                    self.stale_tokens.with_label_values(&[authenticator]).inc();
                }
            }
            Err(code) => {
                self.hot.authn_failure.observe(took.as_secs_f64());
                self.authn_attempts.with_label_values(&[authenticator, "failure", code]).inc();
            }
        }
    }

    /// Records one authorization.
    pub fn authorization(&self, d: &Decision, took: Duration) {
        let (duration, decisions) = &self.hot.authz[match d {
            Decision::Allow(_) => 0,
            Decision::Deny(_) => 1,
            Decision::NoOpinion(_) => 2,
        }];
        duration.observe(took.as_secs_f64());
        decisions.inc();
    }

    /// Records one issued token.
    pub fn token_issued(&self, kind: &str) {
        self.tokens_issued.with_label_values(&[kind]).inc();
    }

    /// Records one TokenReview.
    pub fn token_review(&self, r: &Result<Option<Authenticated>, Rejection>, took: Duration) {
        let _ = took;
        match r {
            Ok(Some(_)) => self.hot.review_authenticated.inc(),
            Ok(None) => self.token_reviews.with_label_values(&["unauthenticated", "not_recognised"]).inc(),
            Err(rejection) => self.token_reviews.with_label_values(&["unauthenticated", rejection.code()]).inc(),
        }
    }

    /// The text exposition, with the token cache counters and certificate expiry computed now.
    pub fn render(&self, now: time::OffsetDateTime, token_cache: (u64, u64), replicas: Option<&Replicas>) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut out = String::from_utf8_lossy(&buf).into_owned();
        let (hits, misses) = token_cache;
        out.push_str("# HELP authentication_token_cache_request_total Token cache requests, by status.\n");
        out.push_str("# TYPE authentication_token_cache_request_total counter\n");
        out.push_str(&format!("authentication_token_cache_request_total{{status=\"hit\"}} {hits}\n"));
        out.push_str(&format!("authentication_token_cache_request_total{{status=\"miss\"}} {misses}\n"));
        out.push_str(
            "# HELP kauth_certificate_expiration_seconds Seconds until each serving or CA certificate expires.\n",
        );
        out.push_str("# TYPE kauth_certificate_expiration_seconds gauge\n");
        let now_s = now.unix_timestamp();
        for (name, not_after) in &self.certificates {
            out.push_str(&format!(
                "kauth_certificate_expiration_seconds{{certificate={name:?}}} {}\n",
                not_after - now_s
            ));
        }
        if let Some(replicas) = replicas {
            out.push_str(&replicas.metrics(now));
        }
        out
    }
}
