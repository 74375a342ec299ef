//! The filter that keeps the async workers free (kauth's own; kube-apiserver's goroutines need
//! none): a request that may commit to the store, and so wait for fsync, runs the rest of the
//! stack on the blocking pool. Everything else, reviews and TokenRequest included, stays on the
//! async workers (the blocking pool would grow a thread per concurrent request).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;
use tower::{Layer, Service};

use super::context::Ctx;
use crate::api::request_info::RequestInfo;
use crate::api::resources;
use crate::api::response::Response;
use crate::api::status::ApiError;

/// Adds [`WithBlockingWrites`] to a stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockingWritesLayer;

impl<S> Layer<S> for BlockingWritesLayer {
    type Service = WithBlockingWrites<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithBlockingWrites { inner }
    }
}

/// Runs the service below on the blocking pool for requests that may commit to the store.
#[derive(Debug, Clone)]
pub struct WithBlockingWrites<S> {
    inner: S,
}

/// Whether handling a request may commit to the store (and so wait for fsync): only mutating
/// requests on stored resources, and a key rotation (it generates a key and writes the ring).
pub fn writes_store(method: &http::Method, info: &RequestInfo) -> bool {
    if matches!(*method, http::Method::GET | http::Method::HEAD) {
        return false;
    }
    match info {
        RequestInfo::NonResource { path, .. } => path.starts_with("/kauth/v1/keys"),
        RequestInfo::Resource(r) => {
            resources::find(&r.group, &r.version, &r.resource).is_some_and(|rt| rt.stored) && r.subresource != "token"
        }
    }
}

impl<S> Service<Ctx> for WithBlockingWrites<S>
where
    S: Service<Ctx, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Offloaded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, ctx: Ctx) -> Self::Future {
        if !writes_store(&ctx.request.method, &ctx.info) {
            return Offloaded::Inline(self.inner.call(ctx));
        }
        // Outside a runtime there is no pool to move to: the caller's thread is as good.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Offloaded::Inline(self.inner.call(ctx));
        };
        // The service readied for this call goes to the blocking pool; a fresh clone stays.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Offloaded::Blocking(tokio::task::spawn_blocking(move || {
            let Ok(response) = runtime.block_on(inner.call(ctx));
            response
        }))
    }
}

/// The answer of [`WithBlockingWrites`]: from the service below, here or on the blocking pool.
#[derive(Debug)]
pub enum Offloaded<F> {
    /// Answered on this worker.
    Inline(F),
    /// Answered on the blocking pool.
    Blocking(JoinHandle<Response>),
}

impl<F> Future for Offloaded<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Offloaded::Inline(inline) => Pin::new(inline).poll(cx),
            Offloaded::Blocking(blocking) => Pin::new(blocking)
                .poll(cx)
                .map(|joined| Ok(joined.unwrap_or_else(|e| Response::error(&ApiError::internal(e))))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request_info::parse;

    #[test]
    fn only_mutations_of_stored_resources_and_key_rotation_go_to_the_blocking_pool() {
        let writes = |method: http::Method, path: &str| writes_store(&method, &parse(method.as_str(), path, false));
        assert!(writes(http::Method::POST, "/api/v1/namespaces"));
        assert!(writes(http::Method::DELETE, "/api/v1/namespaces/default/serviceaccounts/app"));
        assert!(writes(http::Method::PATCH, "/apis/rbac.authorization.k8s.io/v1/clusterroles/view"));
        assert!(writes(http::Method::POST, "/kauth/v1/keys/rotate"));
        assert!(!writes(http::Method::GET, "/api/v1/namespaces"));
        assert!(!writes(http::Method::POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews"));
        assert!(!writes(http::Method::POST, "/api/v1/namespaces/default/serviceaccounts/app/token"));
        assert!(!writes(http::Method::POST, "/version"));
    }
}
