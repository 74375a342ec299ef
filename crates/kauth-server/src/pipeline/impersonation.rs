//! The impersonation filter (kube-apiserver's `WithImpersonation`): `Impersonate-User`,
//! `-Group`, `-Uid` and `-Extra-*` headers ([`kauth::authn::impersonation`]), each attribute
//! allowed by the `impersonate` verb for the real user, decide whom the request acts as; the
//! real user stays as the impersonator for the audit event. A refused attribute ends the request
//! with Kubernetes' 403 (operators get the explanation in the log and the audit annotation
//! `authorization.kauth.dev/explanation`, as for any denial); malformed headers with a 500, as kube-apiserver answers them.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderMap;
use kauth::authn::impersonation::{self, ImpersonationError};
use kauth::authz::Decision;
use kauth::rbac::explain::denial_summary;
use kauth::user::UserInfo;
use tower::{Layer, Service};

use super::context::{Answer, Answered, Authenticated, RequestUser};
use crate::api::request::Request;
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::state::State;

/// Why a request may not impersonate.
#[derive(Debug)]
pub enum Refusal {
    /// An attribute the real user may not impersonate: Kubernetes' 403, and the explanation
    /// for operators ([`denial_summary`]).
    Forbidden(ApiError, String),
    /// Headers that cannot be honoured (groups, uid or extras without a user).
    Malformed(ImpersonationError),
}

/// The user `real` impersonates by `Impersonate-*` headers, each impersonated attribute allowed
/// by the `impersonate` verb for `real`; `None` without such headers.
pub fn impersonate(state: &State, real: &UserInfo, headers: &HeaderMap) -> Result<Option<UserInfo>, Refusal> {
    let Some(imp) = impersonation::parse(headers).map_err(Refusal::Malformed)? else {
        return Ok(None);
    };
    for attrs in impersonation::checks(real, &imp) {
        match state.authorize(&attrs) {
            Decision::Allow(_) => {}
            d => {
                let msg = attrs.forbidden_error(&d.reason().to_string());
                let (group, resource, name) = impersonation::check_target(&attrs);
                let explanation = denial_summary(d.reason(), state.authorizer.explain(&attrs).as_ref());
                return Err(Refusal::Forbidden(ApiError::forbidden(group, resource, name, &msg), explanation));
            }
        }
    }
    Ok(Some(impersonation::impersonated_user(imp)))
}

/// kube-apiserver's answer to malformed impersonation headers: not a Status but Go's
/// `http.Error` (`responsewriters.InternalError`): text/plain, `nosniff`, the request URI quoted,
/// `&`, `<` and `>` escaped as HTML.
fn internal_server_error(req: &Request, e: &ImpersonationError) -> Response {
    let mut uri = req.path.clone();
    if !req.query.is_empty() {
        uri.push('?');
        uri.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(&req.query).finish());
    }
    let text =
        format!("Internal Server Error: {uri:?}: {e}").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut r = Response::text(500, &format!("{text}\n"));
    r.headers.push(("x-content-type-options", "nosniff".into()));
    r
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

    fn call(&mut self, Authenticated { mut ctx, user }: Authenticated) -> Self::Future {
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
            Err(Refusal::Forbidden(refused, explanation)) => {
                tracing::info!(
                    user = %user.user.name,
                    path = %ctx.request.path,
                    %explanation,
                    "forbidden: {}",
                    refused.message
                );
                ctx.annotate("authorization.kauth.dev/explanation", || explanation);
                Answer::now(Answered { ctx, user: Some(user), response: Response::error(&refused) })
            }
            Err(Refusal::Malformed(e)) => {
                let response = internal_server_error(&ctx.request, &e);
                Answer::now(Answered { ctx, user: Some(user), response })
            }
        }
    }
}
