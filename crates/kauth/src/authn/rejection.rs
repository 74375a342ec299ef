//! Why a presented credential was refused: one enum for every authenticator, typed all the way
//! through unions and caches, formatted only at the edges (log, audit, TokenReview, metrics).
//!
//! `Display` is one lowercase line, without trailing period, naming the authenticator;
//! [`Rejection::code`] is a stable string for metrics.

use std::fmt;

use crate::token::{span, utc, Rejection as TokenRejection};

/// Why a credential that an authenticator recognised is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A token authenticator recognised the token and refused it.
    Token {
        /// The authenticator (`service-account`, ...).
        authenticator: &'static str,
        /// Exactly why, with the compared values.
        rejection: TokenRejection,
    },
    /// The client certificate was refused.
    Certificate(CertificateRejection),
    /// A front proxy's certificate or headers were refused.
    RequestHeader(RequestHeaderRejection),
    /// A bootstrap token was refused.
    BootstrapToken(BootstrapTokenRejection),
    /// A remote authenticator (a cluster's TokenReview, asked by a delegating server or
    /// `kauth proxy`) refused the token or could not be asked.
    Webhook(WebhookRejection),
    /// A JWT from an external issuer (`AuthenticationConfiguration` or `--oidc-*`) was refused.
    Jwt(super::jwt::JwtRejection),
    /// A credential was presented but is not well-formed (the `Authorization` header).
    Malformed {
        /// What is wrong.
        what: Malformation,
        /// The byte offset in the header value where it goes wrong.
        position: usize,
    },
    /// No credential was presented and anonymous requests are disabled.
    AnonymousDisabled,
    /// A bearer token was presented and no token authenticator recognised it.
    NotRecognised,
    /// Every authenticator of a union that recognised the credentials refused them: each verdict,
    /// in the union's order (at least two; a union with one verdict returns it as it is).
    Union(Vec<Rejection>),
}

/// What is wrong with a malformed `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    /// The header value is not UTF-8.
    NotUtf8,
    /// The scheme is not `Bearer` (any case).
    NotBearer,
    /// `Bearer` without a token.
    EmptyToken,
    /// The token is followed by a space and more text.
    SpaceInToken,
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformation::NotUtf8 => "authorization header is not UTF-8",
            Malformation::NotBearer => "authorization header is not a bearer token",
            Malformation::EmptyToken => "bearer token is empty",
            Malformation::SpaceInToken => "bearer token contains a space",
        })
    }
}

/// A certificate as operators recognise it: its subject, serial and issuer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateName {
    /// The subject (`CN=kubernetes-admin, O=system:masters`; RFC 4514 order as x509-parser
    /// writes it).
    pub subject: String,
    /// The serial, hex.
    pub serial: String,
    /// The issuer.
    pub issuer: String,
    /// kube-apiserver's name for it in its messages: `SN=<decimal serial>, SKID=<hex>, AKID=<hex>`
    /// (hex upper-case, bytes separated by colons).
    pub identifier: String,
}

/// The role a CA plays for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaRole {
    /// `--client-ca-file`: client certificates name users.
    ClientCa,
    /// `--requestheader-client-ca-file`: client certificates name front proxies, which name
    /// users in headers.
    RequestHeaderCa,
}

impl fmt::Display for CaRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaRole::ClientCa => "client CA",
            CaRole::RequestHeaderCa => "request-header (front-proxy) CA",
        })
    }
}

/// The CA certificates a verifier trusts, in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorities {
    /// What the CA is for.
    pub role: CaRole,
    /// The subjects of its certificates.
    pub subjects: Vec<String>,
}

impl fmt::Display for Authorities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {}", self.role)?;
        if !self.subjects.is_empty() {
            write!(f, " ({})", self.subjects.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for CertificateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (serial {}, issuer {:?})", self.subject, self.serial, self.issuer)
    }
}

/// Why a client certificate was refused. Every variant but [`CertificateRejection::Unreadable`]
/// names the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateRejection {
    /// The chain does not lead to the client CA (an unknown issuer, a bad signature, an
    /// unhandled critical extension, an unsupported algorithm).
    UnknownAuthority {
        /// The leaf.
        certificate: CertificateName,
        /// The CA it was judged against (shared by every rejection of the verifier).
        authorities: std::sync::Arc<Authorities>,
        /// rustls' name for the problem (`UnknownIssuer`, `BadSignature`, ...).
        cause: String,
    },
    /// The certificate's notAfter is before now.
    Expired {
        /// The leaf.
        certificate: CertificateName,
        /// Its notAfter, unix seconds.
        not_after: i64,
        /// This server's time, unix seconds.
        now: i64,
    },
    /// The certificate's notBefore is after now.
    NotYetValid {
        /// The leaf.
        certificate: CertificateName,
        /// Its notBefore, unix seconds.
        not_before: i64,
        /// This server's time, unix seconds.
        now: i64,
    },
    /// The extended key usage does not allow TLS client authentication.
    WrongUsage {
        /// The leaf.
        certificate: CertificateName,
        /// The usage required (`client authentication`).
        required: String,
        /// The usages the certificate allows.
        presented: Vec<String>,
    },
    /// The certificate verifies but has no common name: it names no user.
    NoCommonName {
        /// The leaf.
        certificate: CertificateName,
    },
    /// The leaf is not a readable X.509 certificate.
    Unreadable {
        /// What the parser said.
        problem: String,
    },
    /// No client CA is configured: no certificate can be accepted.
    NoClientCa {
        /// The leaf.
        certificate: CertificateName,
    },
    /// Verification failed otherwise (revoked, malformed extension, ...).
    Invalid {
        /// The leaf.
        certificate: CertificateName,
        /// What rustls said.
        problem: String,
    },
}

