//! Prometheus metrics, named after kube-apiserver's where the concept is the same.

use std::sync::Arc;
use std::time::Duration;

use kauth::authn::{Authenticated, Rejection};
use kauth::authz::Decision;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry as Prom,
    TextEncoder,
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
    /// The JWT issuers' discovery and JWKS fetches.
    pub jwks: JwksMetrics,
    reloads: (IntCounterVec, prometheus::GaugeVec),
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
    pub fn webhook(self: &Arc<Self>, name: &str) -> Arc<dyn kauth_delegation::webhook_call::WebhookMetrics> {
        Arc::new(NamedWebhook { metrics: self.clone(), name: name.to_owned() })
    }
}

struct NamedWebhook {
    metrics: Arc<AuthorizationConfigMetrics>,
    name: String,
}

impl kauth_delegation::webhook_call::WebhookMetrics for NamedWebhook {
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

impl kauth_delegation::webhook_call::WebhookMetrics for WebhookRequests {
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
    /// `authentication_attempts{result="success"}` by authenticator, resolved on first use:
    /// a handful of authenticators, looked up without hashing the label values per request.
    /// Each slot is set once; reading a set slot is one atomic load, where a read lock wrote to a
    /// line both cores shared on every request.
    authn_attempts_ok: [std::sync::OnceLock<(&'static str, IntCounter)>; AUTHENTICATOR_SLOTS],
}

/// More than the chain has authenticators; one past them is counted through the label lookup.
const AUTHENTICATOR_SLOTS: usize = 16;

impl Hot {
    /// Counts one successful authentication by `authenticator`.
    fn authn_attempt_ok(&self, attempts: &IntCounterVec, authenticator: &'static str) {
        let resolve = || (authenticator, attempts.with_label_values(&[authenticator, "success", ""]));
        // Slots fill in order and a name is set only in the first slot none before it holds,
        // so it is never set twice.
        for slot in &self.authn_attempts_ok {
            let (name, counter) = slot.get_or_init(resolve);
            if *name == authenticator {
                counter.inc();
                return;
            }
        }
        resolve().1.inc();
    }
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
            authn_attempts_ok: Default::default(),
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
        let jwks = JwksMetrics::register(&registry)?;
        let reload_labels = ["status", "apiserver_id_hash"];
        let reloads = IntCounterVec::new(
            Opts::new(
                "apiserver_authentication_config_controller_automatic_reloads_total",
                "Total number of automatic reloads of authentication configuration split by status and apiserver identity.",
            ),
            &reload_labels,
        )?;
        let reload_last = prometheus::GaugeVec::new(
            Opts::new(
                "apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds",
                "Timestamp of the last automatic reload of authentication configuration split by status and apiserver identity.",
            ),
            &reload_labels,
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(reload_last.clone()))?;
        let authorization_config = Arc::new(AuthorizationConfigMetrics::new(&registry)?);
        Ok(Metrics {
            webhook,
            jwks,
            authorization_config,
            reloads: (reloads, reload_last),
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
    pub fn authentication(&self, authenticator: &'static str, result: Result<Stale, &str>, took: Duration) {
        match result {
            Ok(stale) => {
                self.hot.authn_success.observe(took.as_secs_f64());
                self.hot.authn_attempt_ok(&self.authn_attempts, authenticator);
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

    /// The `--authentication-config` reload metrics of this server (`apiserver_id`: its
    /// replica name or address; hashed as kube-apiserver hashes its identity).
    pub fn reload(&self, apiserver_id: &str) -> ReloadMetrics {
        ReloadMetrics { id_hash: issuer_hash(apiserver_id), counters: self.reloads.clone() }
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

/// The hash kube-apiserver labels a JWT issuer's metrics with (`jwt_issuer_hash`):
/// `sha256:<hex of the issuer URL>`.
pub fn issuer_hash(issuer: &str) -> String {
    format!("sha256:{}", hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, issuer.as_bytes())))
}

/// Automatic reloads of the authentication configuration file, as kube-apiserver counts them.
#[derive(Clone)]
pub struct ReloadMetrics {
    id_hash: String,
    counters: (IntCounterVec, prometheus::GaugeVec),
}

impl std::fmt::Debug for ReloadMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadMetrics")
    }
}

impl ReloadMetrics {
    /// One reload that succeeded or failed at `unix_seconds`.
    pub fn record(&self, success: bool, unix_seconds: i64) {
        let labels = [if success { "success" } else { "failure" }, self.id_hash.as_str()];
        self.counters.0.with_label_values(&labels).inc();
        self.counters.1.with_label_values(&labels).set(unix_seconds as f64);
    }
}

/// The JWT issuers' fetches (kauth's own metrics; kube-apiserver 1.32 has none for them),
/// labelled by `jwt_issuer_hash` as kube-apiserver's `apiserver_authentication_jwt_authenticator_latency_seconds`.
#[derive(Clone)]
pub struct JwksMetrics {
    duration: HistogramVec,
    errors: IntCounterVec,
    last_success: IntGaugeVec,
    refused: IntCounterVec,
}

impl std::fmt::Debug for JwksMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksMetrics")
    }
}

impl JwksMetrics {
    /// The metrics, registered in `registry` (kauth serve's, or another server's such as kauth
    /// proxy's).
    pub fn register(registry: &Prom) -> Result<Self, prometheus::Error> {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "kauth_jwt_issuer_fetch_duration_seconds",
                "Fetches of a JWT issuer's discovery document and JWKS, by document and result.",
            )
            .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["jwt_issuer_hash", "document", "result"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("kauth_jwt_issuer_fetch_errors_total", "Failed fetches of a JWT issuer's documents, by reason."),
            &["jwt_issuer_hash", "document", "code"],
        )?;
        let last_success = IntGaugeVec::new(
            Opts::new(
                "kauth_jwt_issuer_last_success_timestamp_seconds",
                "When a JWT issuer's keys were last fetched successfully (unix seconds).",
            ),
            &["jwt_issuer_hash"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "kauth_jwt_issuer_refresh_refused_total",
                "Refreshes on an unknown kid not made because the issuer was fetched less than 10 s before.",
            ),
            &["jwt_issuer_hash"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        for c in [&errors, &refused] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(last_success.clone()))?;
        Ok(JwksMetrics { duration, errors, last_success, refused })
    }

    /// The metrics of one issuer.
    pub fn issuer(&self, issuer: &str) -> IssuerMetrics {
        IssuerMetrics { hash: issuer_hash(issuer), all: self.clone() }
    }
}

/// One issuer's fetch metrics.
#[derive(Clone, Debug)]
pub struct IssuerMetrics {
    hash: String,
    all: JwksMetrics,
}

impl IssuerMetrics {
    /// One fetch of `document` (`discovery` or `jwks`): how long it took and, when it failed,
    /// its reason code.
    pub fn fetched(&self, document: &str, failure: Option<&str>, took: Duration) {
        let result = if failure.is_some() { "failure" } else { "success" };
        self.all.duration.with_label_values(&[self.hash.as_str(), document, result]).observe(took.as_secs_f64());
        if let Some(code) = failure {
            self.all.errors.with_label_values(&[self.hash.as_str(), document, code]).inc();
        }
    }

    /// The keys were fetched at `unix_seconds`.
    pub fn succeeded(&self, unix_seconds: i64) {
        self.all.last_success.with_label_values(&[self.hash.as_str()]).set(unix_seconds);
    }

    /// A refresh was refused by the rate limit.
    pub fn refused(&self) {
        self.all.refused.with_label_values(&[self.hash.as_str()]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn successes_are_counted_by_authenticator_through_the_resolved_handles() {
        let m = Metrics::new().unwrap();
        m.authentication("x509", Ok(Stale::No), Duration::ZERO);
        m.authentication("x509", Ok(Stale::No), Duration::ZERO);
        m.authentication("token-file", Ok(Stale::No), Duration::ZERO);
        m.authentication("token-file", Err("bad"), Duration::ZERO);
        let text = m.render(time::OffsetDateTime::UNIX_EPOCH, (0, 0), None);
        let x509 = line(&text, "authentication_attempts{authenticator=\"x509\",code=\"\",result=\"success\"}");
        assert_eq!(x509.and_then(|l| l.rsplit(' ').next()), Some("2"), "{text}");
        let file = line(&text, "authentication_attempts{authenticator=\"token-file\",code=\"\",result=\"success\"}");
        assert_eq!(file.and_then(|l| l.rsplit(' ').next()), Some("1"), "{text}");
        let failed =
            line(&text, "authentication_attempts{authenticator=\"token-file\",code=\"bad\",result=\"failure\"}");
        assert_eq!(failed.and_then(|l| l.rsplit(' ').next()), Some("1"), "{text}");
    }

    #[test]
    fn more_authenticators_than_resolved_slots_are_each_counted_once_per_success() {
        const NAMES: [&str; AUTHENTICATOR_SLOTS + 4] = [
            "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13", "a14", "a15",
            "a16", "a17", "a18", "a19",
        ];
        let m = std::sync::Arc::new(Metrics::new().unwrap());
        // Two threads resolve the same names at once, in opposite orders.
        let threads: Vec<_> = [false, true]
            .into_iter()
            .map(|reverse| {
                let m = m.clone();
                std::thread::spawn(move || {
                    let mut names = NAMES.to_vec();
                    if reverse {
                        names.reverse();
                    }
                    for (i, name) in names.iter().enumerate() {
                        for _ in 0..=i % 3 {
                            m.authentication(name, Ok(Stale::No), Duration::ZERO);
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let text = m.render(time::OffsetDateTime::UNIX_EPOCH, (0, 0), None);
        let n = NAMES.len();
        for (i, name) in NAMES.iter().enumerate() {
            // Forwards, `name` came i-th; backwards, (n-1-i)-th.
            let expected = (i % 3 + 1) + ((n - 1 - i) % 3 + 1);
            let prefix = format!("authentication_attempts{{authenticator=\"{name}\",code=\"\",result=\"success\"}}");
            let l = line(&text, &prefix);
            assert_eq!(l.and_then(|l| l.rsplit(' ').next()), Some(expected.to_string().as_str()), "{name}: {text}");
        }
    }
}
