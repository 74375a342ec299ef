//! Who is asking: the server's request authentication chain, built from the library's pieces
//! ([`kauth::authn`]); the pipeline runs it ([`crate::pipeline::authentication`]).
//!
//! The chain: a front proxy's certificate and the user its headers name (when a request-header CA
//! is configured), the client certificate (judged against the client CA), then the bearer token
//! (static tokens, then service-account tokens; cached, `system:authenticated` added), then
//! anonymous, which answers only a request that presents no credential at all: a presented
//! credential that fails is never replaced by anonymous. As in kube-apiserver's union, a request
//! whose certificate fails but whose bearer token is valid is the token's user; when both fail,
//! both reasons are kept.
//!
//! The typed [`Rejection`] is formatted here and nowhere before: the log line, the audit
//! annotation `authentication.kauth.dev/failure`, TokenReview's `status.error` (with the replica
//! a token from the future likely came from) and metrics (its `code()`). Clients get the plain
//! 401.

use std::sync::Arc;

use kauth::authn::anonymous::Anonymous;
use kauth::authn::bearer::BearerAuthenticator;
use kauth::authn::cache::TokenCache;
use kauth::authn::group_adder::GroupAdder;
use kauth::authn::request_header::RequestHeaderAuthenticator;
use kauth::authn::union::{RequestUnion, TokenUnion};
use kauth::authn::x509::X509Authenticator;
use kauth::authn::Rejection;
use time::OffsetDateTime;

use crate::replicas::Replicas;

/// The token chain: static and service-account tokens, `system:authenticated` added, cached
/// (the cache holds users that already have the group).
pub type TokenChain = TokenCache<GroupAdder<TokenUnion>>;

/// The request chain: a front proxy's headers, client certificate, bearer token, anonymous.
pub fn request_chain(
    front_proxy: Option<RequestHeaderAuthenticator>,
    x509: X509Authenticator,
    tokens: Arc<TokenChain>,
    anonymous: bool,
) -> RequestUnion {
    let mut chain = RequestUnion::new();
    // First, as in kube-apiserver: a front proxy's certificate names no user of its own.
    if let Some(proxy) = front_proxy {
        chain = chain.with(GroupAdder::new(proxy));
    }
    chain.with(GroupAdder::new(x509)).with(BearerAuthenticator::new(tokens)).with(Anonymous::new(anonymous))
}

/// Every authenticator's reason, one after the other; a token from the future also names the
/// replica that likely issued it, with its measured clock skew.
pub fn rejection_reason(rejection: &Rejection, replicas: Option<&Replicas>, now: OffsetDateTime) -> String {
    let mut reason = rejection.to_string();
    if let (Some(ahead), Some(replicas)) = (rejection.clock_skew_at_least(), replicas) {
        reason.push_str("; ");
        reason.push_str(&replicas.attribute(ahead, now));
    }
    reason
}
