//! Why a presented credential was refused: one enum for every authenticator, typed all the way
//! through unions and caches, formatted only at the edges (log, audit, TokenReview, metrics).
//!
//! `Display` is one lowercase line, without trailing period, naming the authenticator;
//! [`Rejection::code`] is a stable string for metrics.

use std::fmt;

use crate::token::Rejection as TokenRejection;

mod bootstrap_token;
mod certificate;
mod request_header;
mod webhook;

pub use self::bootstrap_token::BootstrapTokenRejection;
pub use self::certificate::{Authorities, CaRole, CertificateName, CertificateRejection};
pub use self::request_header::RequestHeaderRejection;
pub use self::webhook::WebhookRejection;

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
    /// No credential was presented, and anonymous requests are allowed only on other paths
    /// (`AuthenticationConfiguration`'s `anonymous.conditions`).
    AnonymousPathNotAllowed {
        /// The request's path.
        path: String,
        /// The paths anonymous requests may reach.
        allowed: Vec<String>,
    },
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
            Rejection::AnonymousPathNotAllowed { .. } => "anonymous_path_not_allowed",
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
            Rejection::AnonymousDisabled | Rejection::AnonymousPathNotAllowed { .. } => "anonymous",
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
            Rejection::AnonymousPathNotAllowed { path, allowed } => write!(
                f,
                "anonymous: no credential presented, and anonymous access is allowed only on {} (anonymous.conditions), not on {path:?}",
                allowed.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ")
            ),
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