impl CertificateRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateRejection::UnknownAuthority { .. } => "certificate_unknown_authority",
            CertificateRejection::Expired { .. } => "certificate_expired",
            CertificateRejection::NotYetValid { .. } => "certificate_not_yet_valid",
            CertificateRejection::WrongUsage { .. } => "certificate_wrong_usage",
            CertificateRejection::NoCommonName { .. } => "certificate_no_user",
            CertificateRejection::Unreadable { .. } | CertificateRejection::Invalid { .. } => "certificate_invalid",
            CertificateRejection::NoClientCa { .. } => "certificate_not_accepted",
        }
    }
}

impl fmt::Display for CertificateRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateRejection::UnknownAuthority { certificate, authorities, cause } => write!(
                f,
                "verifying certificate {certificate} failed: it is signed by {:?}, not by {authorities} ({cause})",
                certificate.issuer
            ),
            CertificateRejection::Expired { certificate, not_after, now } => write!(
                f,
                "verifying certificate {certificate} failed: expired {} ago (notAfter {}, now {})",
                span(now - not_after),
                utc(*not_after),
                utc(*now)
            ),
            CertificateRejection::NotYetValid { certificate, not_before, now } => write!(
                f,
                "verifying certificate {certificate} failed: not valid yet by {} (notBefore {}, now {}): the issuer's clock is ahead, or this server's is behind",
                span(not_before - now),
                utc(*not_before),
                utc(*now)
            ),
            CertificateRejection::WrongUsage { certificate, required, presented } => {
                let allows = if presented.is_empty() { "nothing".to_owned() } else { presented.join(", ") };
                write!(
                    f,
                    "verifying certificate {certificate} failed: its extended key usage does not allow {required} (allows {allows})"
                )
            }
            CertificateRejection::NoCommonName { certificate } => {
                write!(f, "certificate {certificate} has no common name: it names no user")
            }
            CertificateRejection::Unreadable { problem } => write!(f, "unreadable certificate: {problem}"),
            CertificateRejection::NoClientCa { certificate } => {
                write!(f, "certificate {certificate}: no client CA is configured")
            }
            CertificateRejection::Invalid { certificate, problem } => {
                write!(f, "verifying certificate {certificate} failed: {problem}")
            }
        }
    }
}

/// Why a request was not accepted from a front proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestHeaderRejection {
    /// The certificate is not a valid front-proxy certificate (not signed by the request-header
    /// CA, expired, ...). Every ordinary client certificate gets this verdict too: it is only
    /// reported when no other authenticator accepted the request.
    Certificate(CertificateRejection),
    /// The certificate verifies but its CN is not among `--requestheader-allowed-names`.
    NameNotAllowed {
        /// The certificate.
        certificate: CertificateName,
        /// Its CN.
        common_name: String,
        /// The allowed names.
        allowed: Vec<String>,
    },
    /// A trusted front proxy sent no user: none of the username headers has a value.
    NoUser {
        /// The proxy's CN.
        proxy: String,
        /// The username headers looked at.
        headers: Vec<String>,
    },
}

impl RequestHeaderRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RequestHeaderRejection::Certificate(_) => "front_proxy_certificate_invalid",
            RequestHeaderRejection::NameNotAllowed { .. } => "front_proxy_name_not_allowed",
            RequestHeaderRejection::NoUser { .. } => "front_proxy_no_user",
        }
    }
}

impl fmt::Display for RequestHeaderRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestHeaderRejection::Certificate(c) => write!(f, "not a front-proxy certificate: {c}"),
            RequestHeaderRejection::NameNotAllowed { certificate, common_name, allowed } => write!(
                f,
                "front-proxy certificate {certificate} verifies, but its CN {common_name:?} is not among the allowed names {allowed:?} (--requestheader-allowed-names)"
            ),
            RequestHeaderRejection::NoUser { proxy, headers } => write!(
                f,
                "front proxy {proxy:?} is trusted, but the request has no user: none of the headers {headers:?} has a value (a front-proxy certificate presented as a client certificate names no one: only requests the proxy relays with one of those headers do)"
            ),
        }
    }
}

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

