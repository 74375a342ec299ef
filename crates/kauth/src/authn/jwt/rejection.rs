//! Why a JWT issuer refused a token: one variant per failure, carrying the compared values.
//!
//! [`JwtRejection::kubernetes_text`] is what kube-apiserver's `oidc` authenticator
//! (`plugin/pkg/authenticator/token/oidc/oidc.go` over go-oidc v2) returns for the same token,
//! which TokenReview's `status.error` carries inside `[invalid bearer token, ...]`; `Display` is
//! kauth's precise reason. Neither ever holds the token.

use std::fmt;

use super::keys::KeysUnavailable;
use crate::token::{span, utc};

/// Where in an issuer's configuration a CEL expression sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CelSite {
    /// `claimMappings.username.expression`.
    Username,
    /// `claimMappings.groups.expression`.
    Groups,
    /// `claimMappings.uid.expression`.
    Uid,
    /// `claimMappings.extra[*]` with this key.
    Extra(String),
    /// `claimValidationRules[*].expression`.
    ClaimValidation,
    /// `userValidationRules[*].expression`.
    UserValidation,
}

impl fmt::Display for CelSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CelSite::Username => f.write_str("claimMappings.username.expression"),
            CelSite::Groups => f.write_str("claimMappings.groups.expression"),
            CelSite::Uid => f.write_str("claimMappings.uid.expression"),
            CelSite::Extra(key) => write!(f, "claimMappings.extra[{key:?}].valueExpression"),
            CelSite::ClaimValidation => f.write_str("claimValidationRules[*].expression"),
            CelSite::UserValidation => f.write_str("userValidationRules[*].expression"),
        }
    }
}

/// A claim read by name (not CEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimUse {
    /// `claimMappings.username.claim`.
    Username,
    /// `claimMappings.groups.claim`.
    Groups,
    /// `claimMappings.uid.claim`.
    Uid,
    /// `email_verified`, checked when the username claim is `email`.
    EmailVerified,
    /// A `claimValidationRules[*].claim` (`--oidc-required-claim`).
    Required,
}

/// Why a JWT issuer refused a token. Every variant but the first names the issuer (its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRejection {
    /// The token's `iss` is none of the configured issuers (kube-apiserver: not its token).
    IssuerNotConfigured {
        /// The token's (unverified) `iss`.
        iss: String,
        /// The configured issuer URLs.
        configured: Vec<String>,
    },
    /// The issuer's keys were never obtained: discovery or JWKS unreachable.
    KeysUnavailable {
        /// The issuer.
        issuer: String,
        /// What was fetched and how it failed.
        error: KeysUnavailable,
    },
    /// The token is not a well-formed JWS, or its registered claims have the wrong types.
    Malformed {
        /// The issuer.
        issuer: String,
        /// kube-apiserver's words for it (after `oidc: verify token: `).
        kube: String,
        /// kauth's.
        problem: String,
    },
    /// `alg` is not one this issuer accepts.
    UnsupportedAlgorithm {
        /// The issuer.
        issuer: String,
        /// The token's alg.
        alg: String,
        /// The accepted ones.
        supported: Vec<String>,
    },
    /// `exp` is before now (no leeway, as go-oidc); a token without `exp` counts as expired.
    Expired {
        /// The issuer.
        issuer: String,
        /// The token's exp (`None`: absent).
        exp: Option<i64>,
        /// This server's time.
        now: i64,
    },
    /// `now + leeway < nbf`.
    NotYetValid {
        /// The issuer.
        issuer: String,
        /// The token's nbf.
        nbf: i64,
        /// This server's time.
        now: i64,
        /// go-oidc's leeway (60 s).
        leeway: i64,
    },
    /// None of the token's audiences is configured.
    AudienceMismatch {
        /// The issuer.
        issuer: String,
        /// The token's `aud`.
        token: Vec<String>,
        /// The configured audiences (sorted when several).
        accepted: Vec<String>,
    },
    /// The token names a key id the issuer's keys lack, also after a refresh.
    UnknownKeyId {
        /// The issuer.
        issuer: String,
        /// The token's kid.
        kid: String,
        /// The kids the issuer has.
        known: Vec<String>,
    },
    /// No key of the issuer verifies the signature.
    BadSignature {
        /// The issuer.
        issuer: String,
        /// The token's alg.
        alg: String,
        /// The kids tried.
        tried: Vec<String>,
    },
    /// A claim the configuration reads by name is absent.
    ClaimMissing {
        /// The issuer.
        issuer: String,
        /// What the claim is for.
        used_as: ClaimUse,
        /// The claim.
        claim: String,
    },
    /// A claim read by name has the wrong JSON type.
    ClaimInvalid {
        /// The issuer.
        issuer: String,
        /// What the claim is for.
        used_as: ClaimUse,
        /// The claim.
        claim: String,
        /// Go's JSON error for it.
        problem: String,
    },
    /// A required claim (`claimValidationRules[*].claim`) has another value.
    ClaimValueMismatch {
        /// The issuer.
        issuer: String,
        /// The claim.
        claim: String,
        /// Its value in the token.
        got: String,
        /// The required value.
        want: String,
    },
    /// The username claim is `email` and `email_verified` is false.
    EmailNotVerified {
        /// The issuer.
        issuer: String,
    },
    /// A claim validation rule's expression is false.
    ClaimValidationRuleFailed {
        /// The issuer.
        issuer: String,
        /// The rule.
        expression: String,
        /// Its message.
        message: String,
    },
    /// A user validation rule's expression is false.
    UserValidationRuleFailed {
        /// The issuer.
        issuer: String,
        /// The rule.
        expression: String,
        /// Its message.
        message: String,
        /// The user name the rule judged.
        username: String,
    },
    /// A CEL expression failed to evaluate.
    CelEvaluation {
        /// The issuer.
        issuer: String,
        /// Where the expression is.
        site: CelSite,
        /// The expression.
        expression: String,
        /// The interpreter's error.
        error: String,
    },
    /// A CEL expression returned a value of the wrong type for its place.
    CelResultType {
        /// The issuer.
        issuer: String,
        /// Where the expression is.
        site: CelSite,
        /// The expression.
        expression: String,
        /// What it returned (its CEL type).
        got: String,
    },
    /// The username expression returned an empty string.
    EmptyUsername {
        /// The issuer.
        issuer: String,
        /// The expression.
        expression: String,
    },
}

