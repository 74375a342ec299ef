//! kube-apiserver's token webhook authenticator (`--authentication-token-webhook-config-file`,
//! k8s.io/apiserver's `plugin/pkg/authenticator/token/webhook`): each token is POSTed as a
//! TokenReview to the exact URL the webhook's kubeconfig names ([`crate::webhook_kubeconfig`]),
//! and the answer's `status` is the verdict.
//!
//! As kube-apiserver 1.32 does it:
//! - The review is `authentication.k8s.io/v1` or `v1beta1` ([`WebhookVersion`]; the two carry
//!   the same fields, so kauth builds the v1 object and only names the other version on the
//!   wire). `spec.audiences` are the audiences asked for: the API audiences for a request, the
//!   TokenReview's own for a review.
//! - Audiences: when the answer names some, the token is good for those asked for among them;
//!   when it names none, for those asked for among the API audiences. None in common: not
//!   authenticated, without an error (Go's `nil, false, nil`) — and checked before
//!   `authenticated`, as kube-apiserver does.
//! - `authenticated: false` with `status.error` is a failure with that error; with none, a
//!   silent failure (both [`WebhookRejection::Unauthenticated`]; see
//!   [`kauth::authn::Rejection::is_silent_failure`]).
//! - A failed call is retried with exponential backoff ([`Backoff::DEFAULT`]: 500 ms, ×1.5,
//!   jitter 0.2, 5 attempts) only when kube-apiserver's `DefaultShouldRetry` would: a reset
//!   connection, HTTP 500, 504 or 429, or an answer with `Retry-After`. A refused connection,
//!   a timeout (30 s per call) or another status is final at once.
//! - kube-apiserver's webhook client keeps no cache of its own: the server wraps this
//!   authenticator in `TokenCache` with `--authentication-token-webhook-cache-ttl` for
//!   successes and silent failures.
//!
//! Calls block (ureq); the server runs a chain holding one off its async workers. Sleeping
//! between attempts goes through [`Sleep`], so tests use a fake one.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator, WebhookRejection};
use serde_json::Value;
use time::OffsetDateTime;

use crate::cluster::{Cluster, ClusterError};
use crate::token_review::user_of;

/// The authenticator's name in logs and metrics.
pub const NAME: &str = "webhook";

/// The TokenReview version sent to and expected from the webhook
/// (`--authentication-token-webhook-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookVersion {
    /// `authentication.k8s.io/v1`.
    V1,
    /// `authentication.k8s.io/v1beta1`: kube-apiserver 1.32's default.
    V1beta1,
}

impl WebhookVersion {
    /// The `apiVersion` on the wire.
    pub fn api_version(self) -> &'static str {
        match self {
            WebhookVersion::V1 => "authentication.k8s.io/v1",
            WebhookVersion::V1beta1 => "authentication.k8s.io/v1beta1",
        }
    }
}

impl std::str::FromStr for WebhookVersion {
    type Err = String;

    /// `v1` or `v1beta1`; anything else with kube-apiserver's error.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v1" => Ok(WebhookVersion::V1),
            "v1beta1" => Ok(WebhookVersion::V1beta1),
            other => Err(format!(
                "unsupported authentication webhook version {other:?}, supported versions are \"v1\", \"v1beta1\""
            )),
        }
    }
}

/// How failed calls are retried (k8s.io/apimachinery's `wait.Backoff`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// Each wait is the previous one times this.
    pub factor: f64,
    /// Each wait is lengthened by up to this fraction of itself, at random.
    pub jitter: f64,
    /// Attempts in all (at least 1).
    pub steps: u32,
}

impl Backoff {
    /// kube-apiserver's `DefaultAuthWebhookRetryBackoff`.
    pub const DEFAULT: Backoff = Backoff { initial: Duration::from_millis(500), factor: 1.5, jitter: 0.2, steps: 5 };

