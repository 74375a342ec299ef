//! Who is asking: the request authentication chain, built from the library's pieces
//! ([`kauth::authn`]), and the wiring of impersonation.
//!
//! The chain: the client certificate (judged against the client CA), then the bearer token
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

use http::HeaderMap;
use kauth::authn::anonymous::Anonymous;
use kauth::authn::bearer::BearerAuthenticator;
use kauth::authn::cache::TokenCache;
use kauth::authn::group_adder::GroupAdder;
use kauth::authn::impersonation;
use kauth::authn::union::{RequestUnion, TokenUnion};
use kauth::authn::x509::X509Authenticator;
use kauth::authn::{Credentials, Rejection, RequestAuthenticator};
use kauth::authz::Decision;
use kauth::user::UserInfo;
pub use kauth::user::{ANONYMOUS_USER, UNAUTHENTICATED_GROUP};

use super::State;
use crate::api::status::ApiError;

/// The token chain: static and service-account tokens, `system:authenticated` added, cached
/// (the cache holds users that already have the group).
pub type TokenChain = TokenCache<GroupAdder<TokenUnion>>;

/// The request chain: client certificate, bearer token, anonymous.
pub fn request_chain(x509: X509Authenticator, tokens: Arc<TokenChain>, anonymous: bool) -> RequestUnion {
    RequestUnion::new()
        .with(GroupAdder::new(x509))
        .with(BearerAuthenticator::new(tokens))
        .with(Anonymous::new(anonymous))
}

/// An authenticated request's user.
#[derive(Debug, Clone)]
pub struct RequestUser {
    /// The user the request acts as.
    pub user: UserInfo,
    /// Which authenticator said so (`x509`, `token-file`, `service-account`, `anonymous`).
    pub authenticator: &'static str,
    /// Audit annotations from authentication.
    pub annotations: Vec<(&'static str, String)>,
    /// The real user, when impersonating.
    pub impersonated_by: Option<UserInfo>,
}

/// Why authentication failed (for logs, audit and metrics; the client sees only 401).
#[derive(Debug, Clone)]
pub struct Unauthenticated {
    /// Every authenticator's verdict, typed (boxed: failures are the rare path).
    pub rejection: Box<Rejection>,
    /// The rejection as operators read it (with the replica a token from the future likely
    /// came from).
    pub reason: String,
}

/// Authenticates a request from its client certificate chain (not yet verified) and headers.
pub fn authenticate(
    state: &State,
    peer: Option<&[rustls_pki_types::CertificateDer<'static>]>,
    headers: &HeaderMap,
) -> Result<RequestUser, Unauthenticated> {
    let credentials = Credentials::new(headers, peer);
    let rejection = match state.authenticator.authenticate(&credentials, state.now()) {
        Ok(Some(a)) => {
            return Ok(RequestUser {
                user: a.user,
                authenticator: a.authenticator,
                annotations: a.annotations,
                impersonated_by: None,
            })
        }
        // Anonymous answers every request without credential: only a presented credential
        // nobody recognised gets here.
        Ok(None) => Rejection::NotRecognised,
        Err(r) => r,
    };
    Err(Unauthenticated { reason: rejection_reason(state, &rejection), rejection: Box::new(rejection) })
}

/// Every authenticator's reason, one after the other; a token from the future also names the
/// replica that likely issued it, with its measured clock skew.
pub fn rejection_reason(state: &State, rejection: &Rejection) -> String {
    let mut reason = rejection.to_string();
    if let (Some(ahead), Some(replicas)) = (rejection.clock_skew_at_least(), &state.replicas) {
        reason.push_str("; ");
        reason.push_str(&replicas.attribute(ahead, state.now()));
    }
    reason
}

/// Applies `Impersonate-*` headers: each impersonated attribute must be allowed by the
/// `impersonate` verb for the real user. Returns the request unchanged without such headers.
pub fn impersonate(state: &State, real: RequestUser, headers: &HeaderMap) -> Result<RequestUser, ApiError> {
    let Some(imp) = impersonation::parse(headers).map_err(|e| ApiError::internal(e.to_string()))? else {
        return Ok(real);
    };
    for attrs in impersonation::checks(&real.user, &imp) {
        match state.authorize(&attrs) {
            Decision::Allow(_) => {}
            d => {
                let msg = attrs.forbidden_message();
                let msg = if d.reason().is_empty() { msg } else { format!("{msg}: {}", d.reason()) };
                let (group, resource, name) = impersonation::check_target(&attrs);
                return Err(ApiError::forbidden(group, resource, name, &msg));
            }
        }
    }
    Ok(RequestUser {
        user: impersonation::impersonated_user(imp),
        authenticator: real.authenticator,
        annotations: real.annotations,
        impersonated_by: Some(real.user),
    })
}
