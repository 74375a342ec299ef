//! kube-apiserver's words for a JWT rejection: what its `oidc` authenticator
//! (`plugin/pkg/authenticator/token/oidc/oidc.go` over go-oidc v2) returns for the same token,
//! which TokenReview's `status.error` carries inside `[invalid bearer token, ...]`.

use super::rejection::{go_list, CelSite, ClaimUse, JwtRejection};

/// A unix time as Go's `time.Time.String()` prints it in UTC.
pub fn go_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC")).ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

impl JwtRejection {
    /// kube-apiserver's error for the same token; `None` where it treats the token as not its
    /// own (no issuer matches).
    pub fn kubernetes_text(&self) -> Option<String> {
        use JwtRejection as J;
        let verify = |s: String| format!("oidc: verify token: {s}");
        let expr_err = |e: &str, err: &str| format!("expression '{e}' resulted in error: {err}");
        Some(match self {
            J::IssuerNotConfigured { .. } => return None,
            J::KeysUnavailable { .. } => "oidc: authenticator not initialized".into(),
            J::Malformed { kube, .. } => verify(kube.clone()),
            J::UnsupportedAlgorithm { alg, supported, .. } => verify(format!(
                "oidc: id token signed with unsupported algorithm, expected {} got {alg:?}",
                go_list(supported)
            )),
            J::Expired { exp, .. } => {
                let at = exp.map_or_else(|| "0001-01-01 00:00:00 +0000 UTC".to_owned(), go_time);
                verify(format!("oidc: token is expired (Token Expiry: {at})"))
            }
            J::NotYetValid { nbf, now, .. } => verify(format!(
                "oidc: current time {} before the nbf (not before) time: {}",
                go_time(*now),
                go_time(*nbf)
            )),
            J::AudienceMismatch { token, accepted, .. } if accepted.len() == 1 => {
                verify(format!("oidc: expected audience {:?} got {}", accepted[0], go_list(token)))
            }
            J::AudienceMismatch { token, accepted, .. } => {
                verify(format!("oidc: expected audience in {} got {}", go_list(accepted), go_list(token)))
            }
            J::UnknownKeyId { .. } | J::BadSignature { .. } => {
                verify("failed to verify signature: failed to verify id token signature".into())
            }
            J::ClaimMissing { used_as, claim, .. } | J::ClaimInvalid { used_as, claim, .. } => {
                let problem = match self {
                    J::ClaimInvalid { problem, .. } => problem.as_str(),
                    _ => "claim not present",
                };
                match used_as {
                    ClaimUse::Username => format!("oidc: parse username claims {claim:?}: {problem}"),
                    ClaimUse::Groups => format!("oidc: parse groups claim {claim:?}: {problem}"),
                    ClaimUse::Uid => format!("oidc: parse uid claim {claim:?}: {problem}"),
                    ClaimUse::EmailVerified => format!("oidc: parse 'email_verified' claim: {problem}"),
                    ClaimUse::Required if matches!(self, J::ClaimMissing { .. }) => {
                        format!("oidc: required claim {claim} not present in ID token")
                    }
                    ClaimUse::Required => format!("oidc: parse claim {claim}: {problem}"),
                }
            }
            J::ClaimValueMismatch { claim, got, want, .. } => {
                format!("oidc: required claim {claim} value does not match. Got = {got}, want = {want}")
            }
            J::EmailNotVerified { .. } => "oidc: email not verified".into(),
            J::ClaimValidationRuleFailed { expression, message, .. } => format!(
                "oidc: error evaluating claim validation expression: validation expression '{expression}' failed: {message}"
            ),
            J::UserValidationRuleFailed { expression, message, .. } => format!(
                "oidc: error evaluating user info validation rule: validation expression '{expression}' failed: {message}"
            ),
            J::CelEvaluation { site, expression, error, .. } => {
                let inner = expr_err(expression, error);
                match site {
                    CelSite::Username => format!("oidc: error evaluating username claim expression: {inner}"),
                    CelSite::Groups => format!("oidc: error evaluating group claim expression: {inner}"),
                    CelSite::Uid => format!("oidc: error evaluating uid claim expression: {inner}"),
                    // oidc.go returns the extra mapper's error as it is.
                    CelSite::Extra(_) => inner,
                    CelSite::ClaimValidation => format!("oidc: error evaluating claim validation expression: {inner}"),
                    CelSite::UserValidation => format!("oidc: error evaluating user info validation rule: {inner}"),
                }
            }
            J::CelResultType { site, expression, .. } => match site {
                CelSite::Username => {
                    "oidc: error evaluating username claim expression: username claim expression must return a string".into()
                }
                CelSite::Uid => "oidc: error evaluating uid claim expression: uid claim expression must return a string".into(),
                CelSite::Groups => {
                    "oidc: error evaluating group claim expression: expression must return a string or a list of strings".into()
                }
                CelSite::Extra(_) => format!(
                    "oidc: error evaluating extra claim expression: {expression}: expression must return a string or a list of strings"
                ),
                CelSite::ClaimValidation => {
                    "oidc: error evaluating claim validation expression: validation expression must return a boolean".into()
                }
                CelSite::UserValidation => {
                    "oidc: error evaluating user info validation rule: validation expression must return a boolean".into()
                }
            },
            J::EmptyUsername { .. } => "oidc: empty username via CEL expression is not allowed".into(),
        })
    }
}