    /// The wait before attempt `n + 1` (`n` from 0), with `random` in [0, 1).
    pub fn delay(&self, n: u32, random: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.powi(i32::try_from(n).unwrap_or(i32::MAX));
        Duration::try_from_secs_f64(base * (1.0 + self.jitter * random.clamp(0.0, 1.0))).unwrap_or(Duration::MAX)
    }
}

/// Waits between attempts: the thread's sleep in the server, a recording one in tests.
pub trait Sleep: Send + Sync {
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The thread's own sleep.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleep;

impl Sleep for ThreadSleep {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Told of each call to the webhook: its HTTP status (`"<error>"` when none came) and how long
/// it took, as kube's webhook `AuthenticatorMetrics` are.
pub trait WebhookMetrics: Send + Sync {
    /// One call.
    fn request(&self, code: &str, latency: Duration);
}

/// kube-apiserver's token webhook authenticator.
pub struct WebhookTokenAuthenticator {
    cluster: Cluster,
    version: WebhookVersion,
    implicit_audiences: Arc<[String]>,
    backoff: Backoff,
    sleep: Arc<dyn Sleep>,
    metrics: Option<Arc<dyn WebhookMetrics>>,
}

impl std::fmt::Debug for WebhookTokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTokenAuthenticator")
            .field("url", &self.cluster.server())
            .field("version", &self.version)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl WebhookTokenAuthenticator {
    /// Asking the webhook at `cluster` in `version`; `api_audiences` are the server's (the
    /// audiences a token is good for when the answer names none).
    pub fn new(cluster: Cluster, version: WebhookVersion, api_audiences: Vec<String>) -> Self {
        WebhookTokenAuthenticator {
            cluster,
            version,
            implicit_audiences: api_audiences.into(),
            backoff: Backoff::DEFAULT,
            sleep: Arc::new(ThreadSleep),
            metrics: None,
        }
    }

    /// Retries with `backoff`, waiting through `sleep`.
    pub fn with_backoff(mut self, backoff: Backoff, sleep: Arc<dyn Sleep>) -> Self {
        self.backoff = Backoff { steps: backoff.steps.max(1), ..backoff };
        self.sleep = sleep;
        self
    }

    /// Tells `metrics` of every call.
    pub fn with_metrics(mut self, metrics: Arc<dyn WebhookMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The URL asked.
    pub fn url(&self) -> &str {
        self.cluster.server()
    }

    /// POSTs `review` until an answer, a final failure, or the attempts run out.
    fn call(&self, review: &Value) -> Result<Value, ClusterError> {
        with_retries(&self.backoff, &*self.sleep, || {
            #[allow(clippy::disallowed_methods)] // a latency, not a time of day
            let start = std::time::Instant::now();
            let result = self.cluster.create::<Value>("", review, "TokenReview");
            if let Some(m) = &self.metrics {
                let code = match &result {
                    Ok(_) => "200".to_owned(),
                    Err(ClusterError::Status { status, .. }) => status.to_string(),
                    Err(_) => "<error>".to_owned(),
                };
                m.request(&code, start.elapsed());
            }
            result
        })
    }

    fn rejection(&self, e: ClusterError) -> WebhookRejection {
        let cluster = self.cluster.server().to_owned();
        match e {
            ClusterError::TimedOut { seconds, .. } => WebhookRejection::TimedOut { cluster, timeout_seconds: seconds },
            e if e.is_unavailable() => WebhookRejection::Unavailable { cluster, problem: e.to_string() },
            e => WebhookRejection::Refused { cluster, problem: e.to_string() },
        }
    }
}

/// Calls `attempt` until it succeeds, fails for good ([`should_retry`] says no), or
/// `backoff.steps` attempts are made, waiting `backoff`'s delays through `sleep` in between
/// (kube's `webhook.WithExponentialBackoff`); the last attempt's error is the answer.
pub fn with_retries<T>(
    backoff: &Backoff,
    sleep: &dyn Sleep,
    mut attempt: impl FnMut() -> Result<T, ClusterError>,
) -> Result<T, ClusterError> {
    let mut n = 0;
    loop {
        match attempt() {
            Err(e) if should_retry(&e) && n + 1 < backoff.steps => {
                sleep.sleep(backoff.delay(n, jitter_random()));
                n += 1;
            }
            other => return other,
        }
    }
}

/// kube's `webhook.DefaultShouldRetry`: a reset connection, HTTP 500 (InternalError), 504
/// (Timeout), 429 (TooManyRequests), or an answer asking to come back later (`Retry-After`).
pub fn should_retry(e: &ClusterError) -> bool {
    match e {
        ClusterError::Unreachable { reset, .. } => *reset,
        ClusterError::Status { status, retry_after, .. } => {
            matches!(status, 500 | 504 | 429) || retry_after.is_some_and(|s| s > 0)
        }
        ClusterError::TimedOut { .. } | ClusterError::Config { .. } | ClusterError::Decode { .. } => false,
    }
}

/// A number in [0, 1) for the backoff's jitter: not a secret, only spread.
fn jitter_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The TokenReview sent for `token` and `audiences`, in `version`.
pub fn review(version: WebhookVersion, token: &str, audiences: &[String]) -> Value {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            audiences: (!audiences.is_empty()).then(|| audiences.to_vec()),
        },
        ..Default::default()
    };
    let mut v = serde_json::to_value(review).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(version.api_version().into()));
    }
    v
}

