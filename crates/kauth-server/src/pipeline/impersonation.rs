//! The impersonation filter (kube-apiserver's `WithImpersonation`): `Impersonate-User`,
//! `-Group`, `-Uid` and `-Extra-*` headers ([`kauth::authn::impersonation`]), each attribute
//! allowed by the `impersonate` verb for the real user, decide whom the request acts as; the
//! real user stays as the impersonator for the audit event. A refused attribute ends the request
//! with Kubernetes' 403; malformed headers with a 500, as kube-apiserver answers them.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderMap;
use kauth::authn::impersonation;
use kauth::authz::Decision;
use kauth::user::UserInfo;
use tower::{Layer, Service};

use super::context::{Answer, Answered, Authenticated, RequestUser};
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::state::State;

/// The user `real` impersonates by `Impersonate-*` headers, each impersonated attribute allowed
/// by the `impersonate` verb for `real`; `None` without such headers.
pub fn impersonate(state: &State, real: &UserInfo, headers: &HeaderMap) -> Result<Option<UserInfo>, ApiError> {
    let Some(imp) = impersonation::parse(headers).map_err(|e| ApiError::internal(e.to_string()))? else {
        return Ok(None);
    };
    for attrs in impersonation::checks(real, &imp) {
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
    Ok(Some(impersonation::impersonated_user(imp)))
}

/// Adds [`WithImpersonation`] to a stack.
#[derive(Debug, Clone)]
pub struct ImpersonationLayer {
    state: Arc<State>,
}

impl ImpersonationLayer {
    /// Checks impersonation with `state`'s authorizer.
    pub fn new(state: Arc<State>) -> Self {
        ImpersonationLayer { state }
    }
}

impl<S> Layer<S> for ImpersonationLayer {
    type Service = WithImpersonation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithImpersonation { inner, state: self.state.clone() }
    }
}

/// Switches each request to the user it impersonates, if allowed; answers 403 itself otherwise.
#[derive(Debug, Clone)]
pub struct WithImpersonation<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> Service<Authenticated> for WithImpersonation<S>
where
    S: Service<Authenticated, Response = Answered, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Answered;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, Authenticated { ctx, user }: Authenticated) -> Self::Future {
        match impersonate(&self.state, &user.user, &ctx.request.headers) {
            Ok(None) => Answer::Below(self.inner.call(Authenticated { ctx, user })),
            Ok(Some(impersonated)) => {
                let user = RequestUser {
                    user: impersonated,
                    authenticator: user.authenticator,
                    impersonated_by: Some(user.user),
                };
                Answer::Below(self.inner.call(Authenticated { ctx, user }))
            }
            Err(refused) => Answer::now(Answered { ctx, user: Some(user), response: Response::error(&refused) }),
        }
    }
}
