//! The bottom of the stack: an authorized request goes to its handler, resource requests to
//! [`handlers::crud`] (which routes reviews and TokenRequest on), the rest to
//! [`handlers::discovery`]. Handlers are synchronous and cheap: the answer is ready when `call`
//! returns (requests that may wait on the store were moved to the blocking pool above).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::authorization::Authorized;
use super::context::{Answered, Authenticated};
use crate::api::request_info::RequestInfo;
use crate::api::response::Response;
use crate::handlers;
use crate::state::State;

/// kube-apiserver's answer to a request whose handler panicked.
pub const PANIC_MESSAGE: &str = "This request caused apiserver to panic. Look in the logs for details.";

/// Calls the handler of each authorized request.
#[derive(Debug, Clone)]
pub struct Dispatch {
    state: Arc<State>,
}

impl Dispatch {
    /// Handles requests on `state`.
    pub fn new(state: Arc<State>) -> Self {
        Dispatch { state }
    }
}

impl Service<Authorized> for Dispatch {
    type Response = Answered;
    type Error = Infallible;
    type Future = Ready<Result<Answered, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, authorized: Authorized) -> Self::Future {
        let Authenticated { mut ctx, user } = authorized.into_inner();
        // A handler that panics answers kube-apiserver's 500 (WithPanicRecovery) and is recorded
        // at the audit stage Panic; the connection and the server go on.
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &ctx.info {
            RequestInfo::Resource(r) => handlers::crud::handle_resource(&self.state, &ctx.request, r, &user.user),
            RequestInfo::NonResource { verb, .. } => {
                handlers::discovery::handle_non_resource(&self.state, &ctx.request, verb)
            }
        }));
        let response = answer.unwrap_or_else(|_| {
            tracing::error!(path = %ctx.request.path, "a handler panicked");
            ctx.panicked = true;
            Response::text(500, PANIC_MESSAGE)
        });
        ready(Ok(Answered { ctx, user: Some(user), response }))
    }
}
