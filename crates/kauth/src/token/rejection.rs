//! Why a service-account token was rejected: one variant per cause, carrying the values compared.
//!
//! kube-apiserver says "Token could not be validated." for a dozen of these; kauth names each.
//! `Display` is one lowercase line for logs, audit and TokenReview; `code()` is stable for metrics.

use std::fmt;

use serde::Serialize;

/// Which part of a compact JWS (`header.payload.signature`) a rejection names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    /// The first part: the protected header.
    Header,
    /// The second part: the claims.
    Payload,
    /// The third part: the signature.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header (segment 1)",
            Segment::Payload => "payload (segment 2)",
            Segment::Signature => "signature (segment 3)",
        })
    }
}

/// The kind of object a token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A Pod.
    Pod,
    /// A Secret.
    Secret,
    /// A Node.
    Node,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Pod => "pod",
            ObjectKind::Secret => "secret",
            ObjectKind::Node => "node",
        })
    }
}

/// A token that is ours and invalid, with exactly why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// The token is not a well-formed compact JWS or its claims are not JSON of the right shape.
    Malformed {
        /// The segment at fault, if one.
        segment: Option<Segment>,
        /// What is wrong.
        problem: String,
    },
    /// `alg` is not one kauth verifies.
    UnsupportedAlgorithm {
        /// The header's alg.
        alg: String,
    },
    /// `alg` is refused on purpose: `none`, or an HMAC algorithm (key confusion).
    ForbiddenAlgorithm {
        /// The header's alg.
        alg: String,
        /// Why.
        why: &'static str,
    },
    /// The header names a key id no verification key has.
    UnknownKeyId {
        /// The token's kid.
        kid: String,
        /// The kids of the configured keys.
        known: Vec<String>,
    },
    /// No verification key is configured at all.
    NoKeys,
    /// No configured key verifies the signature.
    BadSignature {
        /// The header's alg.
        alg: String,
        /// The kids of the keys tried.
        tried: Vec<String>,
    },
    /// The issuer is not accepted (explain only: the validator treats this as "not mine").
    WrongIssuer {
        /// The token's iss.
        got: String,
        /// The accepted issuers.
        accepted: Vec<String>,
    },
    /// No audience of the token is among the accepted ones.
    NoAudienceInCommon {
        /// The token's audiences.
        token: Vec<String>,
        /// The audiences accepted for this request.
        accepted: Vec<String>,
    },
    /// `now + leeway < nbf`: the issuer's clock is ahead of this server's.
    NotYetValid {
        /// The token's nbf.
        nbf: i64,
        /// This server's time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// `now - leeway > exp`.
    Expired {
        /// The token's exp.
        exp: i64,
        /// This server's time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// `now + leeway < iat`.
    IssuedInTheFuture {
        /// The token's iat.
        iat: i64,
        /// This server's time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// A claim the token must carry is absent or empty.
    MissingClaim {
        /// The claim.
        claim: &'static str,
    },
    /// The claims are inconsistent (sub does not match, several bound objects, ...).
    InconsistentClaims {
        /// What is inconsistent.
        problem: String,
    },
    /// The service account does not exist.
    ServiceAccountNotFound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The service account was deleted more than the leeway ago.
    ServiceAccountDeleted {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Its deletionTimestamp.
        deleted_at: i64,
    },
    /// The service account exists with another uid: it was deleted and recreated.
    ServiceAccountRecreated {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The uid in the token.
        token_uid: String,
        /// The uid it has now.
        current_uid: String,
    },
    /// The bound object does not exist.
    BoundObjectNotFound {
        /// Its kind.
        kind: ObjectKind,
        /// `namespace/name`, or the name of a node.
        name: String,
    },
    /// The bound object was deleted more than the leeway ago.
    BoundObjectDeleted {
        /// Its kind.
        kind: ObjectKind,
        /// `namespace/name`, or the name of a node.
        name: String,
        /// Its deletionTimestamp.
        deleted_at: i64,
    },
    /// The bound object exists with another uid: it was deleted and recreated.
    BoundObjectRecreated {
        /// Its kind.
        kind: ObjectKind,
        /// `namespace/name`, or the name of a node.
        name: String,
        /// The uid in the token.
        token_uid: String,
        /// The uid it has now.
        current_uid: String,
    },
    /// The legacy token's Secret does not exist.
    LegacySecretNotFound {
        /// `namespace/name`.
        secret: String,
    },
    /// The legacy token's Secret is being deleted.
    LegacySecretDeleted {
        /// `namespace/name`.
        secret: String,
    },
    /// The legacy token's Secret holds another token (it was regenerated).
    LegacySecretHoldsAnotherToken {
        /// `namespace/name`.
        secret: String,
    },
    /// The legacy token was marked invalid (label `kubernetes.io/legacy-token-invalid-since`).
    LegacyTokenInvalidated {
        /// `namespace/name`.
        secret: String,
        /// The label's date.
        since: String,
    },
    /// A lookup needed to validate the token failed (the store is unreachable).
    LookupFailed {
        /// What was looked up.
        what: String,
        /// The error.
        problem: String,
    },
}

impl Rejection {
    /// A stable identifier for metrics and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed { .. } => "token_malformed",
            Rejection::UnsupportedAlgorithm { .. } => "token_algorithm_unsupported",
            Rejection::ForbiddenAlgorithm { .. } => "token_algorithm_forbidden",
            Rejection::UnknownKeyId { .. } => "token_unknown_kid",
            Rejection::NoKeys => "token_no_keys",
            Rejection::BadSignature { .. } => "token_bad_signature",
            Rejection::WrongIssuer { .. } => "token_wrong_issuer",
            Rejection::NoAudienceInCommon { .. } => "token_audience_mismatch",
            Rejection::NotYetValid { .. } => "token_not_yet_valid",
            Rejection::Expired { .. } => "token_expired",
            Rejection::IssuedInTheFuture { .. } => "token_issued_in_the_future",
            Rejection::MissingClaim { .. } => "token_missing_claim",
            Rejection::InconsistentClaims { .. } => "token_inconsistent_claims",
            Rejection::ServiceAccountNotFound { .. } => "serviceaccount_not_found",
            Rejection::ServiceAccountDeleted { .. } => "serviceaccount_deleted",
            Rejection::ServiceAccountRecreated { .. } => "serviceaccount_uid_mismatch",
            Rejection::BoundObjectNotFound { .. } => "bound_object_not_found",
            Rejection::BoundObjectDeleted { .. } => "bound_object_deleted",
            Rejection::BoundObjectRecreated { .. } => "bound_object_uid_mismatch",
            Rejection::LegacySecretNotFound { .. } => "legacy_secret_not_found",
            Rejection::LegacySecretDeleted { .. } => "legacy_secret_deleted",
            Rejection::LegacySecretHoldsAnotherToken { .. } => "legacy_secret_token_mismatch",
            Rejection::LegacyTokenInvalidated { .. } => "legacy_token_invalidated",
            Rejection::LookupFailed { .. } => "lookup_failed",
        }
    }

    /// Seconds by which the issuer's clock is at least ahead of this server's, for a token
    /// rejected as not yet valid or issued in the future.
    pub fn clock_skew_at_least(&self) -> Option<i64> {
        match self {
            Rejection::NotYetValid { nbf, now, .. } => Some(nbf - now),
            Rejection::IssuedInTheFuture { iat, now, .. } => Some(iat - now),
            _ => None,
        }
    }
}