/// A list of strings as Go's `%q` prints a `[]string`: `["a" "b"]`.
pub(crate) fn go_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" "))
}

impl JwtRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            JwtRejection::IssuerNotConfigured { .. } => "jwt_issuer_not_configured",
            JwtRejection::KeysUnavailable { .. } => "jwt_keys_unavailable",
            JwtRejection::Malformed { .. } => "jwt_malformed",
            JwtRejection::UnsupportedAlgorithm { .. } => "jwt_unsupported_algorithm",
            JwtRejection::Expired { .. } => "jwt_expired",
            JwtRejection::NotYetValid { .. } => "jwt_not_yet_valid",
            JwtRejection::AudienceMismatch { .. } => "jwt_audience_mismatch",
            JwtRejection::UnknownKeyId { .. } => "jwt_unknown_kid",
            JwtRejection::BadSignature { .. } => "jwt_bad_signature",
            JwtRejection::ClaimMissing { used_as: ClaimUse::Username, .. } => "jwt_username_claim_missing",
            JwtRejection::ClaimMissing { .. } => "jwt_claim_missing",
            JwtRejection::ClaimInvalid { .. } => "jwt_claim_invalid",
            JwtRejection::ClaimValueMismatch { .. } => "jwt_claim_validation_failed",
            JwtRejection::EmailNotVerified { .. } => "jwt_email_not_verified",
            JwtRejection::ClaimValidationRuleFailed { .. } => "jwt_claim_validation_failed",
            JwtRejection::UserValidationRuleFailed { .. } => "jwt_user_validation_failed",
            JwtRejection::CelEvaluation { .. } => "jwt_cel_error",
            JwtRejection::CelResultType { .. } | JwtRejection::EmptyUsername { .. } => "jwt_cel_result_invalid",
        }
    }

    /// The issuer whose check failed (the token's `iss` when none is configured).
    pub fn issuer(&self) -> &str {
        match self {
            JwtRejection::IssuerNotConfigured { iss, .. } => iss,
            JwtRejection::KeysUnavailable { issuer, .. }
            | JwtRejection::Malformed { issuer, .. }
            | JwtRejection::UnsupportedAlgorithm { issuer, .. }
            | JwtRejection::Expired { issuer, .. }
            | JwtRejection::NotYetValid { issuer, .. }
            | JwtRejection::AudienceMismatch { issuer, .. }
            | JwtRejection::UnknownKeyId { issuer, .. }
            | JwtRejection::BadSignature { issuer, .. }
            | JwtRejection::ClaimMissing { issuer, .. }
            | JwtRejection::ClaimInvalid { issuer, .. }
            | JwtRejection::ClaimValueMismatch { issuer, .. }
            | JwtRejection::EmailNotVerified { issuer }
            | JwtRejection::ClaimValidationRuleFailed { issuer, .. }
            | JwtRejection::UserValidationRuleFailed { issuer, .. }
            | JwtRejection::CelEvaluation { issuer, .. }
            | JwtRejection::CelResultType { issuer, .. }
            | JwtRejection::EmptyUsername { issuer, .. } => issuer,
        }
    }

    /// For a token from the future: the issuer's clock is at least this many seconds ahead.
    pub fn clock_skew_at_least(&self) -> Option<i64> {
        match self {
            JwtRejection::NotYetValid { nbf, now, .. } => Some(nbf - now),
            _ => None,
        }
    }
}

