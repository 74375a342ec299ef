//! kube-apiserver's own words for an authentication failure, so that alerts, searches and
//! runbooks written for kube-apiserver keep matching kauth.
//!
//! [`Rejection::kubernetes_text`] is the message kube-apiserver's authenticator chain returns
//! for the same failure: what its log line "Unable to authenticate the request" carries and what
//! a TokenReview's `status.error` says. Its rules: a bearer token that no authenticator accepts
//! is `invalid bearer token`, followed by the token authenticators' errors
//! (`[invalid bearer token, service account token has expired]`); a client certificate that
//! fails is `verifying certificate SN=…, SKID=…, AKID=… failed: x509: …`; a front proxy's is the
//! bare `x509: …`; several errors are one list, flattened, without repeats, in brackets — Go's
//! error aggregate. Failures kube-apiserver does not report (a token that is not a JWT, or from
//! another issuer: "not mine"; a front proxy that sends no user) add nothing; when nothing is
//! left the text is `Unauthorized`, what its 401 says.
//!
//! [`Rejection::explained`] is the one form kauth reports a failure in, everywhere (TokenReview
//! `status.error`, the log, the audit annotation `authentication.kauth.dev/failure`):
//!
//! ```text
//! <kube-apiserver's text>; kauth: <kauth's precise reason, with the compared values>
//! ```

use super::rejection::{CertificateRejection, RequestHeaderRejection, WebhookRejection};
use super::Rejection;
use crate::timestamp::rfc3339_unix;
use crate::token::Rejection as TokenRejection;

/// kube-apiserver's error for a bearer token no authenticator accepted.
pub const INVALID_BEARER_TOKEN: &str = "invalid bearer token";

/// kube-apiserver's answer to a request it could not authenticate.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// The separator between kube-apiserver's text and kauth's in [`Rejection::explained`].
pub const KAUTH_SEPARATOR: &str = "; kauth: ";

/// Go's `x509.Certificate.Verify` error for a certificate rejection.
fn go_x509(c: &CertificateRejection) -> Option<String> {
    Some(match c {
        CertificateRejection::UnknownAuthority { .. } => "x509: certificate signed by unknown authority".into(),
        CertificateRejection::Expired { not_after, now, .. } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339_unix(*now),
            rfc3339_unix(*not_after)
        ),
        CertificateRejection::NotYetValid { not_before, now, .. } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339_unix(*now),
            rfc3339_unix(*not_before)
        ),
        CertificateRejection::WrongUsage { .. } => "x509: certificate specifies an incompatible key usage".into(),
        CertificateRejection::Invalid { problem, .. } => format!("x509: {problem}"),
        // kube-apiserver never gets this far with these: the TLS handshake refuses an unreadable
        // certificate; without a client CA there is no x509 authenticator; a certificate without
        // a CN names no one and is passed over silently.
        CertificateRejection::Unreadable { .. }
        | CertificateRejection::NoClientCa { .. }
        | CertificateRejection::NoCommonName { .. } => return None,
    })
}

/// kube-apiserver's service-account authenticator's error for a token rejection; `None` where
/// it treats the token as not its own.
pub fn service_account_text(r: &TokenRejection) -> Option<String> {
    use TokenRejection as T;
    Some(match r {
        T::Malformed { .. } | T::WrongIssuer { .. } | T::UnsupportedAlgorithm { .. } => return None,
        T::UnknownKeyId { .. } | T::NoKeys => "invalid signature, no keys found".into(),
        T::BadSignature { .. } | T::ForbiddenAlgorithm { .. } => {
            "square/go-jose: error in cryptographic primitive".into()
        }
        T::NoAudienceInCommon { token, accepted } => {
            format!("token audiences {} is invalid for the target audiences {}", go_quoted(token), go_quoted(accepted))
        }
        T::Expired { .. } => "service account token has expired".into(),
        T::NotYetValid { .. } => "service account token is not valid yet".into(),
        T::IssuedInTheFuture { .. } => "service account token is issued in the future".into(),
        T::MissingClaim { .. } | T::InconsistentClaims { .. } => {
            "service account token claims could not be validated due to unexpected validation error".into()
        }
        T::ServiceAccountNotFound { name, .. } => format!("serviceaccounts {name:?} not found"),
        T::ServiceAccountDeleted { namespace, name, .. } => {
            format!("service account {namespace}/{name} has been deleted")
        }
        T::ServiceAccountRecreated { token_uid, current_uid, .. } => {
            format!("service account UID ({current_uid}) does not match claim ({token_uid})")
        }
        T::BoundObjectNotFound { .. } | T::BoundObjectDeleted { .. } => {
            "service account token has been invalidated".into()
        }
        T::BoundObjectRecreated { kind, token_uid, current_uid, .. } => {
            format!("{kind} UID ({current_uid}) does not match service account {kind} ref claim ({token_uid})")
        }
        T::LegacySecretNotFound { .. } | T::LegacySecretDeleted { .. } => "Token has been invalidated".into(),
        T::LegacySecretHoldsAnotherToken { .. } => "Token does not match server's copy".into(),
        T::LegacyTokenInvalidated { secret, .. } => {
            let (namespace, name) = secret.split_once('/').unwrap_or(("", secret));
            format!(
                "the token in secret {namespace}/{name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token"
            )
        }
        T::LookupFailed { problem, .. } => problem.clone(),
    })
}