/// `2022-11-27T08:14:01Z` (see [`crate::timestamp`]).
pub use crate::timestamp::rfc3339_unix as utc;

/// `1h30m`, `90s`, `365d`.
pub fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed { segment: Some(s), problem } => write!(f, "malformed token: {s} {problem}"),
            Rejection::Malformed { segment: None, problem } => write!(f, "malformed token: {problem}"),
            Rejection::UnsupportedAlgorithm { alg } => {
                write!(f, "unsupported signing algorithm {alg:?} (accepted: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512)")
            }
            Rejection::ForbiddenAlgorithm { alg, why } => write!(f, "forbidden signing algorithm {alg:?}: {why}"),
            Rejection::UnknownKeyId { kid, known } => {
                write!(f, "no verification key has the token's kid {kid:?} (known kids: {})", list(known))
            }
            Rejection::NoKeys => write!(f, "no verification keys are configured"),
            Rejection::BadSignature { alg, tried } => {
                write!(f, "{alg} signature does not verify with any of {} key(s) tried ({}): the token was signed by another key, or altered", tried.len(), list(tried))
            }
            Rejection::WrongIssuer { got, accepted } => write!(f, "issuer {got:?} is not accepted (accepted: {})", list(accepted)),
            Rejection::NoAudienceInCommon { token, accepted } => {
                write!(f, "token audiences {} have none in common with the accepted audiences {}", list(token), list(accepted))
            }
            Rejection::NotYetValid { nbf, now, leeway } => write!(
                f,
                "token not valid yet: nbf {} is {} after this server's time {}, beyond the {leeway}s leeway: the issuer's clock is at least {} ahead of this server's",
                utc(*nbf),
                span(nbf - now),
                utc(*now),
                span(nbf - now)
            ),
            Rejection::Expired { exp, now, leeway } => {
                write!(f, "token expired {} ago (exp {}, now {}, leeway {leeway}s)", span(now - exp), utc(*exp), utc(*now))
            }
            Rejection::IssuedInTheFuture { iat, now, leeway } => write!(
                f,
                "token issued in the future: iat {} is {} after this server's time {}, beyond the {leeway}s leeway: the issuer's clock is at least {} ahead",
                utc(*iat),
                span(iat - now),
                utc(*now),
                span(iat - now)
            ),
            Rejection::MissingClaim { claim } => write!(f, "token lacks the claim {claim}"),
            Rejection::InconsistentClaims { problem } => write!(f, "inconsistent claims: {problem}"),
            Rejection::ServiceAccountNotFound { namespace, name } => write!(f, "service account {namespace}/{name} does not exist"),
            Rejection::ServiceAccountDeleted { namespace, name, deleted_at } => {
                write!(f, "service account {namespace}/{name} has been deleted (deletionTimestamp {})", utc(*deleted_at))
            }
            Rejection::ServiceAccountRecreated { namespace, name, token_uid, current_uid } => write!(
                f,
                "service account {namespace}/{name} was recreated: its uid is {current_uid}, the token's is {token_uid}"
            ),
            Rejection::BoundObjectNotFound { kind, name } => write!(f, "bound {kind} {name} does not exist: the token was invalidated with it"),
            Rejection::BoundObjectDeleted { kind, name, deleted_at } => {
                write!(f, "bound {kind} {name} has been deleted (deletionTimestamp {}): the token was invalidated with it", utc(*deleted_at))
            }
            Rejection::BoundObjectRecreated { kind, name, token_uid, current_uid } => {
                write!(f, "bound {kind} {name} was recreated: its uid is {current_uid}, the token's is {token_uid}")
            }
            Rejection::LegacySecretNotFound { secret } => write!(f, "legacy token's secret {secret} does not exist"),
            Rejection::LegacySecretDeleted { secret } => write!(f, "legacy token's secret {secret} is being deleted"),
            Rejection::LegacySecretHoldsAnotherToken { secret } => {
                write!(f, "legacy token's secret {secret} holds another token (it was regenerated)")
            }
            Rejection::LegacyTokenInvalidated { secret, since } => {
                write!(f, "legacy token of secret {secret} was marked invalid since {since} (label kubernetes.io/legacy-token-invalid-since)")
            }
            Rejection::LookupFailed { what, problem } => write!(f, "could not look up {what}: {problem}"),
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "[]".to_owned()
    } else {
        format!("[{}]", items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_000_skew_reads_plainly() {
        let r = Rejection::NotYetValid { nbf: 1_669_536_841, now: 1_669_536_751, leeway: 60 };
        assert_eq!(
            r.to_string(),
            "token not valid yet: nbf 2022-11-27T08:14:01Z is 1m30s after this server's time 2022-11-27T08:12:31Z, beyond the 60s leeway: the issuer's clock is at least 1m30s ahead of this server's"
        );
        assert_eq!(r.code(), "token_not_yet_valid");
        assert_eq!(r.clock_skew_at_least(), Some(90));
    }

    #[test]
    fn spans() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(3607), "1h7s");
        assert_eq!(span(31_536_000), "365d");
    }
}
