//! How kube-apiserver calls its webhooks (k8s.io/apiserver's `util/webhook`): a review POSTed to
//! one cluster, retried with exponential backoff only when kube's `DefaultShouldRetry` would
//! retry, and each attempt told to the metrics. The token webhook (`webhook.rs`) and the
//! authorization webhook (`authz_webhook.rs`) both call through a [`WebhookCall`].
//!
//! Calls block (ureq). Sleeping between attempts goes through [`Sleep`], so tests use a fake one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{Cluster, ClusterError};

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

/// One webhook's endpoint and how it is called: the cluster, the path under it, the review's
/// kind, the retries and the metrics.
pub struct WebhookCall {
    cluster: Cluster,
    /// `""`: the URL is the kubeconfig's server itself; else the path under the API server.
    path: String,
    /// The review's kind, as an answer that cannot be read names it.
    kind: &'static str,
    backoff: Backoff,
    sleep: Arc<dyn Sleep>,
    metrics: Option<Arc<dyn WebhookMetrics>>,
}

impl std::fmt::Debug for WebhookCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCall")
            .field("url", &self.cluster.server())
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl WebhookCall {
    /// POSTs `kind` reviews to `path` under `cluster` (an empty path: the cluster's URL
    /// itself), with kube's default backoff and the thread's sleep, telling no metrics.
    pub fn new(cluster: Cluster, path: String, kind: &'static str) -> Self {
        WebhookCall { cluster, path, kind, backoff: Backoff::DEFAULT, sleep: Arc::new(ThreadSleep), metrics: None }
    }

    /// Retries with `backoff` (at least one attempt), waiting through `sleep`.
    pub fn with_backoff(mut self, backoff: Backoff, sleep: Arc<dyn Sleep>) -> Self {
        self.backoff = Backoff { steps: backoff.steps.max(1), ..backoff };
        self.sleep = sleep;
        self
    }

    /// Tells `metrics` of every attempt.
    pub fn with_metrics(mut self, metrics: Arc<dyn WebhookMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The URL of the webhook's cluster.
    pub fn server(&self) -> &str {
        self.cluster.server()
    }

    /// The retries in use.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// POSTs `review` until an answer, a final failure, or the attempts run out.
    pub fn post(&self, review: &Value) -> Result<Value, ClusterError> {
        with_retries(&self.backoff, &*self.sleep, || {
            #[allow(clippy::disallowed_methods)] // a latency, not a time of day
            let start = std::time::Instant::now();
            let result = self.cluster.create::<Value>(&self.path, review, self.kind);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use super::*;
    use crate::cluster::ClusterSettings;

    /// Records the waits instead of waiting, and each attempt's code.
    #[derive(Default)]
    struct Recorder {
        waits: Mutex<Vec<Duration>>,
        codes: Mutex<Vec<String>>,
    }

    impl Sleep for Recorder {
        fn sleep(&self, d: Duration) {
            self.waits.lock().unwrap().push(d);
        }
    }

    impl WebhookMetrics for Recorder {
        fn request(&self, code: &str, _latency: Duration) {
            self.codes.lock().unwrap().push(code.to_owned());
        }
    }

    fn unreachable() -> Cluster {
        Cluster::new(ClusterSettings {
            server: "http://127.0.0.1:1/review".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[test]
    fn each_attempt_is_told_to_the_metrics_and_a_refused_connection_is_final() {
        let recorder = Arc::new(Recorder::default());
        let call = WebhookCall::new(unreachable(), String::new(), "TokenReview")
            .with_backoff(Backoff { steps: 0, ..Backoff::DEFAULT }, recorder.clone())
            .with_metrics(recorder.clone());
        assert_eq!(call.backoff().steps, 1, "at least one attempt");
        assert_eq!(call.server(), "http://127.0.0.1:1/review");
        let e = call.post(&serde_json::json!({"kind": "TokenReview"})).unwrap_err();
        assert!(matches!(e, ClusterError::Unreachable { reset: false, .. }), "{e}");
        assert_eq!(*recorder.codes.lock().unwrap(), ["<error>"]);
        assert!(recorder.waits.lock().unwrap().is_empty());
        let shown = format!("{call:?}");
        assert!(shown.contains("http://127.0.0.1:1/review") && shown.contains("TokenReview"), "{shown}");
    }
}