impl Rejection {
    /// A stable identifier for metrics (a union's is its [`Rejection::primary`] verdict's).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Token { rejection, .. } => rejection.code(),
            Rejection::Certificate(c) => c.code(),
            Rejection::RequestHeader(r) => r.code(),
            Rejection::BootstrapToken(r) => r.code(),
            Rejection::Webhook(r) => r.code(),
            Rejection::Jwt(r) => r.code(),
            Rejection::Malformed { .. } => "malformed_header",
            Rejection::AnonymousDisabled => "anonymous_disabled",
            Rejection::NotRecognised => "token_not_recognised",
            Rejection::Union(_) => match self.primary() {
                Rejection::Union(_) => "token_not_recognised",
                one => one.code(),
            },
        }
    }

    /// The verdict that names a union's failure in metrics and log fields: its first verdict
    /// that says more than "not my kind of token" (a token that is not a JWT, or from another
    /// issuer: kube-apiserver reports nothing for those), else its first. A token the webhook
    /// refuses is then counted as the webhook's refusal, not as a malformed service-account
    /// token. Not a union: itself.
    pub fn primary(&self) -> &Rejection {
        let Rejection::Union(all) = self else { return self };
        let not_mine = |r: &&Rejection| {
            matches!(
                r,
                Rejection::Token {
                    rejection: TokenRejection::Malformed { .. }
                        | TokenRejection::WrongIssuer { .. }
                        | TokenRejection::UnsupportedAlgorithm { .. },
                    ..
                }
            )
        };
        all.iter().find(|r| !not_mine(r)).or(all.first()).unwrap_or(self)
    }

    /// The authenticator that refused (a union's is its [`Rejection::primary`] verdict's).
    pub fn authenticator(&self) -> &'static str {
        match self {
            Rejection::Token { authenticator, .. } => authenticator,
            Rejection::Certificate(_) => "x509",
            Rejection::RequestHeader(_) => "requestheader",
            Rejection::BootstrapToken(_) => "bootstrap-token",
            Rejection::Webhook(_) => "webhook",
            Rejection::Jwt(_) => "jwt",
            Rejection::Malformed { .. } | Rejection::NotRecognised => "bearer",
            Rejection::AnonymousDisabled => "anonymous",
            Rejection::Union(_) => match self.primary() {
                Rejection::Union(_) => "union",
                one => one.authenticator(),
            },
        }
    }

    /// For a token from the future (not yet valid, issued in the future): the issuer's clock is
    /// at least this many seconds ahead of this server's.
    pub fn clock_skew_at_least(&self) -> Option<i64> {
        match self {
            Rejection::Token { rejection, .. } => rejection.clock_skew_at_least(),
            Rejection::Jwt(r) => r.clock_skew_at_least(),
            Rejection::Union(all) => all.iter().find_map(Rejection::clock_skew_at_least),
            _ => None,
        }
    }

    /// Whether every verdict is only that a remote authenticator could not be asked
    /// ([`WebhookRejection::Unavailable`], [`WebhookRejection::TimedOut`]): the credential was
    /// not judged at all.
    pub fn only_unavailable(&self) -> bool {
        let verdicts = self.verdicts();
        !verdicts.is_empty()
            && verdicts.iter().all(|v| {
                matches!(
                    v,
                    Rejection::Webhook(WebhookRejection::Unavailable { .. } | WebhookRejection::TimedOut { .. })
                )
            })
    }

    /// Whether kube-apiserver's authenticator gives this verdict without an error (Go's
    /// `nil, false, nil`): a webhook that answered `authenticated: false` with an empty
    /// `status.error`, or for other audiences. kube-apiserver's webhook cache keeps such a
    /// verdict for its failure TTL; a verdict with an error (a reason, an outage) it never keeps.
    pub fn is_silent_failure(&self) -> bool {
        let verdicts = self.verdicts();
        !verdicts.is_empty()
            && verdicts.iter().all(|v| match v {
                Rejection::Webhook(WebhookRejection::Unauthenticated { error, .. }) => error.is_empty(),
                Rejection::Webhook(WebhookRejection::AudienceMismatch { .. }) => true,
                _ => false,
            })
    }

    /// Every verdict: a union's members, or this rejection alone.
    pub fn verdicts(&self) -> &[Rejection] {
        match self {
            Rejection::Union(all) => all,
            one => std::slice::from_ref(one),
        }
    }

    /// The verdicts as one rejection: none is [`Rejection::NotRecognised`], one is itself, more
    /// are a [`Rejection::Union`]. Nested unions are flattened.
    pub fn of_all(verdicts: Vec<Rejection>) -> Rejection {
        let mut flat = Vec::with_capacity(verdicts.len());
        for v in verdicts {
            match v {
                Rejection::Union(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Rejection::NotRecognised,
            1 => flat.pop().unwrap_or(Rejection::NotRecognised),
            _ => Rejection::Union(flat),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Token { authenticator, rejection } => write!(f, "{authenticator}: {rejection}"),
            Rejection::Certificate(c) => write!(f, "x509: {c}"),
            Rejection::RequestHeader(r) => write!(f, "requestheader: {r}"),
            Rejection::BootstrapToken(r) => write!(f, "bootstrap-token: {r}"),
            Rejection::Webhook(r) => write!(f, "webhook: {r}"),
            Rejection::Jwt(r) => write!(f, "jwt: {r}"),
            Rejection::Malformed { what, position } => write!(f, "bearer: {what} (at byte {position})"),
            Rejection::AnonymousDisabled => {
                f.write_str("anonymous: no credential presented and anonymous access is disabled")
            }
            Rejection::NotRecognised => f.write_str(
                "bearer: no authenticator recognised the token (not a static token, not a JWT from an accepted issuer)",
            ),
            Rejection::Union(all) => {
                for (i, r) in all.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    fn expired() -> Rejection {
        Rejection::Token {
            authenticator: "service-account",
            rejection: TokenRejection::Expired { exp: 0, now: 90, leeway: 60 },
        }
    }

    #[test]
    fn unions_flatten_and_keep_order() {
        let skew = Rejection::Token {
            authenticator: "service-account",
            rejection: TokenRejection::NotYetValid { nbf: 200, now: 100, leeway: 60 },
        };
        let inner = Rejection::of_all(vec![expired(), skew.clone()]);
        let cert = Rejection::Certificate(CertificateRejection::Unreadable { problem: "x".into() });
        let all = Rejection::of_all(vec![cert.clone(), inner]);
        assert_eq!(all, Rejection::Union(vec![cert, expired(), skew]));
        assert_eq!(all.code(), "certificate_invalid");
        assert_eq!(all.authenticator(), "x509");
        assert_eq!(all.clock_skew_at_least(), Some(100));
        assert_eq!(all.verdicts().len(), 3);
        assert_eq!(Rejection::of_all(vec![expired()]), expired());
        assert_eq!(Rejection::of_all(vec![]), Rejection::NotRecognised);
    }

    #[test]
    fn display_names_the_authenticator() {
        assert!(expired().to_string().starts_with("service-account: token expired 1m30s ago"));
        let m = Rejection::Malformed { what: Malformation::SpaceInToken, position: 9 };
        assert_eq!(m.to_string(), "bearer: bearer token contains a space (at byte 9)");
        assert_eq!(m.code(), "malformed_header");
        assert_eq!(Rejection::AnonymousDisabled.code(), "anonymous_disabled");
        assert_eq!(Rejection::NotRecognised.code(), "token_not_recognised");
    }

    #[test]
    fn a_union_is_named_by_its_first_verdict_that_is_more_than_not_mine() {
        let malformed = Rejection::Token {
            authenticator: "service-account",
            rejection: TokenRejection::Malformed { segment: None, problem: "expected 3 segments".into() },
        };
        let down = Rejection::Webhook(WebhookRejection::TimedOut { cluster: "https://w".into(), timeout_seconds: 30 });
        let both = Rejection::of_all(vec![malformed.clone(), down]);
        assert_eq!((both.code(), both.authenticator()), ("tokenreview_timeout", "webhook"));
        let only = Rejection::of_all(vec![malformed.clone(), malformed]);
        assert_eq!(only.code(), "token_malformed", "nothing better: the first");
    }

    #[test]
    fn webhook_rejections_name_the_cluster_and_say_why() {
        let down = Rejection::Webhook(WebhookRejection::Unavailable {
            cluster: "https://c".into(),
            problem: "connection refused".into(),
        });
        assert_eq!(down.code(), "tokenreview_unavailable");
        assert_eq!(down.authenticator(), "webhook");
        assert_eq!(down.to_string(), "webhook: the TokenReview at https://c could not be made: connection refused");
        assert!(down.only_unavailable());
        let refused = Rejection::Webhook(WebhookRejection::Unauthenticated {
            cluster: "https://c".into(),
            error: "expired".into(),
        });
        assert_eq!(refused.code(), "tokenreview_unauthenticated");
        assert!(!refused.only_unavailable());
        assert!(!Rejection::of_all(vec![down.clone(), refused.clone()]).only_unavailable());
        // kube-apiserver's webhook authenticator reports the review's status.error.
        assert_eq!(refused.kubernetes_text().unwrap(), "[invalid bearer token, expired]");
        assert_eq!(down.kubernetes_text().unwrap(), "invalid bearer token");
    }
}