/// A list of strings as Go's `%q` prints a `[]string`: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", inner.join(" "))
}

/// Go's error aggregate: one message as it is; several flattened, without repeats, in brackets.
fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::with_capacity(messages.len());
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

impl Rejection {
    /// kube-apiserver's message for the same failure (see the module docs); `None` when it
    /// reports none.
    pub fn kubernetes_text(&self) -> Option<String> {
        // The chain's errors in order; the bearer authenticator's comes once, where its first
        // verdict is, and carries every token authenticator's error.
        let mut messages: Vec<Part> = Vec::new();
        let mut token_errors: Option<Vec<String>> = None;
        for verdict in self.verdicts() {
            match verdict {
                Rejection::RequestHeader(RequestHeaderRejection::Certificate(c)) => {
                    messages.extend(go_x509(c).map(Part::Text));
                }
                Rejection::RequestHeader(RequestHeaderRejection::NameNotAllowed { common_name, .. }) => {
                    messages
                        .push(Part::Text(format!("x509: subject with cn={common_name} is not in the allowed list")));
                }
                Rejection::RequestHeader(RequestHeaderRejection::NoUser { .. }) | Rejection::AnonymousDisabled => {}
                Rejection::Certificate(c) => messages.extend(
                    go_x509(c)
                        .zip(certificate_identifier(c))
                        .map(|(e, id)| Part::Text(format!("verifying certificate {id} failed: {e}"))),
                ),
                Rejection::Token { .. }
                | Rejection::Jwt(_)
                | Rejection::Webhook(_)
                | Rejection::BootstrapToken(_)
                | Rejection::NotRecognised
                | Rejection::Malformed { .. } => {
                    let errors = token_errors.get_or_insert_with(|| {
                        messages.push(Part::Bearer);
                        vec![INVALID_BEARER_TOKEN.to_owned()]
                    });
                    if let Rejection::Token { rejection, .. } = verdict {
                        errors.extend(service_account_text(rejection));
                    }
                    // kube-apiserver's oidc authenticator's own error (none for another
                    // issuer's token: not its own).
                    if let Rejection::Jwt(r) = verdict {
                        errors.extend(r.kubernetes_text());
                    }
                    // kube-apiserver's webhook authenticator returns the review's
                    // `status.error` as its error.
                    if let Rejection::Webhook(WebhookRejection::Unauthenticated { error, .. }) = verdict {
                        errors.extend((!error.is_empty()).then(|| error.clone()));
                    }
                    // Its HTTP client's error when the webhook does not answer in time (Go's
                    // `url.Error` around `http.Client`'s timeout).
                    if let Rejection::Webhook(WebhookRejection::TimedOut { cluster, .. }) = verdict {
                        errors.push(format!(
                            "Post {cluster:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                        ));
                    }
                }
                Rejection::Union(_) => {} // verdicts() is flat
            }
        }
        let mut flat = Vec::with_capacity(messages.len() + 2);
        let mut bearer = token_errors.unwrap_or_default();
        for m in messages {
            match m {
                Part::Text(text) => flat.push(text),
                // Go flattens the bearer's own list into the chain's.
                Part::Bearer => flat.append(&mut bearer),
            }
        }
        aggregate(flat)
    }

    /// The one form kauth reports an authentication failure in:
    /// `<kube-apiserver's text>; kauth: <kauth's reason>` (kube-apiserver's text is
    /// `Unauthorized` when it reports none).
    pub fn explained(&self) -> String {
        let kube = self.kubernetes_text().unwrap_or_else(|| UNAUTHORIZED.to_owned());
        format!("{kube}{KAUTH_SEPARATOR}{self}")
    }
}

/// One authenticator's place in the chain's error list.
enum Part {
    Text(String),
    /// The bearer authenticator's, filled in with the token authenticators' errors.
    Bearer,
}

fn certificate_identifier(c: &CertificateRejection) -> Option<&str> {
    match c {
        CertificateRejection::UnknownAuthority { certificate, .. }
        | CertificateRejection::Expired { certificate, .. }
        | CertificateRejection::NotYetValid { certificate, .. }
        | CertificateRejection::WrongUsage { certificate, .. }
        | CertificateRejection::NoCommonName { certificate }
        | CertificateRejection::NoClientCa { certificate }
        | CertificateRejection::Invalid { certificate, .. } => Some(&certificate.identifier),
        CertificateRejection::Unreadable { .. } => None,
    }
}

#[cfg(test)]
mod tests;
