//! The outermost filter (kube-apiserver's `WithRequestInfo`): what the request addresses, parsed
//! once from its method, path and `watch` parameter ([`crate::api::request_info`]), then carried
//! in the [`Ctx`] by every filter below.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::context::{Ctx, RequestContext};
use crate::api::request::Request;
use crate::api::request_info;

/// Adds [`WithRequestInfo`] to a stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInfoLayer;

impl<S> Layer<S> for RequestInfoLayer {
    type Service = WithRequestInfo<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestInfo { inner }
    }
}

/// Parses a request's info and hands the request on as a [`Ctx`].
#[derive(Debug, Clone)]
pub struct WithRequestInfo<S> {
    inner: S,
}

impl<S: Service<Ctx>> Service<Request> for WithRequestInfo<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let watch = request.param("watch").is_some_and(|v| v == "true" || v == "1");
        let info = request_info::parse(request.method.as_str(), &request.path, watch);
        self.inner.call(Box::new(RequestContext {
            request,
            info,
            annotations: Vec::new(),
            audited: false,
            panicked: false,
        }))
    }
}
