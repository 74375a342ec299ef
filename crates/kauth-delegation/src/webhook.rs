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

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator, WebhookRejection};
use serde_json::Value;
use time::OffsetDateTime;

use crate::cluster::{Cluster, ClusterError};
use crate::token_review::user_of;
use crate::webhook_call::{Backoff, Sleep, WebhookCall, WebhookMetrics};

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

/// kube-apiserver's token webhook authenticator.
pub struct WebhookTokenAuthenticator {
    call: WebhookCall,
    version: WebhookVersion,
    implicit_audiences: Arc<[String]>,
}

impl std::fmt::Debug for WebhookTokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTokenAuthenticator")
            .field("url", &self.call.server())
            .field("version", &self.version)
            .field("backoff", &self.call.backoff())
            .finish_non_exhaustive()
    }
}

impl WebhookTokenAuthenticator {
    /// Asking the webhook at `cluster` in `version`; `api_audiences` are the server's (the
    /// audiences a token is good for when the answer names none).
    pub fn new(cluster: Cluster, version: WebhookVersion, api_audiences: Vec<String>) -> Self {
        WebhookTokenAuthenticator {
            call: WebhookCall::new(cluster, String::new(), "TokenReview"),
            version,
            implicit_audiences: api_audiences.into(),
        }
    }

    /// Retries with `backoff`, waiting through `sleep`.
    pub fn with_backoff(mut self, backoff: Backoff, sleep: Arc<dyn Sleep>) -> Self {
        self.call = self.call.with_backoff(backoff, sleep);
        self
    }

    /// Tells `metrics` of every call.
    pub fn with_metrics(mut self, metrics: Arc<dyn WebhookMetrics>) -> Self {
        self.call = self.call.with_metrics(metrics);
        self
    }

    /// The URL asked.
    pub fn url(&self) -> &str {
        self.call.server()
    }

    fn rejection(&self, e: ClusterError) -> WebhookRejection {
        let cluster = self.call.server().to_owned();
        match e {
            ClusterError::TimedOut { seconds, .. } => WebhookRejection::TimedOut { cluster, timeout_seconds: seconds },
            e if e.is_unavailable() => WebhookRejection::Unavailable { cluster, problem: e.to_string() },
            e => WebhookRejection::Refused { cluster, problem: e.to_string() },
        }
    }
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
            self.call.post(&review(self.version, token, wanted)).map_err(|e| Rejection::Webhook(self.rejection(e)))?;
        let status = decode_answer(&answer).map_err(|problem| {
            Rejection::Webhook(WebhookRejection::Refused { cluster: self.call.server().to_owned(), problem })
        })?;
        judge(self.call.server(), status, wanted, &self.implicit_audiences).map(Some)
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
