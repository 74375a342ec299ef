//! The authentication and impersonation steps of the pipeline: the state's request chain
//! ([`crate::authentication`]) decides who is asking; `Impersonate-*` headers, each allowed by the
//! authorizer, decide whom the request acts as. The typed rejection becomes text here for the
//! log and the audit event; the client gets the plain 401.

use http::HeaderMap;
use kauth::authn::impersonation;
use kauth::authn::{Credentials, Rejection, RequestAuthenticator};
use kauth::authz::Decision;
use kauth::user::UserInfo;
pub use kauth::user::{ANONYMOUS_USER, UNAUTHENTICATED_GROUP};

use crate::api::status::ApiError;
use crate::authentication::rejection_reason;
use crate::state::State;

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
    Err(Unauthenticated {
        reason: rejection_reason(&rejection, state.replicas.as_deref(), state.now()),
        rejection: Box::new(rejection),
    })
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
