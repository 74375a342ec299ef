//! Why a bootstrap token was refused.

use crate::token::{span, utc};

/// Why a bootstrap token was refused. Names the Secret, never the token's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapTokenRejection {
    /// No Secret for the token's id.
    SecretNotFound {
        /// `kube-system/bootstrap-token-<id>`.
        secret: String,
    },
    /// The Secret is being deleted.
    Deleting {
        /// The Secret.
        secret: String,
    },
    /// The Secret is not of type `bootstrap.kubernetes.io/token`.
    WrongType {
        /// The Secret.
        secret: String,
        /// Its type.
        type_: String,
    },
    /// The Secret's `token-secret` is not the token's.
    WrongSecret {
        /// The Secret.
        secret: String,
    },
    /// The Secret's `token-id` is not the token's id.
    WrongId {
        /// The Secret.
        secret: String,
        /// Its `token-id`.
        token_id: String,
    },
    /// The expiration has passed.
    Expired {
        /// The Secret.
        secret: String,
        /// Its expiration, unix seconds.
        expiration: i64,
        /// This server's time.
        now: i64,
    },
    /// The expiration is not an RFC 3339 time (counted as passed).
    UnreadableExpiration {
        /// The Secret.
        secret: String,
        /// Its `expiration`.
        expiration: String,
    },
    /// `usage-bootstrap-authentication` is not `"true"`.
    NotForAuthentication {
        /// The Secret.
        secret: String,
    },
    /// An extra group is not a `system:bootstrappers:` group.
    InvalidExtraGroup {
        /// The Secret.
        secret: String,
        /// The group.
        group: String,
    },
    /// The store could not be asked.
    LookupFailed {
        /// The Secret.
        secret: String,
        /// Why.
        problem: String,
    },
}

impl BootstrapTokenRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            BootstrapTokenRejection::SecretNotFound { .. } => "bootstrap_token_not_found",
            BootstrapTokenRejection::Deleting { .. } => "bootstrap_token_deleted",
            BootstrapTokenRejection::WrongType { .. } => "bootstrap_token_wrong_type",
            BootstrapTokenRejection::WrongSecret { .. } | BootstrapTokenRejection::WrongId { .. } => {
                "bootstrap_token_mismatch"
            }
            BootstrapTokenRejection::Expired { .. } | BootstrapTokenRejection::UnreadableExpiration { .. } => {
                "bootstrap_token_expired"
            }
            BootstrapTokenRejection::NotForAuthentication { .. } => "bootstrap_token_not_for_authentication",
            BootstrapTokenRejection::InvalidExtraGroup { .. } => "bootstrap_token_invalid_group",
            BootstrapTokenRejection::LookupFailed { .. } => "bootstrap_token_lookup_failed",
        }
    }
}

impl std::fmt::Display for BootstrapTokenRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootstrapTokenRejection::SecretNotFound { secret } => {
                write!(f, "no Secret {secret} (never created, deleted, or removed by the token cleaner once expired)")
            }
            BootstrapTokenRejection::Deleting { secret } => write!(f, "Secret {secret} is being deleted"),
            BootstrapTokenRejection::WrongType { secret, type_ } => {
                write!(f, "Secret {secret} has type {type_:?}, not \"bootstrap.kubernetes.io/token\"")
            }
            BootstrapTokenRejection::WrongSecret { secret } => {
                write!(f, "the token's secret is not the one in Secret {secret}")
            }
            BootstrapTokenRejection::WrongId { secret, token_id } => {
                write!(f, "Secret {secret} holds token-id {token_id:?}, not the token's")
            }
            BootstrapTokenRejection::Expired { secret, expiration, now } => write!(
                f,
                "expired {} ago (Secret {secret} expiration {}, now {})",
                span(now - expiration),
                utc(*expiration),
                utc(*now)
            ),
            BootstrapTokenRejection::UnreadableExpiration { secret, expiration } => {
                write!(f, "Secret {secret} has expiration {expiration:?}, not an RFC 3339 time: counted as expired")
            }
            BootstrapTokenRejection::NotForAuthentication { secret } => {
                write!(f, "Secret {secret} is not marked usage-bootstrap-authentication=true")
            }
            BootstrapTokenRejection::InvalidExtraGroup { secret, group } => write!(
                f,
                "Secret {secret} has auth-extra-groups: bootstrap group {group:?} is invalid (must match system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9])"
            ),
            BootstrapTokenRejection::LookupFailed { secret, problem } => {
                write!(f, "could not read Secret {secret}: {problem}")
            }
        }
    }
}
