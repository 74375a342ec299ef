//! The authorization filter (kube-apiserver's `WithAuthorization`): the request's attributes
//! (its user and what it addresses) go to the state's authorizer ([`State::authorize`], timed
//! into the authorization metrics). The decision and its reason become the audit annotations
//! `authorization.k8s.io/decision` and `authorization.k8s.io/reason`. A request not allowed ends
//! with Kubernetes' 403 and its forbidden text; operators get the authorizer's explanation
//! (bindings, the nearest rule and what it lacks) in the log and the annotation
//! `authorization.kauth.dev/explanation` ([`denial_summary`], the same line `kauth policy
//! explain` prints for the same policy and request). An allowed request passes on as [`Authorized`], which
//! nothing else can make.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use kauth::authz::{Attributes, Target};
use kauth::rbac::explain::denial_summary;
use kauth::user::UserInfo;
use tower::{Layer, Service};

use super::context::{Answer, Answered, Authenticated};
use crate::api::request_info::RequestInfo;
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::state::State;

/// The authorization attributes of a request by `user`.
pub fn attributes(user: UserInfo, info: &RequestInfo) -> Attributes {
    Attributes {
        user,
        verb: info.verb().to_owned(),
        target: match info {
            RequestInfo::Resource(r) => Target::Resource {
                namespace: r.namespace.clone(),
                api_group: r.group.clone(),
                api_version: r.version.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
            },
            RequestInfo::NonResource { path, .. } => Target::NonResource { path: path.clone() },
        },
    }
}

/// An authenticated request the authorizer allowed. Only [`WithAuthorization`] makes one: a
/// service that takes it cannot be reached without a decision.
#[derive(Debug)]
pub struct Authorized(Authenticated);

impl Authorized {
    /// The request, its context and its user.
    pub fn into_inner(self) -> Authenticated {
        self.0
    }
}

/// Adds [`WithAuthorization`] to a stack.
#[derive(Debug, Clone)]
pub struct AuthorizationLayer {
    state: Arc<State>,
}

impl AuthorizationLayer {
    /// Authorizes with `state`'s authorizer.
    pub fn new(state: Arc<State>) -> Self {
        AuthorizationLayer { state }
    }
}

impl<S> Layer<S> for AuthorizationLayer {
    type Service = WithAuthorization<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithAuthorization { inner, state: self.state.clone() }
    }
}

/// Authorizes each request; answers 403 itself when it is not allowed.
#[derive(Debug, Clone)]
pub struct WithAuthorization<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> Service<Authenticated> for WithAuthorization<S>
where
    S: Service<Authorized, Response = Answered, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Answered;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, Authenticated { mut ctx, mut user }: Authenticated) -> Self::Future {
        let state = &*self.state;
        // The user moves into the attributes for the decision and back out after it: no copy.
        let attrs = attributes(std::mem::take(&mut user.user), &ctx.info);
        let decision = state.authorize(&attrs);
        let allowed = decision.is_allowed();
        ctx.annotate("authorization.k8s.io/decision", || if allowed { "allow" } else { "forbid" }.into());
        if allowed {
            ctx.annotate("authorization.k8s.io/reason", || decision.reason().to_string());
            user.user = attrs.user;
            return Answer::Below(self.inner.call(Authorized(Authenticated { ctx, user })));
        }
        let reason = decision.reason().to_string();
        let msg = attrs.forbidden_error(&reason);
        ctx.annotate("authorization.k8s.io/reason", || reason);
        // Kubernetes' reason stays as it is on the wire; operators get the explanation in the
        // log and the audit event.
        // The Node authorizer's cause (the missing edge) first, when it had one; then RBAC's
        // summary, the line `kauth policy explain` prints as `why:`.
        let explanation = denial_summary(decision.reason(), state.authorizer.explain(&attrs).as_ref());
        tracing::info!(
            user = %attrs.user.name,
            path = %ctx.request.path,
            verb = %ctx.info.verb(),
            %explanation,
            "forbidden: {msg}"
        );
        ctx.annotate("authorization.kauth.dev/explanation", || explanation);
        user.user = attrs.user;
        let forbidden = match &ctx.info {
            RequestInfo::Resource(r) => ApiError::forbidden(&r.group, &r.resource, &r.name, &msg),
            RequestInfo::NonResource { .. } => ApiError::forbidden("", "", "", &msg),
        };
        Answer::now(Answered { ctx, user: Some(user), response: Response::error(&forbidden) })
    }
}
