//! Why a token sent to a remote TokenReview was not accepted.

use std::fmt;

/// Why a token sent to a remote TokenReview (kube-apiserver's webhook and delegating
/// authenticators) was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRejection {
    /// The TokenReview answered `authenticated: false`, with its `status.error` (may be empty).
    Unauthenticated {
        /// The cluster that was asked (its URL).
        cluster: String,
        /// `status.error`, as the cluster wrote it.
        error: String,
    },
    /// The TokenReview could not be made: no connection, TLS, a timeout, or an answer that is
    /// not a TokenReview.
    Unavailable {
        /// The cluster that was asked (its URL).
        cluster: String,
        /// What went wrong.
        problem: String,
    },
    /// The cluster answered, but not with a judgement of the token: it refused the review itself
    /// (the asker's own credential may not create TokenReviews: 401, 403) or sent something
    /// that is not a TokenReview. Not a passing outage: no cached answer stands in.
    Refused {
        /// The cluster that was asked (its URL).
        cluster: String,
        /// What it answered.
        problem: String,
    },
    /// No answer came within the request timeout (kube-apiserver's webhook client: 30 s per
    /// request, the body included). An outage, like [`WebhookRejection::Unavailable`], told
    /// apart because a slow webhook and a dead one are fixed differently.
    TimedOut {
        /// The URL asked.
        cluster: String,
        /// The timeout, in seconds.
        timeout_seconds: u64,
    },
    /// The token was accepted, but for none of the audiences asked for.
    AudienceMismatch {
        /// The audiences asked for.
        wanted: Vec<String>,
        /// The audiences the cluster said the token is valid for.
        got: Vec<String>,
    },
}

impl WebhookRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookRejection::Unauthenticated { .. } => "tokenreview_unauthenticated",
            WebhookRejection::Unavailable { .. } => "tokenreview_unavailable",
            WebhookRejection::Refused { .. } => "tokenreview_refused",
            WebhookRejection::TimedOut { .. } => "tokenreview_timeout",
            WebhookRejection::AudienceMismatch { .. } => "tokenreview_audience_mismatch",
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookRejection::Unauthenticated { cluster, error } if error.is_empty() => {
                write!(f, "the TokenReview at {cluster} did not authenticate the token and gave no error")
            }
            WebhookRejection::Unauthenticated { cluster, error } => {
                write!(f, "the TokenReview at {cluster} did not authenticate the token: {error}")
            }
            WebhookRejection::Unavailable { cluster, problem } => {
                write!(f, "the TokenReview at {cluster} could not be made: {problem}")
            }
            WebhookRejection::Refused { cluster, problem } => {
                write!(f, "the cluster at {cluster} refused the TokenReview: {problem}")
            }
            WebhookRejection::TimedOut { cluster, timeout_seconds } => {
                write!(
                    f,
                    "the TokenReview at {cluster} was not answered within {timeout_seconds}s (the request timeout)"
                )
            }
            WebhookRejection::AudienceMismatch { wanted, got } => write!(
                f,
                "the token is valid for the audiences {got:?}, none of which is among those asked for {wanted:?}"
            ),
        }
    }
}