impl fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use JwtRejection as J;
        match self {
            J::IssuerNotConfigured { iss, configured } => write!(
                f,
                "the token's issuer {iss:?} is not configured (configured: {})",
                if configured.is_empty() { "none".to_owned() } else { go_list(configured) }
            ),
            J::KeysUnavailable { issuer, error } => {
                write!(f, "issuer {issuer}: no verification keys were ever obtained: {error}")
            }
            J::Malformed { issuer, problem, .. } => write!(f, "issuer {issuer}: malformed token: {problem}"),
            J::UnsupportedAlgorithm { issuer, alg, supported } => {
                write!(f, "issuer {issuer}: token signed with {alg:?}, not one of the accepted {}", go_list(supported))
            }
            J::Expired { issuer, exp: Some(exp), now } => write!(
                f,
                "issuer {issuer}: token expired {} ago (exp {}, now {}; no leeway on exp)",
                span(now - exp),
                utc(*exp),
                utc(*now)
            ),
            J::Expired { issuer, exp: None, .. } => {
                write!(f, "issuer {issuer}: token has no exp claim, which counts as expired")
            }
            J::NotYetValid { issuer, nbf, now, leeway } => write!(
                f,
                "issuer {issuer}: token not valid for another {} (nbf {}, now {}, leeway {leeway}s): the issuer's clock is ahead",
                span(nbf - now - leeway),
                utc(*nbf),
                utc(*now)
            ),
            J::AudienceMismatch { issuer, token, accepted } => write!(
                f,
                "issuer {issuer}: the token's audiences {} include none of the configured {}",
                go_list(token),
                go_list(accepted)
            ),
            J::UnknownKeyId { issuer, kid, known } => write!(
                f,
                "issuer {issuer}: no key with kid {kid:?}, also after refreshing the keys (known: {})",
                go_list(known)
            ),
            J::BadSignature { issuer, alg, tried } => {
                write!(f, "issuer {issuer}: no key verifies the {alg} signature (tried kids {})", go_list(tried))
            }
            J::ClaimMissing { issuer, used_as, claim } => {
                write!(f, "issuer {issuer}: the token has no {claim:?} claim, needed as {}", claim_use(*used_as))
            }
            J::ClaimInvalid { issuer, used_as, claim, problem } => {
                write!(f, "issuer {issuer}: claim {claim:?} ({}) has the wrong type: {problem}", claim_use(*used_as))
            }
            J::ClaimValueMismatch { issuer, claim, got, want } => write!(
                f,
                "issuer {issuer}: claim validation rule failed: claim {claim:?} is {got:?}, the rule requires {want:?}"
            ),
            J::EmailNotVerified { issuer } => {
                write!(f, "issuer {issuer}: the username claim is email and email_verified is false")
            }
            J::ClaimValidationRuleFailed { issuer, expression, message } => {
                write!(f, "issuer {issuer}: claim validation rule {expression:?} is false: {message:?}")
            }
            J::UserValidationRuleFailed { issuer, expression, message, username } => write!(
                f,
                "issuer {issuer}: user validation rule {expression:?} is false for user {username:?}: {message:?}"
            ),
            J::CelEvaluation { issuer, site, expression, error } => {
                write!(f, "issuer {issuer}: CEL error in {site} {expression:?}: {error}")
            }
            J::CelResultType { issuer, site, expression, got } => {
                write!(f, "issuer {issuer}: {site} {expression:?} returned a {got}, which is not allowed there")
            }
            J::EmptyUsername { issuer, expression } => {
                write!(f, "issuer {issuer}: username expression {expression:?} returned an empty string")
            }
        }
    }
}

fn claim_use(u: ClaimUse) -> &'static str {
    match u {
        ClaimUse::Username => "the username claim",
        ClaimUse::Groups => "the groups claim",
        ClaimUse::Uid => "the uid claim",
        ClaimUse::EmailVerified => "email_verified, checked because the username claim is email",
        ClaimUse::Required => "a required claim (claimValidationRules)",
    }
}

impl std::error::Error for JwtRejection {}
