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

/// The authorization attributes of a request by `user`, with what it addresses moved out of
/// `info` rather than copied (this runs on every request, and a copy is an allocation per
/// name); [`give_back`] puts them back once the authorizer has decided.
pub fn lend_attributes(user: UserInfo, info: &mut RequestInfo) -> Attributes {
    let take = std::mem::take;
    match info {
        RequestInfo::Resource(r) => Attributes {
            user,
            verb: take(&mut r.verb),
            target: Target::Resource {
                namespace: take(&mut r.namespace),
                api_group: take(&mut r.group),
                api_version: take(&mut r.version),
                resource: take(&mut r.resource),
                subresource: take(&mut r.subresource),
                name: take(&mut r.name),
            },
        },
        RequestInfo::NonResource { path, verb } => {
            Attributes { user, verb: take(verb), target: Target::NonResource { path: take(path) } }
        }
    }
}

/// Returns to `info` what [`lend_attributes`] took from it, and the user.
pub fn give_back(attrs: Attributes, info: &mut RequestInfo) -> UserInfo {
    match (attrs.target, info) {
        (
            Target::Resource { namespace, api_group, api_version, resource, subresource, name },
            RequestInfo::Resource(r),
        ) => {
            r.verb = attrs.verb;
            r.namespace = namespace;
            r.group = api_group;
            r.version = api_version;
            r.resource = resource;
            r.subresource = subresource;
            r.name = name;
        }
        (Target::NonResource { path: p }, RequestInfo::NonResource { path, verb }) => {
            *verb = attrs.verb;
            *path = p;
        }
        // Attributes lent by a request of one kind come back to it: nothing else to restore.
        _ => {}
    }
    attrs.user
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
        // The user and what the request addresses move into the attributes for the decision and
        // back out after it: no copy.
        let attrs = lend_attributes(std::mem::take(&mut user.user), &mut ctx.info);
        let decision = state.authorize(&attrs);
        let allowed = decision.is_allowed();
        ctx.annotate("authorization.k8s.io/decision", || if allowed { "allow" } else { "forbid" }.into());
        if allowed {
            ctx.annotate("authorization.k8s.io/reason", || decision.reason().text());
            user.user = give_back(attrs, &mut ctx.info);
            return Answer::Below(self.inner.call(Authorized(Authenticated { ctx, user })));
        }
        let reason = decision.reason().text();
        let msg = attrs.forbidden_error(&reason);
        ctx.annotate("authorization.k8s.io/reason", || reason);
        // Kubernetes' reason stays as it is on the wire; operators get the explanation in the
        // log and the audit event.
        // The Node authorizer's cause (the missing edge) first, when it had one; then RBAC's
        // summary, the line `kauth policy explain` prints as `why:`.
        let explanation = denial_summary(decision.reason(), state.authorizer.explain(&attrs).as_ref());
        user.user = give_back(attrs, &mut ctx.info);
        tracing::info!(
            user = %user.user.name,
            path = %ctx.request.path,
            verb = %ctx.info.verb(),
            %explanation,
            "forbidden: {msg}"
        );
        ctx.annotate("authorization.kauth.dev/explanation", || explanation);
        let forbidden = match &ctx.info {
            RequestInfo::Resource(r) => ApiError::forbidden(&r.group, &r.resource, &r.name, &msg),
            RequestInfo::NonResource { .. } => ApiError::forbidden("", "", "", &msg),
        };
        Answer::now(Answered { ctx, user: Some(user), response: Response::error(&forbidden) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request_info::parse;

    #[test]
    fn lent_attributes_name_the_request_and_come_back_whole() {
        let user = UserInfo { name: "alice".into(), groups: vec!["dev".into()], ..Default::default() };
        for (method, path) in [
            ("GET", "/api/v1/namespaces/default/pods/web"),
            ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"),
            ("PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale"),
            ("GET", "/healthz"),
        ] {
            let mut info = parse(method, path, false);
            let before = info.clone();
            let attrs = lend_attributes(user.clone(), &mut info);
            assert_eq!(attrs.verb, before.verb(), "{path}");
            match (&attrs.target, &before) {
                (
                    Target::Resource { namespace, api_group, api_version, resource, subresource, name },
                    RequestInfo::Resource(r),
                ) => {
                    assert_eq!(
                        [namespace, api_group, api_version, resource, subresource, name],
                        [&r.namespace, &r.group, &r.version, &r.resource, &r.subresource, &r.name]
                    );
                }
                (Target::NonResource { path: p }, RequestInfo::NonResource { path, .. }) => assert_eq!(p, path),
                other => panic!("{path}: {other:?}"),
            }
            assert_eq!(give_back(attrs, &mut info), user);
            assert_eq!(info, before, "{path}");
        }
    }
}
