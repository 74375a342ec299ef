//! Authentication: who is making a request. Small pieces composed, as in Kubernetes:
//! token authenticators ([`token_file`], [`service_account`]), a [`union`] that tries them in order
//! and keeps every authenticator's reason, and a [`cache`] wrapper.
//!
//! An authenticator returns `Ok(Some(_))` (authenticated), `Ok(None)` ("not my kind of
//! credential": another may try) or `Err(Failure)` ("mine, and invalid, and here is exactly why").
//! The precise reason is for operators (logs, audit, TokenReview); HTTP clients get a plain 401.

pub mod cache;
pub mod service_account;
pub mod token_file;
pub mod union;

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::user::UserInfo;

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The user.
    pub user: UserInfo,
    /// The audiences the credential is valid for (empty: not audience-bound, e.g. a static token).
    /// Shared, as the validator hands them out: usually its own list of API audiences.
    pub audiences: Arc<[String]>,
    /// Audit annotations to record with the request (`authentication.k8s.io/stale-token`, ...).
    pub annotations: Vec<(&'static str, String)>,
}

/// Why a credential that an authenticator recognised is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The authenticator that said so (`service-account`, `token-file`, ...).
    pub authenticator: &'static str,
    /// A stable reason code for metrics (`token_expired`, ...).
    pub code: &'static str,
    /// One line with the compared values.
    pub message: String,
    /// For time rejections: the issuer's clock is at least this many seconds ahead of ours.
    pub clock_skew_at_least: Option<i64>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.authenticator, self.message)
    }
}

/// Authenticates bearer tokens.
pub trait TokenAuthenticator: Send + Sync {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Authenticates `token` for the `audiences` asked for (`None`: the API audiences) at `now`.
    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Response>, Failure>;
}