/// The `status` of the webhook's answer `body`: a TokenReview of either version (their fields
/// are the same). Untrusted input: anything else is an error naming what is wrong.
pub fn decode_answer(body: &Value) -> Result<TokenReviewStatus, String> {
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "TokenReview" {
        return Err(format!("the answer's kind is {kind:?}, not \"TokenReview\""));
    }
    let v1 = WebhookVersion::V1.api_version();
    if api_version != v1 && api_version != WebhookVersion::V1beta1.api_version() {
        return Err(format!("the answer's apiVersion is {api_version:?}, not authentication.k8s.io/v1 or v1beta1"));
    }
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(v1.into()));
    }
    let review: TokenReview =
        serde_json::from_value(body).map_err(|e| format!("the answer is not a TokenReview: {e}"))?;
    Ok(review.status.unwrap_or_default())
}

/// The verdict of `status` for a token asked with `wanted` audiences, as kube-apiserver's
/// webhook authenticator judges it (see the module docs).
pub fn judge(
    url: &str,
    status: TokenReviewStatus,
    wanted: &[String],
    implicit: &[String],
) -> Result<Authenticated, Rejection> {
    let mut audiences: Arc<[String]> = Arc::from([]);
    if !wanted.is_empty() {
        let named = status.audiences.as_deref().unwrap_or(&[]);
        let got = if named.is_empty() { implicit } else { named };
        let both: Vec<String> = wanted.iter().filter(|w| got.contains(w)).cloned().collect();
        if both.is_empty() {
            return Err(Rejection::Webhook(WebhookRejection::AudienceMismatch {
                wanted: wanted.to_vec(),
                got: got.to_vec(),
            }));
        }
        audiences = both.into();
    }
    if status.authenticated != Some(true) {
        return Err(Rejection::Webhook(WebhookRejection::Unauthenticated {
            cluster: url.to_owned(),
            error: status.error.unwrap_or_default(),
        }));
    }
    let mut authenticated = Authenticated::new(NAME, user_of(status.user.unwrap_or_default()));
    authenticated.audiences = audiences;
    Ok(authenticated)
}

impl TokenAuthenticator for WebhookTokenAuthenticator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        _now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let wanted = audiences.unwrap_or(&self.implicit_audiences);
        let answer =
            self.call(&review(self.version, token, wanted)).map_err(|e| Rejection::Webhook(self.rejection(e)))?;
        let status = decode_answer(&answer).map_err(|problem| {
            Rejection::Webhook(WebhookRejection::Refused { cluster: self.cluster.server().to_owned(), problem })
        })?;
        judge(self.cluster.server(), status, wanted, &self.implicit_audiences).map(Some)
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
